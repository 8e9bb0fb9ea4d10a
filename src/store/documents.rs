//! Contract documents and the durable queue that makes them: a PENDING document is a job. A
//! job is claimed by leasing it (several nodes share the queue: PostgreSQL skips rows another
//! node has locked, SQLite has a single writer) under a token only the claimer knows, so a
//! worker whose lease ran out cannot retry, hand back or fail a job another worker holds since;
//! it is finished by the one update that still finds it PENDING, so a job finishes once even
//! if two workers ever held it.

use sqlx::Row;

use super::{Backend, Store, corrupt, flag};
use crate::domain::ExternalId;
use crate::domain::flow::Flow;
use crate::domain::id::{FlowId, TaskId};
use crate::error::Failure;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentState {
    Pending,
    Ready,
    Failed,
}

impl DocumentState {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentState::Pending => "PENDING",
            DocumentState::Ready => "READY",
            DocumentState::Failed => "FAILED",
        }
    }

    fn parse(s: &str) -> Option<DocumentState> {
        [DocumentState::Pending, DocumentState::Ready, DocumentState::Failed].into_iter().find(|d| d.as_str() == s)
    }
}

/// Where a flow's document stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub flow_id: FlowId,
    pub state: DocumentState,
    /// A worker holds the job right now (its lease has not run out).
    pub leased: bool,
    pub sha256: Option<String>,
    pub error: Option<String>,
}

/// What a finished job produced.
pub enum Outcome {
    Ready { sha256: String },
    Failed { error: String },
}

/// Claims of one job before it is recorded as failed: the claim that would exceed this records
/// the failure instead, so a job whose render kills its worker (or its node) every time is
/// claimed this many times, not for ever.
pub const MAX_ATTEMPTS: i64 = 3;

/// A claimed job, held until its lease runs out by whoever has this value.
#[derive(Debug)]
pub struct Lease {
    /// The application whose contract it is: what the worker reads the contract as.
    pub app: ExternalId,
    pub flow_id: FlowId,
    /// How many times the job has been claimed, this claim included.
    pub attempts: i64,
    token: String,
}

const DOCUMENT_COLUMNS: &str = "flow_id, state, sha256, error, lease_until";

