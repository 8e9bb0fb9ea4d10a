use std::collections::HashMap;

use super::*;
use crate::domain::ExternalId;
use crate::domain::flow::{FlowOptions, SignerKind};
use crate::domain::id::TemplateId;
use crate::domain::template::{ComponentType, Placement, Recipient, RecipientType, SnapshotId};

const NOW: i64 = 1_800_000_000;

fn component(id: &str, kind: ComponentType, owner: &str, required: bool) -> Component {
    Component {
        component_id: id.into(),
        component_name: format!("{id}名"),
        component_type: kind,
        recipient_id: Some(owner.into()),
        placement: Placement { page: 1, x: 0.0, y: 0.0, width: 100.0, height: 20.0 },
        required,
        extra: None,
    }
}

/// A contract whose approvers are (recipient, name, routing order), with the person `乙` owning
/// a required text component and a signature.
fn contract(name: &str, approvers: &[(&str, &str, i64)]) -> Contract {
    let template = Template {
        template_id: TemplateId::parse(Some("TemplateSigning00000000000000001"), "t").unwrap(),
        name: "模板".into(),
        description: String::new(),
        recipients: approvers
            .iter()
            .map(|(r, _, order)| Recipient {
                recipient_id: (*r).into(),
                role_name: format!("{r}方"),
                recipient_type: RecipientType::Individual,
                routing_order: *order,
            })
            .collect(),
        components: vec![
            component("address", ComponentType::Text, "乙", true),
            component("agree", ComponentType::CheckBox, "乙", false),
            component("sig", ComponentType::SignSignature, "乙", true),
        ],
        pdf_sha256: String::new(),
        created_on: 0,
        snapshot: SnapshotId::default(),
    };
    let flow = Flow {
        flow_id: FlowId::generate(),
        group: None,
        organization_open_id: "org".into(),
        operator_open_id: "op".into(),
        template_id: template.template_id.clone(),
        template_snapshot: template.snapshot.clone(),
        name: name.into(),
        options: FlowOptions::default(),
        status: FlowStatus::Init,
        flow_message: None,
        deadline: NOW + 3600,
        created_on: NOW - 60,
        approvers: approvers
            .iter()
            .map(|(r, who, order)| Approver {
                role_name: format!("{r}方"),
                name: Some((*who).into()),
                mobile: Some("13800000000".into()),
                routing_order: *order,
                ..Approver::pending(r, SignerKind::Person)
            })
            .collect(),
        fields: Vec::new(),
        document_task: None,
    };
    Contract { flow, template: Arc::new(template) }
}

fn named(who: &'static str) -> impl Fn(&Approver) -> bool {
    move |a: &Approver| a.name.as_deref() == Some(who)
}

fn values(app: &ExternalId) -> Values<'_> {
    static FILES: std::sync::OnceLock<HashMap<crate::domain::id::FileId, crate::domain::file::StoredFile>> =
        std::sync::OnceLock::new();
    Values { app_id: app, files: FILES.get_or_init(HashMap::new), metrics: None, now: NOW }
}

fn app() -> ExternalId {
    ExternalId::parse(Some("app"), "t").unwrap()
}

fn address(value: &str) -> FieldValue {
    FieldValue { component_name: "address名".into(), value: value.into() }
}

fn sign(contracts: &mut [Contract], who: &str) {
    for c in contracts {
        for a in &mut c.flow.approvers {
            if a.name.as_deref() == Some(who) {
                a.status = ApproveStatus::Accept;
            }
        }
    }
}

#[test]
fn a_signer_is_due_once_every_lower_routing_order_has_signed() {
    let mut cs = vec![contract("一", &[("甲", "张三", 1), ("乙", "李四", 2)])];
    assert_eq!(cs[0].standing(&named("李四"), NOW), Standing::Waiting(vec!["张三".into()]));
    assert_eq!(cs[0].standing(&named("张三"), NOW), Standing::Due);
    let app = app();
    let e = plan_sign(&cs, &named("李四"), &[address("北京")], &values(&app)).unwrap_err();
    assert_eq!(e.code, Code::InvalidParameter_Unordered);
    assert!(e.message.contains("张三"), "{}", e.message);
    sign(&mut cs, "张三");
    assert_eq!(cs[0].standing(&named("张三"), NOW), Standing::Signed);
    assert_eq!(cs[0].standing(&named("李四"), NOW), Standing::Due);
}

