use std::collections::{BTreeSet, HashMap};

use super::*;
use crate::domain::template::{Component, Placement, Recipient, SnapshotId};

const NOW: i64 = 1_800_000_000;
const ENT: &str = "recipientEnterprise";
const IND: &str = "recipientIndividual";

fn id(s: &str) -> ExternalId {
    ExternalId::parse(Some(s), "t").unwrap()
}

fn component(cid: &str, kind: ComponentType, owner: Option<&str>, required: bool) -> Component {
    Component {
        component_id: cid.into(),
        component_name: format!("{cid}名"),
        component_type: kind,
        recipient_id: owner.map(Into::into),
        placement: Placement { page: 1, x: 0.0, y: 0.0, width: 10.0, height: 10.0 },
        required,
        extra: None,
    }
}

fn template(tid: &str, components: Vec<Component>) -> Template {
    let mut t = Template {
        template_id: TemplateId::parse(Some(tid), "t").unwrap(),
        name: "模板".into(),
        description: String::new(),
        recipients: vec![
            Recipient {
                recipient_id: ENT.into(),
                role_name: "甲方".into(),
                recipient_type: RecipientType::Enterprise,
                routing_order: 1,
            },
            Recipient {
                recipient_id: IND.into(),
                role_name: "乙方".into(),
                recipient_type: RecipientType::Individual,
                routing_order: 2,
            },
        ],
        components,
        pdf_sha256: String::new(),
        snapshot: SnapshotId::default(),
        created_on: 0,
    };
    t.snapshot = t.content_id();
    t
}

const FILLED: &str = "TemplateFilled000000000000000001";
const BARE: &str = "TemplateBare00000000000000000002";

struct World {
    app: Application,
    org: Organization,
    op: Operator,
    templates: HashMap<TemplateId, std::sync::Arc<Template>>,
    orgs: HashMap<ExternalId, Organization>,
    ops: HashMap<(ExternalId, ExternalId), Operator>,
    files: HashMap<FileId, crate::domain::file::StoredFile>,
}

fn world(features: &[Feature]) -> World {
    let org = Organization {
        open_id: id("orgA"),
        name: OrganizationName::parse(Some("甲公司"), "n").unwrap(),
        verified: true,
        details: Default::default(),
        seals: Vec::new(),
    };
    let op = Operator {
        open_id: id("opA"),
        name: Some(PersonName::parse(Some("王五"), "n").unwrap()),
        mobile: Some(Mobile::parse("13800000008", "m").unwrap()),
        id_card: None,
        default_role: None,
        verified: true,
    };
    let filled = template(
        FILLED,
        vec![
            component("Company", ComponentType::Text, None, true),
            component("Agree", ComponentType::CheckBox, None, false),
            component("Day", ComponentType::Date, None, false),
            component("Table", ComponentType::DynamicTable, None, false),
            component("EntNote", ComponentType::Text, Some(ENT), false),
            component("Seal", ComponentType::SignSeal, Some(ENT), false),
            component("Sig", ComponentType::SignSignature, Some(IND), false),
        ],
    );
    let bare = template(BARE, vec![component("Seal", ComponentType::SignSeal, Some(ENT), false)]);
    World {
        app: Application {
            app_id: id("app"),
            flow_quota: 10,
            features: features.iter().copied().collect::<BTreeSet<_>>(),
            callback: None,
        },
        orgs: HashMap::from([(org.open_id.clone(), org.clone())]),
        ops: HashMap::from([((org.open_id.clone(), op.open_id.clone()), op.clone())]),
        org,
        op,
        templates: [filled, bare].into_iter().map(|t| (t.template_id.clone(), std::sync::Arc::new(t))).collect(),
        files: HashMap::new(),
    }
}

fn ctx(w: &World) -> Context<'_> {
    Context {
        app: &w.app,
        organization: &w.org,
        operator: &w.op,
        templates: &w.templates,
        organizations: &w.orgs,
        operators: &w.ops,
        files: &w.files,
        metrics: None,
        now: NOW,
    }
}

