//! The certificate authority's keys and certificates (`crate::pki`), shared by every node.

use secrecy::SecretString;

use super::Store;
use super::sealed::PKI_KEY;
use crate::error::Failure;

/// A stored certificate (PEM) and its private key (PKCS#8 PEM), opened.
pub struct StoredCredential {
    pub certificate: String,
    pub private_key: SecretString,
}

impl std::fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoredCredential({} PEM bytes, key ***)", self.certificate.len())
    }
}

impl Store {
    /// The credential called `name`, if one was made.
    pub async fn pki_credential(&self, name: &str) -> Result<Option<StoredCredential>, Failure> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT certificate, private_key FROM pki_credentials WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(certificate, key)| {
            Ok(StoredCredential { private_key: self.open(PKI_KEY.at(name), &key)?, certificate })
        })
        .transpose()
    }

    /// Stores `certificate` and `private_key` as `name` unless a node already stored one, and
    /// returns whichever is stored: two nodes making the root at once end with one.
    pub async fn insert_pki_credential(
        &self,
        name: &str,
        certificate: &str,
        private_key: &SecretString,
    ) -> Result<StoredCredential, Failure> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO pki_credentials (name, certificate, private_key, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(certificate)
        .bind(self.seal(PKI_KEY.at(name), private_key))
        .bind(super::now_ms())
        .execute(&mut *tx)
        .await?;
        let (certificate, key): (String, String) =
            sqlx::query_as("SELECT certificate, private_key FROM pki_credentials WHERE name = $1")
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(StoredCredential { private_key: self.open(PKI_KEY.at(name), &key)?, certificate })
    }
}
