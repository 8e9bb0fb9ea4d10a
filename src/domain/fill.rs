//! Dynamic signers supplied later: an approver created empty (`ApproverOption.FillType` 1) is
//! filled with a person or an enterprise's employee by `ChannelCreateFlowApprovers`, or by
//! whoever holds a `RECIPIENT` sign link and says on the page who they are. Both doors plan
//! with [`plan_fill`] and record with one guarded transition per approver, so an approver is
//! filled once. Pure: the store records, the handlers and the page parse.

use std::collections::{HashMap, HashSet};

use super::flow::{Flow, FlowStatus, SignerKind};
use super::id::{FlowId, SignId};
use super::tenancy::{Operator, Organization, OrganizationName};
use super::{ExternalId, IdCard, Mobile, PersonName};

/// Who an approver is filled with, parsed: every field given. What is required depends on the
/// approver (a person, an enterprise, an enterprise named at creation), so [`plan_fill`] says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    pub name: Option<PersonName>,
    pub mobile: Option<Mobile>,
    pub id_card: Option<IdCard>,
    pub organization_name: Option<OrganizationName>,
    pub organization_open_id: Option<ExternalId>,
    pub open_id: Option<ExternalId>,
    /// `NotChannelOrganization`: an enterprise outside this application (on Tencent's SaaS).
    pub not_channel_organization: bool,
}

/// One approver to fill: the contract, the template's `RecipientId`, and who.
#[derive(Debug, Clone, PartialEq)]
pub struct Fill {
    /// Where the request named it (`Approvers.1`), for messages.
    pub at: String,
    pub flow_id: FlowId,
    pub recipient_id: String,
    pub identity: Identity,
}

/// An approver as filled: the identity its row takes, like any signer named at creation.
#[derive(Debug, Clone, PartialEq)]
pub struct Filled {
    pub flow_id: FlowId,
    pub sign_id: SignId,
    pub recipient_id: String,
    /// What it was (dynamic person or organisation), what it becomes.
    pub was: SignerKind,
    pub signer: SignerKind,
    pub organization_open_id: Option<String>,
    pub organization_name: Option<String>,
    pub open_id: Option<String>,
    pub name: Option<String>,
    pub mobile: Option<String>,
    pub id_card: Option<IdCard>,
}

/// Why one approver could not be filled (`FillError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillFailure {
    pub flow_id: String,
    pub recipient_id: String,
    pub message: String,
}

/// Tencent's words for filling an approver twice (its example 3).
pub const ALREADY_FILLED_PERSON: &str = "个人信息已补充，请勿重复补充";
pub const ALREADY_FILLED_ORGANIZATION: &str = "企业信息已补充，请勿重复补充";

pub fn already_filled(was: SignerKind) -> &'static str {
    if was == SignerKind::DynamicPerson { ALREADY_FILLED_PERSON } else { ALREADY_FILLED_ORGANIZATION }
}

/// What filling needs to know besides the contracts.
pub struct Known<'a> {
    /// The organisation that created the contracts: an enterprise signer named by `OpenId`
    /// alone is its employee, as at creation.
    pub initiator: &'a ExternalId,
    /// Sub-organisations and operators of this application that the fills name, when known.
    pub organizations: &'a HashMap<ExternalId, Organization>,
    pub operators: &'a HashMap<(ExternalId, ExternalId), Operator>,
    /// Approvers filled before, by contract and SignId: filling them again is Tencent's
    /// "请勿重复补充", not "not a dynamic signer".
    pub filled: &'a HashSet<(FlowId, SignId)>,
    pub now: i64,
}

/// Each fill planned against the contracts as they are: the identity to record, or why not.
/// Two fills of one approver in one call: the one after the first that fits fails as a repeat.
pub fn plan_fill(flows: &[Flow], fills: &[Fill], known: &Known) -> Vec<Result<Filled, FillFailure>> {
    let mut planned: HashSet<(FlowId, String)> = HashSet::new();
    fills
        .iter()
        .map(|fill| {
            let failure = |message: String| FillFailure {
                flow_id: fill.flow_id.as_str().to_owned(),
                recipient_id: fill.recipient_id.clone(),
                message,
            };
            let flow = flows.iter().find(|f| f.flow_id == fill.flow_id).ok_or_else(|| {
                failure(format!("合同 {} 不存在或不属于该合同组（{}.FlowId）", fill.flow_id, fill.at))
            })?;
            let approver = flow.approvers.iter().find(|a| a.recipient_id == fill.recipient_id).ok_or_else(|| {
                failure(format!("合同 {} 中没有参与方 {}（{}.RecipientId）", fill.flow_id, fill.recipient_id, fill.at))
            })?;
            let place = (fill.flow_id.clone(), fill.recipient_id.clone());
            if planned.contains(&place) || known.filled.contains(&(flow.flow_id.clone(), approver.sign_id.clone())) {
                let was = if approver.signer.is_enterprise() {
                    SignerKind::DynamicOrganization
                } else {
                    SignerKind::DynamicPerson
                };
                return Err(failure(already_filled(was).to_owned()));
            }
            if !approver.signer.is_dynamic() {
                return Err(failure(format!(
                    "参与方 {} 不是动态签署人，无需补充（{}.RecipientId）",
                    fill.recipient_id, fill.at
                )));
            }
            if !flow.status.is_live() || flow.deadline < known.now {
                return Err(failure(format!(
                    "合同 {} 已结束（{}），不能补充签署人",
                    fill.flow_id,
                    match flow.status {
                        // Live past its deadline (the sweep has not come by yet) or expired: the same to the caller.
                        s if s.is_live() => "已过签署截止时间",
                        FlowStatus::Deadline => "已过签署截止时间",
                        s => s.as_str(),
                    }
                )));
            }
            let mut filled = Filled {
                flow_id: flow.flow_id.clone(),
                sign_id: approver.sign_id.clone(),
                recipient_id: approver.recipient_id.clone(),
                was: approver.signer,
                signer: approver.signer,
                organization_open_id: approver.organization_open_id.clone(),
                organization_name: approver.organization_name.clone(),
                open_id: None,
                name: None,
                mobile: None,
                id_card: None,
            };
            identity(&mut filled, &fill.identity, &fill.at, known).map_err(failure)?;
            planned.insert(place);
            Ok(filled)
        })
        .collect()
}

