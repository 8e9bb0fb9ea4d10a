//! Drives `ChannelCreateFlowGroupByTemplates` over loopback against the real release binary,
//! signing every request with TC3 like an SDK, and times the storage floor beside it: the same
//! rows written by a bare loop of the store's transactions on a database of the same kind.
//! See bench/README.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use qianshu::store::Store;
use serde_json::{Value, json};

mod common;
mod fixtures;
use common::{HttpClient, Outcome, Server, Target, signed};
use fixtures::{ENT, IND, TEMPLATE, app_id, tenants};
use qianshu::domain::ExternalId;
use qianshu::domain::flow::{
    ApproveStatus, Approver, Flow, FlowGroup, FlowGroupName, FlowOptions, FlowStatus, SignerKind,
};
use qianshu::domain::id::{FlowGroupId, FlowId, SignId, TemplateId};
use qianshu::domain::template::SnapshotId;

#[derive(Parser, Clone)]
struct Args {
    #[command(flatten)]
    target: Target,
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
    /// Gives every application a CallbackUrl (with CallbackKey and CallbackToken) on a receiver
    /// in the bench that answers 200, so that each creation also writes its callbacks and the
    /// server delivers them while the load runs; reports when the last one arrived
    #[arg(long)]
    callbacks: bool,
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

async fn one(client: &HttpClient, address: &str, app: usize, body: Vec<u8>) -> Result<Duration, String> {
    let start = Instant::now();
    let response = client
        .request(signed(address, app, "ChannelCreateFlowGroupByTemplates", body))
        .await
        .map_err(|e| e.to_string())?;
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
    let db = args.target.fresh_database(kind, dir.path()).await?;
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

/// The platform's callback endpoint, on a loopback port: answers 200 to every callback and
/// counts them (neither decrypts nor verifies: the SDK suite does that).
pub struct Sink {
    pub url: String,
    received: Arc<AtomicUsize>,
}

impl Sink {
    pub async fn start() -> anyhow::Result<Sink> {
        let received = Arc::new(AtomicUsize::new(0));
        let counter = received.clone();
        let app = axum::Router::new().route(
            "/callback",
            axum::routing::post(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                async {}
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/callback", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Sink { url, received })
    }

    pub fn received(&self) -> usize {
        self.received.load(Ordering::Relaxed)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let kinds = args.target.backends()?;
    println!(
        "qianshu-bench: {} s per run, {} in flight, {} applications, open-loop rate {}/s, synthesis workers {}, callbacks {}, {} cores",
        args.seconds,
        args.concurrency,
        args.apps,
        args.rate,
        args.synthesis_workers.map_or("default".into(), |n| n.to_string()),
        if args.callbacks { "on" } else { "off" },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<9} {:<16} {:>10} {:>12} {:>9} {:>9} {:>7} {:>10} {:>8} {:>8}",
        "backend", "run", "groups/s", "contracts/s", "p50 ms", "p99 ms", "errors", "floor g/s", "ratio", "RSS MB"
    );
    for kind in kinds {
        let dir = tempfile::tempdir()?;
        let db = args.target.fresh_database(kind, dir.path()).await?;
        let mut extra: Vec<String> =
            args.synthesis_workers.map(|n| format!("--synthesis-workers={n}")).into_iter().collect();
        let mut tenants = tenants(args.apps);
        let sink = if args.callbacks {
            let sink = Sink::start().await?;
            for app in tenants["Applications"].as_array_mut().into_iter().flatten() {
                app["CallbackUrl"] = sink.url.clone().into();
                app["CallbackKey"] = "0123456789abcdef0123456789ABCDEF".into();
                app["CallbackToken"] = "bench-callback-token".into();
            }
            extra.push("--callback-allow-private".into());
            Some(sink)
        } else {
            None
        };
        // Callbacks owed: one per contract created and one per group.
        let mut owed = 0;
        let server = Server::start(&args.target.server, &tenants, &db, dir.path(), &extra).await?;
        let client: HttpClient =
            Client::builder(TokioExecutor::new()).pool_max_idle_per_host(args.concurrency * 2).build_http();
        // Warm up connections, caches and prepared statements.
        owed +=
            closed_loop(&client, &server.address, &Args { seconds: 1, ..args.clone() }, 2).await.latencies.len() * 3;
        for (flows, in_flight) in [(2usize, args.concurrency), (50, args.concurrency), (50, 1)] {
            let run = Args { concurrency: in_flight, ..args.clone() };
            let mut o = closed_loop(&client, &server.address, &run, flows).await;
            owed += o.latencies.len() * (flows + 1);
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
        owed += o.latencies.len() * 3;
        let load_ended = Instant::now();
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
        println!("          synthesis threads: {:.1} CPU s", server.cpu_seconds("synthesis"));
        if let Some(sink) = &sink {
            let deadline = load_ended + Duration::from_secs(600);
            while sink.received() < owed && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            println!(
                "          callbacks: {} of {} delivered, the last {:.1} s after the load ended",
                sink.received(),
                owed,
                load_ended.elapsed().as_secs_f64()
            );
        }
        drop(server);
        db.drop().await;
    }
    Ok(())
}

/// A group as the server would plan it, for the storage floor.
pub fn planned(app: usize, flows: usize, snapshot: &SnapshotId) -> FlowGroup {
    let now = qianshu::store::now();
    let id = |s: &str| ExternalId::parse(Some(s), "id").expect("id");
    let approver = |recipient: &str, kind: SignerKind, org: Option<&str>, name: &str, mobile: &str| Approver {
        recipient_id: recipient.into(),
        sign_id: SignId::generate(),
        signer: kind,
        role_name: if kind.is_enterprise() { "甲方" } else { "乙方" }.into(),
        custom_role_name: None,
        organization_open_id: org.map(Into::into),
        organization_name: org.map(|_| "压测企业".into()),
        open_id: org.map(|_| "bench_op".into()),
        name: Some(name.into()),
        mobile: Some(mobile.into()),
        id_card: None,
        routing_order: if kind.is_enterprise() { 1 } else { 2 },
        page: Default::default(),
        status: ApproveStatus::Pending,
        approve_time: None,
        approve_message: None,
        review: qianshu::domain::review::SignReview::NotNeeded,
    };
    FlowGroup {
        app_id: id(&app_id(app)),
        flow_group_id: FlowGroupId::generate(),
        name: FlowGroupName::parse(Some("压测合同组"), "n").expect("name"),
        organization_open_id: id("bench_org"),
        operator_open_id: id("bench_op"),
        created_on: now,
        flows: (0..flows)
            .map(|_| Flow {
                flow_id: FlowId::generate(),
                group: None,
                organization_open_id: "bench_org".into(),
                operator_open_id: "bench_op".into(),
                template_id: TemplateId::parse(Some(TEMPLATE), "t").expect("template"),
                template_snapshot: snapshot.clone(),
                name: "压测合同".into(),
                options: FlowOptions::default(),
                status: FlowStatus::Init,
                flow_message: None,
                deadline: now + 365 * 86400,
                created_on: now,
                approvers: vec![
                    approver(ENT, SignerKind::ChannelEmployee, Some("bench_org"), "压测员", "13800000000"),
                    approver(IND, SignerKind::Person, None, "张三", "18888888888"),
                ],
                fields: vec![("PartyA".into(), "压测企业".into()), ("PartyB".into(), "张三".into())],
                document_task: None,
            })
            .collect(),
    }
}
