//! The HTTP edge through the real router, in process: error codes, check order, links, limits.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use qianshu::config::ServeFlags;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

use common::http::{Edge, KEY_A, PUBLIC_URL, agent_a, now, post, signed, unsigned};

#[tokio::test]
async fn a_signed_call_is_answered_in_the_envelope() {
    let edge = Edge::start().await;
    let r = edge.ok("DescribeTemplates", json!({"Agent": agent_a(), "ContentType": 1})).await;
    assert_eq!(r["TotalCount"], 2);
}

#[tokio::test]
async fn each_refusal_before_the_action_has_its_code_and_names_what_is_wrong() {
    let edge = Edge::start().await;
    let body = b"{}";
    let sign = |action: &str| signed(action, "application/json", body, KEY_A, now());
    let cases: Vec<(Request<Body>, &str, &str)> = vec![
        (Request::put("/").body(Body::empty()).unwrap(), "UnsupportedProtocol", "PUT"),
        (Request::post("/").body(Body::empty()).unwrap(), "MissingParameter", "X-TC-Action"),
        (
            {
                let mut r = sign("DescribeTemplates").body(Body::from(&body[..])).unwrap();
                r.headers_mut().insert("X-TC-Version", "2020-01-01".parse().unwrap());
                r
            },
            "NoSuchVersion",
            "2020-01-01",
        ),
        (sign("DescribeNothing").body(Body::from(&body[..])).unwrap(), "InvalidAction", "DescribeNothing"),
        (
            unsigned("DescribeTemplates", "application/json", now()).body(Body::from(&body[..])).unwrap(),
            "AuthFailure.InvalidAuthorization",
            "Authorization",
        ),
        (
            signed("DescribeTemplates", "application/json", body, ("AKIDnobody", "k"), now())
                .body(Body::from(&body[..]))
                .unwrap(),
            "AuthFailure.SecretIdNotFound",
            "AKIDnobody",
        ),
        (
            signed("DescribeTemplates", "application/json", body, (KEY_A.0, "wrong"), now())
                .body(Body::from(&body[..]))
                .unwrap(),
            "AuthFailure.SignatureFailure",
            "signature",
        ),
        (
            signed("DescribeTemplates", "application/json", body, KEY_A, now() - 301)
                .body(Body::from(&body[..]))
                .unwrap(),
            "AuthFailure.SignatureExpire",
            "X-TC-Timestamp",
        ),
        (post("DescribeTemplates", &json!({"Agent": agent_a(), "Nope": 1})), "UnknownParameter", "Nope"),
        (post("DescribeTemplates", &json!({"Agent": agent_a(), "Limit": "many"})), "InvalidParameter", "`Limit`"),
        (post("CreateSealByImage", &json!({})), "UnsupportedOperation", "CreateSealByImage"),
        (Request::get("/v2/x").body(Body::empty()).unwrap(), "ResourceNotFound.URL", "/v2/x"),
    ];
    for (request, code, named) in cases {
        let (got, message) = edge.error(request).await;
        assert_eq!(got, code, "{message}");
        assert!(message.contains(named), "{code}: `{named}` not in {message:?}");
    }
}

#[tokio::test]
async fn an_extreme_timestamp_is_expired_not_a_crash() {
    let edge = Edge::start().await;
    for timestamp in [i64::MIN, i64::MAX, -1] {
        let request = signed("DescribeTemplates", "application/json", b"{}", KEY_A, timestamp).body(Body::from("{}"));
        let (code, message) = edge.error(request.unwrap()).await;
        assert_eq!(code, "AuthFailure.SignatureExpire", "{timestamp}: {message}");
        assert!(message.contains(&format!("X-TC-Timestamp {timestamp} ")), "{message}");
    }
}

#[tokio::test]
async fn a_post_must_be_application_json_with_or_without_parameters() {
    let edge = Edge::start().await;
    let body = serde_json::to_vec(&json!({"Agent": agent_a(), "ContentType": 1})).unwrap();
    for content_type in ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"] {
        let request = signed("DescribeTemplates", content_type, &body, KEY_A, now()).body(Body::from(body.clone()));
        let r = edge.api(request.unwrap()).await;
        assert_eq!(r["TotalCount"], 2, "{content_type}: {r}");
    }
    for content_type in
        ["application/jsonx", "application/json-patch+json", "text/json", "application/x-www-form-urlencoded", ""]
    {
        let request = signed("DescribeTemplates", content_type, &body, KEY_A, now()).body(Body::from(body.clone()));
        let (code, message) = edge.error(request.unwrap()).await;
        assert_eq!(code, "UnsupportedProtocol", "{content_type}: {message}");
        assert!(message.contains("application/json"), "{message}");
    }
}

