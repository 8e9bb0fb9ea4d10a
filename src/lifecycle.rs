//! Expiry: every node looks each second (and whenever its business clock moves) for live
//! contracts past their deadline and moves each to `DEADLINE` with `Store::expire_flow`. The
//! flows table is the queue, so a restart loses nothing; the guarded transition lets several
//! nodes sweep at once with one winner per contract.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tracing::{info, warn};

use crate::store::Store;

/// How often each node looks for contracts past their deadline, besides being woken.
const SWEEP: Duration = Duration::from_secs(1);
/// Contracts expired per look; the next look takes the rest at once.
const BATCH: i64 = 200;

pub struct Expiry {
    store: Store,
    wake: Notify,
}

impl Expiry {
    pub fn new(store: Store) -> Arc<Expiry> {
        Arc::new(Expiry { store, wake: Notify::new() })
    }

    /// Looks now: the business clock moved.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn start(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let expiry = self.clone();
        tokio::spawn(async move {
            loop {
                let _ = tokio::time::timeout(SWEEP, expiry.wake.notified()).await;
                loop {
                    match expiry.sweep().await {
                        Ok(n) if n == BATCH as usize => continue,
                        Ok(_) => break,
                        Err(e) => {
                            warn!("expiry sweep: {e:#}");
                            break;
                        }
                    }
                }
            }
        })
    }

    /// Expires what is due now; answers how many contracts it looked at.
    async fn sweep(&self) -> anyhow::Result<usize> {
        let now = self.store.now();
        let due = self.store.expired_flows(now, BATCH).await.map_err(anyhow_of)?;
        for flow in &due {
            // `false`: another node expired it, or it ended otherwise in the meantime.
            if self.store.expire_flow(flow, now).await.map_err(anyhow_of)? {
                info!(flow_id = flow.as_str(), "expired");
            }
        }
        Ok(due.len())
    }
}

fn anyhow_of(e: crate::error::Failure) -> anyhow::Error {
    match e {
        crate::error::Failure::Client(e) => anyhow::anyhow!("{}: {}", e.code.as_str(), e.message),
        crate::error::Failure::Internal(e) => e,
    }
}
