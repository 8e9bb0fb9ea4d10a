use super::*;
use crate::domain::flow::{FlowOptions, FlowStatus};
use crate::domain::id::TemplateId;

const NOW: i64 = 1_800_000_000;

pub(crate) fn approver(recipient: &str, signer: SignerKind, name: Option<&str>, review: SignReview) -> Approver {
    Approver {
        role_name: format!("{recipient}方"),
        organization_open_id: signer.is_enterprise().then(|| "orgA".into()),
        organization_name: signer.is_enterprise().then(|| "甲公司".into()),
        open_id: (signer == SignerKind::ChannelEmployee).then(|| "opA".into()),
        name: name.map(Into::into),
        mobile: name.map(|_| "13800000000".into()),
        review,
        ..Approver::pending(recipient, signer)
    }
}

pub(crate) fn flow(approvers: Vec<Approver>, need_sign_review: bool) -> Flow {
    Flow {
        organization_open_id: "orgA".into(),
        operator_open_id: "opA".into(),
        template_id: TemplateId::parse(Some("TemplateReview000000000000000001"), "t").unwrap(),
        options: FlowOptions { need_sign_review, ..FlowOptions::default() },
        deadline: NOW + 3600,
        created_on: NOW - 60,
        ..Flow::live(approvers)
    }
}

#[test]
fn a_refusing_review_needs_its_reason_and_a_passing_one_does_not() {
    assert_eq!(ReviewResult::parse(Some("PASS"), None).unwrap().kind, ReviewType::Pass);
    for kind in ["REJECT", "SIGN_REJECT"] {
        let e = ReviewResult::parse(Some(kind), Some("  ")).unwrap_err();
        assert_eq!(e.code, Code::MissingParameter);
        assert!(e.message.contains("ReviewMessage"), "{}", e.message);
    }
    let e = ReviewResult::parse(Some("REJECT"), Some(&"长".repeat(201))).unwrap_err();
    assert_eq!(e.code, Code::InvalidParameter);
    assert_eq!(ReviewResult::parse(Some("pass"), None).unwrap_err().code, Code::InvalidParameter);
    assert_eq!(ReviewResult::parse(None, None).unwrap_err().code, Code::MissingParameter);
}

#[test]
fn the_latest_result_decides_and_only_a_pass_lets_the_signer_sign() {
    assert!(!SignReview::from_stored(false, None).blocks());
    assert!(SignReview::from_stored(true, None).blocks());
    assert!(!SignReview::from_stored(true, Some((ReviewType::Pass, None))).blocks());
    assert_eq!(
        SignReview::from_stored(true, Some((ReviewType::Reject, Some("不行".into())))),
        SignReview::Rejected("不行".into())
    );
}

#[test]
fn a_contract_review_names_a_signer_who_waits_for_it() {
    let f = flow(
        vec![
            approver("甲", SignerKind::ChannelEmployee, Some("王五"), SignReview::Awaiting),
            approver("乙", SignerKind::Person, Some("张三"), SignReview::NotNeeded),
        ],
        false,
    );
    assert_eq!(plan_flow_review(&f, Some("甲"), NOW).unwrap().recipient_id.as_deref(), Some("甲"));
    let e = plan_flow_review(&f, Some("乙"), NOW).unwrap_err();
    assert_eq!(e.code, Code::FailedOperation_NotAvailableSignReview);
    assert_eq!(plan_flow_review(&f, Some("丙"), NOW).unwrap_err().code, Code::InvalidParameter);
    // Without NeedSignReview on the contract, a review must name its signer.
    let e = plan_flow_review(&f, None, NOW).unwrap_err();
    assert_eq!(e.code, Code::FailedOperation_NotAvailableSignReview);
    assert!(e.message.contains("RecipientId"), "{}", e.message);
    let whole = flow(f.approvers.clone(), true);
    assert_eq!(plan_flow_review(&whole, None, NOW).unwrap().recipient_id, None);
}

