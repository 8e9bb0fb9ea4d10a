//! Dynamic signers filled in. Each approver takes its identity in one guarded update (still
//! the dynamic kind it was created as, still `PENDING`, its contract still live), and an
//! `approver_fills` row says it was filled; of two fills racing for one approver exactly one
//! writes anything.

use std::collections::HashSet;

use sqlx::Row;

use super::Store;
use super::signing::{CodeUse, Recorded, consume_code};
use crate::domain::fill::Filled;
use crate::domain::id::{FlowId, SignId};
use crate::domain::link::SignerKey;
use crate::error::Failure;

/// The link a holder claims on the page: issued for a recipient, rewritten to the signer who
/// said who they are, so that from then on it is an ordinary link of theirs.
pub struct LinkClaim<'a> {
    pub token_sha256: &'a str,
    pub from: &'a SignerKey,
    pub to: &'a SignerKey,
    pub code: CodeUse<'a>,
}

impl Store {
    /// Which approvers of `flows` were filled before (by contract and SignId).
    pub async fn filled_approvers(&self, flows: &[FlowId]) -> Result<HashSet<(FlowId, SignId)>, Failure> {
        if flows.is_empty() {
            return Ok(HashSet::new());
        }
        let placeholders: Vec<String> = (1..=flows.len()).map(|i| format!("${i}")).collect();
        let sql = format!("SELECT flow_id, sign_id FROM approver_fills WHERE flow_id IN ({})", placeholders.join(", "));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for f in flows {
            q = q.bind(f.as_str());
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((FlowId::from_stored(r.try_get("flow_id")?), SignId::from_stored(r.try_get("sign_id")?))))
            .collect()
    }

    /// Records `ChannelCreateFlowApprovers`' fills in one transaction, each approver on its own
    /// guard: the answer says, per fill, whether it was recorded (`false`: another fill won
    /// meanwhile, or the contract ended), as Tencent answers a batch with a `FillError` each.
    pub async fn record_fills(&self, fills: &[Filled], now: i64) -> Result<Vec<bool>, Failure> {
        let mut tx = self.begin_write().await?;
        let mut recorded = Vec::with_capacity(fills.len());
        for f in fills {
            recorded.push(fill(&mut tx, f, "API", now).await?);
        }
        tx.commit().await?;
        Ok(recorded)
    }

    /// A link's holder takes its places: the one-time code used, every approver filled and the
    /// link rewritten to them, all in one transaction or nothing.
    pub async fn record_claim(&self, fills: &[Filled], claim: LinkClaim<'_>, now: i64) -> Result<Recorded, Failure> {
        let mut tx = self.begin_write().await?;
        if !consume_code(&mut tx, &claim.code, now).await? {
            return Ok(Recorded::CodeUnusable);
        }
        for f in fills {
            if !fill(&mut tx, f, "LINK", now).await? {
                return Ok(Recorded::Changed);
            }
        }
        let rewritten = sqlx::query("UPDATE sign_links SET signer = $1 WHERE token_sha256 = $2 AND signer = $3")
            .bind(claim.to.encode())
            .bind(claim.token_sha256)
            .bind(claim.from.encode())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if rewritten != 1 {
            return Ok(Recorded::Changed);
        }
        // The claim's code was for the claim: the signer may ask for the signing's code at once.
        sqlx::query("UPDATE sign_codes SET sent_at = 0 WHERE token_sha256 = $1")
            .bind(claim.token_sha256)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Recorded::Done)
    }
}

/// One approver `dynamic → filled`: `false` if it was not that dynamic approver of a live
/// contract any more.
async fn fill(conn: &mut sqlx::AnyConnection, f: &Filled, via: &str, now: i64) -> Result<bool, Failure> {
    let moved = sqlx::query(
        "UPDATE flow_approvers SET signer = $1, organization_open_id = $2, organization_name = $3, open_id = $4, \
         name = $5, mobile = $6, id_card_type = $7, id_card_number = $8 \
         WHERE flow_id = $9 AND sign_id = $10 AND signer = $11 AND status = 'PENDING' \
         AND EXISTS (SELECT 1 FROM flows c WHERE c.flow_id = flow_approvers.flow_id \
             AND c.status IN ('INIT', 'PART') AND c.deadline >= $12)",
    )
    .bind(f.signer.as_str())
    .bind(f.organization_open_id.clone())
    .bind(f.organization_name.clone())
    .bind(f.open_id.clone())
    .bind(f.name.clone())
    .bind(f.mobile.clone())
    .bind(f.id_card.as_ref().map(|c| c.kind.as_str().to_owned()))
    .bind(f.id_card.as_ref().map(|c| c.number.clone()))
    .bind(f.flow_id.as_str())
    .bind(f.sign_id.as_str())
    .bind(f.was.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if moved != 1 {
        return Ok(false);
    }
    let noted = sqlx::query(
        "INSERT INTO approver_fills (flow_id, sign_id, via, filled_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (flow_id, sign_id) DO NOTHING",
    )
    .bind(f.flow_id.as_str())
    .bind(f.sign_id.as_str())
    .bind(via)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(noted == 1)
}
