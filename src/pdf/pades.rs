//! PAdES signatures in a contract. The contract as first made carries a form field for every
//! box a signer fills or signs ([`form_fields`]), empty: a certified document may only have
//! existing fields filled, and a validator counts a field added after certification as a
//! disallowed change. Each signing event is one incremental update ([`sign`]) that fills the
//! signer's fields (widget appearances drawn from the signer's marks, text values) and signs
//! the signer's signature field; the first signature of a contract certifies it (DocMDP P=2:
//! form filling and signing allowed), later ones are approval signatures. Earlier revisions
//! are never rewritten: each update is appended to the bytes earlier signatures cover.
//!
//! The CMS itself comes from a [`Cms`]; this module only knows PDF.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{anyhow, bail, ensure};
use bytes::Bytes;
use lopdf::{Dictionary, Document, Object, ObjectId, StringFormat};

use super::compose::{Mark, PreparedTemplate, Update, appearances, page_box};
use super::font::Fonts;
use crate::domain::template::{Component, ComponentType, Placement};

/// Makes the CMS of a signature (or a document timestamp token).
pub trait Cms: Send + Sync {
    /// DER ContentInfo over the two byte ranges of a signature (or a document timestamp token).
    fn sign(&self, signed: [&[u8]; 2]) -> anyhow::Result<Vec<u8>>;
    /// An upper bound of the DER length `sign` returns, to size /Contents.
    fn max_len(&self) -> usize;
}

/// What a form field of a contract holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A signer's signature: the signature value and, as its widget's appearance, the drawing
    /// in the signer's first signature or seal box.
    Signature,
    /// A text the signer fills (their fill values, the signing date): the text as the field's
    /// value and its drawing as the widget's appearance.
    Text,
    /// A picture the signer fills (their other signature and seal boxes, check boxes, images):
    /// a read-only push button whose appearance is the drawing.
    Picture,
}

/// One empty form field of a contract as first made.
#[derive(Debug, Clone, PartialEq)]
pub struct FormField {
    /// The field's name: the ComponentId of its box, or [`invisible_signature_name`].
    pub name: String,
    /// Its box: the component's placement (zero-sized for an invisible signature).
    pub rect: Placement,
    pub kind: FieldKind,
}

/// The name of the invisible signature field of a signer who has no signature or seal box.
pub fn invisible_signature_name(recipient_id: &str) -> String {
    format!("qs-signature-{recipient_id}")
}

/// What a signer's box draws when they sign, as a field; `None` for components that are not
/// drawn (attachments, combinations) or are not drawn yet (paging seals, legal-person seals:
/// [`crate::synthesis::signing_marks`] refuses them).
fn field_kind(component_type: ComponentType) -> Option<FieldKind> {
    use ComponentType::*;
    match component_type {
        SignSignature | SignSeal | CheckBox | FillImage => Some(FieldKind::Picture),
        Text | MultiLineText | Date | Selector | District | SignDate | SignMultiLineText | SignSelector
        | SignOpinion => Some(FieldKind::Text),
        DynamicTable
        | Attachment
        | VirtualCombination
        | SignPagingSignature
        | SignPagingSeal
        | SignLegalPersonSeal
        | SignVirtualCombination => None,
    }
}

/// The name of the field a signer's signature goes in: their first signature or seal box, or,
/// without one, their invisible signature field.
fn signature_field_name<'a>(recipient_id: &str, components: impl IntoIterator<Item = &'a Component>) -> String {
    components
        .into_iter()
        .find(|c| {
            c.recipient_id.as_deref() == Some(recipient_id)
                && matches!(c.component_type, ComponentType::SignSignature | ComponentType::SignSeal)
        })
        .map_or_else(|| invisible_signature_name(recipient_id), |c| c.component_id.clone())
}

/// The empty form fields a contract made from a template with `recipients` (their
/// RecipientIds) and `components` carries: one for every box of every signer that their
/// signing draws in, the first signature or seal box of each signer (or an invisible field,
/// for a signer without one) a signature field.
pub fn form_fields<'a>(recipients: impl IntoIterator<Item = &'a str>, components: &[Component]) -> Vec<FormField> {
    let mut fields = Vec::new();
    for id in recipients {
        let signature = signature_field_name(id, components);
        if signature == invisible_signature_name(id) {
            let rect = Placement { page: 1, x: 0.0, y: 0.0, width: 0.0, height: 0.0 };
            fields.push(FormField { name: signature.clone(), rect, kind: FieldKind::Signature });
        }
        for c in components.iter().filter(|c| c.recipient_id.as_deref() == Some(id)) {
            let Some(kind) = field_kind(c.component_type) else { continue };
            let kind = if c.component_id == signature { FieldKind::Signature } else { kind };
            fields.push(FormField { name: c.component_id.clone(), rect: c.placement, kind });
        }
    }
    fields
}

