//! The signing page a signer opens by link: `GET /s/{token}` shows the group as a directory,
//! `POST /s/{token}/code` sends the one-time code, `POST /s/{token}/sign` signs or refuses, and
//! `GET /s/{token}/flows/{FlowId}.pdf` serves a contract's latest revision to the page's viewer.
//! Server-rendered; the form works without script, which only helps (`assets/sign.js`).

pub mod assets;
mod view;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use bytes::Bytes;
use rand::Rng;
use tracing::{error, info};

use crate::api::AppState;
use crate::approvers;
use crate::domain::evidence::{Door, mask_mobile};
use crate::domain::fill::Identity;
use crate::domain::id::FlowId;
use crate::domain::link::SignerKey;
use crate::domain::signing::FieldValue;
use crate::domain::template::ComponentType;
use crate::domain::tenancy::OrganizationName;
use crate::domain::{Mobile, PersonName};
use crate::error::{ApiError, Code, Failure, fail};
use crate::signing::{LinkProblem, Opened, Proof, Request, SignatureInput, code_digest};
use crate::store::signing::Origin;

/// A code lasts 5 minutes; a new one at most once a minute.
const CODE_TTL: i64 = 300;
const CODE_INTERVAL: i64 = 60;
/// A signing form: values and a drawn signature (a PNG data URL).
const FORM_LIMIT: usize = 4 << 20;
/// The longest reason for refusing.
const MAX_REASON: usize = 500;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/s/{token}", get(page))
        .route("/s/{token}/code", post(send_code))
        .route("/s/{token}/sign", post(submit))
        .route("/s/{token}/claim", post(claim))
        .route("/s/{token}/flows/{file}", get(contract_pdf))
}

/// Where a request that came through `door` came from, as evidence: the connection's peer,
/// unless the peer is one of the `trusted` proxies (`--trusted-proxies`); then the hop the
/// proxies were handed the request by, read from `X-Forwarded-For` right to left past the
/// trusted proxies. Anyone can write the header, so it is believed only from a proxy that
/// appends to it, and only as far back as the proxies go.
pub fn origin(door: Door, headers: &HeaderMap, peer: Option<SocketAddr>, trusted: &[IpAddr]) -> Origin {
    let peer = peer.map(|p| p.ip());
    let ip = match peer {
        Some(p) if trusted.contains(&p) => {
            let hops: Vec<&str> = headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .collect();
            let mut client = Some(p);
            for hop in hops.iter().rev() {
                match hop.trim().parse::<IpAddr>() {
                    Ok(ip) => {
                        client = Some(ip);
                        if !trusted.contains(&ip) {
                            break;
                        }
                    }
                    // Past a hop that is no address nothing can be believed: the last proxy's
                    // own peer is the client as far as is known.
                    Err(_) => break,
                }
            }
            client
        }
        other => other,
    };
    Origin {
        door,
        ip: ip.map(|ip| ip.to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(500).collect()),
    }
}

/// A preview link (`UrlType` 1) shows the contracts and signs nothing.
pub fn signable(opened: &Opened) -> Result<(), ApiError> {
    if opened.link.preview {
        return fail(
            Code::OperationDenied_NoFlowPermission,
            "This link is a preview (UrlType 1): it cannot sign or refuse.",
        );
    }
    Ok(())
}

/// A reason for refusing: required, at most [`MAX_REASON`] characters.
pub fn reason(value: &str, field: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return fail(Code::MissingParameter, format!("`{field}`: refusing needs a reason."));
    }
    if value.chars().count() > MAX_REASON {
        return fail(Code::InvalidParameter, format!("`{field}` is longer than {MAX_REASON} characters."));
    }
    Ok(value.to_owned())
}

fn peer(extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}

async fn page(State(state): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    match state.signing.open(&token).await {
        Ok(Ok(opened)) if unclaimed(&opened) => match nothing_to_claim(&opened, state.store.now()) {
            Some(why) => html(StatusCode::OK, view::invalid("无法确认签署人", why)),
            None => html(StatusCode::OK, view::claim(&opened, &token, &ask(&opened), None)),
        },
        Ok(Ok(opened)) => html(StatusCode::OK, view::page(&opened, &token, state.store.now(), None)),
        Ok(Err(problem)) => invalid(problem),
        Err(e) => internal(e),
    }
}

