//! A contract from its template: the template's bytes stay exactly as they are and one
//! incremental update is appended (PDF's own mechanism for changing a file), holding the
//! pages that get content, the fonts, images and drawing. The template is parsed once
//! ([`PreparedTemplate`]); each contract then only lays out and writes its own objects.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use bytes::Bytes;
use lopdf::{Dictionary, Object, ObjectId};

use super::font::{Fonts, GlyphSet, compressed};
use super::image::ImageXObject;
use crate::domain::document::{
    CELL_PADDING, DynamicTable, FontFamily, ImageFit, SetLine, TABLE_STYLE, TableLayout, TextStyle,
};
use crate::domain::template::Placement;

/// What a template's pages look like to the writer, computed once per template.
pub struct PreparedTemplate {
    pub(super) bytes: Bytes,
    pub(super) pages: Vec<PageInfo>,
    trailer: Dictionary,
    /// The document catalog, for updates that change the form or the permissions.
    pub(super) catalog: (ObjectId, Dictionary),
    /// The catalog's interactive form, dereferenced, if there is one.
    pub(super) acro_form: Option<(Option<ObjectId>, Dictionary)>,
    /// The root of the page tree, for documents that gain pages.
    pages_root: (ObjectId, Dictionary),
    pub(super) next_id: u32,
    prev_xref: usize,
    xref_stream: bool,
}

pub(super) struct PageInfo {
    pub(super) id: ObjectId,
    pub(super) dict: Dictionary,
    contents: Vec<Object>,
    /// The page's annotations (its `/Annots`, dereferenced if indirect).
    pub(super) annots: Vec<Object>,
    /// The page's resources with `/Font` and `/XObject` as direct dictionaries, inherited
    /// ones included, so new names can be added beside them.
    resources: Dictionary,
    /// MediaBox: x0, y0, x1, y1.
    pub(super) media: [f64; 4],
}

impl PreparedTemplate {
    /// The template's pages as the writer needs them; the bytes are checked on the way (see
    /// [`super::load`], [`super::pages`]), so what this accepts makes documents.
    pub fn new(bytes: Bytes) -> anyhow::Result<PreparedTemplate> {
        let doc = super::load(&bytes)?;
        PreparedTemplate::from_document(bytes, &doc)
    }

