//! CreateChannelFlowEvidenceReport and DescribeChannelFlowEvidenceReport.

use super::agent_operator;
use crate::api::urls;
use crate::api::wire::{
    CreateChannelFlowEvidenceReportRequest, CreateChannelFlowEvidenceReportResponse,
    DescribeChannelFlowEvidenceReportRequest, DescribeChannelFlowEvidenceReportResponse,
};
use crate::api::{AppState, Caller};
use crate::domain::id::{FlowId, ReportId};
use crate::error::{ApiError, Code, Failure, fail};

/// A report is made before Create answers, so it is never still being made when asked for.
const SUCCESS: &str = "EvidenceStatusSuccess";

/// The only `ReportType`: 0, the contract signing report (合同签署报告).
fn report_type(value: Option<i64>) -> Result<(), ApiError> {
    match value {
        None | Some(0) => Ok(()),
        Some(other) => fail(
            Code::InvalidParameter_ParamError,
            format!("`ReportType` {other} is not a report type; 0 (合同签署报告) is the only one."),
        ),
    }
}

pub async fn create_channel_flow_evidence_report(
    state: &AppState,
    caller: &Caller,
    req: CreateChannelFlowEvidenceReportRequest,
) -> Result<CreateChannelFlowEvidenceReportResponse, Failure> {
    agent_operator(state, caller, req.agent.as_ref()).await?;
    report_type(req.report_type)?;
    let given = req.flow_id.as_deref().map(str::trim).filter(|f| !f.is_empty());
    let Some(given) = given else {
        return fail(Code::MissingParameter_FlowId, "The parameter `FlowId` is required.").map_err(Into::into);
    };
    let id = FlowId::parse(Some(given), "FlowId").map_err(|_| {
        ApiError::new(Code::ResourceNotFound_Flow, format!("The contract `{given}` (FlowId) does not exist."))
    })?;
    let report =
        crate::evidence::create_report(&state.store, &state.blobs, &state.synthesis, &state.pki, &caller.app_id, &id)
            .await?;
    Ok(CreateChannelFlowEvidenceReportResponse {
        report_id: report.report_id.to_string(),
        status: SUCCESS.to_owned(),
        report_url: String::new(),
    })
}

pub async fn describe_channel_flow_evidence_report(
    state: &AppState,
    caller: &Caller,
    req: DescribeChannelFlowEvidenceReportRequest,
) -> Result<DescribeChannelFlowEvidenceReportResponse, Failure> {
    agent_operator(state, caller, req.agent.as_ref()).await?;
    report_type(req.report_type)?;
    let given = crate::domain::required(req.report_id.as_deref(), "ReportId")?;
    let unknown = || {
        ApiError::new(
            Code::InvalidParameter_DataNotFound,
            format!("The report `{given}` (ReportId) does not exist or was not made for this application."),
        )
    };
    let id = ReportId::parse(Some(given), "ReportId")
        .map_err(|e| ApiError::new(Code::InvalidParameter_ParamError, e.message))?;
    let report = state.store.evidence_report(&caller.app_id, &id).await?.ok_or_else(unknown)?;
    let name = format!("出证报告_{}.pdf", report.flow_id);
    let url = state.urls.sign(&urls::blob_path(&report.sha256, &name, false), state.store.now());
    Ok(DescribeChannelFlowEvidenceReportResponse { report_url: url, status: SUCCESS.to_owned() })
}
