//! The callbacks' durable outbox. A message is written by the transaction that makes the change
//! it reports ([`enqueue`], or the group writer for creations), as it reads in that transaction,
//! and delivered at least once by whichever node claims it: messages of one stream (a
//! contract's, or a group's) in order and one at a time, each claimed only once every earlier
//! one of its stream was acknowledged; a claim is a lease under a random token, so a node whose
//! lease ran out cannot put back a message another node holds since.

use std::collections::HashMap;

use sqlx::Row;

use super::flows::{FLOW_COLUMNS, FLOW_TABLES, NamedRow, insert_rows, load_flows, row};
use super::lifecycle::CancelTaskFlow;
use super::{Backend, Store};
use crate::callbacks::message;
use crate::domain::ExternalId;
use crate::domain::callback::FlowEvent;
use crate::domain::flow::{Flow, FlowGroup};
use crate::domain::id::TaskId;
use crate::error::Failure;

type Conn = sqlx::AnyConnection;

/// A claimed message, held until its lease runs out by whoever has this value.
#[derive(Debug)]
pub struct ClaimedCallback {
    pub msg_id: String,
    pub app_id: ExternalId,
    /// The message as it read at the change, before encryption and signature.
    pub payload: String,
    /// Claims so far, this one included.
    pub attempts: i64,
    token: String,
}

fn flow_stream(flow_id: &str) -> String {
    format!("flow:{flow_id}")
}

fn group_stream(group_id: &str) -> String {
    format!("group:{group_id}")
}

fn new_msg_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// One message to write: its stream, type and payload.
struct Pending {
    app_id: String,
    stream: String,
    msg_id: String,
    msg_type: &'static str,
    payload: String,
}

fn outbox_row(p: Pending, seq: i64, now_ms: i64) -> NamedRow {
    row! {
        "msg_id" => p.msg_id.as_str(),
        "app_id" => p.app_id.as_str(),
        "stream" => p.stream.as_str(),
        "seq" => seq,
        "msg_type" => p.msg_type,
        "payload" => p.payload.as_str(),
        "state" => "PENDING",
        "due_at" => now_ms,
        "attempts" => 0,
        "created_at" => now_ms,
    }
}

/// Writes, in the caller's transaction, the callbacks that report `events`: a
/// `FlowStatusChange` per event, in the order given, then a `FlowGroupStatusChange` per group
/// the events touched. Call it after the changes are written (the messages read the contracts
/// as the transaction sees them then) and before committing; contracts of applications without
/// a CallbackUrl are skipped. For example, in a transaction that cancels contracts:
///
/// `callbacks::enqueue(&mut tx, self.backend, &cancelled.map(|f| FlowEvent::new(f, Operate::Cancel)), now).await?;`
///
/// `now` is business time (`Store::now()`), the messages' `OccurTime`.
pub(crate) async fn enqueue(conn: &mut Conn, backend: Backend, events: &[FlowEvent], now: i64) -> Result<(), Failure> {
    if events.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<&str> = events.iter().map(|e| e.flow_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT f.flow_id, f.app_id, f.flow_group_id FROM flows f JOIN applications a ON a.app_id = f.app_id \
         WHERE a.callback_url IS NOT NULL AND f.flow_id IN ({})",
        placeholders.join(", ")
    )));
    for id in &ids {
        q = q.bind(*id);
    }
    let mut apps: HashMap<String, String> = HashMap::new();
    let mut groups: Vec<String> = Vec::new();
    for r in q.fetch_all(&mut *conn).await? {
        apps.insert(r.try_get("flow_id")?, r.try_get("app_id")?);
        if let Some(g) = r.try_get::<Option<String>, _>("flow_group_id")?
            && !groups.contains(&g)
        {
            groups.push(g);
        }
    }
    if apps.is_empty() {
        return Ok(());
    }
    // The streams' numbers first: taking them locks each stream's row, so a transaction
    // reporting on the same group as another waits for it to commit and then reads the group
    // with the other's changes (two signers of different contracts of one group would otherwise
    // each read the other's contract unsigned, and neither tell the group complete).
    let mut counts: Vec<(String, i64)> = Vec::new();
    let streams = events
        .iter()
        .filter(|e| apps.contains_key(e.flow_id.as_str()))
        .map(|e| flow_stream(e.flow_id.as_str()))
        .chain(groups.iter().map(|g| group_stream(g)));
    for stream in streams {
        match counts.iter_mut().find(|(s, _)| *s == stream) {
            Some((_, n)) => *n += 1,
            None => counts.push((stream, 1)),
        }
    }
    let seqs = next_seqs(conn, counts).await?;

    // The contracts reported on and every contract of their groups, as this transaction sees them.
    let reported: Vec<&String> = apps.keys().collect();
    let flow_params: Vec<String> = (1..=reported.len()).map(|i| format!("${i}")).collect();
    let group_params: Vec<String> = (1..=groups.len()).map(|i| format!("${}", reported.len() + i)).collect();
    let group_clause =
        if groups.is_empty() { String::new() } else { format!(" OR f.flow_group_id IN ({})", group_params.join(", ")) };
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {FLOW_COLUMNS} FROM {FLOW_TABLES} WHERE f.flow_id IN ({}){group_clause} ORDER BY f.position",
        flow_params.join(", ")
    )));
    for id in &reported {
        q = q.bind(id.as_str());
    }
    for g in &groups {
        q = q.bind(g.as_str());
    }
    let rows = q.fetch_all(&mut *conn).await?;
    let flows = load_flows(conn, rows).await?;
    let by_id: HashMap<&str, &Flow> = flows.iter().map(|f| (f.flow_id.as_str(), f)).collect();

    let mut pending = Vec::new();
    for e in events {
        let (Some(app), Some(flow)) = (apps.get(e.flow_id.as_str()), by_id.get(e.flow_id.as_str())) else { continue };
        let msg_id = new_msg_id();
        let group = flow.group.as_ref().map(|(id, name)| (id, name.as_str()));
        pending.push(Pending {
            app_id: app.clone(),
            stream: flow_stream(e.flow_id.as_str()),
            payload: message::flow_status_change(&msg_id, app, group, flow, e.operate, e.approver.as_ref(), now),
            msg_id,
            msg_type: message::FLOW_STATUS_CHANGE,
        });
    }
    for g in &groups {
        let members: Vec<&Flow> =
            flows.iter().filter(|f| f.group.as_ref().is_some_and(|(id, _)| id.as_str() == g)).collect();
        let Some((group_id, name)) = members.first().and_then(|f| f.group.as_ref()) else { continue };
        let Some(app) = members.iter().find_map(|f| apps.get(f.flow_id.as_str())) else { continue };
        let msg_id = new_msg_id();
        pending.push(Pending {
            app_id: app.clone(),
            stream: group_stream(g),
            payload: message::flow_group_status_change(&msg_id, app, (group_id, name), &members, now),
            msg_id,
            msg_type: message::FLOW_GROUP_STATUS_CHANGE,
        });
    }
    let now_ms = super::now_ms();
    let mut given: HashMap<String, i64> = HashMap::new();
    let mut rows = Vec::with_capacity(pending.len());
    for p in pending {
        let first =
            *seqs.get(&p.stream).ok_or_else(|| anyhow::anyhow!("no sequence number was taken for {}", p.stream))?;
        let n = given.entry(p.stream.clone()).or_default();
        let seq = first + *n;
        *n += 1;
        rows.push(outbox_row(p, seq, now_ms));
    }
    insert_rows(conn, backend, "callback_outbox", rows).await
}

