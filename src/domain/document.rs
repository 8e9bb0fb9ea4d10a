//! What a contract document shows: the initiator's values, parsed by component type, and how
//! text is set inside a component's box. Pure: font metrics come in through [`Metrics`], so
//! the same layout decides at creation whether text fits and later where it is drawn.

use serde::Deserialize;

use crate::error::{ApiError, Code, fail};

/// The fonts `ComponentExtra.Font` may name ("目前只支持黑体、宋体、仿宋").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FontFamily {
    Hei,
    Song,
    FangSong,
}

impl FontFamily {
    pub const ALL: [FontFamily; 3] = [FontFamily::Hei, FontFamily::Song, FontFamily::FangSong];

    pub fn as_str(self) -> &'static str {
        match self {
            FontFamily::Hei => "黑体",
            FontFamily::Song => "宋体",
            FontFamily::FangSong => "仿宋",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// How a text, date or selector component sets its value (`ComponentExtra`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextStyle {
    pub font: FontFamily,
    pub size: f64,
    pub align: Align,
    pub color: [u8; 3],
    pub bold: bool,
}

impl Default for TextStyle {
    fn default() -> TextStyle {
        TextStyle { font: FontFamily::Hei, size: DEFAULT_FONT_SIZE, align: Align::Left, color: [0, 0, 0], bold: false }
    }
}

const DEFAULT_FONT_SIZE: f64 = 12.0;
const FONT_SIZES: std::ops::RangeInclusive<f64> = 6.0..=72.0;
/// Baseline to baseline, as a multiple of the font size.
pub const LINE_PITCH: f64 = 1.2;

/// The parts of `ComponentExtra` that rendering reads; the rest is kept as given.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Extra {
    font: Option<String>,
    font_size: Option<f64>,
    font_align: Option<String>,
    font_color: Option<String>,
    bold: Option<bool>,
    values: Option<Vec<String>>,
    fill_method: Option<i64>,
    not_make_image_center: Option<bool>,
}

fn extra(extra: Option<&str>, field: &str) -> Result<Extra, ApiError> {
    match extra.filter(|e| !e.trim().is_empty()) {
        None => Ok(Extra::default()),
        Some(e) => serde_json::from_str(e).map_err(|err| {
            ApiError::new(
                Code::InvalidParameter,
                format!("The parameter `{field}` must be a JSON object of the documented settings: {err}."),
            )
        }),
    }
}

impl TextStyle {
    /// `Font`, `FontSize` (6–72), `FontAlign` (Left/Center/Right), `FontColor` ("R,G,B") and
    /// `Bold` from `ComponentExtra`; absent ones take 黑体, 12, Left, black, not bold.
    pub fn parse(extra_json: Option<&str>, field: &str) -> Result<TextStyle, ApiError> {
        let e = extra(extra_json, field)?;
        let bad = |what: &str| fail(Code::InvalidParameter, format!("The parameter `{field}`: {what}."));
        let mut style = TextStyle::default();
        if let Some(f) = e.font {
            style.font = match FontFamily::ALL.into_iter().find(|k| k.as_str() == f) {
                Some(k) => k,
                None => return bad(&format!("Font `{f}` is not one of 黑体, 宋体, 仿宋")),
            };
        }
        if let Some(s) = e.font_size {
            if !FONT_SIZES.contains(&s) {
                return bad(&format!("FontSize {s} is outside 6 to 72"));
            }
            style.size = s;
        }
        if let Some(a) = e.font_align {
            style.align = match a.as_str() {
                "Left" => Align::Left,
                "Center" => Align::Center,
                "Right" => Align::Right,
                _ => return bad(&format!("FontAlign `{a}` is not Left, Center or Right")),
            };
        }
        if let Some(c) = e.font_color {
            let parts: Vec<Option<u8>> = c.split(',').map(|p| p.trim().parse().ok()).collect();
            match parts.as_slice() {
                [Some(r), Some(g), Some(b)] => style.color = [*r, *g, *b],
                _ => return bad(&format!("FontColor `{c}` is not three numbers 0 to 255 such as \"255,0,0\"")),
            }
        }
        style.bold = e.bold.unwrap_or(false);
        Ok(style)
    }
}

