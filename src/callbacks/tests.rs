use std::net::IpAddr;

use super::encode::{Encoded, encode};
use super::message::{flow_group_status_change, flow_status_change};
use super::{backoff_ms, is_public};
use crate::domain::callback::Operate;
use crate::domain::flow::{ApproveStatus, Approver, Flow, FlowOptions, FlowStatus, SignerKind};
use crate::domain::id::{FlowGroupId, FlowId, SignId, TemplateId};
use crate::domain::template::SnapshotId;
use crate::domain::{IdCard, IdCardType};

// From tools/callback_vectors.py (Python's `cryptography`, not qianshu's code).
const KEY: &[u8] = b"0123456789abcdef0123456789ABCDEF";
const TOKEN: &[u8] = b"callback-token";
const PAYLOAD: &str =
    r#"{"MsgId":"m1","MsgType":"FlowStatusChange","MsgVersion":"ThirdPartyApp","MsgData":{"FlowName":"合同"}}"#;
const ENCRYPTED: &str = r#"{"encrypt":"ZSO3C19cLqnEm4NGn9y9UqAjk7b3FCOwZjuwyXtHPH91Rfkyp8DpIhY2uAJ8FeiSqWA5al9l+sMV0dSxrrIV3+5+LL2HWxOCXW3os0RO6OjhxdbikUwzSznjkZyXOIVG2+o27o07BNEl49fvs1ZTJw=="}"#;

#[test]
fn with_a_key_the_body_is_encrypted_as_tencents_kits_decrypt_it() {
    let encoded = encode(PAYLOAD, Some(KEY), None).unwrap();
    assert_eq!(encoded, Encoded { body: ENCRYPTED.as_bytes().to_vec(), signature: None });
}

#[test]
fn with_a_token_the_body_as_sent_is_signed() {
    let encoded = encode(PAYLOAD, Some(KEY), Some(TOKEN)).unwrap();
    assert_eq!(encoded.body, ENCRYPTED.as_bytes());
    assert_eq!(
        encoded.signature.as_deref(),
        Some("sha256=cd16a43eb58194ba43b77917e11ede2f34c6e297cfbe1d77a42c3efc4d31a641")
    );
    let plain = encode(PAYLOAD, None, Some(TOKEN)).unwrap();
    assert_eq!(plain.body, PAYLOAD.as_bytes());
    assert_eq!(
        plain.signature.as_deref(),
        Some("sha256=1916db7b0f74636db8aa8457b5a1ae0db8f36c186db66923aba21a499ab95589")
    );
}

#[test]
fn without_key_or_token_the_message_goes_as_it_is() {
    assert_eq!(encode(PAYLOAD, None, None).unwrap(), Encoded { body: PAYLOAD.as_bytes().to_vec(), signature: None });
}

#[test]
fn a_key_that_is_not_32_bytes_is_an_error() {
    let e = encode(PAYLOAD, Some(b"short"), None).unwrap_err().to_string();
    assert_eq!(e, "the CallbackKey is 5 bytes, not 32");
}

#[test]
fn loopback_private_link_local_and_shared_addresses_are_not_public() {
    for ip in [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ] {
        assert!(!is_public(ip.parse::<IpAddr>().unwrap()), "{ip}");
    }
    for ip in ["1.1.1.1", "100.128.0.1", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
        assert!(is_public(ip.parse::<IpAddr>().unwrap()), "{ip}");
    }
}

#[test]
fn retries_wait_twice_as_long_each_time_up_to_five_minutes() {
    let waits: Vec<i64> = (1..=10).map(backoff_ms).collect();
    assert_eq!(waits, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000]);
    assert_eq!(backoff_ms(i64::MAX), 300_000);
}

fn approver(sign_id: &str, signer: SignerKind, status: ApproveStatus) -> Approver {
    Approver {
        sign_id: SignId::from_stored(sign_id.into()),
        routing_order: 0,
        status,
        ..Approver::pending(&format!("R_{sign_id}"), signer)
    }
}

fn contract() -> Flow {
    let employee = Approver {
        organization_open_id: Some("org_1".into()),
        organization_name: Some("示例公司".into()),
        open_id: Some("op_1".into()),
        name: Some("王五".into()),
        mobile: Some("13800000000".into()),
        approve_time: Some(1_700_000_100),
        ..approver("S1", SignerKind::ChannelEmployee, ApproveStatus::Accept)
    };
    let person = Approver {
        name: Some("张三".into()),
        mobile: Some("18888888888".into()),
        id_card: Some(IdCard { kind: IdCardType::IdCard, number: "11010519491231002X".into() }),
        custom_role_name: Some("员工".into()),
        ..approver("S2", SignerKind::Person, ApproveStatus::Pending)
    };
    Flow {
        flow_id: FlowId::from_stored("F1".into()),
        group: None,
        organization_open_id: "org_1".into(),
        operator_open_id: "op_1".into(),
        template_id: TemplateId::from_stored("T1".into()),
        template_snapshot: SnapshotId::from_stored("snap".into()),
        name: "劳动合同".into(),
        options: FlowOptions {
            flow_type: Some("劳动".into()),
            description: None,
            customer_data: Some("eyJhIjoxfQ==".into()),
            custom_show_map: None,
            need_sign_review: false,
            display_type: 0,
        },
        status: FlowStatus::Part,
        flow_message: None,
        deadline: 1_800_000_000,
        created_on: 1_700_000_000,
        approvers: vec![employee, person],
        fields: vec![],
        document_task: None,
    }
}

