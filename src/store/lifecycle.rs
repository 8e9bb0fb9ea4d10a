//! A contract's end before completion, as the database records it, and the quota ledger read
//! as a bill. Each transition is one function with one transaction of guarded updates
//! (`cancel_flow`, `expire_flow`): of two doors racing for one contract (a cancel and a
//! signing, two nodes' sweeps) exactly one wins. Whatever else must happen with a transition
//! (a callback to send) belongs in the same transaction, here.

use sqlx::Row;

use super::{Store, callbacks, corrupt};
use crate::domain::ExternalId;
use crate::domain::callback::{FlowEvent, Operate};
use crate::domain::flow::{ApproveStatus, FlowStatus, SignerKind};
use crate::domain::id::{FlowId, TaskId};
use crate::domain::lifecycle::{Period, refund_due};
use crate::error::Failure;

/// What cancelling a contract came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancelled {
    /// Cancelled; `refunded` when its unit of quota came back.
    Done { name: String, refunded: bool },
    /// No contract of that id was created by this organisation of this application.
    NotFound,
    /// It is not being signed any more: its status (`DEADLINE` when past its deadline, even if
    /// the sweep has not marked it yet).
    Ended { name: String, status: FlowStatus },
}

/// One contract named by a batch cancel, as the task reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelTaskFlow {
    /// As the caller sent it.
    pub flow_id: String,
    /// Empty for a contract that was not found.
    pub flow_name: String,
    /// Why it was not cancelled; `None` when it was.
    pub reason: Option<String>,
}

/// One row of the ledger with what the bill shows of its contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillEntry {
    pub flow_id: FlowId,
    pub flow_name: String,
    /// The contract's status now.
    pub flow_status: FlowStatus,
    pub organization_name: String,
    pub operator_name: String,
    /// +1 charged, −1 refunded.
    pub units: i64,
    pub at: i64,
}

/// The ledger summed for one sub-organisation, per China day or over the whole period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEntry {
    pub organization_open_id: String,
    pub organization_name: String,
    /// [`crate::domain::lifecycle::china_day`]; `None` when summed over the period.
    pub day: Option<i64>,
    /// Units charged.
    pub used: i64,
    /// Units refunded.
    pub refunded: i64,
}

/// A transition that found its contract moved between the read and the guarded update is
/// tried again on the new state this many times.
const ATTEMPTS: usize = 5;

