//! Where text and form fields sit on the pages of a PDF, in Tencent's coordinates.
//!
//! Templates place components by keyword (Tencent's GenerateMode KEYWORD) and by form field
//! (GenerateMode FIELD); both need to know where things are drawn. Tencent's convention, used by
//! every box here: points, pages numbered from 1, the origin at the top-left corner of the page's
//! MediaBox and y growing downwards; a box is the (x, y) of its top-left corner plus its width and
//! height. A point (x, y) of PDF user space maps to (x - MediaBox.x0, MediaBox.y1 - y).
//!
//! /Rotate is ignored: boxes are given on the unrotated page, as the content stream draws it.
//!
//! What [`text_lines`] does not handle:
//! - vertical writing (`Identity-V` and the other `-V` CMaps): such glyphs are skipped, as their
//!   advance goes down the page and a horizontal box would be wrong;
//! - Type3 fonts' glyph boxes: their widths are scaled by /FontMatrix, but the height of the box
//!   uses the default ascent and descent;
//! - predefined CMaps other than Identity and the Unicode ones (`Uni*-UCS2-*`, `Uni*-UTF16-*`,
//!   `Uni*-UTF32-*`), and CMaps embedded as streams: their codes are read as 2 bytes and decoded
//!   only through /ToUnicode, with the code taken as the CID for the widths;
//! - clipping, invisible text (render mode 3), text drawn in white: all text counts;
//! - rotated or skewed text gets the axis-aligned box around its glyphs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use anyhow::anyhow;
use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, Encoding, Object, ObjectId};

/// A box on a page in Tencent's coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// One character drawn on a page, with its box: from the baseline's descent to its ascent
/// (use the font's /FontDescriptor Ascent/Descent when present, else 0.88 em and -0.12 em), and
/// from its origin to its advance.
///
/// The advance is the whole displacement the glyph causes: its width times the font size, plus
/// the character spacing (Tc) and, for a single-byte space, the word spacing (Tw), all scaled
/// horizontally by Tz; TJ adjustments are gaps between glyphs and belong to no box. A code that
/// maps to several characters (a ligature) shares its advance equally between them.
#[derive(Debug, Clone, PartialEq)]
pub struct Glyph {
    pub ch: char,
    pub rect: Rect,
}

/// A run of characters on one baseline, in the order the content stream draws them.
///
/// A space is a glyph only when the content stream draws one: producers that separate words by
/// moving the text position (TeX, for one) leave none, and their words run together.
#[derive(Debug, Clone, PartialEq)]
pub struct TextLine {
    pub page: u32,
    pub glyphs: Vec<Glyph>,
}

impl TextLine {
    /// The characters of the line.
    #[cfg(test)]
    fn text(&self) -> String {
        self.glyphs.iter().map(|g| g.ch).collect()
    }
}

/// A form field's widget: its fully qualified name (parent names joined with '.'), page and box.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldWidget {
    pub name: String,
    pub page: u32,
    pub rect: Rect,
}

/// Bound on the decompressed size of any one content stream, ToUnicode CMap or form.
const MAX_DECOMPRESSED: usize = super::MAX_STREAM_BYTES;
/// Bound on the operators interpreted for a whole document, counting a form once per `Do`, so
/// that forms drawing forms drawing forms cannot make the work exponential.
const MAX_OPERATIONS: usize = 20_000_000;
/// How deep Form XObjects may nest.
const MAX_FORM_DEPTH: usize = 16;
/// How deep `q` may nest; deeper saves are counted but not stored, and their `Q` ignored.
const MAX_SAVED_STATES: usize = 1024;
/// How deep the field tree may go.
const MAX_TREE_DEPTH: usize = 64;
/// Em fractions used when a font has no /FontDescriptor Ascent or Descent.
const DEFAULT_ASCENT: f64 = 0.88;
const DEFAULT_DESCENT: f64 = -0.12;
/// Width, in em, of a glyph of a simple font that has no /Widths. Only the standard 14 fonts may
/// omit /Widths, and qianshu carries no metrics for them: 600/1000 em, exact for Courier, is an
/// approximation for the others, good enough to find a keyword but not to centre on it exactly.
const STANDARD_14_WIDTH: f64 = 0.6;

/// Every line of text of every page, page by page, in content-stream order.
///
/// A line ends when the baseline moves (across it, by more than 1% of an em), when the direction
/// of writing changes, or when the next glyph starts more than one em left of the previous
/// glyph's end or more than 1.5 em right of it; otherwise the glyphs of consecutive show
/// operators, even in different BT blocks, join the same line. Text rise (Ts) does not move the
/// baseline: superscripts stay on their line. Glyphs whose characters cannot be known (a font
/// that cannot be found, `Identity-H` without /ToUnicode, unmapped codes) are left out, but still
/// advance the text position.
pub fn text_lines(doc: &lopdf::Document) -> anyhow::Result<Vec<TextLine>> {
    let mut reader = Reader { doc, fonts: HashMap::new(), forms: HashMap::new(), operations_left: MAX_OPERATIONS };
    let mut lines = Vec::new();
    for (n, page) in super::pages(doc)?.into_iter().enumerate() {
        let number = n as u32 + 1;
        let media = MediaBox::of(&page);
        let bytes = doc
            .get_page_content_with_limit(page.id, MAX_DECOMPRESSED)
            .map_err(|e| anyhow!("the content of page {number} cannot be read: {e}"))?;
        let content =
            Content::decode(&bytes).map_err(|e| anyhow!("the content of page {number} cannot be parsed: {e}"))?;
        let mut sink = LineSink { page: number, media, lines: &mut lines, open: None };
        reader.run(&content.operations, page.resources, GraphicsState::new(), &mut sink, 0)?;
        sink.close();
    }
    Ok(lines)
}

/// Every widget of every AcroForm field, in /Fields order.
///
/// A field's widgets are the field itself when it has no /Kids (a field merged with its only
/// widget), else the /Kids that carry no /T of their own; kids with a /T are child fields. A
/// widget's page is its /P, or else the page whose /Annots lists it; a widget found on no page
/// is left out, as is one without a usable /Rect. A document without /AcroForm has no fields.
pub fn form_fields(doc: &lopdf::Document) -> anyhow::Result<Vec<FieldWidget>> {
    let catalog = doc.catalog().map_err(|e| anyhow!("the document has no catalog: {e}"))?;
    let Some(fields) = catalog
        .get(b"AcroForm")
        .ok()
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_dict().ok())
        .and_then(|form| form.get(b"Fields").ok())
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_array().ok())
    else {
        return Ok(Vec::new());
    };
    let pages = super::pages(doc)?;
    let mut walker = FieldWalker {
        doc,
        page_numbers: pages.iter().enumerate().map(|(n, page)| (page.id, n as u32 + 1)).collect(),
        pages: pages.iter().map(|page| (page.id, MediaBox::of(page))).collect(),
        annots: None,
        visited: HashSet::new(),
        widgets: Vec::new(),
    };
    for field in fields {
        walker.walk(field, "", 0)?;
    }
    Ok(walker.widgets)
}

// ---------------------------------------------------------------------------------------------
// Form fields

struct FieldWalker<'a> {
    doc: &'a Document,
    /// Each page's id and MediaBox, page 1 first.
    pages: Vec<(ObjectId, MediaBox)>,
    page_numbers: HashMap<ObjectId, u32>,
    /// Annotation id to page number, built the first time a widget has no usable /P.
    annots: Option<HashMap<ObjectId, u32>>,
    visited: HashSet<ObjectId>,
    widgets: Vec<FieldWidget>,
}

