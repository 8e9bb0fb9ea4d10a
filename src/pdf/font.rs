//! The CJK fonts contracts are set in: loaded once (memory-mapped, so only the pages a
//! document touches are read), measured for layout, and embedded per document as a subset
//! (a CID-keyed Type0 font with a ToUnicode map, so text extracts exactly as it was sent).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{Context, anyhow, bail};
use lopdf::{Dictionary, Object, Stream};
use pdf_writer::types::{SystemInfo, UnicodeCmap};
use pdf_writer::{Name, Str};
use subsetter::GlyphRemapper;
use ttf_parser::Face;

use crate::config::FontPaths;
use crate::domain::document::{FontFamily, Metrics};

/// Where Debian, Fedora and Arch put Noto CJK, then the smaller WenQuanYi Micro Hei.
const SANS: &[&str] = &[
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
];
const SERIF: &[&str] = &[
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSerifCJK-Regular.ttc",
];

/// One face of a font file.
pub struct FontFile {
    pub path: PathBuf,
    data: &'static [u8],
    index: u32,
    face: Face<'static>,
    cff: bool,
    units_per_em: f64,
    /// Above and below the baseline, in em (OS/2 typographic metrics where present).
    ascent: f64,
    descent: f64,
    postscript_name: String,
    /// For CFF fonts, the glyphs documents have used so far as a font of their own (see
    /// [`Core`]); empty at first.
    core: RwLock<Arc<Core>>,
}

/// The subsetter spends time in proportion to the whole CFF font on every call (it collects
/// every shared subroutine of a 20 MB Noto CJK face), which made font subsetting three
/// quarters of a contract's cost. So documents are subset from this font instead: a subset of
/// the full font holding every glyph documents have used so far, whose charstrings the
/// subsetter has already freed of subroutines, so that subsetting it costs time in
/// proportion to the glyphs a document uses. It grows (one full-font subset) when a document
/// brings new glyphs, up to [`CORE_MAX_GLYPHS`]; past that, documents with new glyphs are
/// subset from the full font.
#[derive(Default)]
struct Core {
    font: Vec<u8>,
    /// Glyph id in the full font → glyph id in `font`.
    gids: HashMap<u16, u16>,
}

/// Enough for the characters of everyday Chinese (GB 2312 has 6,763) with Latin and punctuation.
const CORE_MAX_GLYPHS: usize = 12_000;

impl FontFile {
    /// Opens `path`; in a collection (.ttc) it takes the Simplified Chinese face (a family
    /// name ending in "SC"), else the first.
    pub fn open(path: &Path) -> anyhow::Result<FontFile> {
        let file = std::fs::File::open(path).with_context(|| format!("opening font {}", path.display()))?;
        // SAFETY: the file is mapped read-only and font files are not rewritten in place while a
        // server runs; the map lives for the rest of the process, as fonts are loaded once.
        let map = unsafe { memmap2::Mmap::map(&file) }.with_context(|| format!("mapping font {}", path.display()))?;
        let data: &'static [u8] = Box::leak(Box::new(map));
        let faces = ttf_parser::fonts_in_collection(data).unwrap_or(1);
        let index = (0..faces)
            .find(|i| Face::parse(data, *i).is_ok_and(|f| family_name(&f).is_some_and(|n| n.ends_with(" SC"))))
            .unwrap_or(0);
        let face = Face::parse(data, index).map_err(|e| anyhow!("{} is not a usable font: {e}", path.display()))?;
        if face.glyph_index('中').is_none() {
            bail!("{} has no Chinese characters (no glyph for 中)", path.display());
        }
        let units_per_em = f64::from(face.units_per_em());
        let (ascent, descent) = match face.tables().os2 {
            Some(os2) => (f64::from(os2.typographic_ascender()), -f64::from(os2.typographic_descender())),
            None => (f64::from(face.ascender()), -f64::from(face.descender())),
        };
        let postscript_name = face
            .names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
            .find_map(|n| n.to_string())
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic() && b != b'/'))
            .unwrap_or_else(|| "QianshuCJK".to_owned());
        Ok(FontFile {
            path: path.to_owned(),
            data,
            index,
            cff: face.tables().cff.is_some(),
            units_per_em,
            ascent: ascent / units_per_em,
            descent: descent / units_per_em,
            postscript_name,
            face,
            core: RwLock::default(),
        })
    }

    /// A font program holding `glyphs` (full-font glyph ids), in that order from glyph 1.
    fn subset(&self, glyphs: &[u16]) -> anyhow::Result<Vec<u8>> {
        let program = |data: &[u8], index: u32, remapper: &GlyphRemapper| {
            subsetter::subset(data, index, remapper).map_err(|e| anyhow!("subsetting {}: {e:?}", self.path.display()))
        };
        let from_full_font = || program(self.data, self.index, &GlyphRemapper::new_from_glyphs(glyphs));
        if !self.cff {
            return from_full_font();
        }
        let mut core = self.core.read().unwrap_or_else(|e| e.into_inner()).clone();
        let new: Vec<u16> = glyphs.iter().copied().filter(|g| !core.gids.contains_key(g)).collect();
        if !new.is_empty() {
            if core.gids.len() + new.len() > CORE_MAX_GLYPHS {
                return from_full_font();
            }
            let mut all: Vec<u16> = core.gids.keys().copied().chain(new).collect();
            all.sort_unstable();
            let remapper = GlyphRemapper::new_from_glyphs(&all);
            let font = program(self.data, self.index, &remapper)?;
            let gids = all.iter().filter_map(|g| Some((*g, remapper.get(*g)?))).collect();
            core = Arc::new(Core { font, gids });
            *self.core.write().unwrap_or_else(|e| e.into_inner()) = core.clone();
        }
        let in_core = glyphs
            .iter()
            .map(|g| core.gids.get(g).copied().ok_or_else(|| anyhow!("glyph {g} missing from the core font")))
            .collect::<anyhow::Result<Vec<u16>>>()?;
        program(&core.font, 0, &GlyphRemapper::new_from_glyphs(&in_core))
    }

    pub fn glyph(&self, c: char) -> Option<u16> {
        self.face.glyph_index(c).map(|g| g.0).filter(|g| *g != 0)
    }

    /// The advance of glyph `gid` in em.
    pub fn advance_of(&self, gid: u16) -> f64 {
        f64::from(self.face.glyph_hor_advance(ttf_parser::GlyphId(gid)).unwrap_or(0)) / self.units_per_em
    }
}