    /// [`PreparedTemplate::new`] for bytes already loaded as `doc` (with [`super::load`]).
    pub(super) fn from_document(bytes: Bytes, doc: &lopdf::Document) -> anyhow::Result<PreparedTemplate> {
        let tree = super::pages(doc)?;
        super::check_complete(doc, &tree)?;
        let mut pages = Vec::with_capacity(tree.len());
        for page in tree {
            let mut resources = page.resources.cloned().unwrap_or_default();
            for key in [&b"Font"[..], b"XObject"] {
                if let Ok(o) = resources.get(key) {
                    let direct = doc.dereference(o)?.1.as_dict()?.clone();
                    resources.set(key, Object::Dictionary(direct));
                }
            }
            let contents = match page.dict.get(b"Contents") {
                Ok(Object::Array(a)) => a.clone(),
                Ok(r @ Object::Reference(_)) => match doc.dereference(r)?.1 {
                    Object::Array(a) => a.clone(),
                    _ => vec![r.clone()],
                },
                _ => Vec::new(),
            };
            let annots = match page.dict.get(b"Annots") {
                Ok(o) => doc.dereference(o)?.1.as_array().cloned().unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            pages.push(PageInfo {
                id: page.id,
                dict: page.dict.clone(),
                contents,
                annots,
                resources,
                media: page.media_box,
            });
        }
        let catalog_id = doc.trailer.get(b"Root")?.as_reference()?;
        let catalog = doc.get_dictionary(catalog_id)?.clone();
        let acro_form = match catalog.get(b"AcroForm") {
            Ok(Object::Reference(id)) => Some((Some(*id), doc.get_dictionary(*id)?.clone())),
            Ok(Object::Dictionary(d)) => Some((None, d.clone())),
            _ => None,
        };
        let acro_form = match acro_form {
            Some((id, mut form)) => {
                if let Ok(fields @ Object::Reference(_)) = form.get(b"Fields") {
                    let direct = doc.dereference(fields)?.1.as_array()?.clone();
                    form.set("Fields", Object::Array(direct));
                }
                Some((id, form))
            }
            None => None,
        };
        let pages_root_id = doc.catalog()?.get(b"Pages")?.as_reference()?;
        let pages_root = (pages_root_id, doc.get_dictionary(pages_root_id)?.clone());
        let xref_stream =
            matches!(doc.reference_table.cross_reference_type, lopdf::xref::XrefType::CrossReferenceStream);
        let mut trailer = doc.trailer.clone();
        for key in [&b"Prev"[..], b"XRefStm", b"Type", b"W", b"Index", b"Length", b"Filter", b"DecodeParms", b"Size"] {
            trailer.remove(key);
        }
        Ok(PreparedTemplate {
            pages,
            trailer,
            catalog: (catalog_id, catalog),
            acro_form,
            pages_root,
            next_id: doc.max_id + 1,
            prev_xref: doc.xref_start,
            xref_stream,
            bytes,
        })
    }

    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Width and height in points of each page.
    pub fn page_sizes(&self) -> Vec<(f64, f64)> {
        self.pages.iter().map(|p| (p.media[2] - p.media[0], p.media[3] - p.media[1])).collect()
    }
}

/// Something drawn on a page, in Tencent's coordinates (top-left origin, points).
pub enum Mark {
    Text {
        page: u32,
        rect: Placement,
        lines: Vec<SetLine>,
        style: TextStyle,
    },
    Check {
        page: u32,
        rect: Placement,
        checked: bool,
    },
    Image {
        page: u32,
        rect: Placement,
        image: Arc<ImageXObject>,
        fit: ImageFit,
    },
    Table {
        page: u32,
        rect: Placement,
        table: DynamicTable,
    },
    /// A round red seal drawn from the organisation's name (see [`super::seal`]), as large as
    /// fits the box and centred in it; `caption` goes under the star.
    Seal {
        page: u32,
        rect: Placement,
        organization: String,
        caption: Option<String>,
    },
}

impl Mark {
    /// The box the mark is drawn in; its page is the template page the mark goes on.
    pub fn placement(&self) -> Placement {
        match self {
            Mark::Text { page, rect, .. }
            | Mark::Check { page, rect, .. }
            | Mark::Image { page, rect, .. }
            | Mark::Table { page, rect, .. }
            | Mark::Seal { page, rect, .. } => Placement { page: *page, ..*rect },
        }
    }
}

/// The drawing and resources one page collects.
#[derive(Default)]
struct PageDraw {
    content: Vec<u8>,
    /// Resource name → the Type0 font's object number.
    fonts: BTreeMap<String, u32>,
    images: Vec<(String, u32)>,
}

struct Builder<'a> {
    template: &'a PreparedTemplate,
    fonts: &'a Fonts,
    next_id: u32,
    objects: Vec<(u32, Object)>,
    draws: BTreeMap<usize, PageDraw>,
    /// Pages added after a template page (tables that run on), by that page's index.
    added: BTreeMap<usize, Vec<PageDraw>>,
    /// Each family's glyphs and the five object numbers its subset will take (see
    /// [`GlyphSet::objects`]), numbered when the family is first used so that its resource
    /// name can carry the number.
    glyphs: BTreeMap<FontFamily, (GlyphSet, [u32; 5])>,
}

fn font_name(f: FontFamily) -> &'static str {
    match f {
        FontFamily::Hei => "QsHei",
        FontFamily::Song => "QsSong",
        FontFamily::FangSong => "QsFangSong",
    }
}

