//! Sign reviews: an approver created with `ApproverNeedSignReview`, or a signer of the initiating
//! organisation in a contract created with `NeedSignReview`, signs (auto-sign included) only
//! once the initiator's review passed. Reviews come per contract (`ChannelCreateFlowSignReview`)
//! or per signer of a group (`CreateFlowGroupSignReview`); every result is kept and the latest
//! one decides. Pure: the store records results and re-checks them in the signing transaction.

use super::flow::{ApproveStatus, Approver, Flow, SignerKind};
use super::id::FlowId;
use super::tenancy::OrganizationName;
use super::{IdCard, Mobile, PersonName, at_most, required};
use crate::error::{ApiError, Code, fail};

/// `ReviewMessage`: "字符串长度不超过200".
pub const REVIEW_MESSAGE_MAX: usize = 200;

/// `ReviewType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewType {
    /// The signer may sign.
    Pass,
    /// Signing stays blocked ("流程状态不变，可以继续调用审核接口通过审核").
    Reject,
    /// The signer refuses: the contract ends as refused ("流程终止，流程状态变为拒签状态").
    SignReject,
}

impl ReviewType {
    const ALL: [ReviewType; 3] = [ReviewType::Pass, ReviewType::Reject, ReviewType::SignReject];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewType::Pass => "PASS",
            ReviewType::Reject => "REJECT",
            ReviewType::SignReject => "SIGN_REJECT",
        }
    }

    pub fn from_stored(s: &str) -> Option<ReviewType> {
        ReviewType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A review result as submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewResult {
    pub kind: ReviewType,
    /// Required unless the review passes.
    pub message: Option<String>,
}

impl ReviewResult {
    pub fn parse(kind: Option<&str>, message: Option<&str>) -> Result<ReviewResult, ApiError> {
        let kind = required(kind, "ReviewType")?;
        let kind = ReviewType::from_stored(kind).ok_or_else(|| {
            ApiError::new(
                Code::InvalidParameter,
                format!("The parameter `ReviewType` must be PASS, REJECT or SIGN_REJECT, not {kind:?}."),
            )
        })?;
        let message = message.map(str::trim).filter(|m| !m.is_empty());
        if let Some(m) = message {
            at_most(m, REVIEW_MESSAGE_MAX, "ReviewMessage")?;
        }
        if kind != ReviewType::Pass && message.is_none() {
            return fail(
                Code::MissingParameter,
                format!("The parameter `ReviewMessage` is required when `ReviewType` is {}.", kind.as_str()),
            );
        }
        Ok(ReviewResult { kind, message: message.map(str::to_owned) })
    }
}

/// Where an approver stands with the review their signing waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignReview {
    NotNeeded,
    /// Needed, and no result yet.
    Awaiting,
    /// The latest result refused (REJECT, or SIGN_REJECT): its reason.
    Rejected(String),
    Passed,
}

impl SignReview {
    /// From what is stored: whether a review is needed and the latest result that applies.
    pub fn from_stored(needed: bool, latest: Option<(ReviewType, Option<String>)>) -> SignReview {
        match (needed, latest) {
            (false, _) => SignReview::NotNeeded,
            (true, None) => SignReview::Awaiting,
            (true, Some((ReviewType::Pass, _))) => SignReview::Passed,
            (true, Some((_, message))) => SignReview::Rejected(message.unwrap_or_default()),
        }
    }

    pub fn is_needed(&self) -> bool {
        *self != SignReview::NotNeeded
    }

    /// The approver may not sign yet.
    pub fn blocks(&self) -> bool {
        matches!(self, SignReview::Awaiting | SignReview::Rejected(_))
    }
}

