//! PDFs: what qianshu needs to know of one before it accepts it (it parses within bounds, is
//! not encrypted, its page tree is sound and everything its pages draw with is there), where
//! text and form fields sit on its pages, and the images, fonts and incremental updates that
//! turn a template into a contract.
//!
//! Every PDF qianshu reads comes from a caller, so every walk here is bounded: lopdf loads with
//! [`MAX_STREAM_BYTES`] per decompressed stream, the page tree is walked down from the catalog
//! (never up by `/Parent`, which a hostile file can make loop) with a depth and node bound and
//! each node met once, and the objects a page needs are each visited once.

pub mod anchor;
pub mod compose;
pub mod font;
pub mod image;
pub mod locate;
pub mod pades;
pub mod report;
pub mod seal;
pub mod sign;

use std::collections::HashSet;

use anyhow::{anyhow, bail};
use bytes::Bytes;
use lopdf::xref::XrefRecovery;
use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId};

/// The most one stream (object, cross-reference or content stream, form, CMap) may decompress
/// to. Real templates' streams are kilobytes to a few megabytes; lopdf's own default, 256 MB,
/// would let a 60 MB upload hold gigabytes.
pub const MAX_STREAM_BYTES: usize = 32 << 20;
/// The most objects a PDF may hold: a 60 MB file of real content has tens of thousands.
const MAX_OBJECTS: usize = 1_000_000;
/// How deep the page tree may go; real files use 2 to 4 levels.
const MAX_PAGE_TREE_DEPTH: usize = 64;
/// The most pages and page-tree nodes together.
const MAX_PAGE_TREE_NODES: usize = 100_000;

/// Width and height in points of each page of a PDF qianshu can make contracts from, or why it
/// cannot. The bytes are read exactly as synthesis reads them ([`compose::PreparedTemplate`]),
/// so a PDF accepted here always makes documents.
pub fn page_sizes(bytes: Bytes) -> anyhow::Result<Vec<(f64, f64)>> {
    Ok(compose::PreparedTemplate::new(bytes)?.page_sizes())
}

/// Parses a PDF within the bounds above, refusing encrypted files and files whose
/// cross-reference data is lost (a truncated file): a contract is the template's bytes plus an
/// update that points back at that data, so it must be sound.
pub fn load(bytes: &[u8]) -> anyhow::Result<Document> {
    if !bytes.starts_with(b"%PDF-") {
        bail!("it does not start with %PDF-");
    }
    let options = LoadOptions { max_decompressed_size: Some(MAX_STREAM_BYTES), ..LoadOptions::default() };
    let doc = Document::load_mem_with_options(bytes, options).map_err(|e| anyhow!("it cannot be parsed: {e}"))?;
    if doc.is_encrypted() {
        bail!("it is encrypted");
    }
    if matches!(doc.xref_recovery, Some(XrefRecovery::Reconstructed)) {
        bail!("its cross-reference table is missing or damaged (is the file truncated?)");
    }
    if doc.objects.len() > MAX_OBJECTS {
        bail!("it has {} objects, more than the {MAX_OBJECTS} allowed", doc.objects.len());
    }
    Ok(doc)
}

/// A page, with what it inherits from the page-tree nodes above it.
pub struct Page<'a> {
    pub id: ObjectId,
    pub dict: &'a Dictionary,
    /// x0, y0, x1, y1 with x0 < x1 and y0 < y1.
    pub media_box: [f64; 4],
    pub resources: Option<&'a Dictionary>,
}

/// Attributes a page inherits (ISO 32000-1, 7.7.3.4), as found on the way down.
#[derive(Clone, Copy, Default)]
struct Inherited<'a> {
    media_box: Option<&'a Object>,
    resources: Option<&'a Object>,
}