/// Form field flags (ISO 32000-1, 12.7.3.1 and 12.7.4.2).
const READ_ONLY: i64 = 1;
const PUSH_BUTTON: i64 = 1 << 16;
/// Annotation flag: printed.
const PRINT: i64 = 4;

/// A PDF text string: PDFDocEncoding is ASCII for ASCII text, anything else UTF-16BE.
fn text_string(text: &str) -> Object {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Object::String(text.as_bytes().to_vec(), StringFormat::Literal);
    }
    let mut bytes = vec![0xfe, 0xff];
    bytes.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    Object::String(bytes, StringFormat::Hexadecimal)
}

fn name(n: &str) -> Object {
    Object::Name(n.as_bytes().to_vec())
}

fn real_array(values: &[f64]) -> Object {
    Object::Array(values.iter().map(|v| Object::Real(*v as f32)).collect())
}

/// Adds `fields` to `update` (a contract's first revision): each a widget in its page's
/// /Annots and in the catalog's /AcroForm, which is made (or the template's extended).
pub fn add_form_fields(update: &mut Update, fields: &[FormField]) -> anyhow::Result<()> {
    if fields.is_empty() {
        return Ok(());
    }
    let base = update.base;
    let mut refs = Vec::with_capacity(fields.len());
    for field in fields {
        let info = usize::try_from(field.rect.page)
            .ok()
            .and_then(|p| p.checked_sub(1))
            .and_then(|i| base.pages.get(i))
            .ok_or_else(|| anyhow!("field {} is on page {}, past the last page", field.name, field.rect.page))?;
        let id = update.id();
        let mut dict = Dictionary::from_iter([
            ("Type", name("Annot")),
            ("Subtype", name("Widget")),
            ("T", text_string(&field.name)),
            ("Rect", real_array(&page_box(info.media, &field.rect))),
            ("P", Object::Reference(info.id)),
            ("F", Object::Integer(PRINT)),
        ]);
        match field.kind {
            FieldKind::Signature => dict.set("FT", name("Sig")),
            FieldKind::Text => {
                dict.set("FT", name("Tx"));
                dict.set("Ff", Object::Integer(READ_ONLY));
                dict.set("DA", Object::String(b"/Helv 0 Tf 0 g".to_vec(), StringFormat::Literal));
            }
            FieldKind::Picture => {
                dict.set("FT", name("Btn"));
                dict.set("Ff", Object::Integer(READ_ONLY | PUSH_BUTTON));
            }
        }
        update.objects.push((id, Object::Dictionary(dict)));
        refs.push(Object::Reference((id, 0)));
        let page = update.object_mut(info.id.0, || Object::Dictionary(info.dict.clone()));
        let Object::Dictionary(page) = page else { bail!("page {} is no dictionary", field.rect.page) };
        let mut annots = match page.get(b"Annots") {
            Ok(Object::Array(a)) => a.clone(),
            _ => info.annots.clone(),
        };
        annots.push(Object::Reference((id, 0)));
        page.set("Annots", Object::Array(annots));
    }
    let (form_id, mut form) = base.acro_form.clone().unwrap_or_default();
    let mut all = form.get(b"Fields").and_then(Object::as_array).cloned().unwrap_or_default();
    all.extend(refs);
    form.set("Fields", Object::Array(all));
    form.set("SigFlags", Object::Integer(3));
    if !form.has(b"DA") {
        form.set("DA", Object::String(b"/Helv 0 Tf 0 g".to_vec(), StringFormat::Literal));
    }
    if !form.has(b"DR") {
        let helvetica = Dictionary::from_iter([
            ("Type", name("Font")),
            ("Subtype", name("Type1")),
            ("BaseFont", name("Helvetica")),
            ("Encoding", name("WinAnsiEncoding")),
        ]);
        let fonts = Dictionary::from_iter([("Helv", Object::Dictionary(helvetica))]);
        form.set("DR", Object::Dictionary(Dictionary::from_iter([("Font", Object::Dictionary(fonts))])));
    }
    let form_id = match form_id {
        Some(id) => id.0,
        None => {
            // Indirect, so that later signatures never need a new version of the catalog.
            let id = update.id();
            let (catalog_id, catalog) = &base.catalog;
            let catalog = update.object_mut(catalog_id.0, || Object::Dictionary(catalog.clone()));
            let Object::Dictionary(catalog) = catalog else { bail!("the catalog is no dictionary") };
            catalog.set("AcroForm", Object::Reference((id, 0)));
            id
        }
    };
    *update.object_mut(form_id, || Object::Null) = Object::Dictionary(form);
    Ok(())
}

/// Who signs, and when.
pub struct Signer<'a> {
    /// The signer's RecipientId in the contract's template.
    pub recipient_id: &'a str,
    /// The signer's components (those [`crate::synthesis::signing_marks`] drew `marks` for).
    pub components: &'a [Component],
    /// The signature's /Name.
    pub name: &'a str,
    /// The signature's /M.
    pub signed_at: time::OffsetDateTime,
}

