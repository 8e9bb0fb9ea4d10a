//! Times "全部签署" (sign all) over loopback against the real release binary: contract groups
//! whose person signs first, their documents made, one link each; then each group signed through
//! the test helpers' `POST /_qianshu/sign` (the page's sign-all minus the one-time code), one
//! at a time, request to answer (the answer comes after the commit). Then sign links issued per
//! second: `ChannelCreateBatchQuickSignUrl`, signed by TC3 like an SDK, from concurrent
//! workers. See bench/README.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

mod common;
mod fixtures;
use common::{HttpClient, Outcome, Server, Target, signed};
use fixtures::{ENT, IND, SIGN_TEMPLATE, SIGNER_FIELD, app_id, tenants};

#[derive(Parser, Clone)]
struct Args {
    #[command(flatten)]
    target: Target,
    /// Groups signed (one after the other) for each group size
    #[arg(long, default_value_t = 20)]
    groups: usize,
    /// Contracts per group, one measurement each
    #[arg(long, value_delimiter = ',', default_values_t = [2usize, 10, 50])]
    sizes: Vec<usize>,
    /// Seconds per sign-link measurement (0 skips them)
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Sign-link requests in flight at once
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Passed to the server as --synthesis-workers (background render threads; signatures are
    /// drawn on signing threads, one per core, whatever this says); without it the server's
    /// default (1)
    #[arg(long)]
    synthesis_workers: Option<usize>,
}

const NAME: &str = "张三";
const MOBILE: &str = "18888888888";

fn agent() -> Value {
    json!({"AppId": app_id(0), "ProxyOrganizationOpenId": "bench_org", "ProxyOperator": {"OpenId": "bench_op"}})
}

/// The `Response` of an essbasic call, or its error.
async fn call(client: &HttpClient, address: &str, action: &str, body: &Value) -> anyhow::Result<Value> {
    let request = signed(address, 0, action, serde_json::to_vec(body)?);
    let bytes = client.request(request).await?.into_body().collect().await?.to_bytes();
    let mut v: Value = serde_json::from_slice(&bytes)?;
    let response = v["Response"].take();
    if let Some(e) = response.get("Error") {
        bail!("{action}: {e}");
    }
    Ok(response)
}

/// A group of `flows` contracts from the sign template, its documents made: (FlowGroupId, FlowIds).
async fn group(client: &HttpClient, address: &str, flows: usize) -> anyhow::Result<(String, Vec<String>)> {
    let flow = json!({
        "FlowName": "压测签署合同", "TemplateId": SIGN_TEMPLATE,
        "FlowApprovers": [
            {"Name": NAME, "Mobile": MOBILE, "ApproverType": "PERSON", "RecipientId": IND},
            {"OrganizationOpenId": "bench_org", "OpenId": "bench_op", "ApproverType": "ORGANIZATION", "RecipientId": ENT}],
        "FormFields": [{"ComponentId": "PartyA", "ComponentValue": "压测企业"}, {"ComponentId": "PartyB", "ComponentValue": NAME}]
    });
    let body = json!({"Agent": agent(), "FlowGroupName": "压测签署合同组", "FlowInfos": vec![flow; flows]});
    let created = call(client, address, "ChannelCreateFlowGroupByTemplates", &body).await?;
    let group_id = created["FlowGroupId"].as_str().context("FlowGroupId")?.to_owned();
    let flow_ids: Vec<String> = serde_json::from_value(created["FlowIds"].clone())?;
    // Made on the spot if the background workers have not made them yet, so that the signing
    // measured draws on finished documents, as a signer who opened the link and read would.
    let urls =
        call(client, address, "DescribeResourceUrlsByFlows", &json!({"Agent": agent(), "FlowIds": flow_ids})).await?;
    let made = urls["FlowResourceUrlInfos"].as_array().map_or(0, |a| a.len());
    ensure!(made == flows, "{made} of {flows} documents made");
    Ok((group_id, flow_ids))
}

fn link_request(group_id: &str) -> Value {
    json!({"Agent": agent(), "FlowGroupId": group_id,
           "FlowApproverInfo": {"ApproverType": "PERSON", "Name": NAME, "Mobile": MOBILE}})
}

async fn link(client: &HttpClient, address: &str, group_id: &str) -> anyhow::Result<String> {
    let answer = call(client, address, "ChannelCreateBatchQuickSignUrl", &link_request(group_id)).await?;
    Ok(answer["FlowApproverUrlInfo"]["SignUrl"].as_str().context("SignUrl")?.to_owned())
}

/// 全部签署 for the link's signer; the time from sending to the whole answer.
async fn sign_all(client: &HttpClient, address: &str, url: &str, flows: usize) -> anyhow::Result<Duration> {
    let body = json!({"SignUrl": url, "SignatureText": NAME,
                      "FormFields": [{"ComponentName": SIGNER_FIELD, "ComponentValue": "已阅读并同意全部条款"}]});
    let request = hyper::Request::post(format!("http://{address}/_qianshu/sign"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(&body)?)))?;
    let start = Instant::now();
    let response = client.request(request).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    let elapsed = start.elapsed();
    let v: Value = serde_json::from_slice(&bytes)?;
    ensure!(status.is_success(), "/_qianshu/sign answered {status}: {v}");
    let signed = v["FlowIds"].as_array().map_or(0, |a| a.len());
    ensure!(signed == flows, "{signed} of {flows} contracts signed");
    Ok(elapsed)
}

