//! Contract groups, flows, approvers, filled values and the quota they cost.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::Row;
use sqlx::any::AnyRow;

use super::reviews::latest_review;
use super::{Backend, Store, corrupt, flag};
use crate::domain::flow::{ApproveStatus, Approver, Flow, FlowGroup, FlowOptions, FlowStatus, PageOptions, SignerKind};
use crate::domain::id::{FlowGroupId, FlowId, SignId, TaskId, TemplateId};
use crate::domain::review::{ReviewType, SignReview};
use crate::domain::template::SnapshotId;
use crate::domain::{ExternalId, IdCard, IdCardType};
use crate::error::{ApiError, Code, Failure};
use crate::store::documents::DocumentState;

/// One bound value of a multi-row insert.
pub(super) enum Val {
    Text(Option<String>),
    Int(i64),
}

impl From<&str> for Val {
    fn from(s: &str) -> Val {
        Val::Text(Some(s.to_owned()))
    }
}

impl From<Option<String>> for Val {
    fn from(s: Option<String>) -> Val {
        Val::Text(s)
    }
}

impl From<i64> for Val {
    fn from(i: i64) -> Val {
        Val::Int(i)
    }
}

/// One row of a multi-row insert: each value beside its column's name, so that a value can
/// never land in its neighbour's column.
pub(super) type NamedRow = Vec<(&'static str, Val)>;

macro_rules! row {
    ($($column:literal => $value:expr),* $(,)?) => {
        vec![$(($column, $crate::store::flows::Val::from($value))),*]
    };
}
pub(super) use row;

/// Most parameters one statement binds: under SQLite's 32766.
const MAX_PARAMETERS: usize = 10_000;

/// Inserts `rows` into `table`, in as few statements as the backend allows (see
/// [`insert_tables`]).
pub(super) async fn insert_rows(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    table: &str,
    rows: Vec<NamedRow>,
) -> Result<(), Failure> {
    insert_tables(conn, backend, vec![(table, rows)]).await
}

/// Each column's name, and whether its values are integers (else text).
type Columns = Vec<(&'static str, bool)>;

/// Inserts rows into several tables: on PostgreSQL in one statement, on SQLite in a statement or
/// a few per table; either way far fewer round trips than a statement per row. Each table's
/// columns are its first row's; a row naming other columns, or the same in another order, or a
/// value of another kind than the first row's, is refused. Tables without rows are left out.
pub(super) async fn insert_tables(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    tables: Vec<(&str, Vec<NamedRow>)>,
) -> Result<(), Failure> {
    let shaped = shape(tables)?;
    match backend {
        Backend::Sqlite => {
            for (table, columns, rows) in shaped {
                insert_values(conn, table, &columns, rows).await?;
            }
            Ok(())
        }
        Backend::Postgres => insert_unnest(conn, shaped).await,
    }
}

/// A table's name, columns and rows.
type Shaped<'a> = (&'a str, Columns, Vec<NamedRow>);

/// Each table with its columns, its first row's; fails on a row of another shape.
fn shape(tables: Vec<(&str, Vec<NamedRow>)>) -> Result<Vec<Shaped<'_>>, Failure> {
    let mut shaped = Vec::with_capacity(tables.len());
    for (table, rows) in tables {
        let Some(first) = rows.first() else { continue };
        let columns: Columns = first.iter().map(|(c, v)| (*c, matches!(v, Val::Int(_)))).collect();
        let same_shape = |r: &NamedRow| {
            r.len() == columns.len()
                && r.iter().zip(&columns).all(|((a, v), (b, int))| a == b && matches!(v, Val::Int(_)) == *int)
        };
        if let Some(odd) = rows.iter().find(|r| !same_shape(r)) {
            let odd: Vec<&str> = odd.iter().map(|(c, _)| *c).collect();
            let columns: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
            return Err(anyhow::anyhow!(
                "rows for {table} name columns {odd:?} (or values of other kinds), the first row {columns:?}"
            )
            .into());
        }
        shaped.push((table, columns, rows));
    }
    Ok(shaped)
}

