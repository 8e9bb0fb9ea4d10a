//! Applications, credentials, sub-organisations, operators and templates.

use std::collections::BTreeSet;
use std::sync::Arc;

use secrecy::SecretString;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::cache::through;
use super::sealed::{CALLBACK_KEY, CALLBACK_TOKEN, SECRET_KEY, SealedColumn};
use super::snapshots::{SNAPSHOT_COLUMNS, put_snapshot, template_from_row};
use super::{Store, flag};
use crate::domain::id::TemplateId;
use crate::domain::template::Template;
use crate::domain::tenancy::{
    Application, CallbackSettings, Feature, Operator, OperatorSync, Organization, OrganizationDetails,
    OrganizationName, Seal, SyncFailure, TenantApplication,
};
use crate::domain::{ExternalId, IdCard, IdCardType, Mobile, PersonName};
use crate::error::Failure;

type Conn = sqlx::AnyConnection;

/// A `DescribeTemplates` query.
#[derive(Debug, Clone, Default)]
pub struct TemplateQuery {
    /// Only these ids (no paging then); every one must exist.
    pub ids: Option<Vec<TemplateId>>,
    /// A part of the template name.
    pub name_contains: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

impl Store {
    /// The application a SecretId belongs to, and the key to check its signatures with.
    pub async fn credential(&self, secret_id: &str) -> Result<Option<(ExternalId, SecretString)>, Failure> {
        let cache = self.cache.as_deref().map(|c| &c.credentials);
        through(cache, secret_id.to_owned(), self.load_credential(secret_id)).await
    }

    pub async fn application(&self, app_id: &ExternalId) -> Result<Option<Application>, Failure> {
        through(self.cache.as_deref().map(|c| &c.applications), app_id.clone(), self.load_application(app_id)).await
    }

    pub async fn organization(
        &self,
        app_id: &ExternalId,
        open_id: &ExternalId,
    ) -> Result<Option<Organization>, Failure> {
        let key = (app_id.clone(), open_id.clone());
        through(self.cache.as_deref().map(|c| &c.organizations), key, self.load_organization(app_id, open_id)).await
    }

    pub async fn operator(
        &self,
        app_id: &ExternalId,
        organization: &ExternalId,
        open_id: &ExternalId,
    ) -> Result<Option<Operator>, Failure> {
        let key = (app_id.clone(), organization.clone(), open_id.clone());
        through(self.cache.as_deref().map(|c| &c.operators), key, self.load_operator(app_id, organization, open_id))
            .await
    }

    /// One template of the application, or `None`.
    pub async fn template(
        &self,
        app_id: &ExternalId,
        template_id: &TemplateId,
    ) -> Result<Option<Arc<Template>>, Failure> {
        let key = (app_id.clone(), template_id.clone());
        through(self.cache.as_deref().map(|c| &c.templates), key, self.load_template(app_id, template_id)).await
    }

    /// Has nothing been configured yet? (`serve --demo` loads the demo tenant then.)
    pub async fn has_no_application(&self) -> Result<bool, Failure> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM applications").fetch_one(&self.pool).await?;
        Ok(n == 0)
    }

