//! Images (PNG, JPEG) as PDF image XObjects.
//!
//! JPEG files are embedded as they are (`/DCTDecode`); only their headers are read. PNG files
//! whose pixels PDF can take directly (8-bit gray, RGB or palette, not interlaced, no `tRNS`)
//! are embedded without decoding: their zlib data, row filters included, is valid `/FlateDecode`
//! data with PNG predictors. Every other PNG is decoded to 8-bit samples and its colour and
//! alpha are compressed again, the alpha as a soft mask.
//!
//! Errors are lowercase clauses without a final full stop, about the file ("it is …"), for a
//! caller to write, say, "`FileBody` is not a usable image: {e}."

use std::io::{Cursor, Write};

use anyhow::{anyhow, bail};
use flate2::Compression;
use flate2::write::ZlibEncoder;
use lopdf::{Dictionary, Object, Stream, StringFormat};

/// The widest and tallest image accepted, in pixels.
const MAX_SIDE: u32 = 10_000;
/// The most bytes an image's uncompressed samples (colour and alpha, 8 bits each) may take:
/// 25 megapixels with alpha, 33 without, more than a phone photo (12 MP) or a scanned seal.
/// Decoding holds about twice this at once (the pixels, then colour and alpha apart), and each
/// image is decoded at upload, at creation and at synthesis.
pub const MAX_DECODED_BYTES: u64 = 100_000_000;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// An image ready to embed: the /Image XObject and, for images with transparency, its soft
/// mask. The writer gives each an object number and adds `/SMask N 0 R` to `image` itself.
#[derive(Debug, Clone)]
pub struct ImageXObject {
    pub width: u32,
    pub height: u32,
    pub image: lopdf::Stream,
    pub smask: Option<lopdf::Stream>,
}

/// The XObjects for a PNG or JPEG file, recognised by its bytes; anything else, or a file
/// that does not decode, is an error saying why (the message is shown to API callers, in English, one sentence).
pub fn image_xobject(bytes: &[u8]) -> anyhow::Result<ImageXObject> {
    if bytes.starts_with(PNG_SIGNATURE) {
        png_xobject(bytes)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        jpeg_xobject(bytes)
    } else {
        bail!("it is neither a PNG nor a JPEG file")
    }
}

/// Refuses an image too large to embed, `samples` being the bytes per pixel it decodes to.
fn check_size(width: u32, height: u32, samples: u64) -> anyhow::Result<()> {
    if width == 0 || height == 0 {
        bail!("it is {width} by {height} pixels, so it has no pixels to show");
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        bail!("it is {width} by {height} pixels, more than the {MAX_SIDE} by {MAX_SIDE} allowed");
    }
    let decoded = u64::from(width) * u64::from(height) * samples;
    if decoded > MAX_DECODED_BYTES {
        bail!(
            "it is {width} by {height} pixels, which take {} MB decoded, more than the {} MB allowed",
            decoded.div_ceil(1_000_000),
            MAX_DECODED_BYTES / 1_000_000
        );
    }
    Ok(())
}

fn name(n: &str) -> Object {
    Object::Name(n.as_bytes().to_vec())
}

/// The dictionary of an 8-bit image XObject.
fn image_dict(width: u32, height: u32, color_space: Object, filter: &str) -> Dictionary {
    let mut dict = Dictionary::new();
    dict.set("Type", name("XObject"));
    dict.set("Subtype", name("Image"));
    dict.set("Width", i64::from(width));
    dict.set("Height", i64::from(height));
    dict.set("ColorSpace", color_space);
    dict.set("BitsPerComponent", 8);
    dict.set("Filter", name(filter));
    dict
}

/// A stream whose content is already encoded, so lopdf must not compress it again.
fn encoded_stream(dict: Dictionary, content: Vec<u8>) -> Stream {
    Stream::new(dict, content).with_compression(false)
}

// ---------------------------------------------------------------------------------------------
// JPEG

fn jpeg_xobject(bytes: &[u8]) -> anyhow::Result<ImageXObject> {
    let (width, height, components, adobe) = jpeg_header(bytes)?;
    let color_space = match components {
        1 => "DeviceGray",
        3 => "DeviceRGB",
        4 => "DeviceCMYK",
        n => {
            bail!("it is a JPEG file with {n} colour components, where only 1 (gray), 3 (RGB) or 4 (CMYK) can be shown")
        }
    };
    check_size(width, height, u64::from(components))?;
    let mut dict = image_dict(width, height, name(color_space), "DCTDecode");
    if components == 4 && adobe {
        // Adobe applications write CMYK JPEGs inverted.
        dict.set("Decode", [1, 0, 1, 0, 1, 0, 1, 0].into_iter().map(Object::Integer).collect::<Vec<_>>());
    }
    Ok(ImageXObject { width, height, image: encoded_stream(dict, bytes.to_vec()), smask: None })
}

/// Width, height and component count from the first SOFn segment, and whether an Adobe APP14
/// segment comes before the first scan.
fn jpeg_header(bytes: &[u8]) -> anyhow::Result<(u32, u32, u8, bool)> {
    const TRUNCATED: &str = "it is a truncated JPEG file: it ends before its image data";
    let mut frame = None;
    let mut adobe = false;
    let mut pos = 2; // past SOI
    loop {
        if bytes.get(pos) != Some(&0xFF) {
            if pos >= bytes.len() {
                bail!(TRUNCATED);
            }
            bail!("it is a damaged JPEG file: there is no marker at byte {pos}");
        }
        while bytes.get(pos) == Some(&0xFF) {
            pos += 1; // a marker, and any fill bytes before it
        }
        let Some(&marker) = bytes.get(pos) else { bail!(TRUNCATED) };
        pos += 1;
        match marker {
            0x01 | 0xD0..=0xD7 => continue, // TEM, RSTn: no length
            0xD9 => bail!(TRUNCATED),
            0x00 | 0xD8 => {
                bail!("it is a damaged JPEG file: marker FF{marker:02X} at byte {} is out of place", pos - 2)
            }
            _ => {}
        }
        let Some(&[hi, lo]) = bytes.get(pos..pos + 2) else { bail!(TRUNCATED) };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len < 2 {
            bail!("it is a damaged JPEG file: the segment at byte {} has length {len}", pos - 2);
        }
        let Some(segment) = bytes.get(pos + 2..pos + len) else { bail!(TRUNCATED) };
        match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) && frame.is_none() => {
                let &[precision, h1, h0, w1, w0, components, ..] = segment else {
                    bail!("it is a damaged JPEG file: its frame header is too short");
                };
                if segment.len() < 6 + 3 * usize::from(components) {
                    bail!("it is a damaged JPEG file: its frame header is too short");
                }
                if precision != 8 {
                    bail!("it is a {precision}-bit JPEG file, where only 8-bit JPEG files can be embedded in a PDF");
                }
                let (height, width) = (u16::from_be_bytes([h1, h0]), u16::from_be_bytes([w1, w0]));
                frame = Some((u32::from(width), u32::from(height), components));
            }
            0xEE if segment.starts_with(b"Adobe") => adobe = true,
            0xDA => {
                let Some((width, height, components)) = frame else {
                    bail!("it is a damaged JPEG file: its image data comes before its frame header");
                };
                return Ok((width, height, components, adobe));
            }
            _ => {}
        }
        pos += len;
    }
}