/// Reserved digits of each /ByteRange number: enough for files up to 10 GB.
const BYTE_RANGE_PLACEHOLDER: i64 = 9_999_999_999;

/// The form's terminal fields by name, each with its object number and dictionary.
fn fields_by_name(doc: &Document, prepared: &PreparedTemplate) -> BTreeMap<Vec<u8>, (ObjectId, Dictionary)> {
    let mut by_name = BTreeMap::new();
    let Some((_, form)) = &prepared.acro_form else { return by_name };
    for field in form.get(b"Fields").and_then(Object::as_array).into_iter().flatten() {
        let Ok(id) = field.as_reference() else { continue };
        let Ok(dict) = doc.get_dictionary(id) else { continue };
        if let Ok(Object::String(name, _)) = dict.get(b"T") {
            by_name.insert(name.clone(), (id, dict.clone()));
        }
    }
    by_name
}

fn is_signed_signature(field: &Dictionary) -> bool {
    field.get(b"FT").and_then(Object::as_name).is_ok_and(|ft| ft == b"Sig") && field.has(b"V")
}

/// The next revision of a contract: `latest` (its newest revision) plus one incremental update
/// in which `signer` fills their fields with `marks` (made by
/// [`crate::synthesis::signing_marks`] for their components) and signs with `cms`; the first
/// signature of the contract certifies it.
pub fn sign(latest: &[u8], signer: &Signer, marks: &[Mark], fonts: &Fonts, cms: &dyn Cms) -> anyhow::Result<Vec<u8>> {
    let doc = super::load(latest)?;
    let prepared = PreparedTemplate::from_document(Bytes::copy_from_slice(latest), &doc)?;
    let fields = fields_by_name(&doc, &prepared);
    let signature_name = signature_field_name(signer.recipient_id, signer.components);
    let (signature_id, signature_field) = fields
        .get(signature_name.as_bytes())
        .ok_or_else(|| anyhow!("the contract has no signature field {signature_name}"))?;
    ensure!(!signature_field.has(b"V"), "signature field {signature_name} is signed already");
    let certify = !fields.values().any(|(_, f)| is_signed_signature(f));

    let mut groups = Vec::new();
    let mut targets = Vec::new();
    let mut drawn = vec![false; marks.len()];
    for c in signer.components {
        let Some((id, field)) = fields.get(c.component_id.as_bytes()) else { continue };
        let mine: Vec<&Mark> = marks
            .iter()
            .enumerate()
            .filter(|(_, m)| m.placement() == c.placement)
            .map(|(i, m)| {
                drawn[i] = true;
                m
            })
            .collect();
        if mine.is_empty() {
            continue;
        }
        let value: Vec<&str> = mine
            .iter()
            .filter_map(|m| match m {
                Mark::Text { lines, .. } => Some(lines.iter().map(|l| l.text.as_str())),
                _ => None,
            })
            .flatten()
            .collect();
        groups.push((c.placement, mine));
        targets.push((*id, field.clone(), value.join("\n")));
    }
    if let Some(i) = drawn.iter().position(|d| !d) {
        let p = marks[i].placement();
        bail!("the box at ({}, {}) on page {} has no form field in the contract", p.x, p.y, p.page);
    }

    let (mut update, xobjects) = appearances(&prepared, &groups, fonts)?;
    for ((id, mut field, value), xobject) in targets.into_iter().zip(xobjects) {
        field.set("AP", Object::Dictionary(Dictionary::from_iter([("N", Object::Reference((xobject, 0)))])));
        if field.get(b"FT").and_then(Object::as_name).is_ok_and(|ft| ft == b"Tx") {
            field.set("V", text_string(&value));
        }
        update.objects.push((id.0, Object::Dictionary(field)));
    }
    let value_id = update.id();
    let mut value = signature_dictionary("Sig", "ETSI.CAdES.detached", cms.max_len());
    value.set("M", Object::String(pdf_date(signer.signed_at)?.into_bytes(), StringFormat::Literal));
    value.set("Name", text_string(signer.name));
    if certify {
        let params =
            Dictionary::from_iter([("Type", name("TransformParams")), ("P", Object::Integer(2)), ("V", name("1.2"))]);
        let reference = Dictionary::from_iter([
            ("Type", name("SigRef")),
            ("TransformMethod", name("DocMDP")),
            ("TransformParams", Object::Dictionary(params)),
        ]);
        value.set("Reference", Object::Array(vec![Object::Dictionary(reference)]));
        let (catalog_id, catalog) = &prepared.catalog;
        let Object::Dictionary(catalog) = update.object_mut(catalog_id.0, || Object::Dictionary(catalog.clone()))
        else {
            bail!("the catalog is no dictionary")
        };
        let perms = Dictionary::from_iter([("DocMDP", Object::Reference((value_id, 0)))]);
        catalog.set("Perms", Object::Dictionary(perms));
    }
    update.objects.push((value_id, Object::Dictionary(value)));
    let Object::Dictionary(field) = update.object_mut(signature_id.0, || Object::Dictionary(signature_field.clone()))
    else {
        bail!("signature field {signature_name} is no dictionary")
    };
    field.set("V", Object::Reference((value_id, 0)));
    let (mut out, offsets) = update.write_located()?;
    embed(&mut out, offsets[&value_id], cms)?;
    Ok(out)
}

