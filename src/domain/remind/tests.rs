use super::*;
use crate::domain::review::SignReview;
use crate::domain::review::tests::{approver, flow};

const NOW: i64 = 1_800_000_000;

fn outcomes(f: &Flow) -> Vec<(String, Option<&'static str>)> {
    plan_reminders(f, NOW)
        .unwrap()
        .into_iter()
        .map(|r| match r {
            Remind::Signer(a) => (a.recipient_id.clone(), None),
            Remind::Skipped(a, why) => (a.recipient_id.clone(), Some(why)),
        })
        .collect()
}

#[test]
fn only_signers_whose_turn_it_is_and_who_sign_by_hand_are_reminded() {
    let mut later = approver("丙", SignerKind::Person, Some("李四"), SignReview::NotNeeded);
    later.routing_order = 2;
    let f = flow(
        vec![
            approver("甲", SignerKind::AutoSign, None, SignReview::NotNeeded),
            approver("乙", SignerKind::Person, Some("张三"), SignReview::NotNeeded),
            approver("丁", SignerKind::DynamicPerson, None, SignReview::NotNeeded),
            approver("戊", SignerKind::ChannelEmployee, Some("王五"), SignReview::Awaiting),
            later,
        ],
        false,
    );
    assert_eq!(
        outcomes(&f),
        [
            ("甲".into(), Some("自动签署，无需催办；")),
            ("乙".into(), None),
            ("丁".into(), Some("签署人信息尚未补充，无法催办；")),
            ("戊".into(), Some("等待发起方签署审核，暂不能催办；")),
        ]
    );
}

#[test]
fn a_signer_is_reminded_once_those_before_have_signed() {
    let mut second = approver("乙", SignerKind::Person, Some("张三"), SignReview::NotNeeded);
    second.routing_order = 2;
    let mut f = flow(vec![approver("甲", SignerKind::Person, Some("李四"), SignReview::NotNeeded), second], false);
    assert_eq!(outcomes(&f), [("甲".into(), None)]);
    f.approvers[0].status = ApproveStatus::Accept;
    f.status = FlowStatus::Part;
    assert_eq!(outcomes(&f), [("乙".into(), None)]);
}

#[test]
fn a_finished_contract_is_not_reminded_and_says_why() {
    let mut f = flow(vec![approver("甲", SignerKind::Person, Some("李四"), SignReview::NotNeeded)], false);
    f.status = FlowStatus::All;
    assert_eq!(plan_reminders(&f, NOW).unwrap_err(), "合同已全部签署完成，无需催办；");
    f.status = FlowStatus::Reject;
    assert_eq!(plan_reminders(&f, NOW).unwrap_err(), "合同已被拒签，无法催办；");
    f.status = FlowStatus::Init;
    assert_eq!(plan_reminders(&f, f.deadline + 1).unwrap_err(), "合同已过签署截止时间，无法催办；");
}

#[test]
fn a_signer_is_named_by_name_organisation_or_role() {
    let a = approver("甲", SignerKind::Person, Some("李四"), SignReview::NotNeeded);
    assert_eq!(signer_label(&a), "签署人 李四");
    let auto = approver("甲", SignerKind::AutoSign, None, SignReview::NotNeeded);
    assert_eq!(signer_label(&auto), "签署人 甲公司");
}
