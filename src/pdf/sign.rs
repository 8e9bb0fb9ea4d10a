//! The marks of a signing that are set as text: a typed signature and a line fitted to its box.
//! What is drawn is decided elsewhere ([`crate::synthesis::signing_marks`]); it goes into the
//! signer's form fields' appearances ([`super::pades::sign`]).

use anyhow::anyhow;

use super::compose::Mark;
use super::font::Fonts;
use crate::domain::document::{Align, FontFamily, Metrics, TextStyle, set_text};
use crate::domain::template::Placement;

/// `latest` with `marks` drawn on it as page content in one incremental update; `latest` is an
/// exact prefix of the result. Signings fill form fields instead ([`super::pades::sign`]); the
/// tests draw with this to look at the marks, and to tamper as a forger would.
#[cfg(test)]
pub fn next_revision(latest: bytes::Bytes, marks: &[Mark], fonts: &Fonts) -> anyhow::Result<Vec<u8>> {
    super::compose::draw(&super::compose::PreparedTemplate::new(latest)?, marks, fonts)?.write()
}

/// Typed signatures are set in 宋体 (no free brush or 楷体 face comes with the system fonts).
const TYPED_SIGNATURE_FONT: FontFamily = FontFamily::Song;
/// A typed name's characters take at most this share of its box's height.
const TYPED_SIGNATURE_HEIGHT: f64 = 0.7;

/// The signer's name typed instead of drawn: one line in a CJK font, as large as fits the box
/// (up to seven tenths of its height), centred.
pub fn typed_signature(name: &str, rect: Placement, fonts: &Fonts) -> anyhow::Result<Mark> {
    let style =
        TextStyle { font: TYPED_SIGNATURE_FONT, size: rect.height * TYPED_SIGNATURE_HEIGHT, ..TextStyle::default() };
    fitted_line(name.trim(), rect, style, fonts)
}

