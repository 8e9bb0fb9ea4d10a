//! Templates: a PDF, the recipients (roles) that sign it, and the components placed on it.

use sha2::{Digest, Sha256};

use super::id::TemplateId;
use crate::error::{ApiError, Code, fail};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientType {
    Enterprise,
    Individual,
    Promoter,
}

impl RecipientType {
    pub fn parse(value: &str, field: &str) -> Result<RecipientType, ApiError> {
        match value {
            "ENTERPRISE" => Ok(RecipientType::Enterprise),
            "INDIVIDUAL" => Ok(RecipientType::Individual),
            "PROMOTER" => Ok(RecipientType::Promoter),
            _ => fail(
                Code::InvalidParameter,
                format!("The parameter `{field}` must be ENTERPRISE, INDIVIDUAL or PROMOTER."),
            ),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RecipientType::Enterprise => "ENTERPRISE",
            RecipientType::Individual => "INDIVIDUAL",
            RecipientType::Promoter => "PROMOTER",
        }
    }
}

/// A signing role of a template; flows name it by `RecipientId`, in this order.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    pub recipient_id: String,
    pub role_name: String,
    pub recipient_type: RecipientType,
    pub routing_order: i64,
}

macro_rules! component_types {
    ($($variant:ident => $name:literal, $sign:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ComponentType { $($variant,)* }

        impl ComponentType {
            pub fn parse(value: &str, field: &str) -> Result<ComponentType, ApiError> {
                match value {
                    $($name => Ok(ComponentType::$variant),)*
                    _ => fail(Code::InvalidParameter_ComponentType, format!("The parameter `{field}` names an unknown component type `{value}`.")),
                }
            }

            pub fn as_str(self) -> &'static str {
                match self { $(ComponentType::$variant => $name,)* }
            }

            /// Signing components (listed as `SignComponents`) as opposed to fill components.
            pub fn is_sign(self) -> bool {
                match self { $(ComponentType::$variant => $sign,)* }
            }
        }
    };
}

component_types! {
    Text => "TEXT", false;
    MultiLineText => "MULTI_LINE_TEXT", false;
    CheckBox => "CHECK_BOX", false;
    FillImage => "FILL_IMAGE", false;
    DynamicTable => "DYNAMIC_TABLE", false;
    Attachment => "ATTACHMENT", false;
    Selector => "SELECTOR", false;
    Date => "DATE", false;
    District => "DISTRICT", false;
    VirtualCombination => "VIRTUAL_COMBINATION", false;
    SignSeal => "SIGN_SEAL", true;
    SignDate => "SIGN_DATE", true;
    SignSignature => "SIGN_SIGNATURE", true;
    SignPagingSignature => "SIGN_PAGING_SIGNATURE", true;
    SignPagingSeal => "SIGN_PAGING_SEAL", true;
    SignOpinion => "SIGN_OPINION", true;
    SignVirtualCombination => "SIGN_VIRTUAL_COMBINATION", true;
    SignMultiLineText => "SIGN_MULTI_LINE_TEXT", true;
    SignSelector => "SIGN_SELECTOR", true;
    SignLegalPersonSeal => "SIGN_LEGAL_PERSON_SEAL", true;
}

/// A rectangle on a page, in PDF points, with Tencent's origin at the page's top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Placement {
    pub page: u32,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub component_id: String,
    pub component_name: String,
    pub component_type: ComponentType,
    /// The recipient who fills or signs it; `None` means the initiator fills it at creation.
    pub recipient_id: Option<String>,
    pub placement: Placement,
    pub required: bool,
    /// `ComponentExtra` as given (font, size, alignment…), interpreted when documents are made.
    pub extra: Option<String>,
}

/// An immutable version of a template, which contracts are pinned to: the hex SHA-256 of the
/// template's content ([`Template::content_id`]). Empty only for a definition not hashed yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SnapshotId(String);

impl SnapshotId {
    pub fn from_stored(id: String) -> SnapshotId {
        SnapshotId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone)]
pub struct Template {
    pub template_id: TemplateId,
    pub name: String,
    pub description: String,
    pub recipients: Vec<Recipient>,
    pub components: Vec<Component>,
    /// SHA-256 (hex) of the template PDF in the blob store.
    pub pdf_sha256: String,
    /// The snapshot holding exactly this definition; a contract records it and is made from
    /// that snapshot ever after, whatever becomes of the template.
    pub snapshot: SnapshotId,
    pub created_on: i64,
}