impl<'a> Builder<'a> {
    /// An update of `template` with nothing drawn yet.
    fn new(template: &'a PreparedTemplate, fonts: &'a Fonts) -> Builder<'a> {
        Builder {
            template,
            fonts,
            next_id: template.next_id,
            objects: Vec::new(),
            draws: BTreeMap::new(),
            added: BTreeMap::new(),
            glyphs: BTreeMap::new(),
        }
    }

    /// Draws `mark` into `draw`, on a page of `media`; tables, which may run on to new pages,
    /// are drawn by [`Builder::table`].
    fn mark(&mut self, draw: &mut PageDraw, media: [f64; 4], mark: &Mark) -> anyhow::Result<()> {
        match mark {
            Mark::Text { rect, lines, style, .. } => self.text(draw, media, rect, lines, style),
            Mark::Check { rect, checked, .. } => Builder::check(draw, media, rect, *checked),
            Mark::Image { rect, image, fit, .. } => self.image(draw, media, rect, image, *fit),
            Mark::Seal { rect, organization, caption, .. } => {
                self.seal(draw, media, rect, organization, caption.as_deref())
            }
            Mark::Table { .. } => bail!("a table can only be drawn on its page"),
        }
    }

    fn id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id - 1
    }

    fn page(&self, page: u32) -> anyhow::Result<(usize, [f64; 4])> {
        let i = page as usize - 1;
        let info = self.template.pages.get(i).ok_or_else(|| anyhow!("page {page} is past the template's last page"))?;
        Ok((i, info.media))
    }

    /// The glyphs of `family` and the name `draw`'s page knows its subset by. The name carries
    /// the subset's object number: a document made from an earlier revision of itself already
    /// has qianshu's fonts of that revision in its pages' resources, and its drawing must keep
    /// them, so each revision's fonts need names of their own.
    fn font(&mut self, draw: &mut PageDraw, family: FontFamily) -> anyhow::Result<(String, &mut GlyphSet)> {
        if !self.glyphs.contains_key(&family) {
            let font = self.fonts.get(family)?.clone();
            let ids = [self.id(), self.id(), self.id(), self.id(), self.id()];
            self.glyphs.insert(family, (GlyphSet::new(font), ids));
        }
        let (glyphs, ids) = self.glyphs.get_mut(&family).expect("inserted above");
        let name = format!("{}{}", font_name(family), ids[0]);
        draw.fonts.insert(name.clone(), ids[0]);
        Ok((name, glyphs))
    }

    fn text(
        &mut self,
        draw: &mut PageDraw,
        media: [f64; 4],
        rect: &Placement,
        lines: &[SetLine],
        style: &TextStyle,
    ) -> anyhow::Result<()> {
        let (font, glyphs) = self.font(draw, style.font)?;
        let c = &mut draw.content;
        let [r, g, b] = style.color.map(|v| f64::from(v) / 255.0);
        write!(c, "BT /{font} {} Tf {r:.3} {g:.3} {b:.3} rg ", style.size)?;
        // The render mode outlives ET, so every text says its own.
        if style.bold {
            write!(c, "2 Tr {:.3} w {r:.3} {g:.3} {b:.3} RG ", style.size * 0.03)?;
        } else {
            c.extend_from_slice(b"0 Tr ");
        }
        for line in lines {
            let cids = glyphs.encode(&line.text)?;
            let x = media[0] + rect.x + line.x;
            let y = media[3] - (rect.y + line.baseline);
            write!(c, "1 0 0 1 {x:.3} {y:.3} Tm <")?;
            for b in cids {
                write!(c, "{b:02X}")?;
            }
            c.extend_from_slice(b"> Tj ");
        }
        c.extend_from_slice(b"ET\n");
        Ok(())
    }

    fn seal(
        &mut self,
        draw: &mut PageDraw,
        media: [f64; 4],
        rect: &Placement,
        organization: &str,
        caption: Option<&str>,
    ) -> anyhow::Result<()> {
        let (font, glyphs) = self.font(draw, super::seal::FONT)?;
        let radius = rect.width.min(rect.height) / 2.0;
        let center = (media[0] + rect.x + rect.width / 2.0, media[3] - rect.y - rect.height / 2.0);
        super::seal::draw(&mut draw.content, &font, glyphs, center, radius, organization, caption)
    }

    fn check(draw: &mut PageDraw, media: [f64; 4], rect: &Placement, checked: bool) -> anyhow::Result<()> {
        let side = rect.width.min(rect.height);
        let line = (side / 14.0).max(0.5);
        let x = media[0] + rect.x + (rect.width - side) / 2.0;
        let y = media[3] - rect.y - (rect.height + side) / 2.0;
        let inset = line / 2.0;
        let c = &mut draw.content;
        write!(c, "q {line:.3} w 0 G {:.3} {:.3} {:.3} {:.3} re S ", x + inset, y + inset, side - line, side - line)?;
        if checked {
            let p = |fx: f64, fy: f64| (x + side * fx, y + side * fy);
            let ((ax, ay), (bx, by), (cx, cy)) = (p(0.2, 0.52), p(0.42, 0.25), p(0.8, 0.78));
            write!(c, "{:.3} w 1 J 1 j {ax:.3} {ay:.3} m {bx:.3} {by:.3} l {cx:.3} {cy:.3} l S ", line * 1.6)?;
        }
        c.extend_from_slice(b"Q\n");
        Ok(())
    }

    fn image(
        &mut self,
        draw: &mut PageDraw,
        media: [f64; 4],
        rect: &Placement,
        image: &ImageXObject,
        fit: ImageFit,
    ) -> anyhow::Result<()> {
        let id = self.id();
        let mut stream = image.image.clone();
        if let Some(mask) = &image.smask {
            let mask_id = self.id();
            stream.dict.set("SMask", Object::Reference((mask_id, 0)));
            self.objects.push((mask_id, Object::Stream(mask.clone())));
        }
        self.objects.push((id, Object::Stream(stream)));
        let name = format!("QsIm{id}");
        let (mut w, mut h) = (rect.width, rect.height);
        let (mut x, mut y) = (rect.x, rect.y);
        if !fit.stretch {
            let scale = (rect.width / f64::from(image.width)).min(rect.height / f64::from(image.height));
            (w, h) = (f64::from(image.width) * scale, f64::from(image.height) * scale);
            if fit.center {
                x += (rect.width - w) / 2.0;
                y += (rect.height - h) / 2.0;
            }
        }
        let (px, py) = (media[0] + x, media[3] - y - h);
        writeln!(draw.content, "q {w:.3} 0 0 {h:.3} {px:.3} {py:.3} cm /{name} Do Q")?;
        draw.images.push((name, id));
        Ok(())
    }
}

