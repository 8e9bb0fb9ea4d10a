//! The evidence trail as the database keeps it, read back for a report, and the reports made.
//! The trail itself is written by the operations it records, in their own transactions: links
//! (`create_sign_links`), codes (`issue_code`, `check_code`), signings and refusals
//! (`record_signing`, `record_rejection`).

use sqlx::Row;

use super::{Store, corrupt};
use crate::domain::ExternalId;
use crate::domain::evidence::{
    ActRecord, CodeEvent, CodeRecord, Creator, LinkIssued, Report, RevisionRecord, SignatureCertificate, Trail,
};
use crate::domain::flow::Flow;
use crate::domain::id::{FlowGroupId, FlowId, ReportId, SignId};
use crate::domain::link::SignerKey;
use crate::error::Failure;

impl Store {
    /// Everything the database knows of how `flow` came to be as it is, for a report.
    pub async fn evidence_trail(&self, app: &ExternalId, flow: Flow) -> Result<Trail, Failure> {
        let organization = ExternalId::from_stored(flow.organization_open_id.clone());
        let operator = ExternalId::from_stored(flow.operator_open_id.clone());
        let creator = Creator {
            app_id: app.as_str().to_owned(),
            organization_name: self.organization(app, &organization).await?.map(|o| o.name.as_str().to_owned()),
            operator_name: self
                .operator(app, &organization, &operator)
                .await?
                .and_then(|o| o.name)
                .map(|n| n.as_str().to_owned()),
            organization_open_id: flow.organization_open_id.clone(),
            operator_open_id: flow.operator_open_id.clone(),
        };
        let group = flow.group.as_ref().map(|(id, _)| id.as_str().to_owned());
        let links = sqlx::query(
            "SELECT token_sha256, flow_group_id, signer, preview, expires_at, created_at, issued_by FROM sign_links \
             WHERE app_id = $1 AND (flow_id = $2 OR flow_group_id = $3) ORDER BY created_at, token_sha256",
        )
        .bind(app.as_str())
        .bind(flow.flow_id.as_str())
        .bind(group.clone())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let signer: String = r.try_get("signer")?;
            Ok(LinkIssued {
                token_sha256: r.try_get("token_sha256")?,
                signer: SignerKey::decode(&signer).ok_or_else(|| corrupt("sign link signer", &signer))?,
                issued_by: r.try_get("issued_by")?,
                group: r.try_get::<Option<String>, _>("flow_group_id")?.map(FlowGroupId::from_stored),
                preview: r.try_get::<i64, _>("preview")? != 0,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
        let codes = sqlx::query(
            "SELECT e.token_sha256, e.event, e.mobile, e.at FROM sign_code_events e \
             JOIN sign_links l ON l.token_sha256 = e.token_sha256 \
             WHERE l.app_id = $1 AND (l.flow_id = $2 OR l.flow_group_id = $3) ORDER BY e.at, e.event_id",
        )
        .bind(app.as_str())
        .bind(flow.flow_id.as_str())
        .bind(group)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let event: String = r.try_get("event")?;
            Ok(CodeRecord {
                token_sha256: r.try_get("token_sha256")?,
                event: CodeEvent::parse(&event).ok_or_else(|| corrupt("code event", &event))?,
                mobile: r.try_get("mobile")?,
                at: r.try_get("at")?,
            })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
        let acts = sqlx::query(
            "SELECT sign_id, sign_door, sign_ip, sign_user_agent FROM flow_approvers \
             WHERE flow_id = $1 AND approve_time IS NOT NULL ORDER BY approve_time, sign_id",
        )
        .bind(flow.flow_id.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let door: Option<String> = r.try_get("sign_door")?;
            Ok(ActRecord {
                sign_id: SignId::from_stored(r.try_get("sign_id")?),
                door: door
                    .map(|d| crate::domain::evidence::Door::parse(&d).ok_or_else(|| corrupt("sign door", &d)))
                    .transpose()?,
                ip: r.try_get("sign_ip")?,
                user_agent: r.try_get("sign_user_agent")?,
            })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
        let mut revisions = Vec::new();
        if let Some(r) =
            sqlx::query("SELECT sha256, finished_at FROM flow_documents WHERE flow_id = $1 AND sha256 IS NOT NULL")
                .bind(flow.flow_id.as_str())
                .fetch_optional(&self.pool)
                .await?
        {
            let finished_ms: Option<i64> = r.try_get("finished_at")?;
            revisions.push(RevisionRecord {
                number: 0,
                sha256: r.try_get("sha256")?,
                sign_id: None,
                at: finished_ms.unwrap_or_default() / 1000,
                certificate: None,
            });
        }
        for r in sqlx::query(
            "SELECT revision, sha256, sign_id, created_at, cert_serial, cert_subject, cert_not_before, \
             cert_not_after, timestamp_at FROM flow_revisions WHERE flow_id = $1 ORDER BY revision",
        )
        .bind(flow.flow_id.as_str())
        .fetch_all(&self.pool)
        .await?
        {
            let serial: Option<String> = r.try_get("cert_serial")?;
            let certificate = match serial {
                Some(serial) => Some(SignatureCertificate {
                    serial,
                    subject: r.try_get::<Option<String>, _>("cert_subject")?.unwrap_or_default(),
                    not_before: r.try_get::<Option<i64>, _>("cert_not_before")?.unwrap_or_default(),
                    not_after: r.try_get::<Option<i64>, _>("cert_not_after")?.unwrap_or_default(),
                    timestamp_at: r.try_get("timestamp_at")?,
                }),
                None => None,
            };
            revisions.push(RevisionRecord {
                number: r.try_get("revision")?,
                sha256: r.try_get("sha256")?,
                sign_id: Some(SignId::from_stored(r.try_get("sign_id")?)),
                at: r.try_get("created_at")?,
                certificate,
            });
        }
        Ok(Trail { flow, creator, links, codes, acts, revisions })
    }

    /// Keeps a report made (its PDF already stored as a blob).
    pub async fn record_report(&self, app: &ExternalId, report: &Report) -> Result<(), Failure> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO evidence_reports (report_id, app_id, flow_id, sha256, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(report.report_id.as_str())
        .bind(app.as_str())
        .bind(report.flow_id.as_str())
        .bind(&report.sha256)
        .bind(report.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The report `id` of `app`, if it made one.
    pub async fn evidence_report(&self, app: &ExternalId, id: &ReportId) -> Result<Option<Report>, Failure> {
        let Some(r) = sqlx::query(
            "SELECT flow_id, sha256, created_at FROM evidence_reports WHERE app_id = $1 AND report_id = $2",
        )
        .bind(app.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        Ok(Some(Report {
            report_id: id.clone(),
            flow_id: FlowId::from_stored(r.try_get("flow_id")?),
            sha256: r.try_get("sha256")?,
            created_at: r.try_get("created_at")?,
        }))
    }
}