fn employee() -> ApproverRequest {
    ApproverRequest {
        recipient_id: ENT.into(),
        signer: Signer::ChannelEmployee {
            organization_open_id: id("orgA"),
            organization_name: None,
            open_id: id("opA"),
            name: None,
            mobile: None,
        },
        custom_role_name: None,
        page: PageOptions::default(),
        need_sign_review: false,
    }
}

fn person() -> ApproverRequest {
    ApproverRequest {
        recipient_id: IND.into(),
        signer: Signer::Person {
            name: PersonName::parse(Some("张三"), "n").unwrap(),
            mobile: Mobile::parse("18888888888", "m").unwrap(),
            id_card: None,
        },
        custom_role_name: None,
        page: PageOptions::default(),
        need_sign_review: false,
    }
}

fn field(cid: &str, value: &str) -> FormFieldRequest {
    FormFieldRequest { component: ComponentRef::Id(cid.into()), value: value.into() }
}

fn flow(tid: &str, approvers: Vec<ApproverRequest>, fields: Vec<FormFieldRequest>) -> FlowRequest {
    FlowRequest {
        name: FlowName::parse(Some("合同"), "n").unwrap(),
        template_id: TemplateId::parse(Some(tid), "t").unwrap(),
        deadline: None,
        approvers,
        form_fields: fields,
        options: FlowOptions::default(),
    }
}

fn good_flow() -> FlowRequest {
    flow(FILLED, vec![employee(), person()], vec![field("Company", "甲公司")])
}

fn group(flows: Vec<FlowRequest>) -> FlowGroupRequest {
    FlowGroupRequest { name: FlowGroupName::parse(Some("入职合同组"), "n").unwrap(), flows }
}

fn refused(w: &World, flows: Vec<FlowRequest>) -> ApiError {
    plan(group(flows), &ctx(w)).unwrap_err()
}

#[test]
fn a_valid_group_gets_fresh_ids_and_a_365_day_deadline() {
    let w = world(&[]);
    let g = plan(group(vec![good_flow(), flow(BARE, vec![employee(), person()], vec![])]), &ctx(&w)).unwrap();
    assert_eq!(g.flows.len(), 2);
    assert_ne!(g.flows[0].flow_id, g.flows[1].flow_id);
    assert_eq!(g.flows[0].deadline, NOW + 365 * 24 * 3600);
    assert_eq!(g.flows[0].fields, vec![("Company".to_owned(), "甲公司".to_owned())]);
    let a = &g.flows[0].approvers[0];
    assert_eq!(
        (a.name.as_deref(), a.mobile.as_deref()),
        (Some("王五"), Some("13800000008")),
        "from the operator record"
    );
    assert_eq!((a.organization_name.as_deref(), a.role_name.as_str()), (Some("甲公司"), "甲方"));
    assert_ne!(g.flows[0].approvers[0].sign_id, g.flows[1].approvers[0].sign_id);
}

#[test]
fn each_contract_records_the_snapshot_of_the_template_it_was_checked_against() {
    let w = world(&[]);
    let g = plan(group(vec![good_flow(), flow(BARE, vec![employee(), person()], vec![])]), &ctx(&w)).unwrap();
    let snapshot = |tid: &str| w.templates[&TemplateId::parse(Some(tid), "t").unwrap()].snapshot.clone();
    assert_eq!(g.flows[0].template_snapshot, snapshot(FILLED));
    assert_eq!(g.flows[1].template_snapshot, snapshot(BARE));
    assert_ne!(snapshot(FILLED), snapshot(BARE));
}

#[test]
fn a_group_name_with_a_hyphen_is_rejected() {
    let e = FlowGroupName::parse(Some("入职-合同"), "FlowGroupName").unwrap_err();
    assert_eq!(e.code, Code::InvalidParameter);
    assert!(e.message.contains("`FlowGroupName`") && e.message.contains("`-`"), "{}", e.message);
}

#[test]
fn a_group_name_of_201_characters_is_rejected_and_200_pass() {
    assert!(FlowGroupName::parse(Some(&"合".repeat(200)), "FlowGroupName").is_ok());
    assert_eq!(
        FlowGroupName::parse(Some(&"合".repeat(201)), "FlowGroupName").unwrap_err().code,
        Code::InvalidParameter
    );
}

