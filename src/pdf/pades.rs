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
use crate::domain::template::{Component, ComponentType, Placement, Template};

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

/// The empty form fields a contract made from `template` carries: what synthesis composes into
/// it, and what its first signing adds to a contract made before contracts carried them.
pub fn template_form_fields(template: &Template) -> Vec<FormField> {
    form_fields(template.recipients.iter().map(|r| r.recipient_id.as_str()), &template.components)
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
/// Annotation flags: printed; locked (ISO 32000-1, 12.5.3).
const PRINT: i64 = 4;
const LOCKED: i64 = 128;

/// A PDF text string: PDFDocEncoding is ASCII for ASCII text, anything else UTF-16BE.
fn text_string(text: &str) -> Object {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Object::String(text.as_bytes().to_vec(), StringFormat::Literal);
    }
    let mut bytes = vec![0xfe, 0xff];
    bytes.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    Object::String(bytes, StringFormat::Hexadecimal)
}

fn name_object(n: &str) -> Object {
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
            ("Type", name_object("Annot")),
            ("Subtype", name_object("Widget")),
            ("T", text_string(&field.name)),
            ("Rect", real_array(&page_box(info.media, &field.rect))),
            ("P", Object::Reference(info.id)),
            ("F", Object::Integer(PRINT)),
        ]);
        match field.kind {
            FieldKind::Signature => dict.set("FT", name_object("Sig")),
            FieldKind::Text => {
                dict.set("FT", name_object("Tx"));
                dict.set("Ff", Object::Integer(READ_ONLY));
                dict.set("DA", Object::String(b"/Helv 0 Tf 0 g".to_vec(), StringFormat::Literal));
            }
            FieldKind::Picture => {
                dict.set("FT", name_object("Btn"));
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
            ("Type", name_object("Font")),
            ("Subtype", name_object("Type1")),
            ("BaseFont", name_object("Helvetica")),
            ("Encoding", name_object("WinAnsiEncoding")),
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

/// A contract made before contracts carried form fields, and not signed yet, with `fields`
/// (its [`form_fields`]) added in one incremental update: before the first signature certifies
/// the document, adding fields is still allowed. `None` for a contract that has its fields.
pub fn add_missing_form_fields(latest: &[u8], fields: &[FormField]) -> anyhow::Result<Option<Vec<u8>>> {
    let doc = super::load(latest)?;
    let prepared = PreparedTemplate::from_document(Bytes::copy_from_slice(latest), &doc)?;
    let existing = fields_by_name(&doc, &prepared);
    if fields.iter().any(|f| existing.contains_key(&f.name)) {
        return Ok(None);
    }
    ensure!(
        !existing.values().any(|(_, f)| is_signed_signature(f)),
        "the contract is signed but has none of its signers' form fields"
    );
    let mut update = Update { base: &prepared, objects: Vec::new(), next_id: prepared.next_id };
    add_form_fields(&mut update, fields)?;
    Ok(Some(update.write()?))
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

/// The form's terminal fields by name (decoded: a name outside ASCII is stored as UTF-16), each
/// with its object number and dictionary.
fn fields_by_name(doc: &Document, prepared: &PreparedTemplate) -> BTreeMap<String, (ObjectId, Dictionary)> {
    let mut by_name = BTreeMap::new();
    let Some((_, form)) = &prepared.acro_form else { return by_name };
    for field in form.get(b"Fields").and_then(Object::as_array).into_iter().flatten() {
        let Ok(id) = field.as_reference() else { continue };
        let Ok(dict) = doc.get_dictionary(id) else { continue };
        if let Ok(Object::String(name, _)) = dict.get(b"T") {
            by_name.insert(decode_text(name), (id, dict.clone()));
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
    sign_revision(latest, signer, marks, fonts, cms, FORM_FILLING_AND_SIGNING)
}

/// DocMDP permissions (ISO 32000-1, 12.8.2.2): no change at all, or form filling and signing.
const NO_CHANGES: i64 = 1;
const FORM_FILLING_AND_SIGNING: i64 = 2;

/// The field qianshu's own signature of a document it issues (the evidence report) goes in.
const PLATFORM_SIGNER: &str = "qianshu";

/// `pdf` (a document qianshu issues, such as the evidence report) sealed by qianshu: an
/// incremental update adding an invisible signature field, then one certifying that no later
/// change is allowed (DocMDP P=1), signed by `cms`.
pub fn seal(
    pdf: &[u8],
    name: &str,
    signed_at: time::OffsetDateTime,
    fonts: &Fonts,
    cms: &dyn Cms,
) -> anyhow::Result<Vec<u8>> {
    let doc = super::load(pdf)?;
    let prepared = PreparedTemplate::from_document(Bytes::copy_from_slice(pdf), &doc)?;
    let mut update = Update { base: &prepared, objects: Vec::new(), next_id: prepared.next_id };
    let rect = Placement { page: 1, x: 0.0, y: 0.0, width: 0.0, height: 0.0 };
    let field = FormField { name: invisible_signature_name(PLATFORM_SIGNER), rect, kind: FieldKind::Signature };
    add_form_fields(&mut update, &[field])?;
    let with_field = update.write()?;
    let signer = Signer { recipient_id: PLATFORM_SIGNER, components: &[], name, signed_at };
    sign_revision(&with_field, &signer, &[], fonts, cms, NO_CHANGES)
}

fn sign_revision(
    latest: &[u8],
    signer: &Signer,
    marks: &[Mark],
    fonts: &Fonts,
    cms: &dyn Cms,
    certified_permission: i64,
) -> anyhow::Result<Vec<u8>> {
    let doc = super::load(latest)?;
    let prepared = PreparedTemplate::from_document(Bytes::copy_from_slice(latest), &doc)?;
    let fields = fields_by_name(&doc, &prepared);
    let signature_name = signature_field_name(signer.recipient_id, signer.components);
    let (signature_id, signature_field) =
        fields.get(&signature_name).ok_or_else(|| anyhow!("the contract has no signature field {signature_name}"))?;
    ensure!(!signature_field.has(b"V"), "signature field {signature_name} is signed already");
    let certify = !fields.values().any(|(_, f)| is_signed_signature(f));

    let mut groups = Vec::new();
    let mut targets = Vec::new();
    let mut drawn = vec![false; marks.len()];
    for c in signer.components {
        let Some((id, field)) = fields.get(&c.component_id) else { continue };
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
        let params = Dictionary::from_iter([
            ("Type", name_object("TransformParams")),
            ("P", Object::Integer(certified_permission)),
            ("V", name_object("1.2")),
        ]);
        let reference = Dictionary::from_iter([
            ("Type", name_object("SigRef")),
            ("TransformMethod", name_object("DocMDP")),
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

/// The form's dictionary in `update`, to change: the base's, as a new version of its object,
/// or, where the catalog holds it directly, the catalog's entry.
fn form_mut<'u>(update: &'u mut Update, prepared: &PreparedTemplate) -> anyhow::Result<&'u mut Dictionary> {
    let (form_id, form) = prepared.acro_form.clone().ok_or_else(|| anyhow!("the contract has no form"))?;
    let object = match form_id {
        Some(id) => update.object_mut(id.0, || Object::Dictionary(form)),
        None => {
            let (catalog_id, catalog) = &prepared.catalog;
            let Object::Dictionary(catalog) = update.object_mut(catalog_id.0, || Object::Dictionary(catalog.clone()))
            else {
                bail!("the catalog is no dictionary")
            };
            catalog.set("AcroForm", Object::Dictionary(form));
            catalog.get_mut(b"AcroForm")?
        }
    };
    let Object::Dictionary(form) = object else { bail!("the form is no dictionary") };
    Ok(form)
}

/// `latest` plus one incremental update adding a document timestamp (PAdES B-LTA): an
/// invisible signature field whose value is a /DocTimeStamp (`/SubFilter /ETSI.RFC3161`), the
/// token over the whole file before it made by `tsa`. Validators allow it after certification.
pub fn add_document_timestamp(latest: &[u8], tsa: &dyn Cms) -> anyhow::Result<Vec<u8>> {
    let doc = super::load(latest)?;
    let prepared = PreparedTemplate::from_document(Bytes::copy_from_slice(latest), &doc)?;
    let existing = fields_by_name(&doc, &prepared);
    let name = (1..).map(|n| format!("qs-timestamp-{n}")).find(|n| !existing.contains_key(n));
    let name = name.expect("an unused name among the integers");
    let mut update = Update { base: &prepared, objects: Vec::new(), next_id: prepared.next_id };
    let (field_id, value_id) = (update.id(), update.id());
    let first = &prepared.pages[0];
    let field = Dictionary::from_iter([
        ("FT", name_object("Sig")),
        ("T", text_string(&name)),
        ("Type", name_object("Annot")),
        ("Subtype", name_object("Widget")),
        ("Rect", real_array(&[0.0; 4])),
        ("F", Object::Integer(PRINT | LOCKED)),
        ("P", Object::Reference(first.id)),
        ("V", Object::Reference((value_id, 0))),
    ]);
    update.objects.push((field_id, Object::Dictionary(field)));
    update
        .objects
        .push((value_id, Object::Dictionary(signature_dictionary("DocTimeStamp", "ETSI.RFC3161", tsa.max_len()))));
    let Object::Dictionary(page) = update.object_mut(first.id.0, || Object::Dictionary(first.dict.clone())) else {
        bail!("page 1 is no dictionary")
    };
    let mut annots = first.annots.clone();
    annots.push(Object::Reference((field_id, 0)));
    page.set("Annots", Object::Array(annots));
    let form = form_mut(&mut update, &prepared)?;
    let mut fields = form.get(b"Fields").and_then(Object::as_array).cloned().unwrap_or_default();
    fields.push(Object::Reference((field_id, 0)));
    form.set("Fields", Object::Array(fields));
    let (mut out, offsets) = update.write_located()?;
    embed(&mut out, offsets[&value_id], tsa)?;
    Ok(out)
}

/// `latest` plus one incremental update adding DER `certs` and `crls` to the document security
/// store (/DSS, PAdES B-LT), beside what it holds already.
pub fn add_dss(latest: &[u8], certs: &[Vec<u8>], crls: &[Vec<u8>]) -> anyhow::Result<Vec<u8>> {
    let doc = super::load(latest)?;
    let prepared = PreparedTemplate::from_document(Bytes::copy_from_slice(latest), &doc)?;
    let mut update = Update { base: &prepared, objects: Vec::new(), next_id: prepared.next_id };
    let (catalog_id, catalog) = &prepared.catalog;
    let mut dss = match catalog.get(b"DSS").and_then(|d| doc.dereference(d)) {
        Ok((_, Object::Dictionary(d))) => d.clone(),
        _ => Dictionary::from_iter([("Type", name_object("DSS"))]),
    };
    for (key, items) in [(&b"Certs"[..], certs), (b"CRLs", crls)] {
        let mut refs =
            dss.get(key).and_then(|a| doc.dereference(a)).and_then(|(_, a)| a.as_array()).cloned().unwrap_or_default();
        for der in items {
            let id = update.id();
            update.objects.push((id, Object::Stream(super::font::compressed(Dictionary::new(), der))));
            refs.push(Object::Reference((id, 0)));
        }
        if !refs.is_empty() {
            dss.set(key, Object::Array(refs));
        }
    }
    let dss_id = update.id();
    update.objects.push((dss_id, Object::Dictionary(dss)));
    let Object::Dictionary(catalog) = update.object_mut(catalog_id.0, || Object::Dictionary(catalog.clone())) else {
        bail!("the catalog is no dictionary")
    };
    catalog.set("DSS", Object::Reference((dss_id, 0)));
    update.write()
}

/// A signature value with its /ByteRange and /Contents still to fill (see [`embed`]).
fn signature_dictionary(kind: &str, sub_filter: &str, max_len: usize) -> Dictionary {
    let placeholder = Object::Integer(BYTE_RANGE_PLACEHOLDER);
    Dictionary::from_iter([
        ("Type", name_object(kind)),
        ("Filter", name_object("Adobe.PPKLite")),
        ("SubFilter", name_object(sub_filter)),
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
    ensure!(der.len() * 2 < gt - lt, "the CMS is {} bytes, more than the {} reserved", der.len(), (gt - lt - 1) / 2);
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

    #[test]
    fn a_field_named_outside_ascii_is_found_by_that_name() {
        // The demo's ComponentIds are Chinese: the name goes into /T as UTF-16, and finding the
        // field again must decode it (signing the demo failed with "no signature field 甲方（盖章）").
        let template = PreparedTemplate::new(Bytes::from(std::fs::read(TEMPLATE).unwrap())).unwrap();
        let rect = Placement { page: 1, x: 10.0, y: 10.0, width: 50.0, height: 50.0 };
        let named = |name: &str| FormField { name: name.into(), rect, kind: FieldKind::Signature };
        let fonts = Fonts::load(&Default::default()).unwrap();
        let pdf = compose(&template, &[], &[named("甲方（盖章）"), named("Seal")], &fonts).unwrap();
        let doc = crate::pdf::load(&pdf).unwrap();
        let prepared = PreparedTemplate::from_document(Bytes::from(pdf.clone()), &doc).unwrap();
        let names: Vec<String> = fields_by_name(&doc, &prepared).into_keys().collect();
        assert_eq!(names, ["Seal", "甲方（盖章）"]);
    }

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
            self.signer_with(name, serial, "keyUsage=critical,digitalSignature,nonRepudiation\n")
        }

        fn signer_with(&self, name: &str, serial: u32, extensions: &str) -> OpensslCms {
            let at = |ext: &str| self.dir.join(format!("{name}.{ext}"));
            let (key, csr, cert, ext) = (at("key"), at("csr"), at("pem"), at("ext"));
            std::fs::write(&ext, extensions).unwrap();
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

    /// A timestamp authority made with openssl under the test root: `openssl ts -reply`.
    struct OpensslTsa {
        dir: PathBuf,
        config: PathBuf,
    }

    impl Cms for OpensslTsa {
        fn sign(&self, signed: [&[u8]; 2]) -> anyhow::Result<Vec<u8>> {
            let n = SIGNED.fetch_add(1, Ordering::SeqCst);
            let at = |what: &str| self.dir.join(format!("{what}-{n}")).to_str().unwrap().to_owned();
            std::fs::write(at("stamped"), [signed[0], signed[1]].concat())?;
            ran("openssl", &["ts", "-query", "-data", &at("stamped"), "-sha256", "-cert", "-out", &at("tsq")]);
            let config = self.config.to_str().unwrap();
            ran(
                "openssl",
                &["ts", "-reply", "-config", config, "-queryfile", &at("tsq"), "-token_out", "-out", &at("tst")],
            );
            Ok(std::fs::read(at("tst"))?)
        }

        fn max_len(&self) -> usize {
            8192
        }
    }

    impl Ca {
        fn tsa(&self) -> OpensslTsa {
            let cms = self.signer_with(
                "tsa",
                9,
                "extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature\n",
            );
            let p = |p: &Path| p.to_str().unwrap().to_owned();
            std::fs::write(self.dir.join("tsaserial"), "01\n").unwrap();
            let config = self.dir.join("ts.cnf");
            let text = format!(
                "[tsa]\ndefault_tsa = qs\n[qs]\nserial = {}\nsigner_cert = {}\ncerts = {}\nsigner_key = {}\n\
                 signer_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256\naccuracy = secs:1\n\
                 ess_cert_id_alg = sha256\n",
                p(&self.dir.join("tsaserial")),
                p(&cms.cert),
                p(&self.root),
                p(&cms.key)
            );
            std::fs::write(&config, text).unwrap();
            OpensslTsa { dir: self.dir.clone(), config }
        }

        fn der(&self, pem: &Path) -> Vec<u8> {
            let der = pem.with_extension("der");
            ran("openssl", &["x509", "-in", pem.to_str().unwrap(), "-outform", "DER", "-out", der.to_str().unwrap()]);
            std::fs::read(der).unwrap()
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
    fn signatures_are_read_back_with_their_boxes_and_ranges_and_a_document_timestamp_after_the_dss_validates() {
        let Some(fonts) = validators() else { return };
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new(dir.path());
        let [first, second, third] = signed_chain(&ca, &fonts);
        assert_eq!(signatures(&first).unwrap(), []);

        let read = signatures(&third).unwrap();
        let all = components();
        let expected = [
            ("EmployerSeal", "典子谦示例企业", Some(2), second.len()),
            ("EmployeeSignature", "张三", None, third.len()),
        ];
        assert_eq!(read.len(), 2);
        for (s, (field, name, doc_mdp, end)) in read.iter().zip(expected) {
            assert_eq!(s.field, field);
            let placement = all.iter().find(|c| c.component_id == field).unwrap().placement;
            let rect = s.rect.unwrap();
            assert_eq!(rect.page, placement.page);
            for (got, want) in [
                (rect.x, placement.x),
                (rect.y, placement.y),
                (rect.width, placement.width),
                (rect.height, placement.height),
            ] {
                assert!((got - want).abs() < 0.01, "{field}: {rect:?}, not {placement:?}");
            }
            assert_eq!((s.kind.as_str(), s.sub_filter.as_str()), ("Sig", "ETSI.CAdES.detached"));
            assert_eq!(s.name.as_deref(), Some(name));
            assert_eq!(s.signed_at.as_deref(), Some("D:20261202143000+08'00'"));
            assert_eq!(s.doc_mdp, doc_mdp);
            assert!(s.covers_revision, "{field}");
            assert_eq!(s.byte_range[2] + s.byte_range[3], end, "{field} covers its own revision");
            let [a, b] = s.signed(&third);
            assert_eq!(a.len() + b.len() + (s.byte_range[2] - s.byte_range[1]), end);
            assert_eq!((s.cms[0], der_len(&s.cms)), (0x30, Some(s.cms.len())));
        }

        let certs: Vec<Vec<u8>> =
            ["root", "employer", "employee"].iter().map(|n| ca.der(&dir.path().join(format!("{n}.pem")))).collect();
        let with_dss = add_dss(&third, &certs, &[]).unwrap();
        let stamped = add_document_timestamp(&with_dss, &ca.tsa()).unwrap();
        assert!(stamped.starts_with(&with_dss) && with_dss.starts_with(&third));
        let read = signatures(&stamped).unwrap();
        assert_eq!(read.len(), 3);
        let stamp = &read[2];
        assert_eq!((stamp.field.as_str(), stamp.kind.as_str()), ("qs-timestamp-1", "DocTimeStamp"));
        assert_eq!(stamp.sub_filter, "ETSI.RFC3161");
        assert!(stamp.covers_revision && stamp.byte_range[2] + stamp.byte_range[3] == stamped.len());
        let path = dir.path().join("stamped.pdf");
        std::fs::write(&path, &stamped).unwrap();
        qpdf_check(&path);
        let (ok, report) = ca.pyhanko(&path);
        assert!(ok, "{report}");
        assert_eq!(report.matches("The signature is judged VALID.").count(), 2, "{report}");
        assert!(report.contains("All modifications relate to signature maintenance"), "{report}");
        // pyHanko checks the timestamp only in LTV mode; openssl checks the token against the ranges.
        let (ranges, token) = (dir.path().join("ranges"), dir.path().join("token.der"));
        std::fs::write(&ranges, stamp.signed(&stamped).concat()).unwrap();
        std::fs::write(&token, &stamp.cms).unwrap();
        let p = |p: &Path| p.to_str().unwrap().to_owned();
        let verified = ran(
            "openssl",
            &[
                "ts",
                "-verify",
                "-data",
                &p(&ranges),
                "-in",
                &p(&token),
                "-token_in",
                "-CAfile",
                &p(&ca.root),
                "-untrusted",
                &p(&dir.path().join("tsa.pem")),
            ],
        );
        assert!(verified.contains("Verification: OK"), "{verified}");
    }

    #[test]
    fn signatures_of_a_hostile_file_are_an_error_not_a_panic() {
        let body = |byte_range: &str| {
            let objects = [
                "<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[4 0 R 6 0 R 4 0 R]>>>>".to_owned(),
                "<</Type/Pages/Kids[3 0 R]/Count 1>>".to_owned(),
                "<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>".to_owned(),
                "<</FT/Sig/T(s)/V 5 0 R/P 3 0 R/Rect[10 20 110 70]>>".to_owned(),
                format!("<</Type/Sig/ByteRange{byte_range}/Contents<3003020100>>>"),
                "<</FT/Sig/T(loop)/Kids[6 0 R]>>".to_owned(),
            ];
            let mut out = b"%PDF-1.7\n".to_vec();
            let mut offsets = Vec::new();
            for (i, o) in objects.iter().enumerate() {
                offsets.push(out.len());
                out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
            }
            let xref = out.len();
            out.extend_from_slice(b"xref\n0 7\n0000000000 65535 f \n");
            for o in offsets {
                out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
            }
            out.extend_from_slice(format!("trailer\n<</Size 7/Root 1 0 R>>\nstartxref\n{xref}\n%%EOF\n").as_bytes());
            out
        };
        // A field listed twice and one that is its own kid are walked once; a /ByteRange past
        // the end is refused.
        let e = signatures(&body("[0 10 20 99999]")).unwrap_err();
        assert_eq!(format!("{e:#}"), "signature s: its /ByteRange is not two ranges within the file");
        for range in ["[0 -1 2 3]", "[0 1.5 2 3]", "[0 1 2]", "(x)", "[0 30 20 5]"] {
            assert!(signatures(&body(range)).is_err(), "{range}");
        }
        let read = signatures(&body("[0 10 20 5]")).unwrap();
        assert_eq!((read.len(), read[0].covers_revision, read[0].cms.len()), (1, false, 5));
        assert_eq!(read[0].rect, Some(Placement { page: 1, x: 10.0, y: 772.0, width: 100.0, height: 50.0 }));
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
    fn a_contract_made_without_form_fields_gets_them_in_its_first_signing_and_validates() {
        let Some(fonts) = validators() else { return };
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new(dir.path());
        let all = components();
        let fields_of_contract = form_fields([EMPLOYER, EMPLOYEE], &all);
        let template = PreparedTemplate::new(Bytes::from(std::fs::read(TEMPLATE).unwrap())).unwrap();
        let older = compose(&template, &[], &[], &fonts).unwrap();
        let upgraded = add_missing_form_fields(&older, &fields_of_contract).unwrap().expect("fields added");
        assert!(upgraded.starts_with(&older));
        assert_eq!(add_missing_form_fields(&upgraded, &fields_of_contract).unwrap(), None);

        let employer = of(&all, Some(EMPLOYER));
        let seal = [SignatureAppearance::GeneratedSeal("典子谦示例企业".into())];
        let marks = signing_marks(&employer, &[], &HashMap::new(), &seal, date(), &fonts).unwrap();
        let signer =
            Signer {
                recipient_id: EMPLOYER, components: &employer, name: "典子谦示例企业", signed_at: signed_at()
            };
        let signed = sign(&upgraded, &signer, &marks, &fonts, &ca.signer("employer", 4)).unwrap();
        let path = dir.path().join("upgraded.pdf");
        std::fs::write(&path, &signed).unwrap();
        let (ok, report) = ca.pyhanko(&path);
        assert!(ok && report.contains("The signature is judged VALID."), "{report}");
        // Once signed, nothing is added any more: a field missing now would be a disallowed change.
        let error = add_missing_form_fields(&signed, &form_fields(["someone-else"], &all)).unwrap_err();
        assert!(error.to_string().contains("signed but has none of its signers' form fields"), "{error}");
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