/// How a `FILL_IMAGE` fits its box (`FillMethod`, `NotMakeImageCenter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageFit {
    /// Stretch to the whole box ("铺满", the default) or keep the proportions.
    pub stretch: bool,
    /// With proportions kept: centred in the box, or at its top-left corner.
    pub center: bool,
}

impl ImageFit {
    pub fn parse(extra_json: Option<&str>, field: &str) -> Result<ImageFit, ApiError> {
        let e = extra(extra_json, field)?;
        let stretch = match e.fill_method.unwrap_or(0) {
            0 => true,
            1 => false,
            other => {
                return fail(
                    Code::InvalidParameter,
                    format!("The parameter `{field}`: FillMethod {other} is not 0 (stretch) or 1 (keep proportions)."),
                );
            }
        };
        Ok(ImageFit { stretch, center: !e.not_make_image_center.unwrap_or(false) })
    }
}

/// The options a `SELECTOR` offers (`Values`), if its template lists them.
pub fn selector_options(extra_json: Option<&str>, field: &str) -> Result<Option<Vec<String>>, ApiError> {
    Ok(extra(extra_json, field)?.values)
}

/// Widths and heights of characters, in em, for a font family.
pub trait Metrics {
    /// The advance of `c`, or `None` when the font has no glyph for it.
    fn advance(&self, font: FontFamily, c: char) -> Option<f64>;
    /// Height above the baseline and depth below it (positive), in em.
    fn ascent_descent(&self, font: FontFamily) -> (f64, f64);
}

/// A line of text set in a box: its characters, where it starts from the box's left edge and
/// where its baseline sits below the box's top edge, in points.
#[derive(Debug, Clone, PartialEq)]
pub struct SetLine {
    pub text: String,
    pub x: f64,
    pub baseline: f64,
    pub width: f64,
}

/// Why text cannot be set.
#[derive(Debug, Clone, PartialEq)]
pub enum SetError {
    NoGlyph(char),
    TooWide { needed: f64 },
    TooTall { lines: usize, needed: f64 },
}

impl SetError {
    pub fn describe(&self, width: f64, height: f64, size: f64) -> String {
        match self {
            SetError::NoGlyph(c) => format!("the font has no glyph for `{c}` (U+{:04X})", *c as u32),
            SetError::TooWide { needed } => {
                format!("a word needs {needed:.1} points but the box is {width} points wide at font size {size}")
            }
            SetError::TooTall { lines, needed } => format!(
                "the text takes {lines} line(s), {needed:.1} points, but the box is {height} points high at font size {size}"
            ),
        }
    }
}

fn is_breakable_anywhere(c: char) -> bool {
    !(c.is_ascii_alphanumeric() || matches!(c, '.' | ',' | '-' | '_' | '@' | '/' | ':' | '%' | '\'' | '"'))
}

