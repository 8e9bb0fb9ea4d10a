//! Signing, refusing and one-time codes as the database records them. Every change is a
//! guarded transition (`UPDATE … WHERE status = <expected>`) inside one transaction, so that of
//! two doors racing for one approver exactly one wins and the other changes nothing.

use std::collections::HashMap;

use sqlx::Row;

use super::callbacks;
use super::flows::{insert_rows, row};
use super::reviews::{insert_reviews, latest_review};
use super::{Backend, Store};
use crate::domain::ExternalId;
use crate::domain::callback::{FlowEvent, Operate};
use crate::domain::evidence::{CodeEvent, Door, SignatureCertificate, mask_mobile};
use crate::domain::flow::{ApproveStatus, FlowStatus, SignerKind};
use crate::domain::id::{CodeEventId, FlowId, SignId};
use crate::domain::review::{ReviewResult, ReviewTarget};
use crate::error::Failure;

/// Where a signature or a refusal came from, kept as evidence.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub door: Door,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A one-time code the signer typed, consumed by the transaction that uses it.
pub struct CodeUse<'a> {
    pub token_sha256: &'a str,
    pub code_sha256: &'a str,
}

/// One contract signed by one approver, with the revision that shows it.
pub struct SignedContract {
    pub flow_id: FlowId,
    pub sign_id: SignId,
    pub values: Vec<(String, String)>,
    pub status: FlowStatus,
    /// The revision written: one more than the one it was built on.
    pub revision: i64,
    pub sha256: String,
    /// The certificate the revision's signature was made with, and its timestamp's time, kept
    /// with the revision; `None` for a signature that is only drawn.
    pub certificate: Option<SignatureCertificate>,
}

/// What recording a signing or a refusal came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Done,
    /// Something changed since the caller looked (another door won, another signer wrote the
    /// next revision, the contract ended): nothing was written; look again.
    Changed,
    /// The one-time code was used, replaced or ran out meanwhile: nothing was written.
    CodeUnusable,
}

/// A contract's latest revision: 0 is the document as made, without signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub number: i64,
    pub sha256: String,
}

/// How a one-time code check came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeCheck {
    Valid,
    /// Wrong; `left` more tries before the link locks.
    Wrong {
        left: i64,
    },
    /// No code was sent, or it ran out or was used.
    Missing,
    /// Too many wrong codes: locked until then (Unix seconds).
    Locked {
        until: i64,
    },
}

/// Wrong codes that lock a link, and for how long.
pub const CODE_TRIES: i64 = 5;
pub const CODE_LOCK_SECONDS: i64 = 600;

impl Store {
    /// Records a signing: each approver `PENDING → ACCEPT`, each contract `INIT|PART →` its new
    /// status, their values and revisions, and the code used, in one transaction, or nothing.
    pub async fn record_signing(
        &self,
        contracts: &[SignedContract],
        code: Option<CodeUse<'_>>,
        origin: &Origin,
        now: i64,
    ) -> Result<Recorded, Failure> {
        let mut tx = self.begin_write().await?;
        if let Some(code) = code
            && !consume_code(&mut tx, &code, now).await?
        {
            return Ok(Recorded::CodeUnusable);
        }
        if !contracts.is_empty() && !signing_writes(&mut tx, self.backend, contracts, origin, now).await? {
            return Ok(Recorded::Changed);
        }
        let events: Vec<FlowEvent> = contracts
            .iter()
            .flat_map(|c| {
                let signed = FlowEvent::by(c.flow_id.clone(), Operate::Sign, c.sign_id.clone());
                let finished =
                    (c.status == FlowStatus::All).then(|| FlowEvent::new(c.flow_id.clone(), Operate::Finish));
                std::iter::once(signed).chain(finished)
            })
            .collect();
        callbacks::enqueue(&mut tx, self.backend, &events, now).await?;
        tx.commit().await?;
        Ok(Recorded::Done)
    }