#[test]
fn a_flow_status_change_reads_as_golden() {
    let group = FlowGroupId::from_stored("G1".into());
    let json = flow_status_change(
        "m1",
        "app_1",
        Some((&group, "入职")),
        &contract(),
        Operate::Sign,
        Some(&SignId::from_stored("S1".into())),
        1_700_000_100,
    );
    let expected = concat!(
        r#"{"MsgId":"m1","MsgType":"FlowStatusChange","MsgVersion":"ThirdPartyApp","MsgData":{"#,
        r#""AppId":"app_1","ProxyOrganizationOpenId":"org_1","ProxyOperatorOpenId":"op_1","FlowId":"F1","#,
        r#""FlowGroupId":"G1","FlowGroupName":"入职","FlowName":"劳动合同","FlowType":"劳动","FlowDescription":"","#,
        r#""TemplateId":"T1","FlowStatus":"PART","FlowCallbackStatus":2,"FlowMessage":"","Operate":"sign","#,
        r#""RecipientId":"R_S1","SignId":"S1","CustomerData":"eyJhIjoxfQ==","CreateOn":1700000000,"#,
        r#""DeadLine":1800000000,"OccurTime":1700000100,"Approvers":["#,
        r#"{"RecipientId":"R_S1","SignId":"S1","ApproverType":0,"ProxyOrganizationOpenId":"org_1","#,
        r#""ProxyOperatorOpenId":"op_1","OrganizationName":"示例公司","ApproverName":"王五","#,
        r#""ApproverMobile":"13800000000","ApproverIdCardType":"","ApproverIdCardNumber":"","#,
        r#""ApproverRoleName":"甲方","SignOrder":0,"ApproveStatus":"ACCEPT","ApproveCallbackStatus":3,"#,
        r#""ApproveMessage":"","ApproveTime":1700000100},"#,
        r#"{"RecipientId":"R_S2","SignId":"S2","ApproverType":1,"ProxyOrganizationOpenId":"","#,
        r#""ProxyOperatorOpenId":"","OrganizationName":"","ApproverName":"张三","#,
        r#""ApproverMobile":"18888888888","ApproverIdCardType":"ID_CARD","#,
        r#""ApproverIdCardNumber":"11010519491231002X","ApproverRoleName":"员工","SignOrder":1,"#,
        r#""ApproveStatus":"PENDING","ApproveCallbackStatus":2,"ApproveMessage":"","ApproveTime":0}]}}"#,
    );
    assert_eq!(json, expected);
}

#[test]
fn a_start_names_no_approver() {
    let json = flow_status_change("m0", "app_1", None, &contract(), Operate::Start, None, 1_700_000_000);
    assert!(json.contains(r#""FlowGroupId":"","FlowGroupName":"""#), "{json}");
    assert!(json.contains(r#""Operate":"start","RecipientId":"","SignId":"""#), "{json}");
}

#[test]
fn a_flow_group_status_change_reads_as_golden() {
    let group = FlowGroupId::from_stored("G1".into());
    let signed = contract();
    let refused = Flow {
        flow_id: FlowId::from_stored("F2".into()),
        name: "保密协议".into(),
        status: FlowStatus::Reject,
        ..contract()
    };
    let json = flow_group_status_change("m2", "app_1", (&group, "入职"), &[&signed, &refused], 1_700_000_200);
    let expected = concat!(
        r#"{"MsgId":"m2","MsgType":"FlowGroupStatusChange","MsgVersion":"ThirdPartyApp","MsgData":{"#,
        r#""AppId":"app_1","ProxyOrganizationOpenId":"org_1","ProxyOperatorOpenId":"op_1","#,
        r#""FlowGroupId":"G1","FlowGroupName":"入职","FlowGroupStatus":"PART","OccurTime":1700000200,"#,
        r#""FlowInfos":[{"FlowId":"F1","FlowName":"劳动合同","FlowStatus":"PART","FlowCallbackStatus":2},"#,
        r#"{"FlowId":"F2","FlowName":"保密协议","FlowStatus":"REJECT","FlowCallbackStatus":3}]}}"#,
    );
    assert_eq!(json, expected);
}
