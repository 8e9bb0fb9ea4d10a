"""The API 3.0 edge: signatures, envelopes, error codes, parameters, limits."""

import hashlib
import json
import re
import time
import urllib.request

import pytest
from tencentcloud.common.sign import Sign
from tencentcloud.essbasic.v20210526 import models

from conftest import AGENT_A, AGENT_B, APP_B, KEYS, call, error_of

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def raw(server, body=b"{}", action="DescribeTemplates", version="2021-05-26", ts=None, key=KEYS["A"],
        method="POST", content_type="application/json", authorization=None, path="/"):
    """A hand-signed request, for what the SDK will not send; returns (status, headers, json)."""
    ts = int(time.time()) if ts is None else ts
    date = time.strftime("%Y-%m-%d", time.gmtime(ts))
    host = server.address
    payload = body if method == "POST" else b""
    canonical = f"{method}\n/\n\ncontent-type:{content_type}\nhost:{host}\n\ncontent-type;host\n{hashlib.sha256(payload).hexdigest()}"
    to_sign = f"TC3-HMAC-SHA256\n{ts}\n{date}/essbasic/tc3_request\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    sig = Sign.sign_tc3(key[1], date, "essbasic", to_sign)
    auth = authorization if authorization is not None else (
        f"TC3-HMAC-SHA256 Credential={key[0]}/{date}/essbasic/tc3_request, SignedHeaders=content-type;host, Signature={sig}")
    headers = {"Content-Type": content_type, "Host": host, "X-TC-Action": action, "X-TC-Version": version,
               "X-TC-Timestamp": str(ts)}
    if auth:
        headers["Authorization"] = auth
    req = urllib.request.Request(f"http://{host}{path}", data=body if method != "GET" else None, headers=headers, method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.headers, json.loads(r.read())


def raw_error(server, **kw):
    status, headers, body = raw(server, **kw)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    resp = body["Response"]
    assert list(resp) == ["Error", "RequestId"], resp
    assert UUID.match(resp["RequestId"])
    assert list(resp["Error"]) == ["Code", "Message"]
    return resp["Error"]["Code"], resp["Error"]["Message"]


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_the_official_sdk_gets_typed_answers_by_post_and_get(server, method):
    client = server.client("A", method)
    req = models.DescribeTemplatesRequest()
    req.from_json_string(json.dumps({"Agent": AGENT_A, "TemplateId": "yDRS4UUgygqdcj51UuO4zjEyWTmzsIAR",
                                     "QueryAllComponents": True, "Limit": 5}))
    resp = client.DescribeTemplates(req)
    assert resp.TotalCount == 1
    assert (resp.Limit, resp.Offset) == (5, 0)
    t = resp.Templates[0]
    assert (t.TemplateId, t.TemplateName) == ("yDRS4UUgygqdcj51UuO4zjEyWTmzsIAR", "保密协议")
    assert [r.RoleName for r in t.Recipients] == ["甲方", "乙方"]
    assert UUID.match(resp.RequestId)


def test_every_answer_is_http_200_with_exact_content_type_and_request_id(server):
    status, headers, body = raw(server, body=json.dumps({"Agent": AGENT_A, "Limit": 1}).encode())
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert list(body) == ["Response"]
    assert list(body["Response"])[-1] == "RequestId"
    assert body["Response"]["TotalCount"] == 2


def test_an_unknown_secret_id_is_secret_id_not_found(server):
    code, msg = error_of(server.client(("AKIDnobody", "x" * 32)), "DescribeTemplates", {"Agent": AGENT_A})
    assert code == "AuthFailure.SecretIdNotFound"
    assert "AKIDnobody" in msg


def test_a_wrong_key_is_signature_failure(server):
    code, _ = error_of(server.client(("AKIDtestA", "wrong" * 7)), "DescribeTemplates", {"Agent": AGENT_A})
    assert code == "AuthFailure.SignatureFailure"


def test_a_tampered_body_is_signature_failure(server):
    ts = int(time.time())
    date = time.strftime("%Y-%m-%d", time.gmtime(ts))
    body = json.dumps({"Agent": AGENT_A}).encode()
    canonical = (f"POST\n/\n\ncontent-type:application/json\nhost:{server.address}\n\ncontent-type;host\n"
                 f"{hashlib.sha256(body).hexdigest()}")
    to_sign = f"TC3-HMAC-SHA256\n{ts}\n{date}/essbasic/tc3_request\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    sig = Sign.sign_tc3(KEYS["A"][1], date, "essbasic", to_sign)
    auth = f"TC3-HMAC-SHA256 Credential=AKIDtestA/{date}/essbasic/tc3_request, SignedHeaders=content-type;host, Signature={sig}"
    tampered = body.replace(b"kev_8", b"kev_9")
    assert raw_error(server, body=tampered, ts=ts, authorization=auth)[0] == "AuthFailure.SignatureFailure"


@pytest.mark.parametrize("skew", [-400, 400])
def test_a_timestamp_more_than_300_seconds_off_is_signature_expire(server, skew):
    code, _ = raw_error(server, ts=int(time.time()) + skew)
    assert code == "AuthFailure.SignatureExpire"


@pytest.mark.parametrize("auth", ["", "Bearer abc", "TC3-HMAC-SHA256 Credential=AKIDtestA/2026-01-01/essbasic/tc3_request"])
def test_a_missing_or_malformed_authorization_is_invalid_authorization(server, auth):
    assert raw_error(server, authorization=auth)[0] == "AuthFailure.InvalidAuthorization"


def test_another_version_is_no_such_version(server):
    code, msg = raw_error(server, version="2020-12-22")
    assert code == "NoSuchVersion"
    assert "2020-12-22" in msg


def test_an_unknown_action_is_invalid_action(server):
    code, msg = error_of(server.client(), "DescribeEverything", {})
    assert (code, "DescribeEverything" in msg) == ("InvalidAction", True)


def test_an_essbasic_action_not_yet_built_is_unsupported_operation_naming_it(server):
    code, msg = error_of(server.client(), "ChannelCreateFlowByFiles", {"Agent": AGENT_A})
    assert code == "UnsupportedOperation"
    assert "ChannelCreateFlowByFiles" in msg


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_an_unknown_parameter_is_named_by_its_path(server, method):
    code, msg = error_of(server.client("A", method), "DescribeTemplates",
                         {"Agent": {**AGENT_A, "ProxyOperator": {"OpenId": "kev_8", "Nickname": "x"}}})
    assert code == "UnknownParameter"
    assert "`Agent.ProxyOperator.Nickname`" in msg


def test_a_documented_field_qianshu_ignores_is_accepted(server):
    r = call(server.client(), "DescribeTemplates", {"Agent": AGENT_A, "UserFlowTypeId": "x", "ShowPreviewComponents": True})
    assert r["TotalCount"] == 2


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_wrongly_typed_value_is_invalid_parameter_naming_it(server, method):
    code, msg = error_of(server.client("A", method), "DescribeTemplates", {"Agent": AGENT_A, "Limit": "many"})
    assert code == "InvalidParameter"
    assert "`Limit`" in msg


def test_malformed_json_gets_a_clean_envelope_and_the_server_keeps_serving(server):
    code, msg = raw_error(server, body=b'{"Agent": {"AppId": ')
    assert code == "InvalidParameter"
    assert "JSON" in msg
    assert raw_error(server, body=b"[1, 2]")[0] == "InvalidParameter"
    assert call(server.client(), "DescribeTemplates", {"Agent": AGENT_A})["TotalCount"] == 2


def test_a_body_over_the_limit_is_request_size_limit_exceeded(start):
    server = start("--max-body-bytes", "2048")
    body = json.dumps({"Agent": AGENT_A, "TemplateName": "合" * 2000}).encode()
    code, msg = raw_error(server, body=body)
    assert code == "RequestSizeLimitExceeded"
    assert "2048" in msg
    assert call(server.client(), "DescribeTemplates", {"Agent": AGENT_A})["TotalCount"] == 2


def test_post_must_be_json(server):
    assert raw_error(server, content_type="application/x-www-form-urlencoded")[0] == "UnsupportedProtocol"


def test_other_methods_and_paths_get_envelopes_too(server):
    assert raw_error(server, method="PUT")[0] == "UnsupportedProtocol"
    assert raw_error(server, path="/v2/nothing")[0] == "ResourceNotFound.URL"


def test_another_applications_app_id_is_resource_not_found(server):
    code, msg = error_of(server.client("A"), "DescribeTemplates", {"Agent": AGENT_B})
    assert code == "ResourceNotFound.Application"
    assert APP_B in msg


def test_both_keys_of_an_application_work(server):
    assert call(server.client("A2"), "DescribeTemplates", {"Agent": AGENT_A})["TotalCount"] == 2


def timed_burst(client, calls):
    """`calls` DescribeTemplates calls of application A at once: their outcomes and how long
    they took. The burst must fit in one second to mean anything; on a machine too busy for that,
    the bucket refills and the burst is tried again."""

    def burst():
        codes = []
        start = time.time()
        for _ in range(calls):
            try:
                call(client, "DescribeTemplates", {"Agent": AGENT_A, "ContentType": 1})
                codes.append("ok")
            except Exception as e:  # noqa: BLE001 - the code is what we check
                codes.append(e.code)
        return codes, time.time() - start

    for attempt in range(3):
        if attempt:
            time.sleep(1.5)
        codes, elapsed = burst()
        if elapsed < 1.0:
            return codes, elapsed
    raise AssertionError(f"three bursts took {elapsed:.2f} s or more: the machine is too busy for this test")


def test_a_burst_of_45_calls_is_limited_for_that_account_only(server):
    client_a, client_b = server.client("A"), server.client("B")
    codes, elapsed = timed_burst(client_a, 45)
    assert set(codes) == {"ok", "RequestLimitExceeded"}
    # 20 at once, then one more every 50 ms.
    assert 20 <= codes.count("ok") <= 21 + int(20 * elapsed)
    assert call(client_b, "DescribeTemplates", {"Agent": AGENT_B})["TotalCount"] == 1
    assert call(client_a, "SyncProxyOrganization", {"Agent": AGENT_A, "ProxyOrganizationName": "典子谦示例企业"}) is not None


def test_per_action_limits_are_configurable(start):
    server = start("--rate-limits", "DescribeTemplates=3")
    codes, elapsed = timed_burst(server.client(), 6)
    # 3 at once, then one more every 333 ms.
    assert 3 <= codes.count("ok") <= 3 + int(3 * elapsed)
    assert codes[:3] == ["ok"] * 3
    assert set(codes[3:]) <= {"ok", "RequestLimitExceeded"} and "RequestLimitExceeded" in codes


def test_hostile_bodies_get_clean_envelopes_and_the_server_keeps_serving(server):
    deep = b'{"Agent":' * 5000 + b"1" + b"}" * 5000
    for body in [deep, b"\xff\xfe\x00garbage", b"", b'{"Agent": {"AppId": "\\ud800"}}', b"1e99999"]:
        code, _ = raw_error(server, body=body)
        assert code in ("InvalidParameter", "UnknownParameter"), (body[:20], code)
    assert call(server.client(), "DescribeTemplates", {"Agent": AGENT_A})["TotalCount"] == 2
