//! What both load generators share: SDK-signed requests, fresh databases, the server under
//! test as a child process, and latency figures.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use qianshu::api::tc3;
use qianshu::config::DatabaseUrl;
use serde_json::Value;
use sqlx::{Connection, Executor};
use tokio::io::{AsyncBufReadExt, BufReader};

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A signed request for `action`, exactly as the official SDKs build it, from application `app`
/// of [`crate::fixtures::tenants`].
pub fn signed(address: &str, app: usize, action: &str, body: Vec<u8>) -> hyper::Request<Full<Bytes>> {
    let ts = qianshu::store::now();
    let date = tc3::scope_date(ts).expect("date");
    let header = |name: &str| match name {
        "content-type" => Some("application/json"),
        "host" => Some(address),
        _ => None,
    };
    let parts = tc3::SignedParts { method: "POST", query: "", header: &header, body: &body };
    let signed_headers = ["content-type".to_owned(), "host".to_owned()];
    let canonical = tc3::canonical_request(&parts, &signed_headers, tc3::HostForm::AsSent).expect("canonical");
    let to_sign = tc3::string_to_sign(&ts.to_string(), &date, tc3::SERVICE, &canonical);
    let signature = tc3::signature(&format!("benchSecretKey{app:020}"), &date, tc3::SERVICE, &to_sign);
    hyper::Request::post(format!("http://{address}/"))
        .header("content-type", "application/json")
        .header("host", address)
        .header("x-tc-action", action)
        .header("x-tc-version", "2021-05-26")
        .header("x-tc-timestamp", ts.to_string())
        .header(
            "authorization",
            format!(
                "TC3-HMAC-SHA256 Credential=AKIDbench{app}/{date}/essbasic/tc3_request, SignedHeaders=content-type;host, Signature={signature}"
            ),
        )
        .body(Full::new(Bytes::from(body)))
        .expect("request")
}

pub struct Database {
    pub url: DatabaseUrl,
    admin: Option<(String, String)>,
}

// What both load generators measure: the server binary, and the databases it runs on. (Not a
// doc comment: clap would print it atop each binary's --help as if it described the binary.)
#[derive(clap::Args, Clone)]
pub struct Target {
    /// The qianshu binary to measure (build it with `cargo build --release`)
    #[arg(long, default_value = "target/release/qianshu")]
    pub server: PathBuf,
    /// PostgreSQL server where fresh databases are created; without it only SQLite is measured
    #[arg(long, env = "QIANSHU_BENCH_POSTGRES_URL")]
    postgres: Option<String>,
    /// Measures PostgreSQL alone, without the SQLite runs before it
    #[arg(long, requires = "postgres")]
    postgres_only: bool,
}

impl Target {
    /// The backends a run measures: SQLite unless `--postgres-only`, PostgreSQL when a server is
    /// given; fails early when the server binary to measure is not built.
    pub fn backends(&self) -> anyhow::Result<Vec<&'static str>> {
        if !self.server.exists() {
            bail!("{} not found: run `cargo build --release` first", self.server.display());
        }
        if self.postgres.is_some() {
            Ok(if self.postgres_only { vec!["postgres"] } else { vec!["sqlite", "postgres"] })
        } else {
            println!("(no --postgres URL: PostgreSQL not measured)");
            Ok(vec!["sqlite"])
        }
    }

    /// A new database of `kind`: a file in `dir`, or a database of its own on the PostgreSQL
    /// server (dropped by [`Database::drop`]).
    pub async fn fresh_database(&self, kind: &str, dir: &Path) -> anyhow::Result<Database> {
        if kind == "sqlite" {
            return Ok(Database {
                url: DatabaseUrl::new(format!("sqlite://{}", dir.join("bench.db").display())),
                admin: None,
            });
        }
        let admin = self.postgres.clone().context("no PostgreSQL URL")?;
        let name = format!("qianshu_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin).await?;
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await?;
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).context("URL")?;
        Ok(Database { url: DatabaseUrl::new(format!("{base}/{name}")), admin: Some((admin, name)) })
    }
}

impl Database {
    pub async fn drop(self) {
        if let Some((admin, name)) = self.admin
            && let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await
        {
            let _ = conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await;
        }
    }
}

pub struct Server {
    child: tokio::process::Child,
    pub address: String,
}

impl Server {
    /// Applies `tenants` with `binary apply`, then starts `binary serve` on a free loopback port
    /// with the rate limit raised and `extra` arguments.
    pub async fn start(
        binary: &Path,
        tenants: &Value,
        db: &Database,
        dir: &Path,
        extra: &[String],
    ) -> anyhow::Result<Server> {
        let tenants_file = dir.join("tenants.json");
        std::fs::write(&tenants_file, serde_json::to_vec(tenants)?)?;
        let base = |cmd: &mut tokio::process::Command| {
            cmd.arg("--data-dir").arg(dir).arg("--database-url").arg(db.url.expose()).env("QIANSHU_LOG", "warn");
        };
        let mut apply = tokio::process::Command::new(binary);
        base(&mut apply);
        let out = apply.arg("apply").arg(&tenants_file).output().await.context("running qianshu apply")?;
        if !out.status.success() {
            bail!("apply failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let mut serve = tokio::process::Command::new(binary);
        base(&mut serve);
        let mut child = serve
            .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "1000000"])
            .args(extra)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.strip_prefix("qianshu listening on http://") {
                let address = rest.split_whitespace().next().context("address")?.to_owned();
                return Ok(Server { child, address });
            }
        }
        bail!("qianshu did not start")
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// CPU seconds the server's threads whose name starts with `prefix` have used so far.
    pub fn cpu_seconds(&self, prefix: &str) -> f64 {
        let tasks = format!("/proc/{}/task", self.pid());
        let ticks: u64 = std::fs::read_dir(tasks)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|task| {
                let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
                // `pid (comm) state …`: utime and stime are fields 14 and 15, so 11 and 12 after
                // the comm; in clock ticks, 100 a second on Linux.
                let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
                if !comm.starts_with(prefix) {
                    return None;
                }
                let f: Vec<&str> = rest.split_whitespace().collect();
                Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
            })
            .sum();
        ticks as f64 / 100.0
    }

    pub fn peak_rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }
}

#[derive(Default)]
pub struct Outcome {
    pub latencies: Vec<Duration>,
    pub errors: usize,
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn record(&mut self, result: Result<Duration, String>) {
        match result {
            Ok(d) => self.latencies.push(d),
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }

    pub fn merge(&mut self, other: Outcome) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile_ms(&mut self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        self.latencies.sort();
        let i = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        self.latencies[i].as_secs_f64() * 1000.0
    }
}
