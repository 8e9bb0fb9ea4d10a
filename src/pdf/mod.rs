//! PDFs: what qianshu needs to know of one before it accepts it (it parses, is not encrypted,
//! how large its pages are), where text and form fields sit on its pages, and the images,
//! fonts and incremental updates that turn a template into a contract.

pub mod anchor;
pub mod compose;
pub mod font;
pub mod image;
pub mod locate;

use anyhow::{anyhow, bail};

/// Width and height in points of each page, or why the bytes are not a PDF qianshu can use.
pub fn page_sizes(bytes: &[u8]) -> anyhow::Result<Vec<(f64, f64)>> {
    if !bytes.starts_with(b"%PDF-") {
        bail!("it does not start with %PDF-");
    }
    let doc = lopdf::Document::load_mem(bytes).map_err(|e| anyhow!("it cannot be parsed: {e}"))?;
    if doc.is_encrypted() {
        bail!("it is encrypted");
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        bail!("it has no pages");
    }
    pages
        .values()
        .map(|&id| {
            let mut node = doc.get_dictionary(id)?;
            loop {
                if let Ok(mb) = node.get(b"MediaBox").and_then(|o| doc.dereference(o)).and_then(|(_, o)| o.as_array()) {
                    let n: Vec<f64> = mb
                        .iter()
                        .filter_map(|v| v.as_float().ok().map(f64::from).or_else(|| v.as_i64().ok().map(|i| i as f64)))
                        .collect();
                    if n.len() == 4 {
                        return Ok(((n[2] - n[0]).abs(), (n[3] - n[1]).abs()));
                    }
                }
                let parent = node.get(b"Parent")?.as_reference()?;
                node = doc.get_dictionary(parent)?;
            }
        })
        .collect::<Result<Vec<_>, lopdf::Error>>()
        .map_err(|e| anyhow!("a page has no usable MediaBox: {e}"))
}