/// Every page in order. The tree is walked down from the catalog's `/Pages` and inherited
/// attributes come from the nodes a page is reached through. A node reached twice (a cycle, or
/// a page listed twice), a `/Parent` other than the node that lists it, a tree deeper than [`MAX_PAGE_TREE_DEPTH`] or larger than
/// [`MAX_PAGE_TREE_NODES`], a kid that is missing or no dictionary, and a page without a usable
/// MediaBox are errors.
pub fn pages(doc: &Document) -> anyhow::Result<Vec<Page<'_>>> {
    let root = doc
        .catalog()
        .ok()
        .and_then(|catalog| catalog.get(b"Pages").ok())
        .and_then(|pages| pages.as_reference().ok())
        .ok_or_else(|| anyhow!("its catalog names no page tree"))?;
    let mut walk = PageWalk { doc, seen: HashSet::new(), pages: Vec::new() };
    walk.node(root, None, Inherited::default(), 0)?;
    if walk.pages.is_empty() {
        bail!("it has no pages");
    }
    Ok(walk.pages)
}

struct PageWalk<'a> {
    doc: &'a Document,
    seen: HashSet<ObjectId>,
    pages: Vec<Page<'a>>,
}

impl<'a> PageWalk<'a> {
    fn node(
        &mut self,
        id: ObjectId,
        parent: Option<ObjectId>,
        inherited: Inherited<'a>,
        depth: usize,
    ) -> anyhow::Result<()> {
        let doc = self.doc;
        if !self.seen.insert(id) {
            bail!("its page tree reaches object {} {} twice", id.0, id.1);
        }
        if self.seen.len() > MAX_PAGE_TREE_NODES {
            bail!("its page tree has more than {MAX_PAGE_TREE_NODES} nodes");
        }
        let dict = doc.get_dictionary(id).map_err(|_| {
            anyhow!("its page tree names object {} {}, which is missing or not a dictionary", id.0, id.1)
        })?;
        // Readers find inherited attributes by going up; where up is not where the walk came
        // from, they would see another page than the one checked here.
        if let Some(parent) = parent
            && dict.get(b"Parent").is_ok_and(|p| p.as_reference().ok() != Some(parent))
        {
            bail!(
                "its page tree is inconsistent: the /Parent of object {} {} is not the node that lists it",
                id.0,
                id.1
            );
        }
        let inherited = Inherited {
            media_box: dict.get(b"MediaBox").ok().or(inherited.media_box),
            resources: dict.get(b"Resources").ok().or(inherited.resources),
        };
        let is_node = match dict.get_type() {
            Ok(b"Pages") => true,
            Ok(b"Page") => false,
            _ => dict.has(b"Kids"),
        };
        if !is_node {
            return self.page(id, dict, inherited);
        }
        if depth >= MAX_PAGE_TREE_DEPTH {
            bail!("its page tree is more than {MAX_PAGE_TREE_DEPTH} levels deep");
        }
        let kids = dict
            .get(b"Kids")
            .and_then(|kids| doc.dereference(kids))
            .and_then(|(_, kids)| kids.as_array())
            .map_err(|_| anyhow!("page tree node {} {} has no /Kids array", id.0, id.1))?;
        for kid in kids {
            let kid = kid
                .as_reference()
                .map_err(|_| anyhow!("page tree node {} {} has a kid that is no reference", id.0, id.1))?;
            self.node(kid, Some(id), inherited, depth + 1)?;
        }
        Ok(())
    }

    fn page(&mut self, id: ObjectId, dict: &'a Dictionary, inherited: Inherited<'a>) -> anyhow::Result<()> {
        let doc = self.doc;
        let number = self.pages.len() + 1;
        let media_box = inherited
            .media_box
            .and_then(|o| numbers(doc, o))
            .and_then(|n| match n[..] {
                [x0, y0, x1, y1] => Some([x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)]),
                _ => None,
            })
            .filter(|[x0, y0, x1, y1]| x1 > x0 && y1 > y0)
            .ok_or_else(|| anyhow!("page {number} has no usable MediaBox"))?;
        let resources = match inherited.resources.map(|o| doc.dereference(o).map(|(_, o)| o)) {
            None | Some(Ok(Object::Null)) => None,
            Some(Ok(Object::Dictionary(d))) => Some(d),
            Some(_) => bail!("the /Resources of page {number} is missing or not a dictionary"),
        };
        self.pages.push(Page { id, dict, media_box, resources });
        Ok(())
    }
}

/// An array of finite numbers, every element dereferenced; `None` if anything else.
fn numbers(doc: &Document, object: &Object) -> Option<Vec<f64>> {
    let number = |o: &Object| match *doc.dereference(o).ok()?.1 {
        Object::Integer(i) => Some(i as f64),
        Object::Real(r) => Some(f64::from(r)).filter(|r| r.is_finite()),
        _ => None,
    };
    doc.dereference(object).ok()?.1.as_array().ok()?.iter().map(number).collect()
}

