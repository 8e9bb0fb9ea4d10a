//! Reading contract documents: DescribeResourceUrlsByFlows, ChannelDescribeFlowComponents,
//! and the synthesis tasks (DescribeFileConvertTask, ChannelGetTaskResultApi).

use std::collections::HashMap;

use super::agent_operator;
use crate::api::wire::{
    ChannelDescribeFlowComponentsRequest, ChannelDescribeFlowComponentsResponse, ChannelGetTaskResultApiRequest,
    ChannelGetTaskResultApiResponse, DescribeFileConvertTaskRequest, DescribeFileConvertTaskResponse,
    DescribeResourceUrlsByFlowsRequest, DescribeResourceUrlsByFlowsResponse, FilledComponent, FlowResourceUrlInfo,
    RecipientComponentInfo, ResourceUrlInfo,
};
use crate::api::{AppState, Caller, urls};
use crate::domain::flow::ApproveStatus;
use crate::domain::id::{FileId, FlowId, TaskId};
use crate::domain::template::{ComponentType, RecipientType};
use crate::error::{ApiError, Code, Failure, fail};
use crate::store::documents::{Document, DocumentState};

/// "做多50个".
const MAX_FLOWS: usize = 50;

pub async fn describe_resource_urls_by_flows(
    state: &AppState,
    caller: &Caller,
    req: DescribeResourceUrlsByFlowsRequest,
) -> Result<DescribeResourceUrlsByFlowsResponse, Failure> {
    let (organization, _) = agent_operator(state, caller, req.agent.as_ref()).await?;
    let ids = req.flow_ids.unwrap_or_default();
    if ids.is_empty() {
        return fail(Code::MissingParameter_FlowId, "The parameter `FlowIds` needs at least one FlowId.")
            .map_err(Into::into);
    }
    if ids.len() > MAX_FLOWS {
        return fail(
            Code::InvalidParameter,
            format!("`FlowIds` holds {} ids; at most {MAX_FLOWS} are allowed.", ids.len()),
        )
        .map_err(Into::into);
    }
    let parsed: Vec<Option<FlowId>> = ids.iter().map(|id| FlowId::parse(Some(id), "FlowIds").ok()).collect();
    let known: Vec<FlowId> = parsed.iter().flatten().cloned().collect();
    let flows: HashMap<FlowId, String> = state
        .store
        .flows(&caller.app_id, &organization.open_id, &known)
        .await?
        .into_iter()
        .map(|f| (f.flow_id, f.name))
        .collect();
    // All at once: each may have to be made, or waited for.
    let found: Vec<FlowId> = flows.keys().cloned().collect();
    let documents: HashMap<FlowId, Result<Document, String>> =
        found.iter().cloned().zip(state.synthesis.ensure(&caller.app_id, &found).await?).collect();
    // Signed contracts are served as their latest revision.
    let latest = state.store.latest_revisions(&caller.app_id, &found).await?;
    let now = state.store.now();
    let mut infos = Vec::with_capacity(ids.len());
    let mut errors = Vec::with_capacity(ids.len());
    for (id, parsed) in ids.iter().zip(&parsed) {
        let found = parsed.as_ref().and_then(|p| flows.get(p).map(|name| (p, name)));
        let Some((flow_id, name)) = found else {
            infos.push(FlowResourceUrlInfo { flow_id: id.clone(), resource_url_infos: Vec::new() });
            errors.push("查询流程不存在 (the contract does not exist)".to_owned());
            continue;
        };
        match documents[flow_id].clone() {
            Ok(Document { sha256: Some(made), .. }) => {
                let sha = latest.get(flow_id).map_or(made.as_str(), |r| r.sha256.as_str());
                let file_name = format!("{name}.pdf");
                infos.push(FlowResourceUrlInfo {
                    flow_id: id.clone(),
                    resource_url_infos: vec![ResourceUrlInfo {
                        url: state.urls.sign(&urls::blob_path(sha, &file_name, false), now),
                        name: file_name,
                        kind: "PDF".to_owned(),
                    }],
                });
                errors.push(String::new());
            }
            Ok(_) => return Err(anyhow::anyhow!("document of {id} is ready without a blob").into()),
            Err(why) => {
                infos.push(FlowResourceUrlInfo { flow_id: id.clone(), resource_url_infos: Vec::new() });
                errors.push(why);
            }
        }
    }
    Ok(DescribeResourceUrlsByFlowsResponse { flow_resource_url_infos: infos, error_messages: errors })
}