/// Writes, in the caller's transaction, the `CancelFlows` callback of a batch cancel
/// (`ChannelBatchCancelFlows`): what `DescribeCancelFlowsTask` answers for its `TaskId`, once
/// every contract was tried. The contracts' own `FlowStatusChange`s were written by each cancel.
pub(crate) async fn enqueue_cancel_task(
    conn: &mut Conn,
    backend: Backend,
    app: &ExternalId,
    organization: &ExternalId,
    task: &TaskId,
    flows: &[CancelTaskFlow],
    now: i64,
) -> Result<(), Failure> {
    let with_callback: Option<String> =
        sqlx::query_scalar("SELECT app_id FROM applications WHERE app_id = $1 AND callback_url IS NOT NULL")
            .bind(app.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    if with_callback.is_none() {
        return Ok(());
    }
    let stream = format!("task:{task}");
    let seqs = next_seqs(conn, vec![(stream.clone(), 1)]).await?;
    let seq = *seqs.get(&stream).ok_or_else(|| anyhow::anyhow!("no sequence number was taken for {stream}"))?;
    let msg_id = new_msg_id();
    let payload = message::cancel_flows(&msg_id, app.as_str(), organization.as_str(), task, flows, now);
    let row = outbox_row(
        Pending { app_id: app.to_string(), stream, msg_id, msg_type: message::CANCEL_FLOWS, payload },
        seq,
        super::now_ms(),
    );
    insert_rows(conn, backend, "callback_outbox", vec![row]).await
}

/// The first of the `seq`s given to each of `counts`' streams, as many as it counts. One upsert
/// for all streams, in a fixed order so that two transactions wait for each other rather than
/// deadlock; the row lock serialises reporters of one stream until they commit.
async fn next_seqs(conn: &mut Conn, mut counts: Vec<(String, i64)>) -> Result<HashMap<String, i64>, Failure> {
    counts.sort_unstable();
    if counts.is_empty() {
        return Ok(HashMap::new());
    }
    let values: Vec<String> = (0..counts.len()).map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2)).collect();
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO callback_streams (stream, seq) VALUES {} \
         ON CONFLICT (stream) DO UPDATE SET seq = callback_streams.seq + excluded.seq RETURNING stream, seq",
        values.join(", ")
    )));
    for (stream, n) in &counts {
        q = q.bind(stream.as_str()).bind(*n);
    }
    let count: HashMap<&str, i64> = counts.iter().map(|(s, n)| (s.as_str(), *n)).collect();
    let mut seqs = HashMap::new();
    for r in q.fetch_all(&mut *conn).await? {
        let stream: String = r.try_get("stream")?;
        let last: i64 = r.try_get("seq")?;
        let n = count.get(stream.as_str()).copied().unwrap_or(1);
        seqs.insert(stream, last - n + 1);
    }
    Ok(seqs)
}

