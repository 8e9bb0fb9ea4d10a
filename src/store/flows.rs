//! Contract groups, flows, approvers, filled values and the quota they cost.

use std::collections::HashMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Store, corrupt, flag};
use crate::domain::flow::{ApproveStatus, Approver, Flow, FlowGroup, FlowOptions, FlowStatus, SignerKind};
use crate::domain::template::ResourceId;
use crate::domain::{ExternalId, IdCard, IdCardType};
use crate::error::{ApiError, Code, Failure};
use crate::store::documents::DocumentState;

/// One bound value of a multi-row insert.
enum Val {
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

/// Most parameters one statement binds: under SQLite's 32766 and PostgreSQL's 65535.
const MAX_PARAMETERS: usize = 10_000;

/// `INSERT INTO table (columns) VALUES (…), (…)`: as few statements as the parameter limits
/// allow, far fewer round trips than a statement per row.
async fn insert_rows(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Val>>,
) -> Result<(), sqlx::Error> {
    let per_statement = (MAX_PARAMETERS / columns.len()).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Val>> = rows.by_ref().take(per_statement).collect();
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut n = 0;
        for (i, row) in chunk.iter().enumerate() {
            debug_assert_eq!(row.len(), columns.len());
            sql.push_str(if i == 0 { "(" } else { ", (" });
            for j in 0..row.len() {
                n += 1;
                if j > 0 {
                    sql.push_str(", ");
                }
                // dialect: SQLite looks each `$N` up by name in a list, which is quadratic in
                // the number of parameters; anonymous `?` are bound by position.
                match backend {
                    Backend::Sqlite => sql.push('?'),
                    Backend::Postgres => {
                        sql.push('$');
                        sql.push_str(&n.to_string());
                    }
                }
            }
            sql.push(')');
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in chunk.into_iter().flatten() {
            q = match v {
                Val::Text(t) => q.bind(t),
                Val::Int(i) => q.bind(i),
            };
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

const FLOW_COLUMNS: &str = "f.flow_id, f.flow_group_id, g.name AS group_name, f.organization_open_id, f.operator_open_id, \
    f.template_id, f.name, f.flow_type, f.description, f.customer_data, f.custom_show_map, f.need_sign_review, \
    f.display_type, f.status, f.deadline, f.created_at, d.task_id";

/// Flows with their group's name and their document's task.
const FLOW_TABLES: &str = "flows f LEFT JOIN flow_groups g ON g.flow_group_id = f.flow_group_id \
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
        let mut tx = self.begin_write().await?;
        let mut apps: Vec<&str> = groups.iter().map(|g| g.app_id.as_str()).collect();
        apps.sort_unstable();
        apps.dedup();
        let placeholders: Vec<String> = (1..=apps.len()).map(|i| format!("${i}")).collect();
        // dialect: PostgreSQL locks the rows against other nodes; SQLite's BEGIN IMMEDIATE
        // already holds the database's only write lock.
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT app_id, flow_quota - flow_quota_used AS left_units FROM applications WHERE app_id IN ({}){lock}",
            placeholders.join(", ")
        )));
        for a in &apps {
            q = q.bind(*a);
        }
        let mut left: HashMap<String, i64> =
            q.fetch_all(&mut *tx).await?.iter().map(|r| (r.get("app_id"), r.get("left_units"))).collect();

