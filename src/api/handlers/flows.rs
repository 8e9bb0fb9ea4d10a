//! ChannelCreateFlowGroupByTemplates and DescribeFlowDetailInfo.

use std::collections::HashMap;

use super::{agent_operator, created_group};
use crate::api::wire::{
    ApproverItem, ChannelCreateFlowGroupByTemplatesRequest, ChannelCreateFlowGroupByTemplatesResponse,
    DescribeFlowDetailInfoRequest, DescribeFlowDetailInfoResponse, FlowApproverDetail, FlowApproverInfo,
    FlowDetailInfo, FlowGroupApprovers, FlowInfo, TaskInfo,
};
use crate::api::{AppState, Caller};
use crate::domain::flow::{
    self, ApproverRequest, ComponentRef, Context, Flow, FlowGroupName, FlowGroupRequest, FlowName, FlowOptions,
    FlowRequest, FormFieldRequest, MAX_FLOWS, MIN_FLOWS, PageOptions, Signer, SignerKind,
};
use crate::domain::id::{FileId, FlowGroupId, FlowId, TemplateId};
use crate::domain::template::ComponentType;
use crate::domain::tenancy::OrganizationName;
use crate::domain::{ExternalId, IdCard, Mobile, PersonName, name_chars, required};
use crate::error::{ApiError, Code, Failure, fail};

const MAX_FLOW_IDS: usize = 100;

