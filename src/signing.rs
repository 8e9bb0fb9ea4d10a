//! Signing and refusing, whatever the door: the page, the test helpers and auto-sign all call
//! [`Signing::sign`] or [`Signing::reject`]. Each call plans with `domain::signing` on what the
//! store holds now, draws each contract's next revision, and records everything in one
//! transaction of guarded transitions; if anything changed meanwhile (another door won, another
//! signer wrote the next revision), it plans again on the new state, which then either goes
//! through or says why not. Nothing is signed twice.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use bytes::Bytes;
use tokio::sync::Notify;
use tracing::{info, warn};

use crate::domain::ExternalId;
use crate::domain::evidence::Door;
use crate::domain::flow::{Approver, FlowStatus, SignerKind, Values};
use crate::domain::id::{FlowId, SignId};
use crate::domain::link::{LinkTarget, LinkToken, SignLink};
use crate::domain::review::{ReviewResult, ReviewTarget};
use crate::domain::signing::{Contract, FieldValue, plan_reject, plan_sign, status_after};
use crate::domain::template::ComponentType;
use crate::error::{ApiError, Code, Failure};
use crate::pdf::image::{ImageXObject, image_xobject};
use crate::pdf::pades::template_form_fields;
use crate::pki::Pki;
use crate::store::Store;
use crate::store::signing::{CodeCheck, CodeUse, Origin, Recorded, Revision, SignedContract};
use crate::synthesis::{Signature, SignatureAppearance, SigningKey, Synthesis};

/// How often the state is re-read when another door keeps winning, before giving up.
const ATTEMPTS: usize = 5;
/// How often each node looks for auto-signers due, besides being woken.
const AUTO_SIGN_SWEEP: Duration = Duration::from_secs(1);

/// How the signer signs the contracts they sign by hand.
pub enum SignatureInput {
    /// Their name, typed.
    Typed(String),
    /// A PNG drawn on the page.
    Drawn(Bytes),
}

/// What a signer submits.
pub struct Request {
    pub fields: Vec<FieldValue>,
    pub signature: Option<SignatureInput>,
    pub origin: Origin,
}

/// What proves the signer is who the link was issued for.
pub enum Proof<'a> {
    /// The one-time code sent to their mobile, for the link with this token digest.
    Code { token_sha256: &'a str, code: &'a str },
    /// A door that needs none: the test helpers and auto-sign.
    Trusted,
}

/// A link, opened: the contracts it reaches and for whom.
pub struct Opened {
    pub link: SignLink,
    pub token_sha256: String,
    /// The group's name, or the contract's.
    pub name: String,
    pub contracts: Vec<Contract>,
}

impl Opened {
    pub fn is_signer(&self) -> impl Fn(&Approver) -> bool + Sync + '_ {
        |a: &Approver| self.link.signer.matches(a)
    }
}

/// Why a link opens nothing. Both show nothing of any contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    /// Not a token qianshu issued (or issued for contracts that are gone).
    Unknown,
    Expired,
}

impl LinkProblem {
    pub fn error(self) -> ApiError {
        match self {
            LinkProblem::Unknown => {
                ApiError::new(Code::ResourceNotFound_URL, "The sign link (SignUrl) does not exist.")
            }
            LinkProblem::Expired => ApiError::new(Code::ResourceNotFound_URL, "The sign link (SignUrl) has expired."),
        }
    }
}

pub struct Signing {
    store: Store,
    synthesis: Arc<Synthesis>,
    pki: Arc<Pki>,
    auto_sign: Notify,
}

impl Signing {
    pub fn new(store: Store, synthesis: Arc<Synthesis>, pki: Arc<Pki>) -> Arc<Signing> {
        Arc::new(Signing { store, synthesis, pki, auto_sign: Notify::new() })
    }

