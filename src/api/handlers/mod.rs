//! One handler per implemented action: wire request in, domain types and store calls, wire
//! response out. Every other action answers `UnsupportedOperation`.

mod approvers;
mod documents;
mod evidence;
mod files;
mod flows;
mod lifecycle;
mod links;
mod reviews;
mod templates;
mod tenancy;
mod verify;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::action::Action;
use super::schema::Schema;
use super::wire::Agent;
use super::{AppState, Caller, envelope};
use crate::domain::ExternalId;
use crate::domain::flow::Flow;
use crate::domain::id::FlowGroupId;
use crate::domain::tenancy::{Operator, Organization};
use crate::error::{ApiError, Code, Failure, fail};

/// Validates the parameters against the action's schema, then deserializes them.
pub fn request<T: DeserializeOwned>(action: Action, params: Value) -> Result<T, ApiError> {
    Schema::get().check(action.as_str(), &params)?;
    serde_json::from_value(params).map_err(|e| ApiError::new(Code::InvalidParameter, format!("Invalid request: {e}.")))
}

/// Declares the implemented actions once: the dispatch `match` and the list the compatibility
/// test checks come from the same lines.
macro_rules! implemented_actions {
    ($($variant:ident($request:ident) => $handler:path,)*) => {
        #[cfg(test)]
        const IMPLEMENTED: &[Action] = &[$(Action::$variant,)*];

        /// Each implemented action with the wire struct its handler reads, traced, for the test
        /// that holds every struct to the SDK's schema.
        #[cfg(test)]
        fn traced_requests() -> Vec<(Action, serde_reflection::Registry, &'static str)> {
            vec![$((
                Action::$variant,
                tests::trace::<super::wire::$request>(),
                std::any::type_name::<super::wire::$request>().rsplit("::").next().unwrap_or_default(),
            ),)*]
        }

        /// Reads `params` as the wire request of every implemented action, each as its handler
        /// would, and drops the results: for the `edge_json` and `edge_query` fuzz targets, which
        /// look for panics and hangs, not answers.
        pub fn parse_as_every_request(params: &Value) {
            $(let _ = request::<super::wire::$request>(Action::$variant, params.clone());)*
        }

        pub async fn dispatch(
            state: &AppState,
            caller: &Caller,
            action: Action,
            params: Value,
        ) -> Result<Map<String, Value>, Failure> {
            match action {
                $(Action::$variant => {
                    let req: super::wire::$request = request(Action::$variant, params)?;
                    let resp = $handler(state, caller, req).await?;
                    Ok(envelope::to_object(&resp)?)
                })*
                other => Err(ApiError::new(
                    Code::UnsupportedOperation,
                    format!("The action `{other}` is not implemented by qianshu yet; see docs/compatibility.md."),
                )
                .into()),
            }
        }
    };
}

implemented_actions! {
    ChannelBatchCancelFlows(ChannelBatchCancelFlowsRequest) => lifecycle::channel_batch_cancel_flows,
    ChannelCancelFlow(ChannelCancelFlowRequest) => lifecycle::channel_cancel_flow,
    ChannelCreateBatchQuickSignUrl(ChannelCreateBatchQuickSignUrlRequest) => links::channel_create_batch_quick_sign_url,
    ChannelCreateFlowApprovers(ChannelCreateFlowApproversRequest) => approvers::channel_create_flow_approvers,
    ChannelCreateFlowGroupByTemplates(ChannelCreateFlowGroupByTemplatesRequest) => flows::create_flow_group_by_templates,
    ChannelCreateFlowReminds(ChannelCreateFlowRemindsRequest) => reviews::channel_create_flow_reminds,
    ChannelCreateFlowSignReview(ChannelCreateFlowSignReviewRequest) => reviews::channel_create_flow_sign_review,
    ChannelCreateFlowSignUrl(ChannelCreateFlowSignUrlRequest) => links::channel_create_flow_sign_url,
    ChannelDescribeBillUsageDetail(ChannelDescribeBillUsageDetailRequest) => lifecycle::channel_describe_bill_usage_detail,
    ChannelDescribeFlowComponents(ChannelDescribeFlowComponentsRequest) => documents::channel_describe_flow_components,
    ChannelGetTaskResultApi(ChannelGetTaskResultApiRequest) => documents::channel_get_task_result_api,
    ChannelVerifyPdf(ChannelVerifyPdfRequest) => verify::channel_verify_pdf,
    CreateChannelFlowEvidenceReport(CreateChannelFlowEvidenceReportRequest) => evidence::create_channel_flow_evidence_report,
    CreateFlowGroupSignReview(CreateFlowGroupSignReviewRequest) => reviews::create_flow_group_sign_review,
    CreateSignUrls(CreateSignUrlsRequest) => links::create_sign_urls,
    DescribeCancelFlowsTask(DescribeCancelFlowsTaskRequest) => lifecycle::describe_cancel_flows_task,
    DescribeChannelFlowEvidenceReport(DescribeChannelFlowEvidenceReportRequest) => evidence::describe_channel_flow_evidence_report,
    DescribeFileConvertTask(DescribeFileConvertTaskRequest) => documents::describe_file_convert_task,
    DescribeResourceUrlsByFlows(DescribeResourceUrlsByFlowsRequest) => documents::describe_resource_urls_by_flows,
    DescribeFlowDetailInfo(DescribeFlowDetailInfoRequest) => flows::describe_flow_detail_info,
    DescribeTemplates(DescribeTemplatesRequest) => templates::describe_templates,
    DescribeUsage(DescribeUsageRequest) => lifecycle::describe_usage,
    ModifyFlowDeadline(ModifyFlowDeadlineRequest) => lifecycle::modify_flow_deadline,
    SyncProxyOrganization(SyncProxyOrganizationRequest) => tenancy::sync_proxy_organization,
    SyncProxyOrganizationOperators(SyncProxyOrganizationOperatorsRequest) => tenancy::sync_proxy_organization_operators,
    UploadFiles(UploadFilesRequest) => files::upload_files,
}

