//! Sign links: written in one transaction per call, found by the SHA-256 of their token.

use sqlx::Row;

use super::flows::{insert_rows, row};
use super::{Store, corrupt, flag};
use crate::domain::ExternalId;
use crate::domain::id::{FlowGroupId, FlowId};
use crate::domain::link::{LinkTarget, LinkToken, NewSignLink, SignLink, SignerKey};
use crate::error::Failure;

impl Store {
    /// Writes every link of one call, all or none, with the action that issued them.
    pub async fn create_sign_links(&self, links: &[NewSignLink], issued_by: &str) -> Result<(), Failure> {
        let rows = links
            .iter()
            .map(|l| {
                let (group, flow) = match &l.target {
                    LinkTarget::Group(g) => (Some(g.as_str().to_owned()), None),
                    LinkTarget::Flow(f) => (None, Some(f.as_str().to_owned())),
                };
                row! {
                    "token_sha256" => l.token.digest().as_str(),
                    "app_id" => l.app_id.as_str(),
                    "flow_group_id" => group,
                    "flow_id" => flow,
                    "signer" => l.signer.encode().as_str(),
                    "preview" => flag(l.preview),
                    "expires_at" => l.expires_at,
                    "created_at" => l.created_at,
                    "issued_by" => issued_by,
                }
            })
            .collect();
        let mut tx = self.begin_write().await?;
        insert_rows(&mut tx, self.backend, "sign_links", rows).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The link `token` opens, expired or not (the caller decides what an expired link shows).
    pub async fn sign_link(&self, token: &LinkToken) -> Result<Option<SignLink>, Failure> {
        let Some(r) = sqlx::query(
            "SELECT app_id, flow_group_id, flow_id, signer, preview, expires_at, created_at \
             FROM sign_links WHERE token_sha256 = $1",
        )
        .bind(token.digest())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let target =
            match (r.try_get::<Option<String>, _>("flow_group_id")?, r.try_get::<Option<String>, _>("flow_id")?) {
                (Some(g), None) => LinkTarget::Group(FlowGroupId::from_stored(g)),
                (None, Some(f)) => LinkTarget::Flow(FlowId::from_stored(f)),
                (g, f) => return Err(corrupt("sign link target", &format!("{g:?}/{f:?}"))),
            };
        let signer: String = r.try_get("signer")?;
        Ok(Some(SignLink {
            app_id: ExternalId::from_stored(r.try_get("app_id")?),
            target,
            signer: SignerKey::decode(&signer).ok_or_else(|| corrupt("sign link signer", &signer))?,
            preview: r.try_get::<i64, _>("preview")? != 0,
            expires_at: r.try_get("expires_at")?,
            created_at: r.try_get("created_at")?,
        }))
    }
}