/// A link that opens nothing shows only that.
fn invalid(problem: LinkProblem) -> Response {
    match problem {
        LinkProblem::Unknown => {
            html(StatusCode::NOT_FOUND, view::invalid("链接无效", "这个签署链接不存在，请向发起方索取新的链接。"))
        }
        LinkProblem::Expired => {
            html(StatusCode::GONE, view::invalid("链接已过期", "这个签署链接已过期，请向发起方索取新的链接。"))
        }
    }
}

fn internal(e: Failure) -> Response {
    match e {
        Failure::Client(e) => html(StatusCode::BAD_REQUEST, view::invalid("无法打开", &e.message)),
        Failure::Internal(e) => {
            let id = uuid::Uuid::new_v4();
            error!(request_id = %id, "signing page: {e:#}");
            html(StatusCode::INTERNAL_SERVER_ERROR, view::invalid("服务暂时不可用", &format!("请稍后再试（{id}）。")))
        }
    }
}

fn html(status: StatusCode, markup: maud::Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    // Only qianshu's own script runs on a page that can sign contracts; PDF.js needs its worker
    // and draws fonts from data, the signature pad hints with a data image.
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    response
}

/// A RECIPIENT link whose holder has not said who they are yet.
fn unclaimed(opened: &Opened) -> bool {
    matches!(opened.link.signer, SignerKey::Recipient { .. })
}

/// Why a RECIPIENT link's holder can claim nothing now (a claim takes every place or none): a
/// place was filled by someone else, or its contract ended.
fn nothing_to_claim(opened: &Opened, now: i64) -> Option<&'static str> {
    let SignerKey::Recipient { places, .. } = &opened.link.signer else { return None };
    for (flow, recipient) in places {
        let contract = opened.contracts.iter().find(|c| c.flow.flow_id.as_str() == flow)?;
        let approver = contract.flow.approvers.iter().find(|a| &a.recipient_id == recipient)?;
        if !approver.signer.is_dynamic() {
            return Some("这个链接的签署人已由他人确认，请向发起方索取新的链接。");
        }
        if !contract.flow.status.is_live() || contract.flow.deadline < now {
            return Some("合同已结束签署。");
        }
    }
    None
}

/// What a RECIPIENT link's page asks: name and mobile, and the organisation's name when a
/// place is an enterprise's; preset values shown as they are.
fn ask(opened: &Opened) -> view::ClaimForm<'_> {
    let SignerKey::Recipient { places, preset } = &opened.link.signer else {
        return view::ClaimForm { name: None, mobile: None, organization: None };
    };
    let enterprise = places.iter().find_map(|(flow, recipient)| {
        opened
            .contracts
            .iter()
            .filter(|c| c.flow.flow_id.as_str() == flow)
            .flat_map(|c| &c.flow.approvers)
            .find(|a| &a.recipient_id == recipient && a.signer.is_enterprise())
    });
    view::ClaimForm {
        name: preset.name.as_deref(),
        mobile: preset.mobile.as_deref(),
        organization: enterprise.map(|a| preset.organization_name.as_deref().or(a.organization_name.as_deref())),
    }
}

/// A small form (the code request, the claim), read by hand like the signing form.
async fn small_form(request: axum::extract::Request) -> Option<Vec<(String, String)>> {
    let body = axum::body::to_bytes(request.into_body(), 16 << 10).await.ok()?;
    Some(serde_urlencoded::from_bytes(&body).unwrap_or_default())
}

fn form_value<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).unwrap_or("")
}