/// SQLite: `INSERT … VALUES (…), (…)` with anonymous `?` parameters (SQLite looks each `$N` up
/// by name in a list, which is quadratic in the number of parameters).
async fn insert_values(
    conn: &mut sqlx::AnyConnection,
    table: &str,
    columns: &Columns,
    rows: Vec<NamedRow>,
) -> Result<(), Failure> {
    let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
    let row = format!("({})", vec!["?"; columns.len()].join(", "));
    let per_statement = (MAX_PARAMETERS / columns.len()).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<NamedRow> = rows.by_ref().take(per_statement).collect();
        let sql =
            format!("INSERT INTO {table} ({}) VALUES {}", names.join(", "), vec![row.as_str(); chunk.len()].join(", "));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (_, v) in chunk.into_iter().flatten() {
            q = match v {
                Val::Text(t) => q.bind(t),
                Val::Int(i) => q.bind(i),
            };
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// PostgreSQL: one statement for every table, each table's insert a data-modifying `WITH` item
/// (foreign keys are checked at the statement's end, when every row is in), each column bound
/// as one array and `UNNEST`ed. Its text depends only on the tables and columns, not on how many
/// rows there are, so each connection prepares and plans it once, where a `VALUES` list of
/// another length is a new statement every time (parsing and planning them was 18 % of a
/// batch's time in the server); and a batch of groups is one round trip instead of seven. The
/// arrays travel as text literals: the Any driver binds no arrays.
async fn insert_unnest(conn: &mut sqlx::AnyConnection, tables: Vec<Shaped<'_>>) -> Result<(), Failure> {
    let (mut inserts, arrays) = unnest_inserts(&tables, "");
    let Some(last) = inserts.pop() else { return Ok(()) };
    let sql = if inserts.is_empty() { last } else { format!("WITH {} {last}", named(&inserts).join(", ")) };
    bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), arrays).execute(&mut *conn).await?;
    Ok(())
}

/// PostgreSQL: `tables`' rows and the applications' quota `charged`, in one statement (see
/// [`insert_unnest`]): outside a transaction it is a transaction of its own, one round trip
/// for a whole batch of groups. The quota is charged after the inserts (the select list counts
/// their rows first), so that its rows stay locked only to the commit; they are locked in the
/// order of the applications' ids (`locked`, which a plain CTE would let the update skip), so
/// that two batches cannot deadlock. An application that would overdraw is charged NULL, which
/// its NOT NULL column refuses: the statement fails and writes nothing, and this answers false.
async fn insert_and_charge(
    conn: &mut sqlx::AnyConnection,
    tables: Vec<(&str, Vec<NamedRow>)>,
    charged: &BTreeMap<&str, i64>,
) -> Result<bool, Failure> {
    let (inserts, mut arrays) = unnest_inserts(&shape(tables)?, " RETURNING 1");
    let (apps, units) = (arrays.len() + 1, arrays.len() + 2);
    arrays.push(array_literal(&charged.keys().map(|app| Val::from(*app)).collect::<Vec<_>>()));
    arrays.push(array_literal(&charged.values().map(|n| Val::Int(*n)).collect::<Vec<_>>()));
    let mut items = named(&inserts);
    items.push(format!(
        "locked AS MATERIALIZED (SELECT app_id FROM applications WHERE app_id = ANY(${apps}::text[]) \
         ORDER BY app_id FOR NO KEY UPDATE)"
    ));
    items.push(format!(
        "charged AS (UPDATE applications a SET flow_quota_used = CASE WHEN a.flow_quota_used + c.units <= a.flow_quota \
         THEN a.flow_quota_used + c.units END FROM UNNEST(${apps}::text[], ${units}::bigint[]) AS c (app_id, units) \
         WHERE a.app_id = c.app_id AND a.app_id IN (SELECT app_id FROM locked) RETURNING 1)"
    ));
    let counts: Vec<String> = (0..inserts.len())
        .map(|i| format!("i{i}"))
        .chain(["charged".to_owned()])
        .map(|item| format!("(SELECT count(*) FROM {item})"))
        .collect();
    let sql = format!("WITH {} SELECT {}", items.join(", "), counts.join(", "));
    match bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), arrays).execute(&mut *conn).await {
        Ok(_) => Ok(true),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23502") && e.table() == Some("applications") => {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Each table's `INSERT … SELECT * FROM UNNEST(…)` followed by `returning`, and the arrays they
/// bind, numbered from `$1`.
fn unnest_inserts(tables: &[Shaped<'_>], returning: &str) -> (Vec<String>, Vec<String>) {
    let (mut inserts, mut arrays) = (Vec::with_capacity(tables.len()), Vec::new());
    for (table, columns, rows) in tables {
        let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
        let parameters: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(j, (_, int))| format!("${}::{}[]", arrays.len() + j + 1, if *int { "bigint" } else { "text" }))
            .collect();
        inserts.push(format!(
            "INSERT INTO {table} ({}) SELECT * FROM UNNEST({}){returning}",
            names.join(", "),
            parameters.join(", ")
        ));
        arrays.extend((0..columns.len()).map(|j| array_literal(rows.iter().map(|row| &row[j].1))));
    }
    (inserts, arrays)
}

/// The statements as `WITH` items: `i0 AS (…)`, `i1 AS (…)`, ….
fn named(statements: &[String]) -> Vec<String> {
    statements.iter().enumerate().map(|(i, statement)| format!("i{i} AS ({statement})")).collect()
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

fn bind_all(mut q: AnyQuery<'_>, arrays: Vec<String>) -> AnyQuery<'_> {
    for array in arrays {
        q = q.bind(array);
    }
    q
}

/// A PostgreSQL array literal of `values`: NULL bare, text quoted with `"` and `\` escaped.
fn array_literal<'a>(values: impl IntoIterator<Item = &'a Val>) -> String {
    let mut array = String::from("{");
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            array.push(',');
        }
        match value {
            Val::Int(n) => array.push_str(&n.to_string()),
            Val::Text(None) => array.push_str("NULL"),
            Val::Text(Some(text)) => {
                array.push('"');
                for c in text.chars() {
                    if c == '"' || c == '\\' {
                        array.push('\\');
                    }
                    array.push(c);
                }
                array.push('"');
            }
        }
    }
    array.push('}');
    array
}

