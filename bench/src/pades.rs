//! PAdES signatures per second beside pyHanko, on the same contracts in the same run: each
//! qianshu signature issues an event certificate, draws the signer's boxes and appends the
//! signed revision (`qianshu::pdf::pades::sign`), B-B and B-T (the built-in TSA, in process);
//! pyHanko (bench/python/pades.py, a subprocess) signs the same first revision's signature
//! field with an RSA-2048 and an ECDSA P-256 key. See bench/README.md.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use bytes::Bytes;
use clap::Parser;
use qianshu::config::{DatabaseUrl, FontPaths};
use qianshu::domain::template::{Component, ComponentType, Placement};
use qianshu::pdf::compose::{PreparedTemplate, compose};
use qianshu::pdf::font::Fonts;
use qianshu::pdf::image::image_xobject;
use qianshu::pdf::pades::{self, Cms, Signer};
use qianshu::pki::{Credential, Pki, PkiSettings, Subject, Timestamper, sign_detached};
use qianshu::secrets::MasterKey;
use qianshu::store::Store;
use qianshu::synthesis::{SignatureAppearance, fill_marks, signing_marks};
use serde_json::Value;

#[derive(Parser)]
struct Args {
    /// Seconds per measurement
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Python with pyhanko (the test venv); the pyHanko columns are left out if it is absent
    #[arg(long, default_value = ".venv/bin/python")]
    python: PathBuf,
    /// Threads of the all-cores run [default: the machine's cores]
    #[arg(long)]
    threads: Option<usize>,
    /// Where to write each contract's first revision and one signed revision per run, to
    /// validate (`pyhanko sign validate --no-revocation-check --trust-replace --trust DIR/root.pem …`)
    #[arg(long)]
    keep: Option<PathBuf>,
}

/// One contract: its first revision (the initiator's values and every signer's empty fields)
/// and the signer whose signature the bench makes, again and again, on it.
struct Contract {
    name: &'static str,
    pages: usize,
    first: Vec<u8>,
    signer: &'static str,
    signer_name: &'static str,
    organization: Option<&'static str>,
    components: Vec<Component>,
    values: Vec<(String, String)>,
    appearance: SignatureAppearance,
    /// The signer's signature field, which pyHanko fills.
    field: String,
}

const EMPLOYER: &str = "yDwgKUUckp1jdybwUWptGKyGVpNME9fH";
const EMPLOYEE: &str = "yDwgKUUckp1jdybvUWptGKBD9TeupFMV";
const ORGANIZATION: &str = "典子谦示例企业";
const BENCH_SIGNER: &str = "bench-signer";

fn component(c: &Value, recipient: Option<&str>) -> anyhow::Result<Component> {
    let text = |k: &str| c[k].as_str().map(str::to_owned).with_context(|| format!("{k} of {c}"));
    let number = |k: &str| c[k].as_f64().with_context(|| format!("{k} of {c}"));
    Ok(Component {
        component_id: text("ComponentId")?,
        component_name: text("ComponentName")?,
        component_type: ComponentType::parse(&text("ComponentType")?, "ComponentType")
            .map_err(|e| anyhow::anyhow!(e.message))?,
        recipient_id: c["ComponentRecipientId"].as_str().or(recipient).map(str::to_owned),
        placement: Placement {
            page: number("ComponentPage")? as u32,
            x: number("ComponentPosX")?,
            y: number("ComponentPosY")?,
            width: number("ComponentWidth")?,
            height: number("ComponentHeight")?,
        },
        required: false,
        extra: c["ComponentExtra"].as_str().map(str::to_owned),
    })
}

fn mine(components: &[Component], recipient: Option<&str>) -> Vec<Component> {
    components.iter().filter(|c| c.recipient_id.as_deref() == recipient).cloned().collect()
}

fn pairs(values: &[(&str, &str)]) -> Vec<(String, String)> {
    values.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn read_json(path: &str) -> anyhow::Result<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?)
        .with_context(|| format!("parsing {path}"))
}