/// `POST /s/{token}/code`: a new one-time code to the signer's mobile, or, on a RECIPIENT link
/// not claimed yet, to the mobile its holder typed (`Mobile`), bound to that mobile.
async fn send_code(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    request: axum::extract::Request,
) -> Response {
    let answer = |ok: bool, message: &str, retry_after: i64| {
        let body = serde_json::json!({"Ok": ok, "Message": message, "RetryAfter": retry_after});
        ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
    };
    let Some(form) = small_form(request).await else { return StatusCode::PAYLOAD_TOO_LARGE.into_response() };
    let opened = match state.signing.open(&token).await {
        Ok(Ok(opened)) => opened,
        Ok(Err(problem)) => return (StatusCode::NOT_FOUND, problem.error().message).into_response(),
        Err(e) => return internal(e),
    };
    if signable(&opened).is_err() {
        return answer(false, "预览链接不能签署。", 0);
    }
    let (mobile, claiming) = if let SignerKey::Recipient { preset, .. } = &opened.link.signer {
        if let Some(why) = nothing_to_claim(&opened, state.store.now()) {
            return answer(false, why, 0);
        }
        let Ok(mobile) = Mobile::parse(form_value(&form, "Mobile"), "Mobile") else {
            return answer(false, "请输入正确的11位手机号。", 0);
        };
        if preset.mobile.as_deref().is_some_and(|m| m != mobile.as_str()) {
            return answer(false, "手机号与发起方指定的签署人不一致。", 0);
        }
        (mobile.as_str().to_owned(), true)
    } else {
        let is_signer = opened.is_signer();
        let Some(mobile) = opened.contracts.iter().find_map(|c| c.approver(&is_signer)).and_then(|a| a.mobile.clone())
        else {
            return answer(false, "签署人没有手机号，无法发送验证码。", 0);
        };
        (mobile, false)
    };
    let now = state.store.now();
    match state.store.code_lock(&opened.token_sha256, now).await {
        Ok(Some(until)) => return answer(false, &lock_message(until - now), until - now),
        Ok(None) => {}
        Err(e) => return internal(e),
    }
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000));
    // A claim's code proves the mobile it was sent to: the claim checks it with the mobile typed.
    let digest = if claiming {
        code_digest(&opened.token_sha256, &format!("{mobile}:{code}"))
    } else {
        code_digest(&opened.token_sha256, &code)
    };
    match state.store.issue_code(&opened.token_sha256, &digest, &mobile, now, CODE_TTL, CODE_INTERVAL).await {
        Ok(Ok(())) => {}
        Ok(Err(wait)) => return answer(false, &format!("验证码已发送，请 {wait} 秒后再获取。"), wait),
        Err(e) => return internal(e),
    }
    let text = format!("【签署】您的签署验证码为 {code}，5分钟内有效。请勿告诉他人。");
    match state.sms.send(&mobile, &text, Some(&code)).await {
        Ok(()) => answer(true, &format!("验证码已发送至 {}。", mask_mobile(&mobile)), CODE_INTERVAL),
        Err(e) => {
            error!("sending a one-time code: {e:#}");
            answer(false, "短信发送失败，请稍后再试。", 0)
        }
    }
}

fn lock_message(seconds: i64) -> String {
    format!("验证码错误次数过多，链接已锁定，请 {} 分钟后再试。", (seconds + 59) / 60)
}