// ---------------------------------------------------------------------------------------------
// PNG

/// What the chunks of a PNG file say, read without decoding it.
struct PngLayout<'a> {
    width: u32,
    height: u32,
    bit_depth: u8,
    color_type: u8,
    interlaced: bool,
    palette: Option<&'a [u8]>,
    has_trns: bool,
    idat: Vec<&'a [u8]>,
}

impl PngLayout<'_> {
    /// Whether PDF can take the file's own IDAT data.
    fn passes_through(&self) -> bool {
        !self.interlaced && self.bit_depth == 8 && matches!(self.color_type, 0 | 2 | 3) && !self.has_trns
    }

    /// Bytes per pixel of the samples the XObjects will carry.
    fn decoded_samples(&self) -> u64 {
        if self.passes_through() {
            return if self.color_type == 2 { 3 } else { 1 };
        }
        let color = if matches!(self.color_type, 0 | 4) { 1 } else { 3 };
        let alpha = matches!(self.color_type, 4 | 6) || self.has_trns;
        color + u64::from(alpha)
    }
}

fn chunk_name(kind: [u8; 4]) -> String {
    if kind.iter().all(u8::is_ascii_alphabetic) {
        String::from_utf8_lossy(&kind).into_owned()
    } else {
        format!("{kind:02X?}")
    }
}

/// The chunk at `*pos` (its type and data), its length checked against the file; `*pos` moves
/// past it.
fn next_chunk<'a>(bytes: &'a [u8], pos: &mut usize) -> anyhow::Result<([u8; 4], &'a [u8])> {
    let Some(&[l0, l1, l2, l3, k0, k1, k2, k3]) = bytes.get(*pos..*pos + 8) else {
        bail!("it is a truncated PNG file: it ends before its IEND chunk");
    };
    let len = u32::from_be_bytes([l0, l1, l2, l3]);
    let kind = [k0, k1, k2, k3];
    let start = *pos + 8;
    // The data is followed by a 4-byte CRC.
    let remaining = (bytes.len() - start).saturating_sub(4);
    let Some(len) =
        usize::try_from(len).ok().filter(|&len| start.checked_add(len + 4).is_some_and(|end| end <= bytes.len()))
    else {
        bail!(
            "it is a truncated or damaged PNG file: its {} chunk claims {len} bytes but only {remaining} remain",
            chunk_name(kind)
        );
    };
    *pos = start + len + 4;
    Ok((kind, &bytes[start..start + len]))
}

/// Walks the chunks of a PNG file up to IEND, without decoding any.
fn png_layout(bytes: &[u8]) -> anyhow::Result<PngLayout<'_>> {
    let mut pos = PNG_SIGNATURE.len();
    let (kind, data) = next_chunk(bytes, &mut pos)?;
    if &kind != b"IHDR" {
        bail!("it is a damaged PNG file: it does not start with an IHDR chunk");
    }
    let mut layout = png_header(data)?;
    let mut idat_ended = false;
    loop {
        let (kind, data) = next_chunk(bytes, &mut pos)?;
        if !layout.idat.is_empty() && &kind != b"IDAT" {
            idat_ended = true;
        }
        match &kind {
            b"IDAT" if idat_ended => bail!("it is a damaged PNG file: its IDAT chunks are not consecutive"),
            b"IDAT" => layout.idat.push(data),
            b"PLTE" => layout.palette = Some(data),
            b"tRNS" => layout.has_trns = true,
            b"IEND" => break,
            b"IHDR" => bail!("it is a damaged PNG file: it has two IHDR chunks"),
            _ => {}
        }
    }
    if layout.idat.is_empty() {
        bail!("it is a damaged PNG file: it has no IDAT chunk");
    }
    if layout.color_type == 3 {
        match layout.palette {
            None => bail!("it is a damaged PNG file: it is a palette image without a PLTE chunk"),
            Some(p) if p.is_empty() || p.len() % 3 != 0 || p.len() / 3 > 1 << layout.bit_depth => {
                bail!("it is a damaged PNG file: its PLTE chunk is {} bytes long", p.len())
            }
            Some(_) => {}
        }
    }
    check_size(layout.width, layout.height, layout.decoded_samples())?;
    Ok(layout)
}

/// The IHDR chunk, checked; an image too large is refused here, before anything else is read.
fn png_header(data: &[u8]) -> anyhow::Result<PngLayout<'_>> {
    let &[w0, w1, w2, w3, h0, h1, h2, h3, bit_depth, color_type, compression, filter, interlace] = data else {
        bail!("it is a damaged PNG file: its IHDR chunk is {} bytes long instead of 13", data.len());
    };
    let (width, height) = (u32::from_be_bytes([w0, w1, w2, w3]), u32::from_be_bytes([h0, h1, h2, h3]));
    check_size(width, height, 1)?;
    let depth_ok = match color_type {
        0 => matches!(bit_depth, 1 | 2 | 4 | 8 | 16),
        3 => matches!(bit_depth, 1 | 2 | 4 | 8),
        2 | 4 | 6 => matches!(bit_depth, 8 | 16),
        _ => bail!("it is a damaged PNG file: its colour type {color_type} does not exist"),
    };
    if !depth_ok {
        bail!("it is a damaged PNG file: colour type {color_type} cannot have bit depth {bit_depth}");
    }
    if compression != 0 || filter != 0 || interlace > 1 {
        bail!("it is a damaged PNG file: its IHDR chunk names an unknown compression, filter or interlace method");
    }
    Ok(PngLayout {
        width,
        height,
        bit_depth,
        color_type,
        interlaced: interlace == 1,
        palette: None,
        has_trns: false,
        idat: Vec::new(),
    })
}

fn png_xobject(bytes: &[u8]) -> anyhow::Result<ImageXObject> {
    let layout = png_layout(bytes)?;
    if layout.passes_through() { png_passthrough(&layout) } else { png_decoded(bytes, &layout) }
}

