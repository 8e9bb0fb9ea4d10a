//! Group commit for contract groups: concurrent `ChannelCreateFlowGroupByTemplates` calls are
//! written together, in one transaction per batch, by a single task per node. A batch costs
//! about as many statements as one group, which is what lets SQLite's single writer keep up.

use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use super::Store;
use crate::domain::flow::FlowGroup;
use crate::error::Failure;

/// Groups and contracts one batch may hold; past these a batch is written and the next begins.
const MAX_GROUPS: usize = 128;
const MAX_CONTRACTS: usize = 2_000;

type Job = (FlowGroup, oneshot::Sender<Result<(), Failure>>);

#[derive(Clone)]
pub struct GroupWriter {
    jobs: mpsc::Sender<Job>,
}

impl GroupWriter {
    /// Starts the writing task; it ends when every `GroupWriter` clone is dropped.
    pub fn spawn(store: Store) -> GroupWriter {
        let (jobs, rx) = mpsc::channel(4 * MAX_GROUPS);
        tokio::spawn(run(store, rx));
        GroupWriter { jobs }
    }

    /// Writes the group (with the others waiting at the same time) and charges its quota.
    pub async fn create(&self, group: FlowGroup) -> Result<(), Failure> {
        let (done, outcome) = oneshot::channel();
        self.jobs.send((group, done)).await.map_err(|_| anyhow::anyhow!("the group writer has stopped"))?;
        outcome.await.map_err(|_| anyhow::anyhow!("the group writer dropped a group"))?
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut contracts = first.0.flows.len();
        let mut batch = vec![first];
        while batch.len() < MAX_GROUPS && contracts < MAX_CONTRACTS {
            match rx.try_recv() {
                Ok(job) => {
                    contracts += job.0.flows.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        let (groups, replies): (Vec<FlowGroup>, Vec<_>) = batch.into_iter().unzip();
        match store.create_flow_groups(&groups).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(outcome.map_err(Failure::from));
                }
            }
            // One group's fault must not fail the others: write each on its own.
            Err(e) if groups.len() > 1 => {
                warn!("a batch of {} groups failed ({e:#}); writing them one by one", groups.len());
                for (group, reply) in groups.iter().zip(replies) {
                    let _ = reply.send(store.create_flow_group(group).await);
                }
            }
            Err(e) => {
                let _ = replies.into_iter().next().map(|r| r.send(Err(e)));
            }
        }
    }
}