#[test]
fn equal_routing_orders_sign_in_parallel() {
    let cs = [contract("一", &[("甲", "张三", 1), ("乙", "李四", 1)])];
    assert_eq!(cs[0].standing(&named("张三"), NOW), Standing::Due);
    assert_eq!(cs[0].standing(&named("李四"), NOW), Standing::Due);
    assert_eq!(status_after(&cs[0].flow, &cs[0].flow.approvers[1].sign_id), FlowStatus::Part);
}

#[test]
fn signing_takes_every_due_contract_and_leaves_those_not_due() {
    let cs = vec![
        contract("一", &[("乙", "李四", 1)]),
        contract("二", &[("甲", "张三", 1), ("乙", "李四", 2)]),
        contract("三", &[("乙", "李四", 1), ("甲", "张三", 2)]),
    ];
    let app = app();
    let plan = plan_sign(&cs, &named("李四"), &[address("北京")], &values(&app)).unwrap();
    let ids: Vec<&FlowId> = plan.iter().map(|s| &s.flow_id).collect();
    assert_eq!(ids, vec![&cs[0].flow.flow_id, &cs[2].flow.flow_id]);
    assert_eq!(plan[0].values, vec![("address".to_owned(), "北京".to_owned())]);
    assert_eq!(plan[0].sign_id, cs[0].flow.approvers[0].sign_id);
    assert_eq!(status_after(&cs[0].flow, &plan[0].sign_id), FlowStatus::All);
    assert_eq!(status_after(&cs[2].flow, &plan[1].sign_id), FlowStatus::Part);
}

#[test]
fn a_required_component_left_empty_is_refused_naming_it() {
    let cs = [contract("租赁合同", &[("乙", "李四", 1)])];
    let app = app();
    let e = plan_sign(&cs, &named("李四"), &[], &values(&app)).unwrap_err();
    assert_eq!(e.code, Code::OperationDenied_RequiredComponentNotFill);
    assert!(e.message.contains("address名") && e.message.contains("租赁合同"), "{}", e.message);
}

#[test]
fn values_are_checked_as_initiator_values_are() {
    let cs = [contract("一", &[("乙", "李四", 1)])];
    let app = app();
    let bad = [address("北京"), FieldValue { component_name: "agree名".into(), value: "yes".into() }];
    let e = plan_sign(&cs, &named("李四"), &bad, &values(&app)).unwrap_err();
    assert_eq!(e.code, Code::InvalidParameter_ComponentValue);
    assert!(e.message.contains("`FormFields.1.ComponentValue`"), "{}", e.message);
    let line_break = [address("北京\n上海")];
    let e = plan_sign(&cs, &named("李四"), &line_break, &values(&app)).unwrap_err();
    assert_eq!(e.code, Code::InvalidParameter_ComponentValue);
}

#[test]
fn a_value_for_a_component_the_signer_does_not_fill_is_refused() {
    let cs = [contract("一", &[("乙", "李四", 1)])];
    let app = app();
    let fields = [address("北京"), FieldValue { component_name: "sig名".into(), value: "x".into() }];
    let e = plan_sign(&cs, &named("李四"), &fields, &values(&app)).unwrap_err();
    assert_eq!(e.code, Code::InvalidParameter_DataNotFound);
    assert!(e.message.contains("`FormFields.1.ComponentName`"), "{}", e.message);
}

#[test]
fn nothing_to_sign_says_why() {
    let app = app();
    let mut cs = vec![contract("一", &[("乙", "李四", 1)])];
    let e = plan_sign(&cs, &named("王五"), &[], &values(&app)).unwrap_err();
    assert_eq!(e.code, Code::ResourceNotFound_FlowApprover);
    sign(&mut cs, "李四");
    let e = plan_sign(&cs, &named("李四"), &[address("北京")], &values(&app)).unwrap_err();
    assert_eq!(e.code, Code::OperationDenied_FlowStatusForbid);
    let mut refused = vec![contract("二", &[("甲", "张三", 1), ("乙", "李四", 1)])];
    refused[0].flow.status = FlowStatus::Reject;
    let e = plan_sign(&refused, &named("李四"), &[address("北京")], &values(&app)).unwrap_err();
    assert_eq!(e.code, Code::OperationDenied_FlowHasTerminated);
    let mut late = [contract("三", &[("乙", "李四", 1)])];
    late[0].flow.deadline = NOW - 1;
    assert_eq!(late[0].standing(&named("李四"), NOW), Standing::Closed(Ending::Expired));
}