/// A signature value with its /ByteRange and /Contents still to fill (see [`embed`]).
fn signature_dictionary(kind: &str, sub_filter: &str, max_len: usize) -> Dictionary {
    let placeholder = Object::Integer(BYTE_RANGE_PLACEHOLDER);
    Dictionary::from_iter([
        ("Type", name(kind)),
        ("Filter", name("Adobe.PPKLite")),
        ("SubFilter", name(sub_filter)),
        ("ByteRange", Object::Array(vec![Object::Integer(0), placeholder.clone(), placeholder.clone(), placeholder])),
        ("Contents", Object::String(vec![0; max_len], StringFormat::Hexadecimal)),
    ])
}

/// A PDF date (ISO 32000-1, 7.9.4) with the time's own offset.
fn pdf_date(at: time::OffsetDateTime) -> anyhow::Result<String> {
    let (h, m, _) = at.offset().as_hms();
    let sign = if at.offset().is_negative() { '-' } else { '+' };
    let mut out = String::new();
    write!(
        out,
        "D:{:04}{:02}{:02}{:02}{:02}{:02}{sign}{:02}'{:02}'",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        h.unsigned_abs(),
        m.unsigned_abs()
    )?;
    Ok(out)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|i| i + from)
}

/// Fills the signature value written at `at` (the last object of `out` with a /ByteRange):
/// its /ByteRange covers all of `out` but the /Contents string, and /Contents gets the CMS
/// over those two ranges.
fn embed(out: &mut [u8], at: usize, cms: &dyn Cms) -> anyhow::Result<()> {
    let missing = || anyhow!("the signature value was not written as expected");
    let end = find(out, b"endobj", at).ok_or_else(missing)?;
    let range_key = find(&out[..end], b"/ByteRange", at).ok_or_else(missing)?;
    let open = find(&out[..end], b"[", range_key).ok_or_else(missing)?;
    let close = find(&out[..end], b"]", open).ok_or_else(missing)?;
    let contents_key = find(&out[..end], b"/Contents", at).ok_or_else(missing)?;
    let lt = find(&out[..end], b"<", contents_key).ok_or_else(missing)?;
    let gt = find(&out[..end], b">", lt).ok_or_else(missing)?;
    let ranges = format!("0 {lt} {} {}", gt + 1, out.len() - gt - 1);
    let room = &mut out[open + 1..close];
    ensure!(ranges.len() <= room.len(), "the file is too large for the reserved /ByteRange");
    room.fill(b' ');
    room[..ranges.len()].copy_from_slice(ranges.as_bytes());
    let der = cms.sign([&out[..lt], &out[gt + 1..]])?;
    ensure!(
        der.len() * 2 <= gt - lt - 1,
        "the CMS is {} bytes, more than the {} reserved",
        der.len(),
        (gt - lt - 1) / 2
    );
    let hex = hex::encode_upper(&der);
    out[lt + 1..lt + 1 + hex.len()].copy_from_slice(hex.as_bytes());
    Ok(())
}

/// A signature (or document timestamp) found in a PDF.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddedSignature {
    /// The field's fully qualified name.
    pub field: String,
    /// Its widget's box in Tencent's coordinates (top-left origin, points) with its page
    /// (from 1); `None` for a widget on no page of the document.
    pub rect: Option<Placement>,
    /// `Sig` or `DocTimeStamp`.
    pub kind: String,
    /// `ETSI.CAdES.detached`, `ETSI.RFC3161`, `adbe.pkcs7.detached`, …
    pub sub_filter: String,
    /// Offset and length of the two signed ranges.
    pub byte_range: [usize; 4],
    /// The DER of /Contents, without the padding after it.
    pub cms: Vec<u8>,
    /// /M as written (a PDF date).
    pub signed_at: Option<String>,
    pub name: Option<String>,
    /// The DocMDP permission (1 to 3) if this is the certification signature.
    pub doc_mdp: Option<i64>,
    /// Whether the two ranges are the whole file up to the end of a revision (its `%%EOF`)
    /// except /Contents itself: what a signature of that revision covers.
    pub covers_revision: bool,
}

impl EmbeddedSignature {
    /// The signed bytes of `pdf` (the file this was read from).
    pub fn signed<'a>(&self, pdf: &'a [u8]) -> [&'a [u8]; 2] {
        let [a, b, c, d] = self.byte_range;
        [&pdf[a..a + b], &pdf[c..c + d]]
    }
}

/// How deep form fields may nest and how many there may be, for hostile files.
const MAX_FIELD_DEPTH: usize = 16;
const MAX_FIELDS: usize = 10_000;

