//! What the platform is told, in the domain's words: which change happened to which contract
//! (`FlowEvent`), the numeric codes Tencent's callbacks carry, and a group's status derived from
//! its contracts'. Pure; the messages' JSON is the outbound edge's (`crate::callbacks::message`).

use super::flow::{ApproveStatus, FlowStatus, SignerKind};
use super::id::{FlowId, SignId};

/// `Operate` of a `FlowStatusChange`: what happened to the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operate {
    /// Created.
    Start,
    /// An approver signed.
    Sign,
    /// An approver refused.
    Reject,
    /// The initiator cancelled it.
    Cancel,
    /// Everyone signed.
    Finish,
    /// Its deadline passed.
    Deadline,
}

impl Operate {
    pub fn as_str(self) -> &'static str {
        match self {
            Operate::Start => "start",
            Operate::Sign => "sign",
            Operate::Reject => "reject",
            Operate::Cancel => "cancel",
            Operate::Finish => "finish",
            Operate::Deadline => "deadline",
        }
    }
}

/// One change to one contract, to report. The message reads the contract as it is in the
/// transaction that records the change, so it tells the state at the change, not at delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowEvent {
    pub flow_id: FlowId,
    pub operate: Operate,
    /// The approver who acted (signed or refused), when one did.
    pub approver: Option<SignId>,
}

impl FlowEvent {
    /// A change nobody in particular made (start, cancel, finish, deadline).
    pub fn new(flow_id: FlowId, operate: Operate) -> FlowEvent {
        FlowEvent { flow_id, operate, approver: None }
    }

    /// A change an approver made (sign, reject).
    pub fn by(flow_id: FlowId, operate: Operate, approver: SignId) -> FlowEvent {
        FlowEvent { flow_id, operate, approver: Some(approver) }
    }
}

/// `FlowCallbackStatus`: the callbacks' number for a contract's status.
pub fn flow_callback_status(status: FlowStatus) -> i64 {
    match status {
        FlowStatus::Init => 1,
        FlowStatus::Part => 2,
        FlowStatus::Reject => 3,
        FlowStatus::All => 4,
        FlowStatus::Deadline => 5,
        FlowStatus::Cancel => 6,
    }
}

/// `ApproveCallbackStatus`: the callbacks' number for an approver's status.
pub fn approve_callback_status(status: ApproveStatus) -> i64 {
    match status {
        ApproveStatus::Pending => 2,
        ApproveStatus::Accept => 3,
        ApproveStatus::Reject => 4,
        ApproveStatus::Deadline => 5,
        ApproveStatus::Cancel => 6,
    }
}

/// The callbacks' `ApproverType`: 0 an enterprise, 1 a person, 3 the enterprise signing by itself.
pub fn callback_approver_type(kind: SignerKind) -> i64 {
    match kind {
        SignerKind::Person | SignerKind::DynamicPerson => 1,
        SignerKind::AutoSign => 3,
        SignerKind::ChannelEmployee | SignerKind::SaasEmployee | SignerKind::DynamicOrganization => 0,
    }
}

/// `FlowGroupStatus`, seen by the platform rather than by one signer: `WAITSIGN` while the
/// contracts are being signed, `ALL` once every one is complete, `INVALID` once every one ended
/// without completing, `PART` when some ended without completing and others did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupStatus {
    WaitSign,
    Part,
    All,
    Invalid,
}

impl GroupStatus {
    pub fn of(statuses: impl IntoIterator<Item = FlowStatus>) -> GroupStatus {
        let (mut complete, mut ended, mut live) = (0, 0, 0);
        for s in statuses {
            match s {
                FlowStatus::All => complete += 1,
                FlowStatus::Init | FlowStatus::Part => live += 1,
                FlowStatus::Reject | FlowStatus::Cancel | FlowStatus::Deadline => ended += 1,
            }
        }
        match (complete, ended, live) {
            (_, 0, 0) => GroupStatus::All,
            (_, 0, _) => GroupStatus::WaitSign,
            (0, _, 0) => GroupStatus::Invalid,
            _ => GroupStatus::Part,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GroupStatus::WaitSign => "WAITSIGN",
            GroupStatus::Part => "PART",
            GroupStatus::All => "ALL",
            GroupStatus::Invalid => "INVALID",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FlowStatus::*;

    #[test]
    fn a_group_waits_while_every_contract_is_live_or_complete() {
        assert_eq!(GroupStatus::of([Init, Init]), GroupStatus::WaitSign);
        assert_eq!(GroupStatus::of([Part, All]), GroupStatus::WaitSign);
    }

    #[test]
    fn a_group_is_complete_when_every_contract_is() {
        assert_eq!(GroupStatus::of([All, All]), GroupStatus::All);
    }

    #[test]
    fn a_group_is_invalid_when_every_contract_ended_without_completing() {
        assert_eq!(GroupStatus::of([Reject, Reject]), GroupStatus::Invalid);
    }

    #[test]
    fn a_group_is_part_when_some_contracts_ended_without_completing_and_others_did_not() {
        assert_eq!(GroupStatus::of([Reject, Init]), GroupStatus::Part);
        assert_eq!(GroupStatus::of([Reject, All]), GroupStatus::Part);
    }
}