/// The identity `id` gives approver `f`, or what is missing or does not fit.
fn identity(f: &mut Filled, id: &Identity, at: &str, known: &Known) -> Result<(), String> {
    let name = id.name.as_ref().map(|n| n.as_str().to_owned());
    let mobile = id.mobile.as_ref().map(|m| m.as_str().to_owned());
    let has_organization = id.organization_name.is_some()
        || id.organization_open_id.is_some()
        || id.open_id.is_some()
        || id.not_channel_organization;
    if f.was == SignerKind::DynamicPerson {
        if has_organization {
            return Err(format!("参与方 {} 是个人签署方，不能补充为企业签署人（{at}）", f.recipient_id));
        }
        f.signer = SignerKind::Person;
        f.name = Some(name.ok_or_else(|| format!("补充个人签署方需要姓名（{at}.ApproverName）"))?);
        f.mobile = Some(mobile.ok_or_else(|| format!("补充个人签署方需要手机号（{at}.ApproverMobile）"))?);
        f.id_card = id.id_card.clone();
        return Ok(());
    }
    if id.id_card.is_some() {
        return Err(format!("企业签署方的经办人凭手机号签署，不接受证件号码（{at}.ApproverIdCardNumber）"));
    }
    // An approver whose organisation the creator named (`OrganizationOpenId`) is filled with
    // an employee of that organisation only.
    let preset = f.organization_open_id.clone().map(ExternalId::from_stored);
    if let (Some(p), Some(given)) = (&preset, &id.organization_open_id)
        && p != given
    {
        return Err(format!(
            "参与方 {} 的企业已指定为 {p}，不能补充为 {given}（{at}.OrganizationOpenId）",
            f.recipient_id
        ));
    }
    if id.not_channel_organization && preset.is_some() {
        return Err(format!(
            "参与方 {} 的企业已指定为平台子客企业，不能补充为 SaaS 企业（{at}.NotChannelOrganization）",
            f.recipient_id
        ));
    }
    if id.not_channel_organization && (id.organization_open_id.is_some() || id.open_id.is_some()) {
        return Err(format!("NotChannelOrganization 为 true 时不接受 OrganizationOpenId 和 OpenId（{at}）"));
    }
    let organization = id.organization_open_id.clone().or(preset);
    let known_name = organization.as_ref().and_then(|o| known.organizations.get(o)).map(|o| o.name.as_str().to_owned());
    let organization_name = id.organization_name.as_ref().map(|n| n.as_str().to_owned());
    if let (Some(given), Some(k)) = (&organization_name, &known_name)
        && given != k
    {
        return Err(format!("企业名称 {given} 与企业 OpenId 对应的企业 {k} 不一致（{at}.OrganizationName）"));
    }
    let organization_name = organization_name.or(known_name).or_else(|| f.organization_name.clone());
    if let Some(open_id) = &id.open_id {
        let organization = organization.unwrap_or_else(|| known.initiator.clone());
        let operator = known.operators.get(&(organization.clone(), open_id.clone()));
        let name = name.or_else(|| operator.and_then(|o| o.name.as_ref()).map(|n| n.as_str().to_owned()));
        let mobile = mobile.or_else(|| operator.and_then(|o| o.mobile.as_ref()).map(|m| m.as_str().to_owned()));
        let (Some(name), Some(mobile)) = (name, mobile) else {
            return Err(format!(
                "OpenId {open_id} 不是企业 {organization} 已知的员工，需要签署人姓名和手机号（{at}.ApproverName、{at}.ApproverMobile）"
            ));
        };
        let known_org = known.organizations.get(&organization).map(|o| o.name.as_str().to_owned());
        f.signer = SignerKind::ChannelEmployee;
        f.organization_name =
            Some(organization_name.or(known_org).ok_or_else(|| {
                format!("企业 {organization} 不是平台子客企业，需要企业名称（{at}.OrganizationName）")
            })?);
        f.organization_open_id = Some(organization.to_string());
        f.open_id = Some(open_id.to_string());
        f.name = Some(name);
        f.mobile = Some(mobile);
        return Ok(());
    }
    // Without an OpenId an enterprise's signer is named as Tencent names the initiator's own:
    // organisation name, name and mobile ("企业名称+姓名+手机号").
    let Some(organization_name) = organization_name else {
        return Err(format!(
            "参与方 {} 是企业签署方，需要企业名称或企业 OpenId（{at}.OrganizationName、{at}.OrganizationOpenId）",
            f.recipient_id
        ));
    };
    f.signer = SignerKind::SaasEmployee;
    f.organization_name = Some(organization_name);
    f.organization_open_id = organization.map(|o| o.to_string());
    f.name = Some(name.ok_or_else(|| format!("补充企业签署人需要经办人姓名（{at}.ApproverName）"))?);
    f.mobile = Some(mobile.ok_or_else(|| format!("补充企业签署人需要经办人手机号（{at}.ApproverMobile）"))?);
    Ok(())
}

#[cfg(test)]
mod tests;
