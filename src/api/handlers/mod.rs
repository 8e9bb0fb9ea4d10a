//! One handler per implemented action: wire request in, domain types and store calls, wire
//! response out. Every other action answers `UnsupportedOperation`.

mod documents;
mod files;
mod flows;
mod templates;
mod tenancy;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::action::Action;
use super::schema::Schema;
use super::wire::Agent;
use super::{AppState, Caller, envelope};
use crate::domain::ExternalId;
use crate::domain::tenancy::{Operator, Organization};
use crate::error::{ApiError, Code, Failure, fail};

/// Validates the parameters against the action's schema, then deserializes them.
fn request<T: DeserializeOwned>(action: Action, params: Value) -> Result<T, ApiError> {
    Schema::get().check(action.as_str(), &params)?;
    serde_json::from_value(params).map_err(|e| ApiError::new(Code::InvalidParameter, format!("Invalid request: {e}.")))
}

/// Declares the implemented actions once: the dispatch `match` and the list the compatibility
/// test checks come from the same lines.
macro_rules! implemented_actions {
    ($($variant:ident => $handler:path,)*) => {
        #[cfg(test)]
        const IMPLEMENTED: &[Action] = &[$(Action::$variant,)*];

        pub async fn dispatch(
            state: &AppState,
            caller: &Caller,
            action: Action,
            params: Value,
        ) -> Result<Map<String, Value>, Failure> {
            match action {
                $(Action::$variant => {
                    let req = request(Action::$variant, params)?;
                    let resp = $handler(state, caller, req).await?;
                    Ok(envelope::to_object(&resp)?)
                })*
                other => Err(ApiError::new(
                    Code::UnsupportedOperation,
                    format!("The action `{other}` is not implemented by qianshu yet; see docs/compatibility.md."),
                )
                .into()),
            }
        }
    };
}

implemented_actions! {
    ChannelCreateFlowGroupByTemplates => flows::create_flow_group_by_templates,
    ChannelDescribeFlowComponents => documents::channel_describe_flow_components,
    ChannelGetTaskResultApi => documents::channel_get_task_result_api,
    DescribeFileConvertTask => documents::describe_file_convert_task,
    DescribeResourceUrlsByFlows => documents::describe_resource_urls_by_flows,
    DescribeFlowDetailInfo => flows::describe_flow_detail_info,
    DescribeTemplates => templates::describe_templates,
    SyncProxyOrganization => tenancy::sync_proxy_organization,
    SyncProxyOrganizationOperators => tenancy::sync_proxy_organization_operators,
    UploadFiles => files::upload_files,
}

/// `Agent.AppId` must be the application that owns the calling SecretId; anything else looks
/// exactly like an application that does not exist.
fn agent_app<'a>(caller: &'a Caller, agent: Option<&Agent>) -> Result<&'a ExternalId, ApiError> {
    let agent = agent.ok_or_else(|| ApiError::new(Code::MissingParameter, "The parameter `Agent` is required."))?;
    let app_id = ExternalId::parse(agent.app_id.as_deref(), "Agent.AppId")?;
    if app_id != caller.app_id {
        return fail(
            Code::ResourceNotFound_Application,
            format!(
                "The application `{app_id}` (Agent.AppId) does not exist or does not belong to the calling SecretId."
            ),
        );
    }
    Ok(&caller.app_id)
}

/// The caller's application and the `Agent.ProxyOrganizationOpenId` it names, which need not
/// exist yet.
fn agent_organization_id<'a>(
    caller: &'a Caller,
    agent: Option<&Agent>,
) -> Result<(&'a ExternalId, ExternalId), ApiError> {
    let app_id = agent_app(caller, agent)?;
    let open_id = ExternalId::parse(
        agent.and_then(|a| a.proxy_organization_open_id.as_deref()),
        "Agent.ProxyOrganizationOpenId",
    )?;
    Ok((app_id, open_id))
}

/// The sub-organisation `Agent.ProxyOrganizationOpenId` names, which must exist.
async fn agent_organization(state: &AppState, caller: &Caller, agent: Option<&Agent>) -> Result<Organization, Failure> {
    let (app_id, open_id) = agent_organization_id(caller, agent)?;
    Ok(state.store.organization(app_id, &open_id).await?.ok_or_else(|| {
        ApiError::new(
            Code::ResourceNotFound_Organization,
            format!("The sub-organization `{open_id}` (Agent.ProxyOrganizationOpenId) does not exist; call SyncProxyOrganization first."),
        )
    })?)
}

/// The acting organisation and operator of `Agent`: both must exist, belong together and be
/// real-name verified (Tencent: "第三方平台子客企业和员工必须已经经过实名认证").
async fn agent_operator(
    state: &AppState,
    caller: &Caller,
    agent: Option<&Agent>,
) -> Result<(Organization, Operator), Failure> {
    let organization = agent_organization(state, caller, agent).await?;
    let open_id = ExternalId::parse(
        agent.and_then(|a| a.proxy_operator.as_ref()).and_then(|o| o.open_id.as_deref()),
        "Agent.ProxyOperator.OpenId",
    )?;
    let operator = state.store.operator(&caller.app_id, &organization.open_id, &open_id).await?.ok_or_else(|| {
        ApiError::new(
            Code::OperationDenied_UserNotInOrganization,
            format!(
                "The operator `{open_id}` (Agent.ProxyOperator.OpenId) is not an employee of `{}`.",
                organization.open_id
            ),
        )
    })?;
    if !organization.verified {
        return Err(ApiError::new(
            Code::OperationDenied_NoIdentityVerify,
            format!(
                "The sub-organization `{}` (Agent.ProxyOrganizationOpenId) is not real-name verified.",
                organization.open_id
            ),
        )
        .into());
    }
    if !operator.verified {
        return Err(ApiError::new(
            Code::OperationDenied_NoIdentityVerify,
            format!("The operator `{open_id}` (Agent.ProxyOperator.OpenId) is not real-name verified."),
        )
        .into());
    }
    Ok((organization, operator))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_table_matches_the_code() {
        let doc = include_str!("../../../docs/compatibility.md");
        let rows: Vec<(&str, &str)> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .map(|l| {
                let (name, rest) = l.split_once("` | ").expect("| `Action` | status | notes |");
                (name, rest.split(" | ").next().expect("status"))
            })
            .collect();
        let names: Vec<&str> = rows.iter().map(|(n, _)| *n).collect();
        let all: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names, all, "one row per action, in the enum's order");
        for (name, status) in rows {
            let action: Action = name.parse().unwrap();
            let implemented = IMPLEMENTED.contains(&action);
            assert_eq!(status != "❌", implemented, "{name} is marked {status}");
        }
    }
}
