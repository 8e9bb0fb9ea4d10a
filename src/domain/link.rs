//! Sign links: an unguessable token that lets one signer open one contract group (or one
//! contract) without logging in. The token is shown once, in the link; the database keeps only
//! its SHA-256, so a dump of the database opens nothing. Which approvers a link speaks for is a
//! [`SignerKey`], the same for a signer in every contract of a group.

use std::fmt;

use sha2::{Digest, Sha256};

use super::flow::{Approver, Flow, SignerKind};
use super::id::{FlowGroupId, FlowId, SignId};
use super::tenancy::OrganizationName;
use super::{ExternalId, Mobile, PersonName};
use crate::error::{ApiError, Code, fail};

/// "如果不传，默认有效期为30分钟" (ChannelCreateBatchQuickSignUrl, ChannelCreateFlowSignUrl).
pub const DEFAULT_LIFETIME_SECONDS: i64 = 30 * 60;
/// `ExpiredOn`: "取值范围为 30分钟（1800）-90天（7776000）".
pub const MIN_LIFETIME_SECONDS: i64 = 1800;
pub const MAX_LIFETIME_SECONDS: i64 = 7_776_000;
/// CreateSignUrls: "签署链接的有效期为90天".
pub const SIGN_URLS_LIFETIME_SECONDS: i64 = 90 * 24 * 3600;

/// How long a link works: `ExpiredOn` seconds, or Tencent's 30 minutes when absent (or 0, which
/// the SDKs send for an unset integer in some languages). Out of range is `code`.
pub fn lifetime(value: Option<i64>, field: &str, code: Code) -> Result<i64, ApiError> {
    match value {
        None | Some(0) => Ok(DEFAULT_LIFETIME_SECONDS),
        Some(s) if (MIN_LIFETIME_SECONDS..=MAX_LIFETIME_SECONDS).contains(&s) => Ok(s),
        Some(s) => fail(
            code,
            format!(
                "The parameter `{field}` ({s}) must be {MIN_LIFETIME_SECONDS} (30 minutes) to {MAX_LIFETIME_SECONDS} (90 days) seconds."
            ),
        ),
    }
}

/// 256 random bits, written in a link as 43 characters of unpadded base64url.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkToken([u8; LinkToken::BYTES]);

impl LinkToken {
    pub const BYTES: usize = 32;
    /// Characters in a link: ⌈32 × 8 / 6⌉.
    pub const LEN: usize = 43;

    pub fn generate() -> LinkToken {
        use rand::RngCore;
        let mut bytes = [0u8; Self::BYTES];
        rand::rng().fill_bytes(&mut bytes);
        LinkToken(bytes)
    }

    /// Exactly what [`LinkToken::as_str`] writes: 43 base64url characters, no padding, no
    /// unused bits set (so each token has one spelling). Anything else is not a token.
    pub fn parse(s: &str) -> Option<LinkToken> {
        use base64::Engine;
        if s.len() != Self::LEN {
            return None;
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok()?;
        Some(LinkToken(bytes.try_into().ok()?))
    }

    pub fn as_str(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0)
    }

    /// What the database keeps: the hex SHA-256 of the token's bytes. A token has 256 bits of
    /// entropy, so an unsalted fast hash cannot be reversed by guessing.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.0))
    }
}

/// Never prints the token: it opens a contract.
impl fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkToken(…)")
    }
}

/// Who a link speaks for: the identity an approver is known by, the same in every contract of
/// a group. Auto-signers and dynamic approvers not filled in yet have none (they get no links),
/// but a dynamic approver's place can be handed out as a [`SignerKey::Recipient`] link.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SignerKey {
    ChannelEmployee {
        organization_open_id: String,
        open_id: String,
    },
    Person {
        name: String,
        mobile: String,
    },
    SaasEmployee {
        organization_name: String,
        name: String,
        mobile: String,
    },
    /// CreateSignUrls' `GenerateType` RECIPIENT: dynamic approvers not filled in yet, each a
    /// contract and the template's `RecipientId`. Whoever holds the link says on the page who
    /// they are (within what the platform preset: `Name`, `Mobile`, `OrganizationName`,
    /// `OrganizationOpenId`), fills every place, and the link becomes theirs: its key is
    /// rewritten to theirs. Until then it signs nothing (no approver matches it).
    Recipient {
        places: Vec<(String, String)>,
        preset: Preset,
    },
}

/// What the platform fixed of a RECIPIENT link's signer ("对补充的个人参与方信息进行限制").
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Preset {
    pub name: Option<String>,
    pub mobile: Option<String>,
    pub organization_name: Option<String>,
    pub organization_open_id: Option<String>,
}

