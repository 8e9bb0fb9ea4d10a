//! The columns that hold secrets, sealed under the master key (`crate::secrets`), and the step
//! after the SQL migrations that seals plaintext left by older versions and proves the key is
//! the one the database was sealed with.

use secrecy::SecretString;
use sqlx::Row;

use super::Store;
use crate::error::Failure;
use crate::secrets::{self, OpenError, Place};

/// A column of secrets and the column that names its row.
pub(super) struct SealedColumn {
    pub table: &'static str,
    pub row_key: &'static str,
    pub column: &'static str,
}

impl SealedColumn {
    pub fn at<'a>(&self, row: &'a str) -> Place<'a> {
        Place { table: self.table, column: self.column, row }
    }
}

pub(super) const SECRET_KEY: SealedColumn =
    SealedColumn { table: "application_secrets", row_key: "secret_id", column: "secret_key" };
pub(super) const CALLBACK_KEY: SealedColumn =
    SealedColumn { table: "applications", row_key: "app_id", column: "callback_aes_key" };
pub(super) const CALLBACK_TOKEN: SealedColumn =
    SealedColumn { table: "applications", row_key: "app_id", column: "callback_token" };
pub(super) const SERVER_SECRET: SealedColumn =
    SealedColumn { table: "server_secrets", row_key: "name", column: "value" };
pub(super) const PKI_KEY: SealedColumn =
    SealedColumn { table: "pki_credentials", row_key: "name", column: "private_key" };

/// Every column that holds secrets; a new one is added here and to nothing else at start.
const SEALED_COLUMNS: [SealedColumn; 5] = [SECRET_KEY, CALLBACK_KEY, CALLBACK_TOKEN, SERVER_SECRET, PKI_KEY];

impl Store {
    pub(super) fn seal(&self, place: Place<'_>, plaintext: &SecretString) -> String {
        self.master_key.seal(place, secrecy::ExposeSecret::expose_secret(plaintext))
    }

    /// A stored secret; one that does not open is the server's fault, never the caller's.
    pub(super) fn open(&self, place: Place<'_>, stored: &str) -> Result<SecretString, Failure> {
        self.master_key.open(place, stored).map_err(|e| Failure::Internal(anyhow::anyhow!("stored secret {place} {e}")))
    }

    /// What to store for `new` at `place`, which now holds `existing`: the same ciphertext when
    /// it already holds that value, so applying the same tenants file twice changes no row.
    pub(super) fn reseal(&self, place: Place<'_>, existing: Option<&str>, new: &SecretString) -> String {
        use secrecy::ExposeSecret;
        if let Some(existing) = existing
            && self.master_key.open(place, existing).is_ok_and(|old| old.expose_secret() == new.expose_secret())
        {
            return existing.to_owned();
        }
        self.seal(place, new)
    }

    /// Seals every plaintext secret in place, in one transaction, and checks that every sealed
    /// one opens. A value that does not open stops the start: it was sealed under another master
    /// key, and going on would lose it or serve with secrets regenerated behind the operator's back.
    pub(super) async fn seal_plaintext_secrets(&self) -> anyhow::Result<()> {
        let mut tx = self.begin_write().await?;
        let mut sealed_now = 0;
        for c in &SEALED_COLUMNS {
            let (table, key, column) = (c.table, c.row_key, c.column);
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY {key}"
            )))
            .fetch_all(&mut *tx)
            .await?;
            for r in rows {
                let (row, stored): (String, String) = (r.try_get(0)?, r.try_get(1)?);
                match self.master_key.open(c.at(&row), &stored) {
                    Ok(_) => {}
                    Err(OpenError::NotSealed) => {
                        // Only the plaintext read above is replaced, so a node starting at the
                        // same time that sealed it first is left alone.
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "UPDATE {table} SET {column} = $1 WHERE {key} = $2 AND {column} = $3"
                        )))
                        .bind(self.master_key.seal(c.at(&row), &stored))
                        .bind(&row)
                        .bind(&stored)
                        .execute(&mut *tx)
                        .await?;
                        sealed_now += 1;
                    }
                    Err(e) => anyhow::bail!(
                        "the secret {} {e}. If this database was sealed under another master key, set {} to \
                         that key; qianshu never replaces secrets it cannot open",
                        c.at(&row),
                        secrets::SETTING
                    ),
                }
            }
        }
        tx.commit().await?;
        if sealed_now > 0 {
            tracing::info!("sealed {sealed_now} secret(s) stored in plaintext by an older version");
        }
        Ok(())
    }
}
