//! ChannelCancelFlow, ChannelBatchCancelFlows, DescribeCancelFlowsTask, ModifyFlowDeadline,
//! ChannelDescribeBillUsageDetail and DescribeUsage.

use super::{agent_app, agent_operator};
use crate::api::wire::{
    CancelFailureFlow, ChannelBatchCancelFlowsRequest, ChannelBatchCancelFlowsResponse, ChannelBillUsageDetail,
    ChannelCancelFlowRequest, ChannelDescribeBillUsageDetailRequest, ChannelDescribeBillUsageDetailResponse,
    DescribeCancelFlowsTaskRequest, DescribeCancelFlowsTaskResponse, DescribeUsageRequest, DescribeUsageResponse,
    Empty, ModifyFlowDeadlineRequest, UsageDetail,
};
use crate::api::{AppState, Caller};
use crate::domain::id::{FlowId, TaskId};
use crate::domain::lifecycle::{
    self, CancelMessage, MAX_CANCEL_FLOWS, NOT_CANCELLABLE, NOT_FOUND, bill_period, cancel_message_format,
    cancel_refusal, usage_period,
};
use crate::domain::{ExternalId, required};
use crate::error::{ApiError, Code, Failure, fail};
use crate::store::lifecycle::{CancelTaskFlow, Cancelled};

/// The one kind of quota qianshu sells: contracts ("CloudEnterprise: 企业版合同").
const QUOTA_TYPE: &str = "CloudEnterprise";
const QUOTA_NAME: &str = "企业版合同";
/// Every other `QuotaType` the API knows: valid, and never charged by qianshu.
const OTHER_QUOTA_TYPES: [&str; 13] = [
    "SingleSignature",
    "CloudProve",
    "CloudOnlineSign",
    "ChannelWeCard",
    "SignFlow",
    "SignFace",
    "SignPassword",
    "SignSMS",
    "PersonalEssAuth",
    "PersonalThirdAuth",
    "OrgEssAuth",
    "FlowNotify",
    "AuthService",
];
/// `UsageDetail.FlowChannel` as Tencent's examples show it.
const FLOW_CHANNEL: &str = "企业版";

fn flow_not_found(id: &str) -> ApiError {
    ApiError::new(
        Code::ResourceNotFound_Flow,
        format!(
            "The contract `{id}` (FlowId) does not exist or was not created by the Agent's organization ({NOT_FOUND})."
        ),
    )
}

pub async fn channel_cancel_flow(
    state: &AppState,
    caller: &Caller,
    req: ChannelCancelFlowRequest,
) -> Result<Empty, Failure> {
    let (organization, _) = agent_operator(state, caller, req.agent.as_ref()).await?;
    let given = required(req.flow_id.as_deref(), "FlowId")?;
    let message = CancelMessage::parse(req.cancel_message.as_deref(), "CancelMessage")?;
    cancel_message_format(req.cancel_message_format, "CancelMessageFormat")?;
    let id = FlowId::parse(Some(given), "FlowId").map_err(|_| flow_not_found(given))?;
    let message = message.as_ref().map(CancelMessage::as_str);
    match state.store.cancel_flow(&caller.app_id, &organization.open_id, &id, message, state.store.now()).await? {
        Cancelled::Done { .. } => Ok(Empty {}),
        Cancelled::NotFound => Err(flow_not_found(given).into()),
        Cancelled::Ended { status, .. } => Err(cancel_refusal(given, status).into()),
    }
}

