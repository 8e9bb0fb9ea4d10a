//! qianshu (签署): a self-hosted electronic-signature server speaking Tencent Cloud's essbasic
//! API (2021-05-26), so the official SDKs work unchanged. See docs/ARCHITECTURE.md.

pub mod api;
pub mod approvers;
pub mod blobs;
pub mod callbacks;
pub mod config;
pub mod crypto_provider;
pub mod demo;
pub mod domain;
pub mod error;
pub mod evidence;
pub mod lifecycle;
pub mod metrics;
pub mod page;
pub mod pdf;
pub mod pki;
pub mod ratelimit;
pub mod secrets;
pub mod server;
pub mod signing;
pub mod sms;
pub mod store;
pub mod synthesis;
pub mod tenants;
pub mod untrusted;
pub mod verification;
