//! The blob store's suite, run against a local directory and against an S3-compatible server
//! alike (moto's, which scripts/test.sh starts and names in QIANSHU_TEST_S3_ENDPOINT; each test
//! gets a bucket of its own). Stores are opened the way the server opens them, from the
//! `--blob-store` value, and what they wrote is checked by listing the directory or the bucket
//! itself, key by key.

mod common;

use bytes::Bytes;
use qianshu::blobs::BlobStore;
use qianshu::config::BlobStoreUrl;
use sha2::{Digest, Sha256};

use common::s3::TestBucket;

const HELLO: &[u8] = b"%PDF-1.7 hello";
/// `printf '%PDF-1.7 hello' | sha256sum`
const HELLO_SHA256: &str = "2a916d83fa20d97c7c3c04cf07b2d3f8d18ea47f59c841a221dd3a81f15fc347";
const HELLO_KEY: &str = "sha256/2a/2a916d83fa20d97c7c3c04cf07b2d3f8d18ea47f59c841a221dd3a81f15fc347";
const OTHER: &[u8] = b"%PDF-1.7 other";
/// `printf '%PDF-1.7 other' | sha256sum`
const OTHER_SHA256: &str = "f8b4fc6829d946f2a4d41500112fe9a62f78b293407a062ae69a8af1b5c1a4e9";
const OTHER_KEY: &str = "sha256/f8/f8b4fc6829d946f2a4d41500112fe9a62f78b293407a062ae69a8af1b5c1a4e9";
/// The SHA-256 of no bytes.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const EMPTY_KEY: &str = "sha256/e3/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

enum Backend {
    Local(tempfile::TempDir),
    S3(TestBucket),
}

impl Backend {
    fn local() -> Backend {
        Backend::Local(tempfile::tempdir().unwrap())
    }

    /// The `--blob-store` value of this backend.
    fn setting(&self) -> String {
        match self {
            Backend::Local(dir) => dir.path().join("blobs").to_str().unwrap().to_owned(),
            Backend::S3(bucket) => bucket.url(""),
        }
    }

    /// A store opened anew, as the server opens it.
    fn open(&self) -> BlobStore {
        BlobStore::open(&BlobStoreUrl::parse(&self.setting()).unwrap()).unwrap()
    }

    /// Every key written, sorted: the files under the directory, or the bucket's listing.
    async fn keys(&self) -> Vec<String> {
        match self {
            Backend::Local(dir) => {
                let mut keys = Vec::new();
                let root = dir.path().join("blobs");
                if root.exists() {
                    walk(&root, &root, &mut keys);
                }
                keys.sort();
                keys
            }
            Backend::S3(bucket) => bucket.keys().await,
        }
    }
}

fn walk(root: &std::path::Path, dir: &std::path::Path, keys: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(root, &path, keys);
        } else {
            let rel = path.strip_prefix(root).unwrap();
            keys.push(rel.components().map(|c| c.as_os_str().to_str().unwrap()).collect::<Vec<_>>().join("/"));
        }
    }
}

/// Whether `object_store` said "not found" somewhere in the error's chain.
fn is_not_found(e: &anyhow::Error) -> bool {
    e.chain().any(|c| matches!(c.downcast_ref::<object_store::Error>(), Some(object_store::Error::NotFound { .. })))
}

/// Runs each test on a local directory and on a fresh S3 bucket.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(mod $name {
            #[tokio::test]
            async fn local() {
                super::$name(&super::Backend::local()).await;
            }

            #[tokio::test]
            async fn s3() {
                if let Some(bucket) = super::TestBucket::new().await {
                    super::$name(&super::Backend::S3(bucket)).await;
                }
            }
        })*
    };
}

on_both_stores!(
    a_blob_comes_back_by_its_hash,
    the_same_bytes_twice_give_the_same_hash,
    writing_the_same_bytes_at_once_is_harmless,
    a_missing_hash_is_an_error,
    a_malformed_hash_is_an_error,
    an_empty_and_a_large_binary_blob_come_back_whole,
);

async fn a_blob_comes_back_by_its_hash(b: &Backend) {
    let blobs = b.open();
    let sha = blobs.put(Bytes::from_static(HELLO)).await.unwrap();
    assert_eq!(sha, HELLO_SHA256);
    assert_eq!(&blobs.get(&sha).await.unwrap()[..], HELLO);
    assert_eq!(b.keys().await, [HELLO_KEY]);
    // Stored, not remembered: a store opened anew on the same setting reads it too.
    assert_eq!(&b.open().get(HELLO_SHA256).await.unwrap()[..], HELLO);
}

async fn the_same_bytes_twice_give_the_same_hash(b: &Backend) {
    let blobs = b.open();
    assert_eq!(blobs.put(Bytes::from_static(HELLO)).await.unwrap(), HELLO_SHA256);
    assert_eq!(blobs.put(Bytes::from_static(HELLO)).await.unwrap(), HELLO_SHA256);
    assert_eq!(b.open().put(Bytes::from(HELLO.to_vec())).await.unwrap(), HELLO_SHA256);
    assert_eq!(b.keys().await, [HELLO_KEY]);
    assert_eq!(blobs.put(Bytes::from_static(OTHER)).await.unwrap(), OTHER_SHA256);
    assert_eq!(b.keys().await, [HELLO_KEY, OTHER_KEY]);
    assert_eq!(&blobs.get(HELLO_SHA256).await.unwrap()[..], HELLO);
    assert_eq!(&blobs.get(OTHER_SHA256).await.unwrap()[..], OTHER);
}

