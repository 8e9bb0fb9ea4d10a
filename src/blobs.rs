//! Content-addressed documents: every blob is stored under its SHA-256, so writing the same
//! bytes twice is harmless and a reference can never point at changed content. The database
//! keeps only the hashes. Behind `object_store`, so the local directory can later be swapped
//! for S3-compatible storage without touching callers.

use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
}

impl BlobStore {
    /// Blobs in `dir` (created if needed).
    pub fn local(dir: &std::path::Path) -> anyhow::Result<BlobStore> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let fs =
            LocalFileSystem::new_with_prefix(dir).with_context(|| format!("opening blob store {}", dir.display()))?;
        Ok(BlobStore { inner: Arc::new(fs) })
    }

    fn path(sha256: &str) -> Path {
        Path::from(format!("sha256/{}/{}", &sha256[..2], sha256))
    }

    /// Stores `bytes` and returns their SHA-256 in hex.
    pub async fn put(&self, bytes: Bytes) -> anyhow::Result<String> {
        let sha = hex::encode(Sha256::digest(&bytes));
        self.inner.put(&Self::path(&sha), bytes.into()).await.with_context(|| format!("storing blob {sha}"))?;
        Ok(sha)
    }

    pub async fn get(&self, sha256: &str) -> anyhow::Result<Bytes> {
        let got = self.inner.get(&Self::path(sha256)).await.with_context(|| format!("reading blob {sha256}"))?;
        Ok(got.bytes().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_blob_comes_back_by_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::local(dir.path()).unwrap();
        let sha = blobs.put(Bytes::from_static(b"%PDF-1.7 hello")).await.unwrap();
        assert_eq!(sha, hex::encode(Sha256::digest(b"%PDF-1.7 hello")));
        assert_eq!(blobs.put(Bytes::from_static(b"%PDF-1.7 hello")).await.unwrap(), sha);
        assert_eq!(&blobs.get(&sha).await.unwrap()[..], b"%PDF-1.7 hello");
        assert!(dir.path().join("sha256").join(&sha[..2]).join(&sha).exists());
    }
}