/// Every signature and document timestamp of `pdf`'s latest revision, in the form's order.
/// A file that cannot be parsed, and a signature whose /ByteRange is not two ranges within the
/// file, are errors.
pub fn signatures(pdf: &[u8]) -> anyhow::Result<Vec<EmbeddedSignature>> {
    let doc = super::load(pdf)?;
    let pages: BTreeMap<ObjectId, (u32, [f64; 4])> =
        super::pages(&doc)?.iter().enumerate().map(|(i, p)| (p.id, (i as u32 + 1, p.media_box))).collect();
    let form = doc
        .catalog()
        .ok()
        .and_then(|c| c.get(b"AcroForm").ok())
        .and_then(|f| doc.dereference(f).ok())
        .and_then(|(_, f)| f.as_dict().ok());
    let Some(form) = form else { return Ok(Vec::new()) };
    let roots = form.get(b"Fields").and_then(|f| doc.dereference(f)).and_then(|(_, f)| f.as_array());
    let mut todo: Vec<(&Object, String, Option<Vec<u8>>, usize)> =
        roots.into_iter().flatten().rev().map(|f| (f, String::new(), None, 0)).collect();
    let mut seen = std::collections::HashSet::new();
    let mut found = Vec::new();
    while let Some((field, parent, inherited_ft, depth)) = todo.pop() {
        let id = field.as_reference().ok();
        if id.is_some_and(|id| !seen.insert(id)) || seen.len() > MAX_FIELDS || depth > MAX_FIELD_DEPTH {
            continue;
        }
        let Ok((_, Object::Dictionary(dict))) = doc.dereference(field) else { continue };
        let partial = match dict.get(b"T") {
            Ok(Object::String(t, _)) => Some(decode_text(t)),
            _ => None,
        };
        let name = match (&partial, parent.is_empty()) {
            (Some(p), true) => p.clone(),
            (Some(p), false) => format!("{parent}.{p}"),
            (None, _) => parent.clone(),
        };
        let ft = dict.get(b"FT").and_then(Object::as_name).ok().map(<[u8]>::to_vec).or(inherited_ft);
        if let Ok(kids) = dict.get(b"Kids").and_then(|k| doc.dereference(k)).and_then(|(_, k)| k.as_array()) {
            todo.extend(kids.iter().rev().map(|k| (k, name.clone(), ft.clone(), depth + 1)));
            continue;
        }
        if ft.as_deref() != Some(b"Sig") {
            continue;
        }
        let Ok((_, Object::Dictionary(value))) = dict.get(b"V").and_then(|v| doc.dereference(v)) else { continue };
        found.push(embedded(&doc, pdf, &pages, name, dict, value)?);
    }
    Ok(found)
}

fn embedded(
    doc: &Document,
    pdf: &[u8],
    pages: &BTreeMap<ObjectId, (u32, [f64; 4])>,
    field: String,
    widget: &Dictionary,
    value: &Dictionary,
) -> anyhow::Result<EmbeddedSignature> {
    let text = |key: &[u8]| match value.get(key).and_then(|v| doc.dereference(v)) {
        Ok((_, Object::String(s, _))) => Some(decode_text(s)),
        _ => None,
    };
    let name_of = |d: &Dictionary, key: &[u8]| {
        d.get(key).and_then(Object::as_name).map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default()
    };
    let byte_range = value
        .get(b"ByteRange")
        .ok()
        .and_then(|r| super::numbers(doc, r))
        .and_then(|n| <[f64; 4]>::try_from(n).ok())
        .filter(|n| n.iter().all(|v| v.fract() == 0.0 && *v >= 0.0 && *v <= pdf.len() as f64))
        .map(|n| n.map(|v| v as usize))
        .filter(|[a, b, c, d]| a + b <= *c && c + d <= pdf.len())
        .ok_or_else(|| anyhow!("signature {field}: its /ByteRange is not two ranges within the file"))?;
    let cms = match value.get(b"Contents").and_then(|c| doc.dereference(c)) {
        Ok((_, Object::String(c, _))) => c[..der_len(c).unwrap_or(c.len())].to_vec(),
        _ => Vec::new(),
    };
    let doc_mdp = value
        .get(b"Reference")
        .and_then(|r| doc.dereference(r))
        .and_then(|(_, r)| r.as_array())
        .into_iter()
        .flatten()
        .filter_map(|r| doc.dereference(r).ok()?.1.as_dict().ok())
        .find(|r| r.get(b"TransformMethod").and_then(Object::as_name).is_ok_and(|m| m == b"DocMDP"))
        .map(|r| {
            r.get(b"TransformParams")
                .and_then(|p| doc.dereference(p))
                .and_then(|(_, p)| p.as_dict())
                .and_then(|p| p.get(b"P"))
                .and_then(Object::as_i64)
                .unwrap_or(2)
        });
    let rect =
        widget.get(b"P").and_then(Object::as_reference).ok().and_then(|p| pages.get(&p)).and_then(|&(page, media)| {
            let r = widget.get(b"Rect").ok().and_then(|r| super::numbers(doc, r))?;
            let [x0, y0, x1, y1] = <[f64; 4]>::try_from(r).ok()?;
            let (x0, y0, x1, y1) = (x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1));
            Some(Placement { page, x: x0 - media[0], y: media[3] - y1, width: x1 - x0, height: y1 - y0 })
        });
    Ok(EmbeddedSignature {
        covers_revision: covers_revision(pdf, byte_range),
        field,
        rect,
        kind: name_of(value, b"Type"),
        sub_filter: name_of(value, b"SubFilter"),
        byte_range,
        cms,
        signed_at: text(b"M"),
        name: text(b"Name"),
        doc_mdp,
    })
}

