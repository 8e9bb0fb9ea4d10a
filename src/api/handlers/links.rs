//! ChannelCreateBatchQuickSignUrl, CreateSignUrls and ChannelCreateFlowSignUrl: sign links
//! (`PUBLIC_URL/s/TOKEN`) for the signers of contracts the Agent's organisation created.

use std::collections::HashMap;

use super::{agent_operator, agent_organization, created_group};
use crate::api::action::Action;
use crate::api::urls::sign_path;
use crate::api::wire::{
    ChannelCreateBatchQuickSignUrlRequest, ChannelCreateBatchQuickSignUrlResponse, ChannelCreateFlowSignUrlRequest,
    ChannelCreateFlowSignUrlResponse, CreateSignUrlsRequest, CreateSignUrlsResponse, FlowApproverUrlInfo, SignUrlInfo,
    SignerInfo,
};
use crate::api::{AppState, Caller};
use crate::domain::flow::{Approver, Flow};
use crate::domain::id::{FlowGroupId, FlowId};
use crate::domain::link::{
    self, GenerateType, LinkTarget, LinkToken, NewSignLink, Preset, SIGN_URLS_LIFETIME_SECONDS, SignerFields,
    SignerKey, SignerQuery,
};
use crate::domain::tenancy::OrganizationName;
use crate::domain::{ExternalId, Mobile, PersonName};
use crate::error::{ApiError, Code, Failure, fail};

const MAX_FLOW_IDS: usize = 100;

/// The contracts a call names: a whole group, or flows by id (in the order given, once each).
enum Contracts {
    Group(FlowGroupId, Vec<Flow>),
    Flows(Vec<Flow>),
}

impl Contracts {
    fn flows(&self) -> &[Flow] {
        match self {
            Contracts::Group(_, flows) | Contracts::Flows(flows) => flows,
        }
    }
}

/// What one link to `contracts` opens: their group (a group is signed as a whole, so `FlowIds`
/// of one group open the group), or a single contract.
fn link_target(contracts: &Contracts) -> Result<LinkTarget, ApiError> {
    match contracts {
        Contracts::Group(id, _) => Ok(LinkTarget::Group(id.clone())),
        Contracts::Flows(flows) => match (&flows[0].group, &flows[..]) {
            (Some((group, _)), _) if flows.iter().all(|f| f.group.as_ref().map(|(g, _)| g) == Some(group)) => {
                Ok(LinkTarget::Group(group.clone()))
            }
            (None, [only]) => Ok(LinkTarget::Flow(only.flow_id.clone())),
            _ => fail(
                Code::InvalidParameter_FlowIds,
                "`FlowIds` names contracts of different groups: a link opens one contract or one contract group.",
            ),
        },
    }
}

/// `FlowGroupId` or `FlowIds` ("必须二选一": exactly one), of contracts `organization` created.
async fn contracts(
    state: &AppState,
    app: &ExternalId,
    organization: &ExternalId,
    group: Option<String>,
    ids: Option<Vec<String>>,
) -> Result<Contracts, Failure> {
    let group = group.filter(|g| !g.is_empty());
    let ids = ids.unwrap_or_default();
    match (group, ids.is_empty()) {
        (Some(_), false) => fail(
            Code::InvalidParameter,
            "Pass `FlowGroupId` or `FlowIds`, not both (该参数和合同流程ID数组必须二选一).",
        )
        .map_err(Into::into),
        (None, true) => fail(
            Code::MissingParameter_FlowIdsOrFlowGroupId,
            "Pass `FlowIds` or `FlowGroupId`: the contracts or the contract group to sign.",
        )
        .map_err(Into::into),
        (Some(group), true) => {
            let (id, _, flows) = created_group(state, app, organization, &group).await?;
            Ok(Contracts::Group(id, flows))
        }
        (None, false) => {
            if ids.len() > MAX_FLOW_IDS {
                return fail(
                    Code::InvalidParameter_FlowIds,
                    format!("`FlowIds` holds {} ids; at most {MAX_FLOW_IDS} are allowed.", ids.len()),
                )
                .map_err(Into::into);
            }
            let mut parsed: Vec<FlowId> = Vec::with_capacity(ids.len());
            for (i, id) in ids.iter().enumerate() {
                let id = FlowId::parse(Some(id), &format!("FlowIds.{i}"))?;
                if !parsed.contains(&id) {
                    parsed.push(id);
                }
            }
            let mut found: HashMap<FlowId, Flow> = state
                .store
                .flows(app, organization, &parsed)
                .await?
                .into_iter()
                .map(|f| (f.flow_id.clone(), f))
                .collect();
            let mut flows = Vec::with_capacity(parsed.len());
            for id in parsed {
                let flow = found.remove(&id).ok_or_else(|| {
                    ApiError::new(
                        Code::ResourceNotFound_Flow,
                        format!("The contract `{}` (FlowIds) does not exist.", id.as_str()),
                    )
                })?;
                flows.push(flow);
            }
            Ok(Contracts::Flows(flows))
        }
    }
}