/// The creation callbacks of `groups` (a `start` per contract and one message per group, `seq`
/// 0 of their new streams), as rows for the group writer's one multi-row insert.
pub(super) fn creation_rows(groups: &[&FlowGroup]) -> Vec<NamedRow> {
    let now_ms = super::now_ms();
    let mut rows = Vec::new();
    for g in groups {
        let app = g.app_id.as_str();
        let group = (&g.flow_group_id, g.name.as_str());
        for f in &g.flows {
            let msg_id = new_msg_id();
            let payload = message::flow_status_change(
                &msg_id,
                app,
                Some(group),
                f,
                crate::domain::callback::Operate::Start,
                None,
                g.created_on,
            );
            let p = Pending {
                app_id: app.to_owned(),
                stream: flow_stream(f.flow_id.as_str()),
                msg_id,
                msg_type: message::FLOW_STATUS_CHANGE,
                payload,
            };
            rows.push(outbox_row(p, 0, now_ms));
        }
        let members: Vec<&Flow> = g.flows.iter().collect();
        let msg_id = new_msg_id();
        let payload = message::flow_group_status_change(&msg_id, app, group, &members, g.created_on);
        let p = Pending {
            app_id: app.to_owned(),
            stream: group_stream(g.flow_group_id.as_str()),
            msg_id,
            msg_type: message::FLOW_GROUP_STATUS_CHANGE,
            payload,
        };
        rows.push(outbox_row(p, 0, now_ms));
    }
    rows
}

impl Store {
    /// Leases up to `limit` messages due now (wall clock), each the first undelivered one of its
    /// stream, until `lease_ms` from now.
    pub async fn claim_callbacks(&self, limit: i64, lease_ms: i64) -> Result<Vec<ClaimedCallback>, Failure> {
        let now = super::now_ms();
        // Most rounds find nothing: a read first keeps them off the write lock.
        let due: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM callback_outbox WHERE state = 'PENDING' AND due_at <= $1 LIMIT 1")
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let token = self.new_lease_token();
        // dialect: PostgreSQL nodes skip rows another node is claiming; SQLite's one writer
        // serialises claims already.
        let skip_locked = if self.backend == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE callback_outbox SET due_at = $1, lease_token = $2, attempts = attempts + 1 WHERE msg_id IN \
             (SELECT o.msg_id FROM callback_outbox o WHERE o.state = 'PENDING' AND o.due_at <= $3 \
              AND NOT EXISTS (SELECT 1 FROM callback_outbox p WHERE p.stream = o.stream AND p.state = 'PENDING' \
                  AND p.seq < o.seq) \
              ORDER BY o.due_at LIMIT $4{skip_locked}) \
             RETURNING msg_id, app_id, payload, attempts"
        )))
        .bind(now + lease_ms)
        .bind(&token)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(ClaimedCallback {
                    msg_id: r.try_get("msg_id")?,
                    app_id: ExternalId::from_stored(r.try_get("app_id")?),
                    payload: r.try_get("payload")?,
                    attempts: r.try_get("attempts")?,
                    token: token.clone(),
                })
            })
            .collect()
    }

    /// Records that the receiver answered HTTP 200: the next message of the stream may go.
    pub async fn callback_delivered(&self, claim: &ClaimedCallback) -> Result<(), Failure> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE callback_outbox SET state = 'DELIVERED', delivered_at = $1, lease_token = NULL, last_error = NULL \
             WHERE msg_id = $2 AND state = 'PENDING'",
        )
        .bind(super::now_ms())
        .bind(&claim.msg_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Puts a message whose delivery failed back, due again in `retry_after_ms`, if the lease is
    /// still the caller's; `error` says why, for whoever looks at the outbox.
    pub async fn retry_callback(
        &self,
        claim: &ClaimedCallback,
        retry_after_ms: i64,
        error: &str,
    ) -> Result<(), Failure> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE callback_outbox SET due_at = $1, lease_token = NULL, last_error = $2 \
             WHERE msg_id = $3 AND lease_token = $4 AND state = 'PENDING'",
        )
        .bind(super::now_ms() + retry_after_ms)
        .bind(error)
        .bind(&claim.msg_id)
        .bind(&claim.token)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many messages of `app` are not delivered yet.
    pub async fn undelivered_callbacks(&self, app: &ExternalId) -> Result<i64, Failure> {
        Ok(sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM callback_outbox WHERE app_id = $1 AND state = 'PENDING'",
        )
        .bind(app.as_str())
        .fetch_one(&self.pool)
        .await?)
    }
}