/// Sets `text` inside a `width` × `height` box: explicit line breaks (`\n`) are kept, lines
/// wrap at spaces between Latin words and anywhere between Chinese characters, a word that
/// alone is wider than the box is broken; one line is centred vertically, several start at
/// the top. Text that does not fit is an error, never an overflow.
pub fn set_text(
    text: &str,
    style: &TextStyle,
    width: f64,
    height: f64,
    metrics: &dyn Metrics,
) -> Result<Vec<SetLine>, SetError> {
    let size = style.size;
    let advance = |c: char| -> Result<f64, SetError> {
        if c == ' ' {
            return Ok(metrics.advance(style.font, c).unwrap_or(0.25) * size);
        }
        metrics.advance(style.font, c).map(|a| a * size).ok_or(SetError::NoGlyph(c))
    };
    let mut lines: Vec<(String, f64)> = Vec::new();
    for paragraph in text.split('\n') {
        let paragraph = paragraph.trim_end_matches('\r');
        // Tokens: a run of Latin word characters stays together; anything else stands alone.
        let mut tokens: Vec<(String, f64)> = Vec::new();
        for c in paragraph.chars() {
            let w = advance(c)?;
            match tokens.last_mut() {
                Some((t, tw))
                    if !is_breakable_anywhere(c) && t.chars().last().is_some_and(|l| !is_breakable_anywhere(l)) =>
                {
                    t.push(c);
                    *tw += w;
                }
                _ => tokens.push((c.to_string(), w)),
            }
        }
        let mut line = String::new();
        let mut line_width = 0.0;
        for (token, w) in tokens {
            if line_width + w <= width + 1e-6 {
                line.push_str(&token);
                line_width += w;
                continue;
            }
            if !line.is_empty() {
                let trimmed = line.trim_end().to_owned();
                let trimmed_width = line_width - (line.len() - trimmed.len()) as f64 * advance(' ')?;
                lines.push((trimmed, trimmed_width));
                line.clear();
                line_width = 0.0;
            }
            if token == " " {
                continue;
            }
            if w <= width + 1e-6 {
                line = token;
                line_width = w;
                continue;
            }
            // A word wider than the box: break it between characters.
            for c in token.chars() {
                let cw = advance(c)?;
                if cw > width + 1e-6 {
                    return Err(SetError::TooWide { needed: cw });
                }
                if line_width + cw > width + 1e-6 {
                    lines.push((std::mem::take(&mut line), line_width));
                    line_width = 0.0;
                }
                line.push(c);
                line_width += cw;
            }
        }
        lines.push((line.trim_end().to_owned(), line_width));
    }
    while lines.len() > 1 && lines.last().is_some_and(|(l, _)| l.is_empty()) {
        lines.pop();
    }
    let (ascent, descent) = metrics.ascent_descent(style.font);
    let (ascent, descent) = (ascent * size, descent * size);
    let pitch = LINE_PITCH * size;
    let needed = ascent + descent + pitch * (lines.len() - 1) as f64;
    if needed > height + 1e-6 {
        return Err(SetError::TooTall { lines: lines.len(), needed });
    }
    let first_baseline = if lines.len() == 1 { (height - (ascent + descent)) / 2.0 + ascent } else { ascent };
    Ok(lines
        .into_iter()
        .enumerate()
        .map(|(i, (text, w))| SetLine {
            x: match style.align {
                Align::Left => 0.0,
                Align::Center => (width - w) / 2.0,
                Align::Right => width - w,
            },
            baseline: first_baseline + pitch * i as f64,
            width: w,
            text,
        })
        .collect())
}

/// A `DYNAMIC_TABLE` value as the API documents it: headers (at most 10 columns, optional
/// `widthPercent`), `rowCount`, and cells addressed from 1 that may span rows and columns.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicTable {
    pub headers: Vec<String>,
    /// Each column's share of the table's width; they add up to 100.
    pub widths: Vec<f64>,
    pub row_count: usize,
    pub cells: Vec<TableCell>,
}

/// Rows and columns from 0, both ends included.
#[derive(Debug, Clone, PartialEq)]
pub struct TableCell {
    pub rows: (usize, usize),
    pub columns: (usize, usize),
    pub content: String,
}

/// Table cells are set in 黑体 10 pt, left-aligned, `CELL_PADDING` inside their grid lines;
/// headers in bold.
pub const TABLE_STYLE: TextStyle =
    TextStyle { font: FontFamily::Hei, size: 10.0, align: Align::Left, color: [0, 0, 0], bold: false };
pub const CELL_PADDING: f64 = 3.0;

