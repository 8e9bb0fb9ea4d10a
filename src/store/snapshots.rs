//! Template snapshots: the immutable versions of templates that contracts are pinned to. A
//! template row names its current snapshot; a flow names the one it was made from. Both the
//! current template and a contract's template are read from a snapshot, in one row, so a
//! template is never seen half old and half new while `qianshu apply` rewrites it.

use std::sync::Arc;

use anyhow::anyhow;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Store, corrupt, now};
use crate::domain::ExternalId;
use crate::domain::flow::Flow;
use crate::domain::id::TemplateId;
use crate::domain::template::{Component, ComponentType, Placement, Recipient, RecipientType, SnapshotId, Template};
use crate::error::Failure;

type Conn = sqlx::AnyConnection;

/// The columns [`template_from_row`] reads; `created_at` is the caller's to choose.
pub(super) const SNAPSHOT_COLUMNS: &str =
    "s.snapshot_id, s.template_id, s.name, s.description, s.pdf_sha256, s.recipients, s.components";

impl Store {
    /// The template a contract is made from: the snapshot it was pinned to at creation, never
    /// what the template has become since. Everything that reads a contract's components or
    /// recipients after its creation (synthesis, `ChannelDescribeFlowComponents`, signing)
    /// reads them here.
    pub async fn flow_template(&self, app: &ExternalId, flow: &Flow) -> Result<Arc<Template>, Failure> {
        self.template_snapshot(app, &flow.template_snapshot).await?.ok_or_else(|| {
            Failure::Internal(anyhow!(
                "snapshot {} of template {} of flow {} vanished",
                flow.template_snapshot,
                flow.template_id.as_str(),
                flow.flow_id.as_str()
            ))
        })
    }