fn family_name(face: &Face) -> Option<String> {
    face.names().into_iter().filter(|n| n.name_id == ttf_parser::name_id::FAMILY).find_map(|n| n.to_string())
}

/// The font of each family, after defaults and fall-backs; `None` where none was found.
pub struct Fonts {
    by_family: [Option<Arc<FontFile>>; 3],
}

impl Fonts {
    /// Loads the configured fonts, or the system's Noto CJK where a setting is absent. A font
    /// that is configured but unusable is an error; a missing default is not (the server
    /// starts, and documents fail naming the setting).
    pub fn load(paths: &FontPaths) -> anyhow::Result<Fonts> {
        let open = |configured: &Option<PathBuf>, defaults: &[&str], setting: &str| -> anyhow::Result<_> {
            match configured {
                Some(p) => {
                    FontFile::open(p).map(|f| Some(Arc::new(f))).with_context(|| format!("the {setting} setting"))
                }
                None => Ok(defaults
                    .iter()
                    .map(Path::new)
                    .find(|p| p.exists())
                    .and_then(|p| FontFile::open(p).ok())
                    .map(Arc::new)),
            }
        };
        let hei = open(&paths.hei, SANS, "--font (QIANSHU_FONT)")?;
        let song = open(&paths.song, SERIF, "--font-song (QIANSHU_FONT_SONG)")?.or_else(|| hei.clone());
        let fangsong = open(&paths.fangsong, &[], "--font-fangsong (QIANSHU_FONT_FANGSONG)")?.or_else(|| song.clone());
        Ok(Fonts { by_family: [hei, song, fangsong] })
    }

    fn slot(family: FontFamily) -> usize {
        match family {
            FontFamily::Hei => 0,
            FontFamily::Song => 1,
            FontFamily::FangSong => 2,
        }
    }

    pub fn get(&self, family: FontFamily) -> anyhow::Result<&Arc<FontFile>> {
        self.by_family[Self::slot(family)].as_ref().ok_or_else(|| {
            anyhow!(
                "no CJK font for {}: set --font (QIANSHU_FONT) to a .ttf, .otf or .ttc file such as Noto Sans CJK SC",
                family.as_str()
            )
        })
    }