/// The demo tenants' employment contract (2 pages, a salary table), signed by the employer
/// first (a generated seal, the date and an opinion): the signature that certifies it.
fn employment_contract(fonts: &Fonts) -> anyhow::Result<Contract> {
    let file = read_json("examples/demo-tenants.json")?;
    let template = &file["Applications"][0]["Templates"][0];
    ensure!(template["Pdf"] == "templates/employment-contract.pdf", "the demo's first template moved");
    let all: Vec<Component> = template["Components"]
        .as_array()
        .context("Components")?
        .iter()
        .map(|c| component(c, None))
        .collect::<anyhow::Result<_>>()?;
    let initiator = pairs(&[
        ("CompanyName", ORGANIZATION),
        ("EmployeeName", "张三"),
        ("Position", "高级工程师"),
        ("MonthlySalary", "25000"),
        ("StartDate", "2026-12-01"),
    ]);
    let marks = fill_marks(&mine(&all, None), &initiator, &HashMap::new(), fonts)?;
    let prepared = PreparedTemplate::new(Bytes::from(std::fs::read("examples/templates/employment-contract.pdf")?))?;
    let first = compose(&prepared, &marks, &pades::form_fields([EMPLOYER, EMPLOYEE], &all), fonts)?;
    Ok(Contract {
        name: "employment",
        pages: prepared.page_count(),
        first,
        signer: EMPLOYER,
        signer_name: ORGANIZATION,
        organization: Some(ORGANIZATION),
        components: mine(&all, Some(EMPLOYER)),
        values: pairs(&[("EmployerOpinion", "同意录用")]),
        appearance: SignatureAppearance::GeneratedSeal(ORGANIZATION.into()),
        field: "EmployerSeal".into(),
    })
}