/// `text` on one line centred in `rect`, at `style.size` if it fits and smaller if not.
pub fn fitted_line(text: &str, rect: Placement, style: TextStyle, fonts: &dyn Metrics) -> anyhow::Result<Mark> {
    let mut width = 0.0;
    for c in text.chars() {
        width += fonts.advance(style.font, c).ok_or_else(|| {
            anyhow!("the font for {} has no glyph for `{c}` (U+{:04X})", style.font.as_str(), c as u32)
        })?;
    }
    let (ascent, descent) = fonts.ascent_descent(style.font);
    // Just under the largest size that fits, so that rounding cannot push the line out.
    let fits = (rect.width / width.max(f64::MIN_POSITIVE)).min(rect.height / (ascent + descent)) * 0.999;
    let style = TextStyle { size: style.size.min(fits), align: Align::Center, ..style };
    let lines = set_text(text, &style, rect.width, rect.height, fonts)
        .map_err(|e| anyhow!("`{text}` cannot be set: {}", e.describe(rect.width, rect.height, style.size)))?;
    Ok(Mark::Text { page: rect.page, rect, lines, style })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::Arc;

    use bytes::Bytes;

    use super::*;
    use crate::domain::template::{Component, ComponentType};
    use crate::pdf::compose::{PreparedTemplate, compose};
    use crate::pdf::image::image_xobject;
    use crate::synthesis::{SignatureAppearance, fill_marks, signing_marks};

    pub(crate) const EMPLOYER: &str = "yDwgKUUckp1jdybwUWptGKyGVpNME9fH";
    pub(crate) const EMPLOYEE: &str = "yDwgKUUckp1jdybvUWptGKBD9TeupFMV";
    pub(crate) const TEMPLATE: &str = "examples/templates/employment-contract.pdf";

    /// The system's Noto CJK fonts and the PDF tools, or `None` (outside CI) to skip.
    pub(crate) fn fonts_and_tools() -> Option<Fonts> {
        let fonts = Fonts::load(&Default::default()).unwrap();
        let tools = ["qpdf", "pdftotext", "pdftoppm"]
            .iter()
            .all(|t| Command::new(t).arg("-v").output().is_ok_and(|o| o.status.success() || !o.stderr.is_empty()));
        if fonts.any() && tools {
            return Some(fonts);
        }
        assert!(std::env::var("CI").is_err(), "CI installs Noto CJK, qpdf and poppler-utils (scripts/test.sh)");
        eprintln!("SKIPPED: no Noto CJK font or no qpdf/poppler-utils installed");
        None
    }

    /// The employment contract's components as the demo tenants file places them.
    pub(crate) fn components() -> Vec<Component> {
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string("examples/demo-tenants.json").unwrap()).unwrap();
        let template = &file["Applications"][0]["Templates"][0];
        assert_eq!(template["Pdf"], "templates/employment-contract.pdf");
        let number = |c: &serde_json::Value, k: &str| c[k].as_f64().unwrap();
        template["Components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| Component {
                component_id: c["ComponentId"].as_str().unwrap().to_owned(),
                component_name: c["ComponentName"].as_str().unwrap().to_owned(),
                component_type: ComponentType::parse(c["ComponentType"].as_str().unwrap(), "t").unwrap(),
                recipient_id: c["ComponentRecipientId"].as_str().map(str::to_owned),
                placement: Placement {
                    page: c["ComponentPage"].as_u64().unwrap() as u32,
                    x: number(c, "ComponentPosX"),
                    y: number(c, "ComponentPosY"),
                    width: number(c, "ComponentWidth"),
                    height: number(c, "ComponentHeight"),
                },
                required: false,
                extra: c["ComponentExtra"].as_str().map(str::to_owned),
            })
            .collect()
    }

    pub(crate) fn of(components: &[Component], recipient: Option<&str>) -> Vec<Component> {
        components.iter().filter(|c| c.recipient_id.as_deref() == recipient).cloned().collect()
    }

    fn placement(components: &[Component], id: &str) -> Placement {
        components.iter().find(|c| c.component_id == id).unwrap().placement
    }

    pub(crate) fn fields(values: &[(&str, &str)]) -> Vec<(String, String)> {
        values.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// What a signing page's `<canvas>` sends: a transparent PNG with a dark stroke across it.
    pub(crate) fn canvas_png(width: u32, height: u32) -> Vec<u8> {
        let mut pixels = vec![0u8; (width * height * 4) as usize];
        for x in 0..width {
            let t = f64::from(x) / f64::from(width);
            let y = f64::from(height) * (0.5 + 0.3 * (t * 9.0).sin());
            for dy in -3i32..=3 {
                let row = y as i32 + dy;
                if (0..height as i32).contains(&row) {
                    let at = ((row as u32 * width + x) * 4) as usize;
                    pixels[at..at + 4].copy_from_slice(&[20, 20, 40, if dy.abs() == 3 { 128 } else { 255 }]);
                }
            }
        }
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&pixels).unwrap();
        writer.finish().unwrap();
        out
    }

    pub(crate) fn run(program: &str, args: &[&str]) -> std::process::Output {
        Command::new(program).args(args).output().unwrap()
    }

    pub(crate) fn qpdf_check(pdf: &Path) {
        let out = run("qpdf", &["--check", pdf.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}: {stdout}{}", pdf.display(), String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("No syntax or stream encoding errors found"), "{stdout}");
    }

    /// pdftotext's reading of one page, without spaces and line breaks.
    pub(crate) fn text(pdf: &Path, page: u32) -> String {
        let page = page.to_string();
        let out = run("pdftotext", &["-enc", "UTF-8", "-f", &page, "-l", &page, pdf.to_str().unwrap(), "-"]);
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().chars().filter(|c| !c.is_whitespace()).collect()
    }

    /// A page rendered in colour at `dpi`: width, height and RGB pixels.
    pub(crate) fn rendered(pdf: &Path, page: u32, dpi: u32) -> (usize, usize, Vec<u8>) {
        let (page, dpi) = (page.to_string(), dpi.to_string());
        let out = run("pdftoppm", &["-r", &dpi, "-f", &page, "-l", &page, pdf.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        // P6, width, height, 255, each followed by one whitespace byte.
        let mut fields = out.stdout.splitn(5, |b| b.is_ascii_whitespace());
        assert_eq!(fields.next(), Some(&b"P6"[..]));
        let mut number = || std::str::from_utf8(fields.next().unwrap()).unwrap().parse::<usize>().unwrap();
        let (w, h, _) = (number(), number(), number());
        let pixels = fields.next().unwrap().to_vec();
        assert_eq!(pixels.len(), w * h * 3);
        (w, h, pixels)
    }

    /// Pixels matching `is`, as (x, y) in points from the page's top-left.
    pub(crate) fn pixels(
        (w, _, rgb): &(usize, usize, Vec<u8>),
        dpi: u32,
        is: impl Fn([u8; 3]) -> bool,
    ) -> Vec<(f64, f64)> {
        let scale = 72.0 / f64::from(dpi);
        rgb.chunks_exact(3)
            .enumerate()
            .filter(|(_, p)| is([p[0], p[1], p[2]]))
            .map(|(i, _)| (((i % w) as f64 + 0.5) * scale, ((i / w) as f64 + 0.5) * scale))
            .collect()
    }

    pub(crate) fn red(p: [u8; 3]) -> bool {
        p[0] > 150 && p[1] < 110 && p[2] < 110
    }

    pub(crate) fn dark(p: [u8; 3]) -> bool {
        p.iter().all(|v| *v < 110)
    }

    pub(crate) fn within(p: Placement, margin: f64) -> impl Fn(&(f64, f64)) -> bool {
        move |&(x, y)| {
            x >= p.x - margin && x <= p.x + p.width + margin && y >= p.y - margin && y <= p.y + p.height + margin
        }
    }

    pub(crate) fn date() -> time::Date {
        time::macros::date!(2026 - 12 - 02)
    }

    /// The contract (template, then the initiator's values), the employer signing with the
    /// generated seal, the employee with a drawn signature: each revision a prefix of the
    /// next, each passing qpdf, each showing every revision's text.
    fn chain(template: Bytes, dir: &Path, fonts: &Fonts) -> Vec<PathBuf> {
        let all = components();
        let table = r#"{"headers":[{"content":"月份"},{"content":"金额"}],"rowCount":1,"body":{"cells":[{"rowStart":1,"rowEnd":1,"columnStart":1,"columnEnd":1,"content":"2026年1月"},{"rowStart":1,"rowEnd":1,"columnStart":2,"columnEnd":2,"content":"8000.00元"}]}}"#;
        let initiator = fields(&[("CompanyName", "典子谦示例企业"), ("EmployeeName", "张三"), ("SalaryTable", table)]);
        let marks = fill_marks(&of(&all, None), &initiator, &HashMap::new(), fonts).unwrap();
        let first = compose(&PreparedTemplate::new(template.clone()).unwrap(), &marks, &[], fonts).unwrap();

        let employer = signing_marks(
            &of(&all, Some(EMPLOYER)),
            &fields(&[("EmployerOpinion", "同意录用")]),
            &HashMap::new(),
            &[SignatureAppearance::GeneratedSeal("典子谦示例企业".into())],
            date(),
            fonts,
        )
        .unwrap();
        let second = next_revision(Bytes::from(first.clone()), &employer, fonts).unwrap();

        let drawn = Arc::new(image_xobject(&canvas_png(480, 240)).unwrap());
        assert!(drawn.smask.is_some(), "a canvas PNG draws through its transparency");
        let employee = signing_marks(
            &of(&all, Some(EMPLOYEE)),
            &fields(&[("EmergencyContact", "李四 13800000000")]),
            &HashMap::new(),
            &[SignatureAppearance::Drawn(drawn)],
            date(),
            fonts,
        )
        .unwrap();
        let third = next_revision(Bytes::from(second.clone()), &employee, fonts).unwrap();

        let revisions = [template.to_vec(), first, second, third];
        let mut paths = Vec::new();
        for (n, bytes) in revisions.iter().enumerate() {
            if n > 0 {
                assert!(bytes.starts_with(&revisions[n - 1]), "revision {n} rewrote revision {}", n - 1);
            }
            let path = dir.join(format!("r{n}.pdf"));
            std::fs::write(&path, bytes).unwrap();
            qpdf_check(&path);
            paths.push(path);
        }
        let expected: [(usize, u32, &str); 7] = [
            (1, 1, "典子谦示例企业"),
            (1, 1, "张三"),
            (1, 2, "8000.00元"),
            (2, 2, "同意录用"),
            (2, 2, "合同专用章"),
            (2, 2, "2026年12月02日"),
            (3, 2, "李四13800000000"),
        ];
        for (since, page, words) in expected {
            for (n, path) in paths.iter().enumerate() {
                assert_eq!(text(path, page).contains(words), n >= since, "revision {n}, page {page}: `{words}`");
            }
        }
        paths
    }

    #[test]
    fn each_signing_adds_a_revision_that_keeps_every_earlier_one() {
        let Some(fonts) = fonts_and_tools() else { return };
        let dir = tempfile::tempdir().unwrap();
        let paths = chain(Bytes::from(std::fs::read(TEMPLATE).unwrap()), dir.path(), &fonts);

        // Each revision's fonts have names of their own: the page's earlier subsets stay.
        let doc = crate::pdf::load(&std::fs::read(&paths[3]).unwrap()).unwrap();
        let page = &crate::pdf::pages(&doc).unwrap()[1];
        let fonts_of_page: Vec<String> = page
            .resources
            .unwrap()
            .get(b"Font")
            .and_then(|f| doc.dereference(f))
            .and_then(|(_, f)| f.as_dict())
            .unwrap()
            .iter()
            .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
            .filter(|k| k.starts_with("Qs"))
            .collect();
        assert_eq!(fonts_of_page.iter().filter(|k| k.starts_with("QsHei")).count(), 3, "{fonts_of_page:?}");
        assert_eq!(fonts_of_page.iter().filter(|k| k.starts_with("QsSong")).count(), 1, "{fonts_of_page:?}");
    }

    #[test]
    fn a_template_with_a_cross_reference_stream_takes_revisions_of_the_same_kind() {
        let Some(fonts) = fonts_and_tools() else { return };
        let dir = tempfile::tempdir().unwrap();
        let streams = dir.path().join("streams.pdf");
        let out = run("qpdf", &["--object-streams=generate", TEMPLATE, streams.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let paths = chain(Bytes::from(std::fs::read(&streams).unwrap()), dir.path(), &fonts);
        let last = std::fs::read(&paths[3]).unwrap();
        let tail = String::from_utf8_lossy(&last[last.len() - 400..]).into_owned();
        assert!(!tail.contains("trailer"), "the update is a cross-reference stream: {tail}");
    }

    #[test]
    fn the_seal_is_red_ink_inside_its_box_and_the_signature_dark_ink_inside_its_own() {
        let Some(fonts) = fonts_and_tools() else { return };
        let dir = tempfile::tempdir().unwrap();
        let paths = chain(Bytes::from(std::fs::read(TEMPLATE).unwrap()), dir.path(), &fonts);
        let all = components();
        let (seal, signature) = (placement(&all, "EmployerSeal"), placement(&all, "EmployeeSignature"));
        let dpi = 150;
        let before = rendered(&paths[1], 2, dpi);
        let after = rendered(&paths[3], 2, dpi);

        assert!(pixels(&before, dpi, red).is_empty(), "the template has no red");
        let reds = pixels(&after, dpi, red);
        assert!(reds.iter().all(within(seal, 1.0)), "red outside the seal's box");
        // A ring, a star and eight characters cover a good part of a 120-point box.
        let seal_area = seal.width * seal.height * (f64::from(dpi) / 72.0).powi(2);
        assert!(reds.len() as f64 > seal_area * 0.12, "{} red pixels of {seal_area}", reds.len());
        // The ring: red all round, near the box's edges.
        let (cx, cy, r) = (seal.x + seal.width / 2.0, seal.y + seal.height / 2.0, seal.width / 2.0);
        for angle in (0..360).step_by(15) {
            let a = f64::from(angle).to_radians();
            let near =
                |&(x, y): &(f64, f64)| (x - (cx + (r - 2.0) * a.cos())).hypot(y - (cy - (r - 2.0) * a.sin())) < 2.0;
            assert!(reds.iter().any(near), "no ring at {angle}°");
        }

        let dark_before = pixels(&before, dpi, dark).into_iter().filter(within(signature, 0.0)).count();
        let dark_after = pixels(&after, dpi, dark).into_iter().filter(within(signature, 0.0)).count();
        assert!(dark_after > dark_before + 400, "{dark_before} → {dark_after} dark pixels in the signature box");
        // Where the canvas is transparent the page shows through: the box is mostly light.
        let box_pixels = signature.width * signature.height * (f64::from(dpi) / 72.0).powi(2);
        assert!((dark_after as f64) < box_pixels * 0.4, "{dark_after} of {box_pixels}: the signature is opaque");
    }

    #[test]
    fn a_seal_image_draws_through_its_transparency() {
        let Some(fonts) = fonts_and_tools() else { return };
        let dir = tempfile::tempdir().unwrap();
        let all = components();
        let seal = placement(&all, "EmployerSeal");
        let image = Arc::new(image_xobject(&std::fs::read("tests/fixtures/seal.png").unwrap()).unwrap());
        let marks = signing_marks(
            &of(&all, Some(EMPLOYER)),
            &[],
            &HashMap::new(),
            &[SignatureAppearance::Seal(image)],
            date(),
            &fonts,
        )
        .unwrap();
        let template = std::fs::read(TEMPLATE).unwrap();
        let signed = next_revision(Bytes::from(template.clone()), &marks, &fonts).unwrap();
        let (before, after) = (dir.path().join("before.pdf"), dir.path().join("after.pdf"));
        std::fs::write(&before, &template).unwrap();
        std::fs::write(&after, &signed).unwrap();
        qpdf_check(&after);
        let dpi = 150;
        let reds = pixels(&rendered(&after, 2, dpi), dpi, red);
        assert!(!reds.is_empty() && reds.iter().all(within(seal, 1.0)), "{} red pixels", reds.len());
        // Outside its ring the seal image is transparent: nothing there turned white or red.
        let changed: Vec<_> = {
            let ((w, _, a), (_, _, b)) = (rendered(&before, 2, dpi), rendered(&after, 2, dpi));
            let scale = 72.0 / f64::from(dpi);
            a.chunks_exact(3)
                .zip(b.chunks_exact(3))
                .enumerate()
                .filter(|(_, (p, q))| p.iter().zip(q.iter()).any(|(u, v)| u.abs_diff(*v) > 48))
                .map(|(i, _)| (((i % w) as f64 + 0.5) * scale, ((i / w) as f64 + 0.5) * scale))
                .collect()
        };
        let date_box = placement(&all, "EmployerDate");
        let (cx, cy) = (seal.x + seal.width / 2.0, seal.y + seal.height / 2.0);
        let corner = |&(x, y): &(f64, f64)| (x - cx).hypot(y - cy) > seal.width / 2.0 + 1.0;
        assert!(
            changed.iter().filter(|p| !within(date_box, 1.0)(p)).all(|p| within(seal, 1.0)(p) && !corner(p)),
            "the seal image changed the page outside its circle"
        );
        assert!(text(&after, 2).contains("2026年12月02日"));
    }

    #[test]
    fn a_typed_signature_is_one_centred_line_shrunk_to_fit() {
        let Some(fonts) = fonts_and_tools() else { return };
        let rect = Placement { page: 2, x: 420.0, y: 540.0, width: 120.0, height: 60.0 };
        let Mark::Text { lines, style, .. } = typed_signature("张三", rect, &fonts).unwrap() else { panic!() };
        assert_eq!((lines.len(), lines[0].text.as_str()), (1, "张三"));
        assert!((style.size - 42.0).abs() < 1e-9, "a short name is as tall as the box allows: {}", style.size);
        assert!((lines[0].x * 2.0 + lines[0].width - rect.width).abs() < 1e-6, "centred");
        let long = "欧阳娜娜 Nana Ouyang-Zhang";
        let Mark::Text { lines, style, .. } = typed_signature(long, rect, &fonts).unwrap() else { panic!() };
        assert_eq!((lines.len(), lines[0].text.as_str()), (1, long));
        assert!(style.size < 12.0 && lines[0].width <= rect.width && lines[0].width > rect.width * 0.99);

        let all = components();
        let marks = signing_marks(
            &of(&all, Some(EMPLOYEE)),
            &[],
            &HashMap::new(),
            &[SignatureAppearance::Typed(long.into())],
            date(),
            &fonts,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("typed.pdf");
        std::fs::write(&path, next_revision(Bytes::from(std::fs::read(TEMPLATE).unwrap()), &marks, &fonts).unwrap())
            .unwrap();
        qpdf_check(&path);
        let page = text(&path, 2);
        assert!(page.contains("欧阳娜娜NanaOuyang-Zhang") && page.contains("2026年12月02日"), "{page}");
    }

    /// What one signing costs: a filled employment contract gets the employer's generated seal,
    /// opinion and date and the employee's drawn signature and date, in one revision. Prints
    /// figures; run with `cargo test --release -- --ignored --nocapture signing_revision_time`.
    #[test]
    #[ignore]
    fn signing_revision_time() {
        let Some(fonts) = fonts_and_tools() else { return };
        let all = components();
        let marks = fill_marks(
            &of(&all, None),
            &fields(&[("CompanyName", "典子谦示例企业"), ("EmployeeName", "张三"), ("Position", "软件工程师")]),
            &HashMap::new(),
            &fonts,
        )
        .unwrap();
        let contract = Bytes::from(
            compose(
                &PreparedTemplate::new(Bytes::from(std::fs::read(TEMPLATE).unwrap())).unwrap(),
                &marks,
                &[],
                &fonts,
            )
            .unwrap(),
        );
        let png = canvas_png(600, 300);
        let signer = of(&all, Some(EMPLOYER)).into_iter().chain(of(&all, Some(EMPLOYEE))).collect::<Vec<_>>();
        let sign = |decode: bool, drawn: &Arc<crate::pdf::image::ImageXObject>| {
            let drawn = if decode { Arc::new(image_xobject(&png).unwrap()) } else { drawn.clone() };
            let marks = signing_marks(
                &signer,
                &fields(&[("EmployerOpinion", "同意录用")]),
                &HashMap::new(),
                &[SignatureAppearance::GeneratedSeal("典子谦示例企业".into()), SignatureAppearance::Drawn(drawn)],
                date(),
                &fonts,
            )
            .unwrap();
            next_revision(contract.clone(), &marks, &fonts).unwrap()
        };
        let drawn = Arc::new(image_xobject(&png).unwrap());
        let signed = sign(false, &drawn);
        for (decode, what) in [(false, "signature decoded before"), (true, "signature PNG decoded too")] {
            let mut times: Vec<f64> = (0..40)
                .map(|_| {
                    let started = std::time::Instant::now();
                    std::hint::black_box(sign(decode, &drawn));
                    started.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            times.sort_by(f64::total_cmp);
            println!(
                "one signing revision ({what}): median {:.2} ms, p90 {:.2} ms, of {} runs; contract {} → {} bytes",
                times[times.len() / 2],
                times[times.len() * 9 / 10],
                times.len(),
                contract.len(),
                signed.len()
            );
        }
    }

    #[test]
    fn signing_without_the_appearance_a_box_needs_or_with_another_signers_values_is_refused() {
        let Some(fonts) = fonts_and_tools() else { return };
        let all = components();
        let refusal = |recipient, values: &[(&str, &str)], appearances: &[SignatureAppearance]| {
            let e = signing_marks(
                &of(&all, Some(recipient)),
                &fields(values),
                &HashMap::new(),
                appearances,
                date(),
                &fonts,
            )
            .err()
            .expect("refused");
            format!("{e:#}")
        };
        let typed = [SignatureAppearance::Typed("张三".into())];
        assert_eq!(refusal(EMPLOYER, &[], &typed), "component EmployerSeal (SIGN_SEAL) needs a seal");
        let seal = [SignatureAppearance::GeneratedSeal("典子谦示例企业".into())];
        assert_eq!(refusal(EMPLOYEE, &[], &seal), "component EmployeeSignature (SIGN_SIGNATURE) needs a signature");
        assert_eq!(
            refusal(EMPLOYEE, &[("EmployerOpinion", "同意")], &typed),
            "component EmployerOpinion is not among the components filled"
        );
    }
}