/// A link handed out, followed through the router: the bytes, and the file name its
/// `Content-Disposition` (`filename*`) decodes to.
async fn follow(edge: &Edge, link: &str, inline: bool, content_type: &str) -> (Vec<u8>, String) {
    let path = link.strip_prefix(PUBLIC_URL).unwrap_or_else(|| panic!("{link} is not under {PUBLIC_URL}"));
    let answer = edge.send(Request::get(path).body(Body::empty()).unwrap()).await;
    assert_eq!(answer.status(), StatusCode::OK, "{link}");
    let headers = answer.headers();
    assert_eq!(headers[header::CONTENT_TYPE], content_type);
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let disposition = headers[header::CONTENT_DISPOSITION].to_str().unwrap().to_owned();
    let (kind, rest) = disposition.split_once("; filename=\"").unwrap();
    assert_eq!(kind, if inline { "inline" } else { "attachment" });
    let (fallback, encoded) = rest.split_once("\"; filename*=UTF-8''").unwrap();
    assert!(fallback.chars().all(|c| c == ' ' || c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%')), "{fallback}");
    let name = percent_encoding::percent_decode_str(encoded).decode_utf8().unwrap().into_owned();
    let bytes = axum::body::to_bytes(answer.into_body(), usize::MAX).await.unwrap().to_vec();
    (bytes, name)
}

const NAMES: [&str; 3] = ["Employment Contract v1", "合同 \"A+B\" 100%/v2", "it's a 'quote' & more;=,"];

#[tokio::test]
async fn template_links_work_for_names_with_spaces_and_symbols() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = std::fs::read_to_string(common::http::fixture("tenants.json")).unwrap();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let mut tenants = fixture.replace("../../examples", examples);
    for (old, new) in [("劳动合同", NAMES[0]), ("保密协议", NAMES[1]), ("乙应用模板", NAMES[2])] {
        tenants =
            tenants.replace(&format!("\"TemplateName\": \"{old}\""), &format!("\"TemplateName\": {}", json!(new)));
    }
    let file = dir.path().join("tenants.json");
    std::fs::write(&file, tenants).unwrap();
    let edge = Edge::with_tenants(&file, ServeFlags::default()).await;
    let r = edge
        .ok(
            "DescribeTemplates",
            json!({"Agent": agent_a(), "ContentType": 1, "WithPdfUrl": true, "WithPreviewUrl": true}),
        )
        .await;
    let templates = r["Templates"].as_array().unwrap();
    assert_eq!(templates.len(), 2);
    for t in templates {
        let name = t["TemplateName"].as_str().unwrap();
        // A slash cannot be part of a saved file's name; it is the one character changed.
        let saved = format!("{}.pdf", name.replace('/', "_"));
        for (key, inline) in [("PdfUrl", false), ("PreviewUrl", true)] {
            let (bytes, got) = follow(&edge, t[key].as_str().unwrap(), inline, "application/pdf").await;
            assert!(bytes.starts_with(b"%PDF-"), "{key} of {name}");
            assert_eq!(got, saved, "{key}");
        }
    }
}

fn png() -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, 2, 2);
    encoder.set_color(png::ColorType::Rgb);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&[200; 12]).unwrap();
    writer.finish().unwrap();
    out
}

#[tokio::test]
async fn uploaded_file_and_image_links_work_for_names_with_spaces_and_symbols() {
    use base64::Engine;
    let edge = Edge::start().await;
    let image = png();
    for name in ["my photo.png", "照片 \"a+b\" 100%/x.png", "it's 'q' & r;=,.png"] {
        let r = edge
            .ok(
                "UploadFiles",
                json!({"Agent": agent_a(), "BusinessType": "DOCUMENT", "FileInfos": [
                    {"FileName": name, "FileBody": base64::engine::general_purpose::STANDARD.encode(&image)}
                ]}),
            )
            .await;
        let (bytes, got) = follow(&edge, r["FileUrls"][0].as_str().unwrap(), false, "image/png").await;
        assert_eq!((bytes, got.as_str()), (image.clone(), name));

        let file_id = r["FileIds"][0].as_str().unwrap();
        let created = edge.ok("ChannelCreateFlowGroupByTemplates", group_with_photo(file_id)).await;
        let flow_id = created["FlowIds"][0].as_str().unwrap();
        let shown = edge.ok("ChannelDescribeFlowComponents", json!({"Agent": agent_a(), "FlowId": flow_id})).await;
        let photo = shown["RecipientComponentInfos"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["Components"].as_array().unwrap())
            .find(|c| c["ComponentId"] == "EmployeePhoto")
            .unwrap();
        let (bytes, got) = follow(&edge, photo["ImageUrl"].as_str().unwrap(), false, "image/png").await;
        assert_eq!((bytes, got), (image.clone(), name.replace('/', "_")));
    }
}

