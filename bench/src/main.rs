//! Drives `ChannelCreateFlowGroupByTemplates` over loopback against the real release binary,
//! signing every request with TC3 like an SDK, and times the storage floor beside it: the same
//! rows written by a bare loop of the store's transactions on a database of the same kind.
//! See bench/README.md.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use qianshu::api::tc3;
use qianshu::config::DatabaseUrl;
use qianshu::store::Store;
use serde_json::{Value, json};
use sqlx::{Connection, Executor};
use tokio::io::{AsyncBufReadExt, BufReader};

mod fixtures;
use fixtures::{ENT, IND, TEMPLATE, app_id, planned, tenants};

#[derive(Parser, Clone)]
struct Args {
    /// The qianshu binary to measure (build it with `cargo build --release`)
    #[arg(long, default_value = "target/release/qianshu")]
    server: PathBuf,
    /// PostgreSQL server where fresh databases are created; without it only SQLite is measured
    #[arg(long, env = "QIANSHU_BENCH_POSTGRES_URL")]
    postgres: Option<String>,
    /// Seconds per closed-loop measurement
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Requests in flight at once in the closed-loop runs
    #[arg(long, default_value_t = 128)]
    concurrency: usize,
    /// Applications (calling accounts) the load is spread over
    #[arg(long, default_value_t = 8)]
    apps: usize,
    /// Rate of the open-loop latency run, groups per second
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Passed to the server as --synthesis-workers (background threads that render each created
    /// contract's document; 0 turns them off); without it the server's default (1)
    #[arg(long)]
    synthesis_workers: Option<usize>,
}

fn request_body(app: usize, flows: usize) -> Vec<u8> {
    let flow = json!({
        "FlowName": "压测合同", "TemplateId": TEMPLATE,
        "FlowApprovers": [
            {"OrganizationOpenId": "bench_org", "OpenId": "bench_op", "ApproverType": "ORGANIZATION", "RecipientId": ENT},
            {"Name": "张三", "Mobile": "18888888888", "ApproverType": "PERSON", "RecipientId": IND}],
        "FormFields": [{"ComponentId": "PartyA", "ComponentValue": "压测企业"}, {"ComponentId": "PartyB", "ComponentValue": "张三"}]
    });
    let body = json!({
        "Agent": {"AppId": app_id(app), "ProxyOrganizationOpenId": "bench_org", "ProxyOperator": {"OpenId": "bench_op"}},
        "FlowGroupName": "压测合同组", "FlowInfos": vec![flow; flows]
    });
    serde_json::to_vec(&body).expect("JSON")
}

/// A signed request, exactly as the official SDKs build it.
fn signed(address: &str, app: usize, body: Vec<u8>) -> hyper::Request<Full<Bytes>> {
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
        .header("x-tc-action", "ChannelCreateFlowGroupByTemplates")
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

struct Database {
    url: DatabaseUrl,
    admin: Option<(String, String)>,
}

async fn fresh_database(kind: &str, dir: &Path, postgres: Option<&str>) -> anyhow::Result<Database> {
    if kind == "sqlite" {
        return Ok(Database {
            url: DatabaseUrl::new(format!("sqlite://{}", dir.join("bench.db").display())),
            admin: None,
        });
    }
    let admin = postgres.context("no PostgreSQL URL")?.to_owned();
    let name = format!("qianshu_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await?;
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await?;
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).context("URL")?;
    Ok(Database { url: DatabaseUrl::new(format!("{base}/{name}")), admin: Some((admin, name)) })
}

impl Database {
    async fn drop(self) {
        if let Some((admin, name)) = self.admin
            && let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await
        {
            let _ = conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await;
        }
    }
}

struct Server {
    child: tokio::process::Child,
    address: String,
}

impl Server {
    async fn start(args: &Args, db: &Database, dir: &Path) -> anyhow::Result<Server> {
        let tenants_file = dir.join("tenants.json");
        std::fs::write(&tenants_file, serde_json::to_vec(&tenants(args.apps))?)?;
        let base = |cmd: &mut tokio::process::Command| {
            cmd.arg("--data-dir").arg(dir).arg("--database-url").arg(db.url.expose()).env("QIANSHU_LOG", "warn");
        };
        let mut apply = tokio::process::Command::new(&args.server);
        base(&mut apply);
        let out = apply.arg("apply").arg(&tenants_file).output().await.context("running qianshu apply")?;
        if !out.status.success() {
            bail!("apply failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let mut serve = tokio::process::Command::new(&args.server);
        base(&mut serve);
        let mut child = serve
            .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "1000000"])
            .args(args.synthesis_workers.map(|n| format!("--synthesis-workers={n}")))
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

    /// CPU seconds the server's synthesis threads (`synthesis-N`) have used so far.
    fn synthesis_cpu_seconds(&self) -> f64 {
        let tasks = format!("/proc/{}/task", self.child.id().unwrap_or(0));
        let ticks: u64 = std::fs::read_dir(tasks)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|task| {
                let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
                // `pid (comm) state …`: utime and stime are fields 14 and 15, so 11 and 12 after
                // the comm; in clock ticks, 100 a second on Linux.
                let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
                if !comm.starts_with("synthesis") {
                    return None;
                }
                let f: Vec<&str> = rest.split_whitespace().collect();
                Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
            })
            .sum();
        ticks as f64 / 100.0
    }

    fn peak_rss_mb(&self) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id().unwrap_or(0))).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }
}