/// `POST /s/{token}/sign`: 确认签署 or 确认拒签, then back to the page (303) to show the outcome.
async fn submit(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Response {
    let peer = peer(request.extensions());
    let body = match axum::body::to_bytes(request.into_body(), FORM_LIMIT).await {
        Ok(body) => body,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let get = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("");
    let opened = match state.signing.open(&token).await {
        Ok(Ok(opened)) => opened,
        Ok(Err(problem)) => return invalid(problem),
        Err(e) => return internal(e),
    };
    let origin = origin(Door::Page, &headers, peer, &state.trusted_proxies);
    let outcome = async {
        signable(&opened)?;
        let proof = Proof::Code { token_sha256: &opened.token_sha256, code: get("Code").trim() };
        let is_signer = opened.is_signer();
        let (app, target) = (&opened.link.app_id, &opened.link.target);
        if get("Action") == "reject" {
            let reason = reason(get("Reason"), "拒签理由")?;
            state.signing.reject(app, target, &is_signer, &reason, &origin, proof).await
        } else {
            let request = Request {
                fields: fields(&opened, &form, state.store.now()),
                signature: signature(&form)?,
                origin: origin.clone(),
            };
            state.signing.sign(app, target, &is_signer, &request, proof).await
        }
    };
    match outcome.await {
        Ok(ids) => {
            info!(flows = ids.len(), "signed or refused through the page");
            Redirect::to(&format!("/s/{token}")).into_response()
        }
        Err(Failure::Client(e)) => {
            let now = state.store.now();
            let lock = match e.code {
                Code::LimitExceeded_CallTimes => state.store.code_lock(&opened.token_sha256, now).await.ok().flatten(),
                _ => None,
            };
            let message = lock.map_or_else(|| view::chinese_error(&e), |until| lock_message(until - now));
            // Shown over the state as it is now (a signature another tab made, say).
            match state.signing.open(&token).await {
                Ok(Ok(now_opened)) => {
                    html(StatusCode::OK, view::page(&now_opened, &token, now, Some((&message, &form))))
                }
                Ok(Err(problem)) => invalid(problem),
                Err(e) => internal(e),
            }
        }
        Err(e) => internal(e),
    }
}

/// `POST /s/{token}/claim`: a RECIPIENT link's holder says who they are (`Name`, `Mobile`,
/// `OrganizationName` when asked) with the code sent to that mobile; then back to the page, now
/// theirs to sign.
async fn claim(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    request: axum::extract::Request,
) -> Response {
    let Some(form) = small_form(request).await else { return StatusCode::PAYLOAD_TOO_LARGE.into_response() };
    let opened = match state.signing.open(&token).await {
        Ok(Ok(opened)) => opened,
        Ok(Err(problem)) => return invalid(problem),
        Err(e) => return internal(e),
    };
    if !unclaimed(&opened) {
        return Redirect::to(&format!("/s/{token}")).into_response();
    }
    let asked = ask(&opened);
    let refused = match claimed_identity(&form, &asked) {
        Err(message) => message.to_owned(),
        Ok(identity) => {
            match approvers::claim(&state.signing, &state.store, &opened, identity, form_value(&form, "Code")).await {
                Ok(()) => {
                    info!("a RECIPIENT link was claimed");
                    return Redirect::to(&format!("/s/{token}")).into_response();
                }
                Err(Failure::Client(e)) => view::chinese_error(&e),
                Err(e) => return internal(e),
            }
        }
    };
    html(StatusCode::OK, view::claim(&opened, &token, &asked, Some((&refused, &form))))
}

/// Who the claim form says the holder is, or what to ask again.
fn claimed_identity(form: &[(String, String)], asked: &view::ClaimForm) -> Result<Identity, &'static str> {
    let name = PersonName::parse(Some(form_value(form, "Name")), "Name").map_err(|_| "请输入姓名（不超过50个字）。")?;
    let mobile = Mobile::parse(form_value(form, "Mobile"), "Mobile").map_err(|_| "请输入正确的11位手机号。")?;
    let organization_name = match asked.organization {
        Some(_) => Some(
            OrganizationName::parse(Some(form_value(form, "OrganizationName")), "OrganizationName")
                .map_err(|_| "请输入企业名称。")?,
        ),
        None => None,
    };
    Ok(Identity { name: Some(name), mobile: Some(mobile), organization_name, ..Identity::default() })
}

/// The form's values for the signer's fill components due now, by ComponentName. A date input
/// sends `YYYY-MM-DD`, written as the API writes dates; an unticked box sends nothing.
fn fields(opened: &Opened, form: &[(String, String)], now: i64) -> Vec<FieldValue> {
    let mut values = Vec::new();
    for c in view::fill_components(opened, now) {
        let sent = form.iter().find(|(k, _)| k.strip_prefix("field:") == Some(c.component_name.as_str()));
        let value = match (c.component_type, sent) {
            (ComponentType::CheckBox, sent) => if sent.is_some() { "true" } else { "false" }.to_owned(),
            (_, None) => continue,
            (ComponentType::Date, Some((_, v))) => iso_to_chinese_date(v).unwrap_or_else(|| v.clone()),
            (_, Some((_, v))) => v.clone(),
        };
        if value.is_empty() {
            continue;
        }
        values.push(FieldValue { component_name: c.component_name.clone(), value });
    }
    values
}

fn iso_to_chinese_date(value: &str) -> Option<String> {
    let mut parts = value.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    (y.len() == 4 && m.len() == 2 && d.len() == 2).then(|| format!("{y}年{m}月{d}日"))
}

/// The signature: drawn (a PNG data URL from the pad) or typed.
fn signature(form: &[(String, String)]) -> Result<Option<SignatureInput>, ApiError> {
    let get = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).unwrap_or("");
    let drawn = get("SignatureImage");
    if let Some(data) = drawn.strip_prefix("data:image/png;base64,") {
        let png = base64::engine::general_purpose::STANDARD.decode(data).map_err(|_| {
            ApiError::new(Code::InvalidParameter_Image, "The drawn signature (SignatureImage) is not base64.")
        })?;
        return Ok(Some(SignatureInput::Drawn(Bytes::from(png))));
    }
    if !drawn.is_empty() {
        return fail(Code::InvalidParameter_Image, "The drawn signature (SignatureImage) must be a PNG data URL.");
    }
    let typed = get("SignatureText");
    Ok((!typed.is_empty()).then(|| SignatureInput::Typed(typed.to_owned())))
}