impl SignerKey {
    pub fn of(a: &Approver) -> Option<SignerKey> {
        let get = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        match a.signer {
            SignerKind::ChannelEmployee => Some(SignerKey::ChannelEmployee {
                organization_open_id: get(&a.organization_open_id)?,
                open_id: get(&a.open_id)?,
            }),
            SignerKind::Person => Some(SignerKey::Person { name: get(&a.name)?, mobile: get(&a.mobile)? }),
            SignerKind::SaasEmployee => Some(SignerKey::SaasEmployee {
                organization_name: get(&a.organization_name)?,
                name: get(&a.name)?,
                mobile: get(&a.mobile)?,
            }),
            SignerKind::AutoSign | SignerKind::DynamicOrganization | SignerKind::DynamicPerson => None,
        }
    }

    pub fn matches(&self, a: &Approver) -> bool {
        SignerKey::of(a).as_ref() == Some(self)
    }

    /// The stored form: a tag, then each part as `byte length:value`, so no character in a
    /// name can be mistaken for a separator.
    pub fn encode(&self) -> String {
        let (tag, parts): (&str, Vec<&str>) = match self {
            SignerKey::ChannelEmployee { organization_open_id, open_id } => {
                ("CHANNEL_EMPLOYEE", vec![organization_open_id, open_id])
            }
            SignerKey::Person { name, mobile } => ("PERSON", vec![name, mobile]),
            SignerKey::SaasEmployee { organization_name, name, mobile } => {
                ("SAAS_EMPLOYEE", vec![organization_name, name, mobile])
            }
            // The preset's four parts ("" when not set), then each place's FlowId and RecipientId.
            SignerKey::Recipient { places, preset } => {
                fn opt(v: &Option<String>) -> &str {
                    v.as_deref().unwrap_or("")
                }
                let mut parts = vec![
                    opt(&preset.name),
                    opt(&preset.mobile),
                    opt(&preset.organization_name),
                    opt(&preset.organization_open_id),
                ];
                for (flow, recipient) in places {
                    parts.push(flow);
                    parts.push(recipient);
                }
                ("RECIPIENT", parts)
            }
        };
        let mut out = tag.to_owned();
        for p in parts {
            out.push_str(&format!("/{}:{p}", p.len()));
        }
        out
    }

    /// The inverse of [`SignerKey::encode`]; anything `encode` would not write is `None`.
    pub fn decode(s: &str) -> Option<SignerKey> {
        let (tag, mut rest) = s.split_at(s.find('/').unwrap_or(s.len()));
        let mut parts = Vec::new();
        while let Some(r) = rest.strip_prefix('/') {
            let (len, tail) = r.split_once(':')?;
            let len: usize = len.parse().ok()?;
            parts.push(tail.get(..len)?.to_owned());
            rest = tail.get(len..)?;
        }
        if !rest.is_empty() {
            return None;
        }
        let mut parts = parts.into_iter();
        let key = match (tag, parts.len()) {
            ("CHANNEL_EMPLOYEE", 2) => {
                SignerKey::ChannelEmployee { organization_open_id: parts.next()?, open_id: parts.next()? }
            }
            ("PERSON", 2) => SignerKey::Person { name: parts.next()?, mobile: parts.next()? },
            ("SAAS_EMPLOYEE", 3) => {
                SignerKey::SaasEmployee { organization_name: parts.next()?, name: parts.next()?, mobile: parts.next()? }
            }
            ("RECIPIENT", n) if n > 4 && n % 2 == 0 => {
                let mut opt = || parts.next().filter(|p| !p.is_empty());
                let preset =
                    Preset { name: opt(), mobile: opt(), organization_name: opt(), organization_open_id: opt() };
                let rest: Vec<String> = parts.collect();
                SignerKey::Recipient { places: rest.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect(), preset }
            }
            _ => return None,
        };
        (key.encode() == s).then_some(key)
    }

    /// `ApproverType` as the link actions answer it. (A RECIPIENT link's rows take each
    /// place's own type, person or organisation.)
    pub fn approver_type(&self) -> &'static str {
        match self {
            SignerKey::Person { .. } => "PERSON",
            _ => "ORGANIZATION",
        }
    }
}

/// What a link opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTarget {
    Group(FlowGroupId),
    Flow(FlowId),
}

/// A link about to be handed out.
#[derive(Debug, Clone)]
pub struct NewSignLink {
    pub token: LinkToken,
    pub app_id: ExternalId,
    pub target: LinkTarget,
    pub signer: SignerKey,
    /// `UrlType` 1: the link shows the contract and its state, and signs nothing.
    pub preview: bool,
    pub expires_at: i64,
    pub created_at: i64,
}