#[derive(Default)]
struct Outcome {
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
}

impl Outcome {
    fn record(&mut self, result: Result<Duration, String>) {
        match result {
            Ok(d) => self.latencies.push(d),
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }

    fn merge(&mut self, other: Outcome) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&mut self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        self.latencies.sort();
        let i = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        self.latencies[i].as_secs_f64() * 1000.0
    }
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

async fn one(client: &HttpClient, address: &str, app: usize, body: Vec<u8>) -> Result<Duration, String> {
    let start = Instant::now();
    let response = client.request(signed(address, app, body)).await.map_err(|e| e.to_string())?;
    let bytes = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    let elapsed = start.elapsed();
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    match v["Response"].get("Error") {
        Some(e) => Err(e.to_string()),
        None => Ok(elapsed),
    }
}

/// `concurrency` workers sending back to back for `seconds`.
async fn closed_loop(client: &HttpClient, address: &str, args: &Args, flows: usize) -> Outcome {
    let counter = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let start = Instant::now();
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (client, address, counter, apps) = (client.clone(), address.to_owned(), counter.clone(), args.apps);
            tokio::spawn(async move {
                let mut out = Outcome::default();
                while Instant::now() < deadline {
                    let app = counter.fetch_add(1, Ordering::Relaxed) % apps;
                    out.record(one(&client, &address, app, request_body(app, flows)).await);
                }
                out
            })
        })
        .collect();
    let mut total = Outcome::default();
    for w in workers {
        total.merge(w.await.expect("worker"));
    }
    total.elapsed = start.elapsed();
    total
}

/// One request every 1/rate seconds, whatever the answers do, for latency at a fixed load.
async fn open_loop(client: &HttpClient, address: &str, args: &Args) -> Outcome {
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / args.rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let total = args.rate * args.seconds;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total as usize {
        ticker.tick().await;
        let (client, address, app) = (client.clone(), address.to_owned(), i % args.apps);
        tasks.push(tokio::spawn(async move { one(&client, &address, app, request_body(app, 2)).await }));
    }
    let mut out = Outcome::default();
    for t in tasks {
        out.record(t.await.expect("task"));
    }
    out.elapsed = start.elapsed();
    out
}