fn fields(info: &SignerInfo) -> SignerFields<'_> {
    SignerFields {
        approver_type: info.approver_type.as_deref(),
        name: info.name.as_deref(),
        mobile: info.mobile.as_deref(),
        organization_name: info.organization_name.as_deref(),
        organization_open_id: info.organization_open_id.as_deref(),
        open_id: info.open_id.as_deref(),
        not_channel_organization: info.not_channel_organization.unwrap_or(false),
        recipient_id: info.recipient_id.as_deref(),
        sign_id: info.sign_id.as_deref(),
    }
}

fn url(state: &AppState, token: &LinkToken) -> String {
    state.urls.absolute(&sign_path(token))
}

fn approver_url(state: &AppState, token: &LinkToken, key: &SignerKey, a: &Approver) -> FlowApproverUrlInfo {
    let url = url(state, token);
    FlowApproverUrlInfo {
        sign_url: url.clone(),
        approver_type: key.approver_type().to_owned(),
        name: a.name.clone().unwrap_or_default(),
        mobile: a.mobile.clone().unwrap_or_default(),
        long_url: url,
    }
}

/// One link for one signer of a group, or of the contracts `FlowIds` names. Those contracts
/// must be one group's (a group is signed as a whole, so the link opens the whole group), or
/// a single contract.
pub async fn channel_create_batch_quick_sign_url(
    state: &AppState,
    caller: &Caller,
    req: ChannelCreateBatchQuickSignUrlRequest,
) -> Result<ChannelCreateBatchQuickSignUrlResponse, Failure> {
    let organization = agent_organization(state, caller, req.agent.as_ref()).await?;
    let lifetime = link::lifetime(req.expired_on, "ExpiredOn", Code::InvalidParameterValue)?;
    let info = req
        .flow_approver_info
        .as_ref()
        .ok_or_else(|| ApiError::new(Code::MissingParameter, "The parameter `FlowApproverInfo` is required."))?;
    let query = SignerQuery::approver(&fields(info), "FlowApproverInfo", &organization.open_id)?;
    let contracts = contracts(state, &caller.app_id, &organization.open_id, req.flow_group_id, req.flow_ids).await?;
    let target = link_target(&contracts)?;
    let (key, approver) = query.find(contracts.flows(), "FlowApproverInfo")?;
    let now = state.store.now();
    let token = LinkToken::generate();
    let info = approver_url(state, &token, &key, approver);
    state
        .store
        .create_sign_links(
            &[NewSignLink {
                token,
                app_id: caller.app_id.clone(),
                target,
                signer: key,
                preview: false,
                expires_at: now + lifetime,
                created_at: now,
            }],
            Action::ChannelCreateBatchQuickSignUrl.as_str(),
        )
        .await?;
    Ok(ChannelCreateBatchQuickSignUrlResponse { flow_approver_url_info: info })
}

