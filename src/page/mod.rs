//! The signing page a signer opens by link.

pub mod assets;