fn group_with_photo(file_id: &str) -> serde_json::Value {
    let deadline = now() + 86400;
    let employee = json!({"OrganizationName": "典子谦示例企业", "OrganizationOpenId": "kev_open_organization_8",
        "OpenId": "kev_8", "ApproverType": "ORGANIZATION", "RecipientId": "yDwgKUUckp1jdybwUWptGKyGVpNME9fH"});
    let person = json!({"Name": "张三", "Mobile": "18888888888", "ApproverType": "PERSON",
        "RecipientId": "yDwgKUUckp1jdybvUWptGKBD9TeupFMV"});
    json!({"Agent": agent_a(), "FlowGroupName": "照片链接", "FlowInfos": [
        {"FlowName": "入职合同", "TemplateId": "yDwgKUUckp1jdy4dUWptGKRavSGWt9cW", "Deadline": deadline,
         "FlowApprovers": [employee, person], "FormFields": [
            {"ComponentId": "CompanyName", "ComponentValue": "典子谦示例企业"},
            {"ComponentId": "EmployeeName", "ComponentValue": "张三"},
            {"ComponentId": "EmployeePhoto", "ComponentValue": file_id}]},
        {"FlowName": "保密协议", "TemplateId": "yDRS4UUgygqdcj51UuO4zjEyWTmzsIAR", "Deadline": deadline,
         "FlowApprovers": [employee, person], "FormFields": [
            {"ComponentId": "PartyA", "ComponentValue": "典子谦示例企业"},
            {"ComponentId": "PartyB", "ComponentValue": "张三"}]}
    ]})
}

// ---- test helpers (/_qianshu/…) ----

fn helpers_on() -> ServeFlags {
    ServeFlags { test_helpers: Some(true), ..Default::default() }
}

fn advance(body: &str) -> Request<Body> {
    Request::post("/_qianshu/clock").body(Body::from(body.to_owned())).unwrap()
}