/// A table's text laid out across a box `width` points wide: what creation needs to know that
/// every cell can be set in its column, and what synthesis draws.
#[derive(Debug, Clone, PartialEq)]
pub struct TableLayout {
    /// Each column's width, in points.
    pub widths: Vec<f64>,
    /// Each header's lines, baselines measured from the top of its cell's padding.
    pub header: Vec<Vec<SetLine>>,
    pub header_height: f64,
    /// Each body cell's lines, in the order of [`DynamicTable::cells`].
    pub cells: Vec<Vec<SetLine>>,
    /// Each row as tall as its tallest single-row cell; a spanning cell's extra need goes to
    /// its last row.
    pub heights: Vec<f64>,
}

impl DynamicTable {
    /// Sets every header and cell in its column, or says which cannot be set and why.
    pub fn layout(&self, width: f64, metrics: &dyn Metrics) -> Result<TableLayout, String> {
        let style = TABLE_STYLE;
        let widths: Vec<f64> = self.widths.iter().map(|p| width * p / 100.0).collect();
        let ascent = metrics.ascent_descent(style.font).0 * style.size;
        // Cells are set from their top, one line under the other, as tall as they need.
        let lay = |text: &str, width: f64, at: &str| -> Result<Vec<SetLine>, String> {
            let inner = width - 2.0 * CELL_PADDING;
            let mut lines = set_text(text, &style, inner, f64::MAX, metrics)
                .map_err(|e| format!("{at}: {}", e.describe(inner, f64::MAX, style.size)))?;
            for (i, line) in lines.iter_mut().enumerate() {
                line.baseline = ascent + style.size * LINE_PITCH * i as f64;
            }
            Ok(lines)
        };
        let line_height = |n: usize| style.size * LINE_PITCH * n.max(1) as f64 + 2.0 * CELL_PADDING;
        let header = self
            .headers
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (h, w))| lay(h, *w, &format!("headers.{i}")))
            .collect::<Result<Vec<_>, _>>()?;
        let header_height = header.iter().map(|l| line_height(l.len())).fold(0.0, f64::max);
        let mut heights = vec![line_height(1); self.row_count];
        let mut cells = Vec::with_capacity(self.cells.len());
        for (k, c) in self.cells.iter().enumerate() {
            let lines = lay(&c.content, widths[c.columns.0..=c.columns.1].iter().sum(), &format!("body.cells.{k}"))?;
            let need = line_height(lines.len());
            let have: f64 = heights[c.rows.0..=c.rows.1].iter().sum();
            if need > have {
                heights[c.rows.1] += need - have;
            }
            cells.push(lines);
        }
        Ok(TableLayout { widths, header, header_height, cells, heights })
    }
}