async fn writing_the_same_bytes_at_once_is_harmless(b: &Backend) {
    let blobs = b.open();
    let puts = (0..8).map(|_| {
        let blobs = blobs.clone();
        tokio::spawn(async move { blobs.put(Bytes::from_static(HELLO)).await.unwrap() })
    });
    for put in futures::future::join_all(puts).await {
        assert_eq!(put.unwrap(), HELLO_SHA256);
    }
    assert_eq!(b.keys().await, [HELLO_KEY]);
    assert_eq!(&blobs.get(HELLO_SHA256).await.unwrap()[..], HELLO);
}

async fn a_missing_hash_is_an_error(b: &Backend) {
    let blobs = b.open();
    blobs.put(Bytes::from_static(OTHER)).await.unwrap();
    let e = blobs.get(HELLO_SHA256).await.unwrap_err();
    assert!(is_not_found(&e), "not a NotFound: {e:#}");
    assert!(format!("{e:#}").starts_with(&format!("reading blob {HELLO_SHA256}: ")), "{e:#}");
    assert_eq!(b.keys().await, [OTHER_KEY]);
}

async fn a_malformed_hash_is_an_error(b: &Backend) {
    let blobs = b.open();
    blobs.put(Bytes::from_static(HELLO)).await.unwrap();
    let upper = HELLO_SHA256.to_uppercase();
    let escape = format!("../{}", &HELLO_SHA256[3..]);
    for bad in ["", "2", "2a", &HELLO_SHA256[..63], &upper, &escape, "2é", &format!("{}g", &HELLO_SHA256[..63])] {
        let e = blobs.get(bad).await.unwrap_err();
        assert_eq!(format!("{e:#}"), format!("reading blob {bad}: not a lowercase hex SHA-256"));
    }
    assert_eq!(b.keys().await, [HELLO_KEY]);
}

async fn an_empty_and_a_large_binary_blob_come_back_whole(b: &Backend) {
    let blobs = b.open();
    assert_eq!(blobs.put(Bytes::new()).await.unwrap(), EMPTY_SHA256);
    assert_eq!(blobs.get(EMPTY_SHA256).await.unwrap().len(), 0);
    // 3 MiB and a bit of every byte value, in no pattern a store could shorten.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let large: Vec<u8> = (0..3 * 1024 * 1024 + 7)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect();
    let sha = hex::encode(Sha256::digest(&large));
    assert_eq!(blobs.put(Bytes::from(large.clone())).await.unwrap(), sha);
    let back = blobs.get(&sha).await.unwrap();
    assert_eq!(back.len(), large.len());
    assert!(back[..] == large[..], "the large blob came back changed");
    let mut want = vec![EMPTY_KEY.to_owned(), format!("sha256/{}/{sha}", &sha[..2])];
    want.sort();
    assert_eq!(b.keys().await, want);
}

#[tokio::test]
async fn an_s3_prefix_puts_objects_under_it() {
    let Some(bucket) = TestBucket::new().await else { return };
    let open = |suffix: &str| BlobStore::open(&BlobStoreUrl::parse(&bucket.url(suffix)).unwrap()).unwrap();
    let prefixed = open("/some/prefix");
    assert_eq!(prefixed.put(Bytes::from_static(HELLO)).await.unwrap(), HELLO_SHA256);
    assert_eq!(bucket.keys().await, [format!("some/prefix/{HELLO_KEY}")]);
    assert_eq!(&prefixed.get(HELLO_SHA256).await.unwrap()[..], HELLO);
    // Slashes around the prefix change nothing.
    assert_eq!(&open("/some/prefix/").get(HELLO_SHA256).await.unwrap()[..], HELLO);
    // The bucket's root and another prefix are other stores.
    let root = open("");
    assert!(is_not_found(&root.get(HELLO_SHA256).await.unwrap_err()));
    assert!(is_not_found(&open("/some").get(HELLO_SHA256).await.unwrap_err()));
    assert_eq!(root.put(Bytes::from_static(OTHER)).await.unwrap(), OTHER_SHA256);
    assert_eq!(open("/elsewhere").put(Bytes::from_static(OTHER)).await.unwrap(), OTHER_SHA256);
    assert_eq!(
        bucket.keys().await,
        [format!("elsewhere/{OTHER_KEY}"), OTHER_KEY.to_owned(), format!("some/prefix/{HELLO_KEY}")]
    );
    assert!(is_not_found(&prefixed.get(OTHER_SHA256).await.unwrap_err()));
}

#[tokio::test]
async fn a_local_store_makes_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("not/yet/there");
    let blobs = BlobStore::open(&BlobStoreUrl::parse(&format!("file://{}", nested.display())).unwrap()).unwrap();
    assert_eq!(blobs.put(Bytes::from_static(HELLO)).await.unwrap(), HELLO_SHA256);
    assert_eq!(std::fs::read(nested.join(HELLO_KEY)).unwrap(), HELLO);
}