/// Part of a table on one page: its top, the height it may take, and its groups of rows
/// (first and last row of each).
type Piece = (f64, f64, Vec<(usize, usize)>);
/// Margins of pages a table runs on to.
const RUN_ON_MARGIN: f64 = 56.0;

impl Builder<'_> {
    /// Draws a table from the top of its box, row by row; rows that do not fit in the box go
    /// on to new pages inserted after the box's page, each starting with the header again.
    fn table(
        &mut self,
        page_index: usize,
        media: [f64; 4],
        rect: &Placement,
        table: &DynamicTable,
    ) -> anyhow::Result<()> {
        let layout = table.layout(rect.width, self.fonts).map_err(|e| anyhow!("a table cannot be set: {e}"))?;
        let style = TABLE_STYLE;
        let TableLayout { widths, header, header_height, heights, .. } = &layout;
        let header_height = *header_height;
        let lefts: Vec<f64> = widths
            .iter()
            .scan(0.0, |acc, w| {
                let l = *acc;
                *acc += w;
                Some(l)
            })
            .collect();
        let span_width = |c0: usize, c1: usize| widths[c0..=c1].iter().sum::<f64>();
        let cells: Vec<_> = table.cells.iter().zip(&layout.cells).collect();
        // Split rows into pieces, one per page; rows spanned by one cell stay together.
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut r = 0;
        while r < table.row_count {
            let mut end = r;
            for (c, _) in &cells {
                if c.rows.0 <= end && c.rows.1 > end && c.rows.0 >= r {
                    end = c.rows.1;
                }
            }
            groups.push((r, end));
            r = end + 1;
        }
        let page_height = media[3] - media[1];
        let mut pieces: Vec<Piece> = vec![(rect.y, rect.height, Vec::new())];
        let mut used = header_height;
        for g in groups {
            let h: f64 = heights[g.0..=g.1].iter().sum();
            let (_, room, rows) = pieces.last_mut().expect("one piece at least");
            if used + h <= *room + 1e-6 {
                rows.push(g);
                used += h;
            } else {
                if header_height + h > page_height - 2.0 * RUN_ON_MARGIN {
                    bail!("a table row is taller than a page");
                }
                pieces.push((RUN_ON_MARGIN, page_height - 2.0 * RUN_ON_MARGIN, vec![g]));
                used = header_height + h;
            }
        }
        for (n, (top, _, rows)) in pieces.into_iter().enumerate() {
            // A box too small for even one row leaves the template page untouched.
            let (Some(&(first, _)), Some(&(_, last))) = (rows.first(), rows.last()) else { continue };
            let mut draw = PageDraw::default();
            let mut y = top;
            let grid = |draw: &mut PageDraw, y0: f64, h: f64, x0: f64, w: f64| {
                write!(draw.content, "{:.3} {:.3} {:.3} {:.3} re S ", media[0] + rect.x + x0, media[3] - y0 - h, w, h)
            };
            draw.content.extend_from_slice(b"q 0.6 w 0 G\n");
            for (i, lines) in header.iter().enumerate() {
                grid(&mut draw, y, header_height, lefts[i], widths[i])?;
                let cell = Placement {
                    page: 0,
                    x: rect.x + lefts[i] + CELL_PADDING,
                    y: y + CELL_PADDING,
                    width: widths[i],
                    height: header_height,
                };
                self.text(&mut draw, media, &cell, lines, &TextStyle { bold: true, ..style })?;
            }
            y += header_height;
            let row_top = |row: usize| y + heights[first..row].iter().sum::<f64>();
            for (c, lines) in &cells {
                if c.rows.0 < first || c.rows.0 > last {
                    continue;
                }
                let (top, h) = (row_top(c.rows.0), heights[c.rows.0..=c.rows.1].iter().sum::<f64>());
                grid(&mut draw, top, h, lefts[c.columns.0], span_width(c.columns.0, c.columns.1))?;
                let cell = Placement {
                    page: 0,
                    x: rect.x + lefts[c.columns.0] + CELL_PADDING,
                    y: top + CELL_PADDING,
                    width: 0.0,
                    height: h,
                };
                self.text(&mut draw, media, &cell, lines, &style)?;
            }
            // Cells nobody filled still get their grid lines.
            #[allow(clippy::needless_range_loop)] // rows and columns index several tables at once
            for row in first..=last {
                for col in 0..widths.len() {
                    if !cells.iter().any(|(c, _)| {
                        (c.rows.0..=c.rows.1).contains(&row) && (c.columns.0..=c.columns.1).contains(&col)
                    }) {
                        grid(&mut draw, row_top(row), heights[row], lefts[col], widths[col])?;
                    }
                }
            }
            draw.content.extend_from_slice(b"Q\n");
            if n == 0 {
                let page = self.draws.entry(page_index).or_default();
                merge(page, draw);
            } else {
                let added = self.added.entry(page_index).or_default();
                if added.len() < n {
                    added.resize_with(n, PageDraw::default);
                }
                merge(&mut added[n - 1], draw);
            }
        }
        Ok(())
    }
}

