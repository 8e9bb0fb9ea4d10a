//! Content-addressed documents: every blob is stored under its SHA-256, so writing the same
//! bytes twice is harmless and a reference can never point at changed content. The database
//! keeps only the hashes. Behind `object_store`: a local directory by default, S3-compatible
//! storage when configured, with the same calls.

use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};

use crate::config::BlobStoreUrl;

#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
}

impl BlobStore {
    pub fn open(url: &BlobStoreUrl) -> anyhow::Result<BlobStore> {
        match url {
            BlobStoreUrl::Local(dir) => BlobStore::local(dir),
            BlobStoreUrl::S3(url) => BlobStore::s3(url),
        }
    }

    /// `s3://BUCKET[/PREFIX]`; endpoint, region, keys and `AWS_ALLOW_HTTP` come from the
    /// standard `AWS_*` environment variables, as every S3 tool reads them.
    fn s3(url: &str) -> anyhow::Result<BlobStore> {
        let rest = url.trim_start_matches("s3://");
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        crate::crypto_provider::install();
        let s3 = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .with_context(|| format!("opening blob store {url}"))?;
        let prefix = prefix.trim_matches('/');
        let inner: Arc<dyn ObjectStore> =
            if prefix.is_empty() { Arc::new(s3) } else { Arc::new(PrefixStore::new(s3, prefix)) };
        Ok(BlobStore { inner })
    }

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

    /// Whether the store answers: a read of a name no blob has (not found is an answer).
    pub async fn ping(&self) -> anyhow::Result<()> {
        match self.inner.head(&Path::from("readiness-probe")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(anyhow::Error::from(e).context("reading the blob store")),
        }
    }

    pub async fn get(&self, sha256: &str) -> anyhow::Result<Bytes> {
        // A hash read back from a damaged row must be an error, not a panic in `path`.
        if sha256.len() != 64 || !sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            anyhow::bail!("reading blob {sha256}: not a lowercase hex SHA-256");
        }
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