pub async fn channel_batch_cancel_flows(
    state: &AppState,
    caller: &Caller,
    req: ChannelBatchCancelFlowsRequest,
) -> Result<ChannelBatchCancelFlowsResponse, Failure> {
    let (organization, _) = agent_operator(state, caller, req.agent.as_ref()).await?;
    let ids = req.flow_ids.unwrap_or_default();
    // This action's documented codes have no MissingParameter or CancelReason: its parameter
    // errors are all InvalidParameter.ParamError.
    if ids.is_empty() {
        return fail(Code::InvalidParameter_ParamError, "The parameter `FlowIds` is required.").map_err(Into::into);
    }
    if ids.len() > MAX_CANCEL_FLOWS {
        return fail(
            Code::InvalidParameter_ParamError,
            format!("`FlowIds` holds {} ids; at most {MAX_CANCEL_FLOWS} are cancelled at once.", ids.len()),
        )
        .map_err(Into::into);
    }
    let message = CancelMessage::parse(req.cancel_message.as_deref(), "CancelMessage")
        .map_err(|e| ApiError::new(Code::InvalidParameter_ParamError, e.message))?
        .unwrap_or_else(CancelMessage::default_for_batch);
    cancel_message_format(req.cancel_message_format, "CancelMessageFormat")?;
    let now = state.store.now();
    let mut outcomes = Vec::with_capacity(ids.len());
    for given in &ids {
        // Each contract is its own transaction: one that cannot be cancelled leaves the others be.
        let outcome = match FlowId::parse(Some(given), "FlowIds") {
            Ok(id) => {
                state.store.cancel_flow(&caller.app_id, &organization.open_id, &id, Some(message.as_str()), now).await?
            }
            Err(_) => Cancelled::NotFound,
        };
        outcomes.push(match outcome {
            Cancelled::Done { name, .. } => CancelTaskFlow { flow_id: given.clone(), flow_name: name, reason: None },
            Cancelled::NotFound => {
                CancelTaskFlow { flow_id: given.clone(), flow_name: String::new(), reason: Some(NOT_FOUND.into()) }
            }
            Cancelled::Ended { name, .. } => {
                CancelTaskFlow { flow_id: given.clone(), flow_name: name, reason: Some(NOT_CANCELLABLE.into()) }
            }
        });
    }
    let task = TaskId::generate();
    state.store.record_cancel_task(&caller.app_id, &organization.open_id, &task, &outcomes, now).await?;
    // "如果全部撤销成功, 此数组为空数组"; otherwise one entry per FlowId, "" for those cancelled.
    let fail_messages = if outcomes.iter().all(|o| o.reason.is_none()) {
        Vec::new()
    } else {
        outcomes
            .iter()
            .map(|o| match &o.reason {
                None => String::new(),
                Some(reason) => format!("合同流程Id:{},无法撤回，错误信息：{reason}", o.flow_id),
            })
            .collect()
    };
    Ok(ChannelBatchCancelFlowsResponse { fail_messages, task_id: task.as_str().to_owned() })
}

pub async fn describe_cancel_flows_task(
    state: &AppState,
    caller: &Caller,
    req: DescribeCancelFlowsTaskRequest,
) -> Result<DescribeCancelFlowsTaskResponse, Failure> {
    let (organization, _) = agent_operator(state, caller, req.agent.as_ref()).await?;
    let given = required(req.task_id.as_deref(), "TaskId")
        .map_err(|e| ApiError::new(Code::InvalidParameter_ParamError, e.message))?;
    let not_found = || {
        ApiError::new(Code::InvalidParameter_ParamError, format!("The cancel task `{given}` (TaskId) does not exist."))
    };
    // Type 1 is a whole-organization cancel (CancelOrganizationFlows), which qianshu does not do:
    // none of its tasks is of that type.
    match req.cancel_type.unwrap_or(0) {
        0 => {}
        1 => return Err(not_found().into()),
        other => {
            return fail(
                Code::InvalidParameter_ParamError,
                format!("The parameter `CancelType` must be 0 or 1, not {other}."),
            )
            .map_err(Into::into);
        }
    }
    let task = TaskId::parse(Some(given), "TaskId").map_err(|_| not_found())?;
    let flows = state.store.cancel_task(&caller.app_id, &organization.open_id, &task).await?.ok_or_else(not_found)?;
    let (done, failed): (Vec<CancelTaskFlow>, Vec<CancelTaskFlow>) =
        flows.into_iter().partition(|f| f.reason.is_none());
    Ok(DescribeCancelFlowsTaskResponse {
        task_id: task.as_str().to_owned(),
        // Cancels are done within the call, so a task qianshu knows has ended.
        task_status: "END".to_owned(),
        success_flow_ids: done.into_iter().map(|f| f.flow_id).collect(),
        failure_flows: failed
            .into_iter()
            .map(|f| CancelFailureFlow {
                reason: f.reason.unwrap_or_default(),
                flow_id: f.flow_id,
                flow_name: f.flow_name,
            })
            .collect(),
    })
}