/// The file's own zlib data under `/FlateDecode` with PNG predictors.
fn png_passthrough(layout: &PngLayout) -> anyhow::Result<ImageXObject> {
    let mut data = Vec::with_capacity(layout.idat.iter().map(|c| c.len()).sum());
    for chunk in &layout.idat {
        data.extend_from_slice(chunk);
    }
    let colors = if layout.color_type == 2 { 3 } else { 1 };
    check_png_data(&data, layout.width as usize * colors, layout.height)?;
    let color_space = match layout.color_type {
        0 => name("DeviceGray"),
        2 => name("DeviceRGB"),
        _ => {
            let palette = layout.palette.unwrap_or_default();
            let hival = (palette.len() / 3).saturating_sub(1) as i64;
            let lookup = Object::String(palette.to_vec(), StringFormat::Hexadecimal);
            Object::Array(vec![name("Indexed"), name("DeviceRGB"), hival.into(), lookup])
        }
    };
    let mut parms = Dictionary::new();
    parms.set("Predictor", 15);
    parms.set("Colors", colors as i64);
    parms.set("BitsPerComponent", 8);
    parms.set("Columns", i64::from(layout.width));
    let mut dict = image_dict(layout.width, layout.height, color_space, "FlateDecode");
    dict.set("DecodeParms", parms);
    Ok(ImageXObject { width: layout.width, height: layout.height, image: encoded_stream(dict, data), smask: None })
}

/// Inflates a PNG's image data without keeping it, to check it holds `height` rows of
/// `row_bytes` bytes, each after a filter type (0 to 4): a file passed through unread must be as
/// sound as one decoded. This costs about a tenth of decoding and compressing again.
fn check_png_data(data: &[u8], row_bytes: usize, height: u32) -> anyhow::Result<()> {
    let stride = row_bytes as u64 + 1;
    let expected = stride * u64::from(height);
    let mut inflater = flate2::Decompress::new(true);
    let mut buf = vec![0u8; 64 * 1024];
    let mut produced = 0u64;
    loop {
        let (read, written) = (inflater.total_in(), inflater.total_out());
        let input = data.get(read as usize..).unwrap_or_default();
        let status = inflater
            .decompress(input, &mut buf, flate2::FlushDecompress::None)
            .map_err(|_| anyhow!("it is a damaged PNG file: its image data cannot be decompressed"))?;
        let out = &buf[..(inflater.total_out() - written) as usize];
        // The first row start in `out`, then every `stride` bytes.
        let first = ((stride - produced % stride) % stride) as usize;
        if out.iter().skip(first).step_by(stride as usize).any(|&filter| filter > 4) {
            bail!("it is a damaged PNG file: a row of its image data has an unknown filter type");
        }
        produced += out.len() as u64;
        if produced > expected {
            bail!("it is a damaged PNG file: its image data holds more rows than its header says");
        }
        match status {
            flate2::Status::StreamEnd => break,
            _ if out.is_empty() && inflater.total_in() == read => {
                bail!("it is a truncated PNG file: its image data ends early")
            }
            _ => {}
        }
    }
    if produced < expected {
        bail!("it is a damaged PNG file: its image data holds fewer rows than its header says");
    }
    Ok(())
}

/// Decodes to 8-bit gray or RGB, with or without alpha, and compresses colour and alpha apart.
fn png_decoded(bytes: &[u8], layout: &PngLayout) -> anyhow::Result<ImageXObject> {
    let damaged = |e: png::DecodingError| match e {
        png::DecodingError::IoError(_) => anyhow!("it is a truncated PNG file: its image data ends early"),
        e => anyhow!("it is a damaged PNG file: {e}"),
    };
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    decoder.set_ignore_text_chunk(true);
    decoder.set_ignore_iccp_chunk(true);
    let mut reader = decoder.read_info().map_err(damaged)?;
    let size = reader.output_buffer_size().ok_or_else(|| anyhow!("it is too large a PNG file to decode"))?;
    let (width, height) = (layout.width, layout.height);
    if reader.info().size() != (width, height) || size as u64 > MAX_DECODED_BYTES {
        bail!("it is a damaged PNG file: its header cannot be read consistently");
    }
    let mut pixels = vec![0; size];
    let frame = reader.next_frame(&mut pixels).map_err(damaged)?;
    pixels.truncate(frame.buffer_size());
    if frame.bit_depth != png::BitDepth::Eight || (frame.width, frame.height) != (width, height) {
        bail!("it is a PNG file this server cannot decode");
    }
    let expected = |samples: usize| width as usize * height as usize * samples;
    let (color, alpha, color_space) = match frame.color_type {
        png::ColorType::Grayscale => (pixels, None, "DeviceGray"),
        png::ColorType::Rgb => (pixels, None, "DeviceRGB"),
        png::ColorType::GrayscaleAlpha => {
            let (color, alpha) = split_alpha::<1>(&pixels);
            (color, Some(alpha), "DeviceGray")
        }
        png::ColorType::Rgba => {
            let (color, alpha) = split_alpha::<3>(&pixels);
            (color, Some(alpha), "DeviceRGB")
        }
        png::ColorType::Indexed => bail!("it is a PNG file this server cannot decode"),
    };
    let channels = if color_space == "DeviceGray" { 1 } else { 3 };
    if color.len() != expected(channels) || alpha.as_ref().is_some_and(|a| a.len() != expected(1)) {
        bail!("it is a damaged PNG file: it decodes to fewer pixels than its header says");
    }
    let alpha = alpha.filter(|a| a.iter().any(|&v| v != 255));
    let image = encoded_stream(image_dict(width, height, name(color_space), "FlateDecode"), deflate(&color)?);
    let smask = match alpha {
        Some(alpha) => {
            Some(encoded_stream(image_dict(width, height, name("DeviceGray"), "FlateDecode"), deflate(&alpha)?))
        }
        None => None,
    };
    Ok(ImageXObject { width, height, image, smask })
}

/// Interleaved samples with `N` colour bytes and one alpha byte per pixel, as two planes.
fn split_alpha<const N: usize>(pixels: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let count = pixels.len() / (N + 1);
    let mut color = Vec::with_capacity(count * N);
    let mut alpha = Vec::with_capacity(count);
    for pixel in pixels.chunks_exact(N + 1) {
        color.extend_from_slice(&pixel[..N]);
        alpha.push(pixel[N]);
    }
    (color, alpha)
}