/// A test helper's answer: its status, and its body, which must be JSON when it is not a 404.
async fn helper(edge: &Edge, request: Request<Body>) -> (StatusCode, String) {
    let answer = edge.send(request).await;
    let status = answer.status();
    if status != StatusCode::NOT_FOUND {
        assert_eq!(answer.headers()[header::CONTENT_TYPE], "application/json");
    }
    let body = axum::body::to_bytes(answer.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn without_the_flag_every_test_helper_path_is_a_bare_404_and_the_clock_stays() {
    let edge = Edge::start().await;
    edge.state.sms.send("13800138000", "code 123456", Some("123456")).await.unwrap();
    for request in [
        Request::get("/_qianshu/sms").body(Body::empty()).unwrap(),
        advance(r#"{"AdvanceSeconds": 3600}"#),
        Request::post("/_qianshu/sign").body(Body::empty()).unwrap(),
        Request::get("/_qianshu/anything/else").body(Body::empty()).unwrap(),
    ] {
        let path = request.uri().path().to_owned();
        assert_eq!(helper(&edge, request).await, (StatusCode::NOT_FOUND, "not found".to_owned()), "{path}");
    }
    assert!(edge.state.store.now() - now() <= 1);
}

#[tokio::test]
async fn with_the_flag_an_unknown_helper_is_a_bare_404() {
    let edge = Edge::with(helpers_on()).await;
    let request = Request::get("/_qianshu/nothing").body(Body::empty()).unwrap();
    assert_eq!(helper(&edge, request).await, (StatusCode::NOT_FOUND, "not found".to_owned()));
}

#[tokio::test]
async fn advancing_the_clock_expires_download_links_then_uploaded_files_but_not_signatures() {
    use base64::Engine;
    let edge = Edge::with(helpers_on()).await;
    let image = base64::engine::general_purpose::STANDARD.encode(png());
    let uploaded = edge
        .ok(
            "UploadFiles",
            json!({"Agent": agent_a(), "BusinessType": "DOCUMENT", "Deadline": now() + 600,
                   "FileInfos": [{"FileName": "photo.png", "FileBody": image}]}),
        )
        .await;
    let link = uploaded["FileUrls"][0].as_str().unwrap();
    let file_id = uploaded["FileIds"][0].as_str().unwrap();
    follow(&edge, link, false, "image/png").await;

    let (status, body) = helper(&edge, advance(r#"{"AdvanceSeconds": 301}"#)).await;
    assert_eq!(status, StatusCode::OK);
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer.as_object().unwrap().keys().collect::<Vec<_>>(), ["Now"]);
    let moved = answer["Now"].as_i64().unwrap();
    assert!((now() + 300..=now() + 301).contains(&moved), "{moved} vs {}", now());
    assert_eq!(edge.state.store.now(), moved);
    // Links live five minutes of business time.
    let path = link.strip_prefix(PUBLIC_URL).unwrap();
    let gone = edge.send(Request::get(path).body(Body::empty()).unwrap()).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    // The file itself lives until its Deadline, and requests signed with the wall clock still
    // pass TC3.
    edge.ok("ChannelCreateFlowGroupByTemplates", group_with_photo(file_id)).await;

    let (status, _) = helper(&edge, advance(r#"{"AdvanceSeconds": 300}"#)).await;
    assert_eq!(status, StatusCode::OK);
    let (code, message) = edge.error(post("ChannelCreateFlowGroupByTemplates", &group_with_photo(file_id))).await;
    assert_eq!(code, "InvalidParameter.ComponentValue");
    assert!(message.contains("FormFields.2.ComponentValue") && message.contains("not expired"), "{message}");
}

#[tokio::test]
async fn each_store_has_its_own_clock() {
    let (moved, other) = (Edge::with(helpers_on()).await, Edge::with(helpers_on()).await);
    let (status, _) = helper(&moved, advance(r#"{"AdvanceSeconds": 86400}"#)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(moved.state.store.now() - now() >= 86400);
    assert!(other.state.store.now() - now() <= 1);
}

#[tokio::test]
async fn advance_seconds_must_be_one_whole_non_negative_number_of_seconds() {
    let edge = Edge::with(helpers_on()).await;
    let refused = r#"{"Error":{"Code":"InvalidParameter","Message":"The body must be {\"AdvanceSeconds\": N}, N a whole number of seconds from 0 to 4294967295."}}"#;
    for body in [
        r#"{"AdvanceSeconds": -1}"#,
        r#"{"AdvanceSeconds": 1.5}"#,
        r#"{"AdvanceSeconds": "10"}"#,
        r#"{"AdvanceSeconds": 4294967296}"#,
        r#"{"AdvanceSeconds": 10, "Also": 1}"#,
        r#"{"advanceSeconds": 10}"#,
        r#"{}"#,
        r#"[10]"#,
        "10",
        "",
        "not json",
    ] {
        assert_eq!(helper(&edge, advance(body)).await, (StatusCode::BAD_REQUEST, refused.to_owned()), "{body}");
    }
    let (status, body) = helper(&edge, advance(r#"{"AdvanceSeconds": 0}"#)).await;
    assert_eq!(status, StatusCode::OK);
    let unmoved = serde_json::from_str::<serde_json::Value>(&body).unwrap()["Now"].as_i64().unwrap();
    assert!((now() - 1..=now()).contains(&unmoved), "{unmoved}");
}

#[tokio::test]
async fn the_sms_helper_lists_the_messages_sent_oldest_first() {
    let edge = Edge::with(helpers_on()).await;
    let list = || Request::get("/_qianshu/sms").body(Body::empty()).unwrap();
    assert_eq!(helper(&edge, list()).await, (StatusCode::OK, r#"{"Messages":[]}"#.to_owned()));
    edge.state.sms.send("13800138000", "您的签署验证码是 123456", Some("123456")).await.unwrap();
    let at = edge.state.store.now();
    edge.state.sms.send("13900139000", "合同已签署", None).await.unwrap();
    let (status, body) = helper(&edge, list()).await;
    assert_eq!(status, StatusCode::OK);
    let sent_at: Vec<i64> = serde_json::from_str::<serde_json::Value>(&body).unwrap()["Messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["SentAt"].as_i64().unwrap())
        .collect();
    assert!(sent_at.iter().all(|t| (at - 1..=at + 1).contains(t)), "{sent_at:?} vs {at}");
    assert_eq!(
        body,
        format!(
            r#"{{"Messages":[{{"Mobile":"13800138000","Text":"您的签署验证码是 123456","Code":"123456","SentAt":{}}},{{"Mobile":"13900139000","Text":"合同已签署","Code":null,"SentAt":{}}}]}}"#,
            sent_at[0], sent_at[1]
        )
    );
}

// ---- limits: nothing a caller sends or withholds holds the server ----

/// A body that sends `first` and then nothing, for ever.
fn stalled(first: &'static [u8]) -> Body {
    let chunk = futures::stream::iter([Ok::<_, std::io::Error>(axum::body::Bytes::from_static(first))]);
    Body::from_stream(futures::StreamExt::chain(chunk, futures::stream::pending()))
}

/// A request from application A whose body stalls after `first`.
fn stalled_call(first: &'static [u8]) -> Request<Body> {
    signed("DescribeTemplates", "application/json", first, KEY_A, now()).body(stalled(first)).unwrap()
}

/// A request from application A whose body stalls after `{`, and what tells that the server
/// has begun to read that body: by then it holds everything a request takes.
fn held_call() -> (Request<Body>, tokio::sync::oneshot::Receiver<()>) {
    let (reading, read) = tokio::sync::oneshot::channel();
    let first = futures::stream::once(async move {
        let _ = reading.send(());
        Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"{"))
    });
    let body = Body::from_stream(futures::StreamExt::chain(first, futures::stream::pending()));
    (signed("DescribeTemplates", "application/json", b"{", KEY_A, now()).body(body).unwrap(), read)
}

async fn within<T>(limit: Duration, f: impl Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let out = tokio::time::timeout(limit, f).await.expect("no answer in time");
    (out, start.elapsed())
}

#[tokio::test]
async fn a_caller_without_valid_credentials_is_refused_without_its_body_being_read() {
    let edge = Edge::start().await;
    let never = || stalled(b"{");
    let cases = [
        (unsigned("DescribeTemplates", "application/json", now()), "AuthFailure.InvalidAuthorization"),
        (
            unsigned("DescribeTemplates", "application/json", now()).header(header::AUTHORIZATION, "Bearer x"),
            "AuthFailure.InvalidAuthorization",
        ),
        (signed("DescribeTemplates", "application/json", b"{", KEY_A, now() - 400), "AuthFailure.SignatureExpire"),
        (
            signed("DescribeTemplates", "application/json", b"{", ("AKIDnobody", "k"), now()),
            "AuthFailure.SecretIdNotFound",
        ),
    ];
    for (request, code) in cases {
        let ((got, message), _) = within(Duration::from_secs(5), edge.error(request.body(never()).unwrap())).await;
        assert_eq!(got, code, "{message}");
    }
}

#[tokio::test]
async fn a_body_that_stalls_is_answered_after_the_body_timeout() {
    let edge = Edge::with(ServeFlags { body_timeout_ms: Some(300), ..Default::default() }).await;
    let ((code, message), took) = within(Duration::from_secs(5), edge.error(stalled_call(b"{\"Agent\""))).await;
    assert_eq!((code.as_str(), message.as_str()), ("InvalidRequest", "The request body did not arrive within 300 ms."));
    assert!(took >= Duration::from_millis(300), "{took:?}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_by_its_declared_length() {
    let edge = Edge::with(ServeFlags { max_body_bytes: Some(2048), ..Default::default() }).await;
    let body = vec![b' '; 2049];
    let request = signed("DescribeTemplates", "application/json", &body, KEY_A, now()).body(Body::from(body));
    let (code, message) = edge.error(request.unwrap()).await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("RequestSizeLimitExceeded", "The request body is larger than 2048 bytes.")
    );
}

/// How long a stalled request holds what it took (its body timeout). "At once" is judged by
/// the holder still holding when the refusal comes, not by a stopwatch: CI's two loaded cores
/// once took 308 ms to answer a refusal that waits for nothing.
const HELD_MS: u64 = 2000;

#[tokio::test]
async fn a_body_that_does_not_fit_in_the_room_left_is_refused_at_once() {
    let flags = ServeFlags {
        max_body_bytes: Some(2048),
        max_buffered_body_bytes: Some(2048),
        body_timeout_ms: Some(HELD_MS),
        ..Default::default()
    };
    let edge = Edge::with(flags).await;
    // Declaring no length, it takes room for the largest body: all there is.
    let (call, reading) = held_call();
    let holder = tokio::spawn(edge.router.clone().oneshot(call));
    reading.await.unwrap();
    let ((code, message), took) =
        within(Duration::from_secs(5), edge.error(post("DescribeTemplates", &json!({"Agent": agent_a()})))).await;
    assert!(!holder.is_finished(), "refused only once the room was free, after {took:?}");
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "RequestLimitExceeded",
            "The server holds as many request bodies as it takes at once (2048 bytes); retry later."
        )
    );
    let held = holder.await.unwrap().unwrap();
    let held: serde_json::Value =
        serde_json::from_slice(&axum::body::to_bytes(held.into_body(), usize::MAX).await.unwrap()).unwrap();
    assert_eq!(held["Response"]["Error"]["Code"], "InvalidRequest");
    edge.ok("DescribeTemplates", json!({"Agent": agent_a(), "ContentType": 1})).await;
}

#[tokio::test]
async fn requests_over_the_concurrency_bound_are_refused_at_once() {
    let flags = ServeFlags { max_concurrent_requests: Some(1), body_timeout_ms: Some(HELD_MS), ..Default::default() };
    let edge = Edge::with(flags).await;
    let (call, reading) = held_call();
    let holder = tokio::spawn(edge.router.clone().oneshot(call));
    reading.await.unwrap();
    let ((code, message), took) =
        within(Duration::from_secs(5), edge.error(post("DescribeTemplates", &json!({"Agent": agent_a()})))).await;
    assert!(!holder.is_finished(), "refused only once the slot was free, after {took:?}");
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("RequestLimitExceeded", "The server is handling 1 requests, as many as it takes at once; retry later.")
    );
    let link = edge.send(Request::get("/files/a/x?expires=1&signature=00").body(Body::empty()).unwrap()).await;
    assert_eq!(
        (link.status(), &link.headers()[header::RETRY_AFTER]),
        (StatusCode::SERVICE_UNAVAILABLE, &"1".parse().unwrap())
    );
    holder.await.unwrap().unwrap();
    edge.ok("DescribeTemplates", json!({"Agent": agent_a(), "ContentType": 1})).await;
}

#[tokio::test]
async fn a_request_still_unanswered_at_the_request_timeout_is_an_internal_error() {
    let flags = ServeFlags { request_timeout_ms: Some(200), ..Default::default() };
    let edge = Edge::with(flags).await;
    let ((code, _), took) = within(Duration::from_secs(5), edge.error(stalled_call(b"{"))).await;
    assert_eq!(code, "InternalError");
    assert!(took >= Duration::from_millis(200), "{took:?}");
}

// ---- over TCP: what hyper does with the connection ----

/// The edge on a loopback port, served as `qianshu serve` serves it.
async fn listening(edge: &Edge, header_timeout: Duration) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = edge.router.clone();
    tokio::spawn(qianshu::api::connections::serve(listener, router, header_timeout, std::future::pending()));
    address
}

/// Everything the server sends until it closes the connection.
async fn until_closed(stream: &mut tokio::net::TcpStream) -> String {
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_connection_that_does_not_finish_its_headers_or_idles_is_closed_after_the_header_timeout() {
    let edge = Edge::start().await;
    let address = listening(&edge, Duration::from_millis(300)).await;
    let mut slow = tokio::net::TcpStream::connect(address).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: qianshu.test\r\nX-TC-Action: Desc").await.unwrap();
    let mut idle = tokio::net::TcpStream::connect(address).await.unwrap();
    let start = Instant::now();
    for stream in [&mut slow, &mut idle] {
        let (answer, _) = within(Duration::from_secs(5), until_closed(stream)).await;
        assert!(start.elapsed() >= Duration::from_millis(300), "{:?}", start.elapsed());
        assert!(!answer.contains("200 OK"), "{answer}");
    }
}

#[tokio::test]
async fn an_unauthenticated_10_mb_body_is_refused_from_its_headers_and_the_connection_closed() {
    let edge = Edge::start().await;
    let address = listening(&edge, Duration::from_secs(30)).await;
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: qianshu.test\r\nContent-Type: application/json\r\nX-TC-Action: DescribeTemplates\r\n\
         X-TC-Version: {}\r\nX-TC-Timestamp: {}\r\nContent-Length: {}\r\n\r\n",
        qianshu::api::VERSION,
        now(),
        10 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[b' '; 64 * 1024]).await.unwrap();
    let (answer, _) = within(Duration::from_secs(5), until_closed(&mut stream)).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("\"Code\":\"AuthFailure.InvalidAuthorization\""), "{answer}");
}
