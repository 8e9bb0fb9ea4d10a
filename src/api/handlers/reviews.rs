//! ChannelCreateFlowSignReview and CreateFlowGroupSignReview (the initiator's review of a
//! signing that waits for one), and ChannelCreateFlowReminds (a text message to each signer
//! whose turn it is, once per contract).

use std::collections::HashMap;

use anyhow::anyhow;
use tracing::warn;

use super::{agent_operator, created_group};
use crate::api::action::Action;
use crate::api::urls::sign_path;
use crate::api::wire::{
    ChannelCreateFlowRemindsRequest, ChannelCreateFlowRemindsResponse, ChannelCreateFlowSignReviewRequest,
    CreateFlowGroupSignReviewRequest, Empty, RemindFlowRecords,
};
use crate::api::{AppState, Caller};
use crate::domain::flow::{ApproveStatus, Approver, Flow};
use crate::domain::id::FlowId;
use crate::domain::link::{LinkTarget, LinkToken, NewSignLink, SIGN_URLS_LIFETIME_SECONDS, SignerKey};
use crate::domain::remind::{Remind, plan_reminders, signer_label};
use crate::domain::review::{
    ReviewResult, ReviewSigner, ReviewSignerFields, ReviewTarget, ReviewType, plan_flow_review, plan_group_review,
};
use crate::error::{ApiError, Code, Failure, fail};

/// How often a review looks again when the contracts changed between reading and recording.
const ATTEMPTS: usize = 3;
/// `FlowIds` of ChannelCreateFlowReminds: "最多支持100个".
const MAX_REMIND_FLOWS: usize = 100;

/// Records a review of one contract, for one signer (`RecipientId`) or for the contract's own
/// `NeedSignReview`. `SIGN_REJECT` refuses the contract for the signer.
pub async fn channel_create_flow_sign_review(
    state: &AppState,
    caller: &Caller,
    req: ChannelCreateFlowSignReviewRequest,
) -> Result<Empty, Failure> {
    let (organization, _) = agent_operator(state, caller, req.agent.as_ref()).await?;
    let flow_id = FlowId::parse(req.flow_id.as_deref(), "FlowId")?;
    match req.operate_type.as_deref().unwrap_or("") {
        "" | "SignReview" => {}
        "CreateReview" => {
            return fail(
                Code::OperationDenied_OperateType,
                "`OperateType` CreateReview reviews contracts made by ChannelCreatePrepareFlow, which qianshu does not support.",
            )
            .map_err(Into::into);
        }
        other => {
            return fail(
                Code::InvalidParameter,
                format!("The parameter `OperateType` must be SignReview or CreateReview, not {other:?}."),
            )
            .map_err(Into::into);
        }
    }
    let result = ReviewResult::parse(req.review_type.as_deref(), req.review_message.as_deref())?;
    let recipient = req.recipient_id.as_deref().filter(|r| !r.is_empty());
    for _ in 0..ATTEMPTS {
        let flows = state.store.flows(&caller.app_id, &organization.open_id, std::slice::from_ref(&flow_id)).await?;
        let flow = flows.first().ok_or_else(|| {
            ApiError::new(
                Code::ResourceNotFound_Flow,
                format!("The contract `{}` (FlowId) does not exist.", flow_id.as_str()),
            )
        })?;
        let now = state.store.now();
        let target = plan_flow_review(flow, recipient, now)?;
        if result.kind == ReviewType::SignReject {
            // Without a RecipientId the refusing signer is the first one the review holds.
            let is_signer = |a: &Approver| match recipient {
                Some(r) => a.recipient_id == r,
                None => a.review.is_needed() && a.status == ApproveStatus::Pending,
            };
            let scope = LinkTarget::Flow(flow_id.clone());
            state.signing.reject_on_review(&caller.app_id, &scope, &is_signer, &result).await?;
            return Ok(Empty {});
        }
        if record(state, &[target], &result, now).await? {
            return Ok(Empty {});
        }
    }
    Err(changing())
}

