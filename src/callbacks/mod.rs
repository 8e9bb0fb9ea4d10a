//! Callbacks to the platform: the outbound edge. `message` renders Tencent's partner callbacks
//! (the JSON the outbox keeps), `encode` encrypts and signs them as Tencent's kits expect, and
//! the worker here, one per node, delivers the outbox (`store::callbacks`): it claims each
//! stream's next message, POSTs it to the application's CallbackUrl and records it delivered
//! when the receiver answers HTTP 200, or retries it later with exponential backoff.
//!
//! Destinations are checked after DNS resolution: loopback, private, link-local and other
//! non-public addresses are refused unless `--callback-allow-private`. A refused delivery is a
//! failed attempt like any other: logged, and retried with the same backoff (the setting may be
//! turned on, or the name may resolve elsewhere, later).

pub mod encode;
pub mod message;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::store::Store;
use crate::store::callbacks::ClaimedCallback;

/// How long a node holds a message it is delivering: well past `REQUEST_TIMEOUT`, so that a
/// delivery still running never overlaps another node's.
pub const LEASE_MS: i64 = 30_000;
/// How long the receiver has to answer, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Messages (each of a different stream) delivered at once by one node.
const BATCH: i64 = 16;
/// How often an idle worker looks for due messages.
const POLL: Duration = Duration::from_millis(250);
/// The first retry waits this long, each next one twice as long, up to `MAX_BACKOFF_MS`.
const FIRST_BACKOFF_MS: i64 = 1_000;
const MAX_BACKOFF_MS: i64 = 5 * 60_000;

/// How long to wait after the `attempts`-th failed attempt.
pub fn backoff_ms(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    FIRST_BACKOFF_MS.saturating_mul(1 << doublings).min(MAX_BACKOFF_MS)
}

/// Whether a callback may reach `ip` without `--callback-allow-private`: not loopback,
/// private, link-local, shared (CGNAT), unspecified, broadcast, multicast or documentation, nor
/// an IPv6 form of one.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Resolves names for the callbacks' client and refuses any that resolves to an address callbacks
/// may not reach: checked on the addresses the connection then uses, so a name cannot resolve
/// to a public address for a check and to a private one for the connection.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(refused) = addrs.iter().find(|a| !allow_private && !is_public(a.ip())) {
                return Err(format!(
                    "refused: {host} resolves to {}, a private or loopback address (--callback-allow-private)",
                    refused.ip()
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The delivery worker of one node.
#[derive(Clone)]
pub struct Callbacks {
    store: Store,
    client: reqwest::Client,
    allow_private: bool,
}

impl Callbacks {
    pub fn new(store: Store, allow_private: bool) -> anyhow::Result<Callbacks> {
        crate::crypto_provider::install();
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            // A redirect is not a 200: the message is retried, never followed somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .build()
            .context("building the callbacks' HTTP client")?;
        Ok(Callbacks { store, client, allow_private })
    }

    /// Delivers the outbox until aborted. A message being delivered when the task is aborted
    /// (or the node dies) is delivered again once its lease runs out: at least once.
    pub fn start(self) -> JoinHandle<()> {
        if self.allow_private {
            info!("callbacks may reach private and loopback addresses (--callback-allow-private)");
        }
        tokio::spawn(async move {
            loop {
                match self.round().await {
                    Ok(0) => tokio::time::sleep(POLL).await,
                    Ok(_) => {}
                    Err(e) => {
                        warn!("callbacks: {e:#}");
                        tokio::time::sleep(POLL).await;
                    }
                }
            }
        })
    }

    /// Claims and delivers one batch; how many were claimed.
    async fn round(&self) -> anyhow::Result<usize> {
        let claims = self.store.claim_callbacks(BATCH, LEASE_MS).await?;
        let n = claims.len();
        futures::future::join_all(claims.iter().map(|c| self.settle(c)))
            .await
            .into_iter()
            .collect::<Result<(), _>>()?;
        Ok(n)
    }

    async fn settle(&self, claim: &ClaimedCallback) -> anyhow::Result<()> {
        match self.deliver(claim).await {
            Ok(()) => self.store.callback_delivered(claim).await?,
            Err(e) => {
                crate::metrics::job_failed(crate::metrics::Queue::Callbacks);
                let wait = backoff_ms(claim.attempts);
                let error = format!("{e:#}");
                warn!(
                    app_id = claim.app_id.as_str(),
                    msg_id = claim.msg_id.as_str(),
                    attempts = claim.attempts,
                    "callback not delivered, retried in {wait} ms: {error}"
                );
                self.store.retry_callback(claim, wait, &error).await?;
            }
        }
        Ok(())
    }

    /// One attempt: `Ok` only when the receiver answered HTTP 200.
    async fn deliver(&self, claim: &ClaimedCallback) -> anyhow::Result<()> {
        let app = self.store.application(&claim.app_id).await?.ok_or_else(|| anyhow!("the application is gone"))?;
        let settings = app.callback.ok_or_else(|| anyhow!("the application has no CallbackUrl any more"))?;
        let url = reqwest::Url::parse(&settings.url).context("the CallbackUrl")?;
        // IP addresses in the URL are not resolved, so the resolver does not see them.
        if let Some(ip) = literal_ip(&url)
            && !self.allow_private
            && !is_public(ip)
        {
            return Err(anyhow!("refused: {ip} is a private or loopback address (--callback-allow-private)"));
        }
        let encoded = encode::encode(
            &claim.payload,
            settings.aes_key.as_ref().map(|k| k.expose_secret().as_bytes()),
            settings.token.as_ref().map(|t| t.expose_secret().as_bytes()),
        )?;
        let mut request =
            self.client.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(encoded.body);
        if let Some(signature) = encoded.signature {
            request = request.header(encode::SIGNATURE_HEADER, signature);
        }
        let answer = request.send().await.map_err(|e| anyhow!("{}", error_chain(&e)))?;
        match answer.status() {
            reqwest::StatusCode::OK => Ok(()),
            status => Err(anyhow!("the receiver answered HTTP {}", status.as_u16())),
        }
    }
}

/// The host of `url` when it is an IP address.
fn literal_ip(url: &reqwest::Url) -> Option<IpAddr> {
    url.host_str()?.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// reqwest's error and its causes on one line (the resolver's refusal is among the causes).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        line.push_str(": ");
        line.push_str(&s.to_string());
        source = s.source();
    }
    line
}

#[cfg(test)]
mod tests;
