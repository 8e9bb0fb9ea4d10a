//! Signing and refusing: which of a group's contracts a signer may sign now, with which values,
//! and what each contract becomes. Pure: the store records the outcome with guarded
//! transitions, so whatever door a signature comes through (the page, the test helpers,
//! auto-sign), these rules decide it and a race between two doors has one winner.

use std::collections::HashSet;
use std::sync::Arc;

use super::flow::{ApproveStatus, Approver, Flow, FlowStatus, Values, check_value};
use super::id::{FlowId, SignId};
use super::review::SignReview;
use super::template::{Component, Template};
use crate::error::{ApiError, Code, fail};

/// A contract with the template snapshot it was made from.
#[derive(Debug, Clone)]
pub struct Contract {
    pub flow: Flow,
    pub template: Arc<Template>,
}

/// Where a contract stands for one signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// The signer may sign it now.
    Due,
    /// Others sign first: their names (or role names when not known yet).
    Waiting(Vec<String>),
    /// It is the signer's turn, but their signing waits for the initiator's review to pass:
    /// the reason of the latest review that refused, if one did.
    AwaitingReview(Option<String>),
    /// The signer signed; the contract waits for others.
    Signed,
    /// Everyone signed.
    Complete,
    /// The signer refused it.
    Rejected,
    /// It ended without this signer, or before it was complete: why.
    Closed(Ending),
    /// The signer has no part in it.
    NotASigner,
}

impl Contract {
    /// The signer's approver in this contract, if they are one.
    pub fn approver(&self, is_signer: &dyn Fn(&Approver) -> bool) -> Option<&Approver> {
        self.flow.approvers.iter().find(|a| is_signer(a))
    }

    pub fn standing(&self, is_signer: &dyn Fn(&Approver) -> bool, now: i64) -> Standing {
        let Some(me) = self.approver(is_signer) else { return Standing::NotASigner };
        // A cancelled or expired contract is closed even for those who signed it: it will
        // never be complete. One refused by this signer stays theirs.
        match (me.status, self.flow.status) {
            (ApproveStatus::Reject, _) => Standing::Rejected,
            (_, FlowStatus::All) => Standing::Complete,
            (_, FlowStatus::Cancel) => Standing::Closed(Ending::Cancelled(self.flow.flow_message.clone())),
            (_, FlowStatus::Deadline) => Standing::Closed(Ending::Expired),
            (ApproveStatus::Accept, _) => Standing::Signed,
            (_, FlowStatus::Reject) => Standing::Closed(Ending::Refused),
            (_, _) if self.flow.deadline < now => Standing::Closed(Ending::Expired),
            (ApproveStatus::Cancel, _) => Standing::Closed(Ending::Cancelled(None)),
            (ApproveStatus::Deadline, _) => Standing::Closed(Ending::Expired),
            (ApproveStatus::Pending, _) => {
                let before: Vec<String> = self
                    .flow
                    .approvers
                    .iter()
                    .filter(|a| a.routing_order < me.routing_order && a.status != ApproveStatus::Accept)
                    .map(|a| {
                        a.name.clone().or_else(|| a.organization_name.clone()).unwrap_or_else(|| a.role_name.clone())
                    })
                    .collect();
                match &me.review {
                    _ if !before.is_empty() => Standing::Waiting(before),
                    SignReview::Awaiting => Standing::AwaitingReview(None),
                    SignReview::Rejected(reason) => Standing::AwaitingReview(Some(reason.clone())),
                    SignReview::NotNeeded | SignReview::Passed => Standing::Due,
                }
            }
        }
    }

    /// The components a signer fills or signs in this contract.
    pub fn components_of<'a>(&'a self, approver: &'a Approver) -> impl Iterator<Item = &'a Component> + 'a {
        self.template.components.iter().filter(|c| c.recipient_id.as_deref() == Some(approver.recipient_id.as_str()))
    }
}

/// Why a contract ended before it was complete, as a signer is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Another signer refused it.
    Refused,
    /// The initiator cancelled it, with the reason given (`FlowMessage`).
    Cancelled(Option<String>),
    /// Its deadline passed (whether or not the sweep has marked it `DEADLINE` yet).
    Expired,
}

impl Ending {
    fn describe(&self, contract: &str) -> String {
        match self {
            Ending::Refused => format!("`{contract}` was refused"),
            Ending::Cancelled(Some(reason)) => format!("`{contract}` was cancelled by its initiator: {reason}"),
            Ending::Cancelled(None) => format!("`{contract}` was cancelled by its initiator"),
            Ending::Expired => format!("`{contract}` is past its deadline"),
        }
    }
}

/// A value the signer gives, by `ComponentName`: it fills every component of theirs with that
/// name, in every contract signed.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldValue {
    pub component_name: String,
    pub value: String,
}

/// One contract signed by one approver.
#[derive(Debug, Clone, PartialEq)]
pub struct ContractSigning {
    pub flow_id: FlowId,
    pub sign_id: SignId,
    /// The signer's fill values, by ComponentId, in template order.
    pub values: Vec<(String, String)>,
}