/// `concurrency` workers asking for links to `group_id` back to back for `seconds`.
async fn links(client: &HttpClient, address: &str, args: &Args, group_id: &str) -> Outcome {
    let body = Arc::new(serde_json::to_vec(&link_request(group_id)).expect("JSON"));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let start = Instant::now();
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (client, address, body) = (client.clone(), address.to_owned(), body.clone());
            tokio::spawn(async move {
                let mut out = Outcome::default();
                while Instant::now() < deadline {
                    let start = Instant::now();
                    let answer = async {
                        let request = signed(&address, 0, "ChannelCreateBatchQuickSignUrl", (*body).clone());
                        let response = client.request(request).await.map_err(|e| e.to_string())?;
                        let bytes = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
                        let elapsed = start.elapsed();
                        let v: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
                        match v["Response"].get("Error") {
                            Some(e) => Err(e.to_string()),
                            None if v["Response"]["FlowApproverUrlInfo"]["SignUrl"].is_string() => Ok(elapsed),
                            None => Err(format!("no SignUrl: {v}")),
                        }
                    };
                    out.record(answer.await);
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let kinds = args.target.backends()?;
    println!(
        "qianshu-sign-bench: {} groups signed one after the other per size, links for {} s with {} in flight, synthesis workers {}, {} cores",
        args.groups,
        args.seconds,
        args.concurrency,
        args.synthesis_workers.map_or("default".into(), |n| n.to_string()),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for kind in kinds {
        let dir = tempfile::tempdir()?;
        let db = args.target.fresh_database(kind, dir.path()).await?;
        let mut extra = vec!["--test-helpers".to_owned()];
        extra.extend(args.synthesis_workers.map(|n| format!("--synthesis-workers={n}")));
        let server = Server::start(&args.target.server, &tenants(1), &db, dir.path(), &extra).await?;
        let client: HttpClient =
            Client::builder(TokioExecutor::new()).pool_max_idle_per_host(args.concurrency * 2).build_http();
        let address = server.address.as_str();

        println!(
            "{:<9} {:<22} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11} {:>8}",
            kind, "全部签署", "p50 ms", "p90 ms", "p99 ms", "max ms", "ms/contract", "draw CPU ms", "RSS MB"
        );
        for &flows in &args.sizes {
            // One group more than measured: the first signing warms caches (template, font,
            // prepared statements) and is left out.
            let mut urls = Vec::with_capacity(args.groups + 1);
            for _ in 0..=args.groups {
                let (group_id, _) = group(&client, address, flows).await?;
                urls.push(link(&client, address, &group_id).await?);
            }
            let draw_cpu = || server.cpu_seconds("render") + server.cpu_seconds("signing");
            let draw_before = draw_cpu();
            let mut o = Outcome::default();
            for (i, url) in urls.iter().enumerate() {
                let took = sign_all(&client, address, url, flows).await?;
                if i > 0 {
                    o.latencies.push(took);
                }
            }
            let draw = draw_cpu() - draw_before;
            let p50 = o.percentile_ms(0.50);
            println!(
                "{:<9} {:<26} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>11.2} {:>11.0} {:>8.1}",
                kind,
                format!("{flows} contracts × {}", args.groups),
                p50,
                o.percentile_ms(0.90),
                o.percentile_ms(0.99),
                o.percentile_ms(1.0),
                p50 / flows as f64,
                draw * 1000.0 / (args.groups + 1) as f64,
                server.peak_rss_mb()
            );
        }

        if args.seconds > 0 {
            println!(
                "{:<9} {:<22} {:>9} {:>9} {:>9} {:>7}",
                kind, "ChannelCreateBatchQuickSignUrl", "links/s", "p50 ms", "p99 ms", "errors"
            );
            for flows in [50usize, 2] {
                let (group_id, _) = group(&client, address, flows).await?;
                let _ = links(&client, address, &Args { seconds: 1, ..args.clone() }, &group_id).await;
                let mut o = links(&client, address, &args, &group_id).await;
                println!(
                    "{:<9} {:<30} {:>9.0} {:>9.2} {:>9.2} {:>7}",
                    kind,
                    format!("{flows}-contract group × {}", args.concurrency),
                    o.per_second(),
                    o.percentile_ms(0.50),
                    o.percentile_ms(0.99),
                    o.errors
                );
                if let Some(e) = o.first_error {
                    println!("          first error: {e}");
                }
            }
        }
        drop(server);
        db.drop().await;
    }
    Ok(())
}