    /// What the link with `token` opens, as it is now.
    pub async fn open(&self, token: &str) -> Result<Result<Opened, LinkProblem>, Failure> {
        let Some(token) = LinkToken::parse(token) else { return Ok(Err(LinkProblem::Unknown)) };
        let Some(link) = self.store.sign_link(&token).await? else { return Ok(Err(LinkProblem::Unknown)) };
        if link.expires_at < self.store.now() {
            return Ok(Err(LinkProblem::Expired));
        }
        let Some((name, contracts)) = self.contracts(&link.app_id, &link.target).await? else {
            return Ok(Err(LinkProblem::Unknown));
        };
        Ok(Ok(Opened { link, token_sha256: token.digest(), name, contracts }))
    }

    /// The contracts of `scope` with their templates, in the group's order.
    pub async fn contracts(
        &self,
        app: &ExternalId,
        scope: &LinkTarget,
    ) -> Result<Option<(String, Vec<Contract>)>, Failure> {
        let (name, flows) = match scope {
            LinkTarget::Group(group) => match self.store.app_flow_group(app, group).await? {
                Some(found) => found,
                None => return Ok(None),
            },
            LinkTarget::Flow(id) => {
                let flows = self.store.app_flows(app, std::slice::from_ref(id)).await?;
                match flows.first() {
                    Some(f) => (f.name.clone(), flows),
                    None => return Ok(None),
                }
            }
        };
        let mut contracts = Vec::with_capacity(flows.len());
        for flow in flows {
            let template = self.store.flow_template(app, &flow).await?;
            contracts.push(Contract { flow, template });
        }
        Ok(Some((name, contracts)))
    }

    /// Signs every contract of `scope` due for the signer, all or none, and answers their ids.
    pub async fn sign(
        &self,
        app: &ExternalId,
        scope: &LinkTarget,
        is_signer: &(dyn Fn(&Approver) -> bool + Sync),
        request: &Request,
        proof: Proof<'_>,
    ) -> Result<Vec<FlowId>, Failure> {
        let code = self.checked_code(&proof).await?;
        let drawn = match &request.signature {
            Some(SignatureInput::Drawn(png)) => Some(Arc::new(drawn_signature(png.clone()).await?)),
            _ => None,
        };
        for _ in 0..ATTEMPTS {
            let now = self.store.now();
            let (_, contracts) = self.contracts(app, scope).await?.ok_or_else(no_contracts)?;
            let files = Default::default();
            let values = Values { app_id: app, files: &files, metrics: self.synthesis.fonts().metrics(), now };
            let plan = plan_sign(&contracts, is_signer, &request.fields, &values)?;
            let ids: Vec<FlowId> = plan.iter().map(|s| s.flow_id.clone()).collect();
            let latest = self.latest_revisions(app, &ids).await?;
            let date = china_date(now);
            let signed_at = time::OffsetDateTime::from_unix_timestamp(now).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            let mut revisions = Vec::with_capacity(plan.len());
            for s in plan {
                let contract = contracts.iter().find(|c| c.flow.flow_id == s.flow_id).expect("planned from these");
                let me = contract.approver(is_signer).expect("planned for this signer");
                let base = latest
                    .get(&s.flow_id)
                    .cloned()
                    .ok_or_else(|| anyhow!("flow {} has no document", s.flow_id.as_str()))?;
                let status = status_after(&contract.flow, &s.sign_id);
                let signature = Signature {
                    recipient_id: me.recipient_id.clone(),
                    components: contract.components_of(me).cloned().collect(),
                    form_fields: template_form_fields(&contract.template),
                    values: s.values.clone(),
                    appearances: self.appearances(app, contract, me, request, drawn.as_ref()).await?,
                    date,
                    name: signer_name(me).to_owned(),
                    signed_at,
                    key: self.signing_key(app, me).await?,
                    completes: status == FlowStatus::All,
                };
                revisions.push(async move {
                    let (sha256, certificate) =
                        self.synthesis.revise(&base.sha256, signature, self.pki.clone()).await?;
                    Ok::<_, Failure>(SignedContract {
                        status,
                        flow_id: s.flow_id,
                        sign_id: s.sign_id,
                        values: s.values,
                        revision: base.number + 1,
                        sha256,
                        certificate: Some(certificate),
                    })
                });
            }
            let signed = futures::future::try_join_all(revisions).await?;
            let code = code.as_ref().map(|(token_sha256, code_sha256)| CodeUse { token_sha256, code_sha256 });
            match self.store.record_signing(&signed, code, &request.origin, now).await? {
                Recorded::Done => {
                    self.auto_sign.notify_one();
                    return Ok(ids);
                }
                Recorded::Changed => {}
                Recorded::CodeUnusable => return Err(no_code().into()),
            }
        }
        Err(contended())
    }

