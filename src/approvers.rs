//! Filling dynamic signers, whichever the door: `ChannelCreateFlowApprovers` ([`fill`]) and
//! the holder of a RECIPIENT link on the signing page ([`claim`]). Both plan with
//! `domain::fill` on the contracts as stored and record with the store's guarded transitions
//! (one transaction per call), so an approver is filled once whatever races.

use std::collections::{HashMap, HashSet};

use crate::domain::ExternalId;
use crate::domain::fill::{Fill, FillFailure, Filled, Identity, Known, already_filled, plan_fill};
use crate::domain::flow::{Flow, SignerKind};
use crate::domain::link::SignerKey;
use crate::error::{ApiError, Code, Failure};
use crate::signing::{Opened, Proof, Signing};
use crate::store::Store;
use crate::store::signing::{CodeUse, Recorded};

/// Each fill planned against `flows` as stored, with the organisations and operators the fills
/// name and the approvers filled before looked up.
async fn plan(
    store: &Store,
    app: &ExternalId,
    initiator: &ExternalId,
    flows: &[Flow],
    fills: &[Fill],
    now: i64,
) -> Result<Vec<Result<Filled, FillFailure>>, Failure> {
    let preset = |f: &Fill| {
        flows
            .iter()
            .filter(|flow| flow.flow_id == f.flow_id)
            .flat_map(|flow| &flow.approvers)
            .find(|a| a.recipient_id == f.recipient_id)
            .and_then(|a| a.organization_open_id.clone())
            .map(ExternalId::from_stored)
    };
    let mut organizations = HashMap::new();
    let mut operators = HashMap::new();
    for f in fills {
        let candidates: Vec<ExternalId> = [f.identity.organization_open_id.clone(), preset(f), Some(initiator.clone())]
            .into_iter()
            .flatten()
            .collect();
        for org in candidates {
            if !organizations.contains_key(&org)
                && let Some(o) = store.organization(app, &org).await?
            {
                organizations.insert(org.clone(), o);
            }
            if let Some(open_id) = &f.identity.open_id {
                let key = (org.clone(), open_id.clone());
                if !operators.contains_key(&key)
                    && let Some(op) = store.operator(app, &org, open_id).await?
                {
                    operators.insert(key, op);
                }
            }
        }
    }
    let ids: Vec<_> = flows.iter().map(|f| f.flow_id.clone()).collect();
    let filled = store.filled_approvers(&ids).await?;
    let known = Known { initiator, organizations: &organizations, operators: &operators, filled: &filled, now };
    Ok(plan_fill(flows, fills, &known))
}

/// `ChannelCreateFlowApprovers`: fills what can be filled and answers, in request order, why
/// each other one could not.
pub async fn fill(
    store: &Store,
    app: &ExternalId,
    initiator: &ExternalId,
    flows: &[Flow],
    fills: &[Fill],
) -> Result<Vec<FillFailure>, Failure> {
    let now = store.now();
    let planned = plan(store, app, initiator, flows, fills, now).await?;
    let ready: Vec<Filled> = planned.iter().filter_map(|r| r.as_ref().ok().cloned()).collect();
    let mut recorded = store.record_fills(&ready, now).await?.into_iter();
    let mut failures = Vec::new();
    for r in planned {
        match r {
            Err(failure) => failures.push(failure),
            // Another fill won meanwhile.
            Ok(f) if !recorded.next().unwrap_or(false) => failures.push(FillFailure {
                flow_id: f.flow_id.as_str().to_owned(),
                recipient_id: f.recipient_id,
                message: already_filled(f.was).to_owned(),
            }),
            Ok(_) => {}
        }
    }
    Ok(failures)
}

/// The key a filled approver's links carry: what [`SignerKey::of`] reads from its row.
fn key_of(f: &Filled) -> Option<SignerKey> {
    match f.signer {
        SignerKind::Person => Some(SignerKey::Person { name: f.name.clone()?, mobile: f.mobile.clone()? }),
        SignerKind::SaasEmployee => Some(SignerKey::SaasEmployee {
            organization_name: f.organization_name.clone()?,
            name: f.name.clone()?,
            mobile: f.mobile.clone()?,
        }),
        SignerKind::ChannelEmployee => Some(SignerKey::ChannelEmployee {
            organization_open_id: f.organization_open_id.clone()?,
            open_id: f.open_id.clone()?,
        }),
        _ => None,
    }
}