/// Tencent shows an approver's identity card number masked but for its first and last character.
fn masked(number: &str) -> String {
    let n = number.chars().count();
    number.chars().enumerate().map(|(i, c)| if i == 0 || i + 1 == n { c } else { '*' }).collect()
}

/// Links for every signer `GenerateType` selects, one row per signer and contract. A group's
/// signer gets one link for the whole group, on each of their rows; `FlowIds` get one link per
/// signer and contract. A contract where nobody is selected gets a row without a link and a
/// reason in `ErrorMessages`; nobody selected anywhere is `ResourceNotFound.FlowApprover`.
pub async fn create_sign_urls(
    state: &AppState,
    caller: &Caller,
    req: CreateSignUrlsRequest,
) -> Result<CreateSignUrlsResponse, Failure> {
    let (organization, _) = agent_operator(state, caller, req.agent.as_ref()).await?;
    let generate = GenerateType::parse(req.generate_type.as_deref(), "GenerateType")?;
    match req.endpoint.as_deref().unwrap_or("") {
        "CHANNEL" if generate != GenerateType::All => {
            return fail(Code::InvalidParameter_EndPoint, "`Endpoint` CHANNEL needs `GenerateType` ALL.")
                .map_err(Into::into);
        }
        "" | "WEIXINAPP" | "CHANNEL" | "APP" | "LONGURL2WEIXINAPP" => {}
        other => {
            return fail(
                Code::InvalidParameter_EndPoint,
                format!("The parameter `Endpoint` {other:?} must be WEIXINAPP, CHANNEL, APP or LONGURL2WEIXINAPP."),
            )
            .map_err(Into::into);
        }
    }
    if generate == GenerateType::Recipient {
        return recipient_urls(state, caller, &organization.open_id, req).await;
    }
    if generate == GenerateType::All && req.flow_ids.as_ref().is_some_and(|ids| ids.len() > 1) {
        return fail(
            Code::InvalidParameter_FlowIds,
            "`GenerateType` ALL takes one contract in `FlowIds` (此中类型不支持多个合同ID), or a `FlowGroupId`.",
        )
        .map_err(Into::into);
    }
    let query = SignerQuery::generate(
        generate,
        &SignerFields {
            name: req.name.as_deref(),
            mobile: req.mobile.as_deref(),
            organization_name: req.organization_name.as_deref(),
            organization_open_id: req.organization_open_id.as_deref(),
            open_id: req.open_id.as_deref(),
            ..SignerFields::default()
        },
    )?;
    let contracts = contracts(state, &caller.app_id, &organization.open_id, req.flow_group_id, req.flow_ids).await?;
    let group = match &contracts {
        Contracts::Group(id, _) => Some(id),
        Contracts::Flows(_) => None,
    };
    let now = state.store.now();
    let mut links: Vec<NewSignLink> = Vec::new();
    // The link each signer (and, without a group, each contract) already has in this call.
    let mut issued: HashMap<(SignerKey, Option<FlowId>), usize> = HashMap::new();
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for f in contracts.flows() {
        let before = rows.len();
        for (order, a) in f.approvers.iter().enumerate() {
            let Some(key) = SignerKey::of(a).filter(|_| query.matches(a)) else { continue };
            let per = (key.clone(), group.is_none().then(|| f.flow_id.clone()));
            let i = *issued.entry(per).or_insert_with(|| {
                links.push(NewSignLink {
                    token: LinkToken::generate(),
                    app_id: caller.app_id.clone(),
                    target: match group {
                        Some(g) => LinkTarget::Group(g.clone()),
                        None => LinkTarget::Flow(f.flow_id.clone()),
                    },
                    signer: key.clone(),
                    preview: false,
                    expires_at: now + SIGN_URLS_LIFETIME_SECONDS,
                    created_at: now,
                });
                links.len() - 1
            });
            rows.push(SignUrlInfo {
                sign_url: url(state, &links[i].token),
                deadline: f.deadline,
                sign_order: order as i64,
                sign_id: a.sign_id.as_str().to_owned(),
                name: a.name.clone().unwrap_or_default(),
                mobile: a.mobile.clone().unwrap_or_default(),
                organization_name: a.organization_name.clone().unwrap_or_default(),
                approver_type: key.approver_type().to_owned(),
                id_card_number: a.id_card.as_ref().map(|c| masked(&c.number)).unwrap_or_default(),
                flow_id: f.flow_id.as_str().to_owned(),
                open_id: a.open_id.clone().unwrap_or_default(),
                flow_group_id: group.map(|g| g.as_str().to_owned()).unwrap_or_default(),
                ..SignUrlInfo::default()
            });
            errors.push(String::new());
        }
        if rows.len() == before {
            rows.push(SignUrlInfo {
                deadline: f.deadline,
                flow_id: f.flow_id.as_str().to_owned(),
                flow_group_id: group.map(|g| g.as_str().to_owned()).unwrap_or_default(),
                ..SignUrlInfo::default()
            });
            errors.push(match generate {
                GenerateType::All => format!(
                    "Contract {} has no signer who takes a link (auto-signers and dynamic signers not filled in yet take none).",
                    f.flow_id.as_str()
                ),
                _ => format!("No signer of contract {} is {}.", f.flow_id.as_str(), query.describe()),
            });
        }
    }
    if links.is_empty() {
        let who = match generate {
            GenerateType::All => {
                "takes a link (auto-signers and dynamic signers not filled in yet take none)".to_owned()
            }
            _ => format!("is {}", query.describe()),
        };
        return fail(Code::ResourceNotFound_FlowApprover, format!("No signer of these contracts {who}."))
            .map_err(Into::into);
    }
    state.store.create_sign_links(&links, Action::CreateSignUrls.as_str()).await?;
    Ok(CreateSignUrlsResponse { sign_url_infos: rows, error_messages: errors })
}