#[test]
fn a_cancelled_or_expired_contract_is_closed_even_for_its_signers_and_says_why() {
    let app = app();
    let mut cs = vec![
        contract("一", &[("甲", "张三", 1), ("乙", "李四", 2)]),
        contract("二", &[("甲", "张三", 1), ("乙", "李四", 2)]),
    ];
    sign(&mut cs, "张三");
    cs[0].flow.status = FlowStatus::Cancel;
    cs[0].flow.flow_message = Some("金额填写错误".into());
    cs[1].flow.status = FlowStatus::Deadline;
    assert_eq!(cs[0].standing(&named("张三"), NOW), Standing::Closed(Ending::Cancelled(Some("金额填写错误".into()))));
    assert_eq!(cs[1].standing(&named("李四"), NOW), Standing::Closed(Ending::Expired));
    let e = plan_sign(&cs, &named("李四"), &[], &values(&app)).unwrap_err();
    assert_eq!(e.code, Code::OperationDenied_FlowHasTerminated);
    assert!(e.message.contains("cancelled by its initiator: 金额填写错误"), "{}", e.message);
    assert!(e.message.contains("past its deadline"), "{}", e.message);
    let e = plan_reject(&cs, &named("李四"), NOW).unwrap_err();
    assert_eq!(e.code, Code::OperationDenied_FlowHasTerminated);
}

#[test]
fn refusing_takes_every_live_contract_due_or_not() {
    let mut cs = vec![
        contract("一", &[("甲", "张三", 1), ("乙", "李四", 2)]),
        contract("二", &[("乙", "李四", 1)]),
        contract("三", &[("乙", "李四", 1)]),
    ];
    cs[2].flow.status = FlowStatus::Reject;
    let refused = plan_reject(&cs, &named("李四"), NOW).unwrap();
    assert_eq!(
        refused,
        vec![
            (cs[0].flow.flow_id.clone(), cs[0].flow.approvers[1].sign_id.clone()),
            (cs[1].flow.flow_id.clone(), cs[1].flow.approvers[0].sign_id.clone()),
        ]
    );
}

fn reviewed(contract: &mut Contract, who: &str, review: SignReview) {
    for a in &mut contract.flow.approvers {
        if a.name.as_deref() == Some(who) {
            a.review = review.clone();
        }
    }
}

#[test]
fn a_signer_whose_review_has_not_passed_awaits_it_once_due() {
    let mut cs = vec![contract("一", &[("甲", "张三", 1), ("乙", "李四", 2)])];
    reviewed(&mut cs[0], "李四", SignReview::Awaiting);
    // Not their turn yet: waiting for others comes first.
    assert_eq!(cs[0].standing(&named("李四"), NOW), Standing::Waiting(vec!["张三".into()]));
    sign(&mut cs, "张三");
    assert_eq!(cs[0].standing(&named("李四"), NOW), Standing::AwaitingReview(None));
    let app = app();
    let e = plan_sign(&cs, &named("李四"), &[address("北京")], &values(&app)).unwrap_err();
    assert_eq!(e.code, Code::OperationDenied_Forbid);
    assert!(e.message.contains("no review result yet"), "{}", e.message);

    reviewed(&mut cs[0], "李四", SignReview::Rejected("资料不全".into()));
    assert_eq!(cs[0].standing(&named("李四"), NOW), Standing::AwaitingReview(Some("资料不全".into())));
    let e = plan_sign(&cs, &named("李四"), &[address("北京")], &values(&app)).unwrap_err();
    assert!(e.message.contains("资料不全"), "{}", e.message);

    reviewed(&mut cs[0], "李四", SignReview::Passed);
    assert_eq!(cs[0].standing(&named("李四"), NOW), Standing::Due);
    assert_eq!(plan_sign(&cs, &named("李四"), &[address("北京")], &values(&app)).unwrap().len(), 1);
}

#[test]
fn a_signer_awaiting_review_may_still_refuse() {
    let mut cs = vec![contract("一", &[("甲", "张三", 1)])];
    reviewed(&mut cs[0], "张三", SignReview::Awaiting);
    assert_eq!(plan_reject(&cs, &named("张三"), NOW).unwrap().len(), 1);
}