pub async fn create_flow_group_by_templates(
    state: &AppState,
    caller: &Caller,
    req: ChannelCreateFlowGroupByTemplatesRequest,
) -> Result<ChannelCreateFlowGroupByTemplatesResponse, Failure> {
    let (organization, operator) = agent_operator(state, caller, req.agent.as_ref()).await?;
    let request = group_request(req, &organization.open_id)?;
    let app = state
        .store
        .application(&caller.app_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("caller's application vanished"))?;

    let mut templates = HashMap::new();
    let mut organizations = HashMap::new();
    let mut operators = HashMap::new();
    for f in &request.flows {
        if !templates.contains_key(&f.template_id)
            && let Some(t) = state.store.template(&caller.app_id, &f.template_id).await?
        {
            templates.insert(f.template_id.clone(), t);
        }
        for a in &f.approvers {
            let (org, open_id) = match &a.signer {
                Signer::ChannelEmployee { organization_open_id, open_id, .. } => (organization_open_id, Some(open_id)),
                Signer::DynamicOrganization { organization_open_id: Some(o) } => (o, None),
                _ => continue,
            };
            if !organizations.contains_key(org)
                && let Some(o) = state.store.organization(&caller.app_id, org).await?
            {
                organizations.insert(org.clone(), o);
            }
            if let Some(open_id) = open_id {
                let key = (org.clone(), open_id.clone());
                if !operators.contains_key(&key)
                    && let Some(op) = state.store.operator(&caller.app_id, org, open_id).await?
                {
                    operators.insert(key, op);
                }
            }
        }
    }
    // Only image components take FileIds: no other value is looked up.
    let mut image_values = Vec::new();
    for (i, f) in request.flows.iter().enumerate() {
        let Some(template) = templates.get(&f.template_id) else { continue };
        let images: Vec<_> =
            template.components.iter().filter(|c| c.component_type == ComponentType::FillImage).collect();
        for (k, field) in f.form_fields.iter().enumerate() {
            if images.iter().any(|c| field.component.refers_to(c))
                && let Ok(id) = FileId::parse(Some(&field.value), "ComponentValue")
            {
                image_values.push((format!("FlowInfos.{i}.FormFields.{k}.ComponentValue"), id));
            }
        }
    }
    let mut files = HashMap::new();
    for (_, id) in &image_values {
        if !files.contains_key(id)
            && let Some(file) = state.store.file(&app.app_id, id).await?
        {
            files.insert(id.clone(), file);
        }
    }
    let fonts = state.synthesis.fonts();
    let ctx = Context {
        app: &app,
        organization: &organization,
        operator: &operator,
        templates: &templates,
        organizations: &organizations,
        operators: &operators,
        files: &files,
        metrics: fonts.metrics(),
        now: state.store.now(),
    };
    let group = flow::plan(request, &ctx)?;
    // `plan` found each image to be this application's, unexpired PNG or JPEG; it must also be
    // one synthesis can embed (files uploaded before UploadFiles decoded images were not). It is
    // decoded by synthesis itself, once per node, and kept for the render.
    let mut decoded = std::collections::HashSet::new();
    for (field, id) in image_values {
        let Some(file) = files.get(&id).filter(|f| f.kind.is_image()) else { continue };
        if !decoded.insert(id) {
            continue;
        }
        state.synthesis.image(&file.sha256).await?.map_err(|e| {
            ApiError::new(
                Code::InvalidParameter_ComponentValue,
                format!("The parameter `{field}` names an image that cannot be shown: {e:#}."),
            )
        })?;
    }
    let dynamic = group.flows.iter().any(|f| f.approvers.iter().any(|a| a.signer.is_dynamic()));
    let auto_signed = group.flows.iter().any(|f| f.approvers.iter().any(|a| a.signer == SignerKind::AutoSign));
    let response = ChannelCreateFlowGroupByTemplatesResponse {
        flow_group_id: group.flow_group_id.as_str().to_owned(),
        flow_ids: group.flows.iter().map(|f| f.flow_id.as_str().to_owned()).collect(),
        task_infos: group
            .flows
            .iter()
            .map(|f| match &f.document_task {
                Some(task) => TaskInfo { task_id: task.as_str().to_owned(), task_status: "NOTREADY".to_owned() },
                None => TaskInfo { task_id: String::new(), task_status: String::new() },
            })
            .collect(),
        approvers: dynamic.then(|| {
            group
                .flows
                .iter()
                .map(|f| FlowGroupApprovers {
                    flow_id: f.flow_id.as_str().to_owned(),
                    approvers: f
                        .approvers
                        .iter()
                        .map(|a| ApproverItem {
                            approver_role_name: a.custom_role_name.clone().unwrap_or_default(),
                            recipient_id: a.recipient_id.clone(),
                            sign_id: a.sign_id.as_str().to_owned(),
                        })
                        .collect(),
                })
                .collect()
        }),
    };
    state.groups.create(group).await?;
    state.synthesis.wake();
    // Only a group with an automatic signer gives the auto-signer work; waking it for every
    // group kept it scanning the database back to back under load.
    if auto_signed {
        state.signing.wake_auto_sign();
    }
    Ok(response)
}

/// The wire request as a domain request: every rule that needs nothing but the request itself.
fn group_request(
    req: ChannelCreateFlowGroupByTemplatesRequest,
    initiator: &ExternalId,
) -> Result<FlowGroupRequest, ApiError> {
    let name = FlowGroupName::parse(req.flow_group_name.as_deref(), "FlowGroupName")?;
    let infos = req.flow_infos.unwrap_or_default();
    if infos.is_empty() {
        return fail(Code::MissingParameter, "The parameter `FlowInfos` is required.");
    }
    if !(MIN_FLOWS..=MAX_FLOWS).contains(&infos.len()) {
        return fail(
            Code::InvalidParameter_FlowInfos,
            format!("A contract group holds {MIN_FLOWS} to {MAX_FLOWS} contracts; `FlowInfos` has {}.", infos.len()),
        );
    }
    let flows = infos.into_iter().enumerate().map(|(i, f)| flow_request(f, i, initiator)).collect::<Result<_, _>>()?;
    Ok(FlowGroupRequest { name, flows })
}