    /// Refuses every live contract of `scope` the signer has not signed, with `reason`.
    pub async fn reject(
        &self,
        app: &ExternalId,
        scope: &LinkTarget,
        is_signer: &(dyn Fn(&Approver) -> bool + Sync),
        reason: &str,
        origin: &Origin,
        proof: Proof<'_>,
    ) -> Result<Vec<FlowId>, Failure> {
        let code = self.checked_code(&proof).await?;
        for _ in 0..ATTEMPTS {
            let now = self.store.now();
            let (_, contracts) = self.contracts(app, scope).await?.ok_or_else(no_contracts)?;
            let refusals = plan_reject(&contracts, is_signer, now)?;
            let code = code.as_ref().map(|(token_sha256, code_sha256)| CodeUse { token_sha256, code_sha256 });
            match self.store.record_rejection(&refusals, reason, code, origin, now).await? {
                Recorded::Done => return Ok(refusals.into_iter().map(|(flow, _)| flow).collect()),
                Recorded::Changed => {}
                Recorded::CodeUnusable => return Err(no_code().into()),
            }
        }
        Err(contended())
    }

    /// A sign review's `SIGN_REJECT`: refuses for the signer exactly as they would refuse
    /// themselves (every live contract of `scope` they have not signed), the review's reason
    /// as theirs, and records the review's result for each of them in the same transaction.
    pub async fn reject_on_review(
        &self,
        app: &ExternalId,
        scope: &LinkTarget,
        is_signer: &(dyn Fn(&Approver) -> bool + Sync),
        review: &ReviewResult,
    ) -> Result<Vec<FlowId>, Failure> {
        let reason = review.message.as_deref().unwrap_or_default();
        let origin = Origin { door: Door::SignReview, ip: None, user_agent: Some("qianshu sign review".into()) };
        for _ in 0..ATTEMPTS {
            let now = self.store.now();
            let (_, contracts) = self.contracts(app, scope).await?.ok_or_else(no_contracts)?;
            let refusals = plan_reject(&contracts, is_signer, now)?;
            let targets: Vec<ReviewTarget> = refusals
                .iter()
                .map(|(flow_id, sign_id)| ReviewTarget {
                    flow_id: flow_id.clone(),
                    recipient_id: contracts
                        .iter()
                        .find(|c| &c.flow.flow_id == flow_id)
                        .and_then(|c| c.flow.approvers.iter().find(|a| &a.sign_id == sign_id))
                        .map(|a| a.recipient_id.clone()),
                })
                .collect();
            match self.store.record_review_rejection(&refusals, (&targets, review), reason, &origin, now).await? {
                Recorded::Done => return Ok(refusals.into_iter().map(|(flow, _)| flow).collect()),
                Recorded::Changed | Recorded::CodeUnusable => {}
            }
        }
        Err(contended())
    }