fn merge(into: &mut PageDraw, from: PageDraw) {
    into.content.extend_from_slice(&from.content);
    into.fonts.extend(from.fonts);
    into.images.extend(from.images);
}

/// The contract: `template` with `marks` drawn on it and the empty form `fields` its signers
/// fill and sign (see [`super::pades`]), as one incremental update.
pub fn compose(
    template: &PreparedTemplate,
    marks: &[Mark],
    fields: &[super::pades::FormField],
    fonts: &Fonts,
) -> anyhow::Result<Vec<u8>> {
    let mut update = draw(template, marks, fonts)?;
    super::pades::add_form_fields(&mut update, fields)?;
    update.write()
}

/// A new revision's objects (new ones, and new versions of the base's), not yet written, so
/// that a signature can join the same incremental update as the drawing it signs.
pub struct Update<'a> {
    pub base: &'a PreparedTemplate,
    pub objects: Vec<(u32, Object)>,
    /// The first object number still free.
    pub next_id: u32,
}

impl Update<'_> {
    /// The base's bytes, unchanged, followed by the update.
    pub fn write(self) -> anyhow::Result<Vec<u8>> {
        Ok(write_update(self.base, self.objects, self.next_id)?.0)
    }

    /// [`Update::write`], also answering where each object of the update starts.
    pub fn write_located(self) -> anyhow::Result<(Vec<u8>, BTreeMap<u32, usize>)> {
        write_update(self.base, self.objects, self.next_id)
    }

    /// A new object number.
    pub fn id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id - 1
    }

    /// The update's version of object `id`, taken from the base (`from_base`) when the update
    /// does not change it yet.
    pub fn object_mut(&mut self, id: u32, from_base: impl FnOnce() -> Object) -> &mut Object {
        let at = match self.objects.iter().position(|(i, _)| *i == id) {
            Some(at) => at,
            None => {
                self.objects.push((id, from_base()));
                self.objects.len() - 1
            }
        };
        &mut self.objects[at].1
    }
}

