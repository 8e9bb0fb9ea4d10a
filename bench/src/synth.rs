//! Contract synthesis on one core: the worker's own code path (`qianshu::synthesis::render`:
//! layout, font subsetting, image, incremental update) over the fixtures in bench/fixtures,
//! with different values for every contract, beside the Python baseline (pypdf + reportlab)
//! run in the same invocation. See bench/README.md.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;
use qianshu::config::FontPaths;
use qianshu::domain::id::TemplateId;
use qianshu::domain::template::{Component, ComponentType, Placement, Template};
use qianshu::pdf::compose::PreparedTemplate;
use qianshu::pdf::font::Fonts;
use qianshu::pdf::image::image_xobject;
use qianshu::synthesis::{Input, render};
use serde::Deserialize;

#[derive(Parser)]
struct Args {
    /// Seconds per measurement
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// The Python baseline's interpreter (a venv with bench/python/requirements.txt); skipped if absent
    #[arg(long, default_value = "bench/python/.venv/bin/python")]
    python: PathBuf,
    /// Where to write one contract of each template, to look at
    #[arg(long)]
    keep: Option<PathBuf>,
    /// The 黑体 font the fields are set in, as the server's --font [default: the server's
    /// default, Noto Sans CJK SC where installed]
    #[arg(long)]
    font: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Fields {
    components: Vec<ComponentJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ComponentJson {
    component_id: String,
    component_name: String,
    component_type: String,
    component_page: u32,
    component_pos_x: f64,
    component_pos_y: f64,
    component_width: f64,
    component_height: f64,
    component_extra: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Variants {
    values: Vec<Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Value {
    component_id: String,
    component_value: String,
}

const FIXTURES: &str = "bench/fixtures";

fn template(fields: &Fields) -> anyhow::Result<Template> {
    let components = fields
        .components
        .iter()
        .map(|c| {
            Ok(Component {
                component_id: c.component_id.clone(),
                component_name: c.component_name.clone(),
                component_type: ComponentType::parse(&c.component_type, "ComponentType")
                    .map_err(|e| anyhow::anyhow!(e.message))?,
                recipient_id: None,
                placement: Placement {
                    page: c.component_page,
                    x: c.component_pos_x,
                    y: c.component_pos_y,
                    width: c.component_width,
                    height: c.component_height,
                },
                required: false,
                extra: c.component_extra.clone(),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Template {
        template_id: TemplateId::generate(),
        name: "bench".into(),
        description: String::new(),
        recipients: Vec::new(),
        components,
        pdf_sha256: String::new(),
        snapshot: Default::default(),
        created_on: 0,
    })
}

/// Contracts per second on this thread, and one contract.
fn measure(inputs: &[Input], fonts: &Fonts, seconds: u64) -> anyhow::Result<(f64, usize, Vec<u8>)> {
    let first = render(&inputs[0], fonts)?;
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < Duration::from_secs(seconds) {
        let pdf = render(&inputs[n % inputs.len()], fonts)?;
        std::hint::black_box(pdf);
        n += 1;
    }
    Ok((n as f64 / start.elapsed().as_secs_f64(), n, first))
}

fn baseline(python: &Path, pdf: &str, seconds: u64) -> Option<f64> {
    if !python.exists() {
        eprintln!("python baseline skipped: {} not found (see bench/python/README.md)", python.display());
        return None;
    }
    let out = std::process::Command::new(python)
        .args(["bench/python/baseline.py", "--template", &format!("{FIXTURES}/{pdf}"), "--fields"])
        .arg(format!("{FIXTURES}/fields.json"))
        .args(["--seconds", &seconds.to_string(), "--vary"])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("python baseline failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    line["per_second"].as_f64()
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let fonts = Fonts::load(&FontPaths { hei: args.font.clone(), ..FontPaths::default() })?;
    anyhow::ensure!(fonts.any(), "no CJK font found: install fonts-noto-cjk");
    println!("fonts: {}", fonts.describe());
    let fields: Fields = serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/fields.json"))?)?;
    let variants: Variants = serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/variants.json"))?)?;
    let template = Arc::new(template(&fields)?);
    let photo = std::fs::read(format!("{FIXTURES}/photo.png")).context("reading photo.png")?;
    let image = Arc::new(image_xobject(&photo)?);
    println!(
        "{:<22} {:>14} {:>10} {:>14} {:>8}",
        "template", "qianshu/s/core", "KB/contract", "python/s/core", "ratio"
    );
    for pdf in ["one-page.pdf", "twenty-pages.pdf"] {
        let bytes = Bytes::from(std::fs::read(format!("{FIXTURES}/{pdf}"))?);
        let prepared = Arc::new(PreparedTemplate::new(bytes.clone())?);
        let inputs: Vec<Input> = variants
            .values
            .iter()
            .map(|values| Input {
                template: template.clone(),
                prepared: prepared.clone(),
                fields: values.iter().map(|v| (v.component_id.clone(), v.component_value.clone())).collect(),
                images: HashMap::from([("photo.png".to_owned(), image.clone())]),
            })
            .collect();
        let (rate, _, first) = measure(&inputs, &fonts, args.seconds)?;
        if let Some(dir) = &args.keep {
            std::fs::create_dir_all(dir)?;
            std::fs::write(dir.join(pdf), &first)?;
        }
        let python = baseline(&args.python, pdf, args.seconds);
        println!(
            "{:<22} {:>14.0} {:>10.1} {:>14} {:>8}",
            pdf,
            rate,
            (first.len() - bytes.len()) as f64 / 1024.0,
            python.map_or("-".into(), |p| format!("{p:.1}")),
            python.map_or("-".into(), |p| format!("{:.1}×", rate / p)),
        );
    }
    Ok(())
}