impl Template {
    /// The id of the snapshot of this definition: SHA-256 over an unambiguous encoding of
    /// everything but `snapshot` and `created_on` (when a definition was applied is not part of
    /// it), so that the same definition has the same id on every apply and every node. Each
    /// string is length-prefixed and each list counted, so no two definitions encode alike.
    pub fn content_id(&self) -> SnapshotId {
        let mut h = Sha256::new();
        hash_text(&mut h, "qianshu template snapshot 1");
        hash_text(&mut h, self.template_id.as_str());
        hash_text(&mut h, &self.name);
        hash_text(&mut h, &self.description);
        hash_text(&mut h, &self.pdf_sha256);
        h.update((self.recipients.len() as u64).to_be_bytes());
        for r in &self.recipients {
            hash_text(&mut h, &r.recipient_id);
            hash_text(&mut h, &r.role_name);
            hash_text(&mut h, r.recipient_type.as_str());
            h.update(r.routing_order.to_be_bytes());
        }
        h.update((self.components.len() as u64).to_be_bytes());
        for c in &self.components {
            hash_text(&mut h, &c.component_id);
            hash_text(&mut h, &c.component_name);
            hash_text(&mut h, c.component_type.as_str());
            hash_optional(&mut h, c.recipient_id.as_deref());
            let p = c.placement;
            h.update(p.page.to_be_bytes());
            for v in [p.x, p.y, p.width, p.height] {
                h.update(v.to_bits().to_be_bytes());
            }
            h.update([u8::from(c.required)]);
            hash_optional(&mut h, c.extra.as_deref());
        }
        SnapshotId(hex::encode(h.finalize()))
    }

    /// Checks that ties the parts together: unique ids, components owned by real recipients,
    /// signing components owned by someone, boxes inside pages of the given sizes.
    pub fn check(&self, page_sizes: &[(f64, f64)]) -> Result<(), String> {
        let mut recipient_ids = std::collections::HashSet::new();
        for (i, r) in self.recipients.iter().enumerate() {
            if !recipient_ids.insert(r.recipient_id.as_str()) {
                return Err(format!("Recipients[{i}].RecipientId `{}` is used twice", r.recipient_id));
            }
        }
        let mut component_ids = std::collections::HashSet::new();
        for (i, c) in self.components.iter().enumerate() {
            if !component_ids.insert(c.component_id.as_str()) {
                return Err(format!("Components[{i}].ComponentId `{}` is used twice", c.component_id));
            }
            match &c.recipient_id {
                Some(r) if !recipient_ids.contains(r.as_str()) => {
                    return Err(format!(
                        "Components[{i}].ComponentRecipientId `{r}` is not a recipient of this template"
                    ));
                }
                None if c.component_type.is_sign() => {
                    return Err(format!(
                        "Components[{i}]: a {} component needs a ComponentRecipientId",
                        c.component_type.as_str()
                    ));
                }
                _ => {}
            }
            let p = c.placement;
            let Some(&(w, h)) = page_sizes.get(p.page as usize - 1) else {
                return Err(format!(
                    "Components[{i}].ComponentPage {} is past the PDF's last page ({})",
                    p.page,
                    page_sizes.len()
                ));
            };
            if p.x + p.width > w + 0.01 || p.y + p.height > h + 0.01 {
                return Err(format!(
                    "Components[{i}] ({}, {}, {}×{}) does not fit on page {} ({w}×{h} points)",
                    p.x, p.y, p.width, p.height, p.page
                ));
            }
        }
        Ok(())
    }
}

