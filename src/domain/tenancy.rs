//! Applications (渠道应用), their sub-organisations and operators.

use std::collections::BTreeSet;

use secrecy::SecretString;

use super::{ExternalId, IdCard, Mobile, PersonName, at_most, required};
use crate::error::{ApiError, Code, fail};

/// Feature switches an application may have (Tencent enables them per account, on request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// Enterprise auto-sign (ApproverType ENTERPRISESERVER).
    AutoSign,
    /// Dynamic signers (ApproverOption.FillType = 1).
    DynamicSigner,
}

impl Feature {
    pub const ALL: [Feature; 2] = [Feature::AutoSign, Feature::DynamicSigner];

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::AutoSign => "AUTO_SIGN",
            Feature::DynamicSigner => "DYNAMIC_SIGNER",
        }
    }

    pub fn parse(value: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.as_str() == value)
    }
}

/// Where and how qianshu tells the platform about changes: the callbacks (`crate::callbacks`) go
/// to `url`, encrypted with `aes_key` and signed with `token` when they are set.
#[derive(Debug, Clone)]
pub struct CallbackSettings {
    pub url: String,
    pub aes_key: Option<SecretString>,
    pub token: Option<SecretString>,
}

#[derive(Debug, Clone)]
pub struct Application {
    pub app_id: ExternalId,
    /// Contracts this application may create in all; what it has used is kept by the store.
    pub flow_quota: i64,
    pub features: BTreeSet<Feature>,
    pub callback: Option<CallbackSettings>,
}

#[derive(Debug, Clone)]
pub struct Credential {
    pub secret_id: String,
    pub secret_key: SecretString,
}

/// A sub-organisation's registered name: as on its business licence, so Chinese parentheses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationName(String);

impl OrganizationName {
    pub fn parse(value: Option<&str>, field: &str) -> Result<OrganizationName, ApiError> {
        let v = required(value, field)?;
        at_most(v, 200, field)?;
        if v.contains(['(', ')']) {
            return fail(
                Code::InvalidParameter_OrganizationName,
                format!("The parameter `{field}` must write parentheses as Chinese （） as on the business licence."),
            );
        }
        if v.chars().any(char::is_control) {
            return fail(
                Code::InvalidParameter_OrganizationName,
                format!("The parameter `{field}` must not contain control characters."),
            );
        }
        Ok(OrganizationName(v.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(value: String) -> OrganizationName {
        OrganizationName(value)
    }
}

/// What `SyncProxyOrganization` records about a sub-organisation besides its name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrganizationDetails {
    pub uniform_social_credit_code: Option<String>,
    pub legal_name: Option<String>,
    pub legal_id_card_number: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Organization {
    pub open_id: ExternalId,
    pub name: OrganizationName,
    pub verified: bool,
    pub details: OrganizationDetails,
    /// Its seal images, in the tenants file's order; one without any signs with the seal
    /// qianshu draws from its name.
    pub seals: Vec<Seal>,
}

/// An organisation's seal: a PNG with a transparent background, checked to embed at `apply`.
#[derive(Debug, Clone, PartialEq)]
pub struct Seal {
    pub seal_id: ExternalId,
    pub name: String,
    /// SHA-256 (hex) of the PNG in the blob store.
    pub image_sha256: String,
}

#[derive(Debug, Clone)]
pub struct Operator {
    pub open_id: ExternalId,
    pub name: Option<PersonName>,
    pub mobile: Option<Mobile>,
    pub id_card: Option<IdCard>,
    pub default_role: Option<String>,
    pub verified: bool,
}

/// `SyncProxyOrganizationOperators.OperatorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorSync {
    Create,
    Update,
    Resign,
}

impl OperatorSync {
    pub fn parse(value: Option<&str>, field: &str) -> Result<OperatorSync, ApiError> {
        match required(value, field)? {
            "CREATE" => Ok(OperatorSync::Create),
            "UPDATE" => Ok(OperatorSync::Update),
            "RESIGN" => Ok(OperatorSync::Resign),
            other => fail(
                Code::OperationDenied_OperateType,
                format!("The parameter `{field}` must be CREATE, UPDATE or RESIGN, not `{other}`."),
            ),
        }
    }
}

/// The outcome for one operator of a sync; failures are reported per operator, not as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncFailure {
    pub id: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_organization_name_with_english_parentheses_is_rejected() {
        let e = OrganizationName::parse(Some("典子谦(深圳)科技有限公司"), "ProxyOrganizationName").unwrap_err();
        assert_eq!(e.code, Code::InvalidParameter_OrganizationName);
        assert!(OrganizationName::parse(Some("典子谦（深圳）科技有限公司"), "ProxyOrganizationName").is_ok());
    }

    #[test]
    fn operator_sync_types_are_exactly_create_update_resign() {
        assert_eq!(OperatorSync::parse(Some("RESIGN"), "OperatorType"), Ok(OperatorSync::Resign));
        assert_eq!(
            OperatorSync::parse(Some("DELETE"), "OperatorType").unwrap_err().code,
            Code::OperationDenied_OperateType
        );
        assert_eq!(OperatorSync::parse(None, "OperatorType").unwrap_err().code, Code::MissingParameter);
    }

    #[test]
    fn features_round_trip_through_their_names() {
        for f in Feature::ALL {
            assert_eq!(Feature::parse(f.as_str()), Some(f));
        }
        assert_eq!(Feature::parse("auto_sign"), None);
    }
}

/// Everything `qianshu apply` declares about one application.
#[derive(Debug, Clone)]
pub struct TenantApplication {
    pub application: Application,
    pub credentials: Vec<Credential>,
    pub organizations: Vec<(Organization, Vec<Operator>)>,
    pub templates: Vec<super::template::Template>,
}