/// The same rows, written by `concurrency` tasks looping over the store's transaction.
async fn storage_floor(args: &Args, kind: &str, flows: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let db = fresh_database(kind, dir.path(), args.postgres.as_deref()).await?;
    // A throwaway database: any key will do.
    let master_key = qianshu::secrets::MasterKey::from_hex(&"42".repeat(32), "the bench")?;
    let store = Store::connect(&db.url, master_key).await?;
    let blobs = qianshu::blobs::BlobStore::local(&dir.path().join("blobs"))?;
    let file = dir.path().join("tenants.json");
    std::fs::write(&file, serde_json::to_vec(&tenants(args.apps))?)?;
    let applied = qianshu::tenants::load(&file, &blobs, &store).await?;
    store.apply_tenants(&applied).await.map_err(anyhow::Error::from)?;
    // Every application has the same template, hence the same snapshot.
    let snapshot = applied[0].templates[0].snapshot.clone();
    let counter = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let start = Instant::now();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (store, counter, done, apps) = (store.clone(), counter.clone(), done.clone(), args.apps);
            let snapshot = snapshot.clone();
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let app = counter.fetch_add(1, Ordering::Relaxed) % apps;
                    store.create_flow_group(&planned(app, flows, &snapshot)).await.expect("floor write");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await?;
    }
    let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    store.close().await;
    db.drop().await;
    Ok(rate)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.server.exists() {
        bail!("{} not found: run `cargo build --release` first", args.server.display());
    }
    let mut kinds = vec!["sqlite"];
    if args.postgres.is_some() {
        kinds.push("postgres");
    } else {
        println!("(no --postgres URL: PostgreSQL not measured)");
    }
    println!(
        "qianshu-bench: {} s per run, {} in flight, {} applications, open-loop rate {}/s, synthesis workers {}, {} cores",
        args.seconds,
        args.concurrency,
        args.apps,
        args.rate,
        args.synthesis_workers.map_or("default".into(), |n| n.to_string()),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<9} {:<16} {:>10} {:>12} {:>9} {:>9} {:>7} {:>10} {:>8} {:>8}",
        "backend", "run", "groups/s", "contracts/s", "p50 ms", "p99 ms", "errors", "floor g/s", "ratio", "RSS MB"
    );
    for kind in kinds {
        let dir = tempfile::tempdir()?;
        let db = fresh_database(kind, dir.path(), args.postgres.as_deref()).await?;
        let server = Server::start(&args, &db, dir.path()).await?;
        let client: HttpClient =
            Client::builder(TokioExecutor::new()).pool_max_idle_per_host(args.concurrency * 2).build_http();
        // Warm up connections, caches and prepared statements.
        let _ = closed_loop(&client, &server.address, &Args { seconds: 1, ..args.clone() }, 2).await;
        for (flows, in_flight) in [(2usize, args.concurrency), (50, args.concurrency), (50, 1)] {
            let run = Args { concurrency: in_flight, ..args.clone() };
            let mut o = closed_loop(&client, &server.address, &run, flows).await;
            let floor = storage_floor(&run, kind, flows).await?;
            let rate = o.per_second();
            println!(
                "{:<9} {:<16} {:>10.0} {:>12.0} {:>9.2} {:>9.2} {:>7} {:>10.0} {:>7.0}% {:>8.1}",
                kind,
                format!("{flows}-contract×{in_flight}"),
                rate,
                rate * flows as f64,
                o.percentile_ms(0.50),
                o.percentile_ms(0.99),
                o.errors,
                floor,
                rate / floor * 100.0,
                server.peak_rss_mb()
            );
            if let Some(e) = o.first_error {
                println!("          first error: {e}");
            }
        }
        let mut o = open_loop(&client, &server.address, &args).await;
        println!(
            "{:<9} {:<16} {:>10.0} {:>12.0} {:>9.2} {:>9.2} {:>7} {:>10} {:>8} {:>8.1}",
            kind,
            format!("2-contract@{}/s", args.rate),
            o.per_second(),
            o.per_second() * 2.0,
            o.percentile_ms(0.50),
            o.percentile_ms(0.99),
            o.errors,
            "-",
            "-",
            server.peak_rss_mb()
        );
        if let Some(e) = o.first_error {
            println!("          first error: {e}");
        }
        println!("          synthesis threads: {:.1} CPU s", server.synthesis_cpu_seconds());
        drop(server);
        db.drop().await;
    }
    Ok(())
}
