//! The tenants every measurement uses.

use std::path::Path;

use serde_json::{Value, json};

pub const TEMPLATE: &str = "benchTemplate0000000000000000001";
pub const ENT: &str = "benchRecipientEnterprise";
pub const IND: &str = "benchRecipientIndividual";
/// The same PDF with the person signing first: a typed signature, the date and one value of
/// their own (`SIGNER_FIELD`), then the enterprise's seal.
pub const SIGN_TEMPLATE: &str = "benchTemplate0000000000000000002";
pub const SIGNER_FIELD: &str = "乙方备注";

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
                         "ComponentPosX": 140, "ComponentPosY": 520, "ComponentWidth": 120, "ComponentHeight": 120}]},
                    {"TemplateId": SIGN_TEMPLATE, "TemplateName": "压测签署模板", "Pdf": pdf,
                    "Recipients": [{"RecipientId": IND, "RoleName": "乙方", "RecipientType": "INDIVIDUAL", "RoutingOrder": 1},
                                   {"RecipientId": ENT, "RoleName": "甲方", "RecipientType": "ENTERPRISE", "RoutingOrder": 2}],
                    "Components": [
                        {"ComponentId": "PartyA", "ComponentType": "TEXT", "ComponentPage": 1, "ComponentPosX": 170, "ComponentPosY": 130,
                         "ComponentWidth": 260, "ComponentHeight": 20, "ComponentRequired": true},
                        {"ComponentId": "PartyB", "ComponentType": "TEXT", "ComponentPage": 1, "ComponentPosX": 170, "ComponentPosY": 160,
                         "ComponentWidth": 200, "ComponentHeight": 20},
                        {"ComponentId": "Remark", "ComponentName": SIGNER_FIELD, "ComponentType": "TEXT", "ComponentRecipientId": IND,
                         "ComponentPage": 1, "ComponentPosX": 170, "ComponentPosY": 190, "ComponentWidth": 260, "ComponentHeight": 20},
                        {"ComponentId": "Signature", "ComponentName": "乙方签名", "ComponentType": "SIGN_SIGNATURE", "ComponentRecipientId": IND,
                         "ComponentPage": 1, "ComponentPosX": 420, "ComponentPosY": 540, "ComponentWidth": 120, "ComponentHeight": 60},
                        {"ComponentId": "SignedOn", "ComponentName": "乙方签署日期", "ComponentType": "SIGN_DATE", "ComponentRecipientId": IND,
                         "ComponentPage": 1, "ComponentPosX": 420, "ComponentPosY": 720, "ComponentWidth": 120, "ComponentHeight": 20},
                        {"ComponentId": "Seal", "ComponentType": "SIGN_SEAL", "ComponentRecipientId": ENT, "ComponentPage": 1,
                         "ComponentPosX": 140, "ComponentPosY": 520, "ComponentWidth": 120, "ComponentHeight": 120}]}]
            })
        })
        .collect();
    json!({ "Applications": applications })
}