/// The length of the DER element `bytes` starts with, if it starts with one.
fn der_len(bytes: &[u8]) -> Option<usize> {
    let first = *bytes.get(1)?;
    let (header, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        (2 + n, bytes.get(2..2 + n)?.iter().fold(0usize, |acc, b| acc << 8 | usize::from(*b)))
    };
    Some(header + len).filter(|total| *total <= bytes.len())
}

fn covers_revision(pdf: &[u8], [a, b, c, d]: [usize; 4]) -> bool {
    let gap_is_contents =
        c > b + 1 && pdf[b] == b'<' && pdf[c - 1] == b'>' && pdf[b + 1..c - 1].iter().all(u8::is_ascii_hexdigit);
    let revision = pdf[..c + d].trim_ascii_end();
    a == 0 && gap_is_contents && revision.ends_with(b"%%EOF")
}

/// A PDF text string: UTF-16BE after its byte order mark, else PDFDocEncoding (read as
/// Latin-1, which it equals in the printable range).
fn decode_text(bytes: &[u8]) -> String {
    match bytes.strip_prefix(&[0xfe, 0xff]) {
        Some(utf16) => String::from_utf16_lossy(
            &utf16.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect::<Vec<_>>(),
        ),
        None => bytes.iter().map(|b| char::from(*b)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::pdf::compose::compose;
    use crate::pdf::image::image_xobject;
    use crate::pdf::sign::tests::{
        EMPLOYEE, EMPLOYER, TEMPLATE, canvas_png, components, dark, date, fields, fonts_and_tools, of, pixels,
        qpdf_check, red, rendered, within,
    };
    use crate::synthesis::{SignatureAppearance, fill_marks, signing_marks};

    fn run(program: &str, args: &[&str]) -> std::process::Output {
        Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"))
    }

    fn ran(program: &str, args: &[&str]) -> String {
        let out = run(program, args);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{program} {args:?}: {text}");
        text
    }

    fn pyhanko() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/pyhanko")
    }

    /// The validators and openssl, or `None` (outside CI) to skip.
    fn validators() -> Option<Fonts> {
        let fonts = fonts_and_tools()?;
        let present = |p: &Path, arg: &str| Command::new(p).arg(arg).output().is_ok();
        let all = present(&pyhanko(), "--version")
            && present(Path::new("pdfsig"), "-v")
            && present(Path::new("certutil"), "-H")
            && present(Path::new("openssl"), "version");
        if all {
            return Some(fonts);
        }
        assert!(std::env::var("CI").is_err(), "CI installs openssl, pyhanko (.venv), poppler-utils and libnss3-tools");
        eprintln!("SKIPPED: no openssl, pyhanko (.venv), pdfsig or certutil");
        None
    }

    /// A test CA made with openssl: its root, and a certificate and key per signer, each
    /// signature made by `openssl cms` (CAdES, detached, SHA-256).
    struct Ca {
        dir: PathBuf,
        root: PathBuf,
    }

    struct OpensslCms {
        dir: PathBuf,
        cert: PathBuf,
        key: PathBuf,
        root: PathBuf,
    }

    static SIGNED: AtomicUsize = AtomicUsize::new(0);

    impl Cms for OpensslCms {
        fn sign(&self, signed: [&[u8]; 2]) -> anyhow::Result<Vec<u8>> {
            let n = SIGNED.fetch_add(1, Ordering::SeqCst);
            let (data, der) = (self.dir.join(format!("signed-{n}")), self.dir.join(format!("cms-{n}.der")));
            std::fs::write(&data, [signed[0], signed[1]].concat())?;
            let path = |p: &Path| p.to_str().unwrap().to_owned();
            ran(
                "openssl",
                &[
                    "cms",
                    "-sign",
                    "-binary",
                    "-cades",
                    "-md",
                    "sha256",
                    "-nosmimecap",
                    "-outform",
                    "DER",
                    "-signer",
                    &path(&self.cert),
                    "-inkey",
                    &path(&self.key),
                    "-certfile",
                    &path(&self.root),
                    "-in",
                    &path(&data),
                    "-out",
                    &path(&der),
                ],
            );
            Ok(std::fs::read(der)?)
        }

        fn max_len(&self) -> usize {
            8192
        }
    }

    impl Ca {
        fn new(dir: &Path) -> Ca {
            let root = dir.join("root.pem");
            let key = dir.join("root.key");
            ran(
                "openssl",
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-days",
                    "30",
                    "-subj",
                    "/CN=qianshu test root",
                    "-keyout",
                    key.to_str().unwrap(),
                    "-out",
                    root.to_str().unwrap(),
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            );
            Ca { dir: dir.to_owned(), root }
        }

        fn signer(&self, name: &str, serial: u32) -> OpensslCms {
            let at = |ext: &str| self.dir.join(format!("{name}.{ext}"));
            let (key, csr, cert, ext) = (at("key"), at("csr"), at("pem"), at("ext"));
            std::fs::write(&ext, "keyUsage=critical,digitalSignature,nonRepudiation\n").unwrap();
            let p = |p: &Path| p.to_str().unwrap().to_owned();
            ran(
                "openssl",
                &[
                    "req",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-subj",
                    &format!("/CN={name}"),
                    "-keyout",
                    &p(&key),
                    "-out",
                    &p(&csr),
                ],
            );
            ran(
                "openssl",
                &[
                    "x509",
                    "-req",
                    "-in",
                    &p(&csr),
                    "-CA",
                    &p(&self.root),
                    "-CAkey",
                    &p(&self.dir.join("root.key")),
                    "-set_serial",
                    &serial.to_string(),
                    "-days",
                    "30",
                    "-extfile",
                    &p(&ext),
                    "-out",
                    &p(&cert),
                ],
            );
            OpensslCms { dir: self.dir.clone(), cert, key, root: self.root.clone() }
        }

        /// pyHanko's judgement of `pdf`, with the root as the only trust anchor.
        fn pyhanko(&self, pdf: &Path) -> (bool, String) {
            let out = run(
                pyhanko().to_str().unwrap(),
                &[
                    "sign",
                    "validate",
                    "--no-revocation-check",
                    "--trust-replace",
                    "--trust",
                    self.root.to_str().unwrap(),
                    "--pretty-print",
                    pdf.to_str().unwrap(),
                ],
            );
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            (out.status.success(), text)
        }

        /// pdfsig's report of `pdf`, with the root trusted in an NSS database.
        fn pdfsig(&self, pdf: &Path) -> String {
            let nss = self.dir.join("nss");
            if !nss.exists() {
                std::fs::create_dir(&nss).unwrap();
                ran("certutil", &["-N", "--empty-password", "-d", nss.to_str().unwrap()]);
                ran(
                    "certutil",
                    &[
                        "-A",
                        "-d",
                        nss.to_str().unwrap(),
                        "-n",
                        "root",
                        "-t",
                        "CT,C,C",
                        "-i",
                        self.root.to_str().unwrap(),
                    ],
                );
            }
            let out = run("pdfsig", &["-nssdir", nss.to_str().unwrap(), pdf.to_str().unwrap()]);
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
        }
    }

    fn signed_at() -> time::OffsetDateTime {
        time::macros::datetime!(2026-12-02 14:30:00 +08:00)
    }

    /// The example employment contract composed with its form fields, signed by the employer
    /// (generated seal, an opinion) and then the employee (drawn signature, a contact): the
    /// three revisions, each a prefix of the next.
    fn signed_chain(ca: &Ca, fonts: &Fonts) -> [Vec<u8>; 3] {
        let all = components();
        let recipients = [EMPLOYER, EMPLOYEE];
        let initiator = fields(&[("CompanyName", "典子谦示例企业"), ("EmployeeName", "张三")]);
        let marks = fill_marks(&of(&all, None), &initiator, &HashMap::new(), fonts).unwrap();
        let template = PreparedTemplate::new(Bytes::from(std::fs::read(TEMPLATE).unwrap())).unwrap();
        let first = compose(&template, &marks, &form_fields(recipients, &all), fonts).unwrap();

        let employer = of(&all, Some(EMPLOYER));
        let marks = signing_marks(
            &employer,
            &fields(&[("EmployerOpinion", "同意录用")]),
            &HashMap::new(),
            &[SignatureAppearance::GeneratedSeal("典子谦示例企业".into())],
            date(),
            fonts,
        )
        .unwrap();
        let signer =
            Signer {
                recipient_id: EMPLOYER, components: &employer, name: "典子谦示例企业", signed_at: signed_at()
            };
        let second = sign(&first, &signer, &marks, fonts, &ca.signer("employer", 2)).unwrap();

        let employee = of(&all, Some(EMPLOYEE));
        let drawn = Arc::new(image_xobject(&canvas_png(480, 240)).unwrap());
        let marks = signing_marks(
            &employee,
            &fields(&[("EmergencyContact", "李四 13800000000")]),
            &HashMap::new(),
            &[SignatureAppearance::Drawn(drawn)],
            date(),
            fonts,
        )
        .unwrap();
        let signer = Signer { recipient_id: EMPLOYEE, components: &employee, name: "张三", signed_at: signed_at() };
        let third = sign(&second, &signer, &marks, fonts, &ca.signer("employee", 3)).unwrap();
        assert!(second.starts_with(&first) && third.starts_with(&second));
        [first, second, third]
    }

    #[test]
    fn two_signers_sign_a_certified_contract_that_pyhanko_and_pdfsig_accept() {
        let Some(fonts) = validators() else { return };
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new(dir.path());
        let revisions = signed_chain(&ca, &fonts);
        let path = dir.path().join("signed.pdf");
        std::fs::write(&path, &revisions[2]).unwrap();
        qpdf_check(&path);

        let (ok, report) = ca.pyhanko(&path);
        assert!(ok, "{report}");
        eprintln!("{report}");
        let pdfsig = ca.pdfsig(&path);
        eprintln!("{pdfsig}");
        assert_eq!(pdfsig.matches("Signature Validation: Signature is Valid.").count(), 2, "{pdfsig}");
        assert_eq!(pdfsig.matches("Certificate Validation: Certificate is Trusted.").count(), 2, "{pdfsig}");
        assert_eq!(pdfsig.matches("Total document signed").count(), 1, "{pdfsig}");

        // The employer's signature certifies: form filling and signing allowed.
        let script = "import sys\nfrom pyhanko.pdf_utils.reader import PdfFileReader\nfrom pyhanko.sign.validation import read_certification_data\nwith open(sys.argv[1], 'rb') as f:\n    data = read_certification_data(PdfFileReader(f))\n    print(data.permission, data.author_sig['/Name'])";
        let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
        let certified = ran(python.to_str().unwrap(), &["-c", script, path.to_str().unwrap()]);
        assert_eq!(certified.trim(), "MDPPerm.FILL_FORMS 典子谦示例企业");

        // Both boxes show their drawing: the seal in red, the signature in dark strokes.
        let all = components();
        let page = rendered(&path, 2, 72);
        let seal = all.iter().find(|c| c.component_id == "EmployerSeal").unwrap().placement;
        let signature = all.iter().find(|c| c.component_id == "EmployeeSignature").unwrap().placement;
        let reds = pixels(&page, 72, red);
        assert!(reds.len() > 500 && reds.iter().all(within(seal, 1.0)), "{} red pixels", reds.len());
        let strokes: Vec<_> = pixels(&page, 72, dark).into_iter().filter(within(signature, 0.0)).collect();
        assert!(strokes.len() > 100, "{} dark pixels in the signature box", strokes.len());
        for words in ["同意录用", "李四13800000000", "2026年12月02日", "合同专用章"] {
            assert!(crate::pdf::sign::tests::text(&path, 2).contains(words), "{words}");
        }
    }

    #[test]
    fn a_byte_changed_in_any_revision_is_detected() {
        let Some(fonts) = validators() else { return };
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new(dir.path());
        let revisions = signed_chain(&ca, &fonts);
        let last = &revisions[2];
        let template_len = std::fs::read(TEMPLATE).unwrap().len();
        let starts = [0, template_len, revisions[0].len(), revisions[1].len()];
        let signed = signatures(last).unwrap();
        let in_gap = |at: usize| signed.iter().any(|s| at >= s.byte_range[1] && at < s.byte_range[2]);
        for (n, start) in starts.iter().enumerate() {
            let end = starts.get(n + 1).copied().unwrap_or(last.len());
            for at in [start + 20, (start + end) / 2, end - 3] {
                let at = (at..end).find(|a| !in_gap(*a)).unwrap();
                let mut changed = last.clone();
                changed[at] ^= 0x01;
                let path = dir.path().join(format!("changed-{at}.pdf"));
                std::fs::write(&path, &changed).unwrap();
                let (ok, report) = ca.pyhanko(&path);
                assert!(!ok, "byte {at} of revision {n} changed, pyHanko: {report}");
                let pdfsig = ca.pdfsig(&path);
                assert!(
                    pdfsig.matches("Signature Validation: Signature is Valid.").count() < 2,
                    "byte {at} of revision {n} changed, pdfsig: {pdfsig}"
                );
            }
        }
    }

    #[test]
    fn page_content_added_after_the_certification_is_flagged() {
        let Some(fonts) = validators() else { return };
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new(dir.path());
        let [_, certified, _] = signed_chain(&ca, &fonts);
        let rect = Placement { page: 1, x: 170.0, y: 420.0, width: 200.0, height: 20.0 };
        let text = crate::pdf::sign::fitted_line("另加条款", rect, Default::default(), &fonts).unwrap();
        let tampered = crate::pdf::sign::next_revision(Bytes::from(certified.clone()), &[text], &fonts).unwrap();
        let path = dir.path().join("tampered.pdf");
        std::fs::write(&path, &tampered).unwrap();
        let (ok, report) = ca.pyhanko(&path);
        assert!(!ok, "{report}");
        assert!(report.contains("incompatible with the current document modification policy"), "{report}");
    }
}