pub const MAX_TABLE_COLUMNS: usize = 10;
pub const MAX_CELL_CHARS: usize = 100;
const MAX_TABLE_ROWS: usize = 2_000;
/// The shape [`DynamicTable::parse`] names when a value is not a table at all.
const TABLE_SHAPE: &str = r#"{"headers":[{"content":"…","widthPercent":50},…],"rowCount":N,"body":{"cells":[{"rowStart":1,"rowEnd":1,"columnStart":1,"columnEnd":1,"content":"…"},…]}} (widthPercent and body are optional)"#;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TableJson {
    headers: Vec<HeaderJson>,
    row_count: i64,
    #[serde(default)]
    body: Option<BodyJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HeaderJson {
    content: String,
    width_percent: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyJson {
    cells: Vec<CellJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CellJson {
    row_start: i64,
    row_end: i64,
    column_start: i64,
    column_end: i64,
    content: String,
}

impl DynamicTable {
    pub fn parse(value: &str, field: &str) -> Result<DynamicTable, ApiError> {
        let bad = |rule: String| {
            ApiError::new(Code::InvalidParameter_ComponentValue, format!("The parameter `{field}`: {rule}."))
        };
        // serde's words ("invalid type: sequence, expected struct TableJson") name our types, not
        // the caller's fix: the refusal shows the shape to send instead.
        let t: TableJson = serde_json::from_str(value).map_err(|_| {
            let what = if serde_json::from_str::<serde_json::Value>(value).is_ok() { "a table" } else { "JSON" };
            bad(format!("is not {what}; a DYNAMIC_TABLE value is {TABLE_SHAPE}"))
        })?;
        if t.headers.is_empty() || t.headers.len() > MAX_TABLE_COLUMNS {
            return Err(bad(format!("a table has 1 to {MAX_TABLE_COLUMNS} header columns, not {}", t.headers.len())));
        }
        let columns = t.headers.len();
        if !(1..=MAX_TABLE_ROWS as i64).contains(&t.row_count) {
            return Err(bad(format!("rowCount must be 1 to {MAX_TABLE_ROWS}, not {}", t.row_count)));
        }
        let rows = t.row_count as usize;
        for (i, h) in t.headers.iter().enumerate() {
            if h.content.chars().count() > MAX_CELL_CHARS {
                return Err(bad(format!("headers.{i}.content is longer than {MAX_CELL_CHARS} characters")));
            }
        }
        let given: f64 = t.headers.iter().filter_map(|h| h.width_percent).sum();
        let unset = t.headers.iter().filter(|h| h.width_percent.is_none()).count();
        if t.headers.iter().any(|h| h.width_percent.is_some_and(|w| w <= 0.0)) || given > 100.0 + 1e-9 {
            return Err(bad("widthPercent values must be positive and add up to at most 100".into()));
        }
        if unset == 0 && (given - 100.0).abs() > 1e-6 {
            return Err(bad(format!("widthPercent values add up to {given}, not 100")));
        }
        if unset > 0 && given >= 100.0 {
            return Err(bad("widthPercent values leave no width for the columns without one".into()));
        }
        let rest = if unset > 0 { (100.0 - given) / unset as f64 } else { 0.0 };
        let widths = t.headers.iter().map(|h| h.width_percent.unwrap_or(rest)).collect();

        let mut taken = vec![false; rows * columns];
        let mut cells = Vec::new();
        for (k, c) in t.body.map(|b| b.cells).unwrap_or_default().into_iter().enumerate() {
            let at = format!("body.cells.{k}");
            if c.row_start < 1 || c.row_end < c.row_start || c.row_end > rows as i64 {
                return Err(bad(format!(
                    "{at} spans rows {} to {}, outside the table's rows 1 to {rows}",
                    c.row_start, c.row_end
                )));
            }
            if c.column_start < 1 || c.column_end < c.column_start || c.column_end > columns as i64 {
                return Err(bad(format!(
                    "{at} spans columns {} to {}, but the table has {columns} header column(s)",
                    c.column_start, c.column_end
                )));
            }
            if c.content.chars().count() > MAX_CELL_CHARS {
                return Err(bad(format!("{at}.content is longer than {MAX_CELL_CHARS} characters")));
            }
            let (r0, r1, c0, c1) = (
                c.row_start as usize - 1,
                c.row_end as usize - 1,
                c.column_start as usize - 1,
                c.column_end as usize - 1,
            );
            for r in r0..=r1 {
                for col in c0..=c1 {
                    if std::mem::replace(&mut taken[r * columns + col], true) {
                        return Err(bad(format!("{at} overlaps another cell at row {}, column {}", r + 1, col + 1)));
                    }
                }
            }
            cells.push(TableCell { rows: (r0, r1), columns: (c0, c1), content: c.content });
        }
        Ok(DynamicTable { headers: t.headers.into_iter().map(|h| h.content).collect(), widths, row_count: rows, cells })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character one em wide except Latin letters and digits (half) and spaces (quarter).
    struct Fixed;

    impl Metrics for Fixed {
        fn advance(&self, _: FontFamily, c: char) -> Option<f64> {
            match c {
                '☃' => None,
                ' ' => Some(0.25),
                c if c.is_ascii() => Some(0.5),
                _ => Some(1.0),
            }
        }
        fn ascent_descent(&self, _: FontFamily) -> (f64, f64) {
            (0.88, 0.12)
        }
    }

    fn style(size: f64, align: Align) -> TextStyle {
        TextStyle { size, align, ..TextStyle::default() }
    }

    #[test]
    fn one_line_is_centred_vertically_and_aligned() {
        let lines = set_text("张三", &style(10.0, Align::Right), 100.0, 20.0, &Fixed).unwrap();
        assert_eq!(lines, vec![SetLine { text: "张三".into(), x: 80.0, baseline: 5.0 + 8.8, width: 20.0 }]);
        let lines = set_text("张三", &style(10.0, Align::Center), 100.0, 20.0, &Fixed).unwrap();
        assert_eq!(lines[0].x, 40.0);
    }

    #[test]
    fn chinese_wraps_anywhere_and_latin_words_stay_whole() {
        let lines = set_text("甲乙丙丁戊", &style(10.0, Align::Left), 30.0, 100.0, &Fixed).unwrap();
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["甲乙丙", "丁戊"]);
        assert_eq!((lines[0].baseline, lines[1].baseline), (8.8, 8.8 + 12.0));
        let lines = set_text("hello world", &style(10.0, Align::Left), 40.0, 100.0, &Fixed).unwrap();
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["hello", "world"]);
    }

    #[test]
    fn explicit_line_breaks_are_kept() {
        let lines = set_text("第一行\n第二行", &style(10.0, Align::Left), 200.0, 100.0, &Fixed).unwrap();
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["第一行", "第二行"]);
    }

    #[test]
    fn text_that_cannot_fit_is_an_error() {
        let e = set_text("甲乙丙丁戊", &style(10.0, Align::Left), 30.0, 20.0, &Fixed).unwrap_err();
        assert_eq!(e, SetError::TooTall { lines: 2, needed: 22.0 });
        assert_eq!(
            set_text("甲", &style(10.0, Align::Left), 5.0, 20.0, &Fixed).unwrap_err(),
            SetError::TooWide { needed: 10.0 }
        );
        assert_eq!(set_text("a☃", &style(10.0, Align::Left), 50.0, 20.0, &Fixed).unwrap_err(), SetError::NoGlyph('☃'));
    }

    #[test]
    fn a_text_style_comes_from_component_extra() {
        let s = TextStyle::parse(
            Some(r#"{"Font":"宋体","FontSize":14,"FontAlign":"Center","FontColor":"255,0,0","Bold":true}"#),
            "x",
        )
        .unwrap();
        assert_eq!(
            s,
            TextStyle { font: FontFamily::Song, size: 14.0, align: Align::Center, color: [255, 0, 0], bold: true }
        );
        assert_eq!(TextStyle::parse(None, "x").unwrap(), TextStyle::default());
        for bad in [
            r#"{"FontSize":5}"#,
            r#"{"FontSize":73}"#,
            r#"{"Font":"楷体"}"#,
            r#"{"FontAlign":"Justify"}"#,
            r#"{"FontColor":"red"}"#,
        ] {
            assert_eq!(TextStyle::parse(Some(bad), "x").unwrap_err().code, Code::InvalidParameter, "{bad}");
        }
    }

    #[test]
    fn a_dynamic_table_parses_as_documented() {
        let t = DynamicTable::parse(
            r#"{"headers":[{"content":"head1","widthPercent":30},{"content":"head2"},{"content":"head3"}],"rowCount":3,
               "body":{"cells":[{"rowStart":1,"rowEnd":1,"columnStart":1,"columnEnd":1,"content":"123"},
                                {"rowStart":2,"rowEnd":3,"columnStart":1,"columnEnd":2,"content":"456"},
                                {"rowStart":3,"rowEnd":3,"columnStart":3,"columnEnd":3,"content":"789"}]}}"#,
            "v",
        )
        .unwrap();
        assert_eq!(t.headers, ["head1", "head2", "head3"]);
        assert_eq!(t.widths, [30.0, 35.0, 35.0]);
        assert_eq!(t.row_count, 3);
        assert_eq!(t.cells[1], TableCell { rows: (1, 2), columns: (0, 1), content: "456".into() });
    }

    #[test]
    fn a_ragged_or_overlapping_table_is_refused() {
        let table = |cells: &str| {
            DynamicTable::parse(
                &format!(
                    r#"{{"headers":[{{"content":"a"}},{{"content":"b"}}],"rowCount":2,"body":{{"cells":[{cells}]}}}}"#
                ),
                "v",
            )
        };
        let cell = |r0, r1, c0, c1| {
            format!(r#"{{"rowStart":{r0},"rowEnd":{r1},"columnStart":{c0},"columnEnd":{c1},"content":"x"}}"#)
        };
        assert!(table(&cell(1, 2, 1, 2)).is_ok());
        let e = table(&cell(1, 1, 1, 3)).unwrap_err();
        assert_eq!(e.code, Code::InvalidParameter_ComponentValue);
        assert!(
            e.message.contains("body.cells.0 spans columns 1 to 3, but the table has 2 header column(s)"),
            "{}",
            e.message
        );
        assert!(table(&cell(2, 3, 1, 1)).unwrap_err().message.contains("outside the table's rows 1 to 2"));
        assert!(table(&format!("{},{}", cell(1, 2, 1, 1), cell(2, 2, 1, 2))).unwrap_err().message.contains("overlaps"));
        let shape = r#"a DYNAMIC_TABLE value is {"headers":[{"content":"…","widthPercent":50},…],"rowCount":N,"body":{"cells":[{"rowStart":1,"rowEnd":1,"columnStart":1,"columnEnd":1,"content":"…"},…]}} (widthPercent and body are optional)."#;
        let e = DynamicTable::parse("[1,2]", "v").unwrap_err();
        assert_eq!(
            (e.code, e.message),
            (Code::InvalidParameter_ComponentValue, format!("The parameter `v`: is not a table; {shape}"))
        );
        let e = DynamicTable::parse(r#"{"headers":[{"content":"a"}],"rows":1}"#, "v").unwrap_err();
        assert_eq!(e.message, format!("The parameter `v`: is not a table; {shape}"));
        let e = DynamicTable::parse("{headers:", "v").unwrap_err();
        assert_eq!(e.message, format!("The parameter `v`: is not JSON; {shape}"));
        assert!(DynamicTable::parse(r#"{"headers":[],"rowCount":1}"#, "v").is_err());
    }

    #[test]
    fn a_table_is_laid_out_in_its_columns_or_names_the_cell_that_cannot_be() {
        let table = |widths: &str| {
            DynamicTable::parse(
                &format!(
                    r#"{{"headers":[{{"content":"月份"{widths}}},{{"content":"金额"}}],"rowCount":2,
                       "body":{{"cells":[{{"rowStart":1,"rowEnd":1,"columnStart":1,"columnEnd":1,"content":"一月"}},
                                         {{"rowStart":1,"rowEnd":2,"columnStart":2,"columnEnd":2,"content":"一二三四五"}}]}}}}"#
                ),
                "v",
            )
            .unwrap()
        };
        // 100 points: two 50-point columns, 44 inside the padding: four 10-point characters a line.
        let layout = table("").layout(100.0, &Fixed).unwrap();
        assert_eq!(layout.widths, [50.0, 50.0]);
        assert_eq!(layout.cells[1].iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["一二三四", "五"]);
        // One line is 10 × 1.2 + 2 × 3 = 18 points; the two-line cell spanning both rows fits.
        assert_eq!(layout.heights, [18.0, 18.0]);
        assert_eq!(layout.header_height, 18.0);
        let narrow = table(r#","widthPercent":5"#).layout(100.0, &Fixed).unwrap_err();
        assert_eq!(narrow, "headers.0: a word needs 10.0 points but the box is -1 points wide at font size 10");
    }
}
