use super::*;
use crate::domain::flow::{Approver, FlowStatus};

const NOW: i64 = 1_800_000_000;
const ORG: &str = "kev_open_organization_8";

fn id(s: &str) -> ExternalId {
    ExternalId::parse(Some(s), "t").unwrap()
}

fn approver(kind: SignerKind, recipient: &str) -> Approver {
    Approver::pending(recipient, kind)
}

fn flow(approvers: Vec<Approver>) -> Flow {
    Flow { deadline: NOW + 100, ..Flow::live(approvers) }
}

fn person_identity() -> Identity {
    Identity {
        name: Some(PersonName::parse(Some("张三"), "n").unwrap()),
        mobile: Some(Mobile::parse("18888888888", "m").unwrap()),
        ..Identity::default()
    }
}

fn fill(f: &Flow, recipient: &str, identity: Identity) -> Fill {
    Fill { at: "Approvers.0".into(), flow_id: f.flow_id.clone(), recipient_id: recipient.into(), identity }
}

fn plan(flows: &[Flow], fills: &[Fill], filled: &HashSet<(FlowId, SignId)>) -> Vec<Result<Filled, FillFailure>> {
    let initiator = id(ORG);
    let (organizations, operators) = (HashMap::new(), HashMap::new());
    plan_fill(
        flows,
        fills,
        &Known { initiator: &initiator, organizations: &organizations, operators: &operators, filled, now: NOW },
    )
}

fn message(r: &Result<Filled, FillFailure>) -> &str {
    &r.as_ref().unwrap_err().message
}

#[test]
fn a_dynamic_person_becomes_a_person_with_name_and_mobile() {
    let f = flow(vec![approver(SignerKind::DynamicPerson, "IND")]);
    let out = plan(std::slice::from_ref(&f), &[fill(&f, "IND", person_identity())], &HashSet::new());
    let filled = out[0].as_ref().unwrap();
    assert_eq!(filled.signer, SignerKind::Person);
    assert_eq!((filled.name.as_deref(), filled.mobile.as_deref()), (Some("张三"), Some("18888888888")));
}

#[test]
fn a_person_needs_a_mobile_and_no_organization() {
    let f = flow(vec![approver(SignerKind::DynamicPerson, "IND")]);
    let no_mobile = Identity { mobile: None, ..person_identity() };
    let with_org = Identity {
        organization_name: Some(OrganizationName::parse(Some("某公司"), "o").unwrap()),
        ..person_identity()
    };
    let out = plan(std::slice::from_ref(&f), &[fill(&f, "IND", no_mobile), fill(&f, "IND", with_org)], &HashSet::new());
    assert_eq!(message(&out[0]), "补充个人签署方需要手机号（Approvers.0.ApproverMobile）");
    assert_eq!(message(&out[1]), "参与方 IND 是个人签署方，不能补充为企业签署人（Approvers.0）");
}

#[test]
fn an_approver_filled_before_or_twice_in_one_call_is_a_repeat() {
    let f = flow(vec![approver(SignerKind::DynamicPerson, "IND")]);
    let out = plan(
        std::slice::from_ref(&f),
        &[fill(&f, "IND", person_identity()), fill(&f, "IND", person_identity())],
        &HashSet::new(),
    );
    assert!(out[0].is_ok());
    assert_eq!(message(&out[1]), ALREADY_FILLED_PERSON);
    let mut p = approver(SignerKind::Person, "IND");
    p.name = Some("张三".into());
    let g = flow(vec![p]);
    let filled = HashSet::from([(g.flow_id.clone(), g.approvers[0].sign_id.clone())]);
    let out = plan(std::slice::from_ref(&g), &[fill(&g, "IND", person_identity())], &filled);
    assert_eq!(message(&out[0]), ALREADY_FILLED_PERSON);
    let out = plan(std::slice::from_ref(&g), &[fill(&g, "IND", person_identity())], &HashSet::new());
    assert_eq!(message(&out[0]), "参与方 IND 不是动态签署人，无需补充（Approvers.0.RecipientId）");
}

