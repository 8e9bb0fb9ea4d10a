//! A fresh bucket on the S3-compatible server named by QIANSHU_TEST_S3_ENDPOINT, which
//! scripts/test.sh sets after starting moto's server on a loopback port. Without it the S3 half
//! of a test says loudly that it was skipped, and fails when CI=true, where the server must be
//! there.
//!
//! The blob store reads its S3 settings from the standard `AWS_*` variables, as in production;
//! [`configure`] points them at the test server once per process, before any store is opened.

use std::io::Write;
use std::sync::Once;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const ENDPOINT_VAR: &str = "QIANSHU_TEST_S3_ENDPOINT";

/// A bucket made for one test; its objects are left to the throwaway server.
pub struct TestBucket {
    pub endpoint: String,
    pub name: String,
}

fn skip_or_fail(why: &str) -> Option<TestBucket> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("an S3-compatible server is required on CI: {why}");
    }
    // Straight to stderr rather than through `eprintln!`, which the test harness captures and
    // shows only for failing tests: a skip must be seen.
    let _ = writeln!(std::io::stderr(), "\nSKIPPED: the S3 half of this test ({why})");
    None
}

/// Sets the `AWS_*` variables `AmazonS3Builder::from_env` reads so that every `s3://` blob store
/// of this process talks to `endpoint`, and removes any other `AWS_*` variable (a developer's
/// profile, session token or `AWS_ENDPOINT_URL_S3` would otherwise win over these).
pub fn configure(endpoint: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let settings = [
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ACCESS_KEY_ID", "qianshu-test"),
            ("AWS_SECRET_ACCESS_KEY", "qianshu-test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "false"),
        ];
        // SAFETY: the variables are changed once, before the first S3 store of the process is
        // opened, and every other access to the environment in this test binary goes through
        // `std::env`, which serializes readers and writers with its own lock; no code here reads
        // the environment through libc behind std's back.
        unsafe {
            for (key, _) in std::env::vars_os() {
                if key.to_str().is_some_and(|k| k.starts_with("AWS_")) {
                    std::env::remove_var(key);
                }
            }
            for (key, value) in settings {
                std::env::set_var(key, value);
            }
        }
    });
}

impl TestBucket {
    /// `None` (after saying so) when no S3-compatible server is configured or reachable outside
    /// CI. Also configures the process's `AWS_*` variables for it.
    pub async fn new() -> Option<TestBucket> {
        let endpoint = match std::env::var(ENDPOINT_VAR) {
            Ok(e) if !e.is_empty() => e.trim_end_matches('/').to_owned(),
            _ => {
                return skip_or_fail(&format!(
                    "{ENDPOINT_VAR} is not set: scripts/test.sh sets it once moto_server answers"
                ));
            }
        };
        configure(&endpoint);
        let name = format!("qianshu-test-{}", uuid::Uuid::new_v4().simple());
        match http(&endpoint, "PUT", &format!("/{name}")).await {
            Ok((200, _)) => Some(TestBucket { endpoint, name }),
            Ok((status, body)) => panic!("creating bucket {name} at {endpoint}: HTTP {status}: {body}"),
            Err(e) => skip_or_fail(&format!("no S3-compatible server at {endpoint}: {e}")),
        }
    }

    /// `s3://BUCKET` followed by `suffix` (`""` or `/PREFIX`).
    pub fn url(&self, suffix: &str) -> String {
        format!("s3://{}{suffix}", self.name)
    }

    /// Every key in the bucket, sorted, read through the server's own S3 listing rather than
    /// through the store under test.
    pub async fn keys(&self) -> Vec<String> {
        let (status, body) = http(&self.endpoint, "GET", &format!("/{}?list-type=2&max-keys=1000", self.name))
            .await
            .unwrap_or_else(|e| panic!("listing bucket {}: {e}", self.name));
        assert_eq!(status, 200, "listing bucket {}: {body}", self.name);
        assert!(!body.contains("<IsTruncated>true</IsTruncated>"), "more keys than one page: {body}");
        let mut keys: Vec<String> = body
            .split("<Key>")
            .skip(1)
            .map(|rest| rest.split_once("</Key>").expect("a closed <Key>").0.to_owned())
            .collect();
        keys.sort();
        keys
    }
}

/// One unsigned HTTP/1.0 request (so the answer is never chunked) to `endpoint`
/// (`http://HOST:PORT`), given 30 seconds; the status and body. Moto takes unsigned bucket calls.
pub async fn http(endpoint: &str, method: &str, target: &str) -> std::io::Result<(u16, String)> {
    tokio::time::timeout(Duration::from_secs(30), request(endpoint, method, target))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, format!("{method} {target}: no answer")))?
}

async fn request(endpoint: &str, method: &str, target: &str) -> std::io::Result<(u16, String)> {
    let authority = endpoint.strip_prefix("http://").ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{endpoint} is not an http:// URL"))
    })?;
    let authority = authority.split('/').next().unwrap_or(authority);
    let mut stream = TcpStream::connect(authority).await?;
    let request = format!("{method} {target} HTTP/1.0\r\nHost: {authority}\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status =
        head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not an HTTP response: {head}"))
        })?;
    Ok((status, body.to_owned()))
}