    async fn load_credential(&self, secret_id: &str) -> Result<Option<(ExternalId, SecretString)>, Failure> {
        let row = sqlx::query("SELECT app_id, secret_key FROM application_secrets WHERE secret_id = $1")
            .bind(secret_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let key = self.open(SECRET_KEY.at(secret_id), r.try_get("secret_key")?)?;
            Ok((ExternalId::from_stored(r.try_get("app_id")?), key))
        })
        .transpose()
    }

    async fn load_application(&self, app_id: &ExternalId) -> Result<Option<Application>, Failure> {
        let Some(row) = sqlx::query(
            "SELECT app_id, flow_quota, callback_url, callback_aes_key, callback_token FROM applications WHERE app_id = $1",
        )
        .bind(app_id.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let features: Vec<String> = sqlx::query_scalar("SELECT feature FROM application_features WHERE app_id = $1")
            .bind(app_id.as_str())
            .fetch_all(&self.pool)
            .await?;
        let open = |column: &SealedColumn| {
            row.try_get::<Option<String>, _>(column.column)?
                .map(|v| self.open(column.at(app_id.as_str()), &v))
                .transpose()
        };
        let callback = match row.try_get::<Option<String>, _>("callback_url")? {
            Some(url) => Some(CallbackSettings { url, aes_key: open(&CALLBACK_KEY)?, token: open(&CALLBACK_TOKEN)? }),
            None => None,
        };
        Ok(Some(Application {
            app_id: ExternalId::from_stored(row.try_get("app_id")?),
            flow_quota: row.try_get("flow_quota")?,
            features: features.iter().filter_map(|f| Feature::parse(f)).collect::<BTreeSet<_>>(),
            callback,
        }))
    }

    async fn load_organization(
        &self,
        app_id: &ExternalId,
        open_id: &ExternalId,
    ) -> Result<Option<Organization>, Failure> {
        let row = sqlx::query(
            "SELECT open_id, name, verified, uniform_social_credit_code, legal_name, legal_id_card_number, address \
             FROM organizations WHERE app_id = $1 AND open_id = $2",
        )
        .bind(app_id.as_str())
        .bind(open_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(mut organization) = row.map(|r| organization_from_row(&r)).transpose()? else {
            return Ok(None);
        };
        organization.seals = self.seals(app_id, open_id).await?;
        Ok(Some(organization))
    }

    async fn seals(&self, app_id: &ExternalId, organization: &ExternalId) -> Result<Vec<Seal>, Failure> {
        sqlx::query(
            "SELECT seal_id, name, image_sha256 FROM organization_seals \
             WHERE app_id = $1 AND organization_open_id = $2 ORDER BY position, seal_id",
        )
        .bind(app_id.as_str())
        .bind(organization.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Seal {
                seal_id: ExternalId::from_stored(r.try_get("seal_id")?),
                name: r.try_get("name")?,
                image_sha256: r.try_get("image_sha256")?,
            })
        })
        .collect()
    }

    async fn load_operator(
        &self,
        app_id: &ExternalId,
        organization: &ExternalId,
        open_id: &ExternalId,
    ) -> Result<Option<Operator>, Failure> {
        let mut conn = self.pool.acquire().await?;
        operator(&mut conn, app_id, organization, open_id).await
    }

    /// `SyncProxyOrganization`: creates the sub-organisation unverified, or updates what it
    /// records; verification is never granted through the API.
    pub async fn sync_organization(
        &self,
        app_id: &ExternalId,
        open_id: &ExternalId,
        name: &OrganizationName,
        details: &OrganizationDetails,
    ) -> Result<(), Failure> {
        let mut tx = self.begin_write().await?;
        upsert_organization(&mut tx, app_id, open_id, name, details, None).await?;
        tx.commit().await?;
        if let Some(c) = &self.cache {
            c.organizations.invalidate(&(app_id.clone(), open_id.clone()));
        }
        Ok(())
    }

    /// `SyncProxyOrganizationOperators`: each operator succeeds or fails on its own.
    pub async fn sync_operators(
        &self,
        app_id: &ExternalId,
        organization: &ExternalId,
        kind: OperatorSync,
        operators: &[Operator],
    ) -> Result<Vec<SyncFailure>, Failure> {
        let mut tx = self.begin_write().await?;
        let mut failures = Vec::new();
        for op in operators {
            let existing = operator(&mut tx, app_id, organization, &op.open_id).await?;
            let fault = match (kind, &existing) {
                (OperatorSync::Create, Some(e)) if e.verified => {
                    Some("员工已实名，不能覆盖 (the operator is already verified)")
                }
                (OperatorSync::Update, None) => Some("员工不存在 (no such operator)"),
                (OperatorSync::Update, Some(e)) if e.verified => {
                    Some("员工已实名，仅支持修改未实名员工的信息 (only unverified operators can be updated)")
                }
                (OperatorSync::Resign, None) => Some("员工不存在 (no such operator)"),
                _ => None,
            };
            if let Some(message) = fault {
                failures.push(SyncFailure { id: op.open_id.to_string(), message: message.to_owned() });
                continue;
            }
            match kind {
                OperatorSync::Create | OperatorSync::Update => {
                    upsert_operator(&mut tx, app_id, organization, op, false).await?;
                }
                // A resigned operator's data is cleared and the OpenId can be given to someone else.
                OperatorSync::Resign => {
                    sqlx::query(
                        "DELETE FROM operators WHERE app_id = $1 AND organization_open_id = $2 AND open_id = $3",
                    )
                    .bind(app_id.as_str())
                    .bind(organization.as_str())
                    .bind(op.open_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        if let Some(c) = &self.cache {
            for op in operators {
                c.operators.invalidate(&(app_id.clone(), organization.clone(), op.open_id.clone()));
            }
        }
        Ok(failures)
    }

    /// `qianshu apply`: makes the database hold what the tenants file declares, in one
    /// transaction. Applying the same file twice changes nothing.
    pub async fn apply_tenants(&self, tenants: &[TenantApplication]) -> Result<(), Failure> {
        let mut tx = self.begin_write().await?;
        for t in tenants {
            let app = &t.application;
            let a = app.app_id.as_str();
            let existing = sqlx::query("SELECT callback_aes_key, callback_token FROM applications WHERE app_id = $1")
                .bind(a)
                .fetch_optional(&mut *tx)
                .await?;
            let stored = |column: &SealedColumn, value: Option<&SecretString>| -> Result<Option<String>, sqlx::Error> {
                let existing = match &existing {
                    Some(r) => r.try_get::<Option<String>, _>(column.column)?,
                    None => None,
                };
                Ok(value.map(|v| self.reseal(column.at(a), existing.as_deref(), v)))
            };
            let callback = app.callback.as_ref();
            sqlx::query(
                "INSERT INTO applications (app_id, flow_quota, callback_url, callback_aes_key, callback_token, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (app_id) DO UPDATE SET flow_quota = $2, \
                 callback_url = $3, callback_aes_key = $4, callback_token = $5",
            )
            .bind(a)
            .bind(app.flow_quota)
            .bind(callback.map(|c| c.url.clone()))
            .bind(stored(&CALLBACK_KEY, callback.and_then(|c| c.aes_key.as_ref()))?)
            .bind(stored(&CALLBACK_TOKEN, callback.and_then(|c| c.token.as_ref()))?)
            .bind(self.now())
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM application_features WHERE app_id = $1").bind(a).execute(&mut *tx).await?;
            for f in &app.features {
                sqlx::query("INSERT INTO application_features (app_id, feature) VALUES ($1, $2)")
                    .bind(a)
                    .bind(f.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            for c in &t.credentials {
                let existing: Option<(String, String)> =
                    sqlx::query_as("SELECT app_id, secret_key FROM application_secrets WHERE secret_id = $1")
                        .bind(&c.secret_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if existing.as_ref().is_some_and(|(owner, _)| owner != a) {
                    return Err(
                        anyhow::anyhow!("SecretId {} already belongs to another application", c.secret_id).into()
                    );
                }
                sqlx::query(
                    "INSERT INTO application_secrets (secret_id, app_id, secret_key) VALUES ($1, $2, $3) \
                     ON CONFLICT (secret_id) DO UPDATE SET secret_key = $3",
                )
                .bind(&c.secret_id)
                .bind(a)
                .bind(self.reseal(
                    SECRET_KEY.at(&c.secret_id),
                    existing.as_ref().map(|(_, key)| key.as_str()),
                    &c.secret_key,
                ))
                .execute(&mut *tx)
                .await?;
            }
            for (org, operators) in &t.organizations {
                upsert_organization(&mut tx, &app.app_id, &org.open_id, &org.name, &org.details, Some(org.verified))
                    .await?;
                put_seals(&mut tx, &app.app_id, org).await?;
                for op in operators {
                    upsert_operator(&mut tx, &app.app_id, &org.open_id, op, op.verified).await?;
                }
            }
            for tpl in &t.templates {
                put_template(&mut tx, &app.app_id, tpl).await?;
            }
        }
        tx.commit().await?;
        if let Some(c) = &self.cache {
            c.clear();
        }
        Ok(())
    }

    /// `DescribeTemplates`: a page of the application's templates, and how many match.
    pub async fn templates(&self, app_id: &ExternalId, q: &TemplateQuery) -> Result<(Vec<Template>, i64), Failure> {
        let mut conn = self.pool.acquire().await?;
        let (ids, total): (Vec<String>, Option<i64>) = match &q.ids {
            Some(ids) => (ids.iter().map(|id| id.as_str().to_owned()).collect(), None),
            None => {
                let pattern = q.name_contains.as_ref().map(|n| format!("%{}%", escape_like(n)));
                let page = sqlx::query_scalar(
                    "SELECT template_id FROM templates WHERE app_id = $1 AND ($2 IS NULL OR name LIKE $2 ESCAPE '\\') \
                     ORDER BY created_at DESC, template_id LIMIT $3 OFFSET $4",
                )
                .bind(app_id.as_str())
                .bind(pattern.clone())
                .bind(q.limit)
                .bind(q.offset)
                .fetch_all(&mut *conn)
                .await?;
                let total = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM templates WHERE app_id = $1 AND ($2 IS NULL OR name LIKE $2 ESCAPE '\\')",
                )
                .bind(app_id.as_str())
                .bind(pattern)
                .fetch_one(&mut *conn)
                .await?;
                (page, Some(total))
            }
        };
        let mut templates = Vec::with_capacity(ids.len());
        for id in ids {
            templates.extend(template(&mut conn, app_id, &id).await?);
        }
        // Asked for by id, the total is how many of them exist.
        let total = total.unwrap_or(templates.len() as i64);
        Ok((templates, total))
    }

    async fn load_template(
        &self,
        app_id: &ExternalId,
        template_id: &TemplateId,
    ) -> Result<Option<Arc<Template>>, Failure> {
        let mut conn = self.pool.acquire().await?;
        Ok(template(&mut conn, app_id, template_id.as_str()).await?.map(Arc::new))
    }
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

fn organization_from_row(r: &AnyRow) -> Result<Organization, Failure> {
    Ok(Organization {
        open_id: ExternalId::from_stored(r.try_get("open_id")?),
        name: OrganizationName::from_stored(r.try_get("name")?),
        verified: r.try_get::<i64, _>("verified")? != 0,
        details: OrganizationDetails {
            uniform_social_credit_code: r.try_get("uniform_social_credit_code")?,
            legal_name: r.try_get("legal_name")?,
            legal_id_card_number: r.try_get("legal_id_card_number")?,
            address: r.try_get("address")?,
        },
        seals: Vec::new(),
    })
}

/// Inserts or updates; `verified: None` keeps the current state (new ones start unverified).
async fn upsert_organization(
    conn: &mut Conn,
    app_id: &ExternalId,
    open_id: &ExternalId,
    name: &OrganizationName,
    d: &OrganizationDetails,
    verified: Option<bool>,
) -> Result<(), Failure> {
    sqlx::query(
        "INSERT INTO organizations (app_id, open_id, name, verified, uniform_social_credit_code, legal_name, \
         legal_id_card_number, address) VALUES ($1, $2, $3, COALESCE($4, 0), $5, $6, $7, $8) \
         ON CONFLICT (app_id, open_id) DO UPDATE SET name = $3, verified = COALESCE($4, organizations.verified), \
         uniform_social_credit_code = COALESCE($5, organizations.uniform_social_credit_code), \
         legal_name = COALESCE($6, organizations.legal_name), \
         legal_id_card_number = COALESCE($7, organizations.legal_id_card_number), \
         address = COALESCE($8, organizations.address)",
    )
    .bind(app_id.as_str())
    .bind(open_id.as_str())
    .bind(name.as_str())
    .bind(verified.map(flag))
    .bind(d.uniform_social_credit_code.clone())
    .bind(d.legal_name.clone())
    .bind(d.legal_id_card_number.clone())
    .bind(d.address.clone())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An organisation's seals as the tenants file lists them; seals it does not list stay, as
/// everything else `apply` does not name.
async fn put_seals(conn: &mut Conn, app_id: &ExternalId, org: &Organization) -> Result<(), Failure> {
    for (i, seal) in org.seals.iter().enumerate() {
        sqlx::query(
            "INSERT INTO organization_seals (app_id, organization_open_id, seal_id, name, image_sha256, position) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (app_id, organization_open_id, seal_id) \
             DO UPDATE SET name = $4, image_sha256 = $5, position = $6",
        )
        .bind(app_id.as_str())
        .bind(org.open_id.as_str())
        .bind(seal.seal_id.as_str())
        .bind(&seal.name)
        .bind(&seal.image_sha256)
        .bind(i as i64)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn upsert_operator(
    conn: &mut Conn,
    app_id: &ExternalId,
    organization: &ExternalId,
    op: &Operator,
    verified: bool,
) -> Result<(), Failure> {
    sqlx::query(
        "INSERT INTO operators (app_id, organization_open_id, open_id, name, mobile, id_card_type, id_card_number, \
         default_role, verified) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (app_id, organization_open_id, open_id) DO UPDATE SET name = $4, mobile = $5, id_card_type = $6, \
         id_card_number = $7, default_role = $8, verified = $9",
    )
    .bind(app_id.as_str())
    .bind(organization.as_str())
    .bind(op.open_id.as_str())
    .bind(op.name.as_ref().map(|n| n.as_str().to_owned()))
    .bind(op.mobile.as_ref().map(|m| m.as_str().to_owned()))
    .bind(op.id_card.as_ref().map(|c| c.kind.as_str()))
    .bind(op.id_card.as_ref().map(|c| c.number.clone()))
    .bind(op.default_role.clone())
    .bind(flag(verified))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn operator(
    conn: &mut Conn,
    app_id: &ExternalId,
    organization: &ExternalId,
    open_id: &ExternalId,
) -> Result<Option<Operator>, Failure> {
    let row = sqlx::query(
        "SELECT open_id, name, mobile, id_card_type, id_card_number, default_role, verified FROM operators \
         WHERE app_id = $1 AND organization_open_id = $2 AND open_id = $3",
    )
    .bind(app_id.as_str())
    .bind(organization.as_str())
    .bind(open_id.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let id_card = match r.try_get::<Option<String>, _>("id_card_number")? {
        Some(number) => Some(IdCard {
            kind: match r.try_get::<Option<String>, _>("id_card_type")?.as_deref() {
                Some("HONGKONG_AND_MACAO") => IdCardType::HongKongAndMacao,
                Some("HONGKONG_MACAO_AND_TAIWAN") => IdCardType::HongKongMacaoAndTaiwan,
                _ => IdCardType::IdCard,
            },
            number,
        }),
        None => None,
    };
    Ok(Some(Operator {
        open_id: ExternalId::from_stored(r.try_get("open_id")?),
        name: r.try_get::<Option<String>, _>("name")?.map(PersonName::from_stored),
        mobile: r.try_get::<Option<String>, _>("mobile")?.map(Mobile::from_stored),
        id_card,
        default_role: r.try_get("default_role")?,
        verified: r.try_get::<i64, _>("verified")? != 0,
    }))
}

/// Stores the template's definition as a snapshot (unless stored already) and makes it the
/// template's current version. Contracts made before keep the snapshot they were made from.
async fn put_template(conn: &mut Conn, app_id: &ExternalId, t: &Template) -> Result<(), Failure> {
    let snapshot = put_snapshot(conn, app_id, t).await?;
    sqlx::query(
        "INSERT INTO templates (app_id, template_id, name, description, pdf_sha256, snapshot_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (app_id, template_id) DO UPDATE SET name = $3, \
         description = $4, pdf_sha256 = $5, snapshot_id = $6",
    )
    .bind(app_id.as_str())
    .bind(t.template_id.as_str())
    .bind(&t.name)
    .bind(&t.description)
    .bind(&t.pdf_sha256)
    .bind(snapshot.as_str())
    .bind(t.created_on)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The template's current version, read from its snapshot in one statement: never half of one
/// version and half of the next, even while `qianshu apply` runs.
async fn template(conn: &mut Conn, app_id: &ExternalId, template_id: &str) -> Result<Option<Template>, Failure> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SNAPSHOT_COLUMNS}, t.created_at FROM templates t JOIN template_snapshots s \
         ON s.app_id = t.app_id AND s.snapshot_id = t.snapshot_id WHERE t.app_id = $1 AND t.template_id = $2"
    )))
    .bind(app_id.as_str())
    .bind(template_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| template_from_row(&r)).transpose()
}