/// `marks` drawn on `template`: the objects of one incremental update.
pub fn draw<'a>(template: &'a PreparedTemplate, marks: &[Mark], fonts: &Fonts) -> anyhow::Result<Update<'a>> {
    let mut b = Builder::new(template, fonts);
    for mark in marks {
        let (i, media) = b.page(mark.placement().page)?;
        if let Mark::Table { rect, table, .. } = mark {
            b.table(i, media, rect, table)?;
            continue;
        }
        let mut draw = b.draws.remove(&i).unwrap_or_default();
        let outcome = b.mark(&mut draw, media, mark);
        b.draws.insert(i, draw);
        outcome?;
    }
    // Fonts: one subset per family for the whole document.
    for (set, ids) in std::mem::take(&mut b.glyphs).values() {
        b.objects.extend(set.objects(*ids)?);
    }
    let push_q = b.id();
    b.objects.push((push_q, Object::Stream(lopdf::Stream::new(Dictionary::new(), b"q\n".to_vec()))));

    let draws = std::mem::take(&mut b.draws);
    let mut page_objects: Vec<(u32, Object)> = Vec::new();
    for (i, draw) in &draws {
        let info = &template.pages[*i];
        let ours = b.id();
        let mut content = b"Q\n".to_vec();
        content.extend_from_slice(&draw.content);
        b.objects.push((ours, Object::Stream(compressed(Dictionary::new(), &content))));
        let mut contents = vec![Object::Reference((push_q, 0))];
        contents.extend(info.contents.iter().cloned());
        contents.push(Object::Reference((ours, 0)));
        let mut dict = info.dict.clone();
        dict.set("Contents", Object::Array(contents));
        dict.set("Resources", Object::Dictionary(resources(&info.resources, draw)));
        page_objects.push((info.id.0, Object::Dictionary(dict)));
    }
    if !b.added.is_empty() {
        add_pages(&mut b, &mut page_objects)?;
    }
    b.objects.extend(page_objects);
    Ok(Update { base: template, objects: b.objects, next_id: b.next_id })
}

/// `base` (a page's resources) with the fonts and images `draw` names added.
fn resources(base: &Dictionary, draw: &PageDraw) -> Dictionary {
    let mut res = base.clone();
    let mut font = res.get(b"Font").and_then(Object::as_dict).cloned().unwrap_or_default();
    for (name, id) in &draw.fonts {
        font.set(name.as_str(), Object::Reference((*id, 0)));
    }
    if !font.is_empty() {
        res.set("Font", Object::Dictionary(font));
    }
    let mut xobjects = res.get(b"XObject").and_then(Object::as_dict).cloned().unwrap_or_default();
    for (name, id) in &draw.images {
        xobjects.set(name.as_str(), Object::Reference((*id, 0)));
    }
    if !xobjects.is_empty() {
        res.set("XObject", Object::Dictionary(xobjects));
    }
    res
}