/// The synthesis bench's 20-page fixture with its ten filled boxes (value set 0, the photo)
/// and one person who signs on the last page: a typed signature and the date.
fn twenty_pages(fonts: &Fonts) -> anyhow::Result<Contract> {
    let fields = read_json("bench/fixtures/fields.json")?;
    let variants = read_json("bench/fixtures/variants.json")?;
    let mut all: Vec<Component> = fields["Components"]
        .as_array()
        .context("Components")?
        .iter()
        .map(|c| component(c, None))
        .collect::<anyhow::Result<_>>()?;
    let box_on_last_page = |id: &str, kind: ComponentType, y: f64, height: f64, extra: Option<&str>| Component {
        component_id: id.into(),
        component_name: id.into(),
        component_type: kind,
        recipient_id: Some(BENCH_SIGNER.into()),
        placement: Placement { page: 20, x: 350.0, y, width: 180.0, height },
        required: true,
        extra: extra.map(str::to_owned),
    };
    all.push(box_on_last_page("SignerSignature", ComponentType::SignSignature, 600.0, 60.0, None));
    all.push(box_on_last_page("SignerDate", ComponentType::SignDate, 670.0, 20.0, Some(r#"{"FontSize":12}"#)));
    let values: Vec<(String, String)> = variants["Values"][0]
        .as_array()
        .context("Values")?
        .iter()
        .map(|v| {
            (
                v["ComponentId"].as_str().unwrap_or_default().into(),
                v["ComponentValue"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    let photo = Arc::new(image_xobject(&std::fs::read("bench/fixtures/photo.png")?)?);
    let images = HashMap::from([("photo.png".to_owned(), photo)]);
    let marks = fill_marks(&mine(&all, None), &values, &images, fonts)?;
    let prepared = PreparedTemplate::new(Bytes::from(std::fs::read("bench/fixtures/twenty-pages.pdf")?))?;
    let first = compose(&prepared, &marks, &pades::form_fields([BENCH_SIGNER], &all), fonts)?;
    Ok(Contract {
        name: "twenty-pages",
        pages: prepared.page_count(),
        first,
        signer: BENCH_SIGNER,
        signer_name: "李四",
        organization: None,
        components: mine(&all, Some(BENCH_SIGNER)),
        values: Vec::new(),
        appearance: SignatureAppearance::Typed("李四".into()),
        field: "SignerSignature".into(),
    })
}

/// The CMS of one signing event: its own credential, timestamped (B-T) or not (B-B).
struct EventCms<'a> {
    credential: &'a Credential,
    timestamper: Option<&'a dyn Timestamper>,
    max_len: usize,
}

impl Cms for EventCms<'_> {
    fn sign(&self, signed: [&[u8]; 2]) -> anyhow::Result<Vec<u8>> {
        sign_detached(self.credential, signed, self.timestamper)
    }

    fn max_len(&self) -> usize {
        self.max_len
    }
}

/// Room for a CMS: one made over nothing, plus what another subject name, a longer ECDSA
/// signature or timestamp token can add.
fn reserved(pki: &Pki, contract: &Contract, timestamped: bool) -> anyhow::Result<usize> {
    let credential =
        pki.event_credential(Subject { name: contract.signer_name, organization: contract.organization })?;
    let probe = sign_detached(&credential, [&[], &[]], timestamped.then(|| pki.timestamper()))?;
    Ok(probe.len() + 512)
}

/// One signing event as the server makes it: certificate, drawing, signed revision.
fn sign_once(
    pki: &Pki,
    fonts: &Fonts,
    contract: &Contract,
    timestamped: bool,
    max_len: usize,
) -> anyhow::Result<Vec<u8>> {
    let credential =
        pki.event_credential(Subject { name: contract.signer_name, organization: contract.organization })?;
    let marks = signing_marks(
        &contract.components,
        &contract.values,
        &HashMap::new(),
        std::slice::from_ref(&contract.appearance),
        time::OffsetDateTime::now_utc().date(),
        fonts,
    )?;
    let signer = Signer {
        recipient_id: contract.signer,
        components: &contract.components,
        name: contract.signer_name,
        signed_at: time::OffsetDateTime::now_utc(),
    };
    let cms = EventCms { credential: &credential, timestamper: timestamped.then(|| pki.timestamper()), max_len };
    pades::sign(&contract.first, &signer, &marks, fonts, &cms)
}

/// The signature of `signed` checks out against qianshu's root, timestamped when it should be.
fn check(pki: &Pki, signed: &[u8], timestamped: bool) -> anyhow::Result<()> {
    let signatures = pades::signatures(signed)?;
    ensure!(signatures.len() == 1, "{} signatures in a once-signed contract", signatures.len());
    let report = pki.verify_detached(&signatures[0].cms, signatures[0].signed(signed));
    ensure!(report.is_valid(), "the bench's own signature does not verify: {report:?}");
    ensure!(report.timestamp.is_some() == timestamped, "timestamp present: {}", report.timestamp.is_some());
    Ok(())
}

struct Timing {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Signatures one after the other on this thread for `seconds`.
fn one_thread(
    pki: &Pki,
    fonts: &Fonts,
    contract: &Contract,
    timestamped: bool,
    max_len: usize,
    seconds: u64,
) -> anyhow::Result<Timing> {
    let mut latencies = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(seconds) {
        let t = Instant::now();
        std::hint::black_box(sign_once(pki, fonts, contract, timestamped, max_len)?);
        latencies.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let per_second = latencies.len() as f64 / start.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    Ok(Timing { per_second, p50_ms: percentile(&latencies, 0.5), p99_ms: percentile(&latencies, 0.99) })
}

/// Signatures per second over `threads` threads signing back to back for `seconds`.
fn all_threads(
    pki: &Pki,
    fonts: &Fonts,
    contract: &Contract,
    timestamped: bool,
    max_len: usize,
    seconds: u64,
    threads: usize,
) -> anyhow::Result<f64> {
    let start = Instant::now();
    let counts = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<usize> {
                    let mut n = 0;
                    while start.elapsed() < Duration::from_secs(seconds) {
                        std::hint::black_box(sign_once(pki, fonts, contract, timestamped, max_len)?);
                        n += 1;
                    }
                    Ok(n)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("a signing thread panicked")).collect::<anyhow::Result<Vec<_>>>()
    })?;
    Ok(counts.iter().sum::<usize>() as f64 / start.elapsed().as_secs_f64())
}

/// pyHanko's timing of the same signature field of the same bytes, or why there is none.
fn pyhanko(args: &Args, pdf: &Path, field: &str, key: &str, tsa: Option<&str>) -> Result<Timing, String> {
    if !args.python.exists() {
        return Err(format!("{} not found", args.python.display()));
    }
    let mut command = std::process::Command::new(&args.python);
    command.args(["bench/python/pades.py", "--pdf"]).arg(pdf).args([
        "--field",
        field,
        "--key",
        key,
        "--seconds",
        &args.seconds.to_string(),
    ]);
    if let Some(url) = tsa {
        command.args(["--tsa", url]);
    }
    let out = command.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let line: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let number = |k: &str| line[k].as_f64().ok_or_else(|| format!("no {k} in {line}"));
    Ok(Timing { per_second: number("per_second")?, p50_ms: number("p50_ms")?, p99_ms: number("p99_ms")? })
}

/// qianshu's TSA on a loopback port (`POST /tsa`, as the server serves it), for pyHanko's B-T.
async fn serve_tsa(pki: Arc<Pki>) -> anyhow::Result<String> {
    use axum::routing::post;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/tsa",
        post(move |body: Bytes| {
            let pki = pki.clone();
            async move {
                let reply = tokio::task::spawn_blocking(move || pki.tsa().respond(&body)).await.unwrap_or_default();
                ([(axum::http::header::CONTENT_TYPE, "application/timestamp-reply")], reply)
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}/tsa"))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let pki = runtime.block_on(async {
        let url = DatabaseUrl::new(format!("sqlite://{}", dir.path().join("bench.db").display()));
        let key = MasterKey::from_hex(&"42".repeat(32), "the bench")?;
        let store = Store::connect(&url, key).await?;
        Pki::load(&store, &PkiSettings::default(), "http://127.0.0.1").await.map(Arc::new)
    })?;
    let tsa_url = runtime.block_on(serve_tsa(pki.clone()))?;
    let fonts = Fonts::load(&FontPaths::default())?;
    ensure!(fonts.any(), "no CJK font found: install fonts-noto-cjk");
    let keep = args.keep.clone().unwrap_or_else(|| dir.path().join("keep"));
    std::fs::create_dir_all(&keep)?;
    std::fs::write(keep.join("root.pem"), pki.root_pem())?;

    println!(
        "{threads} threads for the all-cores runs; {} s per measurement; fonts: {}",
        args.seconds,
        fonts.describe()
    );
    println!(
        "{:<20} {:<26} {:>9} {:>9} {:>9} {:>11} {:>8}",
        "contract", "signer", "sig/s·1", "p50 ms", "p99 ms", "sig/s·all", "ratio"
    );
    for contract in [employment_contract(&fonts)?, twenty_pages(&fonts)?] {
        let first = keep.join(format!("{}.pdf", contract.name));
        std::fs::write(&first, &contract.first)?;
        let label = format!("{} ({} p.)", contract.name, contract.pages);
        // qianshu's signatures per second on one thread, B-B then B-T: what pyHanko's, also on
        // one thread, are divided into.
        let mut qianshu = [0.0; 2];
        for (level, timestamped) in [("B-B", false), ("B-T", true)] {
            let max_len = reserved(&pki, &contract, timestamped)?;
            let signed = sign_once(&pki, &fonts, &contract, timestamped, max_len)?;
            check(&pki, &signed, timestamped)?;
            std::fs::write(keep.join(format!("{}-qianshu-{level}.pdf", contract.name)), &signed)?;
            let one = one_thread(&pki, &fonts, &contract, timestamped, max_len, args.seconds)?;
            let all = all_threads(&pki, &fonts, &contract, timestamped, max_len, args.seconds, threads)?;
            qianshu[usize::from(timestamped)] = one.per_second;
            println!(
                "{:<20} {:<26} {:>9.0} {:>9.2} {:>9.2} {:>11.0} {:>8}",
                label,
                format!("qianshu ECDSA P-256 {level}"),
                one.per_second,
                one.p50_ms,
                one.p99_ms,
                all,
                ""
            );
            std::io::stdout().flush()?;
        }
        for (key, tsa) in [("rsa2048", None), ("p256", None), ("rsa2048", Some(tsa_url.as_str()))] {
            let level = if tsa.is_some() { "B-T" } else { "B-B" };
            let who = format!("pyHanko {} {level}", if key == "p256" { "ECDSA P-256" } else { "RSA-2048" });
            match pyhanko(&args, &first, &contract.field, key, tsa) {
                Ok(py) => println!(
                    "{:<20} {:<26} {:>9.1} {:>9.2} {:>9.2} {:>11} {:>7.1}×",
                    label,
                    who,
                    py.per_second,
                    py.p50_ms,
                    py.p99_ms,
                    "-",
                    qianshu[usize::from(tsa.is_some())] / py.per_second
                ),
                Err(why) => {
                    println!("{label:<20} {who:<26} {:>9}", "-");
                    eprintln!("{who}: {why}");
                }
            }
            std::io::stdout().flush()?;
        }
    }
    if let Some(keep) = &args.keep {
        println!(
            "kept in {}: each contract's first revision, a qianshu signature of each level, root.pem",
            keep.display()
        );
    }
    Ok(())
}