    /// Records a refusal: each approver `PENDING → REJECT` and each contract `→ REJECT` with the
    /// reason, in one transaction, or nothing.
    pub async fn record_rejection(
        &self,
        refusals: &[(FlowId, SignId)],
        reason: &str,
        code: Option<CodeUse<'_>>,
        origin: &Origin,
        now: i64,
    ) -> Result<Recorded, Failure> {
        let mut tx = self.begin_write().await?;
        if let Some(code) = code
            && !consume_code(&mut tx, &code, now).await?
        {
            return Ok(Recorded::CodeUnusable);
        }
        if !rejection_writes(&mut tx, refusals, reason, origin, now).await? {
            return Ok(Recorded::Changed);
        }
        callbacks::enqueue(&mut tx, self.backend, &refused(refusals), now).await?;
        tx.commit().await?;
        Ok(Recorded::Done)
    }

    /// Records a refusal a sign review made for the signers (`SIGN_REJECT`), as a signer's own
    /// refusal is recorded, together with the review's result, in one transaction, or nothing.
    pub async fn record_review_rejection(
        &self,
        refusals: &[(FlowId, SignId)],
        review: (&[ReviewTarget], &ReviewResult),
        reason: &str,
        origin: &Origin,
        now: i64,
    ) -> Result<Recorded, Failure> {
        let mut tx = self.begin_write().await?;
        if !rejection_writes(&mut tx, refusals, reason, origin, now).await? {
            return Ok(Recorded::Changed);
        }
        insert_reviews(&mut tx, review.0, review.1, now).await?;
        callbacks::enqueue(&mut tx, self.backend, &refused(refusals), now).await?;
        tx.commit().await?;
        Ok(Recorded::Done)
    }