/// What the page says when a claim cannot go through.
fn refused(message: impl Into<String>) -> Failure {
    ApiError::new(Code::OperationDenied, message).into()
}

/// The holder of a RECIPIENT link says who they are: checked against what the platform preset,
/// proven by the one-time code sent to the mobile they typed, then every place of the link is
/// filled with them and the link becomes theirs, in one transaction or not at all.
pub async fn claim(
    signing: &Signing,
    store: &Store,
    opened: &Opened,
    mut identity: Identity,
    code: &str,
) -> Result<(), Failure> {
    let SignerKey::Recipient { places, preset } = &opened.link.signer else {
        return Err(refused("签署人信息已补充，请直接签署。"));
    };
    let typed = |v: Option<&str>| v.map(str::to_owned);
    if preset.name.is_some() && typed(identity.name.as_ref().map(|n| n.as_str())) != preset.name {
        return Err(refused("姓名与发起方指定的签署人不一致。"));
    }
    if preset.mobile.is_some() && typed(identity.mobile.as_ref().map(|m| m.as_str())) != preset.mobile {
        return Err(refused("手机号与发起方指定的签署人不一致。"));
    }
    if let Some(o) = &preset.organization_name {
        match &identity.organization_name {
            Some(n) if n.as_str() != o => return Err(refused("企业名称与发起方指定的企业不一致。")),
            _ => identity.organization_name = crate::domain::tenancy::OrganizationName::parse(Some(o), "企业名称").ok(),
        }
    }
    identity.organization_open_id = preset.organization_open_id.clone().map(ExternalId::from_stored);
    let mobile = identity.mobile.clone().ok_or_else(|| refused("请输入手机号。"))?;
    let proven = format!("{}:{code}", mobile.as_str());
    let code = signing
        .checked_code(&Proof::Code { token_sha256: &opened.token_sha256, code: &proven })
        .await?
        .ok_or_else(|| refused("请输入验证码。"))?;

    let flows: Vec<Flow> = opened.contracts.iter().map(|c| c.flow.clone()).collect();
    let initiator = flows.first().map(|f| ExternalId::from_stored(f.organization_open_id.clone()));
    let initiator = initiator.ok_or_else(|| refused("链接中的合同已不存在。"))?;
    let mut fills = Vec::with_capacity(places.len());
    for (flow, recipient) in places {
        let Some(f) = flows.iter().find(|f| f.flow_id.as_str() == flow) else {
            return Err(refused("链接中的合同已不存在。"));
        };
        fills.push(Fill {
            at: "签署人".to_owned(),
            flow_id: f.flow_id.clone(),
            recipient_id: recipient.clone(),
            identity: identity.clone(),
        });
    }
    let now = store.now();
    let planned = plan(store, &opened.link.app_id, &initiator, &flows, &fills, now)
        .await?
        .into_iter()
        .collect::<Result<Vec<Filled>, FillFailure>>()
        .map_err(|f| refused(f.message))?;
    let keys: HashSet<Option<SignerKey>> = planned.iter().map(key_of).collect();
    let key = match keys.into_iter().collect::<Vec<_>>().as_slice() {
        [Some(key)] => key.clone(),
        _ => return Err(refused("这些合同的签署方身份不一致，无法一次补充。")),
    };
    let claim = crate::store::LinkClaim {
        token_sha256: &opened.token_sha256,
        from: &opened.link.signer,
        to: &key,
        code: CodeUse { token_sha256: &code.0, code_sha256: &code.1 },
    };
    match store.record_claim(&planned, claim, now).await? {
        Recorded::Done => Ok(()),
        Recorded::CodeUnusable => {
            Err(ApiError::new(Code::FailedOperation_AuthFail, "验证码已失效，请重新获取。").into())
        }
        Recorded::Changed => Err(refused("签署人已被他人补充，或合同已结束。请刷新页面。")),
    }
}