/// Records a review of one signer (`ApproverInfo`) in every contract of a group where their
/// signing waits for one. `SIGN_REJECT` refuses the group's contracts for the signer.
pub async fn create_flow_group_sign_review(
    state: &AppState,
    caller: &Caller,
    req: CreateFlowGroupSignReviewRequest,
) -> Result<Empty, Failure> {
    let (organization, _) = agent_operator(state, caller, req.agent.as_ref()).await?;
    let group = req
        .flow_group_id
        .as_deref()
        .filter(|g| !g.is_empty())
        .ok_or_else(|| ApiError::new(Code::MissingParameter, "The parameter `FlowGroupId` is required."))?;
    let result = ReviewResult::parse(req.review_type.as_deref(), req.review_message.as_deref())?;
    let info = req
        .approver_info
        .as_ref()
        .ok_or_else(|| ApiError::new(Code::MissingParameter, "The parameter `ApproverInfo` is required."))?;
    let signer = ReviewSigner::parse(
        &ReviewSignerFields {
            approver_type: info.approver_type.as_deref(),
            name: info.approver_name.as_deref(),
            mobile: info.approver_mobile.as_deref(),
            id_card_type: info.approver_id_card_type.as_deref(),
            id_card_number: info.approver_id_card_number.as_deref(),
            organization_name: info.organization_name.as_deref(),
        },
        "ApproverInfo",
    )?;
    let is_signer = |a: &Approver| signer.matches(a);
    for _ in 0..ATTEMPTS {
        let (id, _, flows) = created_group(state, &caller.app_id, &organization.open_id, group).await?;
        let now = state.store.now();
        let targets = plan_group_review(&flows, &is_signer, now)?;
        if result.kind == ReviewType::SignReject {
            state.signing.reject_on_review(&caller.app_id, &LinkTarget::Group(id), &is_signer, &result).await?;
            return Ok(Empty {});
        }
        if record(state, &targets, &result, now).await? {
            return Ok(Empty {});
        }
    }
    Err(changing())
}

/// Records a PASS or REJECT; a PASS wakes the auto-signer, whose signers may be due now.
async fn record(state: &AppState, targets: &[ReviewTarget], result: &ReviewResult, now: i64) -> Result<bool, Failure> {
    let recorded = state.store.record_reviews(targets, result, now).await?;
    if recorded && result.kind == ReviewType::Pass {
        state.signing.wake_auto_sign();
    }
    Ok(recorded)
}

fn changing() -> Failure {
    anyhow!("the contracts kept changing while the review was recorded ({ATTEMPTS} attempts)").into()
}

