//! Reminders (`ChannelCreateFlowReminds`): whom of a contract a reminder concerns. Only signers
//! whose turn it is are reminded ("合同中当前状态为待签署的签署人"), and only those a text
//! message can reach who can act on it: not an auto-signer, not a dynamic signer nobody filled
//! in yet, not a signer whose signing waits for the initiator's review. Pure; the store records
//! each reminder once ("每个合同每个人只能催办一次").

use super::flow::{ApproveStatus, Approver, Flow, FlowStatus, SignerKind};
use super::link::SignerKey;

/// A signer whose turn it is.
#[derive(Debug, Clone, PartialEq)]
pub enum Remind<'a> {
    /// To be reminded.
    Signer(&'a Approver),
    /// Not to be reminded, and why, as `RemindMessage` says it.
    Skipped(&'a Approver, &'static str),
}

/// The signers of `flow` whose turn it is, in the contract's order, or why the contract cannot
/// be reminded at all.
pub fn plan_reminders(flow: &Flow, now: i64) -> Result<Vec<Remind<'_>>, String> {
    match flow.status {
        FlowStatus::All => return Err("合同已全部签署完成，无需催办；".into()),
        FlowStatus::Reject => return Err("合同已被拒签，无法催办；".into()),
        status if !status.is_live() => return Err(format!("合同状态为{}，无法催办；", status.as_str())),
        _ if flow.deadline < now => return Err("合同已过签署截止时间，无法催办；".into()),
        _ => {}
    }
    Ok(flow
        .approvers
        .iter()
        .filter(|a| {
            a.status == ApproveStatus::Pending
                && flow
                    .approvers
                    .iter()
                    .all(|b| b.routing_order >= a.routing_order || b.status == ApproveStatus::Accept)
        })
        .map(|a| {
            if a.signer == SignerKind::AutoSign {
                Remind::Skipped(a, "自动签署，无需催办；")
            } else if SignerKey::of(a).is_none() {
                Remind::Skipped(a, "签署人信息尚未补充，无法催办；")
            } else if a.review.blocks() {
                Remind::Skipped(a, "等待发起方签署审核，暂不能催办；")
            } else {
                Remind::Signer(a)
            }
        })
        .collect())
}

/// How `RemindMessage` names a signer: "签署人 张三".
pub fn signer_label(a: &Approver) -> String {
    let who = a.name.clone().or_else(|| a.organization_name.clone()).unwrap_or_else(|| a.role_name.clone());
    format!("签署人 {who}")
}

#[cfg(test)]
mod tests;
