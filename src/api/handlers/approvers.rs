//! ChannelCreateFlowApprovers: fills the dynamic signers (`ApproverOption.FillType` 1) of
//! contracts the Agent's organisation created, answering a `FillError` for each that could not
//! be filled.

use super::{agent_operator, created_group};
use crate::api::wire::{
    ChannelCreateFlowApproversRequest, ChannelCreateFlowApproversResponse, FillApproverInfo, FillError,
};
use crate::api::{AppState, Caller};
use crate::approvers;
use crate::domain::fill::{Fill, Identity};
use crate::domain::id::FlowId;
use crate::domain::tenancy::OrganizationName;
use crate::domain::{ExternalId, IdCard, Mobile, PersonName, required};
use crate::error::{ApiError, Code, Failure, fail};

/// Approvers one call may fill: a group holds at most 50 contracts of a few signers each.
const MAX_APPROVERS: usize = 100;

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// One `FillApproverInfo` parsed: its contract (its own `FlowId`, else the request's), its
/// `RecipientId`, and every identity field given, each parsed and named on error.
fn fill(a: &FillApproverInfo, at: &str, flow_id: Option<&str>) -> Result<Fill, ApiError> {
    let field = |f: &str| format!("{at}.{f}");
    if given(&a.pin_code).is_some() {
        return fail(
            Code::InvalidParameter,
            format!("`{}`: PIN-code signing is not supported by qianshu.", field("PinCode")),
        );
    }
    let recipient_id = required(a.recipient_id.as_deref(), &field("RecipientId"))?.to_owned();
    let flow_id = match given(&a.flow_id).or(flow_id) {
        Some(id) => FlowId::parse(Some(id), &field("FlowId"))?,
        None => {
            return fail(
                Code::MissingParameter,
                format!("The parameter `{}` (or `FlowId`) is required: which contract to fill.", field("FlowId")),
            );
        }
    };
    let id_card = match given(&a.approver_id_card_number) {
        Some(n) => Some(IdCard::parse(
            a.approver_id_card_type.as_deref(),
            n,
            &field("ApproverIdCardType"),
            &field("ApproverIdCardNumber"),
        )?),
        None => None,
    };
    let identity = Identity {
        name: given(&a.approver_name).map(|n| PersonName::parse(Some(n), &field("ApproverName"))).transpose()?,
        mobile: given(&a.approver_mobile).map(|m| Mobile::parse(m, &field("ApproverMobile"))).transpose()?,
        id_card,
        organization_name: given(&a.organization_name)
            .map(|n| OrganizationName::parse(Some(n), &field("OrganizationName")))
            .transpose()?,
        organization_open_id: given(&a.organization_open_id)
            .map(|o| ExternalId::parse(Some(o), &field("OrganizationOpenId")))
            .transpose()?,
        open_id: given(&a.open_id).map(|o| ExternalId::parse(Some(o), &field("OpenId"))).transpose()?,
        not_channel_organization: a.not_channel_organization.unwrap_or(false),
    };
    Ok(Fill { at: at.to_owned(), flow_id, recipient_id, identity })
}

pub async fn channel_create_flow_approvers(
    state: &AppState,
    caller: &Caller,
    req: ChannelCreateFlowApproversRequest,
) -> Result<ChannelCreateFlowApproversResponse, Failure> {
    let (organization, _) = agent_operator(state, caller, req.agent.as_ref()).await?;
    match req.fill_approver_type {
        None | Some(1) => {}
        Some(other) => {
            return fail(
                Code::InvalidParameter,
                format!("The parameter `FillApproverType` must be 1 (fill a dynamic signer), not {other}."),
            )
            .map_err(Into::into);
        }
    }
    let infos = req.approvers.unwrap_or_default();
    if infos.is_empty() {
        return fail(Code::MissingParameter, "The parameter `Approvers` is required.").map_err(Into::into);
    }
    if infos.len() > MAX_APPROVERS {
        return fail(
            Code::InvalidParameter,
            format!("`Approvers` holds {} approvers; at most {MAX_APPROVERS} are allowed.", infos.len()),
        )
        .map_err(Into::into);
    }
    let top = given(&req.flow_id);
    let fills = infos
        .iter()
        .enumerate()
        .map(|(i, a)| fill(a, &format!("Approvers.{i}"), top))
        .collect::<Result<Vec<_>, _>>()?;
    // A group's contracts, or the contracts the fills name (any not found is that fill's error).
    let flows = match given(&req.flow_group_id) {
        Some(group) => created_group(state, &caller.app_id, &organization.open_id, group).await?.2,
        None => {
            let mut ids: Vec<FlowId> = Vec::new();
            for f in &fills {
                if !ids.contains(&f.flow_id) {
                    ids.push(f.flow_id.clone());
                }
            }
            state.store.flows(&caller.app_id, &organization.open_id, &ids).await?
        }
    };
    let failures = approvers::fill(&state.store, &caller.app_id, &organization.open_id, &flows, &fills).await?;
    Ok(ChannelCreateFlowApproversResponse {
        fill_error: (!failures.is_empty()).then(|| {
            failures
                .into_iter()
                .map(|f| FillError { recipient_id: f.recipient_id, err_message: f.message, flow_id: f.flow_id })
                .collect()
        }),
    })
}
