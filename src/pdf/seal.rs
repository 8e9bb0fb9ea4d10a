//! The round red seal qianshu draws for an organisation that has no seal image, as Tencent
//! makes one for every organisation: a red ring, a five-pointed star in the middle, the
//! organisation's name along the upper arc (each character turned to face outwards) and,
//! under the star, what the seal is for ("合同专用章"). The proportions are those of the
//! public-security standard for company seals (GA 241-2000: a 42 mm seal with a 1.2 mm ring and
//! a 14 mm star, its text in 宋体), scaled to the box. Everything is vector drawing and text of
//! the document's own font subset, so the seal stays sharp and its text extracts.

use std::f64::consts::PI;
use std::io::Write;

use super::font::GlyphSet;
use crate::domain::document::FontFamily;

/// Seal text is set in 宋体, as the standard asks.
pub const FONT: FontFamily = FontFamily::Song;

/// Seal red: the vermilion of seal paste rather than pure red, which looks pink on screens.
const RED: &str = "0.851 0.102 0.106";

/// Ring width, as a share of the radius (1.2 mm of 21).
const RING: f64 = 0.057;
/// The star's outer radius (7 mm of 21); a regular star's inner points are at 0.382 of it.
const STAR: f64 = 0.333;
const STAR_INNER: f64 = 0.382;
/// The name's characters: their size, and the radius their tops reach (a gap inside the ring).
const NAME_SIZE: f64 = 0.29;
const NAME_TOP: f64 = 0.87;
/// The widest and narrowest arc the name spans, in degrees; names of few characters are spread
/// out, long ones squeezed (narrower characters) to stay within the upper arc.
const NAME_ARC_MAX: f64 = 250.0;
const NAME_ARC_MIN: f64 = 195.0;
/// Seal lettering is narrower than the face's own, and spaced.
const NAME_WIDTH: f64 = 0.85;
const NAME_SPACING: f64 = 1.3;
/// How narrow characters may get, and the least room between them, in em.
const NAME_NARROWEST: f64 = 0.55;
const NAME_GAP: f64 = 1.3;
/// The caption's size and baseline, below the star.
const CAPTION_SIZE: f64 = 0.17;
const CAPTION_BASELINE: f64 = -0.56;
/// How far a CJK glyph's ink rises above its baseline, in em (Noto CJK: 0.8 to 0.83).
const INK_TOP: f64 = 0.82;