    /// Which file each family uses, for the start-up log.
    pub fn describe(&self) -> String {
        FontFamily::ALL
            .iter()
            .map(|f| match self.get(*f) {
                Ok(file) => format!("{} = {}", f.as_str(), file.path.display()),
                Err(_) => format!("{} = none", f.as_str()),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn any(&self) -> bool {
        self.by_family[0].is_some()
    }

    /// What measures text for the checks of values, `None` without a font (documents then fail
    /// at synthesis, naming the setting).
    pub fn metrics(&self) -> Option<&(dyn crate::domain::document::Metrics + Sync)> {
        self.any().then_some(self as &(dyn crate::domain::document::Metrics + Sync))
    }
}

impl Metrics for Fonts {
    fn advance(&self, family: FontFamily, c: char) -> Option<f64> {
        let font = self.get(family).ok()?;
        font.glyph(c).map(|g| font.advance_of(g))
    }

    fn ascent_descent(&self, family: FontFamily) -> (f64, f64) {
        self.get(family).map(|f| (f.ascent, f.descent)).unwrap_or((0.88, 0.12))
    }
}

/// The glyphs one document uses from one font: each character's CID in the subset (the
/// subsetter numbers kept glyphs from 1 in the order they are first met).
pub struct GlyphSet {
    pub font: Arc<FontFile>,
    remapper: GlyphRemapper,
    /// New CID → (old glyph id, the character it shows).
    used: BTreeMap<u16, (u16, char)>,
}

impl GlyphSet {
    pub fn new(font: Arc<FontFile>) -> GlyphSet {
        GlyphSet { font, remapper: GlyphRemapper::new(), used: BTreeMap::new() }
    }

    /// The CIDs of `text`, two bytes each as Identity-H wants them; characters without a glyph
    /// (checked at creation, so only a changed font can cause it) are an error.
    pub fn encode(&mut self, text: &str) -> anyhow::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let gid = self
                .font
                .glyph(c)
                .ok_or_else(|| anyhow!("the font {} has no glyph for `{c}`", self.font.path.display()))?;
            let cid = self.remapper.remap(gid);
            self.used.entry(cid).or_insert((gid, c));
            out.extend_from_slice(&cid.to_be_bytes());
        }
        Ok(out)
    }

    /// The PDF objects of the subset font. `ids` gives the object numbers to use: Type0 font,
    /// CID font, descriptor, font program, ToUnicode map; the Type0 font is the one to name in
    /// page resources.
    pub fn objects(&self, ids: [u32; 5]) -> anyhow::Result<Vec<(u32, Object)>> {
        let font = &self.font;
        let glyphs: Vec<u16> = self.used.values().map(|(gid, _)| *gid).collect();
        let subset = font.subset(&glyphs)?;
        let r = |i: usize| Object::Reference((ids[i], 0));
        let tag = subset_tag(&self.used);
        let base_font = format!("{tag}+{}", font.postscript_name);
        let scale = 1000.0;

        let mut widths = Vec::with_capacity(self.used.len() * 2);
        for (cid, (gid, _)) in &self.used {
            widths.push(Object::Integer(i64::from(*cid)));
            widths.push(Object::Array(vec![Object::Real((font.advance_of(*gid) * scale) as f32)]));
        }
        let (program, subtype, file_key) = if font.cff {
            let raw = ttf_parser::RawFace::parse(&subset, 0).map_err(|e| anyhow!("reading the subset: {e}"))?;
            let cff = raw
                .table(ttf_parser::Tag::from_bytes(b"CFF "))
                .ok_or_else(|| anyhow!("the subset has no CFF table"))?;
            (cff.to_vec(), "CIDFontType0", "FontFile3")
        } else {
            (subset, "CIDFontType2", "FontFile2")
        };
        let mut program_dict = Dictionary::new();
        if font.cff {
            program_dict.set("Subtype", Object::Name(b"CIDFontType0C".to_vec()));
        }
        let bbox = font.face.global_bounding_box();
        let em = |v: i16| Object::Integer((f64::from(v) * scale / font.units_per_em).round() as i64);
        let descriptor = Dictionary::from_iter([
            ("Type", Object::Name(b"FontDescriptor".to_vec())),
            ("FontName", Object::Name(base_font.clone().into_bytes())),
            ("Flags", Object::Integer(4)),
            ("FontBBox", Object::Array(vec![em(bbox.x_min), em(bbox.y_min), em(bbox.x_max), em(bbox.y_max)])),
            ("ItalicAngle", Object::Integer(0)),
            ("Ascent", Object::Integer((font.ascent * scale).round() as i64)),
            ("Descent", Object::Integer((-font.descent * scale).round() as i64)),
            ("CapHeight", em(font.face.capital_height().unwrap_or(700))),
            ("StemV", Object::Integer(80)),
            (file_key, r(3)),
        ]);
        let system_info = || {
            Dictionary::from_iter([
                ("Registry", Object::string_literal("Adobe")),
                ("Ordering", Object::string_literal("Identity")),
                ("Supplement", Object::Integer(0)),
            ])
        };
        let mut cid_font = Dictionary::from_iter([
            ("Type", Object::Name(b"Font".to_vec())),
            ("Subtype", Object::Name(subtype.as_bytes().to_vec())),
            ("BaseFont", Object::Name(base_font.clone().into_bytes())),
            ("CIDSystemInfo", Object::Dictionary(system_info())),
            ("FontDescriptor", r(2)),
            ("DW", Object::Integer(1000)),
            ("W", Object::Array(widths)),
        ]);
        if !font.cff {
            cid_font.set("CIDToGIDMap", Object::Name(b"Identity".to_vec()));
        }
        let type0 = Dictionary::from_iter([
            ("Type", Object::Name(b"Font".to_vec())),
            ("Subtype", Object::Name(b"Type0".to_vec())),
            ("BaseFont", Object::Name(base_font.into_bytes())),
            ("Encoding", Object::Name(b"Identity-H".to_vec())),
            ("DescendantFonts", Object::Array(vec![r(1)])),
            ("ToUnicode", r(4)),
        ]);
        let mut cmap = UnicodeCmap::new(
            Name(b"Adobe-Identity-UCS"),
            SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"UCS"), supplement: 0 },
        );
        for (cid, (_, c)) in &self.used {
            cmap.pair(*cid, *c);
        }
        Ok(vec![
            (ids[0], Object::Dictionary(type0)),
            (ids[1], Object::Dictionary(cid_font)),
            (ids[2], Object::Dictionary(descriptor)),
            (ids[3], Object::Stream(compressed(program_dict, &program))),
            (ids[4], Object::Stream(compressed(Dictionary::new(), &cmap.finish()))),
        ])
    }
}