/// `rect` (Tencent's coordinates) in the space of a page of `media`: x0, y0, x1, y1.
pub fn page_box(media: [f64; 4], rect: &Placement) -> [f64; 4] {
    let (x0, y1) = (media[0] + rect.x, media[3] - rect.y);
    [x0, y1 - rect.height, x0 + rect.width, y1]
}

/// Widget appearances: each group of marks drawn, as on its page, into a form XObject of its
/// own whose /BBox is the group's box in page space. With the identity /Matrix a widget whose
/// /Rect is that box shows the marks exactly where page content would have put them. Answers
/// the update holding the XObjects (and the fonts and images they draw with) and their object
/// numbers, in the order of `groups`.
pub fn appearances<'a>(
    template: &'a PreparedTemplate,
    groups: &[(Placement, Vec<&Mark>)],
    fonts: &Fonts,
) -> anyhow::Result<(Update<'a>, Vec<u32>)> {
    let mut b = Builder::new(template, fonts);
    let mut drawn = Vec::with_capacity(groups.len());
    for (rect, marks) in groups {
        let (_, media) = b.page(rect.page)?;
        let mut draw = PageDraw::default();
        for mark in marks {
            b.mark(&mut draw, media, mark)?;
        }
        drawn.push((page_box(media, rect), draw));
    }
    for (set, ids) in std::mem::take(&mut b.glyphs).values() {
        b.objects.extend(set.objects(*ids)?);
    }
    let mut ids = Vec::with_capacity(drawn.len());
    for (bbox, draw) in drawn {
        let id = b.id();
        let dict = Dictionary::from_iter([
            ("Type", Object::Name(b"XObject".to_vec())),
            ("Subtype", Object::Name(b"Form".to_vec())),
            ("BBox", Object::Array(bbox.iter().map(|v| Object::Real(*v as f32)).collect())),
            ("Resources", Object::Dictionary(resources(&Dictionary::new(), &draw))),
        ]);
        b.objects.push((id, Object::Stream(compressed(dict, &draw.content))));
        ids.push(id);
    }
    Ok((Update { base: template, objects: b.objects, next_id: b.next_id }, ids))
}

/// Inserts the run-on pages after their template pages: the page tree becomes flat under its
/// root, every page (the template's own objects, re-parented where the tree was nested,
/// with what they inherited made explicit) listed in order.
fn add_pages(b: &mut Builder, page_objects: &mut Vec<(u32, Object)>) -> anyhow::Result<()> {
    let template = b.template;
    let (pages_root, ref root_dict) = template.pages_root;
    let mut kids = Vec::new();
    let added = std::mem::take(&mut b.added);
    for (i, info) in template.pages.iter().enumerate() {
        kids.push(Object::Reference(info.id));
        if info.dict.get(b"Parent").and_then(Object::as_reference).ok() != Some(pages_root)
            && !page_objects.iter().any(|(id, _)| *id == info.id.0)
        {
            let mut dict = info.dict.clone();
            dict.set("Parent", Object::Reference(pages_root));
            dict.set("Resources", Object::Dictionary(info.resources.clone()));
            dict.set("MediaBox", Object::Array(info.media.iter().map(|v| Object::Real(*v as f32)).collect()));
            page_objects.push((info.id.0, Object::Dictionary(dict)));
        }
        for draw in added.get(&i).into_iter().flatten() {
            let (page_id, content_id) = (b.id(), b.id());
            b.objects.push((content_id, Object::Stream(compressed(Dictionary::new(), &draw.content))));
            let dict = Dictionary::from_iter([
                ("Type", Object::Name(b"Page".to_vec())),
                ("Parent", Object::Reference(pages_root)),
                ("MediaBox", Object::Array(info.media.iter().map(|v| Object::Real(*v as f32)).collect())),
                ("Contents", Object::Reference((content_id, 0))),
                ("Resources", Object::Dictionary(resources(&Dictionary::new(), draw))),
            ]);
            b.objects.push((page_id, Object::Dictionary(dict)));
            kids.push(Object::Reference((page_id, 0)));
        }
    }
    for (id, obj) in page_objects.iter_mut() {
        if let Object::Dictionary(d) = obj
            && template.pages.iter().any(|p| p.id.0 == *id)
        {
            d.set("Parent", Object::Reference(pages_root));
        }
    }
    let mut root = root_dict.clone();
    root.set("Count", Object::Integer(kids.len() as i64));
    root.set("Kids", Object::Array(kids));
    b.objects.push((pages_root.0, Object::Dictionary(root)));
    Ok(())
}