fn flow_request(f: FlowInfo, i: usize, initiator: &ExternalId) -> Result<FlowRequest, ApiError> {
    let at = |rest: &str| format!("FlowInfos.{i}.{rest}");
    if f.cc_infos.as_ref().is_some_and(|c| !c.is_empty()) {
        return fail(
            Code::InvalidParameter,
            format!("`{}`: contract groups do not support CC (合同组暂不支持抄送功能).", at("CcInfos")),
        );
    }
    let display_type = f.flow_display_type.unwrap_or(0);
    if !(0..=3).contains(&display_type) {
        return fail(
            Code::InvalidParameter,
            format!("The parameter `{}` must be 0, 1, 2 or 3.", at("FlowDisplayType")),
        );
    }
    let approvers = f
        .flow_approvers
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(j, a)| approver_request(a, &at(&format!("FlowApprovers.{j}")), initiator))
        .collect::<Result<_, _>>()?;
    let form_fields = f
        .form_fields
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(k, field)| {
            let at = at(&format!("FormFields.{k}"));
            let value = field.component_value.ok_or_else(|| {
                ApiError::new(Code::MissingParameter, format!("The parameter `{at}.ComponentValue` is required."))
            })?;
            let component =
                match (field.component_id.filter(|s| !s.is_empty()), field.component_name.filter(|s| !s.is_empty())) {
                    (Some(id), _) => ComponentRef::Id(id),
                    (None, Some(name)) => ComponentRef::Name(name),
                    (None, None) => {
                        return fail(
                            Code::MissingParameter_MissComponentName,
                            format!("`{at}` needs a ComponentId or a ComponentName."),
                        );
                    }
                };
            Ok(FormFieldRequest { component, value })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(FlowRequest {
        name: FlowName::parse(f.flow_name.as_deref(), &at("FlowName"))?,
        template_id: TemplateId::parse(f.template_id.as_deref(), &at("TemplateId"))?,
        deadline: f.deadline,
        approvers,
        form_fields,
        options: FlowOptions {
            flow_type: flow::flow_type(f.flow_type.as_deref(), &at("FlowType"))?,
            description: flow::flow_description(f.flow_description.as_deref(), &at("FlowDescription"))?,
            customer_data: flow::customer_data(f.customer_data.as_deref(), &at("CustomerData"))?,
            custom_show_map: f.custom_show_map.filter(|m| !m.is_empty()),
            need_sign_review: f.need_sign_review.unwrap_or(false),
            display_type,
        },
    })
}