/// Whether an approver's signing waits for a review: they asked for one
/// (`ApproverNeedSignReview`), or the contract did (`NeedSignReview`: "发起方企业的签署人进行签署操作前")
/// and they sign for the initiating organisation.
pub fn needs_review(approver: &Approver, approver_asked: bool, flow_asked: bool, initiator: &str) -> bool {
    let for_initiator =
        matches!(approver.signer, SignerKind::ChannelEmployee | SignerKind::AutoSign | SignerKind::DynamicOrganization)
            && approver.organization_open_id.as_deref() == Some(initiator);
    approver_asked || (flow_asked && for_initiator)
}

/// What one review records: a result for one signer of a contract (their `RecipientId`), or for
/// the whole contract (`None`: every signer of it whose signing waits for a review).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewTarget {
    pub flow_id: FlowId,
    pub recipient_id: Option<String>,
}

/// `ChannelCreateFlowSignReview`: the contract must still be being signed; a `RecipientId` names
/// a signer whose signing waits for a review and who has not signed or refused; without one
/// the review is the contract's own (`NeedSignReview`).
pub fn plan_flow_review(flow: &Flow, recipient: Option<&str>, now: i64) -> Result<ReviewTarget, ApiError> {
    if !flow.status.is_live() || flow.deadline < now {
        return fail(
            Code::FailedOperation_NotAvailableSignReview,
            format!(
                "The contract `{}` (FlowId) is no longer being signed ({}): there is no signing to review.",
                flow.flow_id.as_str(),
                if flow.status.is_live() { "past its deadline" } else { flow.status.as_str() }
            ),
        );
    }
    let Some(recipient) = recipient else {
        if !flow.options.need_sign_review {
            return fail(
                Code::FailedOperation_NotAvailableSignReview,
                format!(
                    "The contract `{}` was not created with NeedSignReview: name the signer under review by `RecipientId`.",
                    flow.flow_id.as_str()
                ),
            );
        }
        if !flow.approvers.iter().any(|a| a.review.is_needed() && a.status == ApproveStatus::Pending) {
            return fail(
                Code::FailedOperation_NotAvailableSignReview,
                format!("No signer of the contract `{}` waits for a review any more.", flow.flow_id.as_str()),
            );
        }
        return Ok(ReviewTarget { flow_id: flow.flow_id.clone(), recipient_id: None });
    };
    let approver = flow.approvers.iter().find(|a| a.recipient_id == recipient).ok_or_else(|| {
        ApiError::new(
            Code::InvalidParameter,
            format!("`RecipientId` `{recipient}` is not a signer of the contract `{}`.", flow.flow_id.as_str()),
        )
    })?;
    reviewable(approver, "RecipientId")?;
    Ok(ReviewTarget { flow_id: flow.flow_id.clone(), recipient_id: Some(recipient.to_owned()) })
}

fn reviewable(approver: &Approver, field: &str) -> Result<(), ApiError> {
    if !approver.review.is_needed() {
        return fail(
            Code::FailedOperation_NotAvailableSignReview,
            format!(
                "The signer `{}` ({field}) signs without a review: neither ApproverNeedSignReview nor the contract's NeedSignReview applies to them.",
                approver.recipient_id
            ),
        );
    }
    if approver.status != ApproveStatus::Pending {
        return fail(
            Code::FailedOperation_NotAvailableSignReview,
            format!(
                "The signer `{}` ({field}) has already {}.",
                approver.recipient_id,
                if approver.status == ApproveStatus::Accept { "signed" } else { "refused" }
            ),
        );
    }
    Ok(())
}

/// The signer `CreateFlowGroupSignReview` names (`ApproverInfo`): a person by name and mobile or
/// identity document, an organisation's signer by organisation name, name and mobile or
/// identity document. Every field given must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewSigner {
    /// `None` for a person.
    pub organization_name: Option<OrganizationName>,
    pub name: PersonName,
    pub mobile: Option<Mobile>,
    pub id_card: Option<IdCard>,
}

/// `NeedReviewApproverInfo` as sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReviewSignerFields<'a> {
    pub approver_type: Option<&'a str>,
    pub name: Option<&'a str>,
    pub mobile: Option<&'a str>,
    pub id_card_type: Option<&'a str>,
    pub id_card_number: Option<&'a str>,
    pub organization_name: Option<&'a str>,
}