/// Appends `objects`, a cross-reference section of the template's kind and the trailer.
fn write_update(
    template: &PreparedTemplate,
    mut objects: Vec<(u32, Object)>,
    size: u32,
) -> anyhow::Result<(Vec<u8>, BTreeMap<u32, usize>)> {
    objects.sort_by_key(|(id, _)| *id);
    let mut out = Vec::with_capacity(template.bytes.len() + 64 * 1024);
    out.extend_from_slice(&template.bytes);
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let mut offsets = Vec::with_capacity(objects.len() + 1);
    for (id, object) in &objects {
        offsets.push((*id, out.len()));
        writeln!(out, "{id} 0 obj")?;
        lopdf::Writer::write_object(&mut out, object)?;
        out.extend_from_slice(b"\nendobj\n");
    }
    let mut trailer = template.trailer.clone();
    trailer.set("Prev", Object::Integer(template.prev_xref as i64));
    let xref_at = out.len();
    // Consecutive ids form one subsection each.
    let mut runs: Vec<(u32, Vec<usize>)> = Vec::new();
    let mut entries = offsets.clone();
    if template.xref_stream {
        entries.push((size, xref_at));
    }
    for (id, offset) in &entries {
        match runs.last_mut() {
            Some((start, offs)) if *start + offs.len() as u32 == *id => offs.push(*offset),
            _ => runs.push((*id, vec![*offset])),
        }
    }
    if template.xref_stream {
        let mut rows = Vec::with_capacity(entries.len() * 7);
        let mut index = Vec::new();
        for (start, offs) in &runs {
            index.push(Object::Integer(i64::from(*start)));
            index.push(Object::Integer(offs.len() as i64));
            for o in offs {
                rows.push(1u8);
                rows.extend_from_slice(&(*o as u32).to_be_bytes());
                rows.extend_from_slice(&[0, 0]);
            }
        }
        trailer.set("Type", Object::Name(b"XRef".to_vec()));
        trailer.set("Size", Object::Integer(i64::from(size) + 1));
        trailer.set("W", Object::Array(vec![Object::Integer(1), Object::Integer(4), Object::Integer(2)]));
        trailer.set("Index", Object::Array(index));
        let stream = lopdf::Stream::new(trailer, rows);
        writeln!(out, "{size} 0 obj")?;
        lopdf::Writer::write_object(&mut out, &Object::Stream(stream))?;
        out.extend_from_slice(b"\nendobj\n");
    } else {
        out.extend_from_slice(b"xref\n");
        for (start, offs) in &runs {
            writeln!(out, "{start} {}", offs.len())?;
            for o in offs {
                writeln!(out, "{o:010} 00000 n ")?;
            }
        }
        trailer.set("Size", Object::Integer(i64::from(size)));
        out.extend_from_slice(b"trailer\n");
        lopdf::Writer::write_object(&mut out, &Object::Dictionary(trailer))?;
        out.push(b'\n');
    }
    write!(out, "startxref\n{xref_at}\n%%EOF\n")?;
    Ok((out, offsets.into_iter().collect()))
}