/// When a batch of groups takes its quota. `Last`: counted from a read without locks and
/// charged after its rows are written (on PostgreSQL by the same statement, see
/// `insert_and_charge`), so that batches written at once overlap until then; on PostgreSQL
/// another batch may have used that quota meanwhile, and the batch is then written again
/// `UnderLock`: counted from the applications' rows locked first, which cannot be outdone.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Charge {
    Last,
    UnderLock,
}

pub(super) const FLOW_COLUMNS: &str = "f.flow_id, f.flow_group_id, g.name AS group_name, f.organization_open_id, f.operator_open_id, \
    f.template_id, f.template_snapshot, f.name, f.flow_type, f.description, f.customer_data, f.custom_show_map, \
    f.need_sign_review, f.display_type, f.status, f.flow_message, f.deadline, f.created_at, d.task_id";

/// Flows with their group's name and their document's task.
pub(super) const FLOW_TABLES: &str = "flows f LEFT JOIN flow_groups g ON g.flow_group_id = f.flow_group_id \
    LEFT JOIN flow_documents d ON d.flow_id = f.flow_id";

impl Store {
    /// Writes one planned group and charges one unit of quota per contract, in one transaction:
    /// without enough quota nothing is written.
    pub async fn create_flow_group(&self, g: &FlowGroup) -> Result<(), Failure> {
        let mut outcomes = self.create_flow_groups(std::slice::from_ref(g)).await?;
        outcomes.pop().expect("one outcome per group").map_err(Failure::from)
    }

    /// Writes several planned groups in one transaction (group commit). Each group is charged
    /// in turn and either fully written or, without enough quota, refused with
    /// `OperationDenied.NoQuota`; a database error writes none of them.
    pub async fn create_flow_groups(&self, groups: &[FlowGroup]) -> Result<Vec<Result<(), ApiError>>, Failure> {
        match self.write_flow_groups(groups, Charge::Last).await? {
            Some(outcomes) => Ok(outcomes),
            None => self
                .write_flow_groups(groups, Charge::UnderLock)
                .await?
                .ok_or_else(|| anyhow::anyhow!("a charge made under the applications' locks failed").into()),
        }
    }

    /// One attempt of `create_flow_groups`: `None` when, charging last, another transaction
    /// had used the quota this one counted on (nothing is written then).
    async fn write_flow_groups(
        &self,
        groups: &[FlowGroup],
        charge: Charge,
    ) -> Result<Option<Vec<Result<(), ApiError>>>, Failure> {
        // dialect: on PostgreSQL a batch charged last is two statements and no transaction:
        // the read, then `insert_and_charge`, which is a transaction of its own.
        if charge == Charge::Last && self.backend == Backend::Postgres {
            let mut conn = self.writer.acquire().await?;
            return self.write_batch(&mut conn, groups, charge).await;
        }
        let mut tx = self.begin_write().await?;
        let written = self.write_batch(&mut tx, groups, charge).await?;
        if written.is_some() {
            tx.commit().await?;
        }
        Ok(written)
    }

