//! Group commit for contract groups: concurrent `ChannelCreateFlowGroupByTemplates` calls are
//! written together, in one transaction per batch. A batch costs about as many statements as
//! one group, which is what lets SQLite's single writer keep up. On PostgreSQL several batches
//! are written at once: a batch spends most of its time in the server, and one at a time left
//! the server's other core idle.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::{error, warn};

use super::{Backend, Store};
use crate::domain::flow::FlowGroup;
use crate::error::Failure;

/// Groups and contracts one batch may hold; past these a batch is written and the next begins.
const MAX_GROUPS: usize = 128;
const MAX_CONTRACTS: usize = 2_000;
/// Batches written at once on PostgreSQL (SQLite has one writer).
const POSTGRES_WRITERS: usize = 2;

type Job = (FlowGroup, oneshot::Sender<Result<(), Failure>>);

#[derive(Clone)]
pub struct GroupWriter {
    jobs: mpsc::Sender<Job>,
}

impl GroupWriter {
    /// Starts the writing task; it ends when every `GroupWriter` clone is dropped.
    pub fn spawn(store: Store) -> GroupWriter {
        let writers = match store.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => POSTGRES_WRITERS,
        };
        GroupWriter::start(writers, move |batch| write(store.clone(), batch))
    }

    /// Starts the task that gathers waiting groups into batches and has `write` write each
    /// batch and answer its callers, up to `writers` batches at once.
    fn start<W, F>(writers: usize, write: W) -> GroupWriter
    where
        W: Fn(Vec<Job>) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let (jobs, rx) = mpsc::channel(4 * MAX_GROUPS);
        tokio::spawn(gather(rx, writers, write));
        GroupWriter { jobs }
    }

    /// Writes the group (with the others waiting at the same time) and charges its quota.
    pub async fn create(&self, group: FlowGroup) -> Result<(), Failure> {
        let (done, outcome) = oneshot::channel();
        self.jobs.send((group, done)).await.map_err(|_| anyhow::anyhow!("the group writer has stopped"))?;
        outcome
            .await
            .map_err(|_| anyhow::anyhow!("writing the group's batch failed without an answer (see the log)"))?
    }
}

/// The writer's loop. A batch begins only once a writer is free, so that groups arriving
/// meanwhile join it. A batch that panics drops its callers' answers, so they, and only they,
/// get an internal error; the loop goes on with the next batch (without this, one panic would
/// fail every creation on the node until it restarts).
async fn gather<W, F>(mut rx: mpsc::Receiver<Job>, writers: usize, write: W)
where
    W: Fn(Vec<Job>) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let free = Arc::new(Semaphore::new(writers));
    loop {
        let Ok(writer) = free.clone().acquire_owned().await else { return };
        let Some(first) = rx.recv().await else { return };
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
        let groups = batch.len();
        let written = AssertUnwindSafe(write(batch)).catch_unwind();
        tokio::spawn(async move {
            if let Err(panic) = written.await {
                let why = panic
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| panic.downcast_ref::<String>().map(String::as_str));
                error!("writing a batch of {groups} groups panicked: {}", why.unwrap_or("(no message)"));
            }
            drop(writer);
        });
    }
}

/// Writes one batch in one transaction and answers each caller.
async fn write(store: Store, batch: Vec<Job>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ExternalId;
    use crate::domain::flow::FlowGroupName;
    use crate::domain::id::FlowGroupId;

    fn group(name: &str) -> FlowGroup {
        let id = |s: &str| ExternalId::parse(Some(s), "test").unwrap();
        FlowGroup {
            app_id: id("app"),
            flow_group_id: FlowGroupId::generate(),
            name: FlowGroupName::parse(Some(name), "FlowGroupName").unwrap(),
            organization_open_id: id("org"),
            operator_open_id: id("op"),
            created_on: 1_800_000_000,
            flows: Vec::new(),
        }
    }

    /// Answers each group written, and panics at a group named "doomed" (a bug while writing).
    async fn write_until_doomed(batch: Vec<Job>) {
        for (group, reply) in batch {
            if group.name.as_str() == "doomed" {
                panic!("a bug while writing");
            }
            let _ = reply.send(Ok(()));
        }
    }

    #[tokio::test]
    async fn a_batch_that_panics_fails_its_own_callers_and_the_next_batch_is_written() {
        let writer = GroupWriter::start(1, write_until_doomed);
        match writer.create(group("doomed")).await {
            Err(Failure::Internal(e)) => {
                assert_eq!(e.to_string(), "writing the group's batch failed without an answer (see the log)")
            }
            other => panic!("expected an internal failure, got {other:?}"),
        }
        writer.create(group("fine")).await.unwrap();
        writer.create(group("fine_too")).await.unwrap();
    }
}
