//! The tenants file that `qianshu apply` loads: applications with their keys, quota, feature
//! switches, sub-organisations, operators and templates. Its names mirror the API's. A bad file
//! is refused as a whole with a message naming the offending entry.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use secrecy::SecretString;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::blobs::BlobStore;
use crate::domain::file::FileKind;
use crate::domain::id::{FileId, TemplateId};
use crate::domain::template::{Component, ComponentType, Placement, Recipient, RecipientType, SnapshotId, Template};
use crate::domain::tenancy::{
    Application, CallbackSettings, Credential, Feature, Operator, Organization, OrganizationDetails, OrganizationName,
    Seal, TenantApplication,
};
use crate::domain::{ExternalId, IdCard, Mobile, PersonName, at_most, name_chars};
use crate::error::{ApiError, Code};
use crate::pdf::image::image_xobject;
use crate::store::Store;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TenantsFile {
    pub applications: Vec<ApplicationEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ApplicationEntry {
    pub app_id: String,
    pub secret_id: Option<String>,
    pub secret_key: Option<String>,
    #[serde(default)]
    pub secrets: Vec<SecretEntry>,
    pub flow_quota: i64,
    #[serde(default)]
    pub features: Vec<String>,
    pub callback_url: Option<String>,
    pub callback_key: Option<String>,
    pub callback_token: Option<String>,
    #[serde(default)]
    pub organizations: Vec<OrganizationEntry>,
    #[serde(default)]
    pub templates: Vec<TemplateEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SecretEntry {
    pub secret_id: String,
    pub secret_key: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct OrganizationEntry {
    pub open_id: String,
    pub name: String,
    #[serde(default)]
    pub verified: bool,
    pub uniform_social_credit_code: Option<String>,
    pub legal_name: Option<String>,
    pub address: Option<String>,
    #[serde(default)]
    pub operators: Vec<OperatorEntry>,
    #[serde(default)]
    pub seals: Vec<SealEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SealEntry {
    /// Derived from `Name` when absent, so that applying the file again finds the same seal.
    pub seal_id: Option<String>,
    pub name: String,
    /// A PNG with a transparent background, relative to the tenants file unless absolute.
    pub image: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct OperatorEntry {
    pub open_id: String,
    pub name: Option<String>,
    pub mobile: Option<String>,
    pub id_card_type: Option<String>,
    pub id_card_number: Option<String>,
    pub default_role: Option<String>,
    #[serde(default)]
    pub verified: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TemplateEntry {
    pub template_id: String,
    pub template_name: String,
    #[serde(default)]
    pub description: String,
    /// The template's PDF: a path (relative to the tenants file unless absolute)…
    pub pdf: Option<PathBuf>,
    /// …or the FileId of a PDF this application uploaded with `UploadFiles`.
    pub pdf_file_id: Option<String>,
    #[serde(default)]
    pub recipients: Vec<RecipientEntry>,
    #[serde(default)]
    pub components: Vec<ComponentEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RecipientEntry {
    pub recipient_id: String,
    pub role_name: String,
    pub recipient_type: String,
    pub routing_order: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ComponentEntry {
    pub component_id: String,
    pub component_type: String,
    pub component_name: Option<String>,
    #[serde(default)]
    pub component_recipient_id: String,
    /// `NORMAL` (the default: page and position given), `KEYWORD` (next to the keyword that
    /// `ComponentId` names) or `FIELD` (over the form field that `ComponentName` names).
    pub generate_mode: Option<String>,
    pub component_page: Option<u32>,
    pub component_pos_x: Option<f64>,
    pub component_pos_y: Option<f64>,
    pub component_width: Option<f64>,
    pub component_height: Option<f64>,
    #[serde(default)]
    pub component_required: bool,
    pub component_extra: Option<String>,
    pub keyword_order: Option<String>,
    pub keyword_page: Option<u32>,
    pub keyword_indexes: Option<Vec<i64>>,
    pub relative_location: Option<String>,
    pub offset_x: Option<f64>,
    pub offset_y: Option<f64>,
}

/// Reads and checks a tenants file, storing its template PDFs in `blobs`; nothing reaches the
/// database until every entry has passed. `store` resolves templates given by FileId.
pub async fn load(path: &Path, blobs: &BlobStore, store: &Store) -> anyhow::Result<Vec<TenantApplication>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: TenantsFile =
        serde_json::from_str(&text).with_context(|| format!("{} is not a valid tenants file", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    let mut app_ids = BTreeSet::new();
    let mut secret_ids = BTreeSet::new();
    for (i, entry) in file.applications.into_iter().enumerate() {
        let at = format!("Applications[{i}]");
        let tenant = application(entry, &at, base, blobs, store).await?;
        if !app_ids.insert(tenant.application.app_id.clone()) {
            bail!("{at}.AppId: `{}` appears twice", tenant.application.app_id);
        }
        for c in &tenant.credentials {
            if !secret_ids.insert(c.secret_id.clone()) {
                bail!("{at}: SecretId `{}` appears twice", c.secret_id);
            }
        }
        out.push(tenant);
    }
    Ok(out)
}

/// A domain parse error, placed at its entry.
fn at(prefix: &str) -> impl Fn(ApiError) -> anyhow::Error + '_ {
    move |e| anyhow!("{prefix}: {}", e.message)
}

async fn application(
    e: ApplicationEntry,
    at_app: &str,
    base: &Path,
    blobs: &BlobStore,
    store: &Store,
) -> anyhow::Result<TenantApplication> {
    let app_id = ExternalId::parse(Some(&e.app_id), &format!("{at_app}.AppId")).map_err(at(at_app))?;
    if e.flow_quota < 0 {
        bail!("{at_app}.FlowQuota: must not be negative");
    }
    let mut credentials = Vec::new();
    match (e.secret_id, e.secret_key) {
        (Some(id), Some(key)) => credentials.push((id, key)),
        (None, None) => {}
        _ => bail!("{at_app}: SecretId and SecretKey go together"),
    }
    credentials.extend(e.secrets.into_iter().map(|s| (s.secret_id, s.secret_key)));
    if credentials.is_empty() {
        bail!("{at_app}: an application needs a SecretId and SecretKey (or Secrets)");
    }
    let credentials = credentials
        .into_iter()
        .map(|(secret_id, secret_key)| {
            if secret_id.is_empty()
                || secret_id.len() > 128
                || !secret_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                bail!("{at_app}: SecretId `{secret_id}` must be 1 to 128 letters, digits, `_` or `-`");
            }
            if secret_key.len() < 16 {
                bail!("{at_app}: the SecretKey of `{secret_id}` must be at least 16 characters");
            }
            Ok(Credential { secret_id, secret_key: SecretString::from(secret_key) })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let features = e
        .features
        .iter()
        .map(|f| {
            Feature::parse(f)
                .ok_or_else(|| anyhow!("{at_app}.Features: unknown feature `{f}` (AUTO_SIGN, DYNAMIC_SIGNER)"))
        })
        .collect::<anyhow::Result<BTreeSet<_>>>()?;
    let callback = match e.callback_url {
        Some(url) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("{at_app}.CallbackUrl: must be an http:// or https:// URL");
            }
            if let Some(k) = &e.callback_key
                && k.len() != 32
            {
                bail!("{at_app}.CallbackKey: must be 32 bytes (an AES-256 key)");
            }
            Some(CallbackSettings {
                url,
                aes_key: e.callback_key.map(SecretString::from),
                token: e.callback_token.map(SecretString::from),
            })
        }
        None if e.callback_key.is_some() || e.callback_token.is_some() => {
            bail!("{at_app}: CallbackKey and CallbackToken need a CallbackUrl")
        }
        None => None,
    };

    let mut organizations = Vec::new();
    let mut org_ids = BTreeSet::new();
    for (j, o) in e.organizations.into_iter().enumerate() {
        let at_org = format!("{at_app}.Organizations[{j}]");
        let org = Organization {
            open_id: ExternalId::parse(Some(&o.open_id), "OpenId").map_err(at(&at_org))?,
            name: OrganizationName::parse(Some(&o.name), "Name").map_err(at(&at_org))?,
            verified: o.verified,
            details: OrganizationDetails {
                uniform_social_credit_code: o.uniform_social_credit_code,
                legal_name: o.legal_name,
                legal_id_card_number: None,
                address: o.address,
            },
            seals: seals(o.seals, &at_org, base, blobs).await?,
        };
        if !org_ids.insert(org.open_id.clone()) {
            bail!("{at_org}.OpenId: `{}` appears twice", org.open_id);
        }
        let mut operators = Vec::new();
        let mut op_ids = BTreeSet::new();
        for (k, op) in o.operators.into_iter().enumerate() {
            let at_op = format!("{at_org}.Operators[{k}]");
            let operator = Operator {
                open_id: ExternalId::parse(Some(&op.open_id), "OpenId").map_err(at(&at_op))?,
                name: op.name.as_deref().map(|n| PersonName::parse(Some(n), "Name")).transpose().map_err(at(&at_op))?,
                mobile: op.mobile.as_deref().map(|m| Mobile::parse(m, "Mobile")).transpose().map_err(at(&at_op))?,
                id_card: op
                    .id_card_number
                    .as_deref()
                    .map(|n| IdCard::parse(op.id_card_type.as_deref(), n, "IdCardType", "IdCardNumber"))
                    .transpose()
                    .map_err(at(&at_op))?,
                default_role: op.default_role,
                verified: op.verified,
            };
            if operator.verified && (operator.name.is_none() || !org.verified) {
                bail!("{at_op}: a verified operator needs a Name and a verified organization");
            }
            if !op_ids.insert(operator.open_id.clone()) {
                bail!("{at_op}.OpenId: `{}` appears twice", operator.open_id);
            }
            operators.push(operator);
        }
        organizations.push((org, operators));
    }

    let mut templates = Vec::new();
    let mut template_ids = BTreeSet::new();
    for (j, t) in e.templates.into_iter().enumerate() {
        let at_tpl = format!("{at_app}.Templates[{j}]");
        let template = template(t, &at_tpl, base, blobs, store, &app_id).await?;
        if !template_ids.insert(template.template_id.clone()) {
            bail!("{at_tpl}.TemplateId: `{}` appears twice", template.template_id.as_str());
        }
        templates.push(template);
    }

    Ok(TenantApplication {
        application: Application { app_id, flow_quota: e.flow_quota, features, callback },
        credentials,
        organizations,
        templates,
    })
}

/// An organisation's seals: each image must be a PNG that embeds (checked by the code that
/// draws it) with transparency, since a seal is drawn over the page's text.
async fn seals(entries: Vec<SealEntry>, at_org: &str, base: &Path, blobs: &BlobStore) -> anyhow::Result<Vec<Seal>> {
    let mut seals: Vec<Seal> = Vec::new();
    for (k, s) in entries.into_iter().enumerate() {
        let at_seal = format!("{at_org}.Seals[{k}]");
        let name = s.name.trim();
        if name.is_empty() {
            bail!("{at_seal}.Name: must not be empty");
        }
        at_most(name, 50, "Name").map_err(at(&at_seal))?;
        let seal_id = match &s.seal_id {
            Some(id) => ExternalId::parse(Some(id), "SealId").map_err(at(&at_seal))?,
            None => ExternalId::from_stored(hex::encode(&Sha256::digest(name.as_bytes())[..16])),
        };
        if seals.iter().any(|other| other.seal_id == seal_id) {
            let told_apart = if s.seal_id.is_none() { " (a seal without SealId is known by its Name)" } else { "" };
            bail!("{at_seal}.SealId: `{seal_id}` appears twice{told_apart}");
        }
        let path = if s.image.is_absolute() { s.image.clone() } else { base.join(&s.image) };
        let png = std::fs::read(&path).with_context(|| format!("{at_seal}.Image: reading {}", path.display()))?;
        if !png.starts_with(b"\x89PNG\r\n\x1a\n") {
            bail!("{at_seal}.Image: {} is not a PNG file (a seal needs a transparent background)", path.display());
        }
        let png = Bytes::from(png);
        let checked = png.clone();
        let image = crate::untrusted::parse(move || image_xobject(&checked))
            .await
            .with_context(|| format!("{at_seal}.Image: {} is not a usable image", path.display()))?;
        if image.smask.is_none() {
            bail!(
                "{at_seal}.Image: {} is opaque; a seal is drawn over the page and needs a transparent background",
                path.display()
            );
        }
        seals.push(Seal { seal_id, name: name.to_owned(), image_sha256: blobs.put(png).await? });
    }
    Ok(seals)
}

/// The text lines and form fields of a template's PDF, read once for all its anchored components.
struct PdfLayout {
    lines: Vec<crate::pdf::locate::TextLine>,
    fields: Vec<crate::pdf::locate::FieldWidget>,
}

impl PdfLayout {
    fn read(pdf: &[u8]) -> anyhow::Result<PdfLayout> {
        let doc = crate::pdf::load(pdf)?;
        Ok(PdfLayout { lines: crate::pdf::locate::text_lines(&doc)?, fields: crate::pdf::locate::form_fields(&doc)? })
    }
}

fn normal_placement(c: &ComponentEntry, at_c: &str) -> anyhow::Result<Vec<Placement>> {
    let anchored_only = [
        ("KeywordOrder", c.keyword_order.is_some()),
        ("KeywordPage", c.keyword_page.is_some()),
        ("KeywordIndexes", c.keyword_indexes.is_some()),
        ("RelativeLocation", c.relative_location.is_some()),
        ("OffsetX", c.offset_x.is_some()),
        ("OffsetY", c.offset_y.is_some()),
    ];
    if let Some((name, _)) = anchored_only.iter().find(|(_, given)| *given) {
        bail!("{at_c}.{name}: only applies to GenerateMode KEYWORD");
    }
    let need =
        |v: Option<f64>, name: &str| v.ok_or_else(|| anyhow!("{at_c}.{name}: required with GenerateMode NORMAL"));
    let page = c.component_page.ok_or_else(|| anyhow!("{at_c}.ComponentPage: required with GenerateMode NORMAL"))?;
    if page < 1 {
        bail!("{at_c}.ComponentPage: pages are numbered from 1");
    }
    let placement = Placement {
        page,
        x: need(c.component_pos_x, "ComponentPosX")?,
        y: need(c.component_pos_y, "ComponentPosY")?,
        width: need(c.component_width, "ComponentWidth")?,
        height: need(c.component_height, "ComponentHeight")?,
    };
    if placement.x < 0.0 || placement.y < 0.0 || placement.width <= 0.0 || placement.height <= 0.0 {
        bail!("{at_c}: positions must not be negative and sizes must be positive");
    }
    Ok(vec![placement])
}

/// The boxes of a KEYWORD or FIELD component, found in the template's PDF.
fn anchored_placements(
    c: &ComponentEntry,
    mode: &str,
    component_name: &str,
    layout: &PdfLayout,
    at_c: &str,
) -> anyhow::Result<Vec<Placement>> {
    let positioned = [
        ("ComponentPage", c.component_page.is_some()),
        ("ComponentPosX", c.component_pos_x.is_some()),
        ("ComponentPosY", c.component_pos_y.is_some()),
    ];
    if let Some((name, _)) = positioned.iter().find(|(_, given)| *given) {
        bail!("{at_c}.{name}: only applies to GenerateMode NORMAL; a {mode} component is placed by the PDF");
    }
    use crate::pdf::anchor::{KeywordRule, Relative, field_boxes, keyword_boxes};
    let boxes = if mode == "FIELD" {
        if c.component_width.is_some() || c.component_height.is_some() || c.relative_location.is_some() {
            bail!("{at_c}: a FIELD component takes its size from the form field's widget");
        }
        field_boxes(&layout.fields, component_name).map_err(|e| anyhow!("{at_c}.ComponentName: {e}"))?
    } else {
        let size = |v: Option<f64>, name: &str| match v {
            Some(v) if v > 0.0 => Ok(v),
            Some(_) => bail!("{at_c}.{name}: must be positive"),
            None => bail!("{at_c}.{name}: required with GenerateMode KEYWORD"),
        };
        let (keyword, whole_word) = match c.component_id.strip_prefix('^').and_then(|k| k.strip_suffix('^')) {
            Some(k) => (k, true),
            None => (c.component_id.as_str(), false),
        };
        let rule = KeywordRule {
            keyword: keyword.to_owned(),
            whole_word,
            page: c.keyword_page,
            reverse: match c.keyword_order.as_deref() {
                None | Some("Positive") => false,
                Some("Reverse") => true,
                Some(other) => bail!("{at_c}.KeywordOrder: `{other}` is not one of Positive, Reverse"),
            },
            indexes: c
                .keyword_indexes
                .as_ref()
                .map(|ix| {
                    ix.iter()
                        .map(|&i| usize::try_from(i).map_err(|_| anyhow!("{at_c}.KeywordIndexes: {i} is negative")))
                        .collect::<anyhow::Result<Vec<_>>>()
                })
                .transpose()?,
            relative: match c.relative_location.as_deref() {
                None => Relative::Middle,
                Some(r) => Relative::parse(r).ok_or_else(|| {
                    let names: Vec<&str> = Relative::NAMES.iter().map(|(n, _)| *n).collect();
                    anyhow!("{at_c}.RelativeLocation: `{r}` is not one of {}", names.join(", "))
                })?,
            },
            width: size(c.component_width, "ComponentWidth")?,
            height: size(c.component_height, "ComponentHeight")?,
            offset: (c.offset_x.unwrap_or(0.0), c.offset_y.unwrap_or(0.0)),
        };
        keyword_boxes(&layout.lines, &rule).map_err(|e| anyhow!("{at_c}.ComponentId: {e}"))?
    };
    Ok(boxes
        .into_iter()
        .map(|(page, r)| Placement { page, x: r.x, y: r.y, width: r.width, height: r.height })
        .collect())
}

async fn template(
    t: TemplateEntry,
    at_tpl: &str,
    base: &Path,
    blobs: &BlobStore,
    store: &Store,
    app_id: &ExternalId,
) -> anyhow::Result<Template> {
    let template_id = TemplateId::parse(Some(&t.template_id), "TemplateId").map_err(at(at_tpl))?;
    if t.template_name.trim().is_empty() {
        bail!("{at_tpl}.TemplateName: must not be empty");
    }
    at_most(&t.template_name, 200, "TemplateName").map_err(at(at_tpl))?;
    let (pdf, source) = match (&t.pdf, &t.pdf_file_id) {
        (Some(path), None) => {
            let path = if path.is_absolute() { path.clone() } else { base.join(path) };
            let pdf = std::fs::read(&path).with_context(|| format!("{at_tpl}.Pdf: reading {}", path.display()))?;
            (Bytes::from(pdf), format!("{at_tpl}.Pdf: {}", path.display()))
        }
        (None, Some(file_id)) => {
            let at_file = format!("{at_tpl}.PdfFileId");
            let id = FileId::parse(Some(file_id), "PdfFileId").map_err(at(&at_file))?;
            let file = store
                .file(app_id, &id)
                .await
                .map_err(anyhow::Error::from)?
                .ok_or_else(|| anyhow!("{at_file}: no file `{file_id}` was uploaded by this application"))?;
            if file.kind != FileKind::Pdf {
                bail!("{at_file}: `{file_id}` is a {} file, not a PDF", file.kind.as_str());
            }
            if file.deadline < store.now() {
                bail!("{at_file}: `{file_id}` expired at {}", file.deadline);
            }
            (blobs.get(&file.sha256).await?, format!("{at_file}: {file_id}"))
        }
        _ => bail!("{at_tpl}: give exactly one of Pdf and PdfFileId"),
    };
    let checked = pdf.clone();
    let page_sizes = crate::untrusted::parse(move || crate::pdf::page_sizes(checked))
        .await
        .with_context(|| format!("{source} is not a usable PDF"))?;

    let mut recipients = Vec::new();
    for (k, r) in t.recipients.into_iter().enumerate() {
        let at_r = format!("{at_tpl}.Recipients[{k}]");
        ExternalId::parse(Some(&r.recipient_id), "RecipientId").map_err(at(&at_r))?;
        name_chars(&r.role_name, 20, "RoleName", Code::InvalidParameter).map_err(at(&at_r))?;
        let routing_order = r.routing_order.unwrap_or(k as i64 + 1);
        if routing_order < 1 {
            bail!("{at_r}.RoutingOrder: must be at least 1");
        }
        recipients.push(Recipient {
            recipient_id: r.recipient_id,
            role_name: r.role_name,
            recipient_type: RecipientType::parse(&r.recipient_type, "RecipientType").map_err(at(&at_r))?,
            routing_order,
        });
    }
    let mut pdf_layout = None;
    let mut components = Vec::new();
    for (k, c) in t.components.into_iter().enumerate() {
        let at_c = format!("{at_tpl}.Components[{k}]");
        let mode = c.generate_mode.as_deref().unwrap_or("NORMAL");
        if mode == "KEYWORD" {
            at_most(&c.component_id, 64, "ComponentId").map_err(at(&at_c))?;
        } else {
            name_chars(&c.component_id, 64, "ComponentId", Code::InvalidParameter).map_err(at(&at_c))?;
        }
        let component_name = c.component_name.clone().unwrap_or_else(|| c.component_id.clone());
        name_chars(&component_name, 20, "ComponentName", Code::InvalidParameter).map_err(at(&at_c))?;
        if let Some(extra) = &c.component_extra
            && !serde_json::from_str::<serde_json::Value>(extra).is_ok_and(|v| v.is_object())
        {
            bail!("{at_c}.ComponentExtra: must be a JSON object written as a string");
        }
        let component_type = ComponentType::parse(&c.component_type, "ComponentType").map_err(at(&at_c))?;
        let placed = match mode {
            "NORMAL" => normal_placement(&c, &at_c)?,
            "KEYWORD" | "FIELD" => {
                let layout = match &mut pdf_layout {
                    Some(layout) => layout,
                    None => {
                        let read = pdf.clone();
                        pdf_layout.insert(
                            crate::untrusted::parse(move || PdfLayout::read(&read))
                                .await
                                .with_context(|| format!("{source}: finding keywords and fields"))?,
                        )
                    }
                };
                anchored_placements(&c, mode, &component_name, layout, &at_c)?
            }
            other => bail!("{at_c}.GenerateMode: `{other}` is not one of NORMAL, KEYWORD, FIELD"),
        };
        // A keyword or field found in several places gives a component for each, told apart by
        // a suffix; filling by ComponentName fills them all.
        let id = c.component_id.trim_matches('^');
        for (n, placement) in placed.into_iter().enumerate() {
            components.push(Component {
                component_id: if n == 0 { id.to_owned() } else { format!("{id}_{}", n + 1) },
                component_name: component_name.clone(),
                component_type,
                recipient_id: Some(c.component_recipient_id.clone()).filter(|r| !r.is_empty()),
                placement,
                required: c.component_required,
                extra: c.component_extra.clone(),
            });
        }
    }
    let mut template = Template {
        template_id,
        name: t.template_name,
        description: t.description,
        recipients,
        components,
        pdf_sha256: String::new(),
        snapshot: SnapshotId::default(),
        created_on: store.now(),
    };
    template.check(&page_sizes).map_err(|e| anyhow!("{at_tpl}.{e}"))?;
    template.pdf_sha256 = blobs.put(pdf).await?;
    template.snapshot = template.content_id();
    Ok(template)
}
