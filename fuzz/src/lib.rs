//! What the fuzz targets share: the request edge after the parameters are JSON, as
//! `qianshu::api` runs it for a POST body or a GET query.

use qianshu::api::action::Action;
use qianshu::api::schema::Schema;
use qianshu::api::{request, wire};
use serde_json::Value;

/// Checks `params` against every action's schema, then deserializes them into the wire request
/// of every implemented action, as the handler of that action would. The results are dropped:
/// any answer is fine, a panic or a hang is the finding.
pub fn into_every_request(params: &Value) {
    for action in Schema::get().action_names() {
        let _ = Schema::get().check(action, params);
    }
    macro_rules! deserialize {
        ($($action:ident => $request:ident,)*) => {
            $(let _ = request::<wire::$request>(Action::$action, params.clone());)*
        };
    }
    deserialize! {
        ChannelBatchCancelFlows => ChannelBatchCancelFlowsRequest,
        ChannelCancelFlow => ChannelCancelFlowRequest,
        ChannelCreateBatchQuickSignUrl => ChannelCreateBatchQuickSignUrlRequest,
        ChannelCreateFlowApprovers => ChannelCreateFlowApproversRequest,
        ChannelCreateFlowGroupByTemplates => ChannelCreateFlowGroupByTemplatesRequest,
        ChannelCreateFlowSignUrl => ChannelCreateFlowSignUrlRequest,
        ChannelDescribeBillUsageDetail => ChannelDescribeBillUsageDetailRequest,
        ChannelDescribeFlowComponents => ChannelDescribeFlowComponentsRequest,
        ChannelGetTaskResultApi => ChannelGetTaskResultApiRequest,
        CreateChannelFlowEvidenceReport => CreateChannelFlowEvidenceReportRequest,
        CreateSignUrls => CreateSignUrlsRequest,
        DescribeCancelFlowsTask => DescribeCancelFlowsTaskRequest,
        DescribeChannelFlowEvidenceReport => DescribeChannelFlowEvidenceReportRequest,
        DescribeFileConvertTask => DescribeFileConvertTaskRequest,
        DescribeResourceUrlsByFlows => DescribeResourceUrlsByFlowsRequest,
        DescribeFlowDetailInfo => DescribeFlowDetailInfoRequest,
        DescribeTemplates => DescribeTemplatesRequest,
        DescribeUsage => DescribeUsageRequest,
        ModifyFlowDeadline => ModifyFlowDeadlineRequest,
        SyncProxyOrganization => SyncProxyOrganizationRequest,
        SyncProxyOrganizationOperators => SyncProxyOrganizationOperatorsRequest,
        UploadFiles => UploadFilesRequest,
    }
}