pub async fn modify_flow_deadline(
    state: &AppState,
    caller: &Caller,
    req: ModifyFlowDeadlineRequest,
) -> Result<Empty, Failure> {
    let (organization, _) = agent_operator(state, caller, req.agent.as_ref()).await?;
    let given = required(req.flow_id.as_deref(), "FlowId")?;
    if req.deadline.is_none() {
        return fail(Code::MissingParameter, "The parameter `Deadline` is required.").map_err(Into::into);
    }
    let id = FlowId::parse(Some(given), "FlowId").map_err(|_| flow_not_found(given))?;
    let flow = state
        .store
        .flows(&caller.app_id, &organization.open_id, std::slice::from_ref(&id))
        .await?
        .pop()
        .ok_or_else(|| flow_not_found(given))?;
    match flow.group {
        Some((group, _)) => fail(
            Code::OperationDenied,
            format!(
                "The contract `{given}` (FlowId) belongs to the contract group `{group}`: ModifyFlowDeadline does not \
                 support contracts of a group (不支持操作合同组合同)."
            ),
        ),
        None => fail(
            Code::UnsupportedOperation,
            format!("Changing the deadline of the contract `{given}` (FlowId) is not implemented by qianshu yet."),
        ),
    }
    .map_err(Into::into)
}

pub async fn channel_describe_bill_usage_detail(
    state: &AppState,
    caller: &Caller,
    req: ChannelDescribeBillUsageDetailRequest,
) -> Result<ChannelDescribeBillUsageDetailResponse, Failure> {
    let app = agent_app(caller, req.agent.as_ref())?;
    let organization = req
        .agent
        .as_ref()
        .and_then(|a| a.proxy_organization_open_id.as_deref())
        .filter(|o| !o.is_empty())
        .map(|o| ExternalId::parse(Some(o), "Agent.ProxyOrganizationOpenId"))
        .transpose()?;
    let period = bill_period(req.start_time.as_deref(), req.end_time.as_deref(), state.store.now())?;
    let (skip, take) = lifecycle::page(req.offset, req.limit, 100, 100)?;
    match req.quota_type.as_deref().filter(|q| !q.is_empty()) {
        None | Some(QUOTA_TYPE) => {}
        Some(other) if OTHER_QUOTA_TYPES.contains(&other) => {
            return Ok(ChannelDescribeBillUsageDetailResponse { total: 0, details: Vec::new() });
        }
        Some(other) => {
            return fail(
                Code::InvalidParameterValue_InvalidQuotaType,
                format!("The parameter `QuotaType` ({other}) is not a quota type."),
            )
            .map_err(Into::into);
        }
    }
    let (total, entries) = state.store.bill(app, organization.as_ref(), period, skip, take).await?;
    Ok(ChannelDescribeBillUsageDetailResponse {
        total,
        details: entries
            .into_iter()
            .map(|e| ChannelBillUsageDetail {
                flow_id: e.flow_id.as_str().to_owned(),
                operator_name: e.operator_name,
                create_organization_name: e.organization_name,
                flow_name: e.flow_name,
                flow_status: e.flow_status.as_str().to_owned(),
                quota_type: QUOTA_TYPE.to_owned(),
                use_count: e.units,
                cost_time: e.at,
                quota_name: QUOTA_NAME.to_owned(),
                // 1 扣费 (charge), 2 撤销返还 (refund on cancel).
                cost_type: if e.units > 0 { 1 } else { 2 },
                remark: String::new(),
            })
            .collect(),
    })
}

pub async fn describe_usage(
    state: &AppState,
    caller: &Caller,
    req: DescribeUsageRequest,
) -> Result<DescribeUsageResponse, Failure> {
    let app = agent_app(caller, req.agent.as_ref())?;
    let period = usage_period(req.start_date.as_deref(), req.end_date.as_deref())?;
    let (skip, take) = lifecycle::page(req.offset, req.limit, 1000, 1000)?;
    let per_day = !req.need_aggregate.unwrap_or(false);
    let (total, entries) = state.store.usage(app, period, per_day, skip, take).await?;
    Ok(DescribeUsageResponse {
        total,
        details: entries
            .into_iter()
            .map(|e| UsageDetail {
                proxy_organization_open_id: e.organization_open_id,
                proxy_organization_name: e.organization_name,
                // "如果是汇总数据则为1970-01-01".
                date: lifecycle::day_string(e.day.unwrap_or(0)),
                usage: e.used,
                cancel: e.refunded,
                flow_channel: FLOW_CHANNEL.to_owned(),
            })
            .collect(),
    })
}