/// `Agent.AppId` must be the application that owns the calling SecretId; anything else looks
/// exactly like an application that does not exist.
fn agent_app<'a>(caller: &'a Caller, agent: Option<&Agent>) -> Result<&'a ExternalId, ApiError> {
    let agent = agent.ok_or_else(|| ApiError::new(Code::MissingParameter, "The parameter `Agent` is required."))?;
    let app_id = ExternalId::parse(agent.app_id.as_deref(), "Agent.AppId")?;
    if app_id != caller.app_id {
        return fail(
            Code::ResourceNotFound_Application,
            format!(
                "The application `{app_id}` (Agent.AppId) does not exist or does not belong to the calling SecretId."
            ),
        );
    }
    Ok(&caller.app_id)
}

/// The caller's application and the `Agent.ProxyOrganizationOpenId` it names, which need not
/// exist yet.
fn agent_organization_id<'a>(
    caller: &'a Caller,
    agent: Option<&Agent>,
) -> Result<(&'a ExternalId, ExternalId), ApiError> {
    let app_id = agent_app(caller, agent)?;
    let open_id = ExternalId::parse(
        agent.and_then(|a| a.proxy_organization_open_id.as_deref()),
        "Agent.ProxyOrganizationOpenId",
    )?;
    Ok((app_id, open_id))
}

/// The contract group `FlowGroupId` (as sent) names, of those `organization` of `app` created:
/// its id, name and contracts; any other is `ResourceNotFound.FlowGroup`.
async fn created_group(
    state: &AppState,
    app: &ExternalId,
    organization: &ExternalId,
    group: &str,
) -> Result<(FlowGroupId, String, Vec<Flow>), Failure> {
    let not_found = || {
        ApiError::new(
            Code::ResourceNotFound_FlowGroup,
            format!("The contract group `{group}` (FlowGroupId) does not exist."),
        )
    };
    let id = FlowGroupId::parse(Some(group), "FlowGroupId").map_err(|_| not_found())?;
    let (name, flows) = state.store.flow_group(app, organization, &id).await?.ok_or_else(not_found)?;
    Ok((id, name, flows))
}

/// The sub-organisation `Agent.ProxyOrganizationOpenId` names, which must exist.
async fn agent_organization(state: &AppState, caller: &Caller, agent: Option<&Agent>) -> Result<Organization, Failure> {
    let (app_id, open_id) = agent_organization_id(caller, agent)?;
    Ok(state.store.organization(app_id, &open_id).await?.ok_or_else(|| {
        ApiError::new(
            Code::ResourceNotFound_Organization,
            format!("The sub-organization `{open_id}` (Agent.ProxyOrganizationOpenId) does not exist; call SyncProxyOrganization first."),
        )
    })?)
}

/// The acting organisation and operator of `Agent`: both must exist, belong together and be
/// real-name verified (Tencent: "第三方平台子客企业和员工必须已经经过实名认证").
async fn agent_operator(
    state: &AppState,
    caller: &Caller,
    agent: Option<&Agent>,
) -> Result<(Organization, Operator), Failure> {
    let organization = agent_organization(state, caller, agent).await?;
    let open_id = ExternalId::parse(
        agent.and_then(|a| a.proxy_operator.as_ref()).and_then(|o| o.open_id.as_deref()),
        "Agent.ProxyOperator.OpenId",
    )?;
    let operator = state.store.operator(&caller.app_id, &organization.open_id, &open_id).await?.ok_or_else(|| {
        ApiError::new(
            Code::OperationDenied_UserNotInOrganization,
            format!(
                "The operator `{open_id}` (Agent.ProxyOperator.OpenId) is not an employee of `{}`.",
                organization.open_id
            ),
        )
    })?;
    if !organization.verified {
        return Err(ApiError::new(
            Code::OperationDenied_NoIdentityVerify,
            format!(
                "The sub-organization `{}` (Agent.ProxyOrganizationOpenId) is not real-name verified.",
                organization.open_id
            ),
        )
        .into());
    }
    if !operator.verified {
        return Err(ApiError::new(
            Code::OperationDenied_NoIdentityVerify,
            format!("The operator `{open_id}` (Agent.ProxyOperator.OpenId) is not real-name verified."),
        )
        .into());
    }
    Ok((organization, operator))
}

