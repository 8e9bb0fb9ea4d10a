//! The TLS crypto provider every outgoing HTTPS client (S3, callbacks, the SMS webhook) uses.
//!
//! rustls is built with `ring` only: its default, `aws-lc-rs`, compiles aws-lc from C and took
//! most of a cold release build (see docs/ARCHITECTURE.md, "Choices and why"). Without a default
//! provider compiled in, reqwest panics when a client is built unless one was installed first, so
//! every place that builds one calls [`install`] before it.

/// Installs ring as the process's rustls provider; later calls (and a provider already
/// installed by an embedding program) leave it as it is.
pub fn install() {
    // Err only means a provider is already installed, which is all this asks for.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