pub async fn channel_describe_flow_components(
    state: &AppState,
    caller: &Caller,
    req: ChannelDescribeFlowComponentsRequest,
) -> Result<ChannelDescribeFlowComponentsResponse, Failure> {
    let (organization, _) = agent_operator(state, caller, req.agent.as_ref()).await?;
    let raw = crate::domain::required(req.flow_id.as_deref(), "FlowId")?;
    let not_found =
        || ApiError::new(Code::ResourceNotFound_Flow, format!("The contract `{raw}` (FlowId) does not exist."));
    let flow_id = FlowId::parse(Some(raw), "FlowId").map_err(|_| not_found())?;
    let flow = state
        .store
        .flows(&caller.app_id, &organization.open_id, std::slice::from_ref(&flow_id))
        .await?
        .pop()
        .ok_or_else(not_found)?;
    let template = state.store.flow_template(&caller.app_id, &flow).await?;
    let values: HashMap<&str, &str> = flow.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let now = state.store.now();
    let mut image_urls = HashMap::new();
    for c in template.components.iter().filter(|c| c.component_type == ComponentType::FillImage) {
        if let Some(file_id) = values.get(c.component_id.as_str()).and_then(|v| FileId::parse(Some(v), "v").ok())
            && let Some(file) = state.store.file(&caller.app_id, &file_id).await?
        {
            let url = state.urls.sign(&urls::blob_path(&file.sha256, &file.file_name, false), now);
            image_urls.insert(c.component_id.as_str(), url);
        }
    }
    // "不返回的控件类型：动态表格、附件控件、水印控件"; signing components are not filled.
    let shown = |kind: ComponentType| {
        !kind.is_sign() && !matches!(kind, ComponentType::DynamicTable | ComponentType::Attachment)
    };
    let components_of = |owner: Option<&str>| -> Vec<FilledComponent> {
        template
            .components
            .iter()
            .filter(|c| c.recipient_id.as_deref() == owner && shown(c.component_type))
            .map(|c| {
                let value = values.get(c.component_id.as_str()).copied();
                FilledComponent {
                    component_id: c.component_id.clone(),
                    component_name: c.component_name.clone(),
                    component_fill_status: if value.is_some() { "1" } else { "0" }.to_owned(),
                    component_value: value.unwrap_or_default().to_owned(),
                    image_url: image_urls.get(c.component_id.as_str()).cloned().unwrap_or_default(),
                }
            })
            .collect()
    };
    let promoter = template.recipients.iter().find(|r| r.recipient_type == RecipientType::Promoter);
    let signed = |recipient: &str| {
        flow.approvers.iter().any(|a| a.recipient_id == recipient && a.status == ApproveStatus::Accept)
    };
    let mut infos = vec![RecipientComponentInfo {
        recipient_id: promoter.map(|r| r.recipient_id.clone()).unwrap_or_default(),
        // The initiator filled its components when it created the contract.
        recipient_fill_status: "1".to_owned(),
        is_promoter: true,
        components: components_of(None),
    }];
    for r in template.recipients.iter().filter(|r| r.recipient_type != RecipientType::Promoter) {
        let components = components_of(Some(&r.recipient_id));
        infos.push(RecipientComponentInfo {
            recipient_id: r.recipient_id.clone(),
            // A signer fills their components when they sign, all at once.
            recipient_fill_status: if components.is_empty() || signed(&r.recipient_id) { "1" } else { "0" }.to_owned(),
            is_promoter: false,
            components,
        });
    }
    Ok(ChannelDescribeFlowComponentsResponse { recipient_component_infos: infos })
}

/// A synthesis task as DescribeFileConvertTask reports it: status, message, and the FlowId
/// whose document it makes.
async fn task(
    state: &AppState,
    caller: &Caller,
    task_id: Option<&str>,
) -> Result<(String, i64, String, String), Failure> {
    let raw = crate::domain::required(task_id, "TaskId")?;
    let not_found =
        || ApiError::new(Code::InvalidParameter_ParamError, format!("The task `{raw}` (TaskId) does not exist."));
    let id = TaskId::parse(Some(raw), "TaskId").map_err(|_| not_found())?;
    let doc = state.store.document_by_task(&caller.app_id, &id).await?.ok_or_else(not_found)?;
    let (status, message) = match doc.state {
        DocumentState::Ready => (8, "任务处理完成"),
        DocumentState::Failed => (-6, "转换失败"),
        DocumentState::Pending if doc.leased => (4, "文档转换中"),
        DocumentState::Pending => (0, "任务已提交"),
    };
    Ok((raw.to_owned(), status, message.to_owned(), doc.flow_id.as_str().to_owned()))
}

pub async fn describe_file_convert_task(
    state: &AppState,
    caller: &Caller,
    req: DescribeFileConvertTaskRequest,
) -> Result<DescribeFileConvertTaskResponse, Failure> {
    agent_operator(state, caller, req.agent.as_ref()).await?;
    let (task_id, task_status, task_message, resource_id) = task(state, caller, req.task_id.as_deref()).await?;
    Ok(DescribeFileConvertTaskResponse { task_id, task_status, task_message, resource_id })
}

pub async fn channel_get_task_result_api(
    state: &AppState,
    caller: &Caller,
    req: ChannelGetTaskResultApiRequest,
) -> Result<ChannelGetTaskResultApiResponse, Failure> {
    agent_operator(state, caller, req.agent.as_ref()).await?;
    let (task_id, task_status, task_message, resource_id) = task(state, caller, req.task_id.as_deref()).await?;
    Ok(ChannelGetTaskResultApiResponse { task_id, task_status, task_message, resource_id, preview_url: String::new() })
}