    /// One snapshot of the application's templates, or `None`. A snapshot never changes, so
    /// the read cache keeps it for as long as it has room.
    pub async fn template_snapshot(
        &self,
        app: &ExternalId,
        snapshot: &SnapshotId,
    ) -> Result<Option<Arc<Template>>, Failure> {
        let key = (app.clone(), snapshot.clone());
        if let Some(t) = self.cache.as_deref().and_then(|c| c.snapshots.get(&key)) {
            return Ok(Some(t));
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SNAPSHOT_COLUMNS}, s.created_at FROM template_snapshots s \
             WHERE s.app_id = $1 AND s.snapshot_id = $2"
        )))
        .bind(app.as_str())
        .bind(snapshot.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let template = Arc::new(template_from_row(&row)?);
        if let Some(c) = &self.cache {
            c.snapshots.insert(key, template.clone());
        }
        Ok(Some(template))
    }

    /// After the SQL migrations: makes snapshots of templates stored before snapshots existed
    /// (from their rows in `template_recipients` and `template_components`, then deleted), and
    /// pins each contract created before then to its template's snapshot. That is the template
    /// as it is now, the best that can be known. Does nothing once done.
    pub(super) async fn snapshot_older_templates(&self) -> anyhow::Result<()> {
        let mut tx = self.begin_write().await?;
        // dialect: PostgreSQL locks the rows so that a node starting at the same time waits and
        // then finds them done; SQLite's BEGIN IMMEDIATE already holds the only write lock.
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        let older: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT app_id, template_id FROM templates WHERE snapshot_id IS NULL ORDER BY app_id, template_id{lock}"
        )))
        .fetch_all(&mut *tx)
        .await?;
        for (app, template_id) in &older {
            let app = ExternalId::from_stored(app.clone());
            let template = older_template(&mut tx, &app, template_id).await?;
            let snapshot = put_snapshot(&mut tx, &app, &template).await?;
            sqlx::query("UPDATE templates SET snapshot_id = $3 WHERE app_id = $1 AND template_id = $2")
                .bind(app.as_str())
                .bind(template_id)
                .bind(snapshot.as_str())
                .execute(&mut *tx)
                .await?;
            for table in ["template_recipients", "template_components"] {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE app_id = $1 AND template_id = $2")))
                    .bind(app.as_str())
                    .bind(template_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let pinned = sqlx::query(
            "UPDATE flows SET template_snapshot = (SELECT t.snapshot_id FROM templates t \
             WHERE t.app_id = flows.app_id AND t.template_id = flows.template_id) \
             WHERE template_snapshot IS NULL",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        if !older.is_empty() || pinned > 0 {
            tracing::info!(
                "made snapshots of {} template(s) and pinned {pinned} contract(s) stored by an older version",
                older.len()
            );
        }
        Ok(())
    }
}

/// Stores `t` as a snapshot of `app`'s templates, unless that very definition is stored
/// already, and returns its id. Never changes a stored snapshot.
pub(super) async fn put_snapshot(conn: &mut Conn, app: &ExternalId, t: &Template) -> Result<SnapshotId, Failure> {
    let id = t.content_id();
    let recipients: Vec<Value> = t
        .recipients
        .iter()
        .map(|r| {
            json!({
                "recipient_id": r.recipient_id,
                "role_name": r.role_name,
                "recipient_type": r.recipient_type.as_str(),
                "routing_order": r.routing_order,
            })
        })
        .collect();
    // Coordinates are written as Rust prints them, the shortest text that parses back to the
    // same f64: serde_json's default number parsing can be one unit in the last place off.
    let components: Vec<Value> = t
        .components
        .iter()
        .map(|c| {
            let p = c.placement;
            json!({
                "component_id": c.component_id,
                "component_name": c.component_name,
                "component_type": c.component_type.as_str(),
                "recipient_id": c.recipient_id,
                "page": p.page,
                "x": p.x.to_string(),
                "y": p.y.to_string(),
                "width": p.width.to_string(),
                "height": p.height.to_string(),
                "required": c.required,
                "extra": c.extra,
            })
        })
        .collect();
    sqlx::query(
        "INSERT INTO template_snapshots (app_id, snapshot_id, template_id, name, description, pdf_sha256, \
         recipients, components, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (app_id, snapshot_id) DO NOTHING",
    )
    .bind(app.as_str())
    .bind(id.as_str())
    .bind(t.template_id.as_str())
    .bind(&t.name)
    .bind(&t.description)
    .bind(&t.pdf_sha256)
    .bind(Value::Array(recipients).to_string())
    .bind(Value::Array(components).to_string())
    .bind(now())
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// A template from [`SNAPSHOT_COLUMNS`] and a `created_at`.
pub(super) fn template_from_row(row: &AnyRow) -> Result<Template, Failure> {
    let snapshot: String = row.try_get("snapshot_id")?;
    let bad = |what: &str| corrupt("template snapshot", &format!("{snapshot}: {what}"));
    let list = |column: &str| -> Result<Vec<Value>, Failure> {
        match serde_json::from_str(&row.try_get::<String, _>(column)?) {
            Ok(Value::Array(items)) => Ok(items),
            _ => Err(bad(column)),
        }
    };
    let recipients = list("recipients")?
        .iter()
        .map(|r| {
            let kind = text(r, "recipient_type").ok_or_else(|| bad("recipient_type"))?;
            Ok(Recipient {
                recipient_id: text(r, "recipient_id").ok_or_else(|| bad("recipient_id"))?,
                role_name: text(r, "role_name").ok_or_else(|| bad("role_name"))?,
                recipient_type: RecipientType::parse(&kind, "recipient_type").map_err(|_| bad("recipient_type"))?,
                routing_order: r["routing_order"].as_i64().ok_or_else(|| bad("routing_order"))?,
            })
        })
        .collect::<Result<_, Failure>>()?;
    let components = list("components")?
        .iter()
        .map(|c| {
            let kind = text(c, "component_type").ok_or_else(|| bad("component_type"))?;
            let number = |key: &str| {
                text(c, key).and_then(|v| v.parse::<f64>().ok()).ok_or_else(|| bad(&format!("component {key}")))
            };
            let optional = |key: &str| match &c[key] {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s.clone())),
                _ => Err(bad(&format!("component {key}"))),
            };
            Ok(Component {
                component_id: text(c, "component_id").ok_or_else(|| bad("component_id"))?,
                component_name: text(c, "component_name").ok_or_else(|| bad("component_name"))?,
                component_type: ComponentType::parse(&kind, "component_type").map_err(|_| bad("component_type"))?,
                recipient_id: optional("recipient_id")?,
                placement: Placement {
                    page: c["page"].as_u64().and_then(|p| u32::try_from(p).ok()).ok_or_else(|| bad("page"))?,
                    x: number("x")?,
                    y: number("y")?,
                    width: number("width")?,
                    height: number("height")?,
                },
                required: c["required"].as_bool().ok_or_else(|| bad("required"))?,
                extra: optional("extra")?,
            })
        })
        .collect::<Result<_, Failure>>()?;
    Ok(Template {
        template_id: TemplateId::from_stored(row.try_get("template_id")?),
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        recipients,
        components,
        pdf_sha256: row.try_get("pdf_sha256")?,
        snapshot: SnapshotId::from_stored(snapshot.clone()),
        created_on: row.try_get("created_at")?,
    })
}

fn text(v: &Value, key: &str) -> Option<String> {
    v[key].as_str().map(str::to_owned)
}

/// A template as versions before snapshots stored it: a row per recipient and per component.
async fn older_template(conn: &mut Conn, app_id: &ExternalId, template_id: &str) -> Result<Template, Failure> {
    let row = sqlx::query(
        "SELECT template_id, name, description, pdf_sha256, created_at FROM templates WHERE app_id = $1 AND template_id = $2",
    )
    .bind(app_id.as_str())
    .bind(template_id)
    .fetch_one(&mut *conn)
    .await?;
    let recipients = sqlx::query(
        "SELECT recipient_id, role_name, recipient_type, routing_order FROM template_recipients \
         WHERE app_id = $1 AND template_id = $2 ORDER BY position",
    )
    .bind(app_id.as_str())
    .bind(template_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| -> Result<Recipient, Failure> {
        let kind: String = r.try_get("recipient_type")?;
        Ok(Recipient {
            recipient_id: r.try_get("recipient_id")?,
            role_name: r.try_get("role_name")?,
            recipient_type: RecipientType::parse(&kind, "recipient_type")
                .map_err(|_| corrupt("recipient type", &kind))?,
            routing_order: r.try_get("routing_order")?,
        })
    })
    .collect::<Result<_, _>>()?;
    let components = sqlx::query(
        "SELECT component_id, component_name, component_type, recipient_id, page, pos_x, pos_y, width, height, required, extra \
         FROM template_components WHERE app_id = $1 AND template_id = $2 ORDER BY position",
    )
    .bind(app_id.as_str())
    .bind(template_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| -> Result<Component, Failure> {
        let kind: String = r.try_get("component_type")?;
        Ok(Component {
            component_id: r.try_get("component_id")?,
            component_name: r.try_get("component_name")?,
            component_type: ComponentType::parse(&kind, "component_type").map_err(|_| corrupt("component type", &kind))?,
            recipient_id: r.try_get("recipient_id")?,
            placement: Placement {
                page: r.try_get::<i64, _>("page")? as u32,
                x: r.try_get("pos_x")?,
                y: r.try_get("pos_y")?,
                width: r.try_get("width")?,
                height: r.try_get("height")?,
            },
            required: r.try_get::<i64, _>("required")? != 0,
            extra: r.try_get("extra")?,
        })
    })
    .collect::<Result<_, _>>()?;
    let mut template = Template {
        template_id: TemplateId::from_stored(row.try_get("template_id")?),
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        recipients,
        components,
        pdf_sha256: row.try_get("pdf_sha256")?,
        snapshot: SnapshotId::default(),
        created_on: row.try_get("created_at")?,
    };
    template.snapshot = template.content_id();
    Ok(template)
}