fn deflate(data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(data.len() / 2), Compression::fast());
    encoder.write_all(data)?;
    Ok(encoder.finish()?)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    // --- building PNG files -----------------------------------------------------------------

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    fn push_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut typed = kind.to_vec();
        typed.extend_from_slice(data);
        out.extend_from_slice(&crc32(&typed).to_be_bytes());
    }

    /// The chunks of a PNG file, as (type, data).
    fn chunks(png: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
        let mut out = Vec::new();
        let mut pos = 8;
        while pos < png.len() {
            let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
            let kind: [u8; 4] = png[pos + 4..pos + 8].try_into().unwrap();
            out.push((kind, png[pos + 8..pos + 8 + len].to_vec()));
            pos += 12 + len;
        }
        out
    }

    fn assemble(chunks: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
        let mut out = PNG_SIGNATURE.to_vec();
        for (kind, data) in chunks {
            push_chunk(&mut out, kind, data);
        }
        out
    }

    fn ihdr(width: u32, height: u32, bit_depth: u8, color_type: u8, interlace: u8) -> ([u8; 4], Vec<u8>) {
        let mut data = width.to_be_bytes().to_vec();
        data.extend_from_slice(&height.to_be_bytes());
        data.extend_from_slice(&[bit_depth, color_type, 0, 0, interlace]);
        (*b"IHDR", data)
    }

    struct Spec<'a> {
        width: u32,
        height: u32,
        color: png::ColorType,
        depth: png::BitDepth,
        palette: Option<&'a [u8]>,
        trns: Option<&'a [u8]>,
        filter: png::Filter,
    }

    fn spec(width: u32, height: u32, color: png::ColorType) -> Spec<'static> {
        Spec {
            width,
            height,
            color,
            depth: png::BitDepth::Eight,
            palette: None,
            trns: None,
            filter: png::Filter::Adaptive,
        }
    }

    fn encode(spec: &Spec, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, spec.width, spec.height);
        encoder.set_color(spec.color);
        encoder.set_depth(spec.depth);
        encoder.set_filter(spec.filter);
        if let Some(p) = spec.palette {
            encoder.set_palette(p.to_vec());
        }
        if let Some(t) = spec.trns {
            encoder.set_trns(t.to_vec());
        }
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(data).unwrap();
        writer.finish().unwrap();
        out
    }

    /// Samples that vary in every direction, so a wrong row, column or channel shows.
    fn pattern(width: u32, height: u32, channels: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for y in 0..height {
            for x in 0..width {
                for c in 0..channels {
                    out.push((x * 31 + y * 17 + c * 71 + (x * y) % 13) as u8);
                }
            }
        }
        out
    }

    /// The file's pixels as the `png` crate decodes them, with `transformations`.
    fn reference(png: &[u8], transformations: png::Transformations) -> (Vec<u8>, png::ColorType) {
        let mut decoder = png::Decoder::new(Cursor::new(png));
        decoder.set_transformations(transformations);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (buf, info.color_type)
    }

    fn expanded(png: &[u8]) -> (Vec<u8>, png::ColorType) {
        reference(png, png::Transformations::EXPAND | png::Transformations::STRIP_16)
    }

    // --- reading the XObjects ---------------------------------------------------------------

    fn inflate(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(data).read_to_end(&mut out).unwrap();
        out
    }

    /// Undoes PNG row filters (as PDF's /Predictor 15 does), noting which filter types occurred.
    fn unfilter(data: &[u8], row_bytes: usize, bpp: usize) -> (Vec<u8>, [bool; 5]) {
        assert_eq!(data.len() % (row_bytes + 1), 0, "whole rows of filter byte and samples");
        let mut seen = [false; 5];
        let mut out: Vec<u8> = Vec::with_capacity(data.len());
        let mut prior = vec![0u8; row_bytes];
        for row in data.chunks_exact(row_bytes + 1) {
            let filter = row[0] as usize;
            seen[filter] = true;
            let mut cur = row[1..].to_vec();
            for i in 0..row_bytes {
                let a = if i >= bpp { cur[i - bpp] } else { 0 };
                let b = prior[i];
                let c = if i >= bpp { prior[i - bpp] } else { 0 };
                let predictor = match filter {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                    4 => {
                        let p = i16::from(a) + i16::from(b) - i16::from(c);
                        let (pa, pb, pc) =
                            ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
                        if pa <= pb && pa <= pc {
                            a
                        } else if pb <= pc {
                            b
                        } else {
                            c
                        }
                    }
                    f => panic!("filter type {f}"),
                };
                cur[i] = cur[i].wrapping_add(predictor);
            }
            out.extend_from_slice(&cur);
            prior = cur;
        }
        (out, seen)
    }

    /// Checks the entries every image XObject here has, and that lopdf will not re-compress it.
    fn assert_common(stream: &Stream, width: u32, height: u32, color_space: Object, filter: &str) {
        let d = &stream.dict;
        assert_eq!(d.get(b"Type").unwrap(), &name("XObject"));
        assert_eq!(d.get(b"Subtype").unwrap(), &name("Image"));
        assert_eq!(d.get(b"Width").unwrap(), &Object::Integer(width.into()));
        assert_eq!(d.get(b"Height").unwrap(), &Object::Integer(height.into()));
        assert_eq!(d.get(b"ColorSpace").unwrap(), &color_space);
        assert_eq!(d.get(b"BitsPerComponent").unwrap(), &Object::Integer(8));
        assert_eq!(d.get(b"Filter").unwrap(), &name(filter));
        assert_eq!(d.get(b"Length").unwrap(), &Object::Integer(stream.content.len() as i64));
        assert!(!stream.allows_compression, "the content is encoded already");
        assert!(d.get(b"SMask").is_err(), "the writer adds /SMask");
    }

    /// Checks a PNG took the pass-through path and its stream decodes, under its own
    /// /DecodeParms, to the file's samples; returns the row filters met.
    fn assert_passthrough(png: &[u8], colors: i64, color_space: Object) -> [bool; 5] {
        let (raw, _) = reference(png, png::Transformations::IDENTITY);
        let x = image_xobject(png).unwrap();
        let (w, h) = (x.width, x.height);
        assert!(x.smask.is_none());
        assert_common(&x.image, w, h, color_space, "FlateDecode");
        let parms = x.image.dict.get(b"DecodeParms").unwrap().as_dict().unwrap();
        assert_eq!(parms.len(), 4);
        assert_eq!(parms.get(b"Predictor").unwrap(), &Object::Integer(15));
        assert_eq!(parms.get(b"Colors").unwrap(), &Object::Integer(colors));
        assert_eq!(parms.get(b"BitsPerComponent").unwrap(), &Object::Integer(8));
        assert_eq!(parms.get(b"Columns").unwrap(), &Object::Integer(w.into()));
        // The IDAT data, unchanged.
        let idat: Vec<u8> = chunks(png).into_iter().filter(|(k, _)| k == b"IDAT").flat_map(|(_, d)| d).collect();
        assert_eq!(x.image.content, idat);
        let (samples, seen) = unfilter(&inflate(&x.image.content), w as usize * colors as usize, colors as usize);
        assert_eq!(samples, raw);
        seen
    }

    /// Checks a PNG was decoded, and its colour and alpha streams hold `color` and `alpha`.
    fn assert_decoded(png: &[u8], color_space: &str, color: &[u8], alpha: Option<&[u8]>) {
        let x = image_xobject(png).unwrap();
        let (w, h) = (x.width, x.height);
        assert_common(&x.image, w, h, name(color_space), "FlateDecode");
        assert!(x.image.dict.get(b"DecodeParms").is_err());
        assert_eq!(inflate(&x.image.content), color);
        match (alpha, &x.smask) {
            (Some(alpha), Some(smask)) => {
                assert_common(smask, w, h, name("DeviceGray"), "FlateDecode");
                assert!(smask.dict.get(b"DecodeParms").is_err());
                assert_eq!(inflate(&smask.content), alpha);
            }
            (None, None) => {}
            (want, got) => panic!("expected a soft mask: {}, got one: {}", want.is_some(), got.is_some()),
        }
    }

    /// The `png` crate's 8-bit decoding split into colour and alpha planes (alpha `None` when
    /// every pixel is opaque).
    fn planes(png: &[u8]) -> (Vec<u8>, Option<Vec<u8>>) {
        let (pixels, color) = expanded(png);
        let (colors, has_alpha) = match color {
            png::ColorType::Grayscale => (1, false),
            png::ColorType::Rgb => (3, false),
            png::ColorType::GrayscaleAlpha => (1, true),
            png::ColorType::Rgba => (3, true),
            png::ColorType::Indexed => unreachable!(),
        };
        if !has_alpha {
            return (pixels, None);
        }
        let color = pixels.chunks(colors + 1).flat_map(|p| p[..colors].to_vec()).collect();
        let alpha: Vec<u8> = pixels.chunks(colors + 1).map(|p| p[colors]).collect();
        (color, alpha.iter().any(|&a| a != 255).then_some(alpha))
    }

    // --- PNG, passed through ----------------------------------------------------------------

    const FILTERS: [png::Filter; 6] = [
        png::Filter::NoFilter,
        png::Filter::Sub,
        png::Filter::Up,
        png::Filter::Avg,
        png::Filter::Paeth,
        png::Filter::Adaptive,
    ];

    #[test]
    fn gray_png_passes_through_with_every_row_filter() {
        let pixels = pattern(37, 23, 1);
        let mut seen = [false; 5];
        for filter in FILTERS {
            let png = encode(&Spec { filter, ..spec(37, 23, png::ColorType::Grayscale) }, &pixels);
            let s = assert_passthrough(&png, 1, name("DeviceGray"));
            seen.iter_mut().zip(s).for_each(|(a, b)| *a |= b);
            assert_eq!(reference(&png, png::Transformations::IDENTITY).0, pixels);
        }
        assert_eq!(seen, [true; 5], "filters 0 to 4 all tested");
    }

    #[test]
    fn rgb_png_passes_through_with_every_row_filter() {
        let pixels = pattern(41, 19, 3);
        let mut seen = [false; 5];
        for filter in FILTERS {
            let png = encode(&Spec { filter, ..spec(41, 19, png::ColorType::Rgb) }, &pixels);
            let s = assert_passthrough(&png, 3, name("DeviceRGB"));
            seen.iter_mut().zip(s).for_each(|(a, b)| *a |= b);
        }
        assert_eq!(seen, [true; 5], "filters 0 to 4 all tested");
    }

    #[test]
    fn palette_png_passes_through_with_an_indexed_colour_space() {
        let palette: Vec<u8> = (0..5u8).flat_map(|i| [i * 50, 255 - i * 40, i * 7]).collect();
        let indices: Vec<u8> = (0..29 * 17).map(|i| ((i % 29) * 3 + i / 29) as u8 % 5).collect();
        let png = encode(&Spec { palette: Some(&palette), ..spec(29, 17, png::ColorType::Indexed) }, &indices);
        let color_space = Object::Array(vec![
            name("Indexed"),
            name("DeviceRGB"),
            Object::Integer(4),
            Object::String(palette.clone(), StringFormat::Hexadecimal),
        ]);
        assert_passthrough(&png, 1, color_space);
        assert_eq!(reference(&png, png::Transformations::IDENTITY).0, indices);
    }

    #[test]
    fn idat_split_over_many_chunks_is_joined() {
        let pixels = pattern(30, 30, 3);
        let png = encode(&spec(30, 30, png::ColorType::Rgb), &pixels);
        let mut parts = Vec::new();
        for (kind, data) in chunks(&png) {
            if &kind == b"IDAT" {
                // The zlib header split between chunks, an empty chunk, then pieces of 17 bytes.
                parts.push((kind, data[..1].to_vec()));
                parts.push((kind, Vec::new()));
                parts.extend(data[1..].chunks(17).map(|c| (kind, c.to_vec())));
            } else {
                parts.push((kind, data));
            }
        }
        assert!(parts.len() > 6);
        let split = assemble(&parts);
        assert_passthrough(&split, 3, name("DeviceRGB"));
        assert_eq!(image_xobject(&split).unwrap().image.content, image_xobject(&png).unwrap().image.content);
    }

    // --- PNG, decoded -----------------------------------------------------------------------

    #[test]
    fn rgba_with_partial_alpha_gets_a_soft_mask() {
        let (w, h) = (33, 21);
        let pixels: Vec<u8> = pattern(w, h, 4)
            .chunks(4)
            .enumerate()
            .flat_map(|(i, p)| [p[0], p[1], p[2], if i % 3 == 0 { 255 } else { (i * 7) as u8 }])
            .collect();
        let png = encode(&spec(w, h, png::ColorType::Rgba), &pixels);
        let color: Vec<u8> = pixels.chunks(4).flat_map(|p| p[..3].to_vec()).collect();
        let alpha: Vec<u8> = pixels.chunks(4).map(|p| p[3]).collect();
        assert_decoded(&png, "DeviceRGB", &color, Some(&alpha));
        let (ref_color, ref_alpha) = planes(&png);
        assert_eq!((ref_color, ref_alpha), (color, Some(alpha)));
    }

    #[test]
    fn opaque_rgba_has_no_soft_mask() {
        let (w, h) = (16, 9);
        let pixels: Vec<u8> = pattern(w, h, 4).chunks(4).flat_map(|p| [p[0], p[1], p[2], 255]).collect();
        let png = encode(&spec(w, h, png::ColorType::Rgba), &pixels);
        let color: Vec<u8> = pixels.chunks(4).flat_map(|p| p[..3].to_vec()).collect();
        assert_decoded(&png, "DeviceRGB", &color, None);
    }

    #[test]
    fn gray_with_alpha_is_gray_with_a_soft_mask() {
        let (w, h) = (12, 7);
        let pixels = pattern(w, h, 2);
        let png = encode(&spec(w, h, png::ColorType::GrayscaleAlpha), &pixels);
        let color: Vec<u8> = pixels.iter().step_by(2).copied().collect();
        let alpha: Vec<u8> = pixels.iter().skip(1).step_by(2).copied().collect();
        assert_decoded(&png, "DeviceGray", &color, Some(&alpha));
    }

    #[test]
    fn palette_with_trns_is_expanded_to_rgb_and_alpha() {
        let palette: Vec<u8> = (0..4u8).flat_map(|i| [i * 60, 200 - i * 30, 9 + i]).collect();
        let trns = [0u8, 128]; // entries 2 and 3 stay opaque
        let (w, h) = (10, 6);
        let indices: Vec<u8> = (0..w * h).map(|i| (i % 4) as u8).collect();
        let png = encode(
            &Spec { palette: Some(&palette), trns: Some(&trns), ..spec(w, h, png::ColorType::Indexed) },
            &indices,
        );
        let color: Vec<u8> =
            indices.iter().flat_map(|&i| palette[3 * i as usize..3 * i as usize + 3].to_vec()).collect();
        let alpha: Vec<u8> = indices.iter().map(|&i| trns.get(i as usize).copied().unwrap_or(255)).collect();
        assert_decoded(&png, "DeviceRGB", &color, Some(&alpha));
    }

    #[test]
    fn gray_with_trns_gets_a_soft_mask() {
        let (w, h) = (9, 9);
        let pixels = pattern(w, h, 1);
        let key = pixels[10];
        let png = encode(&Spec { trns: Some(&[0, key]), ..spec(w, h, png::ColorType::Grayscale) }, &pixels);
        let alpha: Vec<u8> = pixels.iter().map(|&p| if p == key { 0 } else { 255 }).collect();
        assert_decoded(&png, "DeviceGray", &pixels, Some(&alpha));
    }

    #[test]
    fn sixteen_bit_rgb_keeps_the_high_bytes() {
        let (w, h) = (11, 8);
        let pixels = pattern(w, h, 6);
        let png = encode(&Spec { depth: png::BitDepth::Sixteen, ..spec(w, h, png::ColorType::Rgb) }, &pixels);
        let high: Vec<u8> = pixels.iter().step_by(2).copied().collect();
        assert_decoded(&png, "DeviceRGB", &high, None);
    }

    #[test]
    fn sixteen_bit_rgba_keeps_the_high_bytes_of_colour_and_alpha() {
        let (w, h) = (7, 5);
        let pixels = pattern(w, h, 8);
        let png = encode(&Spec { depth: png::BitDepth::Sixteen, ..spec(w, h, png::ColorType::Rgba) }, &pixels);
        let high: Vec<u8> = pixels.iter().step_by(2).copied().collect();
        let color: Vec<u8> = high.chunks(4).flat_map(|p| p[..3].to_vec()).collect();
        let alpha: Vec<u8> = high.chunks(4).map(|p| p[3]).collect();
        assert_decoded(&png, "DeviceRGB", &color, Some(&alpha));
    }

    #[test]
    fn low_bit_depths_are_expanded_to_eight_bits() {
        let (w, h) = (13, 5); // 13 pixels: rows end mid-byte at every depth below 8
        for depth in [png::BitDepth::One, png::BitDepth::Two, png::BitDepth::Four] {
            let row_bytes = (w as usize * depth as usize).div_ceil(8);
            let packed: Vec<u8> = (0..row_bytes * h as usize).map(|i| (i * 37 + 11) as u8).collect();
            let gray = encode(&Spec { depth, ..spec(w, h, png::ColorType::Grayscale) }, &packed);
            let (color, alpha) = planes(&gray);
            assert_eq!(alpha, None);
            assert_eq!(color.len(), (w * h) as usize);
            assert!(color.contains(&255) && color.contains(&0), "scaled to 0..=255");
            assert_decoded(&gray, "DeviceGray", &color, None);

            let palette: Vec<u8> = (0..1u16 << depth as u8).flat_map(|i| [i as u8, 100, 255 - i as u8]).collect();
            let indexed =
                encode(&Spec { depth, palette: Some(&palette), ..spec(w, h, png::ColorType::Indexed) }, &packed);
            let (color, alpha) = planes(&indexed);
            assert_eq!(alpha, None);
            assert_eq!(color.len(), (w * h * 3) as usize);
            assert_decoded(&indexed, "DeviceRGB", &color, None);
        }
    }

    /// The `png` encoder writes no interlaced images, so this builds Adam7 passes by hand.
    fn interlaced(width: u32, height: u32, color_type: u8, channels: usize, pixels: &[u8]) -> Vec<u8> {
        const PASSES: [(usize, usize, usize, usize); 7] =
            [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];
        let (w, h) = (width as usize, height as usize);
        let mut raw = Vec::new();
        for (x0, y0, dx, dy) in PASSES {
            if x0 >= w || y0 >= h {
                continue; // an empty pass has no rows at all
            }
            for y in (y0..h).step_by(dy) {
                raw.push(0);
                for x in (x0..w).step_by(dx) {
                    raw.extend_from_slice(&pixels[(y * w + x) * channels..][..channels]);
                }
            }
        }
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&raw).unwrap();
        assemble(&[ihdr(width, height, 8, color_type, 1), (*b"IDAT", z.finish().unwrap()), (*b"IEND", vec![])])
    }

    #[test]
    fn interlaced_png_is_deinterlaced() {
        let (w, h) = (13, 11);
        let rgb = pattern(w, h, 3);
        let png = interlaced(w, h, 2, 3, &rgb);
        assert_eq!(expanded(&png).0, rgb, "the hand-made file is what it should be");
        assert_decoded(&png, "DeviceRGB", &rgb, None);

        let rgba = pattern(w, h, 4);
        let png = interlaced(w, h, 6, 4, &rgba);
        let color: Vec<u8> = rgba.chunks(4).flat_map(|p| p[..3].to_vec()).collect();
        let alpha: Vec<u8> = rgba.chunks(4).map(|p| p[3]).collect();
        assert_decoded(&png, "DeviceRGB", &color, Some(&alpha));

        let gray = pattern(w, h, 1);
        assert_decoded(&interlaced(w, h, 0, 1, &gray), "DeviceGray", &gray, None);
    }

    // --- JPEG -------------------------------------------------------------------------------

    fn segment(out: &mut Vec<u8>, marker: u8, data: &[u8]) {
        out.extend_from_slice(&[0xFF, marker]);
        out.extend_from_slice(&(data.len() as u16 + 2).to_be_bytes());
        out.extend_from_slice(data);
    }

    /// A JPEG file: JFIF, optionally Adobe APP14, quantisation and Huffman tables, the frame
    /// header `sof`, and one scan. With one component and SOF0 it is a real baseline JPEG: an
    /// 8×8 block of mid-gray (DC difference 0, then end-of-block).
    fn jpeg(sof: u8, precision: u8, width: u16, height: u16, components: u8, adobe: bool) -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        segment(&mut j, 0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        if adobe {
            segment(&mut j, 0xEE, b"Adobe\0\x64\0\0\0\0\x02");
        }
        let mut dqt = vec![0];
        dqt.extend([1u8; 64]);
        segment(&mut j, 0xDB, &dqt);
        j.push(0xFF); // a fill byte before the next marker
        let mut frame = vec![precision];
        frame.extend(height.to_be_bytes());
        frame.extend(width.to_be_bytes());
        frame.push(components);
        for id in 1..=components {
            frame.extend([id, 0x11, 0]);
        }
        segment(&mut j, sof, &frame);
        // DC table 0 and AC table 0, each one 1-bit code: DC category 0 and end-of-block.
        for class in [0x00u8, 0x10] {
            let mut dht = vec![class, 1];
            dht.extend([0u8; 15]);
            dht.push(0);
            segment(&mut j, 0xC4, &dht);
        }
        let mut sos = vec![components];
        for id in 1..=components {
            sos.extend([id, 0x00]);
        }
        sos.extend([0, 63, 0]);
        segment(&mut j, 0xDA, &sos);
        j.extend([0x3F, 0xFF, 0x00, 0xFF, 0xD9]);
        j
    }

    #[test]
    fn jpeg_passes_through_with_its_frame_header() {
        for (sof, components, color_space) in
            [(0xC0, 1, "DeviceGray"), (0xC0, 3, "DeviceRGB"), (0xC2, 3, "DeviceRGB"), (0xC1, 4, "DeviceCMYK")]
        {
            let bytes = jpeg(sof, 8, 640, 481, components, false);
            let x = image_xobject(&bytes).unwrap();
            assert_eq!((x.width, x.height), (640, 481));
            assert!(x.smask.is_none());
            assert_common(&x.image, 640, 481, name(color_space), "DCTDecode");
            assert_eq!(x.image.content, bytes);
            assert!(x.image.dict.get(b"Decode").is_err());
            assert!(x.image.dict.get(b"DecodeParms").is_err());
        }
    }

    #[test]
    fn every_sof_marker_is_read_but_tables_are_not_frames() {
        for marker in 0xC0..=0xCFu8 {
            let bytes = jpeg(marker, 8, 300, 200, 3, false);
            let result = image_xobject(&bytes);
            if matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                // Not a frame header: the scan then comes before any frame.
                assert!(result.unwrap_err().to_string().contains("frame header"), "marker {marker:02X}");
            } else {
                let x = result.unwrap();
                assert_eq!((x.width, x.height), (300, 200), "marker {marker:02X}");
            }
        }
    }

    #[test]
    fn adobe_cmyk_jpeg_is_decoded_inverted() {
        let x = image_xobject(&jpeg(0xC0, 8, 20, 10, 4, true)).unwrap();
        assert_common(&x.image, 20, 10, name("DeviceCMYK"), "DCTDecode");
        let decode = Object::Array([1, 0, 1, 0, 1, 0, 1, 0].into_iter().map(Object::Integer).collect());
        assert_eq!(x.image.dict.get(b"Decode").unwrap(), &decode);
        // An Adobe marker on an RGB JPEG changes nothing.
        let rgb = image_xobject(&jpeg(0xC0, 8, 20, 10, 3, true)).unwrap();
        assert!(rgb.image.dict.get(b"Decode").is_err());
    }

    #[test]
    fn jpeg_headers_that_pdf_cannot_take_are_refused() {
        let twelve_bit = image_xobject(&jpeg(0xC1, 12, 20, 10, 3, false)).unwrap_err().to_string();
        assert!(twelve_bit.contains("12-bit"), "{twelve_bit}");
        let two = image_xobject(&jpeg(0xC0, 8, 20, 10, 2, false)).unwrap_err().to_string();
        assert!(two.contains("2 colour components"), "{two}");
        let huge = image_xobject(&jpeg(0xC0, 8, 20_000, 20_000, 3, false)).unwrap_err().to_string();
        assert!(huge.contains("more than the 10000 by 10000"), "{huge}");
        let no_height = image_xobject(&jpeg(0xC0, 8, 20, 0, 3, false)).unwrap_err().to_string();
        assert!(no_height.contains("no pixels"), "{no_height}");
        // A frame header shorter than its component count says.
        let mut short = jpeg(0xC0, 8, 20, 10, 3, false);
        let at = short.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        short[at + 3] -= 3;
        short.drain(at + 2 + 8 + 6..at + 2 + 8 + 9);
        assert!(image_xobject(&short).unwrap_err().to_string().contains("too short"));
    }

    #[test]
    fn every_truncated_jpeg_header_is_an_error() {
        let bytes = jpeg(0xC0, 8, 64, 48, 3, true);
        let sos = bytes.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        // Cut anywhere before the scan's header is complete: no image data to show.
        for cut in 0..sos + 14 {
            assert!(image_xobject(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    // --- refusals ---------------------------------------------------------------------------

    fn small_rgb_png() -> Vec<u8> {
        encode(&spec(20, 20, png::ColorType::Rgb), &pattern(20, 20, 3))
    }

    #[test]
    fn gif_and_other_files_are_refused() {
        for bytes in
            [&b"GIF89a\x01\x00\x01\x00\x80\x00\x00"[..], b"", b"\x89PNG", b"\xFF\xD8", b"%PDF-1.7", b"BM6\0\0\0"]
        {
            let e = image_xobject(bytes).unwrap_err().to_string();
            assert_eq!(e, "it is neither a PNG nor a JPEG file");
        }
    }

    #[test]
    fn every_truncated_png_is_an_error() {
        for png in [small_rgb_png(), encode(&spec(20, 20, png::ColorType::Rgba), &pattern(20, 20, 4))] {
            for cut in 0..png.len() {
                assert!(image_xobject(&png[..cut]).is_err(), "cut at {cut} of {}", png.len());
            }
            let e = image_xobject(&png[..png.len() / 2]).unwrap_err().to_string();
            assert!(e.starts_with("it is a truncated"), "{e}");
            image_xobject(&png).unwrap();
        }
    }

    #[test]
    fn idat_length_past_the_end_is_an_error() {
        let png = small_rgb_png();
        let at = png.windows(4).position(|w| w == b"IDAT").unwrap() - 4;
        let real = u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        let remaining = (png.len() - at - 12) as u32;
        for claimed in [remaining + 1, real + 1_000_000, 0x7FFF_FFFF, u32::MAX] {
            let mut bad = png.clone();
            bad[at..at + 4].copy_from_slice(&claimed.to_be_bytes());
            let e = image_xobject(&bad).unwrap_err().to_string();
            assert!(e.contains(&format!("its IDAT chunk claims {claimed} bytes")), "{e}");
        }
    }

    #[test]
    fn oversized_images_are_refused_from_their_header() {
        // Only a signature and IHDR: the size alone decides.
        let huge = assemble(&[ihdr(20_000, 20_000, 8, 2, 0)]);
        let e = image_xobject(&huge).unwrap_err().to_string();
        assert_eq!(e, "it is 20000 by 20000 pixels, more than the 10000 by 10000 allowed");
        assert!(image_xobject(&assemble(&[ihdr(10_001, 1, 8, 0, 0)])).is_err());

        // 9000 × 9000 RGBA decodes to 324 MB, over 100 MB: refused before decoding.
        let idat = (*b"IDAT", vec![0x78, 0x01]);
        let iend = (*b"IEND", vec![]);
        let rgba = assemble(&[ihdr(9000, 9000, 8, 6, 0), idat.clone(), iend.clone()]);
        let e = image_xobject(&rgba).unwrap_err().to_string();
        assert_eq!(e, "it is 9000 by 9000 pixels, which take 324 MB decoded, more than the 100 MB allowed");
        // The same as gray passes the size checks, and fails later, on its two bytes of data.
        let gray = assemble(&[ihdr(9000, 9000, 8, 0, 0), idat, iend]);
        let e = image_xobject(&gray).unwrap_err().to_string();
        assert_eq!(e, "it is a truncated PNG file: its image data ends early");
    }

    #[test]
    fn a_68_byte_png_claiming_60000_by_60000_pixels_is_refused() {
        let png = assemble(&[
            ihdr(60_000, 60_000, 8, 6, 0),
            (*b"IDAT", vec![0x78, 0x9C, 3, 0, 0, 0, 0, 1, 0, 0, 0]),
            (*b"IEND", vec![]),
        ]);
        assert_eq!(png.len(), 68);
        let e = image_xobject(&png).unwrap_err().to_string();
        assert_eq!(e, "it is 60000 by 60000 pixels, more than the 10000 by 10000 allowed");
    }

    #[test]
    fn a_7000_by_7000_rgba_png_is_refused_for_what_it_decodes_to() {
        // About 200 KB on disk and 196 MB decoded, which took 400 MB per render.
        let mut png = Vec::new();
        let mut encoder = png::Encoder::new(&mut png, 7000, 7000);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_compression(png::Compression::Balanced);
        let mut writer = encoder.write_header().unwrap();
        let mut stream = writer.stream_writer().unwrap();
        let row = vec![200u8; 7000 * 4];
        for _ in 0..7000 {
            stream.write_all(&row).unwrap();
        }
        stream.finish().unwrap();
        drop(writer);
        assert!(png.len() < 250_000, "{} bytes", png.len());
        let e = image_xobject(&png).unwrap_err().to_string();
        assert_eq!(e, "it is 7000 by 7000 pixels, which take 196 MB decoded, more than the 100 MB allowed");
    }

    #[test]
    fn damaged_pngs_are_errors() {
        let png = small_rgb_png();
        let parts = chunks(&png);
        let idat = parts.iter().find(|(k, _)| k == b"IDAT").unwrap().1.clone();
        let iend = (*b"IEND", vec![]);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (assemble(&[(*b"IDAT", idat.clone()), iend.clone()]), "does not start with an IHDR"),
            (assemble(&[ihdr(20, 20, 8, 2, 0), iend.clone()]), "no IDAT"),
            (assemble(&[ihdr(20, 20, 8, 5, 0), (*b"IDAT", idat.clone()), iend.clone()]), "colour type 5"),
            (assemble(&[ihdr(20, 20, 4, 2, 0), (*b"IDAT", idat.clone()), iend.clone()]), "bit depth 4"),
            (assemble(&[ihdr(20, 20, 8, 3, 0), (*b"IDAT", idat.clone()), iend.clone()]), "without a PLTE"),
            (
                assemble(&[ihdr(20, 20, 8, 3, 0), (*b"PLTE", vec![1, 2]), (*b"IDAT", idat.clone()), iend.clone()]),
                "PLTE chunk is 2 bytes",
            ),
            (
                assemble(&[
                    ihdr(20, 20, 8, 2, 0),
                    (*b"IDAT", idat[..5].to_vec()),
                    (*b"tEXt", b"a\0b".to_vec()),
                    (*b"IDAT", idat[5..].to_vec()),
                    iend.clone(),
                ]),
                "not consecutive",
            ),
            (assemble(&[ihdr(20, 20, 8, 2, 0), (*b"IDAT", vec![0x12; 40]), iend.clone()]), "cannot be decompressed"),
            (
                assemble(&[ihdr(20, 20, 8, 2, 0), (*b"IDAT", idat[..idat.len() - 9].to_vec()), iend.clone()]),
                "ends early",
            ),
            (assemble(&[ihdr(20, 21, 8, 2, 0), (*b"IDAT", idat.clone()), iend.clone()]), "fewer rows"),
            (assemble(&[ihdr(20, 19, 8, 2, 0), (*b"IDAT", idat.clone()), iend.clone()]), "more rows"),
            (assemble(&[ihdr(15, 20, 8, 2, 0), (*b"IDAT", idat.clone()), iend.clone()]), "filter type"),
            // Decoded: garbage, then data cut short inside a well-formed chunk.
            (assemble(&[ihdr(20, 20, 8, 6, 0), (*b"IDAT", vec![0x78, 0x01, 0xFF, 0xFF, 0xFF]), iend.clone()]), "PNG"),
            (assemble(&[ihdr(20, 20, 16, 2, 0), (*b"IDAT", idat[..idat.len() / 2].to_vec()), iend.clone()]), "PNG"),
        ];
        for (bytes, expect) in cases {
            let e = image_xobject(&bytes).unwrap_err().to_string();
            assert!(e.contains(expect), "{e:?} should mention {expect:?}");
        }
    }

    /// Corrupts bytes of valid files at random (a fixed sequence) and checks nothing panics.
    #[test]
    fn corrupted_files_give_errors_not_panics() {
        let palette: Vec<u8> = (0..16u8).flat_map(|i| [i, i, i]).collect();
        let samples = [
            small_rgb_png(),
            encode(&spec(20, 20, png::ColorType::Rgba), &pattern(20, 20, 4)),
            encode(&Spec { palette: Some(&palette), ..spec(20, 20, png::ColorType::Indexed) }, &pattern(20, 20, 1)),
            interlaced(9, 9, 6, 4, &pattern(9, 9, 4)),
            jpeg(0xC0, 8, 64, 48, 4, true),
        ];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut failures = 0;
        for sample in &samples {
            for _ in 0..400 {
                let mut bytes = sample.clone();
                for _ in 0..1 + next() % 4 {
                    let at = (next() as usize) % bytes.len();
                    bytes[at] = next() as u8;
                }
                if next() % 4 == 0 {
                    bytes.truncate((next() as usize) % bytes.len());
                }
                failures += usize::from(image_xobject(&bytes).is_err());
            }
        }
        assert!(failures > 100, "the corruptions reach the checks ({failures} errors)");
    }
}
