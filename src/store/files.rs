//! Uploaded files and the secrets all nodes share.

use sqlx::Row;

use super::{Store, corrupt};
use crate::domain::ExternalId;
use crate::domain::file::{BusinessType, FileKind, StoredFile};
use crate::domain::id::FileId;
use crate::error::Failure;

impl Store {
    /// Records uploaded files, all or none.
    pub async fn insert_files(&self, files: &[StoredFile]) -> Result<(), Failure> {
        let mut tx = self.begin_write().await?;
        for f in files {
            sqlx::query(
                "INSERT INTO files (file_id, app_id, organization_open_id, business_type, file_name, kind, sha256, size, \
                 created_at, deadline) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(f.file_id.as_str())
            .bind(f.app_id.as_str())
            .bind(f.organization_open_id.as_str())
            .bind(f.business_type.as_str())
            .bind(&f.file_name)
            .bind(f.kind.as_str())
            .bind(&f.sha256)
            .bind(f.size)
            .bind(f.created_on)
            .bind(f.deadline)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The file `file_id` if `app` uploaded it: another application's file is not found.
    pub async fn file(&self, app: &ExternalId, file_id: &FileId) -> Result<Option<StoredFile>, Failure> {
        let Some(r) = sqlx::query(
            "SELECT file_id, app_id, organization_open_id, business_type, file_name, kind, sha256, size, created_at, deadline \
             FROM files WHERE file_id = $1 AND app_id = $2",
        )
        .bind(file_id.as_str())
        .bind(app.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let (business_type, kind): (String, String) = (r.try_get("business_type")?, r.try_get("kind")?);
        Ok(Some(StoredFile {
            file_id: FileId::from_stored(r.try_get("file_id")?),
            app_id: ExternalId::from_stored(r.try_get("app_id")?),
            organization_open_id: ExternalId::from_stored(r.try_get("organization_open_id")?),
            business_type: BusinessType::parse(&business_type, "business_type")
                .map_err(|_| corrupt("business type", &business_type))?,
            file_name: r.try_get("file_name")?,
            kind: FileKind::parse(&kind).ok_or_else(|| corrupt("file kind", &kind))?,
            sha256: r.try_get("sha256")?,
            size: r.try_get("size")?,
            created_on: r.try_get("created_at")?,
            deadline: r.try_get("deadline")?,
        }))
    }

    /// The secret called `name`, made (random, 256 bits) by whichever node asks first.
    pub async fn server_secret(&self, name: &str) -> Result<String, Failure> {
        use rand::RngCore;
        let mut fresh = [0u8; 32];
        rand::rng().fill_bytes(&mut fresh);
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(hex::encode(fresh))
            .execute(&mut *tx)
            .await?;
        let value: String = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(value)
    }
}