    /// Reads the quota the groups' applications have left, then writes and charges the groups
    /// it covers (see `write_flow_groups`).
    async fn write_batch(
        &self,
        conn: &mut sqlx::AnyConnection,
        groups: &[FlowGroup],
        charge: Charge,
    ) -> Result<Option<Vec<Result<(), ApiError>>>, Failure> {
        let mut apps: Vec<&str> = groups.iter().map(|g| g.app_id.as_str()).collect();
        apps.sort_unstable();
        apps.dedup();
        let placeholders: Vec<String> = (1..=apps.len()).map(|i| format!("${i}")).collect();
        // dialect: SQLite's BEGIN IMMEDIATE already holds the database's only write lock.
        // In order, so that two transactions locking the same rows cannot deadlock; and NO KEY,
        // the lock a charge takes, which does not wait for the key-share locks that another
        // batch's foreign-key checks hold on these rows until its own charge (FOR UPDATE would,
        // and that batch's charge would then wait behind this one: a deadlock).
        let lock = if charge == Charge::UnderLock && self.backend == Backend::Postgres {
            " ORDER BY app_id FOR NO KEY UPDATE"
        } else {
            ""
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT app_id, flow_quota - flow_quota_used AS left_units, \
             CASE WHEN callback_url IS NULL THEN 0 ELSE 1 END AS callbacks FROM applications WHERE app_id IN ({}){lock}",
            placeholders.join(", ")
        )));
        for a in &apps {
            q = q.bind(*a);
        }
        let (mut left, mut with_callbacks) = (HashMap::new(), HashSet::new());
        for r in q.fetch_all(&mut *conn).await? {
            let app: String = r.try_get("app_id")?;
            if r.try_get::<i64, _>("callbacks")? == 1 {
                with_callbacks.insert(app.clone());
            }
            left.insert(app, r.try_get::<i64, _>("left_units")?);
        }

        let mut outcomes = Vec::with_capacity(groups.len());
        let mut charged: BTreeMap<&str, i64> = BTreeMap::new();
        let mut accepted = Vec::with_capacity(groups.len());
        for g in groups {
            let app = g.app_id.as_str();
            let units = g.flows.len() as i64;
            let available = left.get_mut(app).ok_or_else(|| anyhow::anyhow!("application {app} vanished"))?;
            if *available < units {
                outcomes.push(Err(ApiError::new(
                    Code::OperationDenied_NoQuota,
                    format!("The group needs {units} contracts of quota; application {app} has {available} left."),
                )));
                continue;
            }
            *available -= units;
            *charged.entry(app).or_default() += units;
            accepted.push(g);
            outcomes.push(Ok(()));
        }
        if accepted.is_empty() {
            return Ok(Some(outcomes));
        }
        let tables = group_tables(&accepted, &with_callbacks);
        let written = match self.backend {
            Backend::Postgres => insert_and_charge(conn, tables, &charged).await?,
            Backend::Sqlite => {
                insert_tables(conn, self.backend, tables).await?;
                charge_each(conn, &charged).await?
            }
        };
        Ok(written.then_some(outcomes))
    }

    /// Quota units the application has left and has used; fails if the ledger does not explain the use.
    pub async fn quota_left(&self, app_id: &ExternalId) -> Result<(i64, i64), Failure> {
        // dialect: PostgreSQL sums BIGINT as NUMERIC, which the Any driver cannot read; hence the CAST.
        let row = sqlx::query(
            "SELECT a.flow_quota - a.flow_quota_used AS left_units, \
             (SELECT CAST(COALESCE(SUM(units), 0) AS BIGINT) FROM quota_ledger l WHERE l.app_id = a.app_id) AS ledger_units, \
             a.flow_quota_used AS used FROM applications a WHERE a.app_id = $1",
        )
        .bind(app_id.as_str())
        .fetch_one(&self.pool)
        .await?;
        let (used, ledger): (i64, i64) = (row.try_get("used")?, row.try_get("ledger_units")?);
        if used != ledger {
            return Err(anyhow::anyhow!("quota of {app_id}: {used} used but the ledger says {ledger}").into());
        }
        Ok((row.try_get("left_units")?, used))
    }

    /// A group created by `organization` of `app`: its name and flows in creation order.
    pub async fn flow_group(
        &self,
        app: &ExternalId,
        organization: &ExternalId,
        group: &FlowGroupId,
    ) -> Result<Option<(String, Vec<Flow>)>, Failure> {
        self.flow_group_created_by(app, Some(organization), group).await
    }

    /// A group of `app`, whichever organisation created it (for the signing doors).
    pub async fn app_flow_group(
        &self,
        app: &ExternalId,
        group: &FlowGroupId,
    ) -> Result<Option<(String, Vec<Flow>)>, Failure> {
        self.flow_group_created_by(app, None, group).await
    }

    async fn flow_group_created_by(
        &self,
        app: &ExternalId,
        organization: Option<&ExternalId>,
        group: &FlowGroupId,
    ) -> Result<Option<(String, Vec<Flow>)>, Failure> {
        let mut conn = self.pool.acquire().await?;
        let Some(name) = sqlx::query_scalar::<_, String>(
            "SELECT name FROM flow_groups WHERE flow_group_id = $1 AND app_id = $2 \
             AND ($3 IS NULL OR organization_open_id = $3)",
        )
        .bind(group.as_str())
        .bind(app.as_str())
        .bind(organization.map(|o| o.as_str().to_owned()))
        .fetch_optional(&mut *conn)
        .await?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FLOW_COLUMNS} FROM {FLOW_TABLES} WHERE f.flow_group_id = $1 ORDER BY f.position"
        )))
        .bind(group.as_str())
        .fetch_all(&mut *conn)
        .await?;
        let flows = load_flows(&mut conn, rows).await?;
        Ok(Some((name, flows)))
    }

    /// The flows among `ids` that `organization` of `app` created, in no particular order.
    pub async fn flows(
        &self,
        app: &ExternalId,
        organization: &ExternalId,
        ids: &[FlowId],
    ) -> Result<Vec<Flow>, Failure> {
        self.flows_created_by(app, Some(organization), ids).await
    }

    /// The flows among `ids` of `app`, whichever organisation created them: what the signing
    /// doors read, which act for signers rather than for an organisation.
    pub async fn app_flows(&self, app: &ExternalId, ids: &[FlowId]) -> Result<Vec<Flow>, Failure> {
        self.flows_created_by(app, None, ids).await
    }

    async fn flows_created_by(
        &self,
        app: &ExternalId,
        organization: Option<&ExternalId>,
        ids: &[FlowId],
    ) -> Result<Vec<Flow>, Failure> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.acquire().await?;
        let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT {FLOW_COLUMNS} FROM {FLOW_TABLES} \
             WHERE f.app_id = $1 AND ($2 IS NULL OR f.organization_open_id = $2) AND f.flow_id IN ({})",
            placeholders.join(", ")
        );
        let mut q =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(app.as_str()).bind(organization.map(|o| o.as_str().to_owned()));
        for id in ids {
            q = q.bind(id.as_str());
        }
        let rows = q.fetch_all(&mut *conn).await?;
        load_flows(&mut conn, rows).await
    }
}