impl FieldWalker<'_> {
    fn walk(&mut self, node: &Object, prefix: &str, depth: usize) -> anyhow::Result<()> {
        if depth > MAX_TREE_DEPTH {
            return Ok(());
        }
        let Ok((id, node)) = self.doc.dereference(node) else { return Ok(()) };
        if let Some(id) = id
            && !self.visited.insert(id)
        {
            return Ok(());
        }
        let Ok(dict) = node.as_dict() else { return Ok(()) };
        let partial = dict.get(b"T").ok().and_then(|t| lopdf::decode_text_string(t).ok()).filter(|t| !t.is_empty());
        let name = match partial {
            Some(t) if prefix.is_empty() => t,
            Some(t) => format!("{prefix}.{t}"),
            None => prefix.to_owned(),
        };
        let kids = dict.get(b"Kids").ok().and_then(|o| deref(self.doc, o)).and_then(|o| o.as_array().ok());
        match kids {
            Some(kids) if !kids.is_empty() => {
                for kid in kids {
                    // A kid without /T is a widget of this field and takes its name; one with a /T
                    // is a child field. Either way the same walk handles it.
                    self.walk(kid, &name, depth + 1)?;
                }
            }
            _ => {
                let is_widget = dict.get(b"Subtype").and_then(Object::as_name).map_or(true, |s| s == b"Widget");
                if is_widget {
                    self.widget(name, id, dict)?;
                }
            }
        }
        Ok(())
    }

    fn widget(&mut self, name: String, id: Option<ObjectId>, dict: &Dictionary) -> anyhow::Result<()> {
        let Some(corners) = dict.get(b"Rect").ok().and_then(|o| numbers(self.doc, o)).filter(|n| n.len() == 4) else {
            return Ok(());
        };
        let by_p = dict.get(b"P").ok().and_then(|p| p.as_reference().ok()).and_then(|p| self.page_numbers.get(&p));
        let page = match (by_p, id) {
            (Some(&page), _) => page,
            (None, Some(id)) => match self.annots().get(&id) {
                Some(&page) => page,
                None => return Ok(()),
            },
            (None, None) => return Ok(()),
        };
        let media = self.pages[page as usize - 1].1;
        let rect = media.rect(corners[0], corners[1], corners[2], corners[3]);
        if rect.x.is_finite() && rect.y.is_finite() && rect.width.is_finite() && rect.height.is_finite() {
            self.widgets.push(FieldWidget { name, page, rect });
        }
        Ok(())
    }

    fn annots(&mut self) -> &HashMap<ObjectId, u32> {
        let doc = self.doc;
        let pages = &self.pages;
        self.annots.get_or_insert_with(|| {
            let mut map = HashMap::new();
            for (number, &(page_id, _)) in (1..).zip(pages) {
                let Some(annots) = doc
                    .get_dictionary(page_id)
                    .ok()
                    .and_then(|page| page.get(b"Annots").ok())
                    .and_then(|o| deref(doc, o))
                    .and_then(|o| o.as_array().ok())
                else {
                    continue;
                };
                for annot in annots {
                    if let Ok(id) = annot.as_reference() {
                        map.entry(id).or_insert(number);
                    }
                }
            }
            map
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Geometry

/// An affine transformation `[a b c d e f]`, applied to row vectors as PDF does:
/// x' = a x + c y + e, y' = b x + d y + f.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Matrix([f64; 6]);

impl Matrix {
    const IDENTITY: Matrix = Matrix([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

    fn translate(tx: f64, ty: f64) -> Matrix {
        Matrix([1.0, 0.0, 0.0, 1.0, tx, ty])
    }

    /// `self` then `then`.
    fn then(self, then: Matrix) -> Matrix {
        let [a, b, c, d, e, f] = self.0;
        let [a2, b2, c2, d2, e2, f2] = then.0;
        Matrix([
            a * a2 + b * c2,
            a * b2 + b * d2,
            c * a2 + d * c2,
            c * b2 + d * d2,
            e * a2 + f * c2 + e2,
            e * b2 + f * d2 + f2,
        ])
    }

    fn point(self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, e, f] = self.0;
        (a * x + c * y + e, b * x + d * y + f)
    }

    fn vector(self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, _, _] = self.0;
        (a * x + c * y, b * x + d * y)
    }

    fn from_objects(doc: &Document, objects: &[Object]) -> Option<Matrix> {
        if objects.len() != 6 {
            return None;
        }
        let mut m = [0.0; 6];
        for (slot, object) in m.iter_mut().zip(objects) {
            *slot = number(deref(doc, object)?)?;
        }
        Some(Matrix(m))
    }
}

/// The parts of a MediaBox that the conversion to top-left coordinates needs.
#[derive(Debug, Clone, Copy)]
struct MediaBox {
    x0: f64,
    y1: f64,
}

impl MediaBox {
    fn of(page: &super::Page) -> MediaBox {
        MediaBox { x0: page.media_box[0], y1: page.media_box[3] }
    }

    /// The box with corners (x0, y0) and (x1, y1) of PDF user space, in any order.
    fn rect(self, x0: f64, y0: f64, x1: f64, y1: f64) -> Rect {
        let (left, right) = (x0.min(x1), x0.max(x1));
        let (bottom, top) = (y0.min(y1), y0.max(y1));
        Rect { x: left - self.x0, y: self.y1 - top, width: right - left, height: top - bottom }
    }
}

// ---------------------------------------------------------------------------------------------
// Object helpers

fn deref<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Object> {
    doc.dereference(object).ok().map(|(_, o)| o)
}

fn number(object: &Object) -> Option<f64> {
    let n = match *object {
        Object::Integer(i) => i as f64,
        Object::Real(r) => f64::from(r),
        _ => return None,
    };
    n.is_finite().then_some(n)
}

fn dict_number(doc: &Document, dict: &Dictionary, key: &[u8]) -> Option<f64> {
    number(deref(doc, dict.get(key).ok()?)?)
}

/// An array of numbers, every element dereferenced; `None` if anything is not a number.
fn numbers(doc: &Document, object: &Object) -> Option<Vec<f64>> {
    deref(doc, object)?.as_array().ok()?.iter().map(|o| deref(doc, o).and_then(number)).collect()
}

/// `resources[category][name]`, dereferenced, with its object id when it was a reference.
fn resource<'a>(
    doc: &'a Document,
    resources: Option<&'a Dictionary>,
    category: &[u8],
    name: &[u8],
) -> Option<(Option<ObjectId>, &'a Object)> {
    let entries = deref(doc, resources?.get(category).ok()?)?.as_dict().ok()?;
    doc.dereference(entries.get(name).ok()?).ok()
}

// ---------------------------------------------------------------------------------------------
// Fonts

/// How a font's strings split into codes and what the codes mean.
#[derive(Debug)]
enum Codes {
    /// One byte per code; the characters of each of the 256 codes (empty when unknown).
    Simple(Vec<Vec<char>>),
    /// Two bytes per code, the code being the CID (`Identity-H`), or an unknown CMap.
    TwoByte,
    /// `Uni*-UCS2-*`: two bytes per code, the code being a Unicode scalar.
    Ucs2,
    /// `Uni*-UTF16-*`: UTF-16BE code units, surrogate pairs making 4-byte codes.
    Utf16,
    /// `Uni*-UTF32-*`: four bytes per code, the code being a Unicode scalar.
    Utf32,
}

#[derive(Debug)]
enum Widths {
    /// /FirstChar and /Widths, in text space units per unit of font size, and the width of a
    /// code outside /Widths.
    Simple { first: u32, widths: Vec<f64>, missing: f64 },
    /// A simple font without /Widths (see [`STANDARD_14_WIDTH`]).
    Standard14,
    /// A CIDFont's /W (first CID to last CID and widths) and /DW, in thousandths of an em.
    Cid { default: f64, ranges: BTreeMap<u32, (u32, CidWidths)> },
}

#[derive(Debug)]
enum CidWidths {
    /// `c [w1 w2 ...]`: one width per CID from c on.
    List(Vec<f64>),
    /// `c_first c_last w`: the same width for the whole range.
    Same(f64),
}

#[derive(Debug)]
struct Font {
    codes: Codes,
    /// The font's /ToUnicode CMap, for composite fonts (simple fonts fold it into their table).
    to_unicode: Option<Encoding<'static>>,
    widths: Widths,
    /// Ascent and descent in em.
    ascent: f64,
    descent: f64,
    /// Written top to bottom: not handled, its glyphs are skipped.
    vertical: bool,
}

impl Font {
    fn load(doc: &Document, dict: &Dictionary) -> Font {
        let subtype = dict.get(b"Subtype").and_then(Object::as_name).unwrap_or(b"");
        if subtype == b"Type0" {
            return Font::load_composite(doc, dict);
        }
        let (ascent, descent) =
            if subtype == b"Type3" { (DEFAULT_ASCENT, DEFAULT_DESCENT) } else { metrics(doc, dict) };
        // Type3 glyph space is mapped to text space by /FontMatrix, usually [0.001 0 0 0.001 0 0].
        let scale = if subtype == b"Type3" {
            dict.get(b"FontMatrix").ok().and_then(|m| numbers(doc, m)).and_then(|m| m.first().copied()).unwrap_or(0.001)
        } else {
            0.001
        };
        let widths = match dict.get(b"Widths").ok().and_then(|w| numbers(doc, w)) {
            Some(widths) => Widths::Simple {
                first: dict_number(doc, dict, b"FirstChar").filter(|&n| (0.0..=255.0).contains(&n)).unwrap_or(0.0)
                    as u32,
                widths: widths.into_iter().map(|w| w * scale).collect(),
                missing: descriptor(doc, dict)
                    .and_then(|d| dict_number(doc, d, b"MissingWidth"))
                    .map_or(0.0, |w| w * scale),
            },
            None => Widths::Standard14,
        };
        Font {
            codes: Codes::Simple(simple_code_table(doc, dict)),
            to_unicode: None,
            widths,
            ascent,
            descent,
            vertical: false,
        }
    }

    fn load_composite(doc: &Document, dict: &Dictionary) -> Font {
        let descendant = dict
            .get(b"DescendantFonts")
            .ok()
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_array().ok())
            .and_then(|a| a.first())
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_dict().ok());
        let cmap = dict.get(b"Encoding").ok().and_then(|o| deref(doc, o)).and_then(|o| o.as_name().ok());
        let (codes, vertical) = match cmap {
            Some(name) => {
                let unicode = name.starts_with(b"Uni");
                let has = |part: &[u8]| name.windows(part.len()).any(|w| w == part);
                let codes = if unicode && has(b"-UCS2-") {
                    Codes::Ucs2
                } else if unicode && has(b"-UTF16-") {
                    Codes::Utf16
                } else if unicode && has(b"-UTF32-") {
                    Codes::Utf32
                } else {
                    Codes::TwoByte
                };
                (codes, name.ends_with(b"-V"))
            }
            None => (Codes::TwoByte, false),
        };
        let (ascent, descent) = descendant.map_or((DEFAULT_ASCENT, DEFAULT_DESCENT), |d| metrics(doc, d));
        let widths = Widths::Cid {
            default: descendant.and_then(|d| dict_number(doc, d, b"DW")).unwrap_or(1000.0),
            ranges: descendant
                .and_then(|d| d.get(b"W").ok())
                .and_then(|w| deref(doc, w))
                .and_then(|w| w.as_array().ok())
                .map(|w| cid_widths(doc, w))
                .unwrap_or_default(),
        };
        Font { codes, to_unicode: to_unicode(doc, dict), widths, ascent, descent, vertical }
    }

    /// The codes of a shown string and their lengths in bytes.
    fn codes(&self, bytes: &[u8]) -> Vec<(u32, u8)> {
        let pair = |c: &[u8; 2]| u32::from(u16::from_be_bytes(*c));
        match self.codes {
            Codes::Simple(_) => bytes.iter().map(|&b| (u32::from(b), 1)).collect(),
            Codes::TwoByte | Codes::Ucs2 => bytes.as_chunks::<2>().0.iter().map(|c| (pair(c), 2)).collect(),
            Codes::Utf32 => bytes.as_chunks::<4>().0.iter().map(|c| (u32::from_be_bytes(*c), 4)).collect(),
            Codes::Utf16 => {
                let units: Vec<u32> = bytes.as_chunks::<2>().0.iter().map(pair).collect();
                let mut codes = Vec::with_capacity(units.len());
                let mut i = 0;
                while let Some(&unit) = units.get(i) {
                    match units.get(i + 1) {
                        Some(&low) if (0xD800..0xDC00).contains(&unit) && (0xDC00..0xE000).contains(&low) => {
                            codes.push((unit << 16 | low, 4));
                            i += 2;
                        }
                        _ => {
                            codes.push((unit, 2));
                            i += 1;
                        }
                    }
                }
                codes
            }
        }
    }

    /// The Unicode scalar a code of a Unicode CMap stands for.
    fn unicode_of(&self, code: u32, len: u8) -> Option<char> {
        match self.codes {
            Codes::Ucs2 | Codes::Utf32 => char::from_u32(code),
            Codes::Utf16 if len == 4 => {
                char::decode_utf16([(code >> 16) as u16, code as u16]).next().and_then(Result::ok)
            }
            Codes::Utf16 => char::from_u32(code),
            Codes::Simple(_) | Codes::TwoByte => None,
        }
    }

    /// The characters a code stands for; empty when they cannot be known.
    fn chars(&self, code: u32, len: u8) -> Vec<char> {
        if let Codes::Simple(table) = &self.codes {
            return table.get(code as usize).cloned().unwrap_or_default();
        }
        if let Some(Encoding::UnicodeMapEncoding(cmap)) = &self.to_unicode
            && let Some(units) = cmap.get(code, len)
        {
            let chars = decode_utf16(&units);
            if !chars.is_empty() {
                return chars;
            }
        }
        self.unicode_of(code, len).filter(|c| !c.is_control()).into_iter().collect()
    }

    /// The width of a code, in text space units per unit of font size.
    fn width(&self, code: u32, len: u8) -> f64 {
        match &self.widths {
            Widths::Simple { first, widths, missing } => {
                code.checked_sub(*first).and_then(|i| widths.get(i as usize)).copied().unwrap_or(*missing)
            }
            Widths::Standard14 => STANDARD_14_WIDTH,
            Widths::Cid { default, ranges } => {
                let cid = match self.codes {
                    // Which CID a Unicode CMap picks is in the CMap, which qianshu does not carry.
                    // Adobe's character collections (GB1, CNS1, Japan1, Korea1) all begin with the
                    // 95 proportional ASCII glyphs at CIDs 1 to 95, which is also what reportlab
                    // assumes for its CID fonts; every other character gets /DW.
                    Codes::Ucs2 | Codes::Utf16 | Codes::Utf32 => match self.unicode_of(code, len) {
                        Some(c @ ' '..='~') => Some(c as u32 - 0x1F),
                        _ => None,
                    },
                    Codes::TwoByte | Codes::Simple(_) => Some(code),
                };
                let w = cid
                    .and_then(|cid| {
                        let (&start, (end, widths)) = ranges.range(..=cid).next_back()?;
                        if cid > *end {
                            return None;
                        }
                        match widths {
                            CidWidths::List(list) => list.get((cid - start) as usize).copied(),
                            CidWidths::Same(w) => Some(*w),
                        }
                    })
                    .unwrap_or(*default);
                w / 1000.0
            }
        }
    }
}

