//! The HTTP edge through the real router, in process: error codes, check order, links, limits.

mod common;

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use common::http::{Edge, KEY_A, agent_a, now, post, signed, unsigned};

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