/// `GenerateType` RECIPIENT: one link for dynamic signers not filled in yet, each named by a
/// contract and its `RecipientId` (`FlowGroupUrlInfo`, or `RecipientIds` parallel to `FlowIds`),
/// with one row per place. Its holder says on the page who they are and fills every place.
async fn recipient_urls(
    state: &AppState,
    caller: &Caller,
    organization: &ExternalId,
    req: CreateSignUrlsRequest,
) -> Result<CreateSignUrlsResponse, Failure> {
    let missing = |name: &str| ApiError::new(Code::MissingParameter, format!("The parameter `{name}` is required."));
    let mut places: Vec<(String, String, String)> = Vec::new();
    if let Some(info) = &req.flow_group_url_info {
        let infos = info.flow_group_approver_infos.as_deref().unwrap_or_default();
        if infos.is_empty() {
            return Err(missing("FlowGroupUrlInfo.FlowGroupApproverInfos").into());
        }
        for (i, p) in infos.iter().enumerate() {
            let at = format!("FlowGroupUrlInfo.FlowGroupApproverInfos.{i}");
            let flow = p.flow_id.clone().filter(|f| !f.is_empty()).ok_or_else(|| missing(&format!("{at}.FlowId")))?;
            let recipient = p
                .recipient_id
                .clone()
                .filter(|r| !r.is_empty())
                .ok_or_else(|| missing(&format!("{at}.RecipientId")))?;
            places.push((at, flow, recipient));
        }
    } else if let Some(recipients) = req.recipient_ids.as_ref().filter(|r| !r.is_empty()) {
        let flows = req.flow_ids.as_deref().unwrap_or_default();
        if flows.len() != recipients.len() {
            return fail(
                Code::InvalidParameter,
                format!(
                    "`RecipientIds` ({}) must run parallel to `FlowIds` ({}): one RecipientId per contract.",
                    recipients.len(),
                    flows.len()
                ),
            )
            .map_err(Into::into);
        }
        for (i, (flow, recipient)) in flows.iter().zip(recipients).enumerate() {
            places.push((format!("RecipientIds.{i}"), flow.clone(), recipient.clone()));
        }
    } else {
        return fail(
            Code::MissingParameter,
            "`GenerateType` RECIPIENT needs `FlowGroupUrlInfo` (or `RecipientIds` with `FlowIds`): the dynamic signers the link is for.",
        )
        .map_err(Into::into);
    }
    if given_str(&req.open_id).is_some() {
        return fail(
            Code::InvalidParameter,
            "`OpenId` does not apply to `GenerateType` RECIPIENT: the link's holder says who they are.",
        )
        .map_err(Into::into);
    }
    let preset = Preset {
        name: given_str(&req.name)
            .map(|n| PersonName::parse(Some(n), "Name"))
            .transpose()?
            .map(|n| n.as_str().to_owned()),
        mobile: given_str(&req.mobile).map(|m| Mobile::parse(m, "Mobile")).transpose()?.map(|m| m.as_str().to_owned()),
        organization_name: given_str(&req.organization_name)
            .map(|n| OrganizationName::parse(Some(n), "OrganizationName"))
            .transpose()?
            .map(|n| n.as_str().to_owned()),
        organization_open_id: given_str(&req.organization_open_id)
            .map(|o| ExternalId::parse(Some(o), "OrganizationOpenId"))
            .transpose()?
            .map(|o| o.to_string()),
    };
    let ids = match req.flow_group_id.as_deref().filter(|g| !g.is_empty()) {
        Some(_) => None,
        None => {
            let mut ids: Vec<String> = Vec::new();
            for (_, flow, _) in &places {
                if !ids.contains(flow) {
                    ids.push(flow.clone());
                }
            }
            Some(ids)
        }
    };
    let contracts = contracts(state, &caller.app_id, organization, req.flow_group_id, ids).await?;
    let target = link_target(&contracts)?;
    let group = match &target {
        LinkTarget::Group(g) => g.as_str().to_owned(),
        LinkTarget::Flow(_) => String::new(),
    };
    let mut chosen: Vec<(&Flow, usize, &Approver)> = Vec::new();
    for (at, flow_id, recipient) in &places {
        let flow = contracts.flows().iter().find(|f| f.flow_id.as_str() == flow_id).ok_or_else(|| {
            ApiError::new(
                Code::InvalidParameter,
                format!("`{at}.FlowId` {flow_id} is not a contract of this contract group."),
            )
        })?;
        let (position, approver) =
            flow.approvers.iter().enumerate().find(|(_, a)| &a.recipient_id == recipient).ok_or_else(|| {
                ApiError::new(
                    Code::ResourceNotFound_FlowApprover,
                    format!("`{at}.RecipientId`: contract {flow_id} has no signer {recipient}."),
                )
            })?;
        if !approver.signer.is_dynamic() {
            return fail(
                Code::OperationDenied,
                format!(
                    "`{at}.RecipientId` {recipient} is not a dynamic signer waiting to be filled (a signer known already gets links with `GenerateType` ALL)."
                ),
            )
            .map_err(Into::into);
        }
        if !approver.signer.is_enterprise()
            && (preset.organization_name.is_some() || preset.organization_open_id.is_some())
        {
            return fail(
                Code::InvalidParameter,
                format!(
                    "`{at}.RecipientId` {recipient} is a person: `OrganizationName` and `OrganizationOpenId` preset an enterprise signer."
                ),
            )
            .map_err(Into::into);
        }
        if !chosen.iter().any(|(f, p, _)| f.flow_id == flow.flow_id && *p == position) {
            chosen.push((flow, position, approver));
        }
    }
    let now = state.store.now();
    let token = LinkToken::generate();
    let sign_url = url(state, &token);
    let rows = chosen
        .iter()
        .map(|(f, position, a)| SignUrlInfo {
            sign_url: sign_url.clone(),
            deadline: f.deadline,
            sign_order: *position as i64,
            sign_id: a.sign_id.as_str().to_owned(),
            name: preset.name.clone().unwrap_or_default(),
            mobile: preset.mobile.clone().unwrap_or_default(),
            organization_name: preset
                .organization_name
                .clone()
                .or_else(|| a.organization_name.clone())
                .unwrap_or_default(),
            approver_type: a.signer.approver_type().to_owned(),
            flow_id: f.flow_id.as_str().to_owned(),
            flow_group_id: group.clone(),
            ..SignUrlInfo::default()
        })
        .collect::<Vec<_>>();
    let places = chosen.iter().map(|(f, _, a)| (f.flow_id.as_str().to_owned(), a.recipient_id.clone())).collect();
    state
        .store
        .create_sign_links(
            &[NewSignLink {
                token,
                app_id: caller.app_id.clone(),
                target,
                signer: SignerKey::Recipient { places, preset },
                preview: false,
                expires_at: now + SIGN_URLS_LIFETIME_SECONDS,
                created_at: now,
            }],
            Action::CreateSignUrls.as_str(),
        )
        .await?;
    let errors = vec![String::new(); rows.len()];
    Ok(CreateSignUrlsResponse { sign_url_infos: rows, error_messages: errors })
}