/// A link as stored, found by its token.
#[derive(Debug, Clone, PartialEq)]
pub struct SignLink {
    pub app_id: ExternalId,
    pub target: LinkTarget,
    pub signer: SignerKey,
    pub preview: bool,
    pub expires_at: i64,
    pub created_at: i64,
}

/// Which approvers a request names: every constraint given must hold. A `FlowApproverInfo`
/// names one signer (by SignId, by RecipientId, or by who they are); CreateSignUrls' filters
/// may name several.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignerQuery {
    pub sign_id: Option<SignId>,
    pub recipient_id: Option<String>,
    /// Empty: any kind that can have a link.
    pub kinds: Vec<SignerKind>,
    pub organization_open_id: Option<ExternalId>,
    pub organization_name: Option<OrganizationName>,
    pub open_id: Option<ExternalId>,
    pub name: Option<PersonName>,
    pub mobile: Option<Mobile>,
    /// Where the fields came from (`FlowApproverInfo`, or "" for top-level ones) and the
    /// `ApproverType` given, for messages.
    at: String,
    approver_type: Option<String>,
}

/// The raw fields of a `FlowApproverInfo` (or of CreateSignUrls' own filters) that name signers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignerFields<'a> {
    pub approver_type: Option<&'a str>,
    pub name: Option<&'a str>,
    pub mobile: Option<&'a str>,
    pub organization_name: Option<&'a str>,
    pub organization_open_id: Option<&'a str>,
    pub open_id: Option<&'a str>,
    pub not_channel_organization: bool,
    pub recipient_id: Option<&'a str>,
    pub sign_id: Option<&'a str>,
}

/// CreateSignUrls' `GenerateType`: whose links to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerateType {
    /// Every signer, auto-signers excepted ("不包括授权签署的签署方").
    All,
    /// Employees of a sub-organisation of this application.
    Channel,
    /// Employees of enterprises on Tencent's SaaS.
    NotChannel,
    Person,
    /// Dynamic signers not filled in yet, by contract and `RecipientId`: the link's holder
    /// fills them on the page.
    Recipient,
}

impl GenerateType {
    pub fn parse(value: Option<&str>, field: &str) -> Result<GenerateType, ApiError> {
        match value.unwrap_or("") {
            "" | "ALL" => Ok(GenerateType::All),
            "CHANNEL" => Ok(GenerateType::Channel),
            "NOT_CHANNEL" => Ok(GenerateType::NotChannel),
            "PERSON" => Ok(GenerateType::Person),
            "RECIPIENT" => Ok(GenerateType::Recipient),
            "FOLLOWER" => fail(
                Code::InvalidParameter_GenerateType,
                format!(
                    "The parameter `{field}` FOLLOWER is not supported by qianshu yet: use ALL, CHANNEL, NOT_CHANNEL, PERSON or RECIPIENT."
                ),
            ),
            other => fail(
                Code::InvalidParameter_GenerateType,
                format!("The parameter `{field}` {other:?} must be ALL, CHANNEL, NOT_CHANNEL, PERSON or RECIPIENT."),
            ),
        }
    }
}

fn field(at: &str, name: &str) -> String {
    if at.is_empty() { name.to_owned() } else { format!("{at}.{name}") }
}

