//! Sign reviews and reminders as the database records them. Review results are only ever added
//! (`sign_reviews`, numbered per contract); the latest one that applies to an approver decides,
//! and the signing transaction checks it again after locking the contracts it signs, so a
//! signing never slips past a review that refused meanwhile. Reminders are one row per signer
//! and contract, inserted only if absent, so a signer is reminded once however many nodes try.

use super::Store;
use crate::domain::id::{FlowId, SignId};
use crate::domain::review::{ReviewResult, ReviewTarget};
use crate::error::Failure;

/// The column `column` of the latest review that applies to the approver row `alias`: one
/// naming their recipient or the whole contract (''), whichever came last.
pub(super) fn latest_review(column: &str, alias: &str) -> String {
    format!(
        "(SELECT r.{column} FROM sign_reviews r WHERE r.flow_id = {alias}.flow_id \
         AND r.recipient_id IN ({alias}.recipient_id, '') ORDER BY r.seq DESC LIMIT 1)"
    )
}

impl Store {
    /// Records one review result for each of `targets`, in one transaction, or nothing when a
    /// contract is no longer being signed or a signer named has signed or refused meanwhile
    /// (`false`: the caller looks again).
    pub async fn record_reviews(
        &self,
        targets: &[ReviewTarget],
        result: &ReviewResult,
        now: i64,
    ) -> Result<bool, Failure> {
        let mut tx = self.begin_write().await?;
        if !lock_live_flows(&mut tx, targets, now).await? {
            return Ok(false);
        }
        for t in targets {
            if let Some(recipient) = &t.recipient_id {
                let pending: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM flow_approvers WHERE flow_id = $1 AND recipient_id = $2 AND status = 'PENDING'",
                )
                .bind(t.flow_id.as_str())
                .bind(recipient)
                .fetch_one(&mut *tx)
                .await?;
                if pending == 0 {
                    return Ok(false);
                }
            }
        }
        insert_reviews(&mut tx, targets, result, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records the reminders of `signers` (FlowId, SignId) not recorded before, in one
    /// transaction; answers for each whether it is new, and is therefore to be sent.
    pub async fn record_reminders(&self, signers: &[(FlowId, SignId)], now: i64) -> Result<Vec<bool>, Failure> {
        let mut tx = self.begin_write().await?;
        let mut new = Vec::with_capacity(signers.len());
        for (flow_id, sign_id) in signers {
            let inserted = sqlx::query(
                "INSERT INTO flow_reminders (flow_id, sign_id, reminded_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (flow_id, sign_id) DO NOTHING",
            )
            .bind(flow_id.as_str())
            .bind(sign_id.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            new.push(inserted == 1);
        }
        tx.commit().await?;
        Ok(new)
    }
}

/// Locks each contract of `targets` while it is live (an `UPDATE` that changes nothing takes
/// the row lock on PostgreSQL; SQLite has one writer): reviews of one contract are numbered
/// one after the other, and a signing of it waits for them or they for it.
async fn lock_live_flows(conn: &mut sqlx::AnyConnection, targets: &[ReviewTarget], now: i64) -> Result<bool, Failure> {
    let mut flows: Vec<&str> = targets.iter().map(|t| t.flow_id.as_str()).collect();
    flows.sort_unstable();
    flows.dedup();
    let placeholders = (0..flows.len()).map(|i| format!("${}", i + 2));
    let sql = format!(
        "UPDATE flows SET status = status WHERE status IN ('INIT', 'PART') AND deadline >= $1 AND flow_id IN ({})",
        placeholders.collect::<Vec<_>>().join(", ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
    for f in &flows {
        q = q.bind(*f);
    }
    Ok(q.execute(&mut *conn).await?.rows_affected() == flows.len() as u64)
}

/// Adds one result per target, each numbered after its contract's latest. The contracts must be
/// locked by the caller's transaction.
pub(super) async fn insert_reviews(
    conn: &mut sqlx::AnyConnection,
    targets: &[ReviewTarget],
    result: &ReviewResult,
    now: i64,
) -> Result<(), Failure> {
    for t in targets {
        sqlx::query(
            "INSERT INTO sign_reviews (flow_id, seq, recipient_id, review_type, review_message, created_at) \
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM sign_reviews WHERE flow_id = $1",
        )
        .bind(t.flow_id.as_str())
        .bind(t.recipient_id.clone().unwrap_or_default())
        .bind(result.kind.as_str())
        .bind(result.message.clone())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