fn approver_request(a: &FlowApproverInfo, at: &str, initiator: &ExternalId) -> Result<ApproverRequest, ApiError> {
    let field = |f: &str| format!("{at}.{f}");
    let recipient_id = required(a.recipient_id.as_deref(), &field("RecipientId"))?.to_owned();
    let approver_type = required(a.approver_type.as_deref(), &field("ApproverType"))?;
    let dynamic = match a.approver_option.as_ref().and_then(|o| o.fill_type).unwrap_or(0) {
        0 => false,
        1 => true,
        other => {
            return fail(
                Code::InvalidParameter,
                format!("The parameter `{}` must be 0 or 1, not {other}.", field("ApproverOption.FillType")),
            );
        }
    };
    if let Some(t) = a.pre_read_time
        && !(3..=300).contains(&t)
    {
        return fail(
            Code::InvalidParameter,
            format!("The parameter `{}` must be 3 to 300 seconds.", field("PreReadTime")),
        );
    }
    if let Some(n) = a.notify_type.as_deref().filter(|n| !n.is_empty())
        && !["SMS", "EMAIL", "ALL", "NONE"].contains(&n)
    {
        return fail(
            Code::InvalidParameter,
            format!("The parameter `{}` must be SMS, EMAIL, ALL or NONE.", field("NotifyType")),
        );
    }
    let custom_role_name = match a.approver_role_name.as_deref().filter(|r| !r.is_empty()) {
        Some(r) => {
            name_chars(r, 20, &field("ApproverRoleName"), Code::InvalidParameter)?;
            Some(r.to_owned())
        }
        None => None,
    };
    let optional_id = |v: &Option<String>, f: &str| -> Result<Option<ExternalId>, ApiError> {
        v.as_deref().filter(|s| !s.is_empty()).map(|s| ExternalId::parse(Some(s), &field(f))).transpose()
    };
    let organization_open_id = optional_id(&a.organization_open_id, "OrganizationOpenId")?;
    let open_id = optional_id(&a.open_id, "OpenId")?;
    let organization_name = a
        .organization_name
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|n| OrganizationName::parse(Some(n), &field("OrganizationName")))
        .transpose()?;
    let name =
        a.name.as_deref().filter(|s| !s.is_empty()).map(|n| PersonName::parse(Some(n), &field("Name"))).transpose()?;
    let mobile =
        a.mobile.as_deref().filter(|s| !s.is_empty()).map(|m| Mobile::parse(m, &field("Mobile"))).transpose()?;
    let id_card = a
        .id_card_number
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|n| IdCard::parse(a.id_card_type.as_deref(), n, &field("IdCardType"), &field("IdCardNumber")))
        .transpose()?;
    let missing = |f: &str| ApiError::new(Code::MissingParameter, format!("The parameter `{}` is required.", field(f)));
    let saas = a.not_channel_organization.unwrap_or(false);

    let signer = match (approver_type, dynamic) {
        ("ENTERPRISESERVER", true) => {
            return fail(
                Code::InvalidParameter_ApproverType,
                format!("`{}`: an enterprise auto-signer cannot be a dynamic signer.", at),
            );
        }
        ("ENTERPRISESERVER", false) => {
            if organization_open_id.as_ref().is_some_and(|o| o != initiator) {
                return fail(
                    Code::OperationDenied,
                    format!(
                        "`{}`: only the initiating organization can auto-sign its own contracts.",
                        field("OrganizationOpenId")
                    ),
                );
            }
            Signer::AutoSign
        }
        ("ORGANIZATION", true) => Signer::DynamicOrganization { organization_open_id },
        ("PERSON", true) => Signer::DynamicPerson,
        ("ORGANIZATION", false) if saas => {
            if organization_open_id.is_some() || open_id.is_some() {
                return fail(
                    Code::InvalidParameter,
                    format!(
                        "`{at}`: an approver with NotChannelOrganization true takes no OrganizationOpenId or OpenId."
                    ),
                );
            }
            Signer::SaasEmployee {
                organization_name: organization_name.ok_or_else(|| missing("OrganizationName"))?,
                name: name.ok_or_else(|| missing("Name"))?,
                mobile: mobile.ok_or_else(|| missing("Mobile"))?,
            }
        }
        ("ORGANIZATION", false) => Signer::ChannelEmployee {
            organization_open_id: organization_open_id.unwrap_or_else(|| initiator.clone()),
            organization_name,
            open_id: open_id.ok_or_else(|| missing("OpenId"))?,
            name,
            mobile,
        },
        ("PERSON", false) => Signer::Person {
            name: name.ok_or_else(|| missing("Name"))?,
            mobile: mobile.ok_or_else(|| missing("Mobile"))?,
            id_card,
        },
        (other, _) => {
            return fail(
                Code::InvalidParameter_ApproverType,
                format!(
                    "`{}` {other} is not supported for contract groups: use ORGANIZATION, PERSON or ENTERPRISESERVER.",
                    field("ApproverType")
                ),
            );
        }
    };
    let page = PageOptions {
        pre_read_seconds: a.pre_read_time.unwrap_or(0),
        no_refuse: a.approver_option.as_ref().and_then(|o| o.no_refuse).unwrap_or(false),
    };
    let need_sign_review = a.approver_need_sign_review.unwrap_or(false);
    Ok(ApproverRequest { recipient_id, signer, custom_role_name, page, need_sign_review })
}

