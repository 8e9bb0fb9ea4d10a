//! A report as a new PDF of A4 pages: a title, headings, paragraphs and ruled tables whose rows
//! wrap in their columns and continue on the next page with the header repeated; every page
//! carries a footer and its number. Text is set in the 黑体 font as an embedded subset, so
//! `pdftotext` gives back exactly what was written.

use lopdf::{Dictionary, Document, Object};
use pdf_writer::{Content, Name, Str};

use super::font::{Fonts, GlyphSet, compressed};
use crate::domain::document::FontFamily;

/// What a report is made of, in reading order.
pub enum Block {
    Title(String),
    Heading(String),
    Paragraph(String),
    /// Columns (header, share of the width), then rows of one cell per column.
    Table {
        columns: Vec<(String, f64)>,
        rows: Vec<Vec<String>>,
    },
}

const WIDTH: f32 = 595.28;
const HEIGHT: f32 = 841.89;
const MARGIN: f32 = 48.0;
const FOOTER: f32 = 28.0;
const TITLE_SIZE: f32 = 18.0;
const HEADING_SIZE: f32 = 12.5;
const TEXT_SIZE: f32 = 9.5;
const CELL_SIZE: f32 = 8.0;
const LEADING: f32 = 1.35;
const CELL_PAD: f32 = 3.0;

/// One thing drawn on a page; text is kept as text until the pages are counted.
enum Op {
    Text { x: f32, y: f32, size: f32, text: String },
    Rule { x0: f32, y0: f32, x1: f32, y1: f32 },
    Shade { x: f32, y: f32, w: f32, h: f32 },
}

struct Layout<'a> {
    fonts: &'a Fonts,
    pages: Vec<Vec<Op>>,
    /// Where the next line's top is, from the page's bottom.
    y: f32,
}

impl Layout<'_> {
    fn width_of(&self, text: &str, size: f32) -> f32 {
        let Ok(font) = self.fonts.get(FontFamily::Hei) else { return 0.0 };
        text.chars().map(|c| font.glyph(c).map_or(0.0, |g| font.advance_of(g) as f32) * size).sum()
    }

    /// `text` broken into lines no wider than `width`: at its own line breaks, and at any
    /// character past the width (hashes and ids have no spaces to break at).
    fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            let mut used = 0.0;
            for c in paragraph.chars() {
                let w = self.width_of(c.encode_utf8(&mut [0; 4]), size);
                if used + w > width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    used = 0.0;
                }
                line.push(c);
                used += w;
            }
            lines.push(line);
        }
        lines
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = HEIGHT - MARGIN;
    }

    /// Room for `height` more on this page, else a new page.
    fn room(&mut self, height: f32) {
        if self.y - height < MARGIN + FOOTER {
            self.new_page();
        }
    }

    fn op(&mut self, op: Op) {
        self.pages.last_mut().expect("a page is open").push(op);
    }

    fn lines(&mut self, text: &str, size: f32, before: f32) {
        self.y -= before;
        for line in self.wrap(text, size, WIDTH - 2.0 * MARGIN) {
            self.room(size * LEADING);
            self.y -= size * LEADING;
            self.op(Op::Text { x: MARGIN, y: self.y + size * 0.3, size, text: line });
        }
    }

    fn table(&mut self, columns: &[(String, f64)], rows: &[Vec<String>]) {
        let total: f64 = columns.iter().map(|(_, share)| share).sum();
        let widths: Vec<f32> =
            columns.iter().map(|(_, share)| (share / total) as f32 * (WIDTH - 2.0 * MARGIN)).collect();
        let header: Vec<String> = columns.iter().map(|(h, _)| h.clone()).collect();
        self.y -= 4.0;
        self.room(3.0 * CELL_SIZE * LEADING + 2.0 * CELL_PAD);
        self.row(&widths, &header, true);
        for row in rows {
            let height = self.row_height(&widths, row);
            if self.y - height < MARGIN + FOOTER {
                self.new_page();
                self.row(&widths, &header, true);
            }
            self.row(&widths, row, false);
        }
        self.y -= 6.0;
    }

    fn row_height(&self, widths: &[f32], cells: &[String]) -> f32 {
        let lines = cells
            .iter()
            .zip(widths)
            .map(|(cell, w)| self.wrap(cell, CELL_SIZE, w - 2.0 * CELL_PAD).len())
            .max()
            .unwrap_or(1);
        lines as f32 * CELL_SIZE * LEADING + 2.0 * CELL_PAD
    }

    fn row(&mut self, widths: &[f32], cells: &[String], header: bool) {
        let height = self.row_height(widths, cells);
        let top = self.y;
        let bottom = top - height;
        if header {
            self.op(Op::Shade { x: MARGIN, y: bottom, w: WIDTH - 2.0 * MARGIN, h: height });
        }
        let mut x = MARGIN;
        for (cell, w) in cells.iter().zip(widths) {
            let mut y = top - CELL_PAD;
            for line in self.wrap(cell, CELL_SIZE, w - 2.0 * CELL_PAD) {
                y -= CELL_SIZE * LEADING;
                self.op(Op::Text { x: x + CELL_PAD, y: y + CELL_SIZE * 0.3, size: CELL_SIZE, text: line });
            }
            self.op(Op::Rule { x0: x, y0: top, x1: x, y1: bottom });
            x += w;
        }
        self.op(Op::Rule { x0: x, y0: top, x1: x, y1: bottom });
        self.op(Op::Rule { x0: MARGIN, y0: top, x1: x, y1: top });
        self.op(Op::Rule { x0: MARGIN, y0: bottom, x1: x, y1: bottom });
        self.y = bottom;
    }
}