fn hash_text(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

fn hash_optional(h: &mut Sha256, s: Option<&str>) {
    match s {
        Some(s) => {
            h.update([1]);
            hash_text(h, s);
        }
        None => h.update([0]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_types_know_sign_from_fill() {
        assert!(ComponentType::parse("SIGN_SEAL", "t").unwrap().is_sign());
        assert!(!ComponentType::parse("DYNAMIC_TABLE", "t").unwrap().is_sign());
        assert_eq!(ComponentType::parse("STAMP", "t").unwrap_err().code, Code::InvalidParameter_ComponentType);
    }

    fn template(components: Vec<Component>) -> Template {
        Template {
            template_id: TemplateId::generate(),
            name: "t".into(),
            description: String::new(),
            recipients: vec![Recipient {
                recipient_id: "r1".into(),
                role_name: "甲方".into(),
                recipient_type: RecipientType::Enterprise,
                routing_order: 1,
            }],
            components,
            pdf_sha256: String::new(),
            snapshot: SnapshotId::default(),
            created_on: 0,
        }
    }

    fn component(id: &str, kind: ComponentType, owner: Option<&str>, page: u32, y: f64) -> Component {
        Component {
            component_id: id.into(),
            component_name: id.into(),
            component_type: kind,
            recipient_id: owner.map(Into::into),
            placement: Placement { page, x: 100.0, y, width: 200.0, height: 20.0 },
            required: false,
            extra: None,
        }
    }

    #[test]
    fn a_template_checks_owners_pages_and_boxes() {
        let a4 = [(595.0, 842.0)];
        assert_eq!(template(vec![component("c", ComponentType::Text, None, 1, 600.0)]).check(&a4), Ok(()));
        let e = template(vec![component("c", ComponentType::Text, Some("r9"), 1, 600.0)]).check(&a4).unwrap_err();
        assert!(e.contains("`r9` is not a recipient"), "{e}");
        let e = template(vec![component("c", ComponentType::SignSeal, None, 1, 600.0)]).check(&a4).unwrap_err();
        assert!(e.contains("needs a ComponentRecipientId"), "{e}");
        let e = template(vec![component("c", ComponentType::Text, None, 2, 600.0)]).check(&a4).unwrap_err();
        assert!(e.contains("past the PDF's last page (1)"), "{e}");
        let e = template(vec![component("c", ComponentType::Text, None, 1, 830.0)]).check(&a4).unwrap_err();
        assert!(e.contains("does not fit on page 1"), "{e}");
        let twice =
            vec![component("c", ComponentType::Text, None, 1, 1.0), component("c", ComponentType::Date, None, 1, 30.0)];
        assert!(template(twice).check(&a4).unwrap_err().contains("used twice"));
    }

    #[test]
    fn a_snapshot_id_is_the_same_for_the_same_definition_and_differs_for_any_change() {
        let base = template(vec![component("c", ComponentType::Text, Some("r1"), 1, 600.0)]);
        let id = base.content_id();
        assert_eq!(id.as_str().len(), 64);
        let mut applied_later = base.clone();
        (applied_later.created_on, applied_later.snapshot) = (99, id.clone());
        assert_eq!(applied_later.content_id(), id, "neither when it was applied nor its stored id counts");
        let changes: [fn(&mut Template); 9] = [
            |t| t.pdf_sha256 = "ab".into(),
            |t| t.name = "u".into(),
            |t| t.recipients[0].role_name = "乙方".into(),
            |t| t.recipients[0].routing_order = 2,
            |t| t.components[0].placement.y = 600.5,
            |t| t.components[0].placement.page = 2,
            |t| t.components[0].required = true,
            |t| t.components[0].extra = Some("{}".into()),
            |t| t.components[0].recipient_id = None,
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut t = base.clone();
            change(&mut t);
            assert_ne!(t.content_id(), id, "change {i}");
        }
        // Moving text from one field to the next is a change too: every string is length-prefixed.
        let (mut a, mut b) = (base.clone(), base.clone());
        (a.name, a.description) = ("ab".into(), String::new());
        (b.name, b.description) = ("a".into(), "b".into());
        assert_ne!(a.content_id(), b.content_id());
    }

    #[test]
    fn the_snapshot_encoding_never_changes() {
        // A new encoding would give every unchanged template a new snapshot on the next apply.
        let mut t = template(vec![component("c", ComponentType::SignSeal, Some("r1"), 1, 600.25)]);
        t.template_id = TemplateId::from_stored("yDwFoUUckpstqfvzUE1h3jo1f3cqjkGm".into());
        t.pdf_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into();
        assert_eq!(t.content_id().as_str(), "4b81605dcbefa70406df50fce74536d36d616b925fe9596fa35d704abc2775c5");
    }
}