fn given(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

impl SignerQuery {
    /// The identity fields, parsed, each a constraint when given.
    fn identity(f: &SignerFields, at: &str) -> Result<SignerQuery, ApiError> {
        let mut q = SignerQuery { at: at.to_owned(), ..SignerQuery::default() };
        if let Some(v) = given(f.organization_open_id) {
            q.organization_open_id = Some(ExternalId::parse(Some(v), &field(at, "OrganizationOpenId"))?);
        }
        if let Some(v) = given(f.organization_name) {
            q.organization_name = Some(OrganizationName::parse(Some(v), &field(at, "OrganizationName"))?);
        }
        if let Some(v) = given(f.open_id) {
            q.open_id = Some(ExternalId::parse(Some(v), &field(at, "OpenId"))?);
        }
        if let Some(v) = given(f.name) {
            q.name = Some(PersonName::parse(Some(v), &field(at, "Name"))?);
        }
        if let Some(v) = given(f.mobile) {
            q.mobile = Some(Mobile::parse(v, &field(at, "Mobile"))?);
        }
        Ok(q)
    }

    /// One `FlowApproverInfo` naming one signer: by `SignId`, by `RecipientId`, by `OpenId`
    /// (with `OrganizationOpenId`, the Agent's organisation when absent), or by `Name` and
    /// `Mobile` (with `OrganizationName` for an enterprise outside this application,
    /// `NotChannelOrganization` true). `ApproverType`, when given, must be the signer's.
    pub fn approver(f: &SignerFields, at: &str, initiator: &ExternalId) -> Result<SignerQuery, ApiError> {
        let mut q = SignerQuery::identity(f, at)?;
        if let Some(v) = given(f.sign_id) {
            q.sign_id = Some(SignId::parse(Some(v), &field(at, "SignId"))?);
        }
        if let Some(v) = given(f.recipient_id) {
            q.recipient_id = Some(v.to_owned());
        }
        match given(f.approver_type) {
            None => {}
            Some("PERSON") => q.kinds = vec![SignerKind::Person],
            Some("ORGANIZATION") if f.not_channel_organization => q.kinds = vec![SignerKind::SaasEmployee],
            Some("ORGANIZATION") => q.kinds = vec![SignerKind::ChannelEmployee, SignerKind::SaasEmployee],
            Some("ENTERPRISESERVER") => {
                return fail(
                    Code::InvalidParameter_ApproverType,
                    format!(
                        "`{}` ENTERPRISESERVER: an auto-signer signs by itself and gets no link.",
                        field(at, "ApproverType")
                    ),
                );
            }
            Some(other) => {
                return fail(
                    Code::InvalidParameter_ApproverType,
                    format!("`{}` {other} must be PERSON or ORGANIZATION.", field(at, "ApproverType")),
                );
            }
        }
        q.approver_type = given(f.approver_type).map(str::to_owned);
        // A person belongs to no organisation, and an employee's OpenId says who they are
        // whatever the other fields say ("如果传进来的OpenId已经实名并且加入企业，则忽略Name，
        // IdCardType，IdCardNumber，Mobile"): such fields narrow nothing.
        if q.kinds == [SignerKind::Person] {
            (q.organization_open_id, q.organization_name, q.open_id) = (None, None, None);
        }
        if q.open_id.is_some() {
            (q.organization_name, q.name, q.mobile) = (None, None, None);
            if q.organization_open_id.is_none() {
                q.organization_open_id = Some(initiator.clone());
            }
        }
        if q.sign_id.is_some() || q.recipient_id.is_some() {
            return Ok(q);
        }
        let missing = |name: &str| {
            ApiError::new(Code::MissingParameter, format!("The parameter `{}` is required.", field(at, name)))
        };
        if f.not_channel_organization && q.organization_name.is_none() {
            return Err(missing("OrganizationName"));
        }
        if q.open_id.is_some() {
            return Ok(q);
        }
        match (&q.name, &q.mobile) {
            (Some(_), Some(_)) => Ok(q),
            (None, _) if q.kinds == [SignerKind::Person] => Err(missing("Name")),
            (Some(_), None) => Err(missing("Mobile")),
            _ => fail(
                Code::MissingParameter,
                format!(
                    "`{at}` names no signer: give `{}`, `{}`, `{}` (an employee of this application's organization), or `{}` and `{}`.",
                    field(at, "SignId"),
                    field(at, "RecipientId"),
                    field(at, "OpenId"),
                    field(at, "Name"),
                    field(at, "Mobile")
                ),
            ),
        }
    }

    /// CreateSignUrls' filters for `kind`: CHANNEL needs `OrganizationOpenId` (and may name an
    /// `OpenId`), NOT_CHANNEL `OrganizationName`, PERSON `Name` and `Mobile`; the other
    /// identity fields narrow the choice when given. ALL takes every signer.
    pub fn generate(kind: GenerateType, f: &SignerFields) -> Result<SignerQuery, ApiError> {
        let missing = |name: &str, why: &str| {
            ApiError::new(
                Code::MissingParameter,
                format!("The parameter `{name}` is required when `GenerateType` is {why}."),
            )
        };
        if kind == GenerateType::All {
            return Ok(SignerQuery::default());
        }
        let mut q = SignerQuery::identity(f, "")?;
        match kind {
            GenerateType::All => {}
            GenerateType::Recipient => {
                return fail(
                    Code::InvalidParameter_GenerateType,
                    "`GenerateType` RECIPIENT names dynamic signers' places (`FlowGroupUrlInfo`), not signers.",
                );
            }
            GenerateType::Channel => {
                if q.organization_open_id.is_none() {
                    return Err(missing("OrganizationOpenId", "CHANNEL"));
                }
                q.kinds = vec![SignerKind::ChannelEmployee];
            }
            GenerateType::NotChannel => {
                if q.organization_name.is_none() {
                    return Err(missing("OrganizationName", "NOT_CHANNEL"));
                }
                q.kinds = vec![SignerKind::SaasEmployee];
            }
            GenerateType::Person => {
                if q.name.is_none() {
                    return Err(missing("Name", "PERSON"));
                }
                if q.mobile.is_none() {
                    return Err(missing("Mobile", "PERSON"));
                }
                q.kinds = vec![SignerKind::Person];
            }
        }
        Ok(q)
    }

    /// Does approver `a` meet every constraint? (It may still have no key: see [`SignerKey::of`].)
    pub fn matches(&self, a: &Approver) -> bool {
        fn eq(want: Option<&str>, have: &Option<String>) -> bool {
            want.is_none_or(|w| have.as_deref() == Some(w))
        }
        self.sign_id.as_ref().is_none_or(|s| s == &a.sign_id)
            && self.recipient_id.as_ref().is_none_or(|r| r == &a.recipient_id)
            && (self.kinds.is_empty() || self.kinds.contains(&a.signer))
            && eq(self.organization_open_id.as_ref().map(ExternalId::as_str), &a.organization_open_id)
            && eq(self.organization_name.as_ref().map(OrganizationName::as_str), &a.organization_name)
            && eq(self.open_id.as_ref().map(ExternalId::as_str), &a.open_id)
            && eq(self.name.as_ref().map(PersonName::as_str), &a.name)
            && eq(self.mobile.as_ref().map(Mobile::as_str), &a.mobile)
    }

    /// The constraints, as the fields they came from (`FlowApproverInfo.Name 张三`), for messages.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            ("ApproverType", self.approver_type.clone()),
            ("SignId", self.sign_id.as_ref().map(|s| s.as_str().to_owned())),
            ("RecipientId", self.recipient_id.clone()),
            ("OrganizationOpenId", self.organization_open_id.as_ref().map(ToString::to_string)),
            ("OrganizationName", self.organization_name.as_ref().map(|n| n.as_str().to_owned())),
            ("OpenId", self.open_id.as_ref().map(ToString::to_string)),
            ("Name", self.name.as_ref().map(|n| n.as_str().to_owned())),
            ("Mobile", self.mobile.as_ref().map(|m| m.as_str().to_owned())),
        ]
        .into_iter()
        .filter_map(|(name, v)| v.map(|v| format!("{} {v}", field(&self.at, name))))
        .collect();
        if parts.is_empty() { "any signer".to_owned() } else { parts.join(", ") }
    }

    /// The one signer this query names among `flows`, with the first approver that is them
    /// (in contract order, then approver order). Nobody: `ResourceNotFound.FlowApprover`; an
    /// auto-signer or a dynamic approver not filled in yet: `OperationDenied`; several people:
    /// `InvalidParameter`, asking for a narrower description.
    pub fn find<'a>(&self, flows: &'a [Flow], at: &str) -> Result<(SignerKey, &'a Approver), ApiError> {
        let mut found: Option<(SignerKey, &Approver)> = None;
        let mut keyless: Option<&Approver> = None;
        for a in flows.iter().flat_map(|f| &f.approvers).filter(|a| self.matches(a)) {
            match (SignerKey::of(a), &found) {
                (None, _) => keyless = keyless.or(Some(a)),
                (Some(k), None) => found = Some((k, a)),
                (Some(k), Some((first, _))) if &k != first => {
                    return fail(
                        Code::InvalidParameter,
                        format!(
                            "`{at}` ({}) fits more than one signer of these contracts; name the signer by `{}` or `{}` and `{}`.",
                            self.describe(),
                            field(at, "SignId"),
                            field(at, "Name"),
                            field(at, "Mobile")
                        ),
                    );
                }
                _ => {}
            }
        }
        match (found, keyless) {
            (Some(found), _) => Ok(found),
            (None, Some(a)) if a.signer == SignerKind::AutoSign => fail(
                Code::OperationDenied,
                format!(
                    "`{at}` ({}) names an auto-signer (ENTERPRISESERVER): it signs by itself and gets no link.",
                    self.describe()
                ),
            ),
            (None, Some(_)) => fail(
                Code::OperationDenied,
                format!(
                    "`{at}` ({}) names a dynamic signer who has not been filled in yet (ChannelCreateFlowApprovers, or a CreateSignUrls RECIPIENT link whose holder fills it).",
                    self.describe()
                ),
            ),
            (None, None) => fail(
                Code::ResourceNotFound_FlowApprover,
                format!("`{at}`: no signer of these contracts is {}.", self.describe()),
            ),
        }
    }
}

#[cfg(test)]
mod tests;