/// `GET /s/{token}/flows/{FlowId}.pdf`: a contract of the link, as signed so far.
async fn contract_pdf(State(state): State<Arc<AppState>>, Path((token, file)): Path<(String, String)>) -> Response {
    let Some(flow_id) = file.strip_suffix(".pdf").and_then(|id| FlowId::parse(Some(id), "FlowId").ok()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let opened = match state.signing.open(&token).await {
        Ok(Ok(opened)) => opened,
        Ok(Err(_)) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return internal(e),
    };
    // The group is signed as a whole: its signer may read every contract of it.
    if !opened.contracts.iter().any(|c| c.flow.flow_id == flow_id) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let app = &opened.link.app_id;
    let latest = async {
        let revisions = state.signing.latest_revisions(app, std::slice::from_ref(&flow_id)).await?;
        let revision = revisions.get(&flow_id).ok_or_else(|| anyhow::anyhow!("no document for {flow_id}"))?;
        Ok::<_, Failure>(state.blobs.get(&revision.sha256).await?)
    };
    match latest.await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/pdf"),
                (header::CACHE_CONTROL, "no-store"),
                (header::CONTENT_DISPOSITION, "inline"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            Body::from(bytes),
        )
            .into_response(),
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(forwarded).unwrap());
        h.insert(header::USER_AGENT, HeaderValue::from_str(&"U".repeat(600)).unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let peer = Some("192.0.2.7:5000".parse().unwrap());
        let o = origin(Door::Page, &headers(" 2001:db8::1 , 10.0.0.1"), peer, &[]);
        assert_eq!((o.ip.as_deref(), o.user_agent.map(|u| u.len())), (Some("192.0.2.7"), Some(500)));
        assert_eq!(origin(Door::Page, &headers("2001:db8::1"), None, &[]).ip, None);
    }

    #[test]
    fn behind_trusted_proxies_the_client_is_the_last_hop_they_did_not_add() {
        let proxies: Vec<IpAddr> = vec!["192.0.2.7".parse().unwrap(), "10.0.0.1".parse().unwrap()];
        let peer = Some("192.0.2.7:5000".parse().unwrap());
        let ip = |forwarded: &str| origin(Door::Page, &headers(forwarded), peer, &proxies).ip;
        // A client that sends its own header cannot choose what is recorded.
        assert_eq!(ip("198.51.100.9, 2001:db8::1 , 10.0.0.1").as_deref(), Some("2001:db8::1"));
        assert_eq!(ip("10.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(ip("<script>, 10.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(ip("not an address").as_deref(), Some("192.0.2.7"));
    }

    #[test]
    fn dates_from_a_date_input_are_written_as_the_api_writes_them() {
        assert_eq!(iso_to_chinese_date("2026-12-02").as_deref(), Some("2026年12月02日"));
        assert_eq!(iso_to_chinese_date("2026-1-2"), None);
    }
}