#[cfg(test)]
mod tests {
    use serde_reflection::{ContainerFormat, Format, Registry, Samples, Tracer, TracerConfig};

    use super::*;
    use crate::api::schema::FieldType;

    pub(super) fn trace<T: serde::de::DeserializeOwned>() -> Registry {
        let mut tracer = Tracer::new(TracerConfig::default());
        tracer.trace_type::<T>(&Samples::new()).expect("a wire request struct can be traced");
        tracer.registry().expect("every traced type is complete")
    }

    /// Every field of wire struct `name` (in `registry`) exists in schema object `object` under
    /// the same name with the same type, recursively; a misspelt field would otherwise pass the
    /// schema under the SDK's name and be dropped by serde without a word.
    fn drift(registry: &Registry, name: &str, object: &str, path: &str, found: &mut Vec<String>) {
        let Some(ContainerFormat::Struct(fields)) = registry.get(name) else {
            found.push(format!("{path}: {name} is not a plain struct"));
            return;
        };
        let Some(schema) = Schema::get().fields(object) else {
            found.push(format!("{path}: the schema has no object {object}"));
            return;
        };
        for field in fields {
            let at = format!("{path}.{}", field.name);
            match schema.get(&field.name) {
                None => found.push(format!("{at}: not a field of {object} in the SDK")),
                Some(expected) => same_type(registry, &field.value, expected, &at, found),
            }
        }
    }

    fn same_type(registry: &Registry, format: &Format, expected: &FieldType, at: &str, found: &mut Vec<String>) {
        match (format, expected) {
            (Format::Option(inner), _) => same_type(registry, inner, expected, at, found),
            (Format::Seq(inner), FieldType::List(e)) => same_type(registry, inner, e, &format!("{at}.N"), found),
            (Format::TypeName(name), FieldType::Object(object)) => drift(registry, name, object, at, found),
            (Format::Str, FieldType::String)
            | (Format::Bool, FieldType::Boolean)
            | (Format::F64 | Format::F32, FieldType::Float)
            | (Format::I64 | Format::I32 | Format::U64 | Format::U32, FieldType::Integer) => {}
            (f, e) => found.push(format!("{at}: the struct has {f:?}, the SDK {e:?}")),
        }
    }

    #[test]
    fn every_wire_request_matches_the_sdk_schema() {
        let requests = traced_requests();
        assert_eq!(requests.len(), IMPLEMENTED.len());
        let mut found = Vec::new();
        for (action, registry, name) in &requests {
            let object = Schema::get().request_object(action.as_str()).expect("every action has a request");
            drift(registry, name, object, action.as_str(), &mut found);
        }
        assert!(found.is_empty(), "wire structs that drifted from the SDK:\n{}", found.join("\n"));
    }

    #[test]
    fn a_misspelt_wire_field_is_found() {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        #[allow(dead_code)] // only traced
        struct UploadFilesRequest {
            business_type: Option<String>,
            file_infos: Option<Vec<Misspelt>>,
            deadline: Option<String>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        #[allow(dead_code)] // only traced
        struct Misspelt {
            file_nmae: Option<String>,
        }
        let mut found = Vec::new();
        drift(&trace::<UploadFilesRequest>(), "UploadFilesRequest", "UploadFilesRequest", "UploadFiles", &mut found);
        assert_eq!(
            found,
            [
                "UploadFiles.FileInfos.N.FileNmae: not a field of UploadFile in the SDK",
                "UploadFiles.Deadline: the struct has Str, the SDK Integer",
            ]
        );
    }

    #[test]
    fn compatibility_table_matches_the_code() {
        let doc = include_str!("../../../docs/compatibility.md");
        let rows: Vec<(&str, &str)> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .map(|l| {
                let (name, rest) = l.split_once("` | ").expect("| `Action` | status | notes |");
                (name, rest.split(" | ").next().expect("status"))
            })
            .collect();
        let names: Vec<&str> = rows.iter().map(|(n, _)| *n).collect();
        let all: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names, all, "one row per action, in the enum's order");
        for (name, status) in rows {
            let action: Action = name.parse().unwrap();
            let implemented = IMPLEMENTED.contains(&action);
            assert_eq!(status != "❌", implemented, "{name} is marked {status}");
        }
    }
}