/// Reminds each signer whose turn it is in each contract of `FlowIds`, once per contract, by a
/// text message with a fresh link; `RemindFlowRecords` says, per contract, who was reminded,
/// who had been already and who cannot be, in Tencent's wording.
pub async fn channel_create_flow_reminds(
    state: &AppState,
    caller: &Caller,
    req: ChannelCreateFlowRemindsRequest,
) -> Result<ChannelCreateFlowRemindsResponse, Failure> {
    let (organization, _) = agent_operator(state, caller, req.agent.as_ref()).await?;
    let ids = req.flow_ids.unwrap_or_default();
    if ids.is_empty() {
        return fail(Code::MissingParameter, "The parameter `FlowIds` is required.").map_err(Into::into);
    }
    if ids.len() > MAX_REMIND_FLOWS {
        return fail(
            Code::InvalidParameterValue,
            format!("`FlowIds` holds {} ids; at most {MAX_REMIND_FLOWS} are allowed.", ids.len()),
        )
        .map_err(Into::into);
    }
    let mut parsed: Vec<FlowId> = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let field = format!("FlowIds.{i}");
        let id = FlowId::parse(Some(id), &field).map_err(|e| ApiError::new(Code::InvalidParameterValue, e.message))?;
        if let Some(j) = parsed.iter().position(|p| p == &id) {
            return fail(Code::InvalidParameterValue, format!("`{field}` repeats `FlowIds.{j}`.")).map_err(Into::into);
        }
        parsed.push(id);
    }
    let mut found: HashMap<FlowId, Flow> = state
        .store
        .flows(&caller.app_id, &organization.open_id, &parsed)
        .await?
        .into_iter()
        .map(|f| (f.flow_id.clone(), f))
        .collect();
    let mut flows = Vec::with_capacity(parsed.len());
    for (i, id) in parsed.iter().enumerate() {
        flows.push(found.remove(id).ok_or_else(|| {
            ApiError::new(
                Code::InvalidParameterValue,
                format!("The contract `{}` (FlowIds.{i}) does not exist.", id.as_str()),
            )
        })?);
    }

    let now = state.store.now();
    let plans: Vec<Result<Vec<Remind>, String>> = flows.iter().map(|f| plan_reminders(f, now)).collect();
    let due: Vec<(&Flow, &Approver)> = flows
        .iter()
        .zip(&plans)
        .filter_map(|(f, p)| p.as_ref().ok().map(|p| (f, p)))
        .flat_map(|(f, p)| p.iter().filter_map(move |r| if let Remind::Signer(a) = r { Some((f, *a)) } else { None }))
        .collect();
    let pairs: Vec<_> = due.iter().map(|(f, a)| (f.flow_id.clone(), a.sign_id.clone())).collect();
    let new = state.store.record_reminders(&pairs, now).await?;
    let to_send: Vec<(&Flow, &Approver)> = due.iter().zip(&new).filter(|(_, n)| **n).map(|(d, _)| *d).collect();
    let sent = send_reminders(state, caller, organization.name.as_str(), &to_send, now).await?;

    let mut records = Vec::with_capacity(flows.len());
    for (flow, plan) in flows.iter().zip(plans) {
        let record = |can_remind: bool, remind_message: String| RemindFlowRecords {
            can_remind,
            flow_id: flow.flow_id.as_str().to_owned(),
            remind_message,
        };
        let plan = match plan {
            Ok(plan) => plan,
            Err(why) => {
                records.push(record(false, why));
                continue;
            }
        };
        let mut message = String::new();
        for r in &plan {
            let (a, outcome) = match r {
                Remind::Skipped(a, why) => (a, (*why).to_owned()),
                Remind::Signer(a) => {
                    let i = due.iter().position(|(f, d)| f.flow_id == flow.flow_id && d.sign_id == a.sign_id);
                    let outcome = match i.map(|i| new[i]) {
                        Some(true) if sent.contains(&(flow.flow_id.clone(), a.sign_id.clone())) => "催办成功；",
                        Some(true) => "催办短信发送失败；",
                        _ => "此签署人已催办过；",
                    };
                    (a, outcome.to_owned())
                }
            };
            message.push_str(&format!("{}: {outcome}", signer_label(a)));
        }
        let can_remind = plan.iter().any(|r| matches!(r, Remind::Signer(_)));
        if plan.is_empty() {
            message.push_str("当前没有待签署的签署人；");
        }
        records.push(record(can_remind, message));
    }
    Ok(ChannelCreateFlowRemindsResponse { remind_flow_records: records })
}

/// Sends each reminder with a fresh link to what the signer signs (the whole group for a
/// group's contract, as a group is signed as a whole), valid as long as CreateSignUrls' links.
/// Answers the reminders sent; one the SMS sender did not take is logged and left out.
async fn send_reminders(
    state: &AppState,
    caller: &Caller,
    organization: &str,
    reminders: &[(&Flow, &Approver)],
    now: i64,
) -> Result<Vec<(FlowId, crate::domain::id::SignId)>, Failure> {
    let mut links = Vec::with_capacity(reminders.len());
    let mut messages = Vec::with_capacity(reminders.len());
    for (flow, a) in reminders {
        let (Some(key), Some(mobile)) = (SignerKey::of(a), a.mobile.clone()) else { continue };
        let (target, title) = match &flow.group {
            Some((group, name)) => (LinkTarget::Group(group.clone()), name.clone()),
            None => (LinkTarget::Flow(flow.flow_id.clone()), flow.name.clone()),
        };
        let token = LinkToken::generate();
        let text = format!(
            "【签署】{organization}提醒您签署《{title}》，请尽快完成签署：{}",
            state.urls.absolute(&sign_path(&token))
        );
        messages.push(((flow.flow_id.clone(), a.sign_id.clone()), mobile, text));
        links.push(NewSignLink {
            token,
            app_id: caller.app_id.clone(),
            target,
            signer: key,
            preview: false,
            expires_at: now + SIGN_URLS_LIFETIME_SECONDS,
            created_at: now,
        });
    }
    state.store.create_sign_links(&links, Action::ChannelCreateFlowReminds.as_str()).await?;
    let sends = messages.into_iter().map(|(who, mobile, text)| async move {
        match state.sms.send(&mobile, &text, None).await {
            Ok(()) => Some(who),
            Err(e) => {
                warn!(flow_id = who.0.as_str(), "reminder not sent: {e:#}");
                None
            }
        }
    });
    Ok(futures::future::join_all(sends).await.into_iter().flatten().collect())
}