fn decode_utf16(units: &[u16]) -> Vec<char> {
    char::decode_utf16(units.iter().copied())
        .filter_map(Result::ok)
        .filter(|&c| c != char::REPLACEMENT_CHARACTER && !c.is_control())
        .collect()
}

fn descriptor<'a>(doc: &'a Document, font: &'a Dictionary) -> Option<&'a Dictionary> {
    deref(doc, font.get(b"FontDescriptor").ok()?)?.as_dict().ok()
}

/// Ascent and descent in em, from the font's /FontDescriptor or the defaults.
fn metrics(doc: &Document, font: &Dictionary) -> (f64, f64) {
    let descriptor = descriptor(doc, font);
    let ascent = descriptor
        .and_then(|d| dict_number(doc, d, b"Ascent"))
        .filter(|&a| a > 0.0)
        .map_or(DEFAULT_ASCENT, |a| a / 1000.0);
    // Some producers write the descent as a positive number; it is always below the baseline.
    let descent = descriptor
        .and_then(|d| dict_number(doc, d, b"Descent"))
        .filter(|&d| d != 0.0)
        .map_or(DEFAULT_DESCENT, |d| -d.abs() / 1000.0);
    (ascent, descent)
}

/// A font's /ToUnicode CMap, parsed by lopdf.
fn to_unicode(doc: &Document, font: &Dictionary) -> Option<Encoding<'static>> {
    let stream = font.get(b"ToUnicode").ok()?;
    deref(doc, stream)?.as_stream().ok()?;
    // lopdf parses a ToUnicode CMap only as part of a font's encoding, and prefers /Encoding when
    // there is one: ask it about a font that has nothing else.
    let mut bare = Dictionary::new();
    bare.set("Type", Object::Name(b"Font".to_vec()));
    bare.set("ToUnicode", stream.clone());
    match bare.get_font_encoding_with_limit(doc, MAX_DECOMPRESSED) {
        Ok(Encoding::UnicodeMapEncoding(cmap)) => Some(Encoding::UnicodeMapEncoding(cmap)),
        _ => None,
    }
}