impl Store {
    /// Cancels one contract `organization` of `app` created, if it is still being signed and
    /// before its deadline: pending approvers `→ CANCEL`, the contract `INIT|PART → CANCEL`
    /// with `message` as its FlowMessage, and, when only auto-signers had signed, its unit of
    /// quota back (a −1 ledger row and `flow_quota_used − 1`), all in one transaction.
    pub async fn cancel_flow(
        &self,
        app: &ExternalId,
        organization: &ExternalId,
        flow: &FlowId,
        message: Option<&str>,
        now: i64,
    ) -> Result<Cancelled, Failure> {
        for _ in 0..ATTEMPTS {
            let mut tx = self.begin_write().await?;
            let Some(row) = sqlx::query(
                "SELECT name, status, deadline FROM flows WHERE flow_id = $1 AND app_id = $2 AND organization_open_id = $3",
            )
            .bind(flow.as_str())
            .bind(app.as_str())
            .bind(organization.as_str())
            .fetch_optional(&mut *tx)
            .await?
            else {
                return Ok(Cancelled::NotFound);
            };
            let name: String = row.try_get("name")?;
            let status: String = row.try_get("status")?;
            let status = FlowStatus::parse(&status).ok_or_else(|| corrupt("flow status", &status))?;
            if !status.is_live() {
                return Ok(Cancelled::Ended { name, status });
            }
            if row.try_get::<i64, _>("deadline")? < now {
                return Ok(Cancelled::Ended { name, status: FlowStatus::Deadline });
            }
            // Approvers first, in the order a signing takes its locks: on PostgreSQL a signing
            // of this contract under way makes this wait for it, and one that comes later
            // finds nobody pending.
            sqlx::query("UPDATE flow_approvers SET status = $2 WHERE flow_id = $1 AND status = 'PENDING'")
                .bind(flow.as_str())
                .bind(ApproveStatus::Cancel.as_str())
                .execute(&mut *tx)
                .await?;
            let moved = sqlx::query(
                "UPDATE flows SET status = $2, flow_message = $3 \
                 WHERE flow_id = $1 AND status IN ('INIT', 'PART') AND deadline >= $4",
            )
            .bind(flow.as_str())
            .bind(FlowStatus::Cancel.as_str())
            .bind(message.map(str::to_owned))
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved != 1 {
                continue;
            }
            let signers = sqlx::query("SELECT signer, status FROM flow_approvers WHERE flow_id = $1")
                .bind(flow.as_str())
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| {
                    let (signer, status): (String, String) = (r.try_get("signer")?, r.try_get("status")?);
                    Ok((
                        SignerKind::parse(&signer).ok_or_else(|| corrupt("signer", &signer))?,
                        ApproveStatus::parse(&status).ok_or_else(|| corrupt("approve status", &status))?,
                    ))
                })
                .collect::<Result<Vec<_>, Failure>>()?;
            let refunded = refund_due(signers);
            if refunded {
                sqlx::query(
                    "INSERT INTO quota_ledger (app_id, flow_id, kind, units, created_at, organization_open_id) \
                     VALUES ($1, $2, 'REFUND', -1, $3, $4)",
                )
                .bind(app.as_str())
                .bind(flow.as_str())
                .bind(now)
                .bind(organization.as_str())
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE applications SET flow_quota_used = flow_quota_used - 1 WHERE app_id = $1")
                    .bind(app.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            callbacks::enqueue(&mut tx, self.backend, &[FlowEvent::new(flow.clone(), Operate::Cancel)], now).await?;
            tx.commit().await?;
            return Ok(Cancelled::Done { name, refunded });
        }
        Err(anyhow::anyhow!("contract {flow} kept changing while being cancelled ({ATTEMPTS} attempts)").into())
    }

    /// Live contracts past their deadline at `now`, earliest deadline first.
    pub async fn expired_flows(&self, now: i64, limit: i64) -> Result<Vec<FlowId>, Failure> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT flow_id FROM flows WHERE status IN ('INIT', 'PART') AND deadline < $1 ORDER BY deadline LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(FlowId::from_stored).collect())
    }

    /// Expires one contract past its deadline: pending approvers `→ DEADLINE` and the contract
    /// `INIT|PART → DEADLINE`, in one transaction; `false` when it had ended meanwhile
    /// (signed, refused, cancelled, or expired by another node). No quota comes back.
    pub async fn expire_flow(&self, flow: &FlowId, now: i64) -> Result<bool, Failure> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE flow_approvers SET status = $2 WHERE flow_id = $1 AND status = 'PENDING'")
            .bind(flow.as_str())
            .bind(ApproveStatus::Deadline.as_str())
            .execute(&mut *tx)
            .await?;
        let moved = sqlx::query(
            "UPDATE flows SET status = $2 WHERE flow_id = $1 AND status IN ('INIT', 'PART') AND deadline < $3",
        )
        .bind(flow.as_str())
        .bind(FlowStatus::Deadline.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            return Ok(false);
        }
        callbacks::enqueue(&mut tx, self.backend, &[FlowEvent::new(flow.clone(), Operate::Deadline)], now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Keeps a batch cancel's outcome, in the order the contracts were named.
    pub async fn record_cancel_task(
        &self,
        app: &ExternalId,
        organization: &ExternalId,
        task: &TaskId,
        flows: &[CancelTaskFlow],
        now: i64,
    ) -> Result<(), Failure> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO cancel_tasks (task_id, app_id, organization_open_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(task.as_str())
        .bind(app.as_str())
        .bind(organization.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for (i, f) in flows.iter().enumerate() {
            sqlx::query(
                "INSERT INTO cancel_task_flows (task_id, position, flow_id, flow_name, reason) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(task.as_str())
            .bind(i as i64)
            .bind(&f.flow_id)
            .bind(&f.flow_name)
            .bind(f.reason.clone())
            .execute(&mut *tx)
            .await?;
        }
        callbacks::enqueue_cancel_task(&mut tx, self.backend, app, organization, task, flows, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A batch cancel's outcome, if `organization` of `app` made that task.
    pub async fn cancel_task(
        &self,
        app: &ExternalId,
        organization: &ExternalId,
        task: &TaskId,
    ) -> Result<Option<Vec<CancelTaskFlow>>, Failure> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT task_id FROM cancel_tasks WHERE task_id = $1 AND app_id = $2 AND organization_open_id = $3",
        )
        .bind(task.as_str())
        .bind(app.as_str())
        .bind(organization.as_str())
        .fetch_optional(&self.pool)
        .await?;
        if found.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT flow_id, flow_name, reason FROM cancel_task_flows WHERE task_id = $1 ORDER BY position",
        )
        .bind(task.as_str())
        .fetch_all(&self.pool)
        .await?;
        let flows = rows
            .iter()
            .map(|r| {
                Ok(CancelTaskFlow {
                    flow_id: r.try_get("flow_id")?,
                    flow_name: r.try_get("flow_name")?,
                    reason: r.try_get("reason")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(Some(flows))
    }

    /// The ledger rows of `app` (of one sub-organisation's contracts, if given) in `period`,
    /// oldest first, a charge before the refund of the same contract: the total and `take`
    /// rows after the first `skip`.
    pub async fn bill(
        &self,
        app: &ExternalId,
        organization: Option<&ExternalId>,
        period: Period,
        skip: i64,
        take: i64,
    ) -> Result<(i64, Vec<BillEntry>), Failure> {
        const WHERE: &str = "l.app_id = $1 AND ($2 IS NULL OR l.organization_open_id = $2) \
            AND l.created_at >= $3 AND l.created_at < $4";
        let organization = organization.map(|o| o.as_str().to_owned());
        let total: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM quota_ledger l WHERE {WHERE}")))
                .bind(app.as_str())
                .bind(organization.clone())
                .bind(period.from)
                .bind(period.until)
                .fetch_one(&self.pool)
                .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT l.flow_id, l.units, l.created_at, f.name AS flow_name, f.status, \
             COALESCE(o.name, '') AS organization_name, COALESCE(p.name, '') AS operator_name \
             FROM quota_ledger l JOIN flows f ON f.flow_id = l.flow_id \
             LEFT JOIN organizations o ON o.app_id = l.app_id AND o.open_id = l.organization_open_id \
             LEFT JOIN operators p ON p.app_id = f.app_id AND p.organization_open_id = f.organization_open_id \
                 AND p.open_id = f.operator_open_id \
             WHERE {WHERE} ORDER BY l.created_at, l.flow_id, l.units DESC LIMIT $5 OFFSET $6"
        )))
        .bind(app.as_str())
        .bind(organization)
        .bind(period.from)
        .bind(period.until)
        .bind(take)
        .bind(skip)
        .fetch_all(&self.pool)
        .await?;
        let entries = rows
            .iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                Ok(BillEntry {
                    flow_id: FlowId::from_stored(r.try_get("flow_id")?),
                    flow_name: r.try_get("flow_name")?,
                    flow_status: FlowStatus::parse(&status).ok_or_else(|| corrupt("flow status", &status))?,
                    organization_name: r.try_get("organization_name")?,
                    operator_name: r.try_get("operator_name")?,
                    units: r.try_get("units")?,
                    at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<_, Failure>>()?;
        Ok((total, entries))
    }

    /// The ledger of `app` in `period` summed per sub-organisation and China day (or over the
    /// whole period when `per_day` is false), by day then organisation: the number of sums and
    /// `take` of them after the first `skip`.
    pub async fn usage(
        &self,
        app: &ExternalId,
        period: Period,
        per_day: bool,
        skip: i64,
        take: i64,
    ) -> Result<(i64, Vec<UsageEntry>), Failure> {
        let day = if per_day { "(l.created_at + 28800) / 86400" } else { "CAST(0 AS BIGINT)" };
        let grouped = format!(
            "FROM quota_ledger l WHERE l.app_id = $1 AND l.created_at >= $2 AND l.created_at < $3 \
             GROUP BY l.organization_open_id, {day}"
        );
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM (SELECT l.organization_open_id {grouped}) sums"
        )))
        .bind(app.as_str())
        .bind(period.from)
        .bind(period.until)
        .fetch_one(&self.pool)
        .await?;
        // dialect: PostgreSQL sums BIGINT as NUMERIC, which the Any driver cannot read; hence the CASTs.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT sums.organization_open_id, sums.day, sums.used, sums.refunded, COALESCE(o.name, '') AS name FROM \
             (SELECT l.organization_open_id, {day} AS day, \
              CAST(SUM(CASE WHEN l.units > 0 THEN l.units ELSE 0 END) AS BIGINT) AS used, \
              CAST(SUM(CASE WHEN l.units < 0 THEN -l.units ELSE 0 END) AS BIGINT) AS refunded {grouped}) sums \
             LEFT JOIN organizations o ON o.app_id = $1 AND o.open_id = sums.organization_open_id \
             ORDER BY sums.day, sums.organization_open_id LIMIT $4 OFFSET $5"
        )))
        .bind(app.as_str())
        .bind(period.from)
        .bind(period.until)
        .bind(take)
        .bind(skip)
        .fetch_all(&self.pool)
        .await?;
        let entries = rows
            .iter()
            .map(|r| {
                Ok(UsageEntry {
                    organization_open_id: r.try_get("organization_open_id")?,
                    organization_name: r.try_get("name")?,
                    day: per_day.then(|| r.try_get("day")).transpose()?,
                    used: r.try_get("used")?,
                    refunded: r.try_get("refunded")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok((total, entries))
    }
}
