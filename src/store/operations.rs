//! What an operator asks of the database rather than the API: whether it answers, how long the
//! shared queues are, handing back this node's leases when it stops, and a backup.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context, bail};
use sqlx::ConnectOptions;

use super::{Backend, Store};
use crate::config::DatabaseUrl;
use crate::error::Failure;

/// Where the work queues shared by every node stand: jobs waiting (or held) and the age of the
/// oldest, in seconds (0 when none waits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueDepths {
    pub documents: i64,
    pub oldest_document_seconds: i64,
    pub callbacks: i64,
    pub oldest_callback_seconds: i64,
}

/// Random, and of hex digits only, so that it is its own `LIKE` pattern's prefix.
pub(super) fn new_lease_owner() -> Arc<str> {
    uuid::Uuid::new_v4().simple().to_string().into()
}

impl Store {
    /// A lease token: this store's owner, then a random part so that no two claims share one.
    pub(super) fn new_lease_token(&self) -> String {
        format!("{}-{}", self.lease_owner, uuid::Uuid::new_v4().simple())
    }

    /// Whether the database answers a query.
    pub async fn ping(&self) -> Result<(), Failure> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The shared queues, read through their pending-only indexes: the cost grows with the jobs
    /// waiting, never with the jobs done.
    pub async fn queue_depths(&self) -> Result<QueueDepths, Failure> {
        let documents: i64 =
            sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM flow_documents WHERE state = 'PENDING'")
                .fetch_one(&self.pool)
                .await?;
        // Flow ids sort by creation time: the first pending one is the oldest job.
        let oldest_document: Option<i64> = sqlx::query_scalar(
            "SELECT f.created_at FROM flows f WHERE f.flow_id = \
             (SELECT flow_id FROM flow_documents WHERE state = 'PENDING' ORDER BY flow_id LIMIT 1)",
        )
        .fetch_optional(&self.pool)
        .await?;
        let (callbacks, oldest_callback): (i64, Option<i64>) = sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT), MIN(created_at) FROM callback_outbox WHERE state = 'PENDING'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(QueueDepths {
            documents,
            // Flows are created at business time, in seconds.
            oldest_document_seconds: oldest_document.map_or(0, |at| (self.now() - at).max(0)),
            callbacks,
            // Messages are written at wall-clock time, in milliseconds.
            oldest_callback_seconds: oldest_callback.map_or(0, |at| (super::now_ms() - at).max(0) / 1000),
        })
    }

    /// Gives back every document job and callback this store holds, as if never claimed, so
    /// that another node takes them at once rather than when the lease runs out: for a node
    /// that stops. A render or a delivery still running is then done again elsewhere; its own
    /// result, should it still come, is recorded only if nobody recorded one since (documents)
    /// or is delivered twice (callbacks are at least once). Returns how many of each.
    pub async fn release_leases(&self) -> Result<(u64, u64), Failure> {
        let mine = format!("{}-%", self.lease_owner);
        let mut tx = self.begin_write().await?;
        let documents = sqlx::query(
            "UPDATE flow_documents SET lease_until = 0, lease_token = NULL, attempts = attempts - 1 \
             WHERE state = 'PENDING' AND lease_token LIKE $1",
        )
        .bind(&mine)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let callbacks = sqlx::query(
            "UPDATE callback_outbox SET due_at = $1, lease_token = NULL, attempts = attempts - 1 \
             WHERE state = 'PENDING' AND lease_token LIKE $2",
        )
        .bind(super::now_ms())
        .bind(&mine)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok((documents, callbacks))
    }
}

/// Copies the SQLite database at `url` into the new file `to` with `VACUUM INTO`: one read
/// transaction, so the copy is consistent while the server writes. PostgreSQL is backed up
/// with its own tools (README, "Backup").
pub async fn backup(url: &DatabaseUrl, to: &Path) -> anyhow::Result<()> {
    if Backend::of(url)? == Backend::Postgres {
        bail!("`qianshu backup` copies SQLite databases; back up PostgreSQL with pg_dump (see README.md, \"Backup\")");
    }
    if to.exists() {
        bail!("{} exists already; a backup is never written over a file", to.display());
    }
    let target = to.to_str().with_context(|| format!("{} is not a UTF-8 path", to.display()))?;
    let source = url.expose().split('?').next().unwrap_or_default();
    let mut connection = sqlx::sqlite::SqliteConnectOptions::from_str(source)
        .with_context(|| format!("parsing database URL {url}"))?
        .read_only(true)
        .connect()
        .await
        .with_context(|| format!("opening {url}"))?;
    sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(&mut connection)
        .await
        .with_context(|| format!("copying {url} into {}", to.display()))?;
    Ok(())
}