#[test]
fn a_flow_name_breaking_the_character_rule_is_invalid_flow_name() {
    assert_eq!(
        FlowName::parse(Some("合同 一"), "FlowInfos.0.FlowName").unwrap_err().code,
        Code::InvalidParameter_FlowName
    );
    assert_eq!(FlowName::parse(None, "FlowInfos.0.FlowName").unwrap_err().code, Code::MissingParameter);
}

#[test]
fn a_deadline_in_the_past_is_invalid_flow_deadline() {
    assert_eq!(deadline(Some(NOW), NOW, "d").unwrap_err().code, Code::InvalidParameter_FlowDeadLine);
    assert_eq!(deadline(Some(NOW + 1), NOW, "d"), Ok(NOW + 1));
    assert_eq!(deadline(Some(MAX_DEADLINE + 1), NOW, "d").unwrap_err().code, Code::InvalidParameter_FlowDeadLine);
}

#[test]
fn customer_data_must_be_base64_of_at_most_1000_characters() {
    assert_eq!(customer_data(Some("aGVsbG8="), "c"), Ok(Some("aGVsbG8=".into())));
    assert_eq!(customer_data(Some("not base64!"), "c").unwrap_err().code, Code::InvalidParameter_CustomerData);
    assert_eq!(customer_data(Some(&"A".repeat(1004)), "c").unwrap_err().code, Code::InvalidParameter_CustomerData);
}

#[test]
fn a_description_over_1000_characters_is_invalid() {
    assert_eq!(
        flow_description(Some(&"字".repeat(1001)), "d").unwrap_err().code,
        Code::InvalidParameter_FlowDescription
    );
}

#[test]
fn an_unknown_template_is_resource_not_found_template() {
    let w = world(&[]);
    let e = refused(&w, vec![good_flow(), flow("TemplateNowhere00000000000000003", vec![], vec![])]);
    assert_eq!(e.code, Code::ResourceNotFound_Template);
    assert!(e.message.contains("FlowInfos.1.TemplateId"), "{}", e.message);
}

#[test]
fn a_repeated_approver_is_biz_approver_already_exists() {
    let w = world(&[]);
    let e = refused(&w, vec![flow(FILLED, vec![employee(), employee()], vec![field("Company", "x")]), good_flow()]);
    assert_eq!(e.code, Code::InvalidParameter_BizApproverAlreadyExists);
}

#[test]
fn a_missing_approver_is_refused() {
    let w = world(&[]);
    let e = refused(&w, vec![flow(FILLED, vec![employee()], vec![field("Company", "x")]), good_flow()]);
    assert_eq!(e.code, Code::InvalidParameter_FlowApprovers);
    assert!(e.message.contains(IND), "{}", e.message);
}

#[test]
fn an_extra_approver_is_refused() {
    let w = world(&[]);
    let mut extra = person();
    extra.recipient_id = "recipientNobody".into();
    let e =
        refused(&w, vec![flow(FILLED, vec![employee(), person(), extra], vec![field("Company", "x")]), good_flow()]);
    assert_eq!(e.code, Code::InvalidParameter_FlowApprovers);
    assert!(e.message.contains("recipientNobody"), "{}", e.message);
}

#[test]
fn reordered_approvers_are_refused() {
    let w = world(&[]);
    let e = refused(&w, vec![flow(FILLED, vec![person(), employee()], vec![field("Company", "x")]), good_flow()]);
    assert_eq!(e.code, Code::InvalidParameter_FlowApprovers);
    assert!(e.message.contains("order"), "{}", e.message);
}

#[test]
fn a_person_for_an_enterprise_role_is_invalid_approver_type() {
    let w = world(&[]);
    let mut p = person();
    p.recipient_id = ENT.into();
    let mut e = employee();
    e.recipient_id = IND.into();
    let err = refused(&w, vec![flow(FILLED, vec![p, e], vec![field("Company", "x")]), good_flow()]);
    assert_eq!(err.code, Code::InvalidParameter_ApproverType);
}