#[test]
fn a_contract_no_longer_being_signed_or_a_signer_who_signed_takes_no_review() {
    let mut f = flow(vec![approver("甲", SignerKind::ChannelEmployee, Some("王五"), SignReview::Awaiting)], true);
    f.approvers[0].status = ApproveStatus::Accept;
    assert_eq!(plan_flow_review(&f, Some("甲"), NOW).unwrap_err().code, Code::FailedOperation_NotAvailableSignReview);
    assert_eq!(plan_flow_review(&f, None, NOW).unwrap_err().code, Code::FailedOperation_NotAvailableSignReview);
    let mut ended = flow(vec![approver("甲", SignerKind::ChannelEmployee, Some("王五"), SignReview::Awaiting)], true);
    ended.status = FlowStatus::Reject;
    assert_eq!(plan_flow_review(&ended, None, NOW).unwrap_err().code, Code::FailedOperation_NotAvailableSignReview);
    let late = flow(vec![approver("甲", SignerKind::ChannelEmployee, Some("王五"), SignReview::Awaiting)], true);
    let e = plan_flow_review(&late, None, late.deadline + 1).unwrap_err();
    assert!(e.message.contains("past its deadline"), "{}", e.message);
}

fn signer(approver_type: &str, name: &str, mobile: Option<&str>, organization: Option<&str>) -> ReviewSigner {
    ReviewSigner::parse(
        &ReviewSignerFields {
            approver_type: Some(approver_type),
            name: Some(name),
            mobile,
            organization_name: organization,
            ..Default::default()
        },
        "ApproverInfo",
    )
    .unwrap()
}

#[test]
fn a_group_review_finds_its_signer_by_every_field_given() {
    let person = approver("乙", SignerKind::Person, Some("张三"), SignReview::Awaiting);
    let employee = approver("甲", SignerKind::ChannelEmployee, Some("王五"), SignReview::Awaiting);
    let auto = approver("甲", SignerKind::AutoSign, None, SignReview::Awaiting);
    assert!(signer("PERSON", "张三", Some("13800000000"), None).matches(&person));
    assert!(!signer("PERSON", "张三", Some("13900000000"), None).matches(&person));
    assert!(!signer("PERSON", "王五", Some("13800000000"), None).matches(&employee));
    assert!(signer("ORGANIZATION", "王五", Some("13800000000"), Some("甲公司")).matches(&employee));
    assert!(!signer("ORGANIZATION", "王五", Some("13800000000"), Some("乙公司")).matches(&employee));
    // An auto-signer has no person on record: its organisation finds it.
    assert!(signer("ORGANIZATION", "经办人", Some("13700000000"), Some("甲公司")).matches(&auto));
    let e = ReviewSigner::parse(
        &ReviewSignerFields { approver_type: Some("PERSON"), name: Some("张三"), ..Default::default() },
        "ApproverInfo",
    )
    .unwrap_err();
    assert_eq!(e.code, Code::MissingParameter);
    let e = ReviewSigner::parse(
        &ReviewSignerFields {
            approver_type: Some("ORGANIZATION"),
            name: Some("王五"),
            mobile: Some("13800000000"),
            ..Default::default()
        },
        "ApproverInfo",
    )
    .unwrap_err();
    assert!(e.message.contains("ApproverInfo.OrganizationName"), "{}", e.message);
}

#[test]
fn a_group_review_covers_each_live_contract_where_the_signer_waits_for_it() {
    let waits = flow(vec![approver("乙", SignerKind::Person, Some("张三"), SignReview::Awaiting)], false);
    let free = flow(vec![approver("乙", SignerKind::Person, Some("张三"), SignReview::NotNeeded)], false);
    let mut ended = waits.clone();
    ended.flow_id = FlowId::generate();
    ended.status = FlowStatus::Reject;
    let flows = [waits.clone(), free.clone(), ended];
    let who = signer("PERSON", "张三", Some("13800000000"), None);
    let targets = plan_group_review(&flows, &|a| who.matches(a), NOW).unwrap();
    assert_eq!(targets, [ReviewTarget { flow_id: waits.flow_id.clone(), recipient_id: Some("乙".into()) }]);
    let e = plan_group_review(&[free], &|a| who.matches(a), NOW).unwrap_err();
    assert_eq!(e.code, Code::FailedOperation_NotAvailableSignReview);
    let nobody = signer("PERSON", "李四", Some("13800000000"), None);
    let e = plan_group_review(&flows, &|a| nobody.matches(a), NOW).unwrap_err();
    assert_eq!(e.code, Code::ResourceNotFound_FlowApprover);
}