/// The report `blocks` make, with `footer` and the page number at the bottom of every page.
pub fn render(blocks: &[Block], footer: &str, fonts: &Fonts) -> anyhow::Result<Vec<u8>> {
    let font = fonts.get(FontFamily::Hei)?.clone();
    let mut layout = Layout { fonts, pages: Vec::new(), y: 0.0 };
    layout.new_page();
    for block in blocks {
        match block {
            Block::Title(text) => layout.lines(text, TITLE_SIZE, 0.0),
            Block::Heading(text) => {
                layout.room(HEADING_SIZE * LEADING + 3.0 * CELL_SIZE * LEADING);
                layout.lines(text, HEADING_SIZE, 10.0);
            }
            Block::Paragraph(text) => layout.lines(text, TEXT_SIZE, 2.0),
            Block::Table { columns, rows } => layout.table(columns, rows),
        }
    }

    let mut glyphs = GlyphSet::new(font);
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font_ids: Vec<u32> = (0..5).map(|_| doc.new_object_id().0).collect();
    let count = layout.pages.len();
    let mut kids = Vec::with_capacity(count);
    for (n, ops) in layout.pages.iter().enumerate() {
        let mut content = Content::new();
        content.set_line_width(0.5).set_stroke_gray(0.45);
        for op in ops {
            match op {
                Op::Shade { x, y, w, h } => {
                    content.set_fill_gray(0.9).rect(*x, *y, *w, *h).fill_nonzero().set_fill_gray(0.0);
                }
                Op::Rule { x0, y0, x1, y1 } => {
                    content.move_to(*x0, *y0).line_to(*x1, *y1).stroke();
                }
                Op::Text { .. } => {}
            }
        }
        let page_footer = format!("{footer}    第 {} 页 / 共 {count} 页", n + 1);
        let footer_op = Op::Text { x: MARGIN, y: MARGIN - 6.0, size: 7.5, text: page_footer };
        for op in ops.iter().chain(std::iter::once(&footer_op)) {
            if let Op::Text { x, y, size, text } = op {
                let encoded = glyphs.encode(text)?;
                content.begin_text().set_font(Name(b"F1"), *size).next_line(*x, *y).show(Str(&encoded)).end_text();
            }
        }
        let content_id = doc.add_object(compressed(Dictionary::new(), &content.finish()));
        let resources = Dictionary::from_iter([(
            "Font",
            Object::Dictionary(Dictionary::from_iter([("F1", Object::Reference((font_ids[0], 0)))])),
        )]);
        let page = Dictionary::from_iter([
            ("Type", Object::Name(b"Page".to_vec())),
            ("Parent", Object::Reference(pages_id)),
            ("MediaBox", Object::Array(vec![0.into(), 0.into(), Object::Real(WIDTH), Object::Real(HEIGHT)])),
            ("Resources", Object::Dictionary(resources)),
            ("Contents", Object::Reference(content_id)),
        ]);
        kids.push(Object::Reference(doc.add_object(page)));
    }
    let ids = [font_ids[0], font_ids[1], font_ids[2], font_ids[3], font_ids[4]];
    for (id, object) in glyphs.objects(ids)? {
        doc.objects.insert((id, 0), object);
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(Dictionary::from_iter([
            ("Type", Object::Name(b"Pages".to_vec())),
            ("Kids", Object::Array(kids)),
            ("Count", Object::Integer(count as i64)),
        ])),
    );
    let catalog = doc.add_object(Dictionary::from_iter([
        ("Type", Object::Name(b"Catalog".to_vec())),
        ("Pages", Object::Reference(pages_id)),
    ]));
    doc.trailer.set("Root", Object::Reference(catalog));
    let mut out = Vec::new();
    doc.save_to(&mut out)?;
    Ok(out)
}