        let mut outcomes = Vec::with_capacity(groups.len());
        let mut charged: HashMap<&str, i64> = HashMap::new();
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
        for (app, units) in charged {
            let updated = sqlx::query(
                "UPDATE applications SET flow_quota_used = flow_quota_used + $2 \
                 WHERE app_id = $1 AND flow_quota_used + $2 <= flow_quota",
            )
            .bind(app)
            .bind(units)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated != 1 {
                return Err(anyhow::anyhow!("charging {units} contracts to {app} would overdraw its quota").into());
            }
        }
        self.insert_groups(&mut tx, &accepted).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn insert_groups(&self, conn: &mut sqlx::AnyConnection, groups: &[&FlowGroup]) -> Result<(), sqlx::Error> {
        let (mut group_rows, mut flows, mut approvers, mut fields, mut ledger) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut documents = Vec::new();
        for g in groups {
            let app = g.app_id.as_str();
            group_rows.push(vec![
                g.flow_group_id.as_str().into(),
                app.into(),
                g.name.as_str().into(),
                g.organization_open_id.as_str().into(),
                g.operator_open_id.as_str().into(),
                g.created_on.into(),
            ]);
            for (i, f) in g.flows.iter().enumerate() {
                let id = f.flow_id.as_str();
                flows.push(vec![
                    id.into(),
                    app.into(),
                    g.flow_group_id.as_str().into(),
                    (i as i64).into(),
                    f.organization_open_id.as_str().into(),
                    f.operator_open_id.as_str().into(),
                    f.template_id.as_str().into(),
                    f.name.as_str().into(),
                    f.options.flow_type.clone().into(),
                    f.options.description.clone().into(),
                    f.options.customer_data.clone().into(),
                    f.options.custom_show_map.clone().into(),
                    flag(f.options.need_sign_review).into(),
                    f.options.display_type.into(),
                    f.status.as_str().into(),
                    f.deadline.into(),
                    f.created_on.into(),
                ]);
                for (j, a) in f.approvers.iter().enumerate() {
                    approvers.push(vec![
                        id.into(),
                        (j as i64).into(),
                        a.recipient_id.as_str().into(),
                        a.sign_id.as_str().into(),
                        a.signer.as_str().into(),
                        a.role_name.as_str().into(),
                        a.custom_role_name.clone().into(),
                        a.organization_open_id.clone().into(),
                        a.organization_name.clone().into(),
                        a.open_id.clone().into(),
                        a.name.clone().into(),
                        a.mobile.clone().into(),
                        a.id_card.as_ref().map(|c| c.kind.as_str().to_owned()).into(),
                        a.id_card.as_ref().map(|c| c.number.clone()).into(),
                        a.status.as_str().into(),
                    ]);
                }
                for (component_id, value) in &f.fields {
                    fields.push(vec![id.into(), component_id.as_str().into(), value.as_str().into()]);
                }
                ledger.push(vec![app.into(), id.into(), "CHARGE".into(), 1.into(), g.created_on.into()]);
                documents.push(vec![
                    id.into(),
                    app.into(),
                    f.document_task.as_ref().map(|t| t.as_str().to_owned()).into(),
                    DocumentState::Pending.as_str().into(),
                    0.into(),
                    0.into(),
                    0.into(),
                ]);
            }
        }
        let b = self.backend;
        insert_rows(
            conn,
            b,
            "flow_groups",
            &["flow_group_id", "app_id", "name", "organization_open_id", "operator_open_id", "created_at"],
            group_rows,
        )
        .await?;
        insert_rows(
            conn,
            b,
            "flows",
            &[
                "flow_id",
                "app_id",
                "flow_group_id",
                "position",
                "organization_open_id",
                "operator_open_id",
                "template_id",
                "name",
                "flow_type",
                "description",
                "customer_data",
                "custom_show_map",
                "need_sign_review",
                "display_type",
                "status",
                "deadline",
                "created_at",
            ],
            flows,
        )
        .await?;
        insert_rows(
            conn,
            b,
            "flow_approvers",
            &[
                "flow_id",
                "position",
                "recipient_id",
                "sign_id",
                "signer",
                "role_name",
                "custom_role_name",
                "organization_open_id",
                "organization_name",
                "open_id",
                "name",
                "mobile",
                "id_card_type",
                "id_card_number",
                "status",
            ],
            approvers,
        )
        .await?;
        insert_rows(conn, b, "flow_fields", &["flow_id", "component_id", "value"], fields).await?;
        insert_rows(conn, b, "quota_ledger", &["app_id", "flow_id", "kind", "units", "created_at"], ledger).await?;
        let document_columns = ["flow_id", "app_id", "task_id", "state", "renders", "lease_until", "attempts"];
        insert_rows(conn, b, "flow_documents", &document_columns, documents).await?;
        Ok(())
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
        let (used, ledger): (i64, i64) = (row.get("used"), row.get("ledger_units"));
        if used != ledger {
            return Err(anyhow::anyhow!("quota of {app_id}: {used} used but the ledger says {ledger}").into());
        }
        Ok((row.get("left_units"), used))
    }