pub async fn describe_flow_detail_info(
    state: &AppState,
    caller: &Caller,
    req: DescribeFlowDetailInfoRequest,
) -> Result<DescribeFlowDetailInfoResponse, Failure> {
    let (organization, _) = agent_operator(state, caller, req.agent.as_ref()).await?;
    let respond = |flows: Vec<Flow>, group: Option<(FlowGroupId, String)>| DescribeFlowDetailInfoResponse {
        application_id: caller.app_id.to_string(),
        proxy_organization_open_id: organization.open_id.to_string(),
        flow_info: flows.iter().map(flow_detail).collect(),
        flow_group_id: group.as_ref().map(|(id, _)| id.as_str().to_owned()).unwrap_or_default(),
        flow_group_name: group.map(|(_, name)| name).unwrap_or_default(),
    };
    if let Some(group_id) = req.flow_group_id.filter(|g| !g.is_empty()) {
        let (id, name, flows) = created_group(state, &caller.app_id, &organization.open_id, &group_id).await?;
        return Ok(respond(flows, Some((id, name))));
    }
    let ids = req.flow_ids.unwrap_or_default();
    if ids.is_empty() {
        return fail(
            Code::MissingParameter_FlowIdsOrFlowGroupId,
            "Pass `FlowIds` or `FlowGroupId`: the contracts or the contract group to describe.",
        )
        .map_err(Into::into);
    }
    if ids.len() > MAX_FLOW_IDS {
        return fail(
            Code::LimitExceeded_FlowIds,
            format!("`FlowIds` holds {} ids; at most {MAX_FLOW_IDS} are allowed.", ids.len()),
        )
        .map_err(Into::into);
    }
    let unknown = |id: &str| {
        ApiError::new(Code::InvalidParameter_fFowIds, format!("The contract `{id}` (FlowIds) does not exist."))
    };
    let parsed = ids
        .iter()
        .map(|id| FlowId::parse(Some(id), "FlowIds").map_err(|_| unknown(id)))
        .collect::<Result<Vec<_>, _>>()?;
    let found = state.store.flows(&caller.app_id, &organization.open_id, &parsed).await?;
    let mut by_id: HashMap<FlowId, Flow> = found.into_iter().map(|f| (f.flow_id.clone(), f)).collect();
    let mut flows = Vec::with_capacity(parsed.len());
    for id in &parsed {
        if let Some(f) = by_id.remove(id) {
            flows.push(f);
        } else if !flows.iter().any(|f: &Flow| &f.flow_id == id) {
            return Err(unknown(id.as_str()).into());
        }
    }
    Ok(respond(flows, None))
}

fn flow_detail(f: &Flow) -> FlowDetailInfo {
    FlowDetailInfo {
        flow_id: f.flow_id.as_str().to_owned(),
        flow_name: f.name.clone(),
        flow_type: f.options.flow_type.clone().unwrap_or_default(),
        flow_status: f.status.as_str().to_owned(),
        flow_message: f.flow_message.clone().unwrap_or_default(),
        create_on: f.created_on,
        dead_line: f.deadline,
        custom_data: f.options.customer_data.clone().unwrap_or_default(),
        flow_approver_infos: f
            .approvers
            .iter()
            .enumerate()
            .map(|(i, a)| FlowApproverDetail {
                recipient_id: a.recipient_id.clone(),
                proxy_organization_open_id: a.organization_open_id.clone().unwrap_or_default(),
                proxy_operator_open_id: a.open_id.clone().unwrap_or_default(),
                proxy_organization_name: a.organization_name.clone().unwrap_or_default(),
                mobile: a.mobile.clone().unwrap_or_default(),
                sign_order: i as i64,
                approve_name: a.name.clone().unwrap_or_default(),
                approve_status: a.status.as_str().to_owned(),
                approve_message: a.approve_message.clone().unwrap_or_default(),
                approve_time: a.approve_time.unwrap_or(0),
                approve_type: if a.signer.is_enterprise() { "ORGANIZATION" } else { "PERSON" }.to_owned(),
                approver_role_name: a.custom_role_name.clone().unwrap_or_else(|| a.role_name.clone()),
                sign_id: a.sign_id.as_str().to_owned(),
            })
            .collect(),
        cc_infos: Vec::new(),
        need_create_review: false,
        template_id: f.template_id.as_str().to_owned(),
    }
}