/// The characters of each of the 256 codes of a simple font: from /ToUnicode when it maps the
/// code, else from the font's encoding (/Encoding with its /Differences, WinAnsi, MacRoman,
/// Standard), as lopdf reads them.
fn simple_code_table(doc: &Document, font: &Dictionary) -> Vec<Vec<char>> {
    let to_unicode = to_unicode(doc, font);
    // lopdf insists on /Type /Font, which some producers leave out.
    let typed;
    let font = if font.has_type(b"Font") {
        font
    } else {
        let mut copy = font.clone();
        copy.set("Type", Object::Name(b"Font".to_vec()));
        typed = copy;
        &typed
    };
    let encoding = font.get_font_encoding_with_limit(doc, MAX_DECOMPRESSED).ok();
    (0..=255u8)
        .map(|code| {
            if let Some(Encoding::UnicodeMapEncoding(cmap)) = &to_unicode
                && let Some(units) = cmap.get(u32::from(code), 1)
            {
                let chars = decode_utf16(&units);
                if !chars.is_empty() {
                    return chars;
                }
            }
            encoding
                .as_ref()
                .and_then(|e| e.bytes_to_string(&[code]).ok())
                .map(|s| s.chars().filter(|&c| c != char::REPLACEMENT_CHARACTER && !c.is_control()).collect())
                .unwrap_or_default()
        })
        .collect()
}

/// A CIDFont's /W array: `c [w1 w2 ...]` and `c_first c_last w` entries.
fn cid_widths(doc: &Document, w: &[Object]) -> BTreeMap<u32, (u32, CidWidths)> {
    let cid = |o: &Object| deref(doc, o).and_then(|o| o.as_i64().ok()).and_then(|n| u32::try_from(n).ok());
    let mut ranges = BTreeMap::new();
    let mut i = 0;
    while let (Some(first), Some(next)) = (w.get(i).and_then(cid), w.get(i + 1).and_then(|o| deref(doc, o))) {
        if let Ok(list) = next.as_array() {
            let list: Vec<f64> = list.iter().map(|o| deref(doc, o).and_then(number).unwrap_or(0.0)).collect();
            if let Some(last) = u32::try_from(list.len()).ok().and_then(|n| n.checked_sub(1)) {
                ranges.insert(first, (first.saturating_add(last), CidWidths::List(list)));
            }
            i += 2;
        } else {
            let (Some(last), Some(width)) = (cid(next), w.get(i + 2).and_then(|o| deref(doc, o)).and_then(number))
            else {
                break;
            };
            if last >= first {
                ranges.insert(first, (last, CidWidths::Same(width)));
            }
            i += 3;
        }
    }
    ranges
}

// ---------------------------------------------------------------------------------------------
// Content streams

/// The graphics state that matters here: the CTM and the text state parameters, which `q` and
/// `Q` save and restore together.
#[derive(Clone)]
struct GraphicsState {
    ctm: Matrix,
    font: Option<Rc<Font>>,
    size: f64,
    char_spacing: f64,
    word_spacing: f64,
    /// Tz / 100.
    horizontal_scale: f64,
    leading: f64,
    rise: f64,
}

impl GraphicsState {
    fn new() -> Self {
        GraphicsState {
            ctm: Matrix::IDENTITY,
            font: None,
            size: 0.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            horizontal_scale: 1.0,
            leading: 0.0,
            rise: 0.0,
        }
    }
}

/// What outlives a page: fonts and forms already read, and the work left.
struct Reader<'a> {
    doc: &'a Document,
    fonts: HashMap<ObjectId, Rc<Font>>,
    /// Forms' operations, `None` for a form that could not be read.
    forms: HashMap<ObjectId, Option<Rc<Vec<Operation>>>>,
    operations_left: usize,
}