    /// A group created by `organization` of `app`: its name and flows in creation order.
    pub async fn flow_group(
        &self,
        app: &ExternalId,
        organization: &ExternalId,
        group: &ResourceId,
    ) -> Result<Option<(String, Vec<Flow>)>, Failure> {
        let mut conn = self.pool.acquire().await?;
        let Some(name) = sqlx::query_scalar::<_, String>(
            "SELECT name FROM flow_groups WHERE flow_group_id = $1 AND app_id = $2 AND organization_open_id = $3",
        )
        .bind(group.as_str())
        .bind(app.as_str())
        .bind(organization.as_str())
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
        ids: &[ResourceId],
    ) -> Result<Vec<Flow>, Failure> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.acquire().await?;
        let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT {FLOW_COLUMNS} FROM {FLOW_TABLES} \
             WHERE f.app_id = $1 AND f.organization_open_id = $2 AND f.flow_id IN ({})",
            placeholders.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(app.as_str()).bind(organization.as_str());
        for id in ids {
            q = q.bind(id.as_str());
        }
        let rows = q.fetch_all(&mut *conn).await?;
        load_flows(&mut conn, rows).await
    }
}

/// Flows from their rows, with their approvers and filled values.
async fn load_flows(conn: &mut sqlx::AnyConnection, rows: Vec<AnyRow>) -> Result<Vec<Flow>, Failure> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rows.iter().map(|r| r.get("flow_id")).collect();
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
         organization_name, open_id, name, mobile, id_card_type, id_card_number, status FROM flow_approvers \
         WHERE flow_id IN ({}) ORDER BY flow_id, position",
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
        let status: String = r.get("status");
        let signer: String = r.get("signer");
        let id_card = match (r.get::<Option<String>, _>("id_card_type"), r.get::<Option<String>, _>("id_card_number")) {
            (Some(kind), Some(number)) => Some(IdCard {
                kind: IdCardType::parse(&kind, "id_card_type").map_err(|_| corrupt("id card type", &kind))?,
                number,
            }),
            _ => None,
        };
        approvers.entry(r.get("flow_id")).or_default().push(Approver {
            recipient_id: r.get("recipient_id"),
            sign_id: ResourceId::from_stored(r.get("sign_id")),
            signer: SignerKind::parse(&signer).ok_or_else(|| corrupt("signer", &signer))?,
            role_name: r.get("role_name"),
            custom_role_name: r.get("custom_role_name"),
            organization_open_id: r.get("organization_open_id"),
            organization_name: r.get("organization_name"),
            open_id: r.get("open_id"),
            name: r.get("name"),
            mobile: r.get("mobile"),
            id_card,
            status: ApproveStatus::parse(&status).ok_or_else(|| corrupt("approve status", &status))?,
        });
    }
    let mut fields: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for r in field_rows {
        fields.entry(r.get("flow_id")).or_default().push((r.get("component_id"), r.get("value")));
    }
    rows.into_iter()
        .map(|r| {
            let flow_id: String = r.get("flow_id");
            let status: String = r.get("status");
            let group = r
                .get::<Option<String>, _>("flow_group_id")
                .map(|id| (ResourceId::from_stored(id), r.get("group_name")));
            Ok(Flow {
                group,
                organization_open_id: r.get("organization_open_id"),
                operator_open_id: r.get("operator_open_id"),
                template_id: ResourceId::from_stored(r.get("template_id")),
                name: r.get("name"),
                options: FlowOptions {
                    flow_type: r.get("flow_type"),
                    description: r.get("description"),
                    customer_data: r.get("customer_data"),
                    custom_show_map: r.get("custom_show_map"),
                    need_sign_review: r.get::<i64, _>("need_sign_review") != 0,
                    display_type: r.get("display_type"),
                },
                status: FlowStatus::parse(&status).ok_or_else(|| corrupt("flow status", &status))?,
                deadline: r.get("deadline"),
                created_on: r.get("created_at"),
                approvers: approvers.remove(&flow_id).unwrap_or_default(),
                fields: fields.remove(&flow_id).unwrap_or_default(),
                document_task: r.get::<Option<String>, _>("task_id").map(ResourceId::from_stored),
                flow_id: ResourceId::from_stored(flow_id),
            })
        })
        .collect()
}
