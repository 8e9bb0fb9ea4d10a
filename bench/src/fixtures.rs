//! The tenants and contract groups every measurement uses.

use std::path::Path;

use qianshu::domain::ExternalId;
use qianshu::domain::flow::{
    ApproveStatus, Approver, Flow, FlowGroup, FlowGroupName, FlowOptions, FlowStatus, SignerKind,
};
use qianshu::domain::id::{FlowGroupId, FlowId, SignId, TemplateId};
use qianshu::domain::template::SnapshotId;
use serde_json::{Value, json};

pub const TEMPLATE: &str = "benchTemplate0000000000000000001";
pub const ENT: &str = "benchRecipientEnterprise";
pub const IND: &str = "benchRecipientIndividual";

pub fn app_id(i: usize) -> String {
    format!("benchApp{i:024}")
}

pub fn tenants(apps: usize) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pdf = [root.join("examples"), root.join("../examples")]
        .into_iter()
        .find(|d| d.exists())
        .expect("the examples directory")
        .join("templates/confidentiality-agreement.pdf");
    let applications: Vec<Value> = (0..apps)
        .map(|i| {
            json!({
                "AppId": app_id(i), "SecretId": format!("AKIDbench{i}"), "SecretKey": format!("benchSecretKey{i:020}"),
                "FlowQuota": 1_000_000_000_000i64, "Features": [],
                "Organizations": [{"OpenId": "bench_org", "Name": "压测企业", "Verified": true,
                    "Operators": [{"OpenId": "bench_op", "Name": "压测员", "Mobile": "13800000000", "Verified": true}]}],
                "Templates": [{"TemplateId": TEMPLATE, "TemplateName": "压测模板", "Pdf": pdf,
                    "Recipients": [{"RecipientId": ENT, "RoleName": "甲方", "RecipientType": "ENTERPRISE"},
                                   {"RecipientId": IND, "RoleName": "乙方", "RecipientType": "INDIVIDUAL"}],
                    "Components": [
                        {"ComponentId": "PartyA", "ComponentType": "TEXT", "ComponentPage": 1, "ComponentPosX": 170, "ComponentPosY": 130,
                         "ComponentWidth": 260, "ComponentHeight": 20, "ComponentRequired": true},
                        {"ComponentId": "PartyB", "ComponentType": "TEXT", "ComponentPage": 1, "ComponentPosX": 170, "ComponentPosY": 160,
                         "ComponentWidth": 200, "ComponentHeight": 20},
                        {"ComponentId": "Seal", "ComponentType": "SIGN_SEAL", "ComponentRecipientId": ENT, "ComponentPage": 1,
                         "ComponentPosX": 140, "ComponentPosY": 520, "ComponentWidth": 120, "ComponentHeight": 120}]}]
            })
        })
        .collect();
    json!({ "Applications": applications })
}

/// A group as the server would plan it, for the storage floor.
pub fn planned(app: usize, flows: usize, snapshot: &SnapshotId) -> FlowGroup {
    let now = qianshu::store::now();
    let id = |s: &str| ExternalId::parse(Some(s), "id").expect("id");
    let approver = |recipient: &str, kind: SignerKind, org: Option<&str>, name: &str, mobile: &str| Approver {
        recipient_id: recipient.into(),
        sign_id: SignId::generate(),
        signer: kind,
        role_name: if kind.is_enterprise() { "甲方" } else { "乙方" }.into(),
        custom_role_name: None,
        organization_open_id: org.map(Into::into),
        organization_name: org.map(|_| "压测企业".into()),
        open_id: org.map(|_| "bench_op".into()),
        name: Some(name.into()),
        mobile: Some(mobile.into()),
        id_card: None,
        routing_order: if kind.is_enterprise() { 1 } else { 2 },
        page: Default::default(),
        status: ApproveStatus::Pending,
        approve_time: None,
        approve_message: None,
    };
    FlowGroup {
        app_id: id(&app_id(app)),
        flow_group_id: FlowGroupId::generate(),
        name: FlowGroupName::parse(Some("压测合同组"), "n").expect("name"),
        organization_open_id: id("bench_org"),
        operator_open_id: id("bench_op"),
        created_on: now,
        flows: (0..flows)
            .map(|_| Flow {
                flow_id: FlowId::generate(),
                group: None,
                organization_open_id: "bench_org".into(),
                operator_open_id: "bench_op".into(),
                template_id: TemplateId::parse(Some(TEMPLATE), "t").expect("template"),
                template_snapshot: snapshot.clone(),
                name: "压测合同".into(),
                options: FlowOptions::default(),
                status: FlowStatus::Init,
                flow_message: None,
                deadline: now + 365 * 86400,
                created_on: now,
                approvers: vec![
                    approver(ENT, SignerKind::ChannelEmployee, Some("bench_org"), "压测员", "13800000000"),
                    approver(IND, SignerKind::Person, None, "张三", "18888888888"),
                ],
                fields: vec![("PartyA".into(), "压测企业".into()), ("PartyB".into(), "张三".into())],
                document_task: None,
            })
            .collect(),
    }
}