impl<'a> Reader<'a> {
    fn run(
        &mut self,
        operations: &[Operation],
        resources: Option<&'a Dictionary>,
        mut gs: GraphicsState,
        sink: &mut LineSink,
        depth: usize,
    ) -> anyhow::Result<()> {
        let doc = self.doc;
        let mut saved: Vec<GraphicsState> = Vec::new();
        let mut unsaved = 0usize;
        let mut tm = Matrix::IDENTITY;
        let mut tlm = Matrix::IDENTITY;
        for op in operations {
            self.operations_left = self.operations_left.checked_sub(1).ok_or_else(|| {
                anyhow!("page {} draws too much (more than {MAX_OPERATIONS} operators in all)", sink.page)
            })?;
            let operands = &op.operands;
            let num = |i: usize| operands.get(i).and_then(number);
            match op.operator.as_str() {
                "q" => {
                    if saved.len() < MAX_SAVED_STATES {
                        saved.push(gs.clone());
                    } else {
                        unsaved += 1;
                    }
                }
                "Q" => {
                    if unsaved > 0 {
                        unsaved -= 1;
                    } else if let Some(previous) = saved.pop() {
                        gs = previous;
                    }
                }
                "cm" => {
                    if let Some(m) = Matrix::from_objects(doc, operands) {
                        gs.ctm = m.then(gs.ctm);
                    }
                }
                "BT" => {
                    tm = Matrix::IDENTITY;
                    tlm = Matrix::IDENTITY;
                }
                "Tf" => {
                    if let (Some(name), Some(size)) = (operands.first().and_then(|o| o.as_name().ok()), num(1)) {
                        gs.font = self.font(resources, name);
                        gs.size = size;
                    }
                }
                "Tc" => gs.char_spacing = num(0).unwrap_or(gs.char_spacing),
                "Tw" => gs.word_spacing = num(0).unwrap_or(gs.word_spacing),
                "Tz" => gs.horizontal_scale = num(0).map_or(gs.horizontal_scale, |z| z / 100.0),
                "TL" => gs.leading = num(0).unwrap_or(gs.leading),
                "Ts" => gs.rise = num(0).unwrap_or(gs.rise),
                "Td" | "TD" => {
                    if let (Some(tx), Some(ty)) = (num(0), num(1)) {
                        if op.operator == "TD" {
                            gs.leading = -ty;
                        }
                        tlm = Matrix::translate(tx, ty).then(tlm);
                        tm = tlm;
                    }
                }
                "Tm" => {
                    if let Some(m) = Matrix::from_objects(doc, operands) {
                        tlm = m;
                        tm = m;
                    }
                }
                "T*" => {
                    tlm = Matrix::translate(0.0, -gs.leading).then(tlm);
                    tm = tlm;
                }
                "Tj" => {
                    if let Some(Object::String(bytes, _)) = operands.first() {
                        show(&gs, &mut tm, bytes, sink);
                    }
                }
                "'" | "\"" => {
                    let string = if op.operator == "'" {
                        operands.first()
                    } else {
                        match (num(0), num(1)) {
                            (Some(aw), Some(ac)) => {
                                gs.word_spacing = aw;
                                gs.char_spacing = ac;
                                operands.get(2)
                            }
                            _ => None,
                        }
                    };
                    if let Some(Object::String(bytes, _)) = string {
                        tlm = Matrix::translate(0.0, -gs.leading).then(tlm);
                        tm = tlm;
                        show(&gs, &mut tm, bytes, sink);
                    }
                }
                "TJ" => {
                    let Some(Ok(items)) = operands.first().map(Object::as_array) else { continue };
                    for item in items {
                        match item {
                            Object::String(bytes, _) => show(&gs, &mut tm, bytes, sink),
                            other => {
                                if let Some(adjustment) = number(other) {
                                    let tx = -adjustment / 1000.0 * gs.size * gs.horizontal_scale;
                                    tm = Matrix::translate(tx, 0.0).then(tm);
                                }
                            }
                        }
                    }
                }
                "Do" => {
                    if let Some(name) = operands.first().and_then(|o| o.as_name().ok()) {
                        self.draw_form(resources, name, &gs, sink, depth)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn font(&mut self, resources: Option<&'a Dictionary>, name: &[u8]) -> Option<Rc<Font>> {
        let (id, object) = resource(self.doc, resources, b"Font", name)?;
        let dict = object.as_dict().ok()?;
        match id {
            Some(id) => Some(self.fonts.entry(id).or_insert_with(|| Rc::new(Font::load(self.doc, dict))).clone()),
            None => Some(Rc::new(Font::load(self.doc, dict))),
        }
    }

    /// Runs a Form XObject (images and anything else drawn with `Do` are no text).
    fn draw_form(
        &mut self,
        resources: Option<&'a Dictionary>,
        name: &[u8],
        gs: &GraphicsState,
        sink: &mut LineSink,
        depth: usize,
    ) -> anyhow::Result<()> {
        let doc = self.doc;
        let Some((Some(id), Object::Stream(stream))) = resource(doc, resources, b"XObject", name) else {
            return Ok(());
        };
        if stream.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Form") || depth >= MAX_FORM_DEPTH {
            return Ok(());
        }
        let operations = match self.forms.get(&id) {
            Some(operations) => operations.clone(),
            None => {
                let operations = stream
                    .get_plain_content_with_limit(MAX_DECOMPRESSED)
                    .ok()
                    .and_then(|bytes| Content::decode(&bytes).ok())
                    .map(|content| Rc::new(content.operations));
                self.forms.insert(id, operations.clone());
                operations
            }
        };
        let Some(operations) = operations else { return Ok(()) };
        let matrix = stream
            .dict
            .get(b"Matrix")
            .ok()
            .and_then(|m| deref(doc, m))
            .and_then(|m| m.as_array().ok())
            .and_then(|m| Matrix::from_objects(doc, m))
            .unwrap_or(Matrix::IDENTITY);
        // A form without /Resources uses those of whatever draws it.
        let form_resources =
            stream.dict.get(b"Resources").ok().and_then(|r| deref(doc, r)).and_then(|r| r.as_dict().ok()).or(resources);
        let mut inner = gs.clone();
        inner.ctm = matrix.then(gs.ctm);
        self.run(&operations, form_resources, inner, sink, depth + 1)
    }
}

/// Shows a string: a glyph for each code whose characters are known, and the text matrix
/// advanced past every code.
fn show(gs: &GraphicsState, tm: &mut Matrix, bytes: &[u8], sink: &mut LineSink) {
    let Some(font) = gs.font.as_deref() else { return };
    if font.vertical {
        return;
    }
    for (code, len) in font.codes(bytes) {
        let word_spacing = if len == 1 && code == 32 { gs.word_spacing } else { 0.0 };
        let advance = (font.width(code, len) * gs.size + gs.char_spacing + word_spacing) * gs.horizontal_scale;
        let chars = font.chars(code, len);
        if !chars.is_empty() {
            let m = tm.then(gs.ctm);
            let share = advance / chars.len() as f64;
            let bottom = gs.rise + font.descent * gs.size;
            let top = gs.rise + font.ascent * gs.size;
            for (i, &ch) in chars.iter().enumerate() {
                let (left, right) = (share * i as f64, share * (i + 1) as f64);
                sink.glyph(ch, m, (left, right), (bottom, top), gs.size);
            }
        }
        *tm = Matrix::translate(advance, 0.0).then(*tm);
    }
}

/// Collects glyphs into lines.
struct LineSink<'l> {
    page: u32,
    media: MediaBox,
    lines: &'l mut Vec<TextLine>,
    open: Option<OpenLine>,
}

struct OpenLine {
    glyphs: Vec<Glyph>,
    /// Unit vector of the writing direction, in user space.
    direction: (f64, f64),
    /// The origin of the line's first glyph (on the baseline).
    origin: (f64, f64),
    /// Where the last glyph ends, on the baseline.
    end: (f64, f64),
    /// The size of an em of the last glyph, in user space.
    em: f64,
}

impl LineSink<'_> {
    /// A glyph spanning `left..right` along the baseline and `bottom..top` across it, in the text
    /// space of `m` (the text matrix times the CTM), in a font of `size`.
    fn glyph(&mut self, ch: char, m: Matrix, (left, right): (f64, f64), (bottom, top): (f64, f64), size: f64) {
        let corners = [m.point(left, bottom), m.point(right, bottom), m.point(right, top), m.point(left, top)];
        let (mut x0, mut y0, mut x1, mut y1) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
        for (x, y) in corners {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        let rect = self.media.rect(x0, y0, x1, y1);
        let (dx, dy) = m.vector(1.0, 0.0);
        let length = dx.hypot(dy);
        let (ex, ey) = m.vector(0.0, size);
        let em = ex.hypot(ey);
        let origin = m.point(left, 0.0);
        let end = m.point(right, 0.0);
        let finite = [rect.x, rect.y, rect.width, rect.height, length, em, origin.0, origin.1, end.0, end.1]
            .iter()
            .all(|v| v.is_finite());
        if !finite || length == 0.0 {
            return;
        }
        let direction = (dx / length, dy / length);
        let glyph = Glyph { ch, rect };
        if let Some(line) = &mut self.open {
            let same_direction =
                (line.direction.0 - direction.0).abs() < 1e-3 && (line.direction.1 - direction.1).abs() < 1e-3;
            let (ox, oy) = (origin.0 - line.origin.0, origin.1 - line.origin.1);
            let across = (ox * line.direction.1 - oy * line.direction.0).abs();
            let along = (origin.0 - line.end.0) * line.direction.0 + (origin.1 - line.end.1) * line.direction.1;
            if same_direction && across <= (0.01 * line.em).max(0.01) && along >= -line.em && along <= 1.5 * line.em {
                line.glyphs.push(glyph);
                line.end = end;
                line.em = em;
                return;
            }
        }
        self.close();
        self.open = Some(OpenLine { glyphs: vec![glyph], direction, origin, end, em });
    }

    fn close(&mut self) {
        if let Some(line) = self.open.take()
            && !line.glyphs.is_empty()
        {
            self.lines.push(TextLine { page: self.page, glyphs: line.glyphs });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{Stream, dictionary};

    const A4_W: f64 = 595.2756;
    const A4_H: f64 = 841.8898;
    /// STSong-Light's /FontDescriptor in reportlab's templates: /Ascent 752 /Descent -271.
    const SONG_ASCENT: f64 = 0.752;
    const SONG_DESCENT: f64 = -0.271;

    fn load(path: &str) -> Document {
        let path = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
        Document::load(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn close(actual: f64, expected: f64, tolerance: f64, what: &str) {
        assert!((actual - expected).abs() <= tolerance, "{what}: {actual} is not {expected} (within {tolerance})");
    }

    fn close_rect(actual: Rect, expected: Rect, tolerance: f64, what: &str) {
        close(actual.x, expected.x, tolerance, &format!("{what} x"));
        close(actual.y, expected.y, tolerance, &format!("{what} y"));
        close(actual.width, expected.width, tolerance, &format!("{what} width"));
        close(actual.height, expected.height, tolerance, &format!("{what} height"));
    }

    /// The one line of `page` whose text is exactly `text`, or the `nth` of several.
    fn line<'l>(lines: &'l [TextLine], page: u32, text: &str, nth: usize) -> &'l TextLine {
        let found: Vec<&TextLine> = lines.iter().filter(|l| l.page == page && l.text() == text).collect();
        found.get(nth).copied().unwrap_or_else(|| {
            let all: Vec<(u32, String)> = lines.iter().map(|l| (l.page, l.text())).collect();
            panic!("no line {nth} reading {text:?} on page {page}; lines: {all:#?}")
        })
    }

    /// Checks a line of `STSong-Light` glyphs against where reportlab put them: starting at `x`,
    /// on the baseline `baseline` (top-left coordinates), each glyph `widths[i]` thousandths of an
    /// em wide.
    fn assert_song_line(line: &TextLine, x: f64, baseline: f64, size: f64, widths: &[f64], what: &str) {
        assert_eq!(line.glyphs.len(), widths.len(), "{what}: {:?}", line.text());
        let mut x = x;
        for (glyph, w) in line.glyphs.iter().zip(widths) {
            let width = w / 1000.0 * size;
            let expected =
                Rect { x, y: baseline - SONG_ASCENT * size, width, height: (SONG_ASCENT - SONG_DESCENT) * size };
            close_rect(glyph.rect, expected, 0.5, &format!("{what} {:?}", glyph.ch));
            x += width;
        }
    }

    /// make_templates.py's `label`: the text ends 6 points left of the box, its baseline at
    /// `H - box_y - box_h + (box_h - size) / 2 + 2` in PDF coordinates. Every label is made of
    /// full-width characters, 1000/1000 em each (STSong-Light's /DW).
    fn assert_label(lines: &[TextLine], page: u32, nth: usize, text: &str, box_x: f64, box_y: f64, box_h: f64) {
        let size = 11.0;
        let n = text.chars().count() as f64;
        let end = box_x - 6.0;
        let baseline_pdf = A4_H - box_y - box_h + (box_h - size) / 2.0 + 2.0;
        let line = line(lines, page, text, nth);
        assert_song_line(line, end - n * size, A4_H - baseline_pdf, size, &vec![1000.0; n as usize], text);
        let last = line.glyphs.last().unwrap().rect;
        close(last.x + last.width, end, 0.5, &format!("{text} ends 6 pt left of its box"));
    }

    /// make_templates.py's `title`: the title centred at `H - 70` in size 22, the subtitle at
    /// `H - 92` in size 10.
    fn assert_title(lines: &[TextLine], title: &str) {
        let n = title.chars().count();
        let width = 22.0 * n as f64;
        assert_song_line(line(lines, 1, title, 0), A4_W / 2.0 - width / 2.0, 70.0, 22.0, &vec![1000.0; n], title);
        // "（示例模板，qianshu）": the ASCII letters take their widths from /W through CIDs 1 to 95
        // (the widths reportlab centred the string with), the rest /DW.
        let sub = "（示例模板，qianshu）";
        let widths =
            [1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 504.0, 241.0, 417.0, 527.0, 336.0, 518.0, 517.0, 1000.0];
        let total: f64 = widths.iter().sum::<f64>() / 1000.0 * 10.0;
        assert_song_line(line(lines, 1, sub, 0), A4_W / 2.0 - total / 2.0, 92.0, 10.0, &widths, sub);
    }

    #[test]
    fn confidentiality_agreement_labels_are_where_the_script_drew_them() {
        let lines = text_lines(&load("examples/templates/confidentiality-agreement.pdf")).unwrap();
        assert!(lines.iter().all(|l| l.page == 1));
        assert_title(&lines, "保密协议");
        assert_label(&lines, 1, 0, "甲方：", 170.0, 130.0, 20.0);
        assert_label(&lines, 1, 0, "乙方：", 170.0, 160.0, 20.0);
        assert_label(&lines, 1, 0, "保密期限（年）：", 170.0, 190.0, 20.0);
        assert_label(&lines, 1, 0, "违约金（人民币元）：", 170.0, 220.0, 20.0);
        assert_label(&lines, 1, 0, "签订日期：", 170.0, 250.0, 20.0);
        // Two labels on one baseline, 280 points apart: two lines.
        assert_label(&lines, 1, 0, "甲方（盖章）：", 140.0, 560.0, 20.0);
        assert_label(&lines, 1, 0, "乙方（签名）：", 420.0, 560.0, 20.0);
        // `para`: lines 18 points apart from (60, 310), size 10.5; each its own line.
        let first = "第一条　乙方在任职期间及离职后，对甲方的商业秘密负有保密义务。";
        let n = first.chars().count();
        assert_song_line(line(&lines, 1, first, 0), 60.0, 310.0, 10.5, &vec![1000.0; n], first);
        let fourth = "第四条　本协议自双方签署之日起生效。";
        let n = fourth.chars().count();
        assert_song_line(line(&lines, 1, fourth, 0), 60.0, 310.0 + 3.0 * 18.0, 10.5, &vec![1000.0; n], fourth);
        // Title, subtitle, 7 labels, 4 paragraph lines and nothing else.
        assert_eq!(lines.len(), 13, "{:#?}", lines.iter().map(TextLine::text).collect::<Vec<_>>());
    }

    #[test]
    fn employment_contract_labels_are_where_the_script_drew_them_on_both_pages() {
        let lines = text_lines(&load("examples/templates/employment-contract.pdf")).unwrap();
        assert_title(&lines, "劳动合同");
        assert_label(&lines, 1, 0, "甲方（用人单位）：", 170.0, 130.0, 20.0);
        assert_label(&lines, 1, 0, "月工资（人民币元）：", 170.0, 250.0, 20.0);
        assert_label(&lines, 1, 0, "工作地点：", 170.0, 310.0, 40.0);
        assert_label(&lines, 1, 0, "约定试用期：", 170.0, 362.0, 14.0);
        // drawCentredString(470, H - 285, "乙方照片") in size 9.
        assert_song_line(line(&lines, 1, "乙方照片", 0), 470.0 - 18.0, 285.0, 9.0, &[1000.0; 4], "乙方照片");
        // Page 2: drawString(60, H - 80, ...) in size 14, then the labels.
        let annex = "附件一　薪酬明细";
        assert_song_line(line(&lines, 2, annex, 0), 60.0, 80.0, 14.0, &[1000.0; 8], annex);
        assert_label(&lines, 2, 0, "乙方紧急联系人：", 170.0, 360.0, 20.0);
        assert_label(&lines, 2, 0, "甲方意见：", 170.0, 400.0, 40.0);
        assert_label(&lines, 2, 0, "甲方（盖章）：", 140.0, 560.0, 20.0);
        assert_label(&lines, 2, 0, "乙方（签名）：", 420.0, 560.0, 20.0);
        // The same label twice on one baseline: two lines, in drawing order.
        assert_label(&lines, 2, 0, "日期：", 140.0, 720.0, 20.0);
        assert_label(&lines, 2, 1, "日期：", 420.0, 720.0, 20.0);
        assert!(!lines.iter().any(|l| l.page == 1 && l.text().contains("附件")));
        assert_eq!(lines.iter().filter(|l| l.page == 2).count(), 9);
    }

    #[test]
    fn fixture_fields_have_their_full_names_pages_and_boxes() {
        let fields = form_fields(&load("tests/fixtures/locate/forms.pdf")).unwrap();
        let expected = [
            // Kid of "applicant", widget without /P on page 2 (MediaBox [10 20 622 812]),
            // /Rect [344 718 144 696].
            ("applicant.姓名", 2, Rect { x: 134.0, y: 94.0, width: 200.0, height: 22.0 }),
            // Merged field and widget with /P, /Rect [144 676 344 694] on a 612 x 792 page.
            ("email", 1, Rect { x: 144.0, y: 98.0, width: 200.0, height: 18.0 }),
        ];
        assert_eq!(fields.len(), expected.len(), "{fields:#?}");
        for (field, (name, page, rect)) in fields.iter().zip(expected) {
            assert_eq!(field.name, name);
            assert_eq!(field.page, page, "{name}");
            close_rect(field.rect, rect, 0.01, name);
        }
    }

    #[test]
    fn fixture_latin_text_has_standard_14_widths_and_winansi_characters() {
        let lines = text_lines(&load("tests/fixtures/locate/forms.pdf")).unwrap();
        let texts: Vec<(u32, String)> = lines.iter().map(|l| (l.page, l.text())).collect();
        let expected = [(1, "Full name: Alice"), (1, "Café Email:"), (2, "Signed")];
        assert_eq!(texts, expected.map(|(p, t)| (p, t.to_owned())));
        // Helvetica at 12 without /Widths nor /FontDescriptor: 7.2 points a glyph, from 0.88 em
        // above the baseline to 0.12 em below. Page 1's baselines are at 792 - 700 and 792 - 680.
        for (line, baseline) in lines[..2].iter().zip([92.0, 112.0]) {
            for (i, glyph) in line.glyphs.iter().enumerate() {
                let expected = Rect { x: 72.0 + 7.2 * i as f64, y: baseline - 10.56, width: 7.2, height: 12.0 };
                close_rect(glyph.rect, expected, 0.01, &format!("{:?}", glyph.ch));
            }
        }
        // Page 2 inherits its /Resources and has MediaBox [10 20 622 812]: (50, 760) is (40, 52).
        for (i, glyph) in lines[2].glyphs.iter().enumerate() {
            let expected = Rect { x: 40.0 + 6.0 * i as f64, y: 52.0 - 8.8, width: 6.0, height: 10.0 };
            close_rect(glyph.rect, expected, 0.01, &format!("{:?}", glyph.ch));
        }
    }

    // -----------------------------------------------------------------------------------------
    // Documents built here, to reach what the fixtures do not.

    /// A one-page document, MediaBox [0 0 600 800], with `content` and the resources `build`
    /// returns.
    fn one_page(content: &[u8], build: impl FnOnce(&mut Document) -> Dictionary) -> Document {
        let mut doc = Document::with_version("1.7");
        let pages_id = doc.new_object_id();
        let resources = build(&mut doc);
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.to_vec()));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), 600.into(), 800.into()],
            "Contents" => content_id,
            "Resources" => resources,
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 }),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog);
        doc
    }

    fn to_unicode_cmap(doc: &mut Document, bfchars: &str) -> ObjectId {
        let cmap = format!(
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CMapName /Test def\n/CMapType 2 def\n\
             1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n{} beginbfchar\n{bfchars}\nendbfchar\n\
             endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n",
            bfchars.lines().count()
        );
        doc.add_object(Stream::new(dictionary! {}, cmap.into_bytes()))
    }

    fn composite(doc: &mut Document, encoding: &str, descendant: Dictionary, to_unicode: Option<ObjectId>) -> ObjectId {
        let descendant = doc.add_object(descendant);
        let mut font = dictionary! {
            "Type" => "Font",
            "Subtype" => "Type0",
            "BaseFont" => "Test",
            "Encoding" => encoding,
            "DescendantFonts" => vec![descendant.into()],
        };
        if let Some(id) = to_unicode {
            font.set("ToUnicode", id);
        }
        doc.add_object(font)
    }

    /// The fonts and forms of the synthetic tests.
    fn synthetic_resources(doc: &mut Document) -> Dictionary {
        // A simple font with /Widths for A, B and C (500, 600, 700), /MissingWidth 250 for the
        // rest, Ascent 800 and Descent -200, and A renamed alpha; no /Type, which lopdf wants.
        let descriptor = doc.add_object(dictionary! {
            "Type" => "FontDescriptor", "Ascent" => 800, "Descent" => -200, "MissingWidth" => 250,
        });
        let f1 = doc.add_object(dictionary! {
            "Subtype" => "TrueType",
            "BaseFont" => "Custom",
            "FirstChar" => 65,
            "Widths" => vec![500.into(), 600.into(), 700.into()],
            "FontDescriptor" => descriptor,
            "Encoding" => dictionary! {
                "Type" => "Encoding",
                "BaseEncoding" => "WinAnsiEncoding",
                "Differences" => vec![65.into(), Object::Name(b"alpha".to_vec())],
            },
        });
        // Identity-H with a ToUnicode for codes 1 and 2, /W giving 1 and 2 800 and 900 and 4 to 5
        // 500; no descriptor (default ascent and descent).
        let cmap = to_unicode_cmap(doc, "<0001> <4E2D>\n<0002> <6587>");
        let w = vec![1.into(), vec![800.into(), 900.into()].into(), 4.into(), 5.into(), 500.into()];
        let f2 = composite(
            doc,
            "Identity-H",
            dictionary! { "Type" => "Font", "Subtype" => "CIDFontType2", "BaseFont" => "Test", "W" => w },
            Some(cmap),
        );
        // Identity-H without ToUnicode: nothing can be decoded.
        let f3 = composite(
            doc,
            "Identity-H",
            dictionary! { "Type" => "Font", "Subtype" => "CIDFontType2", "BaseFont" => "Test" },
            None,
        );
        // UniGB-UTF16-H: the space and A (CIDs 1 and 34) are 200 and 500 wide, the rest /DW 1000.
        let w = vec![1.into(), vec![200.into()].into(), 34.into(), vec![500.into()].into()];
        let f4 = composite(
            doc,
            "UniGB-UTF16-H",
            dictionary! { "Type" => "Font", "Subtype" => "CIDFontType0", "BaseFont" => "Test", "W" => w },
            None,
        );
        let form = doc.add_object(Stream::new(
            dictionary! {
                "Type" => "XObject",
                "Subtype" => "Form",
                "BBox" => vec![0.into(), 0.into(), 600.into(), 800.into()],
                "Matrix" => vec![1.into(), 0.into(), 0.into(), 1.into(), 200.into(), 0.into()],
                "Resources" => dictionary! { "Font" => dictionary! { "F2" => f2 } },
            },
            b"BT /F2 20 Tf 0 500 Td <00010002000300010005> Tj ET".to_vec(),
        ));
        // A form that draws itself.
        let looping = doc.new_object_id();
        doc.objects.insert(
            looping,
            Object::Stream(Stream::new(
                dictionary! {
                    "Type" => "XObject",
                    "Subtype" => "Form",
                    "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()],
                    "Resources" => dictionary! { "XObject" => dictionary! { "Loop" => looping } },
                },
                b"/Loop Do".to_vec(),
            )),
        );
        let image = doc.add_object(Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => 1, "Height" => 1 },
            vec![0],
        ));
        dictionary! {
            "Font" => dictionary! { "F1" => f1, "F3" => f3, "F4" => f4 },
            "XObject" => dictionary! { "Fm1" => form, "Loop" => looping, "Im1" => image },
        }
    }

    #[test]
    fn text_state_operators_fonts_and_forms_place_glyphs() {
        let content = b"1 0 0 1 100 50 cm\n\
            q 2 0 0 2 0 0 cm Q\n\
            BT /F1 10 Tf 1 Tc 20 700 Td (AB) Tj ET\n\
            BT 0 Tc 50 Tz 2 Tw 20 680 Td [(A) -1000 ( C)] TJ ET\n\
            BT 100 Tz 0 Tw 12 TL 20 660 Td (A) Tj 3 Ts (B) Tj 0 Ts T* (C) Tj (A) ' 1 0 (B) \" ET\n\
            BT /F1 1 Tf 10 0 0 10 300 700 Tm (AB) Tj ET\n\
            q 1 0 0 1 0 -100 cm /Fm1 Do /Loop Do /Im1 Do Q\n\
            BT /F3 10 Tf 20 360 Td <00410042> Tj ET\n\
            BT /F4 10 Tf 5 Tw 20 380 Td <D840DC0000200041> Tj ET\n\
            BT /F1 10 Tf 20 300 Td 0 -15 TD (A) Tj T* (B) Tj ET\n";
        let doc = one_page(content, synthetic_resources);
        let lines = text_lines(&doc).unwrap();
        let r = |x, y, width, height| Rect { x, y, width, height };
        // The CTM moves everything by (100, 50): text-space (20, 700) is user (120, 750), top-left
        // baseline 800 - 750 = 50. F1 boxes reach 0.8 em up and 0.2 em down.
        let expected: Vec<(&str, Vec<Rect>)> = vec![
            // 1 Tc widens each advance by 1.
            ("αB", vec![r(120.0, 42.0, 6.0, 10.0), r(126.0, 42.0, 7.0, 10.0)]),
            // 50 Tz halves advances; the TJ gap of 1000 is 10 * 0.5 = 5; the space (MissingWidth
            // 250) gets 2 Tw: (2.5 + 2) * 0.5.
            ("α C", vec![r(120.0, 62.0, 2.5, 10.0), r(127.5, 62.0, 2.25, 10.0), r(129.75, 62.0, 3.5, 10.0)]),
            // 3 Ts raises B's box but leaves it on the line.
            ("αB", vec![r(120.0, 82.0, 5.0, 10.0), r(125.0, 79.0, 6.0, 10.0)]),
            // T*, ' and " each go 12 (TL) down.
            ("C", vec![r(120.0, 94.0, 7.0, 10.0)]),
            ("α", vec![r(120.0, 106.0, 5.0, 10.0)]),
            ("B", vec![r(120.0, 118.0, 6.0, 10.0)]),
            // Size 1 scaled 10 times by Tm, on the first line's baseline but far right of it.
            ("αB", vec![r(400.0, 42.0, 5.0, 10.0), r(405.0, 42.0, 6.0, 10.0)]),
            // The form: its /Matrix (200, 0), the cm (0, -100) and the page's (100, 50) put (0, 500)
            // at (300, 450), top-left baseline 350; size 20, default ascent 0.88. Code 3 has no
            // Unicode and is skipped but advances by /DW; code 5 too, by /W's 500.
            ("中文中", vec![r(300.0, 332.4, 16.0, 20.0), r(316.0, 332.4, 18.0, 20.0), r(354.0, 332.4, 16.0, 20.0)]),
            // F3 (Identity-H, no ToUnicode) drew nothing. F4: a surrogate pair is one 4-byte code
            // (/DW), a 2-byte space gets no Tw, A is CID 34.
            ("\u{20000} A", vec![r(120.0, 361.2, 10.0, 10.0), r(130.0, 361.2, 2.0, 10.0), r(132.0, 361.2, 5.0, 10.0)]),
            // TD moves to (20, 285), user (120, 335), top-left 465, and sets TL to 15 for T*.
            ("α", vec![r(120.0, 457.0, 5.0, 10.0)]),
            ("B", vec![r(120.0, 472.0, 6.0, 10.0)]),
        ];
        let texts: Vec<String> = lines.iter().map(TextLine::text).collect();
        assert_eq!(texts, expected.iter().map(|(t, _)| t.to_string()).collect::<Vec<_>>());
        for (line, (text, rects)) in lines.iter().zip(&expected) {
            assert_eq!(line.page, 1);
            for (glyph, rect) in line.glyphs.iter().zip(rects) {
                close_rect(glyph.rect, *rect, 1e-3, &format!("{text} {:?}", glyph.ch));
            }
        }
    }

    #[test]
    fn glyphs_join_a_line_within_one_em_left_and_one_and_a_half_em_right() {
        // Helvetica 10 (6 points a glyph, em 10). X ends at 76; Y starts 15 right of it (1.5 em,
        // joins), Z 16 right of Y's end (new line), W 10 left of Z's end (one em, joins), V 11 left
        // of W's end (new line), U 0.5 higher (new line).
        let content = b"BT /H 10 Tf 70 700 Td (X) Tj ET BT /H 10 Tf 91 700 Td (Y) Tj ET \
            BT /H 10 Tf 113 700 Td (Z) Tj ET BT /H 10 Tf 109 700 Td (W) Tj ET \
            BT /H 10 Tf 104 700 Td (V) Tj ET BT /H 10 Tf 110 700.5 Td (U) Tj ET";
        let doc = one_page(content, |doc| {
            let h = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
            dictionary! { "Font" => dictionary! { "H" => h } }
        });
        let texts: Vec<String> = text_lines(&doc).unwrap().iter().map(TextLine::text).collect();
        assert_eq!(texts, ["XY", "ZW", "V", "U"]);
    }

    #[test]
    fn garbage_does_not_panic() {
        // Operators with missing, extra and wrong operands, unbalanced q/Q and BT/ET, unknown
        // fonts and forms, and bytes that are no content stream at all.
        let cases: Vec<Vec<u8>> = vec![
            b"BT /F1 Tf ) ( ] [ 1 2 3 Tm Tj TJ ' \" Q Q Q cm Do \xff\xfe\x00 ET".to_vec(),
            b"Q Q BT /Nope 12 Tf (abc) Tj /F4 1e39 Tf (x) Tj /F1 -5 Tf [(A) /x 1 (B)] TJ ET /Nope Do".to_vec(),
            b"BT /F1 10 Tf 0 0 0 0 0 0 Tm (AB) Tj 1 2 3 4 5 Tm (A) Tj ET q q q 0 0 0 0 0 0 cm /Fm1 Do".to_vec(),
            b"BT /F4 10 Tf <D840> Tj <DC00D840> Tj <00> Tj /F2 10 Tf <000> Tj ET".to_vec(),
            (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect(),
        ];
        for content in cases {
            let doc = one_page(&content, synthetic_resources);
            if let Ok(lines) = text_lines(&doc) {
                for line in lines {
                    assert!(line.glyphs.iter().all(|g| g.rect.x.is_finite() && g.rect.height.is_finite()));
                }
            }
        }
        // Broken fonts: /Widths and /W of the wrong shapes, no descendant, a CMap that is no CMap.
        let content = b"BT /A 10 Tf (AB) Tj /B 10 Tf <00010002> Tj /C 10 Tf <0001> Tj ET";
        let doc = one_page(content, |doc| {
            let junk = doc.add_object(Stream::new(dictionary! {}, b"begincmap <00 beginbfchar".to_vec()));
            let a = doc.add_object(dictionary! {
                "Type" => "Font", "Subtype" => "Type1", "FirstChar" => -7, "Widths" => 3, "ToUnicode" => junk,
                "Encoding" => dictionary! { "Differences" => vec![300.into(), "nope".into()] },
            });
            let descendant = doc.add_object(dictionary! {
                "W" => vec![1.into(), 4_294_967_295i64.into(), 2.into(), (-3).into(), Object::Null, 9.into()],
                "DW" => "x",
            });
            let b = doc.add_object(dictionary! {
                "Type" => "Font", "Subtype" => "Type0", "Encoding" => "Identity-H",
                "DescendantFonts" => vec![descendant.into()], "ToUnicode" => junk,
            });
            let c = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type0", "DescendantFonts" => 1 });
            dictionary! { "Font" => dictionary! { "A" => a, "B" => b, "C" => c } }
        });
        let _ = text_lines(&doc);
    }

    #[test]
    fn documents_without_form_or_with_a_broken_one_have_no_fields() {
        let doc = one_page(b"", |_| dictionary! {});
        assert_eq!(form_fields(&doc).unwrap(), vec![]);
        assert!(text_lines(&doc).unwrap().is_empty());
        // The example templates have no AcroForm either.
        assert_eq!(form_fields(&load("examples/templates/employment-contract.pdf")).unwrap(), vec![]);

        // /Fields not an array; then a field whose kid is itself, one without /Rect, one on no page.
        let mut doc = one_page(b"", |_| dictionary! {});
        let catalog = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
        let set_fields = |doc: &mut Document, fields: Object| {
            doc.get_dictionary_mut(catalog).unwrap().set("AcroForm", dictionary! { "Fields" => fields });
        };
        set_fields(&mut doc, 5.into());
        assert_eq!(form_fields(&doc).unwrap(), vec![]);
        let looping = doc.new_object_id();
        doc.objects.insert(looping, Object::Dictionary(dictionary! { "T" => "a", "Kids" => vec![looping.into()] }));
        let no_rect = doc.add_object(dictionary! { "T" => "b", "Subtype" => "Widget" });
        let no_page = doc.add_object(dictionary! {
            "T" => "c", "Subtype" => "Widget", "Rect" => vec![0.into(), 0.into(), 1.into(), 1.into()],
        });
        set_fields(&mut doc, vec![looping.into(), no_rect.into(), no_page.into(), Object::Null].into());
        assert_eq!(form_fields(&doc).unwrap(), vec![]);
    }
}