/// What a signing changes: the contracts the signer may sign now (every one due, all or none).
pub fn plan_sign(
    contracts: &[Contract],
    is_signer: &dyn Fn(&Approver) -> bool,
    fields: &[FieldValue],
    values: &Values,
) -> Result<Vec<ContractSigning>, ApiError> {
    let standings: Vec<Standing> = contracts.iter().map(|c| c.standing(is_signer, values.now)).collect();
    let due: Vec<&Contract> =
        contracts.iter().zip(&standings).filter(|(_, s)| **s == Standing::Due).map(|(c, _)| c).collect();
    if due.is_empty() {
        return Err(nothing_to_sign(contracts, &standings));
    }
    let mut used = HashSet::new();
    let mut signings = Vec::with_capacity(due.len());
    for contract in due {
        let me = contract.approver(is_signer).expect("a due contract has the signer");
        let mut filled = Vec::new();
        for c in contract.components_of(me).filter(|c| !c.component_type.is_sign()) {
            match fields.iter().enumerate().find(|(_, f)| f.component_name == c.component_name) {
                Some((k, f)) => {
                    check_value(c, &f.value, &format!("FormFields.{k}.ComponentValue"), values)?;
                    used.insert(k);
                    filled.push((c.component_id.clone(), f.value.clone()));
                }
                None if c.required => {
                    return fail(
                        Code::OperationDenied_RequiredComponentNotFill,
                        format!(
                            "`FormFields` must fill the required component `{}` of contract `{}`.",
                            c.component_name, contract.flow.name
                        ),
                    );
                }
                None => {}
            }
        }
        signings.push(ContractSigning {
            flow_id: contract.flow.flow_id.clone(),
            sign_id: me.sign_id.clone(),
            values: filled,
        });
    }
    if let Some((k, f)) = fields.iter().enumerate().find(|(k, _)| !used.contains(k)) {
        return fail(
            Code::InvalidParameter_DataNotFound,
            format!(
                "`FormFields.{k}.ComponentName`: `{}` is not a component this signer fills in the contracts being signed.",
                f.component_name
            ),
        );
    }
    Ok(signings)
}

/// What refusing changes: every live contract in which the signer has not signed yet, due or
/// not, is refused with `reason`.
pub fn plan_reject(
    contracts: &[Contract],
    is_signer: &dyn Fn(&Approver) -> bool,
    now: i64,
) -> Result<Vec<(FlowId, SignId)>, ApiError> {
    let standings: Vec<Standing> = contracts.iter().map(|c| c.standing(is_signer, now)).collect();
    let refused: Vec<(FlowId, SignId)> = contracts
        .iter()
        .zip(&standings)
        .filter(|(_, s)| matches!(s, Standing::Due | Standing::Waiting(_) | Standing::AwaitingReview(_)))
        .map(|(c, _)| (c.flow.flow_id.clone(), c.approver(is_signer).expect("the signer").sign_id.clone()))
        .collect();
    if refused.is_empty() {
        return Err(nothing_to_sign(contracts, &standings));
    }
    Ok(refused)
}

/// Why a signer has nothing to sign or refuse, the most telling reason first.
fn nothing_to_sign(contracts: &[Contract], standings: &[Standing]) -> ApiError {
    let named = |pred: &dyn Fn(&Standing) -> bool| -> Vec<&str> {
        contracts.iter().zip(standings).filter(|(_, s)| pred(s)).map(|(c, _)| c.flow.name.as_str()).collect()
    };
    if standings.iter().all(|s| *s == Standing::NotASigner) {
        return ApiError::new(
            Code::ResourceNotFound_FlowApprover,
            "This signer is not an approver of these contracts.",
        );
    }
    let reviewed: Vec<String> = contracts
        .iter()
        .zip(standings)
        .filter_map(|(c, s)| match s {
            Standing::AwaitingReview(None) => Some(format!("{} (no review result yet)", c.flow.name)),
            Standing::AwaitingReview(Some(reason)) => Some(format!("{} (review refused: {reason})", c.flow.name)),
            _ => None,
        })
        .collect();
    if !reviewed.is_empty() {
        return ApiError::new(
            Code::OperationDenied_Forbid,
            format!("Signing waits for the initiator's sign review to pass (NeedSignReview): {}.", reviewed.join("; ")),
        );
    }
    let waiting: Vec<String> = standings
        .iter()
        .filter_map(|s| if let Standing::Waiting(names) = s { Some(names.join("、")) } else { None })
        .collect();
    if !waiting.is_empty() {
        return ApiError::new(
            Code::InvalidParameter_Unordered,
            format!("Not this signer's turn yet: waiting for {} to sign first.", waiting.join("; ")),
        );
    }
    let ended: Vec<String> = contracts
        .iter()
        .zip(standings)
        .filter_map(|(c, s)| match s {
            Standing::Closed(ending) => Some(ending.describe(&c.flow.name)),
            Standing::Rejected => Some(format!("`{}` was refused by this signer", c.flow.name)),
            _ => None,
        })
        .collect();
    if !ended.is_empty() && named(&|s| matches!(s, Standing::Signed | Standing::Complete)).is_empty() {
        return ApiError::new(
            Code::OperationDenied_FlowHasTerminated,
            format!("The contracts are no longer being signed: {}.", ended.join("; ")),
        );
    }
    ApiError::new(Code::OperationDenied_FlowStatusForbid, "This signer has already signed every contract due.")
}

/// The status a contract takes once the approver `signed` has signed too.
pub fn status_after(flow: &Flow, signed: &SignId) -> FlowStatus {
    if flow.approvers.iter().all(|a| a.status == ApproveStatus::Accept || &a.sign_id == signed) {
        FlowStatus::All
    } else {
        FlowStatus::Part
    }
}

#[cfg(test)]
mod tests;
