//! SyncProxyOrganization and SyncProxyOrganizationOperators.

use super::{agent_organization, agent_organization_id};
use crate::api::wire::{
    Empty, ProxyOrganizationOperator, SyncFailReason, SyncProxyOrganizationOperatorsRequest,
    SyncProxyOrganizationOperatorsResponse, SyncProxyOrganizationRequest,
};
use crate::api::{AppState, Caller};
use crate::domain::tenancy::{Operator, OperatorSync, OrganizationDetails, OrganizationName, SyncFailure};
use crate::domain::{ExternalId, IdCard, Mobile, PersonName, at_most};
use crate::error::{ApiError, Code, Failure, fail};

/// Tencent's limit on one sync call.
const MAX_OPERATORS: usize = 200;

fn optional(value: Option<String>, max: usize, field: &str) -> Result<Option<String>, ApiError> {
    match value.filter(|v| !v.trim().is_empty()) {
        Some(v) => {
            at_most(&v, max, field)?;
            Ok(Some(v))
        }
        None => Ok(None),
    }
}

pub async fn sync_proxy_organization(
    state: &AppState,
    caller: &Caller,
    req: SyncProxyOrganizationRequest,
) -> Result<Empty, Failure> {
    let (app_id, open_id) = agent_organization_id(caller, req.agent.as_ref())?;
    let name = OrganizationName::parse(req.proxy_organization_name.as_deref(), "ProxyOrganizationName")?;
    if let Some(kind) = req.proxy_legal_id_card_type.as_deref().filter(|k| !k.is_empty())
        && kind != "ID_CARD"
    {
        return Err(ApiError::new(
            Code::InvalidParameter_CardType,
            "The parameter `ProxyLegalIdCardType` only supports ID_CARD.",
        )
        .into());
    }
    let legal_id_card_number = match req.proxy_legal_id_card_number.filter(|n| !n.is_empty()) {
        Some(n) => Some(IdCard::parse(None, &n, "ProxyLegalIdCardType", "ProxyLegalIdCardNumber")?.number),
        None => None,
    };
    if let Some(license) = &req.business_license {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD.decode(license).map_err(|_| {
            ApiError::new(
                Code::InvalidParameter_BusinessLicense,
                "The parameter `BusinessLicense` must be a base64 PNG or JPG.",
            )
        })?;
        if bytes.len() > 5 * 1024 * 1024 {
            return Err(ApiError::new(
                Code::LimitExceeded_FileSize,
                "The parameter `BusinessLicense` is larger than 5 MB.",
            )
            .into());
        }
    }
    let details = OrganizationDetails {
        uniform_social_credit_code: optional(req.uniform_social_credit_code, 200, "UniformSocialCreditCode")?,
        legal_name: optional(req.proxy_legal_name, 50, "ProxyLegalName")?,
        legal_id_card_number,
        address: optional(req.proxy_address, 500, "ProxyAddress")?,
    };
    state.store.sync_organization(app_id, &open_id, &name, &details).await?;
    Ok(Empty {})
}

/// One operator of a sync call, or why it cannot be synced.
fn operator(kind: OperatorSync, index: usize, w: &ProxyOrganizationOperator) -> Result<Operator, SyncFailure> {
    let path = |f: &str| format!("ProxyOrganizationOperators.{index}.{f}");
    let id = w.id.clone().unwrap_or_default();
    let parse = || -> Result<Operator, ApiError> {
        let open_id = ExternalId::parse(w.id.as_deref(), &path("Id"))?;
        if kind == OperatorSync::Resign {
            return Ok(Operator {
                open_id,
                name: None,
                mobile: None,
                id_card: None,
                default_role: None,
                verified: false,
            });
        }
        let name = match w.name.as_deref().filter(|n| !n.is_empty()) {
            Some(n) => Some(PersonName::parse(Some(n), &path("Name"))?),
            None => None,
        };
        let mobile = match w.mobile.as_deref().filter(|m| !m.is_empty()) {
            Some(m) => Some(Mobile::parse(m, &path("Mobile"))?),
            None => None,
        };
        let id_card = match w.id_card_number.as_deref().filter(|n| !n.is_empty()) {
            Some(n) => Some(IdCard::parse(w.id_card_type.as_deref(), n, &path("IdCardType"), &path("IdCardNumber"))?),
            None => None,
        };
        let default_role = optional(w.default_role.clone(), 64, &path("DefaultRole"))?;
        Ok(Operator { open_id, name, mobile, id_card, default_role, verified: false })
    };
    parse().map_err(|e| SyncFailure { id, message: format!("{}: {}", e.code, e.message) })
}

pub async fn sync_proxy_organization_operators(
    state: &AppState,
    caller: &Caller,
    req: SyncProxyOrganizationOperatorsRequest,
) -> Result<SyncProxyOrganizationOperatorsResponse, Failure> {
    let organization = agent_organization(state, caller, req.agent.as_ref()).await?;
    let kind = OperatorSync::parse(req.operator_type.as_deref(), "OperatorType")?;
    let wire = req.proxy_organization_operators.unwrap_or_default();
    if wire.is_empty() {
        return fail(Code::MissingParameter, "The parameter `ProxyOrganizationOperators` is required.")
            .map_err(Into::into);
    }
    if wire.len() > MAX_OPERATORS {
        return fail(
            Code::LimitExceeded_ProxyOrganizationOperator,
            format!(
                "The parameter `ProxyOrganizationOperators` holds {} operators; at most {MAX_OPERATORS} are allowed.",
                wire.len()
            ),
        )
        .map_err(Into::into);
    }
    let mut failures = Vec::new();
    let mut valid = Vec::new();
    for (i, w) in wire.iter().enumerate() {
        match operator(kind, i, w) {
            Ok(op) => valid.push(op),
            Err(f) => failures.push(f),
        }
    }
    failures.extend(state.store.sync_operators(&caller.app_id, &organization.open_id, kind, &valid).await?);
    if failures.len() == wire.len() {
        let reasons: Vec<String> = failures.iter().map(|f| format!("{}: {}", f.id, f.message)).collect();
        return fail(Code::FailedOperation, format!("No operator could be synced: {}", reasons.join("; ")))
            .map_err(Into::into);
    }
    Ok(SyncProxyOrganizationOperatorsResponse {
        status: if failures.is_empty() { 1 } else { 2 },
        failed_list: failures.into_iter().map(|f| SyncFailReason { id: f.id, message: f.message }).collect(),
    })
}