fn given_str(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// One link per signer `FlowApproverInfos` lists, for one contract; `UrlType` 1 makes
/// read-only preview links.
pub async fn channel_create_flow_sign_url(
    state: &AppState,
    caller: &Caller,
    req: ChannelCreateFlowSignUrlRequest,
) -> Result<ChannelCreateFlowSignUrlResponse, Failure> {
    let (organization, _) = agent_operator(state, caller, req.agent.as_ref()).await?;
    let flow_id = FlowId::parse(req.flow_id.as_deref(), "FlowId")?;
    let preview = match req.url_type.unwrap_or(0) {
        0 => false,
        1 => true,
        other => {
            return fail(
                Code::InvalidParameter,
                format!("The parameter `UrlType` must be 0 (sign) or 1 (preview), not {other}."),
            )
            .map_err(Into::into);
        }
    };
    let lifetime = link::lifetime(req.expired_on, "ExpiredOn", Code::InvalidParameter)?;
    let infos = req.flow_approver_infos.unwrap_or_default();
    if infos.is_empty() {
        return fail(
            Code::MissingParameter,
            "The parameter `FlowApproverInfos` is required: qianshu makes links for signers only (the initiator's preview link is not supported yet).",
        )
        .map_err(Into::into);
    }
    let queries = infos
        .iter()
        .enumerate()
        .map(|(i, info)| SignerQuery::approver(&fields(info), &format!("FlowApproverInfos.{i}"), &organization.open_id))
        .collect::<Result<Vec<_>, _>>()?;
    let flows = state.store.flows(&caller.app_id, &organization.open_id, std::slice::from_ref(&flow_id)).await?;
    if flows.is_empty() {
        return fail(
            Code::ResourceNotFound_Flow,
            format!("The contract `{}` (FlowId) does not exist.", flow_id.as_str()),
        )
        .map_err(Into::into);
    }
    let now = state.store.now();
    let mut links = Vec::with_capacity(queries.len());
    let mut answer = Vec::with_capacity(queries.len());
    for (i, q) in queries.iter().enumerate() {
        let (key, approver) = q.find(&flows, &format!("FlowApproverInfos.{i}"))?;
        let token = LinkToken::generate();
        answer.push(approver_url(state, &token, &key, approver));
        links.push(NewSignLink {
            token,
            app_id: caller.app_id.clone(),
            target: LinkTarget::Flow(flow_id.clone()),
            signer: key,
            preview,
            expires_at: now + lifetime,
            created_at: now,
        });
    }
    state.store.create_sign_links(&links, Action::ChannelCreateFlowSignUrl.as_str()).await?;
    Ok(ChannelCreateFlowSignUrlResponse { flow_approver_url_infos: answer })
}