impl ReviewSigner {
    pub fn parse(f: &ReviewSignerFields<'_>, at: &str) -> Result<ReviewSigner, ApiError> {
        let field = |name: &str| format!("{at}.{name}");
        let organization = match required(f.approver_type, &field("ApproverType"))? {
            "ORGANIZATION" => true,
            "PERSON" => false,
            other => {
                return fail(
                    Code::InvalidParameter,
                    format!("The parameter `{}` must be ORGANIZATION or PERSON, not {other:?}.", field("ApproverType")),
                );
            }
        };
        let given = |v: Option<&str>| v.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let name = PersonName::parse(f.name, &field("ApproverName"))?;
        let mobile = given(f.mobile).map(|m| Mobile::parse(&m, &field("ApproverMobile"))).transpose()?;
        let id_card = given(f.id_card_number)
            .map(|n| IdCard::parse(f.id_card_type, &n, &field("ApproverIdCardType"), &field("ApproverIdCardNumber")))
            .transpose()?;
        if mobile.is_none() && id_card.is_none() {
            return fail(
                Code::MissingParameter,
                format!(
                    "`{at}` needs `ApproverMobile` or `ApproverIdCardNumber` beside `ApproverName` to find the signer."
                ),
            );
        }
        let organization_name = if organization {
            Some(OrganizationName::parse(f.organization_name, &field("OrganizationName"))?)
        } else {
            None
        };
        Ok(ReviewSigner { organization_name, name, mobile, id_card })
    }

    /// Whether `a` is this signer. qianshu records no person for an organisation's auto-signer,
    /// so its organisation's name alone finds it.
    pub fn matches(&self, a: &Approver) -> bool {
        match &self.organization_name {
            None => matches!(a.signer, SignerKind::Person | SignerKind::DynamicPerson) && self.same_person(a),
            Some(org) => {
                a.signer.is_enterprise()
                    && a.organization_name.as_deref() == Some(org.as_str())
                    && (a.signer == SignerKind::AutoSign || self.same_person(a))
            }
        }
    }

    fn same_person(&self, a: &Approver) -> bool {
        a.name.as_deref() == Some(self.name.as_str())
            && self.mobile.as_ref().is_none_or(|m| a.mobile.as_deref() == Some(m.as_str()))
            && self.id_card.as_ref().is_none_or(|c| a.id_card.as_ref() == Some(c))
    }
}

/// `CreateFlowGroupSignReview`: the signer's review in every contract of the group still being
/// signed where their signing waits for one and they have not signed or refused.
pub fn plan_group_review(
    flows: &[Flow],
    is_signer: &dyn Fn(&Approver) -> bool,
    now: i64,
) -> Result<Vec<ReviewTarget>, ApiError> {
    let mine: Vec<(&Flow, &Approver)> =
        flows.iter().filter_map(|f| f.approvers.iter().find(|a| is_signer(a)).map(|a| (f, a))).collect();
    if mine.is_empty() {
        return fail(Code::ResourceNotFound_FlowApprover, "No signer of the contract group matches `ApproverInfo`.");
    }
    let targets: Vec<ReviewTarget> = mine
        .iter()
        .filter(|(f, a)| {
            f.status.is_live() && f.deadline >= now && a.review.is_needed() && a.status == ApproveStatus::Pending
        })
        .map(|(f, a)| ReviewTarget { flow_id: f.flow_id.clone(), recipient_id: Some(a.recipient_id.clone()) })
        .collect();
    if targets.is_empty() {
        return fail(
            Code::FailedOperation_NotAvailableSignReview,
            "The signer `ApproverInfo` names waits for no review in any contract of the group still being signed.",
        );
    }
    Ok(targets)
}

#[cfg(test)]
pub(crate) mod tests;