    /// The code's digest when it is the valid one; a wrong one is counted against the link.
    pub(crate) async fn checked_code(&self, proof: &Proof<'_>) -> Result<Option<(String, String)>, Failure> {
        let Proof::Code { token_sha256, code } = proof else { return Ok(None) };
        let digest = code_digest(token_sha256, code);
        match self.store.check_code(token_sha256, &digest, self.store.now()).await? {
            CodeCheck::Valid => Ok(Some(((*token_sha256).to_owned(), digest))),
            CodeCheck::Wrong { left } => Err(ApiError::new(
                Code::FailedOperation_AuthFail,
                format!("The one-time code (Code) is wrong; {left} more tries before the link locks."),
            )
            .into()),
            CodeCheck::Missing => Err(no_code().into()),
            CodeCheck::Locked { until } => Err(locked(until - self.store.now()).into()),
        }
    }

    /// The latest revision of each of `ids`, making the documents not made yet: what signing
    /// draws on and what the page shows.
    pub async fn latest_revisions(
        &self,
        app: &ExternalId,
        ids: &[FlowId],
    ) -> Result<HashMap<FlowId, Revision>, Failure> {
        for (id, made) in ids.iter().zip(self.synthesis.ensure(app, ids).await?) {
            if let Err(why) = made {
                return Err(anyhow!("the document of flow {} is not available: {why}", id.as_str()).into());
            }
        }
        self.store.latest_revisions(app, ids).await
    }

    /// An organisation's automatic signature is made with its own certificate; everyone
    /// else's with a certificate issued for the signing event (O their organisation's name).
    async fn signing_key(&self, app: &ExternalId, me: &Approver) -> Result<SigningKey, Failure> {
        if me.signer == SignerKind::AutoSign {
            let open_id = me.organization_open_id.as_deref().unwrap_or_default();
            let name = signer_name(me);
            let credential = self.pki.organization_credential(app.as_str(), open_id, name).await?;
            return Ok(SigningKey::Organization(credential));
        }
        Ok(SigningKey::Event { name: signer_name(me).to_owned(), organization: me.organization_name.clone() })
    }

    /// What the signer's signing components in `contract` show: their signature, drawn or
    /// typed, where they have a SIGN_SIGNATURE, and their organisation's seal (its first seal
    /// image, or the one drawn from its name) where they have a SIGN_SEAL.
    async fn appearances(
        &self,
        app: &ExternalId,
        contract: &Contract,
        me: &Approver,
        request: &Request,
        drawn: Option<&Arc<ImageXObject>>,
    ) -> Result<Vec<SignatureAppearance>, Failure> {
        let has = |kind: ComponentType| contract.components_of(me).any(|c| c.component_type == kind);
        let mut appearances = Vec::new();
        if has(ComponentType::SignSignature) {
            appearances.push(match (&request.signature, drawn) {
                (_, Some(image)) => SignatureAppearance::Drawn(image.clone()),
                (Some(SignatureInput::Typed(name)), _) if !name.trim().is_empty() => {
                    SignatureAppearance::Typed(name.trim().to_owned())
                }
                _ => {
                    return Err(ApiError::new(
                        Code::OperationDenied_PersonHasNoSignature,
                        format!(
                            "Contract `{}` needs the signer's signature: give SignatureText (the name typed) or draw it.",
                            contract.flow.name
                        ),
                    )
                    .into());
                }
            });
        }
        if has(ComponentType::SignSeal) {
            let organization = match me.organization_open_id.as_deref() {
                Some(open_id) => self.store.organization(app, &ExternalId::from_stored(open_id.to_owned())).await?,
                None => None,
            };
            let image = organization.as_ref().and_then(|o| o.seals.first()).map(|s| s.image_sha256.clone());
            appearances.push(match image {
                Some(sha256) => SignatureAppearance::Seal(self.synthesis.image(&sha256).await??),
                None => SignatureAppearance::GeneratedSeal(
                    organization
                        .map(|o| o.name.as_str().to_owned())
                        .or_else(|| me.organization_name.clone())
                        .unwrap_or_default(),
                ),
            });
        }
        Ok(appearances)
    }

    /// Tells this node's auto-signer to look for signers due.
    pub fn wake_auto_sign(&self) {
        self.auto_sign.notify_one();
    }

