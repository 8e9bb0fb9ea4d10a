//! The callbacks' JSON: Tencent's partner envelope `{"MsgId", "MsgType", "MsgVersion":
//! "ThirdPartyApp", "MsgData"}` around a `FlowStatusChange` (per contract) or a
//! `FlowGroupStatusChange` (per group). Tencent's partner MsgData schema is not published; the
//! fields are the enterprise callback's (`FlowId`, `FlowName`, `FlowCallbackStatus`, `Operate`,
//! `Approvers` with `ApproverType`, `ApproveCallbackStatus`, …) plus the partner's identifiers
//! (`AppId`, `ProxyOrganizationOpenId`, `ProxyOperatorOpenId`) and the API's own names for what
//! the API also reports (`FlowStatus`, `FlowMessage`, `CustomerData` as given at creation,
//! `DeadLine`, `CreateOn`, `SignId`). Strings are empty rather than absent, as in Tencent's
//! answers; times are Unix seconds.

use serde::Serialize;

use crate::domain::callback::{
    GroupStatus, Operate, approve_callback_status, callback_approver_type, flow_callback_status,
};
use crate::domain::flow::Flow;
use crate::domain::id::{FlowGroupId, SignId, TaskId};
use crate::store::lifecycle::CancelTaskFlow;

pub const FLOW_STATUS_CHANGE: &str = "FlowStatusChange";
pub const FLOW_GROUP_STATUS_CHANGE: &str = "FlowGroupStatusChange";
pub const CANCEL_FLOWS: &str = "CancelFlows";
/// `MsgVersion` of callbacks to a third-party platform's application.
pub const MSG_VERSION: &str = "ThirdPartyApp";

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Message<'a, T> {
    msg_id: &'a str,
    msg_type: &'a str,
    msg_version: &'a str,
    msg_data: T,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct FlowStatusChange<'a> {
    app_id: &'a str,
    proxy_organization_open_id: &'a str,
    proxy_operator_open_id: &'a str,
    flow_id: &'a str,
    flow_group_id: &'a str,
    flow_group_name: &'a str,
    flow_name: &'a str,
    flow_type: &'a str,
    flow_description: &'a str,
    template_id: &'a str,
    flow_status: &'a str,
    flow_callback_status: i64,
    flow_message: &'a str,
    operate: &'a str,
    /// The approver who acted (sign, reject); empty otherwise.
    recipient_id: &'a str,
    sign_id: &'a str,
    customer_data: &'a str,
    create_on: i64,
    #[serde(rename = "DeadLine")]
    deadline: i64,
    occur_time: i64,
    approvers: Vec<ApproverData<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ApproverData<'a> {
    recipient_id: &'a str,
    sign_id: &'a str,
    approver_type: i64,
    proxy_organization_open_id: &'a str,
    proxy_operator_open_id: &'a str,
    organization_name: &'a str,
    approver_name: &'a str,
    approver_mobile: &'a str,
    approver_id_card_type: &'a str,
    approver_id_card_number: &'a str,
    approver_role_name: &'a str,
    sign_order: i64,
    approve_status: &'a str,
    approve_callback_status: i64,
    approve_message: &'a str,
    approve_time: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct FlowGroupStatusChange<'a> {
    app_id: &'a str,
    proxy_organization_open_id: &'a str,
    proxy_operator_open_id: &'a str,
    flow_group_id: &'a str,
    flow_group_name: &'a str,
    flow_group_status: &'a str,
    occur_time: i64,
    flow_infos: Vec<GroupFlow<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GroupFlow<'a> {
    flow_id: &'a str,
    flow_name: &'a str,
    flow_status: &'a str,
    flow_callback_status: i64,
}

