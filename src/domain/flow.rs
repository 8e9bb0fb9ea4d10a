//! Contract groups (合同组) and their flows: the request once parsed, and the rules that tie it
//! to the application, the initiator and the templates. `plan` is pure: it decides everything a
//! `ChannelCreateFlowGroupByTemplates` call writes, or which rule the call breaks.

use std::collections::{HashMap, HashSet};

use super::document::{DynamicTable, ImageFit, Metrics, TextStyle, selector_options, set_text};
use super::file::StoredFile;
use super::id::{FileId, FlowGroupId, FlowId, SignId, TaskId, TemplateId};
use super::review::{SignReview, needs_review};
use super::template::{Component, ComponentType, Recipient, RecipientType, SnapshotId, Template};
use super::tenancy::{Application, Feature, Operator, Organization, OrganizationName};
use super::{ExternalId, IdCard, Mobile, PersonName, at_most, name_chars, required};
use crate::error::{ApiError, Code, fail};

pub const MIN_FLOWS: usize = 2;
pub const MAX_FLOWS: usize = 50;
/// "如果未设置签署截止时间，则默认为合同流程创建后的365天时截止".
pub const DEFAULT_DEADLINE_SECONDS: i64 = 365 * 24 * 3600;
/// The largest deadline the API documents (FlowFileInfo.Deadline).
pub const MAX_DEADLINE: i64 = 33_162_419_560;