/// The rows of `groups`, and the creation callbacks of those whose application is one of
/// `with_callbacks` (none when none is), by table.
fn group_tables(groups: &[&FlowGroup], with_callbacks: &HashSet<String>) -> Vec<(&'static str, Vec<NamedRow>)> {
    let (mut group_rows, mut flows, mut approvers, mut fields, mut ledger, mut documents) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for g in groups {
        let app = g.app_id.as_str();
        group_rows.push(row! {
            "flow_group_id" => g.flow_group_id.as_str(),
            "app_id" => app,
            "name" => g.name.as_str(),
            "organization_open_id" => g.organization_open_id.as_str(),
            "operator_open_id" => g.operator_open_id.as_str(),
            "created_at" => g.created_on,
        });
        for (i, f) in g.flows.iter().enumerate() {
            let id = f.flow_id.as_str();
            flows.push(row! {
                "flow_id" => id,
                "app_id" => app,
                "flow_group_id" => g.flow_group_id.as_str(),
                "position" => i as i64,
                "organization_open_id" => f.organization_open_id.as_str(),
                "operator_open_id" => f.operator_open_id.as_str(),
                "template_id" => f.template_id.as_str(),
                "template_snapshot" => f.template_snapshot.as_str(),
                "name" => f.name.as_str(),
                "flow_type" => f.options.flow_type.clone(),
                "description" => f.options.description.clone(),
                "customer_data" => f.options.customer_data.clone(),
                "custom_show_map" => f.options.custom_show_map.clone(),
                "need_sign_review" => flag(f.options.need_sign_review),
                "display_type" => f.options.display_type,
                "status" => f.status.as_str(),
                "deadline" => f.deadline,
                "created_at" => f.created_on,
            });
            for (j, a) in f.approvers.iter().enumerate() {
                approvers.push(row! {
                    "flow_id" => id,
                    "position" => j as i64,
                    "recipient_id" => a.recipient_id.as_str(),
                    "sign_id" => a.sign_id.as_str(),
                    "signer" => a.signer.as_str(),
                    "role_name" => a.role_name.as_str(),
                    "custom_role_name" => a.custom_role_name.clone(),
                    "organization_open_id" => a.organization_open_id.clone(),
                    "organization_name" => a.organization_name.clone(),
                    "open_id" => a.open_id.clone(),
                    "name" => a.name.clone(),
                    "mobile" => a.mobile.clone(),
                    "id_card_type" => a.id_card.as_ref().map(|c| c.kind.as_str().to_owned()),
                    "id_card_number" => a.id_card.as_ref().map(|c| c.number.clone()),
                    "routing_order" => a.routing_order,
                    "pre_read_seconds" => a.page.pre_read_seconds,
                    "need_sign_review" => flag(a.review.is_needed()),
                    "no_refuse" => flag(a.page.no_refuse),
                    "status" => a.status.as_str(),
                });
            }
            for (component_id, value) in &f.fields {
                fields
                    .push(row! { "flow_id" => id, "component_id" => component_id.as_str(), "value" => value.as_str() });
            }
            ledger.push(row! {
                "app_id" => app,
                "flow_id" => id,
                "kind" => "CHARGE",
                "units" => 1,
                "created_at" => g.created_on,
                "organization_open_id" => f.organization_open_id.as_str(),
            });
            documents.push(row! {
                "flow_id" => id,
                "app_id" => app,
                "task_id" => f.document_task.as_ref().map(|t| t.as_str().to_owned()),
                "state" => DocumentState::Pending.as_str(),
                "renders" => 0,
                "lease_until" => 0,
                "attempts" => 0,
            });
        }
    }
    let reported: Vec<&FlowGroup> =
        groups.iter().copied().filter(|g| with_callbacks.contains(g.app_id.as_str())).collect();
    vec![
        ("flow_groups", group_rows),
        ("flows", flows),
        ("flow_approvers", approvers),
        ("flow_fields", fields),
        ("quota_ledger", ledger),
        ("flow_documents", documents),
        ("callback_outbox", super::callbacks::creation_rows(&reported)),
    ]
}

