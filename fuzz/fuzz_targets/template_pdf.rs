//! A template PDF, through everything that reads one: the check `UploadFiles` and `apply` make
//! (`page_sizes`), the text and form-field locators with KEYWORD and FIELD placement (`apply`),
//! the parse synthesis makes once per template and the composition of a contract from it.
//! Everything after the check runs only on PDFs the check accepts, as in the server.
#![no_main]

use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use qianshu::config::FontPaths;
use qianshu::domain::document::{ImageFit, TextStyle, set_text};
use qianshu::domain::template::Placement;
use qianshu::pdf::anchor::{KeywordRule, Relative, field_boxes, keyword_boxes};
use qianshu::pdf::compose::{Mark, PreparedTemplate, compose};
use qianshu::pdf::font::Fonts;
use qianshu::pdf::image::{ImageXObject, image_xobject};
use qianshu::pdf::locate::{form_fields, text_lines};

/// The system's Noto CJK when installed; without a font the text mark is left out.
static FONTS: LazyLock<Fonts> =
    LazyLock::new(|| Fonts::load(&FontPaths::default()).expect("no font is configured, so none can be unusable"));

/// A 1×1 opaque red PNG.
static IMAGE: LazyLock<Arc<ImageXObject>> = LazyLock::new(|| {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde\0\0\0\x0cIDATx\x9cc\xf8\xcf\xc0\0\0\x03\x01\x01\0\xc9\xfe\x92\xef\0\0\0\0IEND\xaeB`\x82";
    Arc::new(image_xobject(png).expect("the embedded PNG decodes"))
});

fuzz_target!(|bytes: &[u8]| {
    let Ok(sizes) = qianshu::pdf::page_sizes(Bytes::copy_from_slice(bytes)) else { return };

    if let Ok(doc) = qianshu::pdf::load(bytes) {
        if let Ok(lines) = text_lines(&doc) {
            let keyword: String = lines.iter().flat_map(|l| l.glyphs.iter().map(|g| g.ch)).take(2).collect();
            if !keyword.is_empty() {
                for (whole_word, reverse, relative) in
                    [(false, false, Relative::Middle), (true, true, Relative::LowerRight)]
                {
                    let rule = KeywordRule {
                        keyword: keyword.clone(),
                        whole_word,
                        page: None,
                        reverse,
                        indexes: None,
                        relative,
                        width: 20.0,
                        height: 10.0,
                        offset: (-3.0, 4.0),
                    };
                    let _ = keyword_boxes(&lines, &rule);
                }
            }
        }
        if let Ok(fields) = form_fields(&doc) {
            if let Some(field) = fields.first() {
                let _ = field_boxes(&fields, &field.name);
            }
        }
    }

    let Ok(template) = PreparedTemplate::new(Bytes::copy_from_slice(bytes)) else { return };
    let (width, height) = sizes[0];
    let rect = |x: f64, y: f64| Placement { page: 1, x: x.min(width), y: y.min(height), width: 40.0, height: 20.0 };
    let mut marks = vec![
        Mark::Check { page: 1, rect: rect(0.0, 0.0), checked: true },
        Mark::Image {
            page: 1,
            rect: rect(50.0, 0.0),
            image: IMAGE.clone(),
            fit: ImageFit { stretch: false, center: true },
        },
    ];
    if FONTS.any() {
        let style = TextStyle::default();
        if let Ok(lines) = set_text("甲方 Party A", &style, 200.0, 20.0, &*FONTS) {
            marks.push(Mark::Text { page: 1, rect: Placement { width: 200.0, ..rect(0.0, 30.0) }, lines, style });
        }
    }
    let _ = compose(&template, &marks, &FONTS);
});