#[test]
fn a_dynamic_signer_needs_the_dynamic_signer_feature() {
    let dynamic = || ApproverRequest {
        recipient_id: ENT.into(),
        signer: Signer::DynamicOrganization { organization_open_id: None },
        custom_role_name: None,
        page: PageOptions::default(),
        need_sign_review: false,
    };
    let w = world(&[]);
    let e = refused(&w, vec![flow(FILLED, vec![dynamic(), person()], vec![field("Company", "x")]), good_flow()]);
    assert_eq!(e.code, Code::UnauthorizedOperation_NoPermissionFeature);
    let w = world(&[Feature::DynamicSigner]);
    let g =
        plan(group(vec![flow(FILLED, vec![dynamic(), person()], vec![field("Company", "x")]), good_flow()]), &ctx(&w))
            .unwrap();
    assert_eq!(g.flows[0].approvers[0].signer, SignerKind::DynamicOrganization);
    assert_eq!(g.flows[0].approvers[0].name, None);
}

#[test]
fn auto_sign_needs_the_auto_sign_feature() {
    let auto = ApproverRequest {
        recipient_id: ENT.into(),
        signer: Signer::AutoSign,
        custom_role_name: None,
        page: PageOptions::default(),
        need_sign_review: false,
    };
    let w = world(&[]);
    let e = refused(&w, vec![flow(BARE, vec![auto.clone(), person()], vec![]), good_flow()]);
    assert_eq!(e.code, Code::UnauthorizedOperation_NoPermissionFeature);
    let w = world(&[Feature::AutoSign]);
    let g = plan(group(vec![flow(BARE, vec![auto, person()], vec![]), good_flow()]), &ctx(&w)).unwrap();
    assert_eq!(g.flows[0].approvers[0].signer.approver_type(), "ENTERPRISESERVER");
    assert_eq!(g.flows[0].approvers[0].organization_open_id.as_deref(), Some("orgA"));
}

#[test]
fn auto_sign_is_refused_for_a_recipient_with_fill_components() {
    let w = world(&[Feature::AutoSign]);
    let auto = ApproverRequest {
        recipient_id: ENT.into(),
        signer: Signer::AutoSign,
        custom_role_name: None,
        page: PageOptions::default(),
        need_sign_review: false,
    };
    let e = refused(&w, vec![flow(FILLED, vec![auto, person()], vec![field("Company", "x")]), good_flow()]);
    assert_eq!(e.code, Code::OperationDenied);
    assert!(e.message.contains("EntNote"), "{}", e.message);
}

#[test]
fn an_employee_of_an_unknown_organization_needs_its_name_and_theirs() {
    let w = world(&[]);
    let stranger = |name: Option<&str>| ApproverRequest {
        recipient_id: ENT.into(),
        signer: Signer::ChannelEmployee {
            organization_open_id: id("orgB"),
            organization_name: name.map(|n| OrganizationName::parse(Some(n), "n").unwrap()),
            open_id: id("opB"),
            name: Some(PersonName::parse(Some("李四"), "n").unwrap()),
            mobile: Some(Mobile::parse("13900000000", "m").unwrap()),
        },
        custom_role_name: None,
        page: PageOptions::default(),
        need_sign_review: false,
    };
    let e = refused(&w, vec![flow(FILLED, vec![stranger(None), person()], vec![field("Company", "x")]), good_flow()]);
    assert_eq!(e.code, Code::MissingParameter);
    assert!(e.message.contains("OrganizationName"), "{}", e.message);
    let g = plan(
        group(vec![flow(FILLED, vec![stranger(Some("乙公司")), person()], vec![field("Company", "x")]), good_flow()]),
        &ctx(&w),
    );
    assert_eq!(g.unwrap().flows[0].approvers[0].organization_name.as_deref(), Some("乙公司"));
}

#[test]
fn a_form_field_naming_no_component_is_data_not_found() {
    let w = world(&[]);
    let e = refused(
        &w,
        vec![flow(FILLED, vec![employee(), person()], vec![field("Company", "x"), field("Nope", "y")]), good_flow()],
    );
    assert_eq!(e.code, Code::InvalidParameter_DataNotFound);
    assert!(e.message.contains("FlowInfos.0.FormFields.1"), "{}", e.message);
}