/// A name of Chinese characters, letters, digits and underscores, at most 200 of them.
fn checked_name(value: Option<&str>, field: &str, code: Code) -> Result<String, ApiError> {
    let v = required(value, field)?;
    name_chars(v, 200, field, code)?;
    Ok(v.to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowGroupName(String);

impl FlowGroupName {
    pub fn parse(value: Option<&str>, field: &str) -> Result<FlowGroupName, ApiError> {
        checked_name(value, field, Code::InvalidParameter).map(FlowGroupName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowName(String);

impl FlowName {
    pub fn parse(value: Option<&str>, field: &str) -> Result<FlowName, ApiError> {
        checked_name(value, field, Code::InvalidParameter_FlowName).map(FlowName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `FlowType`: optional, same characters as names.
pub fn flow_type(value: Option<&str>, field: &str) -> Result<Option<String>, ApiError> {
    match value.filter(|v| !v.is_empty()) {
        Some(v) => checked_name(Some(v), field, Code::InvalidParameter_FlowType).map(Some),
        None => Ok(None),
    }
}

/// `FlowDescription`: at most 1000 characters.
pub fn flow_description(value: Option<&str>, field: &str) -> Result<Option<String>, ApiError> {
    match value.filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > 1000 => fail(
            Code::InvalidParameter_FlowDescription,
            format!("The parameter `{field}` is longer than 1000 characters."),
        ),
        other => Ok(other.map(str::to_owned)),
    }
}

/// `CustomerData`: base64, at most 1000 characters, passed back unchanged.
pub fn customer_data(value: Option<&str>, field: &str) -> Result<Option<String>, ApiError> {
    use base64::Engine;
    match value.filter(|v| !v.is_empty()) {
        Some(v) if v.len() > 1000 => fail(
            Code::InvalidParameter_CustomerData,
            format!("The parameter `{field}` is longer than 1000 characters."),
        ),
        Some(v) if base64::engine::general_purpose::STANDARD.decode(v).is_err() => {
            fail(Code::InvalidParameter_CustomerData, format!("The parameter `{field}` must be base64."))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

/// `Deadline`: Unix seconds in the future; absent means 365 days after creation.
pub fn deadline(value: Option<i64>, now: i64, field: &str) -> Result<i64, ApiError> {
    match value {
        None | Some(0) => Ok(now + DEFAULT_DEADLINE_SECONDS),
        Some(d) if d <= now => {
            fail(Code::InvalidParameter_FlowDeadLine, format!("The parameter `{field}` ({d}) is not in the future."))
        }
        Some(d) if d > MAX_DEADLINE => {
            fail(Code::InvalidParameter_FlowDeadLine, format!("The parameter `{field}` ({d}) is past {MAX_DEADLINE}."))
        }
        Some(d) => Ok(d),
    }
}

/// Who signs in an approver's place.
#[derive(Debug, Clone, PartialEq)]
pub enum Signer {
    /// An employee of a sub-organisation of this application: the initiator's own (scenario 1)
    /// or another one (scenario 2). Name and mobile may come from the operator record.
    ChannelEmployee {
        organization_open_id: ExternalId,
        organization_name: Option<OrganizationName>,
        open_id: ExternalId,
        name: Option<PersonName>,
        mobile: Option<Mobile>,
    },
    /// A natural person (scenario 3).
    Person {
        name: PersonName,
        mobile: Mobile,
        id_card: Option<IdCard>,
    },
    /// An employee of an enterprise on Tencent's own SaaS, outside the platform (scenario 4).
    SaasEmployee {
        organization_name: OrganizationName,
        name: PersonName,
        mobile: Mobile,
    },
    /// Left empty (ApproverOption.FillType = 1) and supplied later; an enterprise one may name
    /// its sub-organisation.
    DynamicOrganization {
        organization_open_id: Option<ExternalId>,
    },
    DynamicPerson,
    /// The initiating organisation signs by itself (ENTERPRISESERVER).
    AutoSign,
}

impl Signer {
    pub fn kind(&self) -> SignerKind {
        match self {
            Signer::ChannelEmployee { .. } => SignerKind::ChannelEmployee,
            Signer::Person { .. } => SignerKind::Person,
            Signer::SaasEmployee { .. } => SignerKind::SaasEmployee,
            Signer::DynamicOrganization { .. } => SignerKind::DynamicOrganization,
            Signer::DynamicPerson => SignerKind::DynamicPerson,
            Signer::AutoSign => SignerKind::AutoSign,
        }
    }
}

/// Which of the [`Signer`] cases an approver is, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerKind {
    ChannelEmployee,
    Person,
    SaasEmployee,
    DynamicOrganization,
    DynamicPerson,
    AutoSign,
}

impl SignerKind {
    const ALL: [SignerKind; 6] = [
        SignerKind::ChannelEmployee,
        SignerKind::Person,
        SignerKind::SaasEmployee,
        SignerKind::DynamicOrganization,
        SignerKind::DynamicPerson,
        SignerKind::AutoSign,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignerKind::ChannelEmployee => "CHANNEL_EMPLOYEE",
            SignerKind::Person => "PERSON",
            SignerKind::SaasEmployee => "SAAS_EMPLOYEE",
            SignerKind::DynamicOrganization => "DYNAMIC_ORGANIZATION",
            SignerKind::DynamicPerson => "DYNAMIC_PERSON",
            SignerKind::AutoSign => "AUTO_SIGN",
        }
    }

    pub fn parse(s: &str) -> Option<SignerKind> {
        SignerKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The API's `ApproverType` as given at creation.
    pub fn approver_type(self) -> &'static str {
        match self {
            SignerKind::Person | SignerKind::DynamicPerson => "PERSON",
            SignerKind::AutoSign => "ENTERPRISESERVER",
            _ => "ORGANIZATION",
        }
    }

    pub fn is_dynamic(self) -> bool {
        matches!(self, SignerKind::DynamicOrganization | SignerKind::DynamicPerson)
    }

    /// Signs for an enterprise (as opposed to a natural person).
    pub fn is_enterprise(self) -> bool {
        !matches!(self, SignerKind::Person | SignerKind::DynamicPerson)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApproverRequest {
    pub recipient_id: String,
    pub signer: Signer,
    /// `ApproverRoleName`, the caller's own label for the role.
    pub custom_role_name: Option<String>,
    pub page: PageOptions,
    /// `ApproverNeedSignReview`: their signing waits for the initiator's review.
    pub need_sign_review: bool,
}

/// How the signing page treats an approver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageOptions {
    /// `PreReadTime`: seconds the page holds the sign button while the signer reads.
    pub pre_read_seconds: i64,
    /// `ApproverOption.NoRefuse`: the page offers no refusing.
    pub no_refuse: bool,
}

/// Which component a form field fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentRef {
    Id(String),
    Name(String),
}

impl ComponentRef {
    pub fn refers_to(&self, c: &Component) -> bool {
        match self {
            ComponentRef::Id(id) => &c.component_id == id,
            ComponentRef::Name(name) => &c.component_name == name,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FormFieldRequest {
    pub component: ComponentRef,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlowRequest {
    pub name: FlowName,
    pub template_id: TemplateId,
    pub deadline: Option<i64>,
    pub approvers: Vec<ApproverRequest>,
    pub form_fields: Vec<FormFieldRequest>,
    pub options: FlowOptions,
}

/// What a flow carries through unchanged: its labels and the caller's own data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowOptions {
    pub flow_type: Option<String>,
    pub description: Option<String>,
    pub customer_data: Option<String>,
    pub custom_show_map: Option<String>,
    pub need_sign_review: bool,
    pub display_type: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlowGroupRequest {
    pub name: FlowGroupName,
    pub flows: Vec<FlowRequest>,
}

/// Lifecycle of a flow (`FlowDetailInfo.FlowStatus`): `INIT` until someone signs, `PART` while
/// some have, `ALL` when everyone has; `REJECT` when a signer refused, `CANCEL` when the
/// initiator cancelled it, `DEADLINE` when its deadline passed before it was complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowStatus {
    Init,
    Part,
    All,
    Reject,
    Cancel,
    Deadline,
}

impl FlowStatus {
    const ALL: [FlowStatus; 6] = [
        FlowStatus::Init,
        FlowStatus::Part,
        FlowStatus::All,
        FlowStatus::Reject,
        FlowStatus::Cancel,
        FlowStatus::Deadline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FlowStatus::Init => "INIT",
            FlowStatus::Part => "PART",
            FlowStatus::All => "ALL",
            FlowStatus::Reject => "REJECT",
            FlowStatus::Cancel => "CANCEL",
            FlowStatus::Deadline => "DEADLINE",
        }
    }

    pub fn parse(s: &str) -> Option<FlowStatus> {
        FlowStatus::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// Still being signed: signers may sign or refuse, the initiator may cancel.
    pub fn is_live(self) -> bool {
        matches!(self, FlowStatus::Init | FlowStatus::Part)
    }
}

/// `FlowApproverDetail.ApproveStatus`: what a pending approver becomes when the contract ends
/// without them is the contract's end (`CANCEL`, `DEADLINE`: "流程已撤回", "过期没人处理").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApproveStatus {
    Pending,
    Accept,
    Reject,
    Cancel,
    Deadline,
}

impl ApproveStatus {
    const ALL: [ApproveStatus; 5] = [
        ApproveStatus::Pending,
        ApproveStatus::Accept,
        ApproveStatus::Reject,
        ApproveStatus::Cancel,
        ApproveStatus::Deadline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApproveStatus::Pending => "PENDING",
            ApproveStatus::Accept => "ACCEPT",
            ApproveStatus::Reject => "REJECT",
            ApproveStatus::Cancel => "CANCEL",
            ApproveStatus::Deadline => "DEADLINE",
        }
    }

    pub fn parse(s: &str) -> Option<ApproveStatus> {
        ApproveStatus::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// An approver as stored and shown: who, for which role, with the identity we know.
#[derive(Debug, Clone, PartialEq)]
pub struct Approver {
    pub recipient_id: String,
    pub sign_id: SignId,
    pub signer: SignerKind,
    /// The template's role name.
    pub role_name: String,
    pub custom_role_name: Option<String>,
    pub organization_open_id: Option<String>,
    pub organization_name: Option<String>,
    pub open_id: Option<String>,
    pub name: Option<String>,
    pub mobile: Option<String>,
    pub id_card: Option<IdCard>,
    /// The template recipient's `RoutingOrder`: an approver is due once every approver with a
    /// lower one has signed; equal orders sign in parallel.
    pub routing_order: i64,
    pub page: PageOptions,
    pub status: ApproveStatus,
    /// When the approver signed or refused (Unix seconds), and the reason given for refusing.
    pub approve_time: Option<i64>,
    pub approve_message: Option<String>,
    /// Whether their signing waits for the initiator's review, and the latest result.
    pub review: SignReview,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub flow_id: FlowId,
    /// The group it belongs to: id and name.
    pub group: Option<(FlowGroupId, String)>,
    pub organization_open_id: String,
    pub operator_open_id: String,
    pub template_id: TemplateId,
    /// The version of the template the contract was made from, which is all it is ever read
    /// from (`Store::flow_template`): applying a changed template leaves the contract as it is.
    pub template_snapshot: SnapshotId,
    pub name: String,
    pub options: FlowOptions,
    pub status: FlowStatus,
    /// Why the flow ended when a signer refused it or the initiator cancelled it (`FlowMessage`).
    pub flow_message: Option<String>,
    pub deadline: i64,
    pub created_on: i64,
    pub approvers: Vec<Approver>,
    /// Initiator-filled values by ComponentId, in template order.
    pub fields: Vec<(String, String)>,
    /// The task that makes a document needing heavy synthesis (a dynamic table), reported
    /// in `TaskInfos`; other documents are made without one being handed out.
    pub document_task: Option<TaskId>,
}

/// Fixtures for the unit tests of everything that reads contracts: a pending approver and a
/// live contract with neutral values, which a test overrides where it matters
/// (`Approver { name: …, ..Approver::pending("R", SignerKind::Person) }`).
#[cfg(test)]
impl Approver {
    pub(crate) fn pending(recipient_id: &str, signer: SignerKind) -> Approver {
        Approver {
            recipient_id: recipient_id.into(),
            sign_id: SignId::generate(),
            signer,
            role_name: "甲方".into(),
            custom_role_name: None,
            organization_open_id: None,
            organization_name: None,
            open_id: None,
            name: None,
            mobile: None,
            id_card: None,
            routing_order: 1,
            page: PageOptions::default(),
            status: ApproveStatus::Pending,
            approve_time: None,
            approve_message: None,
            review: SignReview::NotNeeded,
        }
    }
}

#[cfg(test)]
impl Flow {
    pub(crate) fn live(approvers: Vec<Approver>) -> Flow {
        Flow {
            flow_id: FlowId::generate(),
            group: None,
            organization_open_id: "kev_open_organization_8".into(),
            operator_open_id: "kev_8".into(),
            template_id: TemplateId::generate(),
            template_snapshot: SnapshotId::default(),
            name: "合同".into(),
            options: FlowOptions::default(),
            status: FlowStatus::Init,
            flow_message: None,
            deadline: 0,
            created_on: 0,
            approvers,
            fields: Vec::new(),
            document_task: None,
        }
    }
}

/// Everything one successful `ChannelCreateFlowGroupByTemplates` writes.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowGroup {
    pub app_id: ExternalId,
    pub flow_group_id: FlowGroupId,
    pub name: FlowGroupName,
    pub organization_open_id: ExternalId,
    pub operator_open_id: ExternalId,
    pub created_on: i64,
    pub flows: Vec<Flow>,
}

/// What `plan` needs to know beyond the request.
pub struct Context<'a> {
    pub app: &'a Application,
    pub organization: &'a Organization,
    pub operator: &'a Operator,
    pub templates: &'a HashMap<TemplateId, std::sync::Arc<Template>>,
    /// Sub-organisations and operators of this application that approvers name, when known.
    pub organizations: &'a HashMap<ExternalId, Organization>,
    pub operators: &'a HashMap<(ExternalId, ExternalId), Operator>,
    /// Uploaded files that `FormFields` values name, when they exist.
    pub files: &'a HashMap<FileId, StoredFile>,
    /// Font metrics, to refuse text that cannot fit its box; `None` when no font is
    /// configured (documents then fail at synthesis with an error naming the setting).
    pub metrics: Option<&'a (dyn Metrics + Sync)>,
    pub now: i64,
}

impl Context<'_> {
    pub fn values(&self) -> Values<'_> {
        Values { app_id: &self.app.app_id, files: self.files, metrics: self.metrics, now: self.now }
    }
}

/// What checking a component's value needs, whoever fills it: the initiator at creation or a
/// signer at signing.
pub struct Values<'a> {
    pub app_id: &'a ExternalId,
    /// Uploaded files that `FILL_IMAGE` values name, when they exist.
    pub files: &'a HashMap<FileId, StoredFile>,
    pub metrics: Option<&'a (dyn Metrics + Sync)>,
    pub now: i64,
}

/// Checks a parsed request against the application, templates and known people, and decides
/// the ids, deadlines and stored identities of everything it creates.
pub fn plan(req: FlowGroupRequest, ctx: &Context) -> Result<FlowGroup, ApiError> {
    let mut flows = Vec::with_capacity(req.flows.len());
    for (i, f) in req.flows.into_iter().enumerate() {
        flows.push(plan_flow(f, i, ctx)?);
    }
    Ok(FlowGroup {
        app_id: ctx.app.app_id.clone(),
        flow_group_id: FlowGroupId::generate(),
        name: req.name,
        organization_open_id: ctx.organization.open_id.clone(),
        operator_open_id: ctx.operator.open_id.clone(),
        created_on: ctx.now,
        flows,
    })
}

fn plan_flow(f: FlowRequest, i: usize, ctx: &Context) -> Result<Flow, ApiError> {
    let at = |rest: &str| format!("FlowInfos.{i}.{rest}");
    let template = ctx.templates.get(&f.template_id).ok_or_else(|| {
        ApiError::new(
            Code::ResourceNotFound_Template,
            format!(
                "The template `{}` ({}) does not exist in this application.",
                f.template_id.as_str(),
                at("TemplateId")
            ),
        )
    })?;
    let deadline = deadline(f.deadline, ctx.now, &at("Deadline"))?;
    match_recipients(&f.approvers, template, i)?;

    let mut approvers = Vec::with_capacity(f.approvers.len());
    for (j, (a, r)) in f.approvers.iter().zip(&template.recipients).enumerate() {
        let mut approver = plan_approver(a, r, template, &at(&format!("FlowApprovers.{j}")), ctx)?;
        if needs_review(&approver, a.need_sign_review, f.options.need_sign_review, ctx.organization.open_id.as_str()) {
            approver.review = SignReview::Awaiting;
        }
        approvers.push(approver);
    }
    if let Some(map) = &f.options.custom_show_map {
        check_custom_show_map(map, approvers.len(), &at("CustomShowMap"))?;
    }
    let fields = fill(&f.form_fields, template, &at("FormFields"), ctx)?;
    let heavy = fields.iter().any(|(id, _)| {
        template.components.iter().any(|c| &c.component_id == id && c.component_type == ComponentType::DynamicTable)
    });
    Ok(Flow {
        flow_id: FlowId::generate(),
        group: None,
        organization_open_id: ctx.organization.open_id.to_string(),
        operator_open_id: ctx.operator.open_id.to_string(),
        template_id: f.template_id,
        template_snapshot: template.snapshot.clone(),
        name: f.name.0,
        options: f.options,
        status: FlowStatus::Init,
        flow_message: None,
        deadline,
        created_on: ctx.now,
        approvers,
        document_task: heavy.then(TaskId::generate),
        fields,
    })
}

/// Approvers must be the template's recipients, one for one, in the template's order.
fn match_recipients(approvers: &[ApproverRequest], template: &Template, i: usize) -> Result<(), ApiError> {
    let at = format!("FlowInfos.{i}.FlowApprovers");
    let mut seen = HashSet::new();
    for (j, a) in approvers.iter().enumerate() {
        if !seen.insert(a.recipient_id.as_str()) {
            return fail(
                Code::InvalidParameter_BizApproverAlreadyExists,
                format!("`{at}.{j}.RecipientId` names recipient `{}` a second time.", a.recipient_id),
            );
        }
        if !template.recipients.iter().any(|r| r.recipient_id == a.recipient_id) {
            return fail(
                Code::InvalidParameter_FlowApprovers,
                format!(
                    "`{at}.{j}.RecipientId` `{}` is not a recipient of template `{}`.",
                    a.recipient_id,
                    template.template_id.as_str()
                ),
            );
        }
    }
    if let Some(missing) = template.recipients.iter().find(|r| !seen.contains(r.recipient_id.as_str())) {
        return fail(
            Code::InvalidParameter_FlowApprovers,
            format!(
                "`{at}` has no approver for recipient `{}` ({}) of the template.",
                missing.recipient_id, missing.role_name
            ),
        );
    }
    for (j, (a, r)) in approvers.iter().zip(&template.recipients).enumerate() {
        if a.recipient_id != r.recipient_id {
            return fail(
                Code::InvalidParameter_FlowApprovers,
                format!(
                    "`{at}` must follow the template's order: position {j} is recipient `{}` ({}), not `{}`.",
                    r.recipient_id, r.role_name, a.recipient_id
                ),
            );
        }
    }
    Ok(())
}

fn plan_approver(
    a: &ApproverRequest,
    recipient: &Recipient,
    template: &Template,
    at: &str,
    ctx: &Context,
) -> Result<Approver, ApiError> {
    let (recipient_type, role_name) = (recipient.recipient_type, recipient.role_name.as_str());
    let enterprise_role = recipient_type != RecipientType::Individual;
    let kind = a.signer.kind();
    if kind.is_enterprise() != enterprise_role {
        return fail(
            Code::InvalidParameter_ApproverType,
            format!(
                "`{at}.ApproverType` {} does not fit recipient `{}` ({}), a {} role.",
                kind.approver_type(),
                a.recipient_id,
                role_name,
                recipient_type.as_str()
            ),
        );
    }
    if kind.is_dynamic() && !ctx.app.features.contains(&Feature::DynamicSigner) {
        return fail(
            Code::UnauthorizedOperation_NoPermissionFeature,
            format!(
                "`{at}.ApproverOption.FillType` 1 (dynamic signer) needs the application's DYNAMIC_SIGNER feature."
            ),
        );
    }
    let mut approver = Approver {
        recipient_id: a.recipient_id.clone(),
        sign_id: SignId::generate(),
        signer: kind,
        role_name: role_name.to_owned(),
        custom_role_name: a.custom_role_name.clone(),
        organization_open_id: None,
        organization_name: None,
        open_id: None,
        name: None,
        mobile: None,
        id_card: None,
        routing_order: recipient.routing_order,
        page: a.page,
        status: ApproveStatus::Pending,
        approve_time: None,
        approve_message: None,
        review: SignReview::NotNeeded,
    };
    match &a.signer {
        Signer::AutoSign => {
            if !ctx.app.features.contains(&Feature::AutoSign) {
                return fail(
                    Code::UnauthorizedOperation_NoPermissionFeature,
                    format!(
                        "`{at}.ApproverType` ENTERPRISESERVER (enterprise auto-sign) needs the application's AUTO_SIGN feature."
                    ),
                );
            }
            if let Some(c) = template
                .components
                .iter()
                .find(|c| c.recipient_id.as_deref() == Some(a.recipient_id.as_str()) && !c.component_type.is_sign())
            {
                return fail(
                    Code::OperationDenied,
                    format!(
                        "`{at}`: recipient `{}` owns the fill component `{}`, and an auto-signer cannot fill components.",
                        a.recipient_id, c.component_id
                    ),
                );
            }
            approver.organization_open_id = Some(ctx.organization.open_id.to_string());
            approver.organization_name = Some(ctx.organization.name.as_str().to_owned());
        }
        Signer::ChannelEmployee { organization_open_id, organization_name, open_id, name, mobile } => {
            let known_org = ctx.organizations.get(organization_open_id);
            let org_name = organization_name
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .or_else(|| known_org.map(|o| o.name.as_str().to_owned()))
                .ok_or_else(|| {
                    ApiError::new(
                        Code::MissingParameter,
                        format!("`{at}.OrganizationName` is required: `{organization_open_id}` is not a sub-organization yet."),
                    )
                })?;
            let operator = ctx.operators.get(&(organization_open_id.clone(), open_id.clone()));
            let name = name
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .or_else(|| operator.and_then(|o| o.name.as_ref()).map(|n| n.as_str().to_owned()));
            let mobile = mobile
                .as_ref()
                .map(|m| m.as_str().to_owned())
                .or_else(|| operator.and_then(|o| o.mobile.as_ref()).map(|m| m.as_str().to_owned()));
            if operator.is_none() && (name.is_none() || mobile.is_none()) {
                return fail(
                    Code::MissingParameter,
                    format!(
                        "`{at}.Name` and `{at}.Mobile` are required: `{open_id}` is not an employee of `{organization_open_id}` yet."
                    ),
                );
            }
            approver.organization_open_id = Some(organization_open_id.to_string());
            approver.organization_name = Some(org_name);
            approver.open_id = Some(open_id.to_string());
            approver.name = name;
            approver.mobile = mobile;
        }
        Signer::Person { name, mobile, id_card } => {
            approver.name = Some(name.as_str().to_owned());
            approver.mobile = Some(mobile.as_str().to_owned());
            approver.id_card = id_card.clone();
        }
        Signer::SaasEmployee { organization_name, name, mobile } => {
            approver.organization_name = Some(organization_name.as_str().to_owned());
            approver.name = Some(name.as_str().to_owned());
            approver.mobile = Some(mobile.as_str().to_owned());
        }
        Signer::DynamicOrganization { organization_open_id } => {
            approver.organization_open_id = organization_open_id.as_ref().map(ToString::to_string);
            approver.organization_name = organization_open_id
                .as_ref()
                .and_then(|o| ctx.organizations.get(o))
                .map(|o| o.name.as_str().to_owned());
        }
        Signer::DynamicPerson => {}
    }
    Ok(approver)
}

/// `{签署方N企业}`/`{签署方N姓名}` may only name signers that exist.
fn check_custom_show_map(map: &str, signers: usize, field: &str) -> Result<(), ApiError> {
    at_most(map, 1000, field).map_err(|e| ApiError::new(Code::InvalidParameter_CustomShowMap, e.message))?;
    let mut rest = map;
    while let Some(start) = rest.find("{签署方") {
        let after = &rest[start + "{签署方".len()..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        let n: usize = digits.parse().unwrap_or(0);
        if n == 0 || n > signers {
            return fail(
                Code::InvalidParameter_CustomShowMap,
                format!("The parameter `{field}` names signer {digits:?}; this contract has signers 1 to {signers}."),
            );
        }
        rest = &after[digits.len()..];
    }
    Ok(())
}

const DATE_FORMAT: &str = "YYYY年MM月DD日";

/// Is `value` a real date written `YYYY年MM月DD日`?
pub fn is_chinese_date(value: &str) -> bool {
    let parts: Option<(i32, u8, u8)> = (|| {
        let (y, rest) = value.split_once('年')?;
        let (m, rest) = rest.split_once('月')?;
        let d = rest.strip_suffix('日')?;
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        Some((y.parse().ok()?, m.parse().ok()?, d.parse().ok()?))
    })();
    parts.is_some_and(|(y, m, d)| {
        time::Month::try_from(m).is_ok_and(|m| time::Date::from_calendar_date(y, m, d).is_ok())
    })
}

/// Resolves `FormFields` to initiator-owned components and checks their values; every
/// required initiator component must be filled. Returns (ComponentId, value) in template order.
fn fill(
    fields: &[FormFieldRequest],
    template: &Template,
    at: &str,
    ctx: &Context,
) -> Result<Vec<(String, String)>, ApiError> {
    let mut values: HashMap<&str, &str> = HashMap::new();
    for (k, f) in fields.iter().enumerate() {
        let targets: Vec<_> = template.components.iter().filter(|c| f.component.refers_to(c)).collect();
        let label = match &f.component {
            ComponentRef::Id(id) => format!("ComponentId `{id}`"),
            ComponentRef::Name(name) => format!("ComponentName `{name}`"),
        };
        if targets.is_empty() {
            return fail(
                Code::InvalidParameter_DataNotFound,
                format!("`{at}.{k}`: template `{}` has no component with {label}.", template.template_id.as_str()),
            );
        }
        for c in targets {
            if c.component_type.is_sign() || c.recipient_id.is_some() {
                return fail(
                    Code::InvalidParameter,
                    format!(
                        "`{at}.{k}`: component `{}` is filled by recipient `{}`, not by the initiator.",
                        c.component_id,
                        c.recipient_id.as_deref().unwrap_or("")
                    ),
                );
            }
            check_value(c, &f.value, &format!("{at}.{k}.ComponentValue"), &ctx.values())?;
            if values.insert(&c.component_id, &f.value).is_some() {
                return fail(
                    Code::InvalidParameter,
                    format!("`{at}.{k}`: component `{}` is filled twice.", c.component_id),
                );
            }
        }
    }
    let mut out = Vec::new();
    for c in &template.components {
        if c.recipient_id.is_some() || c.component_type.is_sign() {
            continue;
        }
        match values.get(c.component_id.as_str()) {
            Some(v) => out.push((c.component_id.clone(), (*v).to_owned())),
            None if c.required => {
                return fail(
                    Code::InvalidParameter_MissingRequiredParameterValue,
                    format!("`{at}` must fill the required component `{}` ({}).", c.component_id, c.component_name),
                );
            }
            None => {}
        }
    }
    Ok(out)
}

/// A value as the API documents it for the component's type, that the contract can show:
/// text that fits its box in the template's font, an image this application uploaded, a
/// well-formed table. Everything a document needs is decided here, so synthesis cannot fail
/// on the caller's data.
pub fn check_value(c: &Component, value: &str, field: &str, ctx: &Values) -> Result<(), ApiError> {
    let bad = |rule: String| fail(Code::InvalidParameter_ComponentValue, format!("The parameter `{field}` {rule}."));
    let template_extra = || format!("ComponentExtra of component `{}`", c.component_id);
    let fits = |text: &str| -> Result<(), ApiError> {
        let style = TextStyle::parse(c.extra.as_deref(), &template_extra())?;
        let Some(metrics) = ctx.metrics else { return Ok(()) };
        let p = c.placement;
        set_text(text, &style, p.width, p.height, metrics).map(|_| ()).or_else(|e| {
            bad(format!(
                "cannot be shown in component `{}`: {}",
                c.component_id,
                e.describe(p.width, p.height, style.size)
            ))
        })
    };
    match c.component_type {
        ComponentType::Text | ComponentType::District if value.chars().any(char::is_control) => {
            bad("must be one line without control characters (MULTI_LINE_TEXT takes line breaks)".into())
        }
        ComponentType::MultiLineText if value.chars().any(|ch| ch.is_control() && ch != '\n' && ch != '\r') => {
            bad("must not contain control characters other than line breaks".into())
        }
        ComponentType::Text | ComponentType::District | ComponentType::MultiLineText => fits(value),
        ComponentType::CheckBox if value != "true" && value != "false" => bad("must be `true` or `false`".into()),
        ComponentType::Date if !is_chinese_date(value) => bad(format!("must be a date written {DATE_FORMAT}")),
        ComponentType::Date => fits(value),
        ComponentType::Selector => {
            let options = selector_options(c.extra.as_deref(), &template_extra())?;
            if let Some(options) = options.filter(|o| !o.is_empty())
                && !options.iter().any(|o| o == value)
            {
                return bad(format!(
                    "must be one of the options of component `{}`: {}",
                    c.component_id,
                    options.join(", ")
                ));
            }
            fits(value)
        }
        ComponentType::FillImage => {
            ImageFit::parse(c.extra.as_deref(), &template_extra())?;
            let file = FileId::parse(Some(value), field)
                .ok()
                .and_then(|id| ctx.files.get(&id))
                .filter(|f| &f.app_id == ctx.app_id && f.deadline >= ctx.now);
            match file {
                None => bad(
                    "must be the FileId of an image this application uploaded with UploadFiles (valid, not expired)"
                        .into(),
                ),
                Some(f) if !f.kind.is_image() => {
                    bad(format!("names a {} file; an image component takes a PNG or JPEG", f.kind.as_str()))
                }
                Some(_) => Ok(()),
            }
        }
        ComponentType::DynamicTable => {
            let table = DynamicTable::parse(value, field)?;
            match ctx.metrics.map(|metrics| table.layout(c.placement.width, metrics)) {
                Some(Err(e)) => bad(format!("cannot be shown in component `{}`: {e}", c.component_id)),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