    /// The latest revision of each of `flows` that has a document (a flow whose document is not
    /// made yet is absent).
    pub async fn latest_revisions(
        &self,
        app: &ExternalId,
        flows: &[FlowId],
    ) -> Result<HashMap<FlowId, Revision>, Failure> {
        if flows.is_empty() {
            return Ok(HashMap::new());
        }
        let placeholders: Vec<String> = (0..flows.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT d.flow_id, COALESCE(r.revision, 0) AS revision, COALESCE(r.sha256, d.sha256) AS sha256 \
             FROM flow_documents d LEFT JOIN flow_revisions r ON r.flow_id = d.flow_id \
             AND r.revision = (SELECT MAX(revision) FROM flow_revisions m WHERE m.flow_id = d.flow_id) \
             WHERE d.app_id = $1 AND d.sha256 IS NOT NULL AND d.flow_id IN ({})",
            placeholders.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(app.as_str());
        for f in flows {
            q = q.bind(f.as_str());
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    FlowId::from_stored(r.try_get("flow_id")?),
                    Revision { number: r.try_get("revision")?, sha256: r.try_get("sha256")? },
                ))
            })
            .collect()
    }

    /// Auto-signers due now, oldest contracts first: (AppId, FlowId, SignId). A contract whose
    /// document could not be made is left out: there is nothing to sign, and looking again each
    /// second would only repeat the failure. So is an auto-signer whose review has not passed:
    /// the review's PASS wakes the sweep.
    pub async fn due_auto_signers(&self, limit: i64) -> Result<Vec<(ExternalId, FlowId, SignId)>, Failure> {
        let sql = format!(
            "SELECT f.app_id, a.flow_id, a.sign_id FROM flow_approvers a JOIN flows f ON f.flow_id = a.flow_id \
             WHERE a.signer = $1 AND a.status = 'PENDING' AND f.status IN ('INIT', 'PART') \
             AND NOT EXISTS (SELECT 1 FROM flow_approvers b WHERE b.flow_id = a.flow_id \
                 AND b.routing_order < a.routing_order AND b.status <> 'ACCEPT') \
             AND NOT EXISTS (SELECT 1 FROM flow_documents d WHERE d.flow_id = a.flow_id AND d.state = 'FAILED') \
             AND (a.need_sign_review = 0 OR {} = 'PASS') \
             ORDER BY a.flow_id LIMIT $2",
            latest_review("review_type", "a")
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(SignerKind::AutoSign.as_str())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    ExternalId::from_stored(r.try_get("app_id")?),
                    FlowId::from_stored(r.try_get("flow_id")?),
                    SignId::from_stored(r.try_get("sign_id")?),
                ))
            })
            .collect()
    }

    /// Stores a new code for a link unless one was sent less than `interval` seconds ago;
    /// `Err(seconds)` says how long to wait. Failures and locks carry over to the new code. The
    /// sending is kept as evidence, with `mobile` masked.
    pub async fn issue_code(
        &self,
        token_sha256: &str,
        code_sha256: &str,
        mobile: &str,
        now: i64,
        ttl: i64,
        interval: i64,
    ) -> Result<Result<(), i64>, Failure> {
        let mut tx = self.begin_write().await?;
        let sent_at: Option<i64> = sqlx::query_scalar("SELECT sent_at FROM sign_codes WHERE token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(sent) = sent_at.filter(|sent| sent + interval > now) {
            return Ok(Err(sent + interval - now));
        }
        sqlx::query(
            "INSERT INTO sign_codes (token_sha256, code_sha256, expires_at, sent_at, failures, locked_until) \
             VALUES ($1, $2, $3, $4, 0, 0) \
             ON CONFLICT (token_sha256) DO UPDATE SET code_sha256 = $2, expires_at = $3, sent_at = $4",
        )
        .bind(token_sha256)
        .bind(code_sha256)
        .bind(now + ttl)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        code_event(&mut tx, token_sha256, CodeEvent::Sent, Some(mobile), now).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Until when a link is locked by wrong codes, if it is.
    pub async fn code_lock(&self, token_sha256: &str, now: i64) -> Result<Option<i64>, Failure> {
        let until: Option<i64> = sqlx::query_scalar("SELECT locked_until FROM sign_codes WHERE token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await?;
        Ok(until.filter(|u| *u > now))
    }

    /// Checks a code without using it (the signing transaction uses it). A wrong one is counted
    /// at once; the fifth wrong one locks the link and voids the code. Every attempt is kept as
    /// evidence with its result, in the same transaction.
    pub async fn check_code(&self, token_sha256: &str, code_sha256: &str, now: i64) -> Result<CodeCheck, Failure> {
        let mut tx = self.begin_write().await?;
        let outcome = checked_code(&mut tx, token_sha256, code_sha256, now).await?;
        let event = match outcome {
            CodeCheck::Valid => CodeEvent::Valid,
            CodeCheck::Wrong { .. } => CodeEvent::Wrong,
            CodeCheck::Missing => CodeEvent::Missing,
            CodeCheck::Locked { .. } => CodeEvent::Locked,
        };
        code_event(&mut tx, token_sha256, event, None, now).await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

type Conn = sqlx::AnyConnection;

/// Records one code sent or checked on the link `token_sha256`; a mobile is kept masked.
async fn code_event(
    conn: &mut Conn,
    token_sha256: &str,
    event: CodeEvent,
    mobile: Option<&str>,
    now: i64,
) -> Result<(), Failure> {
    sqlx::query("INSERT INTO sign_code_events (event_id, token_sha256, event, mobile, at) VALUES ($1, $2, $3, $4, $5)")
        .bind(CodeEventId::generate().as_str())
        .bind(token_sha256)
        .bind(event.as_str())
        .bind(mobile.map(mask_mobile))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A code check's outcome, with a wrong code counted and the fifth locking the link.
async fn checked_code(conn: &mut Conn, token_sha256: &str, code_sha256: &str, now: i64) -> Result<CodeCheck, Failure> {
    let Some(row) =
        sqlx::query("SELECT code_sha256, expires_at, failures, locked_until FROM sign_codes WHERE token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&mut *conn)
            .await?
    else {
        return Ok(CodeCheck::Missing);
    };
    let locked_until: i64 = row.try_get("locked_until")?;
    if locked_until > now {
        return Ok(CodeCheck::Locked { until: locked_until });
    }
    let stored: Option<String> = row.try_get("code_sha256")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    let Some(stored) = stored.filter(|_| expires_at >= now) else { return Ok(CodeCheck::Missing) };
    if stored == code_sha256 {
        return Ok(CodeCheck::Valid);
    }
    let failures = row.try_get::<i64, _>("failures")? + 1;
    let outcome = if failures >= CODE_TRIES {
        sqlx::query(
            "UPDATE sign_codes SET failures = 0, locked_until = $2, code_sha256 = NULL WHERE token_sha256 = $1",
        )
        .bind(token_sha256)
        .bind(now + CODE_LOCK_SECONDS)
        .execute(&mut *conn)
        .await?;
        CodeCheck::Locked { until: now + CODE_LOCK_SECONDS }
    } else {
        sqlx::query("UPDATE sign_codes SET failures = $2 WHERE token_sha256 = $1")
            .bind(token_sha256)
            .bind(failures)
            .execute(&mut *conn)
            .await?;
        CodeCheck::Wrong { left: CODE_TRIES - failures }
    };
    Ok(outcome)
}

/// Uses a valid code: `false` if it was used, replaced or ran out meanwhile.
pub(super) async fn consume_code(conn: &mut Conn, code: &CodeUse<'_>, now: i64) -> Result<bool, Failure> {
    let used = sqlx::query(
        "UPDATE sign_codes SET code_sha256 = NULL, failures = 0 \
         WHERE token_sha256 = $1 AND code_sha256 = $2 AND expires_at >= $3 AND locked_until <= $3",
    )
    .bind(code.token_sha256)
    .bind(code.code_sha256)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(used == 1)
}

/// A refusal's changes: `false` if any approver or contract had moved meanwhile.
/// What the platform is told of a refusal: each contract refused, by whom.
fn refused(refusals: &[(FlowId, SignId)]) -> Vec<FlowEvent> {
    refusals.iter().map(|(f, a)| FlowEvent::by(f.clone(), Operate::Reject, a.clone())).collect()
}

async fn rejection_writes(
    conn: &mut Conn,
    refusals: &[(FlowId, SignId)],
    reason: &str,
    origin: &Origin,
    now: i64,
) -> Result<bool, Failure> {
    if refusals.is_empty() {
        return Ok(true);
    }
    let approvers: Vec<(&FlowId, &SignId)> = refusals.iter().map(|(f, a)| (f, a)).collect();
    let flows: Vec<&FlowId> = refusals.iter().map(|(f, _)| f).collect();
    Ok(approvers_move(conn, &approvers, ApproveStatus::Reject, Some(reason), origin, now).await?
        && flows_move(conn, &flows, FlowStatus::Reject, Some(reason), now).await?)
}

/// A signing's rows, a few multi-row statements for all its contracts rather than four round
/// trips per contract: `false` if any contract or approver had moved meanwhile.
async fn signing_writes(
    conn: &mut Conn,
    backend: Backend,
    contracts: &[SignedContract],
    origin: &Origin,
    now: i64,
) -> Result<bool, Failure> {
    let n = contracts.len() as u64;
    // The revisions first: on PostgreSQL a second signer of the same contract waits here for
    // the first to commit, then finds the revision taken and looks again.
    const COLUMNS: usize = 10;
    let rows = (0..contracts.len()).map(|i| {
        let placeholders: Vec<String> = (1..=COLUMNS).map(|c| format!("${}", COLUMNS * i + c)).collect();
        format!("({})", placeholders.join(", "))
    });
    let sql = format!(
        "INSERT INTO flow_revisions (flow_id, revision, sha256, sign_id, created_at, \
         cert_serial, cert_subject, cert_not_before, cert_not_after, timestamp_at) VALUES {} \
         ON CONFLICT (flow_id, revision) DO NOTHING",
        rows.collect::<Vec<_>>().join(", ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for c in contracts {
        let cert = c.certificate.as_ref();
        q = q
            .bind(c.flow_id.as_str())
            .bind(c.revision)
            .bind(&c.sha256)
            .bind(c.sign_id.as_str())
            .bind(now)
            .bind(cert.map(|c| c.serial.clone()))
            .bind(cert.map(|c| c.subject.clone()))
            .bind(cert.map(|c| c.not_before))
            .bind(cert.map(|c| c.not_after))
            .bind(cert.and_then(|c| c.timestamp_at));
    }
    if q.execute(&mut *conn).await?.rows_affected() != n {
        return Ok(false);
    }

    let approvers: Vec<(&FlowId, &SignId)> = contracts.iter().map(|c| (&c.flow_id, &c.sign_id)).collect();
    if !approvers_move(conn, &approvers, ApproveStatus::Accept, None, origin, now).await? {
        return Ok(false);
    }
    // One statement per status the contracts move to (PART or ALL).
    let mut statuses: Vec<FlowStatus> = Vec::new();
    for c in contracts {
        if !statuses.contains(&c.status) {
            statuses.push(c.status);
        }
    }
    for status in statuses {
        let flows: Vec<&FlowId> = contracts.iter().filter(|c| c.status == status).map(|c| &c.flow_id).collect();
        if !flows_move(conn, &flows, status, None, now).await? {
            return Ok(false);
        }
    }
    // The contracts are locked now (their rows updated), so a review recorded before this
    // statement is seen and one recorded after it waits for this signing to end.
    if !reviews_allow(conn, &approvers).await? {
        return Ok(false);
    }

    let values = contracts
        .iter()
        .flat_map(|c| {
            c.values.iter().map(|(component, value)| {
                row! { "flow_id" => c.flow_id.as_str(), "component_id" => component.as_str(), "value" => value.as_str() }
            })
        })
        .collect();
    insert_rows(conn, backend, "flow_fields", values).await?;
    Ok(true)
}

/// Whether every approver of `approvers` that needs a sign review has one whose latest result
/// passed.
async fn reviews_allow(conn: &mut Conn, approvers: &[(&FlowId, &SignId)]) -> Result<bool, Failure> {
    let pairs = (0..approvers.len()).map(|i| format!("(a.flow_id = ${} AND a.sign_id = ${})", 2 * i + 1, 2 * i + 2));
    let sql = format!(
        "SELECT COUNT(*) FROM flow_approvers a WHERE a.need_sign_review = 1 \
         AND COALESCE({}, '') <> 'PASS' AND ({})",
        latest_review("review_type", "a"),
        pairs.collect::<Vec<_>>().join(" OR ")
    );
    let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql));
    for (flow_id, sign_id) in approvers {
        q = q.bind(flow_id.as_str()).bind(sign_id.as_str());
    }
    Ok(q.fetch_one(&mut *conn).await? == 0)
}

/// `PENDING → to` for each of `approvers` (FlowId, SignId); `false` if any was not pending any
/// more (the caller then writes nothing).
async fn approvers_move(
    conn: &mut Conn,
    approvers: &[(&FlowId, &SignId)],
    to: ApproveStatus,
    message: Option<&str>,
    origin: &Origin,
    now: i64,
) -> Result<bool, Failure> {
    let pairs = (0..approvers.len()).map(|i| format!("(flow_id = ${} AND sign_id = ${})", 2 * i + 7, 2 * i + 8));
    let sql = format!(
        "UPDATE flow_approvers SET status = $1, approve_time = $2, approve_message = $3, sign_ip = $4, \
         sign_user_agent = $5, sign_door = $6 WHERE status = 'PENDING' AND ({})",
        pairs.collect::<Vec<_>>().join(" OR ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(to.as_str())
        .bind(now)
        .bind(message.map(str::to_owned))
        .bind(origin.ip.clone())
        .bind(origin.user_agent.clone())
        .bind(origin.door.as_str());
    for (flow_id, sign_id) in approvers {
        q = q.bind(flow_id.as_str()).bind(sign_id.as_str());
    }
    Ok(q.execute(&mut *conn).await?.rows_affected() == approvers.len() as u64)
}

/// Each of the live contracts `flows` (`INIT` or `PART`, before its deadline) `→ to`, once
/// their approvers have moved; `false` if any was not live or, for a signing, `to` no longer
/// follows from its approvers. Parallel signers each plan on what they read, so a plan can miss
/// another's signature that committed meanwhile (it then says `PART` where the contract is now
/// `ALL`); that plan must look again rather than be written.
async fn flows_move(
    conn: &mut Conn,
    flows: &[&FlowId],
    to: FlowStatus,
    message: Option<&str>,
    now: i64,
) -> Result<bool, Failure> {
    let placeholders = (0..flows.len()).map(|i| format!("${}", i + 4));
    let sql = format!(
        "UPDATE flows SET status = $1, flow_message = COALESCE($2, flow_message) \
         WHERE status IN ('INIT', 'PART') AND deadline >= $3 AND flow_id IN ({}) AND ($1 = 'REJECT' \
         OR ($1 = 'ALL') = NOT EXISTS (SELECT 1 FROM flow_approvers a WHERE a.flow_id = flows.flow_id \
         AND a.status <> 'ACCEPT'))",
        placeholders.collect::<Vec<_>>().join(", ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to.as_str()).bind(message.map(str::to_owned)).bind(now);
    for flow_id in flows {
        q = q.bind(flow_id.as_str());
    }
    Ok(q.execute(&mut *conn).await?.rows_affected() == flows.len() as u64)
}