#[test]
fn a_form_field_for_a_signers_component_is_refused() {
    let w = world(&[]);
    let e = refused(
        &w,
        vec![flow(FILLED, vec![employee(), person()], vec![field("Company", "x"), field("EntNote", "y")]), good_flow()],
    );
    assert_eq!(e.code, Code::InvalidParameter);
    assert!(e.message.contains("EntNote") && e.message.contains(ENT), "{}", e.message);
}

#[test]
fn a_form_field_by_name_fills_the_component() {
    let w = world(&[]);
    let by_name = FormFieldRequest { component: ComponentRef::Name("Company名".into()), value: "甲公司".into() };
    let g = plan(group(vec![flow(FILLED, vec![employee(), person()], vec![by_name]), good_flow()]), &ctx(&w)).unwrap();
    assert_eq!(g.flows[0].fields[0].0, "Company");
}

#[test]
fn a_required_initiator_component_must_be_filled() {
    let w = world(&[]);
    let e = refused(&w, vec![flow(FILLED, vec![employee(), person()], vec![]), good_flow()]);
    assert_eq!(e.code, Code::InvalidParameter_MissingRequiredParameterValue);
    assert!(e.message.contains("Company"), "{}", e.message);
}

#[test]
fn a_component_filled_twice_is_refused() {
    let w = world(&[]);
    let e = refused(
        &w,
        vec![flow(FILLED, vec![employee(), person()], vec![field("Company", "x"), field("Company", "y")]), good_flow()],
    );
    assert_eq!(e.code, Code::InvalidParameter);
    assert!(e.message.contains("twice"), "{}", e.message);
}

#[test]
fn a_check_box_takes_true_or_false_only() {
    let w = world(&[]);
    let e = refused(
        &w,
        vec![flow(FILLED, vec![employee(), person()], vec![field("Company", "x"), field("Agree", "yes")]), good_flow()],
    );
    assert_eq!(e.code, Code::InvalidParameter_ComponentValue);
}

#[test]
fn a_date_must_be_written_yyyy_mm_dd_in_chinese() {
    assert!(is_chinese_date("2026年11月24日"));
    for bad in ["2026-11-24", "2026年2月30日", "2026年13月01日", "26年11月24日", "2026年11月24"] {
        assert!(!is_chinese_date(bad), "{bad}");
    }
    let w = world(&[]);
    let e = refused(
        &w,
        vec![
            flow(FILLED, vec![employee(), person()], vec![field("Company", "x"), field("Day", "2026-11-24")]),
            good_flow(),
        ],
    );
    assert_eq!(e.code, Code::InvalidParameter_ComponentValue);
}

#[test]
fn a_dynamic_table_value_must_be_json() {
    let w = world(&[]);
    let e = refused(
        &w,
        vec![
            flow(FILLED, vec![employee(), person()], vec![field("Company", "x"), field("Table", "{oops")]),
            good_flow(),
        ],
    );
    assert_eq!(e.code, Code::InvalidParameter_ComponentValue);
}

#[test]
fn a_custom_show_map_may_only_name_existing_signers() {
    let w = world(&[]);
    let mut f = good_flow();
    f.options.custom_show_map = Some("{合同名称} {签署方2姓名}".into());
    assert!(plan(group(vec![f.clone(), good_flow()]), &ctx(&w)).is_ok());
    f.options.custom_show_map = Some("{签署方3姓名}".into());
    assert_eq!(refused(&w, vec![f, good_flow()]).code, Code::InvalidParameter_CustomShowMap);
}

#[test]
fn need_sign_review_holds_the_initiators_signers_and_approver_need_sign_review_its_signer() {
    let w = world(&[]);
    let mut reviewed = good_flow();
    reviewed.options.need_sign_review = true;
    let mut asked = person();
    asked.need_sign_review = true;
    let g =
        plan(group(vec![reviewed, flow(FILLED, vec![employee(), asked], vec![field("Company", "甲公司")])]), &ctx(&w))
            .unwrap();
    let reviews = |i: usize| g.flows[i].approvers.iter().map(|a| a.review.clone()).collect::<Vec<_>>();
    // NeedSignReview concerns the initiating organisation's signers only.
    assert_eq!(reviews(0), [SignReview::Awaiting, SignReview::NotNeeded]);
    assert_eq!(reviews(1), [SignReview::NotNeeded, SignReview::Awaiting]);
}