/// A `FlowStatusChange` for `flow` of `group` as it is, after `operate` by `approver` (if one
/// acted).
pub fn flow_status_change(
    msg_id: &str,
    app_id: &str,
    group: Option<(&FlowGroupId, &str)>,
    flow: &Flow,
    operate: Operate,
    approver: Option<&SignId>,
    occurred_at: i64,
) -> String {
    let actor = approver.and_then(|id| flow.approvers.iter().find(|a| &a.sign_id == id));
    let (group_id, group_name) = group.map_or(("", ""), |(id, name)| (id.as_str(), name));
    let data = FlowStatusChange {
        app_id,
        proxy_organization_open_id: &flow.organization_open_id,
        proxy_operator_open_id: &flow.operator_open_id,
        flow_id: flow.flow_id.as_str(),
        flow_group_id: group_id,
        flow_group_name: group_name,
        flow_name: &flow.name,
        flow_type: flow.options.flow_type.as_deref().unwrap_or(""),
        flow_description: flow.options.description.as_deref().unwrap_or(""),
        template_id: flow.template_id.as_str(),
        flow_status: flow.status.as_str(),
        flow_callback_status: flow_callback_status(flow.status),
        flow_message: flow.flow_message.as_deref().unwrap_or(""),
        operate: operate.as_str(),
        recipient_id: actor.map_or("", |a| a.recipient_id.as_str()),
        sign_id: actor.map_or("", |a| a.sign_id.as_str()),
        customer_data: flow.options.customer_data.as_deref().unwrap_or(""),
        create_on: flow.created_on,
        deadline: flow.deadline,
        occur_time: occurred_at,
        approvers: flow
            .approvers
            .iter()
            .enumerate()
            .map(|(i, a)| ApproverData {
                recipient_id: &a.recipient_id,
                sign_id: a.sign_id.as_str(),
                approver_type: callback_approver_type(a.signer),
                proxy_organization_open_id: a.organization_open_id.as_deref().unwrap_or(""),
                proxy_operator_open_id: a.open_id.as_deref().unwrap_or(""),
                organization_name: a.organization_name.as_deref().unwrap_or(""),
                approver_name: a.name.as_deref().unwrap_or(""),
                approver_mobile: a.mobile.as_deref().unwrap_or(""),
                approver_id_card_type: a.id_card.as_ref().map_or("", |c| c.kind.as_str()),
                approver_id_card_number: a.id_card.as_ref().map_or("", |c| c.number.as_str()),
                approver_role_name: a.custom_role_name.as_deref().unwrap_or(&a.role_name),
                sign_order: i as i64,
                approve_status: a.status.as_str(),
                approve_callback_status: approve_callback_status(a.status),
                approve_message: a.approve_message.as_deref().unwrap_or(""),
                approve_time: a.approve_time.unwrap_or(0),
            })
            .collect(),
    };
    render(msg_id, FLOW_STATUS_CHANGE, data)
}

/// A `FlowGroupStatusChange` for the group `flows` make up (all of them, in group order).
pub fn flow_group_status_change(
    msg_id: &str,
    app_id: &str,
    group: (&FlowGroupId, &str),
    flows: &[&Flow],
    occurred_at: i64,
) -> String {
    let first = flows.first();
    let data = FlowGroupStatusChange {
        app_id,
        proxy_organization_open_id: first.map_or("", |f| f.organization_open_id.as_str()),
        proxy_operator_open_id: first.map_or("", |f| f.operator_open_id.as_str()),
        flow_group_id: group.0.as_str(),
        flow_group_name: group.1,
        flow_group_status: GroupStatus::of(flows.iter().map(|f| f.status)).as_str(),
        occur_time: occurred_at,
        flow_infos: flows
            .iter()
            .map(|f| GroupFlow {
                flow_id: f.flow_id.as_str(),
                flow_name: &f.name,
                flow_status: f.status.as_str(),
                flow_callback_status: flow_callback_status(f.status),
            })
            .collect(),
    };
    render(msg_id, FLOW_GROUP_STATUS_CHANGE, data)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CancelFlows<'a> {
    app_id: &'a str,
    proxy_organization_open_id: &'a str,
    task_id: &'a str,
    task_status: &'a str,
    success_flow_ids: Vec<&'a str>,
    failure_flows: Vec<CancelFailure<'a>>,
    occur_time: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CancelFailure<'a> {
    flow_id: &'a str,
    reason: &'a str,
    flow_name: &'a str,
}

/// A `CancelFlows` for a finished batch cancel: the fields `DescribeCancelFlowsTask` answers
/// (its `TaskStatus` is always `END`: the batch is done when its transaction writes this).
pub fn cancel_flows(
    msg_id: &str,
    app_id: &str,
    organization_open_id: &str,
    task: &TaskId,
    flows: &[CancelTaskFlow],
    occurred_at: i64,
) -> String {
    let data = CancelFlows {
        app_id,
        proxy_organization_open_id: organization_open_id,
        task_id: task.as_str(),
        task_status: "END",
        success_flow_ids: flows.iter().filter(|f| f.reason.is_none()).map(|f| f.flow_id.as_str()).collect(),
        failure_flows: flows
            .iter()
            .filter_map(|f| {
                f.reason.as_deref().map(|reason| CancelFailure { flow_id: &f.flow_id, reason, flow_name: &f.flow_name })
            })
            .collect(),
        occur_time: occurred_at,
    };
    render(msg_id, CANCEL_FLOWS, data)
}

fn render<T: Serialize>(msg_id: &str, msg_type: &str, msg_data: T) -> String {
    serde_json::to_string(&Message { msg_id, msg_type, msg_version: MSG_VERSION, msg_data })
        .expect("a message of strings and numbers serializes")
}