    /// Signs for every `ENTERPRISESERVER` approver the moment they are due: woken by every
    /// signing and group created on this node, and looking every second for what other nodes
    /// (or a restart) left. The database is the queue, so nothing is lost and, with guarded
    /// transitions, nothing is signed twice when nodes race.
    pub fn start_auto_sign(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let signing = self.clone();
        tokio::spawn(async move {
            loop {
                let _ = tokio::time::timeout(AUTO_SIGN_SWEEP, signing.auto_sign.notified()).await;
                if let Err(e) = signing.auto_sign_due().await {
                    warn!("auto-sign: {e:#}");
                }
            }
        })
    }

    async fn auto_sign_due(&self) -> anyhow::Result<()> {
        let due = self.store.due_auto_signers(100).await.map_err(failure)?;
        let origin = Origin { door: Door::AutoSign, ip: None, user_agent: Some("qianshu auto-sign".into()) };
        let request = Request { fields: Vec::new(), signature: None, origin };
        for (app, flow_id, sign_id) in due {
            let scope = LinkTarget::Flow(flow_id.clone());
            let me: HashSet<SignId> = HashSet::from([sign_id]);
            match self.sign(&app, &scope, &|a: &Approver| me.contains(&a.sign_id), &request, Proof::Trusted).await {
                Ok(_) => info!(flow_id = flow_id.as_str(), "auto-signed"),
                // Another node signed it first, or the contract ended meanwhile.
                Err(Failure::Client(e)) => info!(flow_id = flow_id.as_str(), "not auto-signed: {}", e.message),
                Err(e) => warn!(flow_id = flow_id.as_str(), "auto-sign failed: {:#}", failure(e)),
            }
        }
        Ok(())
    }
}

/// The name a signature and its certificate carry: the person's, or, for an organisation's
/// automatic signature, the organisation's.
fn signer_name(me: &Approver) -> &str {
    let organization = || me.organization_name.as_deref();
    let name =
        if me.signer == SignerKind::AutoSign { organization() } else { me.name.as_deref().or_else(organization) };
    name.unwrap_or(me.recipient_id.as_str())
}

fn failure(e: Failure) -> anyhow::Error {
    match e {
        Failure::Client(e) => anyhow!("{}: {}", e.code.as_str(), e.message),
        Failure::Internal(e) => e,
    }
}

fn no_code() -> ApiError {
    ApiError::new(
        Code::FailedOperation_AuthFail,
        "No valid one-time code (Code): get a new one; a code lasts 5 minutes and is used once.",
    )
}

fn no_contracts() -> Failure {
    ApiError::new(Code::ResourceNotFound_Flow, "The contracts of this link no longer exist.").into()
}

fn contended() -> Failure {
    anyhow!("the contracts kept changing while being signed ({ATTEMPTS} attempts)").into()
}

pub fn locked(seconds: i64) -> ApiError {
    ApiError::new(
        Code::LimitExceeded_CallTimes,
        format!("Too many wrong one-time codes: the link is locked for {} more minutes.", (seconds + 59) / 60),
    )
}

/// A code is kept as a digest bound to its link, so the table gives away neither.
pub fn code_digest(token_sha256: &str, code: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(format!("{token_sha256}:{code}")))
}

/// The signature drawn on the page, decoded within the image limits off the runtime.
async fn drawn_signature(png: Bytes) -> Result<crate::pdf::image::ImageXObject, Failure> {
    crate::untrusted::parse(move || image_xobject(&png)).await.map_err(|e| {
        ApiError::new(
            Code::InvalidParameter_Image,
            format!("The drawn signature (SignatureImage) is not a PNG image: {e:#}"),
        )
        .into()
    })
}

/// The day in China (UTC+8), which SIGN_DATE shows.
pub fn china_date(unix: i64) -> time::Date {
    let at = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    (at + time::Duration::hours(8)).date()
}