/// SQLite: adds `charged` to the applications' used quota, one guarded statement each, unless
/// one of them would overdraw: false then (the caller drops the transaction, and every charge
/// with it).
async fn charge_each(conn: &mut sqlx::AnyConnection, charged: &BTreeMap<&str, i64>) -> Result<bool, Failure> {
    for (app, units) in charged {
        let updated = sqlx::query(
            "UPDATE applications SET flow_quota_used = flow_quota_used + $2 \
             WHERE app_id = $1 AND flow_quota_used + $2 <= flow_quota",
        )
        .bind(*app)
        .bind(*units)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if updated != 1 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Flows from their rows, with their approvers and filled values.
pub(super) async fn load_flows(conn: &mut sqlx::AnyConnection, rows: Vec<AnyRow>) -> Result<Vec<Flow>, Failure> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rows.iter().map(|r| r.try_get("flow_id")).collect::<Result<_, _>>()?;
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let bind_all = |sql: String| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in &ids {
            q = q.bind(id.clone());
        }
        q
    };
    let approver_rows = bind_all(format!(
        "SELECT flow_id, recipient_id, sign_id, signer, role_name, custom_role_name, organization_open_id, \
         organization_name, open_id, name, mobile, id_card_type, id_card_number, routing_order, pre_read_seconds, no_refuse, status, approve_time, \
         approve_message, need_sign_review, {} AS review_type, {} AS review_message FROM flow_approvers a \
         WHERE flow_id IN ({}) ORDER BY flow_id, position",
        latest_review("review_type", "a"),
        latest_review("review_message", "a"),
        placeholders.join(", ")
    ))
    .fetch_all(&mut *conn)
    .await?;
    let field_rows = bind_all(format!(
        "SELECT flow_id, component_id, value FROM flow_fields WHERE flow_id IN ({}) ORDER BY flow_id",
        placeholders.join(", ")
    ))
    .fetch_all(&mut *conn)
    .await?;

    let mut approvers: HashMap<String, Vec<Approver>> = HashMap::new();
    for r in approver_rows {
        let status: String = r.try_get("status")?;
        let signer: String = r.try_get("signer")?;
        let id_card = match (
            r.try_get::<Option<String>, _>("id_card_type")?,
            r.try_get::<Option<String>, _>("id_card_number")?,
        ) {
            (Some(kind), Some(number)) => Some(IdCard {
                kind: IdCardType::parse(&kind, "id_card_type").map_err(|_| corrupt("id card type", &kind))?,
                number,
            }),
            _ => None,
        };
        approvers.entry(r.try_get("flow_id")?).or_default().push(Approver {
            recipient_id: r.try_get("recipient_id")?,
            sign_id: SignId::from_stored(r.try_get("sign_id")?),
            signer: SignerKind::parse(&signer).ok_or_else(|| corrupt("signer", &signer))?,
            role_name: r.try_get("role_name")?,
            custom_role_name: r.try_get("custom_role_name")?,
            organization_open_id: r.try_get("organization_open_id")?,
            organization_name: r.try_get("organization_name")?,
            open_id: r.try_get("open_id")?,
            name: r.try_get("name")?,
            mobile: r.try_get("mobile")?,
            id_card,
            routing_order: r.try_get("routing_order")?,
            page: PageOptions {
                pre_read_seconds: r.try_get("pre_read_seconds")?,
                no_refuse: r.try_get::<i64, _>("no_refuse")? != 0,
            },
            status: ApproveStatus::parse(&status).ok_or_else(|| corrupt("approve status", &status))?,
            approve_time: r.try_get("approve_time")?,
            approve_message: r.try_get("approve_message")?,
            review: SignReview::from_stored(
                r.try_get::<i64, _>("need_sign_review")? != 0,
                match r.try_get::<Option<String>, _>("review_type")? {
                    Some(t) => Some((
                        ReviewType::from_stored(&t).ok_or_else(|| corrupt("review type", &t))?,
                        r.try_get("review_message")?,
                    )),
                    None => None,
                },
            ),
        });
    }
    let mut fields: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for r in field_rows {
        fields.entry(r.try_get("flow_id")?).or_default().push((r.try_get("component_id")?, r.try_get("value")?));
    }
    rows.into_iter()
        .map(|r| {
            let flow_id: String = r.try_get("flow_id")?;
            let status: String = r.try_get("status")?;
            let group = match r.try_get::<Option<String>, _>("flow_group_id")? {
                Some(id) => Some((FlowGroupId::from_stored(id), r.try_get("group_name")?)),
                None => None,
            };
            Ok(Flow {
                group,
                organization_open_id: r.try_get("organization_open_id")?,
                operator_open_id: r.try_get("operator_open_id")?,
                template_id: TemplateId::from_stored(r.try_get("template_id")?),
                // NULL only for a contract an older version wrote after this node started.
                template_snapshot: SnapshotId::from_stored(
                    r.try_get::<Option<String>, _>("template_snapshot")?
                        .ok_or_else(|| corrupt("template snapshot of flow", &flow_id))?,
                ),
                name: r.try_get("name")?,
                options: FlowOptions {
                    flow_type: r.try_get("flow_type")?,
                    description: r.try_get("description")?,
                    customer_data: r.try_get("customer_data")?,
                    custom_show_map: r.try_get("custom_show_map")?,
                    need_sign_review: r.try_get::<i64, _>("need_sign_review")? != 0,
                    display_type: r.try_get("display_type")?,
                },
                status: FlowStatus::parse(&status).ok_or_else(|| corrupt("flow status", &status))?,
                flow_message: r.try_get("flow_message")?,
                deadline: r.try_get("deadline")?,
                created_on: r.try_get("created_at")?,
                approvers: approvers.remove(&flow_id).unwrap_or_default(),
                fields: fields.remove(&flow_id).unwrap_or_default(),
                document_task: r.try_get::<Option<String>, _>("task_id")?.map(TaskId::from_stored),
                flow_id: FlowId::from_stored(flow_id),
            })
        })
        .collect()
}
