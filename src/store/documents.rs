//! Contract documents and the durable queue that makes them: a PENDING document is a job. A
//! job is claimed by leasing it (several nodes share the queue: PostgreSQL skips rows another
//! node has locked, SQLite has a single writer), and finished by the one update that still
//! finds it PENDING, so a job finishes once even if two workers ever held it.

use sqlx::Row;

use super::{Backend, Store, corrupt};
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

/// A claimed job: the contract whose document to make, and how often it was claimed.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub app: ExternalId,
    pub flow_id: FlowId,
    pub attempts: i64,
}

/// What a finished job produced.
pub enum Outcome {
    Ready { sha256: String },
    Failed { error: String },
}

const DOCUMENT_COLUMNS: &str = "flow_id, state, sha256, error, lease_until";

impl Store {
    /// Leases up to `limit` jobs, oldest first, until `now_ms + lease_ms`: jobs nobody holds
    /// and jobs whose holder's lease ran out. Returns the flows and how often each was claimed.
    pub async fn claim_documents(&self, limit: i64, lease_ms: i64) -> Result<Vec<Job>, Failure> {
        let now = super::now_ms();
        // dialect: PostgreSQL nodes skip rows another node is claiming; SQLite's one writer
        // serialises claims already.
        let skip_locked = if self.backend == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE flow_documents SET lease_until = $1, attempts = attempts + 1 WHERE flow_id IN \
             (SELECT flow_id FROM flow_documents WHERE state = 'PENDING' AND lease_until < $2 \
              ORDER BY flow_id LIMIT $3{skip_locked}) \
             RETURNING app_id, flow_id, attempts"
        )))
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(Job {
                    app: ExternalId::from_stored(r.try_get("app_id")?),
                    flow_id: FlowId::from_stored(r.try_get("flow_id")?),
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect()
    }

    /// Leases one job, if nobody holds it: for a caller that needs this document now.
    pub async fn claim_document(
        &self,
        app: &ExternalId,
        flow_id: &FlowId,
        lease_ms: i64,
    ) -> Result<Option<i64>, Failure> {
        let now = super::now_ms();
        let mut tx = self.begin_write().await?;
        let attempts: Option<i64> = sqlx::query_scalar(
            "UPDATE flow_documents SET lease_until = $1, attempts = attempts + 1 \
             WHERE flow_id = $2 AND app_id = $3 AND state = 'PENDING' AND lease_until < $4 RETURNING attempts",
        )
        .bind(now + lease_ms)
        .bind(flow_id.as_str())
        .bind(app.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(attempts)
    }

    /// Hands claimed jobs back untouched (a node shutting down), as if never claimed.
    pub async fn release_documents(&self, flow_ids: &[FlowId]) -> Result<(), Failure> {
        let mut tx = self.begin_write().await?;
        for id in flow_ids {
            sqlx::query("UPDATE flow_documents SET lease_until = 0, attempts = attempts - 1 WHERE flow_id = $1")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Puts a failed attempt back in the queue, to be tried again after `retry_after_ms`.
    pub async fn retry_document(&self, flow_id: &FlowId, retry_after_ms: i64) -> Result<(), Failure> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE flow_documents SET lease_until = $1 WHERE flow_id = $2")
            .bind(super::now_ms() + retry_after_ms)
            .bind(flow_id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a finished job, once: only the holder that still finds the job queued records
    /// it. Returns whether this call did.
    pub async fn finish_document(&self, flow_id: &FlowId, outcome: &Outcome) -> Result<bool, Failure> {
        let (state, sha256, error) = match outcome {
            Outcome::Ready { sha256 } => (DocumentState::Ready, Some(sha256.as_str()), None),
            Outcome::Failed { error } => (DocumentState::Failed, None, Some(error.as_str())),
        };
        let mut tx = self.begin_write().await?;
        let recorded = sqlx::query(
            "UPDATE flow_documents SET state = $1, sha256 = $2, error = $3, renders = renders + 1, finished_at = $4 \
             WHERE flow_id = $5 AND state = 'PENDING'",
        )
        .bind(state.as_str())
        .bind(sha256)
        .bind(error)
        .bind(super::now_ms())
        .bind(flow_id.as_str())
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