impl Store {
    /// Leases up to `limit` jobs, oldest first, until `now_ms + lease_ms`: jobs nobody holds
    /// and jobs whose holder's lease ran out. A job claimed [`MAX_ATTEMPTS`] times already is
    /// recorded as failed instead of returned.
    pub async fn claim_documents(&self, limit: i64, lease_ms: i64) -> Result<Vec<Lease>, Failure> {
        let now = super::now_ms();
        let token = self.new_lease_token();
        // dialect: PostgreSQL nodes skip rows another node is claiming; SQLite's one writer
        // serialises claims already.
        let skip_locked = if self.backend == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE flow_documents SET lease_until = $1, lease_token = $2, attempts = attempts + 1 WHERE flow_id IN \
             (SELECT flow_id FROM flow_documents WHERE state = 'PENDING' AND lease_until < $3 \
              ORDER BY flow_id LIMIT $4{skip_locked}) \
             RETURNING app_id, flow_id, attempts"
        )))
        .bind(now + lease_ms)
        .bind(&token)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let claimed = rows
            .iter()
            .map(|r| {
                Ok(Lease {
                    app: ExternalId::from_stored(r.try_get("app_id")?),
                    flow_id: FlowId::from_stored(r.try_get("flow_id")?),
                    attempts: r.try_get("attempts")?,
                    token: token.clone(),
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        let leases = give_up_exhausted(&mut tx, claimed).await?;
        tx.commit().await?;
        Ok(leases)
    }

    /// Leases one job, if nobody holds it: for a caller that needs this document now. Like
    /// [`Store::claim_documents`], a job claimed too often is recorded as failed instead.
    pub async fn claim_document(
        &self,
        app: &ExternalId,
        flow_id: &FlowId,
        lease_ms: i64,
    ) -> Result<Option<Lease>, Failure> {
        let now = super::now_ms();
        let token = self.new_lease_token();
        let mut tx = self.begin_write().await?;
        let attempts: Option<i64> = sqlx::query_scalar(
            "UPDATE flow_documents SET lease_until = $1, lease_token = $2, attempts = attempts + 1 \
             WHERE flow_id = $3 AND app_id = $4 AND state = 'PENDING' AND lease_until < $5 RETURNING attempts",
        )
        .bind(now + lease_ms)
        .bind(&token)
        .bind(flow_id.as_str())
        .bind(app.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let claimed = attempts
            .map(|attempts| Lease { app: app.clone(), flow_id: flow_id.clone(), attempts, token })
            .into_iter()
            .collect();
        let lease = give_up_exhausted(&mut tx, claimed).await?.pop();
        tx.commit().await?;
        Ok(lease)
    }

    /// Hands claimed jobs back untouched (a node shutting down), as if never claimed; a job
    /// whose lease ran out and that another worker holds now is left to that worker.
    pub async fn release_documents(&self, leases: &[Lease]) -> Result<(), Failure> {
        let mut tx = self.begin_write().await?;
        for lease in leases {
            sqlx::query(
                "UPDATE flow_documents SET lease_until = 0, lease_token = NULL, attempts = attempts - 1 \
                 WHERE flow_id = $1 AND lease_token = $2 AND state = 'PENDING'",
            )
            .bind(lease.flow_id.as_str())
            .bind(&lease.token)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Puts a failed attempt back in the queue, to be tried again after `retry_after_ms`, if
    /// the lease is still the caller's. Returns whether it was.
    pub async fn retry_document(&self, lease: &Lease, retry_after_ms: i64) -> Result<bool, Failure> {
        let mut tx = self.begin_write().await?;
        let retried = sqlx::query(
            "UPDATE flow_documents SET lease_until = $1, lease_token = NULL \
             WHERE flow_id = $2 AND lease_token = $3 AND state = 'PENDING'",
        )
        .bind(super::now_ms() + retry_after_ms)
        .bind(lease.flow_id.as_str())
        .bind(&lease.token)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(retried == 1)
    }

    /// Records a finished job, once: only a holder that still finds the job queued records
    /// it. Returns whether this call did. A failure is recorded only while the lease is the
    /// caller's (whoever holds the job now may still make it); a document is recorded even
    /// after the lease ran out, because it is the same document whoever makes it, and a render
    /// slower than the lease would otherwise never be recorded by anyone.
    pub async fn finish_document(&self, lease: &Lease, outcome: &Outcome) -> Result<bool, Failure> {
        let (state, sha256, error) = match outcome {
            Outcome::Ready { sha256 } => (DocumentState::Ready, Some(sha256.as_str()), None),
            Outcome::Failed { error } => (DocumentState::Failed, None, Some(error.as_str())),
        };
        let mut tx = self.begin_write().await?;
        let recorded = sqlx::query(
            "UPDATE flow_documents SET state = $1, sha256 = $2, error = $3, renders = renders + 1, finished_at = $4, \
             lease_token = NULL WHERE flow_id = $5 AND state = 'PENDING' AND ($6 = 1 OR lease_token = $7)",
        )
        .bind(state.as_str())
        .bind(sha256)
        .bind(error)
        .bind(super::now_ms())
        .bind(lease.flow_id.as_str())
        .bind(flag(state == DocumentState::Ready))
        .bind(&lease.token)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(recorded == 1)
    }

    /// The document of `flow_id`, if `app` owns that flow.
    pub async fn document(&self, app: &ExternalId, flow_id: &FlowId) -> Result<Option<Document>, Failure> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DOCUMENT_COLUMNS} FROM flow_documents WHERE flow_id = $1 AND app_id = $2"
        )))
        .bind(flow_id.as_str())
        .bind(app.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(document).transpose()
    }

    /// The document whose task `task_id` is, if `app` owns it.
    pub async fn document_by_task(&self, app: &ExternalId, task_id: &TaskId) -> Result<Option<Document>, Failure> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DOCUMENT_COLUMNS} FROM flow_documents WHERE task_id = $1 AND app_id = $2"
        )))
        .bind(task_id.as_str())
        .bind(app.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(document).transpose()
    }

    /// Flow `flow_id` of `app`, whichever of its organisations created it: for the workers,
    /// which make every organisation's documents.
    pub async fn flow(&self, app: &ExternalId, flow_id: &FlowId) -> Result<Option<Flow>, Failure> {
        let Some(organization) = sqlx::query_scalar::<_, String>(
            "SELECT organization_open_id FROM flows WHERE flow_id = $1 AND app_id = $2",
        )
        .bind(flow_id.as_str())
        .bind(app.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let organization = ExternalId::from_stored(organization);
        let flows = self.flows(app, &organization, std::slice::from_ref(flow_id)).await?;
        Ok(flows.into_iter().next())
    }
}

fn document(r: &sqlx::any::AnyRow) -> Result<Document, Failure> {
    let state: String = r.try_get("state")?;
    let state = DocumentState::parse(&state).ok_or_else(|| corrupt("document state", &state))?;
    let lease: i64 = r.try_get("lease_until")?;
    Ok(Document {
        flow_id: FlowId::from_stored(r.try_get("flow_id")?),
        state,
        leased: state == DocumentState::Pending && lease >= super::now_ms(),
        sha256: r.try_get("sha256")?,
        error: r.try_get("error")?,
    })
}

/// Records as failed, inside the claim's transaction, the claimed jobs that were claimed more
/// than [`MAX_ATTEMPTS`] times (each earlier attempt ended without a result: its worker or
/// node died), and returns the others.
async fn give_up_exhausted(tx: &mut sqlx::AnyConnection, claimed: Vec<Lease>) -> Result<Vec<Lease>, Failure> {
    let (exhausted, leases): (Vec<Lease>, Vec<Lease>) = claimed.into_iter().partition(|l| l.attempts > MAX_ATTEMPTS);
    for lease in &exhausted {
        sqlx::query(
            "UPDATE flow_documents SET state = 'FAILED', error = $1, renders = renders + 1, finished_at = $2, \
             lease_token = NULL WHERE flow_id = $3 AND lease_token = $4",
        )
        .bind(format!(
            "given up after {MAX_ATTEMPTS} attempts that ended without a result (the worker making it stopped)"
        ))
        .bind(super::now_ms())
        .bind(lease.flow_id.as_str())
        .bind(&lease.token)
        .execute(&mut *tx)
        .await?;
        crate::metrics::job_failed(crate::metrics::Queue::Documents);
        tracing::warn!(
            flow_id = lease.flow_id.as_str(),
            "document job given up after {MAX_ATTEMPTS} attempts without a result"
        );
    }
    Ok(leases)
}
