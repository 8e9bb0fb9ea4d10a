//! Component boxes placed by what a template's PDF shows rather than by coordinates: Tencent's
//! GenerateMode KEYWORD (next to a keyword of the page text) and FIELD (over an AcroForm
//! field). Boxes are in Tencent's coordinates, as in [`super::locate`].

use super::locate::{FieldWidget, Rect, TextLine};

/// Where a keyword component goes relative to the keyword's box (`RelativeLocation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relative {
    /// Centred on the keyword.
    Middle,
    /// Right under the keyword, centred on it horizontally.
    Below,
    /// Right of the keyword, centred on it vertically.
    Right,
    /// Its top-left corner at the keyword's bottom-right corner.
    LowerRight,
    /// Its bottom-left corner at the keyword's top-right corner.
    UpperRight,
}

impl Relative {
    pub const NAMES: [(&'static str, Relative); 5] = [
        ("Middle", Relative::Middle),
        ("Below", Relative::Below),
        ("Right", Relative::Right),
        ("LowerRight", Relative::LowerRight),
        ("UpperRight", Relative::UpperRight),
    ];

    pub fn parse(s: &str) -> Option<Relative> {
        Relative::NAMES.iter().find(|(n, _)| *n == s).map(|(_, r)| *r)
    }
}

/// How a KEYWORD component finds its boxes.
#[derive(Debug, Clone, PartialEq)]
pub struct KeywordRule {
    pub keyword: String,
    /// `^keyword^`: only where no other character touches the keyword on its line.
    pub whole_word: bool,
    /// `KeywordPage`: look on this page only.
    pub page: Option<u32>,
    /// `KeywordOrder` Reverse: indexes count from the last occurrence.
    pub reverse: bool,
    /// `KeywordIndexes`: which occurrences (from 0); `None` takes them all.
    pub indexes: Option<Vec<usize>>,
    pub relative: Relative,
    pub width: f64,
    pub height: f64,
    /// `OffsetX`/`OffsetY`: moves the box right and down (negative: left and up).
    pub offset: (f64, f64),
}

/// Every occurrence of the keyword, in reading order: page by page, top to bottom, left to right.
fn occurrences(lines: &[TextLine], rule: &KeywordRule) -> Vec<(u32, Rect)> {
    let wanted: Vec<char> = rule.keyword.chars().collect();
    let mut found = Vec::new();
    if wanted.is_empty() {
        return found;
    }
    for line in lines.iter().filter(|l| rule.page.is_none_or(|p| p == l.page)) {
        let chars: Vec<char> = line.glyphs.iter().map(|g| g.ch).collect();
        let mut start = 0;
        while start + wanted.len() <= chars.len() {
            let end = start + wanted.len();
            let touches = |i: Option<usize>| i.and_then(|i| chars.get(i)).is_some_and(|c| !c.is_whitespace());
            if chars[start..end] == wanted[..]
                && !(rule.whole_word && (touches(start.checked_sub(1)) || touches(Some(end))))
            {
                found.push((line.page, union(line.glyphs[start..end].iter().map(|g| g.rect))));
                start = end;
            } else {
                start += 1;
            }
        }
    }
    found.sort_by(|(pa, a), (pb, b)| pa.cmp(pb).then(a.y.total_cmp(&b.y)).then(a.x.total_cmp(&b.x)));
    found
}

fn union(rects: impl Iterator<Item = Rect>) -> Rect {
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for r in rects {
        x0 = x0.min(r.x);
        y0 = y0.min(r.y);
        x1 = x1.max(r.x + r.width);
        y1 = y1.max(r.y + r.height);
    }
    Rect { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }
}

/// The boxes of a KEYWORD component, or why there are none: the keyword is not on the pages
/// searched, or an index names an occurrence that does not exist.
pub fn keyword_boxes(lines: &[TextLine], rule: &KeywordRule) -> Result<Vec<(u32, Rect)>, String> {
    let mut found = occurrences(lines, rule);
    if found.is_empty() {
        let pages = rule.page.map_or("any page".to_owned(), |p| format!("page {p}"));
        return Err(format!("the keyword `{}` is not in the text of {pages}", rule.keyword));
    }
    if rule.reverse {
        found.reverse();
    }
    let chosen = match &rule.indexes {
        None => found,
        Some(indexes) => indexes
            .iter()
            .map(|&i| {
                found.get(i).copied().ok_or_else(|| {
                    format!(
                        "KeywordIndexes names occurrence {i}, but `{}` occurs {} time(s)",
                        rule.keyword,
                        found.len()
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let (w, h) = (rule.width, rule.height);
    Ok(chosen
        .into_iter()
        .map(|(page, k)| {
            let (cx, cy) = (k.x + k.width / 2.0, k.y + k.height / 2.0);
            let (x, y) = match rule.relative {
                Relative::Middle => (cx - w / 2.0, cy - h / 2.0),
                Relative::Below => (cx - w / 2.0, k.y + k.height),
                Relative::Right => (k.x + k.width, cy - h / 2.0),
                Relative::LowerRight => (k.x + k.width, k.y + k.height),
                Relative::UpperRight => (k.x + k.width, k.y - h),
            };
            (page, Rect { x: x + rule.offset.0, y: y + rule.offset.1, width: w, height: h })
        })
        .collect())
}

/// The boxes of a FIELD component: every widget of the form field of that fully qualified name.
pub fn field_boxes(fields: &[FieldWidget], name: &str) -> Result<Vec<(u32, Rect)>, String> {
    let boxes: Vec<_> = fields.iter().filter(|f| f.name == name).map(|f| (f.page, f.rect)).collect();
    if boxes.is_empty() {
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        return Err(if names.is_empty() {
            format!("the PDF has no form field `{name}` (it has no form fields at all)")
        } else {
            format!("the PDF has no form field `{name}` (it has: {})", names.join(", "))
        });
    }
    Ok(boxes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdf::locate::Glyph;

    /// A line of 10 pt wide, 10 pt high glyphs starting at (x, y).
    fn line(page: u32, x: f64, y: f64, text: &str) -> TextLine {
        let glyphs = text
            .chars()
            .enumerate()
            .map(|(i, ch)| Glyph { ch, rect: Rect { x: x + 10.0 * i as f64, y, width: 10.0, height: 10.0 } })
            .collect();
        TextLine { page, glyphs }
    }

    fn rule(keyword: &str) -> KeywordRule {
        KeywordRule {
            keyword: keyword.into(),
            whole_word: false,
            page: None,
            reverse: false,
            indexes: None,
            relative: Relative::Middle,
            width: 40.0,
            height: 20.0,
            offset: (0.0, 0.0),
        }
    }

    fn at(x: f64, y: f64, width: f64, height: f64) -> Rect {
        Rect { x, y, width, height }
    }

    #[test]
    fn each_relative_location_places_the_box_against_the_keyword() {
        // The keyword 甲方 spans (100, 50) to (120, 60): centre (110, 55).
        let lines = [line(1, 100.0, 50.0, "甲方")];
        let place = |relative| keyword_boxes(&lines, &KeywordRule { relative, ..rule("甲方") }).unwrap();
        assert_eq!(place(Relative::Middle), [(1, at(90.0, 45.0, 40.0, 20.0))]);
        assert_eq!(place(Relative::Below), [(1, at(90.0, 60.0, 40.0, 20.0))]);
        assert_eq!(place(Relative::Right), [(1, at(120.0, 45.0, 40.0, 20.0))]);
        assert_eq!(place(Relative::LowerRight), [(1, at(120.0, 60.0, 40.0, 20.0))]);
        assert_eq!(place(Relative::UpperRight), [(1, at(120.0, 30.0, 40.0, 20.0))]);
        let moved = keyword_boxes(&lines, &KeywordRule { offset: (5.0, -3.0), ..rule("甲方") }).unwrap();
        assert_eq!(moved, [(1, at(95.0, 42.0, 40.0, 20.0))]);
    }

    #[test]
    fn occurrences_are_counted_in_reading_order_and_chosen_by_index() {
        // Drawn out of order: page 2 first, then the lower line of page 1, then the upper one.
        let lines = [line(2, 0.0, 0.0, "签名"), line(1, 0.0, 300.0, "乙方签名：签名"), line(1, 0.0, 100.0, "签名")];
        let pick = |reverse, indexes: Option<Vec<usize>>| {
            keyword_boxes(&lines, &KeywordRule { reverse, indexes, relative: Relative::Right, ..rule("签名") })
                .map(|b| b.iter().map(|(p, r)| (*p, r.x, r.y)).collect::<Vec<_>>())
        };
        let all = vec![(1, 20.0, 95.0), (1, 40.0, 295.0), (1, 70.0, 295.0), (2, 20.0, -5.0)];
        assert_eq!(pick(false, None).unwrap(), all);
        assert_eq!(pick(false, Some(vec![0, 2])).unwrap(), [all[0], all[2]]);
        assert_eq!(pick(true, Some(vec![0])).unwrap(), [all[3]]);
        assert_eq!(
            pick(false, Some(vec![4])).unwrap_err(),
            "KeywordIndexes names occurrence 4, but `签名` occurs 4 time(s)"
        );
        let on_page_2 = keyword_boxes(&lines, &KeywordRule { page: Some(2), ..rule("签名") }).unwrap();
        assert_eq!(on_page_2.len(), 1);
        assert_eq!(
            keyword_boxes(&lines, &KeywordRule { page: Some(3), ..rule("签名") }).unwrap_err(),
            "the keyword `签名` is not in the text of page 3"
        );
    }

    #[test]
    fn a_whole_word_keyword_must_not_touch_other_characters() {
        let lines =
            [line(1, 0.0, 0.0, "甲方签署人"), line(1, 0.0, 20.0, "甲方签署 日期"), line(1, 0.0, 40.0, "甲方签署")];
        let whole = keyword_boxes(&lines, &KeywordRule { whole_word: true, ..rule("甲方签署") }).unwrap();
        assert_eq!(whole.iter().map(|(_, r)| r.y).collect::<Vec<_>>(), [15.0, 35.0]);
        assert_eq!(keyword_boxes(&lines, &rule("甲方签署")).unwrap().len(), 3);
    }

    #[test]
    fn a_field_is_found_by_its_fully_qualified_name() {
        let fields = [
            FieldWidget { name: "applicant.姓名".into(), page: 2, rect: at(134.0, 94.0, 200.0, 22.0) },
            FieldWidget { name: "email".into(), page: 1, rect: at(144.0, 98.0, 200.0, 18.0) },
        ];
        assert_eq!(field_boxes(&fields, "email").unwrap(), [(1, at(144.0, 98.0, 200.0, 18.0))]);
        assert_eq!(
            field_boxes(&fields, "姓名").unwrap_err(),
            "the PDF has no form field `姓名` (it has: applicant.姓名, email)"
        );
        assert_eq!(field_boxes(&[], "x").unwrap_err(), "the PDF has no form field `x` (it has no form fields at all)");
    }
}