/// Every object the pages draw with (their content streams and resources, and everything those
/// name) is there: in a truncated or damaged file some are missing, and its contracts would
/// have holes. Each object is visited once.
fn check_complete(doc: &Document, pages: &[Page]) -> anyhow::Result<()> {
    let mut seen = HashSet::new();
    for (n, page) in pages.iter().enumerate() {
        let mut todo: Vec<&Object> = page.dict.get(b"Contents").into_iter().collect();
        if let Some(resources) = page.resources {
            todo.extend(resources.iter().map(|(_, v)| v));
        }
        while let Some(object) = todo.pop() {
            match object {
                Object::Reference(id) if seen.insert(*id) => {
                    let target = doc
                        .get_object(*id)
                        .map_err(|_| anyhow!("page {} needs object {} {}, which is missing", n + 1, id.0, id.1))?;
                    todo.push(target);
                }
                Object::Array(items) => todo.extend(items),
                Object::Dictionary(dict) => todo.extend(dict.iter().map(|(_, v)| v)),
                Object::Stream(stream) => todo.extend(stream.dict.iter().map(|(_, v)| v)),
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PDF of `objects` (numbered from 1, the first the catalog) with a correct
    /// cross-reference table.
    fn pdf(objects: &[&str]) -> Bytes {
        let mut out = b"%PDF-1.7\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
        for offset in offsets {
            out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
        }
        let trailer = format!("trailer\n<</Size {}/Root 1 0 R>>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1);
        out.extend_from_slice(trailer.as_bytes());
        Bytes::from(out)
    }

    const CATALOG: &str = "<</Type/Catalog/Pages 2 0 R>>";
    const CONTENT: &str = "<</Length 8>>\nstream\n0 0 m S\n\nendstream";

    fn refusal(bytes: Bytes) -> String {
        format!("{:#}", page_sizes(bytes).expect_err("a hostile PDF is refused"))
    }

    #[test]
    fn a_page_that_is_its_own_parent_is_refused_not_followed_for_ever() {
        // The 311-byte PDF: no MediaBox anywhere, and /Parent loops on the page.
        let bytes = pdf(&[CATALOG, "<</Type/Pages/Kids[3 0 R]/Count 1>>", "<</Type/Page/Parent 3 0 R>>"]);
        assert_eq!(
            refusal(bytes),
            "its page tree is inconsistent: the /Parent of object 3 0 is not the node that lists it"
        );
    }

    #[test]
    fn a_page_with_a_looping_parent_and_no_resources_is_refused_before_synthesis() {
        // Passed the old upload check (its MediaBox is its own), then looped in synthesis
        // looking for inherited /Resources.
        let bytes = pdf(&[
            CATALOG,
            "<</Type/Pages/Kids[3 0 R]/Count 1>>",
            "<</Type/Page/Parent 3 0 R/MediaBox[0 0 595 842]/Contents 4 0 R>>",
            CONTENT,
        ]);
        let e = compose::PreparedTemplate::new(bytes).err().expect("refused");
        assert_eq!(
            format!("{e:#}"),
            "its page tree is inconsistent: the /Parent of object 3 0 is not the node that lists it"
        );
    }

    #[test]
    fn every_template_pdf_the_fuzzer_found_is_refused() {
        // scripts/fuzz.sh keeps what `template_pdf` found in tests/fixtures/fuzz/template_pdf/;
        // each was a hang, in `page_sizes` or in `PreparedTemplate::new`.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz/template_pdf");
        let mut found = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = Bytes::from(std::fs::read(&path).unwrap());
            assert!(page_sizes(bytes.clone()).is_err(), "{} is accepted", path.display());
            assert!(compose::PreparedTemplate::new(bytes).is_err(), "{} is prepared", path.display());
            found += 1;
        }
        assert!(found > 0, "no fixtures in {}", dir.display());
    }

    #[test]
    fn a_page_without_resources_is_a_page_with_none() {
        let bytes = pdf(&[
            CATALOG,
            "<</Type/Pages/Kids[3 0 R]/Count 1>>",
            "<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R>>",
            CONTENT,
        ]);
        assert_eq!(page_sizes(bytes).unwrap(), vec![(595.0, 842.0)]);
    }

    #[test]
    fn a_cycle_of_kids_is_refused() {
        let bytes =
            pdf(&[CATALOG, "<</Type/Pages/Kids[3 0 R]/Count 1>>", "<</Type/Pages/Parent 2 0 R/Kids[2 0 R]/Count 1>>"]);
        assert_eq!(refusal(bytes), "its page tree reaches object 2 0 twice");
    }

    #[test]
    fn a_page_listed_twice_is_refused() {
        let bytes = pdf(&[
            CATALOG,
            "<</Type/Pages/Kids[3 0 R 3 0 R]/Count 2/MediaBox[0 0 595 842]>>",
            "<</Type/Page/Parent 2 0 R/Contents 4 0 R>>",
            CONTENT,
        ]);
        assert_eq!(refusal(bytes), "its page tree reaches object 3 0 twice");
    }

    #[test]
    fn a_page_tree_deeper_than_the_bound_is_refused() {
        // Object 2 is the root; 3 to 301 each hold the next; 302 is the page.
        let mut objects = vec![CATALOG.to_owned()];
        for id in 2..302 {
            let parent = if id == 2 { String::new() } else { format!("/Parent {} 0 R", id - 1) };
            objects.push(format!("<</Type/Pages{parent}/Kids[{} 0 R]/Count 1>>", id + 1));
        }
        objects.push("<</Type/Page/Parent 301 0 R/MediaBox[0 0 595 842]>>".to_owned());
        let bytes = pdf(&objects.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(refusal(bytes), "its page tree is more than 64 levels deep");
    }

    #[test]
    fn a_kid_that_is_missing_or_a_page_that_needs_a_missing_object_is_refused() {
        let bytes =
            pdf(&[CATALOG, "<</Type/Pages/Kids[3 0 R 9 0 R]/Count 2/MediaBox[0 0 595 842]>>", "<</Type/Page>>"]);
        assert_eq!(refusal(bytes), "its page tree names object 9 0, which is missing or not a dictionary");
        let bytes = pdf(&[
            CATALOG,
            "<</Type/Pages/Kids[3 0 R]/Count 1/MediaBox[0 0 595 842]>>",
            "<</Type/Page/Contents 4 0 R/Resources<</Font<</F1 9 0 R>>>>>>",
            CONTENT,
        ]);
        assert_eq!(refusal(bytes), "page 1 needs object 9 0, which is missing");
    }

    #[test]
    fn a_truncated_template_is_refused() {
        let whole = include_bytes!("../../examples/templates/employment-contract.pdf");
        let a4 = (f64::from(595.2756f32), f64::from(841.8898f32));
        assert_eq!(page_sizes(Bytes::from_static(whole)).unwrap(), vec![a4; 2]);
        let half = Bytes::from_static(&whole[..whole.len() / 2]);
        assert_eq!(refusal(half), "its cross-reference table is missing or damaged (is the file truncated?)");
    }

    #[test]
    fn pages_inherit_from_the_nodes_they_are_listed_under() {
        let bytes = pdf(&[
            CATALOG,
            "<</Type/Pages/Kids[3 0 R 5 0 R]/Count 2/MediaBox[0 0 595 842]>>",
            "<</Type/Pages/Parent 2 0 R/Kids[4 0 R]/Count 1/MediaBox[10 20 110 220]/Resources<</Font<<>>>>>>",
            "<</Type/Page/Parent 3 0 R/Contents 6 0 R>>",
            "<</Type/Page/Parent 2 0 R/Contents 6 0 R/MediaBox[0 0 300 400]>>",
            CONTENT,
        ]);
        let doc = load(&bytes).unwrap();
        let pages = pages(&doc).unwrap();
        assert_eq!(pages.iter().map(|p| p.id).collect::<Vec<_>>(), [(4, 0), (5, 0)]);
        assert_eq!(pages[0].media_box, [10.0, 20.0, 110.0, 220.0]);
        assert!(pages[0].resources.is_some_and(|r| r.has(b"Font")));
        assert_eq!(pages[1].media_box, [0.0, 0.0, 300.0, 400.0]);
        assert!(pages[1].resources.is_none());
    }
}