/// Writes the seal of `organization` centred at `center` (PDF space) with `radius`, its text in
/// `glyphs` known on the page as `font`.
pub fn draw(
    c: &mut Vec<u8>,
    font: &str,
    glyphs: &mut GlyphSet,
    center: (f64, f64),
    radius: f64,
    organization: &str,
    caption: Option<&str>,
) -> anyhow::Result<()> {
    let (cx, cy) = center;
    let r = radius;
    let ring = RING * r;
    write!(c, "q {RED} rg {RED} RG {ring:.3} w ")?;
    circle(c, cx, cy, r - ring / 2.0)?;
    c.extend_from_slice(b"S ");

    // The star, one point up.
    for i in 0..10 {
        let radius = if i % 2 == 0 { STAR * r } else { STAR * STAR_INNER * r };
        let a = PI / 2.0 + f64::from(i) * PI / 5.0;
        write!(c, "{:.3} {:.3} {} ", cx + radius * a.cos(), cy + radius * a.sin(), if i == 0 { "m" } else { "l" })?;
    }
    c.extend_from_slice(b"h f ");

    // Text is filled and thinly stroked: seal characters are bolder than a regular face.
    write!(c, "BT 2 Tr {:.3} w ", 0.012 * r)?;
    let chars: Vec<char> = organization.chars().filter(|c| !c.is_whitespace()).collect();
    if !chars.is_empty() {
        // Where the characters' tops are fixed, their baseline and middle (where arc lengths
        // are measured) depend on their size.
        let at = |size: f64| (NAME_TOP * r - INK_TOP * size, NAME_TOP * r - INK_TOP * size / 2.0);
        let mut size = NAME_SIZE * r;
        let advances: Vec<f64> =
            chars.iter().map(|ch| glyphs.font.glyph(*ch).map_or(1.0, |g| glyphs.font.advance_of(g))).collect();
        let natural = advances.iter().sum::<f64>() * size * NAME_WIDTH * NAME_SPACING / at(size).1;
        let arc = natural.to_degrees().clamp(NAME_ARC_MIN, NAME_ARC_MAX).to_radians();
        let step = arc / chars.len() as f64;
        // A long name first narrows its characters, then, below NAME_NARROWEST, makes them smaller.
        let fit = |size: f64| step * at(size).1 / (size * NAME_GAP);
        if fit(size) < NAME_NARROWEST {
            size *= fit(size) / NAME_NARROWEST;
        }
        let (baseline, _) = at(size);
        let squeeze = fit(size).min(NAME_WIDTH);
        write!(c, "/{font} {size:.3} Tf ")?;
        for (i, (ch, advance)) in chars.iter().zip(&advances).enumerate() {
            let angle = PI / 2.0 + arc / 2.0 - step * (i as f64 + 0.5);
            let (up, right) = ((angle.cos(), angle.sin()), (angle.sin(), -angle.cos()));
            let half = advance * size * squeeze / 2.0;
            let (x, y) = (cx + baseline * up.0 - half * right.0, cy + baseline * up.1 - half * right.1);
            write!(c, "{:.4} {:.4} {:.4} {:.4} {x:.3} {y:.3} Tm <", right.0 * squeeze, right.1 * squeeze, up.0, up.1)?;
            hex(c, &glyphs.encode(&ch.to_string())?)?;
            c.extend_from_slice(b"> Tj ");
        }
    }
    if let Some(caption) = caption.filter(|t| !t.is_empty()) {
        let size = CAPTION_SIZE * r;
        let width: f64 =
            caption.chars().map(|ch| glyphs.font.glyph(ch).map_or(1.0, |g| glyphs.font.advance_of(g))).sum();
        // A long caption is narrowed to the chord at its height rather than run into the ring.
        let room = 2.0 * ((NAME_TOP * r).powi(2) - (CAPTION_BASELINE * r).powi(2)).max(0.0).sqrt() * 0.9;
        let squeeze = (room / (width * size)).min(1.0);
        let (x, y) = (cx - width * size * squeeze / 2.0, cy + CAPTION_BASELINE * r);
        write!(c, "/{font} {size:.3} Tf {squeeze:.4} 0 0 1 {x:.3} {y:.3} Tm <")?;
        hex(c, &glyphs.encode(caption)?)?;
        c.extend_from_slice(b"> Tj ");
    }
    c.extend_from_slice(b"ET Q\n");
    Ok(())
}

/// A circle as four Bézier quarters.
fn circle(c: &mut Vec<u8>, cx: f64, cy: f64, r: f64) -> std::io::Result<()> {
    let k = 0.552_284_75 * r;
    write!(c, "{:.3} {cy:.3} m ", cx + r)?;
    write!(c, "{:.3} {:.3} {:.3} {:.3} {cx:.3} {:.3} c ", cx + r, cy + k, cx + k, cy + r, cy + r)?;
    write!(c, "{:.3} {:.3} {:.3} {:.3} {:.3} {cy:.3} c ", cx - k, cy + r, cx - r, cy + k, cx - r)?;
    write!(c, "{:.3} {:.3} {:.3} {:.3} {cx:.3} {:.3} c ", cx - r, cy - k, cx - k, cy - r, cy - r)?;
    write!(c, "{:.3} {:.3} {:.3} {:.3} {:.3} {cy:.3} c h ", cx + k, cy - r, cx + r, cy - k, cx + r)
}

fn hex(c: &mut Vec<u8>, bytes: &[u8]) -> std::io::Result<()> {
    bytes.iter().try_for_each(|b| write!(c, "{b:02X}"))
}
