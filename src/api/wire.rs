//! Wire types: the essbasic request and response structures exactly as the SDKs name them.
//! Requests hold `Option`s (the SDKs omit unset fields) and are converted into domain types by
//! the handlers; responses are serialized as they are, field order included.

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Agent {
    pub app_id: Option<String>,
    pub proxy_organization_open_id: Option<String>,
    pub proxy_operator: Option<UserInfo>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserInfo {
    pub open_id: Option<String>,
}

// ---- SyncProxyOrganization ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SyncProxyOrganizationRequest {
    pub agent: Option<Agent>,
    pub proxy_organization_name: Option<String>,
    pub business_license: Option<String>,
    pub uniform_social_credit_code: Option<String>,
    pub proxy_legal_name: Option<String>,
    pub proxy_legal_id_card_type: Option<String>,
    pub proxy_legal_id_card_number: Option<String>,
    pub proxy_address: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Empty {}

// ---- SyncProxyOrganizationOperators ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SyncProxyOrganizationOperatorsRequest {
    pub agent: Option<Agent>,
    pub operator_type: Option<String>,
    pub proxy_organization_operators: Option<Vec<ProxyOrganizationOperator>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProxyOrganizationOperator {
    pub id: Option<String>,
    pub name: Option<String>,
    pub id_card_type: Option<String>,
    pub id_card_number: Option<String>,
    pub mobile: Option<String>,
    pub default_role: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SyncProxyOrganizationOperatorsResponse {
    pub status: i64,
    pub failed_list: Vec<SyncFailReason>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SyncFailReason {
    pub id: String,
    pub message: String,
}

// ---- DescribeTemplates ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTemplatesRequest {
    pub agent: Option<Agent>,
    pub template_id: Option<String>,
    pub content_type: Option<i64>,
    pub template_ids: Option<Vec<String>>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub template_name: Option<String>,
    pub channel_template_id: Option<String>,
    pub query_all_components: Option<bool>,
    pub with_preview_url: Option<bool>,
    pub with_pdf_url: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTemplatesResponse {
    pub templates: Vec<TemplateInfo>,
    pub total_count: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TemplateInfo {
    pub template_id: String,
    pub template_name: String,
    pub description: String,
    pub components: Vec<Component>,
    pub recipients: Vec<Recipient>,
    pub sign_components: Vec<Component>,
    pub template_type: i64,
    pub is_promoter: bool,
    pub creator: String,
    pub created_on: i64,
    pub preview_url: String,
    pub pdf_url: String,
    pub channel_template_id: String,
    pub channel_template_name: String,
    pub channel_auto_save: i64,
    pub template_version: String,
    pub available: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Recipient {
    pub recipient_id: String,
    pub recipient_type: String,
    pub description: String,
    pub role_name: String,
    pub require_validation: bool,
    pub require_sign: bool,
    pub routing_order: i64,
    pub is_promoter: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Component {
    pub component_id: String,
    pub component_type: String,
    pub component_name: String,
    pub component_required: bool,
    pub component_recipient_id: String,
    pub file_index: i64,
    pub generate_mode: String,
    pub component_width: f64,
    pub component_height: f64,
    pub component_page: i64,
    pub component_pos_x: f64,
    pub component_pos_y: f64,
    pub component_extra: String,
    pub component_value: String,
}

// ---- ChannelCreateFlowGroupByTemplates ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelCreateFlowGroupByTemplatesRequest {
    pub agent: Option<Agent>,
    pub flow_infos: Option<Vec<FlowInfo>>,
    pub flow_group_name: Option<String>,
}

/// A CC recipient: groups take none, so any entry is refused and its fields are never read.
#[derive(Debug, Deserialize)]
pub struct CcInfo {}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlowInfo {
    pub flow_name: Option<String>,
    pub deadline: Option<i64>,
    pub template_id: Option<String>,
    pub flow_approvers: Option<Vec<FlowApproverInfo>>,
    pub form_fields: Option<Vec<FormField>>,
    pub flow_type: Option<String>,
    pub flow_description: Option<String>,
    pub customer_data: Option<String>,
    pub custom_show_map: Option<String>,
    pub cc_infos: Option<Vec<CcInfo>>,
    pub need_sign_review: Option<bool>,
    pub flow_display_type: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlowApproverInfo {
    pub name: Option<String>,
    pub id_card_type: Option<String>,
    pub id_card_number: Option<String>,
    pub mobile: Option<String>,
    pub organization_name: Option<String>,
    pub not_channel_organization: Option<bool>,
    pub open_id: Option<String>,
    pub organization_open_id: Option<String>,
    pub approver_type: Option<String>,
    pub recipient_id: Option<String>,
    pub pre_read_time: Option<i64>,
    pub approver_option: Option<ApproverOption>,
    pub notify_type: Option<String>,
    pub approver_role_name: Option<String>,
    pub approver_need_sign_review: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApproverOption {
    pub fill_type: Option<i64>,
    pub no_refuse: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FormField {
    pub component_value: Option<String>,
    pub component_id: Option<String>,
    pub component_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelCreateFlowGroupByTemplatesResponse {
    pub flow_group_id: String,
    pub flow_ids: Vec<String>,
    pub task_infos: Vec<TaskInfo>,
    /// Present only when a flow has a dynamic signer (ApproverOption.FillType = 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approvers: Option<Vec<FlowGroupApprovers>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskInfo {
    pub task_id: String,
    pub task_status: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlowGroupApprovers {
    pub approvers: Vec<ApproverItem>,
    pub flow_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApproverItem {
    pub approver_role_name: String,
    pub recipient_id: String,
    pub sign_id: String,
}

// ---- DescribeFlowDetailInfo ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeFlowDetailInfoRequest {
    pub agent: Option<Agent>,
    pub flow_ids: Option<Vec<String>>,
    pub flow_group_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeFlowDetailInfoResponse {
    pub application_id: String,
    pub proxy_organization_open_id: String,
    pub flow_info: Vec<FlowDetailInfo>,
    pub flow_group_id: String,
    pub flow_group_name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlowDetailInfo {
    pub flow_id: String,
    pub flow_name: String,
    pub flow_type: String,
    pub flow_status: String,
    pub flow_message: String,
    pub create_on: i64,
    pub dead_line: i64,
    pub custom_data: String,
    pub flow_approver_infos: Vec<FlowApproverDetail>,
    pub cc_infos: Vec<FlowApproverDetail>,
    pub need_create_review: bool,
    pub template_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlowApproverDetail {
    pub recipient_id: String,
    pub proxy_organization_open_id: String,
    pub proxy_operator_open_id: String,
    pub proxy_organization_name: String,
    pub mobile: String,
    pub sign_order: i64,
    pub approve_name: String,
    pub approve_status: String,
    pub approve_message: String,
    pub approve_time: i64,
    pub approve_type: String,
    pub approver_role_name: String,
    pub sign_id: String,
}

// ---- UploadFiles ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadFilesRequest {
    pub agent: Option<Agent>,
    pub business_type: Option<String>,
    pub file_infos: Option<Vec<UploadFile>>,
    pub deadline: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadFile {
    pub file_body: Option<String>,
    pub file_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadFilesResponse {
    pub total_count: i64,
    pub file_ids: Vec<String>,
    pub file_urls: Vec<String>,
    pub deadline: i64,
}

// ---- DescribeResourceUrlsByFlows ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeResourceUrlsByFlowsRequest {
    pub agent: Option<Agent>,
    pub flow_ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeResourceUrlsByFlowsResponse {
    pub flow_resource_url_infos: Vec<FlowResourceUrlInfo>,
    pub error_messages: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlowResourceUrlInfo {
    pub flow_id: String,
    pub resource_url_infos: Vec<ResourceUrlInfo>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceUrlInfo {
    pub url: String,
    pub name: String,
    #[serde(rename = "Type")]
    pub kind: String,
}

// ---- ChannelDescribeFlowComponents ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelDescribeFlowComponentsRequest {
    pub agent: Option<Agent>,
    pub flow_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelDescribeFlowComponentsResponse {
    pub recipient_component_infos: Vec<RecipientComponentInfo>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecipientComponentInfo {
    pub recipient_id: String,
    pub recipient_fill_status: String,
    pub is_promoter: bool,
    pub components: Vec<FilledComponent>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilledComponent {
    pub component_id: String,
    pub component_name: String,
    pub component_fill_status: String,
    pub component_value: String,
    pub image_url: String,
}

// ---- DescribeFileConvertTask and ChannelGetTaskResultApi ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeFileConvertTaskRequest {
    pub agent: Option<Agent>,
    pub task_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeFileConvertTaskResponse {
    pub task_id: String,
    pub task_status: i64,
    pub task_message: String,
    pub resource_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelGetTaskResultApiRequest {
    pub agent: Option<Agent>,
    pub task_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelGetTaskResultApiResponse {
    pub task_id: String,
    pub task_status: i64,
    pub task_message: String,
    pub resource_id: String,
    pub preview_url: String,
}

// ---- Sign links: ChannelCreateBatchQuickSignUrl, CreateSignUrls, ChannelCreateFlowSignUrl ----

/// A `FlowApproverInfo` naming a signer of existing contracts: only the fields that say who.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignerInfo {
    pub name: Option<String>,
    pub mobile: Option<String>,
    pub organization_name: Option<String>,
    pub not_channel_organization: Option<bool>,
    pub open_id: Option<String>,
    pub organization_open_id: Option<String>,
    pub approver_type: Option<String>,
    pub recipient_id: Option<String>,
    pub sign_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelCreateBatchQuickSignUrlRequest {
    pub flow_approver_info: Option<SignerInfo>,
    pub agent: Option<Agent>,
    pub flow_ids: Option<Vec<String>>,
    pub flow_group_id: Option<String>,
    pub expired_on: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelCreateBatchQuickSignUrlResponse {
    pub flow_approver_url_info: FlowApproverUrlInfo,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlowApproverUrlInfo {
    pub sign_url: String,
    pub approver_type: String,
    pub name: String,
    pub mobile: String,
    pub long_url: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSignUrlsRequest {
    pub agent: Option<Agent>,
    pub flow_ids: Option<Vec<String>>,
    pub flow_group_id: Option<String>,
    pub endpoint: Option<String>,
    pub generate_type: Option<String>,
    pub organization_name: Option<String>,
    pub name: Option<String>,
    pub mobile: Option<String>,
    pub organization_open_id: Option<String>,
    pub open_id: Option<String>,
    pub recipient_ids: Option<Vec<String>>,
    pub flow_group_url_info: Option<FlowGroupUrlInfo>,
}

/// `GenerateType` RECIPIENT: the dynamic signers of a group a link is for.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlowGroupUrlInfo {
    pub flow_group_approver_infos: Option<Vec<FlowGroupApproverInfo>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlowGroupApproverInfo {
    pub flow_id: Option<String>,
    pub recipient_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSignUrlsResponse {
    pub sign_url_infos: Vec<SignUrlInfo>,
    pub error_messages: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignUrlInfo {
    pub sign_url: String,
    pub deadline: i64,
    pub sign_order: i64,
    pub sign_id: String,
    pub custom_user_id: String,
    pub name: String,
    pub mobile: String,
    pub organization_name: String,
    pub approver_type: String,
    pub id_card_number: String,
    pub flow_id: String,
    pub open_id: String,
    pub flow_group_id: String,
    pub sign_qrcode_url: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelCreateFlowSignUrlRequest {
    pub agent: Option<Agent>,
    pub flow_id: Option<String>,
    pub flow_approver_infos: Option<Vec<SignerInfo>>,
    pub url_type: Option<i64>,
    pub expired_on: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelCreateFlowSignUrlResponse {
    pub flow_approver_url_infos: Vec<FlowApproverUrlInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::envelope::{success, to_object};

    fn rendered<T: Serialize>(body: &T, request_id: &str) -> String {
        String::from_utf8(success(request_id, to_object(body).unwrap())).unwrap()
    }

    #[test]
    fn the_seeds_first_output_example_byte_for_byte() {
        let body = ChannelCreateFlowGroupByTemplatesResponse {
            flow_group_id: "yDwiwUUckpo0n304UuwJzdxCQJhOooyw".into(),
            flow_ids: vec!["yDwiwUUckpo0n30bUuwJzdxxvnaMZpxW".into(), "yDwiwUUckpo0n30uUuwJzdxxwyCoXw1Z".into()],
            task_infos: (0..2).map(|_| TaskInfo { task_id: String::new(), task_status: String::new() }).collect(),
            approvers: None,
        };
        assert_eq!(
            rendered(&body, "s1698201691021218250"),
            r#"{"Response":{"FlowGroupId":"yDwiwUUckpo0n304UuwJzdxCQJhOooyw","FlowIds":["yDwiwUUckpo0n30bUuwJzdxxvnaMZpxW","yDwiwUUckpo0n30uUuwJzdxxwyCoXw1Z"],"TaskInfos":[{"TaskId":"","TaskStatus":""},{"TaskId":"","TaskStatus":""}],"RequestId":"s1698201691021218250"}}"#
        );
    }

    #[test]
    fn the_seeds_second_output_example_byte_for_byte() {
        let item = |recipient: &str, sign: &str| ApproverItem {
            approver_role_name: String::new(),
            recipient_id: recipient.into(),
            sign_id: sign.into(),
        };
        let body = ChannelCreateFlowGroupByTemplatesResponse {
            flow_group_id: "yDCVHUUckpwbqurkUuyXGHS89Y9LLM4x".into(),
            flow_ids: vec!["yDCVHUUckpwbqur3UuyXGHSxpj1wPeJn".into(), "yDCVHUUckpwbqur1UuyXGHS1JCWpHawy".into()],
            task_infos: (0..2).map(|_| TaskInfo { task_id: String::new(), task_status: String::new() }).collect(),
            approvers: Some(vec![
                FlowGroupApprovers {
                    approvers: vec![
                        item("yDSx0UUckptqcu0rUuvGhoq88RKQezmP", "yDCVHUUckpwbqurqUuyXGHS1da6wB7v2"),
                        item("yDCVHUUckpwbqurlUuyXGHSChXDgrj1C", "yDCVHUUckpwbqurgUuyXGHS1cwtnpm8o"),
                    ],
                    flow_id: "yDCVHUUckpwbqur3UuyXGHSxpj1wPeJn".into(),
                },
                FlowGroupApprovers {
                    approvers: vec![
                        item("yDSx0UUckptqcu0rUuvGhoq88RKQezmP", "yDCVHUUckpwbqursUuyXGHSCOm804z86"),
                        item("yDCVHUUckpwbqurrUuyXGHS8cOo8z4Vc", "yDCVHUUckpwbqulcUuyXGHSSvCaqc6He"),
                    ],
                    flow_id: "yDCVHUUckpwbqur1UuyXGHS1JCWpHawy".into(),
                },
            ]),
        };
        let expected = concat!(
            r#"{"Response":{"FlowGroupId":"yDCVHUUckpwbqurkUuyXGHS89Y9LLM4x","#,
            r#""FlowIds":["yDCVHUUckpwbqur3UuyXGHSxpj1wPeJn","yDCVHUUckpwbqur1UuyXGHS1JCWpHawy"],"#,
            r#""TaskInfos":[{"TaskId":"","TaskStatus":""},{"TaskId":"","TaskStatus":""}],"#,
            r#""Approvers":[{"Approvers":[{"ApproverRoleName":"","RecipientId":"yDSx0UUckptqcu0rUuvGhoq88RKQezmP","SignId":"yDCVHUUckpwbqurqUuyXGHS1da6wB7v2"},"#,
            r#"{"ApproverRoleName":"","RecipientId":"yDCVHUUckpwbqurlUuyXGHSChXDgrj1C","SignId":"yDCVHUUckpwbqurgUuyXGHS1cwtnpm8o"}],"FlowId":"yDCVHUUckpwbqur3UuyXGHSxpj1wPeJn"},"#,
            r#"{"Approvers":[{"ApproverRoleName":"","RecipientId":"yDSx0UUckptqcu0rUuvGhoq88RKQezmP","SignId":"yDCVHUUckpwbqursUuyXGHSCOm804z86"},"#,
            r#"{"ApproverRoleName":"","RecipientId":"yDCVHUUckpwbqurrUuyXGHS8cOo8z4Vc","SignId":"yDCVHUUckpwbqulcUuyXGHSSvCaqc6He"}],"FlowId":"yDCVHUUckpwbqur1UuyXGHS1JCWpHawy"}],"#,
            r#""RequestId":"s1711352113176693412"}}"#
        );
        assert_eq!(rendered(&body, "s1711352113176693412"), expected);
    }

    /// CreateSignUrls' example 5 (tccli's examples), its second row: the SDK's field order.
    #[test]
    fn a_sign_url_info_as_tencent_writes_it() {
        let body = CreateSignUrlsResponse {
            sign_url_infos: vec![SignUrlInfo {
                sign_url: "https://test.essurl.cn/QH1dqU8eta".into(),
                deadline: 1706260744,
                sign_id: "yDwiBUUckpo2726mUuLiduR8RkpoTHLy".into(),
                name: "王五".into(),
                mobile: "13700000000".into(),
                approver_type: "ORGANIZATION".into(),
                id_card_number: "3****************3".into(),
                flow_id: "yDwiBUUckpo2726cUuLiduRx1WvBLD5l".into(),
                open_id: "n1379".into(),
                ..SignUrlInfo::default()
            }],
            error_messages: vec![String::new()],
        };
        let expected = concat!(
            r#"{"Response":{"SignUrlInfos":[{"SignUrl":"https://test.essurl.cn/QH1dqU8eta","Deadline":1706260744,"#,
            r#""SignOrder":0,"SignId":"yDwiBUUckpo2726mUuLiduR8RkpoTHLy","CustomUserId":"","Name":"王五","#,
            r#""Mobile":"13700000000","OrganizationName":"","ApproverType":"ORGANIZATION","IdCardNumber":"3****************3","#,
            r#""FlowId":"yDwiBUUckpo2726cUuLiduRx1WvBLD5l","OpenId":"n1379","FlowGroupId":"","SignQrcodeUrl":""}],"#,
            r#""ErrorMessages":[""],"RequestId":"6f4198d9-2e9a-4ff7-a4f6-3ea8bd3f79ae"}}"#
        );
        assert_eq!(rendered(&body, "6f4198d9-2e9a-4ff7-a4f6-3ea8bd3f79ae"), expected);
    }
}

// ---- Sign reviews: ChannelCreateFlowSignReview, CreateFlowGroupSignReview ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelCreateFlowSignReviewRequest {
    pub agent: Option<Agent>,
    pub flow_id: Option<String>,
    pub review_type: Option<String>,
    pub review_message: Option<String>,
    pub recipient_id: Option<String>,
    pub operate_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFlowGroupSignReviewRequest {
    pub agent: Option<Agent>,
    pub flow_group_id: Option<String>,
    pub review_type: Option<String>,
    pub approver_info: Option<NeedReviewApproverInfo>,
    pub review_message: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NeedReviewApproverInfo {
    pub approver_type: Option<String>,
    pub approver_name: Option<String>,
    pub approver_mobile: Option<String>,
    pub approver_id_card_type: Option<String>,
    pub approver_id_card_number: Option<String>,
    pub organization_name: Option<String>,
}

// ---- ChannelCreateFlowReminds ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelCreateFlowRemindsRequest {
    pub agent: Option<Agent>,
    pub flow_ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelCreateFlowRemindsResponse {
    pub remind_flow_records: Vec<RemindFlowRecords>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemindFlowRecords {
    pub can_remind: bool,
    pub flow_id: String,
    pub remind_message: String,
}

// ---- ChannelCancelFlow, ChannelBatchCancelFlows, DescribeCancelFlowsTask ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelCancelFlowRequest {
    pub flow_id: Option<String>,
    pub agent: Option<Agent>,
    pub cancel_message: Option<String>,
    pub cancel_message_format: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelBatchCancelFlowsRequest {
    pub agent: Option<Agent>,
    pub flow_ids: Option<Vec<String>>,
    pub cancel_message: Option<String>,
    pub cancel_message_format: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelBatchCancelFlowsResponse {
    pub fail_messages: Vec<String>,
    pub task_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeCancelFlowsTaskRequest {
    pub agent: Option<Agent>,
    pub task_id: Option<String>,
    pub cancel_type: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeCancelFlowsTaskResponse {
    pub task_id: String,
    pub task_status: String,
    pub success_flow_ids: Vec<String>,
    pub failure_flows: Vec<CancelFailureFlow>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelFailureFlow {
    pub flow_id: String,
    pub reason: String,
    pub flow_name: String,
}

// ---- ModifyFlowDeadline ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyFlowDeadlineRequest {
    pub agent: Option<Agent>,
    pub flow_id: Option<String>,
    pub deadline: Option<i64>,
    pub recipient_id: Option<String>,
}

// ---- ChannelDescribeBillUsageDetail, DescribeUsage ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelDescribeBillUsageDetailRequest {
    pub agent: Option<Agent>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub quota_type: Option<String>,
    pub offset: Option<i64>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelDescribeBillUsageDetailResponse {
    pub total: i64,
    pub details: Vec<ChannelBillUsageDetail>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelBillUsageDetail {
    pub flow_id: String,
    pub operator_name: String,
    pub create_organization_name: String,
    pub flow_name: String,
    pub flow_status: String,
    pub quota_type: String,
    pub use_count: i64,
    pub cost_time: i64,
    pub quota_name: String,
    pub cost_type: i64,
    pub remark: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeUsageRequest {
    pub agent: Option<Agent>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub need_aggregate: Option<bool>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeUsageResponse {
    pub total: i64,
    pub details: Vec<UsageDetail>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UsageDetail {
    pub proxy_organization_open_id: String,
    pub proxy_organization_name: String,
    pub date: String,
    pub usage: i64,
    pub cancel: i64,
    pub flow_channel: String,
}

// ---- ChannelCreateFlowApprovers ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelCreateFlowApproversRequest {
    pub agent: Option<Agent>,
    pub approvers: Option<Vec<FillApproverInfo>>,
    pub flow_id: Option<String>,
    pub fill_approver_type: Option<i64>,
    pub flow_group_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FillApproverInfo {
    pub recipient_id: Option<String>,
    pub open_id: Option<String>,
    pub approver_name: Option<String>,
    pub approver_mobile: Option<String>,
    pub organization_name: Option<String>,
    pub organization_open_id: Option<String>,
    pub not_channel_organization: Option<bool>,
    pub approver_id_card_type: Option<String>,
    pub approver_id_card_number: Option<String>,
    pub flow_id: Option<String>,
    pub pin_code: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelCreateFlowApproversResponse {
    /// Present only when some approver could not be filled, as in Tencent's examples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fill_error: Option<Vec<FillError>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FillError {
    pub recipient_id: String,
    pub err_message: String,
    pub flow_id: String,
}

// ---- CreateChannelFlowEvidenceReport, DescribeChannelFlowEvidenceReport ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateChannelFlowEvidenceReportRequest {
    pub agent: Option<Agent>,
    pub flow_id: Option<String>,
    pub report_type: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateChannelFlowEvidenceReportResponse {
    pub report_id: String,
    pub status: String,
    /// Deprecated by Tencent ("废除，字段无效"); always empty, as in its example.
    pub report_url: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeChannelFlowEvidenceReportRequest {
    pub agent: Option<Agent>,
    pub report_id: Option<String>,
    pub report_type: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeChannelFlowEvidenceReportResponse {
    pub report_url: String,
    pub status: String,
}

// ---- ChannelVerifyPdf ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelVerifyPdfRequest {
    pub agent: Option<Agent>,
    pub flow_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelVerifyPdfResponse {
    pub verify_result: i64,
    pub pdf_verify_results: Vec<PdfVerifyResult>,
    pub verify_serial_no: String,
    pub pdf_resource_md5: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PdfVerifyResult {
    pub verify_result: i64,
    pub sign_platform: String,
    pub signer_name: String,
    pub sign_time: i64,
    pub sign_algorithm: String,
    pub cert_sn: String,
    pub cert_not_before: i64,
    pub cert_not_after: i64,
    pub sign_type: i64,
    pub component_pos_x: f64,
    pub component_pos_y: f64,
    pub component_width: f64,
    pub component_height: f64,
    pub component_page: i64,
}