#[test]
fn unknown_contracts_and_recipients_and_ended_contracts_are_refused() {
    let f = flow(vec![approver(SignerKind::DynamicPerson, "IND")]);
    let other = flow(vec![]);
    let out = plan(
        std::slice::from_ref(&f),
        &[fill(&other, "IND", person_identity()), fill(&f, "NOBODY", person_identity())],
        &HashSet::new(),
    );
    assert_eq!(message(&out[0]), format!("合同 {} 不存在或不属于该合同组（Approvers.0.FlowId）", other.flow_id));
    assert_eq!(message(&out[1]), format!("合同 {} 中没有参与方 NOBODY（Approvers.0.RecipientId）", f.flow_id));
    let mut ended = f.clone();
    ended.status = FlowStatus::Reject;
    let out = plan(std::slice::from_ref(&ended), &[fill(&ended, "IND", person_identity())], &HashSet::new());
    assert_eq!(message(&out[0]), format!("合同 {} 已结束（REJECT），不能补充签署人", f.flow_id));
    let mut late = f.clone();
    late.deadline = NOW - 1;
    let out = plan(std::slice::from_ref(&late), &[fill(&late, "IND", person_identity())], &HashSet::new());
    assert_eq!(message(&out[0]), format!("合同 {} 已结束（已过签署截止时间），不能补充签署人", f.flow_id));
    // Once the sweep marked it, the caller is told the same.
    late.status = FlowStatus::Deadline;
    let out = plan(std::slice::from_ref(&late), &[fill(&late, "IND", person_identity())], &HashSet::new());
    assert_eq!(message(&out[0]), format!("合同 {} 已结束（已过签署截止时间），不能补充签署人", f.flow_id));
}

#[test]
fn an_enterprise_is_named_by_open_id_or_by_organization_name_name_and_mobile() {
    let f = flow(vec![approver(SignerKind::DynamicOrganization, "ENT")]);
    let by_name = Identity {
        organization_name: Some(OrganizationName::parse(Some("某有限公司"), "o").unwrap()),
        ..person_identity()
    };
    let by_open_id = Identity {
        organization_name: Some(OrganizationName::parse(Some("子客企业"), "o").unwrap()),
        organization_open_id: Some(id("org_sub")),
        open_id: Some(id("zhangsan")),
        ..person_identity()
    };
    let bare = person_identity();
    let out = plan(std::slice::from_ref(&f), &[fill(&f, "ENT", by_name)], &HashSet::new());
    let a = out[0].as_ref().unwrap();
    assert_eq!((a.signer, a.organization_name.as_deref()), (SignerKind::SaasEmployee, Some("某有限公司")));
    let out = plan(std::slice::from_ref(&f), &[fill(&f, "ENT", by_open_id)], &HashSet::new());
    let a = out[0].as_ref().unwrap();
    assert_eq!(
        (a.signer, a.organization_open_id.as_deref(), a.open_id.as_deref()),
        (SignerKind::ChannelEmployee, Some("org_sub"), Some("zhangsan"))
    );
    let out = plan(std::slice::from_ref(&f), &[fill(&f, "ENT", bare)], &HashSet::new());
    assert_eq!(
        message(&out[0]),
        "参与方 ENT 是企业签署方，需要企业名称或企业 OpenId（Approvers.0.OrganizationName、Approvers.0.OrganizationOpenId）"
    );
}

#[test]
fn an_enterprise_named_at_creation_is_filled_with_that_enterprise_only() {
    let mut a = approver(SignerKind::DynamicOrganization, "ENT");
    a.organization_open_id = Some("org_sub".into());
    a.organization_name = Some("子客企业".into());
    let f = flow(vec![a]);
    let elsewhere =
        Identity { organization_open_id: Some(id("org_other")), open_id: Some(id("x")), ..person_identity() };
    let out = plan(std::slice::from_ref(&f), &[fill(&f, "ENT", elsewhere)], &HashSet::new());
    assert_eq!(
        message(&out[0]),
        "参与方 ENT 的企业已指定为 org_sub，不能补充为 org_other（Approvers.0.OrganizationOpenId）"
    );
    let out = plan(std::slice::from_ref(&f), &[fill(&f, "ENT", person_identity())], &HashSet::new());
    let a = out[0].as_ref().unwrap();
    assert_eq!(
        (a.organization_open_id.as_deref(), a.organization_name.as_deref()),
        (Some("org_sub"), Some("子客企业"))
    );
}