/// Six capital letters derived from the glyphs kept, as PDF wants for subset names.
fn subset_tag(used: &BTreeMap<u16, (u16, char)>) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (gid, _) in used.values() {
        gid.hash(&mut h);
    }
    let mut n = h.finish();
    (0..6)
        .map(|_| {
            let c = (b'A' + (n % 26) as u8) as char;
            n /= 26;
            c
        })
        .collect()
}

/// A Flate-compressed stream (fast level: documents are made often and kept once).
pub fn compressed(mut dict: Dictionary, content: &[u8]) -> Stream {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::with_capacity(content.len() / 2), flate2::Compression::fast());
    z.write_all(content).expect("writing to memory");
    dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
    let mut s = Stream::new(dict, z.finish().expect("writing to memory"));
    s.allows_compression = false;
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_font_documents_fail_naming_the_setting() {
        let none = Fonts { by_family: [None, None, None] };
        assert!(!none.any());
        let e = none.get(FontFamily::Song).err().expect("no font for 宋体").to_string();
        assert_eq!(
            e,
            "no CJK font for 宋体: set --font (QIANSHU_FONT) to a .ttf, .otf or .ttc file such as Noto Sans CJK SC"
        );
        assert_eq!(none.describe(), "黑体 = none, 宋体 = none, 仿宋 = none");
    }

    /// Documents come out the same whether their glyphs were subset from the full font or from
    /// the core font, so a document's bytes do not depend on what was made before it.
    #[test]
    fn the_core_font_gives_the_same_subset_as_the_full_font() {
        let Some(path) = SANS.iter().map(Path::new).find(|p| p.exists()) else {
            assert!(std::env::var("CI").is_err(), "CI installs Noto CJK (scripts/test.sh)");
            eprintln!("SKIPPED: no Noto CJK font installed");
            return;
        };
        let font = FontFile::open(path).unwrap();
        let gids = |text: &str| text.chars().map(|c| font.glyph(c).unwrap()).collect::<Vec<u16>>();
        let direct =
            |glyphs: &[u16]| subsetter::subset(font.data, font.index, &GlyphRemapper::new_from_glyphs(glyphs)).unwrap();
        let first = gids("甲方典子谦示例企业");
        assert_eq!(font.subset(&first).unwrap(), direct(&first));
        assert_eq!(font.core.read().unwrap().gids.len(), first.len() * font.cff as usize);
        // Some glyphs already in the core, some new, in another order.
        let second = gids("乙方张三Zhang业企");
        assert_eq!(font.subset(&second).unwrap(), direct(&second));
        let both = gids("企业张三");
        assert_eq!(font.subset(&both).unwrap(), direct(&both));
    }

    #[test]
    fn a_configured_font_that_cannot_be_used_is_an_error_naming_its_setting() {
        let paths = FontPaths { song: Some(PathBuf::from("/nonexistent/song.ttf")), ..FontPaths::default() };
        let e = format!("{:#}", Fonts::load(&paths).err().expect("a missing configured font is an error"));
        assert!(e.starts_with("the --font-song (QIANSHU_FONT_SONG) setting: "), "{e}");
    }
}
