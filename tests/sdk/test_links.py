"""Sign links through the official SDK: ChannelCreateBatchQuickSignUrl, CreateSignUrls and
ChannelCreateFlowSignUrl, on both backends. What a link opens is read back from the database,
which must hold the token's SHA-256 and never the token."""

import base64
import hashlib
import json
import re
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
from tencentcloud.essbasic.v20210526 import models

from conftest import AGENT_A, AGENT_B, call, error_of
from test_documents import sql
from test_flow_groups import B_EMPLOYEE, EMPLOYEE, ENT, IND, NDA, PERSON, b_flow, create, detail, flow, group

TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
AGENT_9 = {**AGENT_A, "ProxyOrganizationOpenId": "kev_open_organization_9", "ProxyOperator": {"OpenId": "kev_9"}}
EMPLOYEE_KEY = "CHANNEL_EMPLOYEE/23:kev_open_organization_8/5:kev_8"
PERSON_KEY = "PERSON/6:张三/11:18888888888"
SAAS = {"OrganizationName": "腾讯电子签测试企业", "Name": "郑十一", "Mobile": "13600000000", "NotChannelOrganization": True,
        "ApproverType": "ORGANIZATION", "RecipientId": ENT}
AS_PERSON = {"ApproverType": "PERSON", "Name": "张三", "Mobile": "18888888888"}
SIGN_URL_INFO = ["SignUrl", "Deadline", "SignOrder", "SignId", "CustomUserId", "Name", "Mobile", "OrganizationName",
                 "ApproverType", "IdCardNumber", "FlowId", "OpenId", "FlowGroupId", "SignQrcodeUrl"]


def quick(server, who="A", **params):
    params.setdefault("Agent", AGENT_A if who == "A" else AGENT_B)
    return call(server.client(who), "ChannelCreateBatchQuickSignUrl", params)["FlowApproverUrlInfo"]


def quick_error(server, who="A", **params):
    params.setdefault("Agent", AGENT_A if who == "A" else AGENT_B)
    return error_of(server.client(who), "ChannelCreateBatchQuickSignUrl", params)


def sign_urls(server, **params):
    return call(server.client(), "CreateSignUrls", {"Agent": AGENT_A, **params})


def flow_sign_url(server, who="A", **params):
    params.setdefault("Agent", AGENT_A if who == "A" else AGENT_B)
    return call(server.client(who), "ChannelCreateFlowSignUrl", params)


def token_of(url):
    token = url.rsplit("/s/", 1)[1]
    assert TOKEN.match(token), url
    return token


def digest(token):
    return hashlib.sha256(base64.urlsafe_b64decode(token + "=")).hexdigest()


def stored(server, url):
    """The link's row: (group, flow, signer, preview, lifetime)."""
    rows = sql(server, "SELECT COALESCE(flow_group_id, ''), COALESCE(flow_id, ''), signer, preview, expires_at - created_at "
                       f"FROM sign_links WHERE token_sha256 = '{digest(token_of(url))}'")
    assert len(rows) == 1, rows
    group_id, flow_id, signer, preview, lifetime = rows[0]
    return group_id, flow_id, signer, int(preview), int(lifetime)


# ---- ChannelCreateBatchQuickSignUrl ----

@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_group_link_for_a_person(shared_server, method):
    r = create(shared_server, group())
    body = call(shared_server.client(method=method), "ChannelCreateBatchQuickSignUrl",
                {"Agent": AGENT_A, "FlowGroupId": r["FlowGroupId"], "FlowApproverInfo": AS_PERSON})
    assert list(body) == ["FlowApproverUrlInfo", "RequestId"]
    info = body["FlowApproverUrlInfo"]
    url = info["SignUrl"]
    assert re.match(rf"^http://{re.escape(shared_server.address)}/s/[A-Za-z0-9_-]{{43}}$", url), url
    assert info == {"SignUrl": url, "ApproverType": "PERSON", "Name": "张三", "Mobile": "18888888888", "LongUrl": url}
    assert stored(shared_server, url) == (r["FlowGroupId"], "", PERSON_KEY, 0, 1800)


def test_the_typed_sdk_model_reads_the_link(shared_server):
    r = create(shared_server, group())
    req = models.ChannelCreateBatchQuickSignUrlRequest()
    req.from_json_string(json.dumps({"Agent": AGENT_A, "FlowGroupId": r["FlowGroupId"], "FlowApproverInfo": AS_PERSON,
                                     "ExpiredOn": 7776000}, ensure_ascii=False))
    resp = shared_server.client().ChannelCreateBatchQuickSignUrl(req)
    assert (resp.FlowApproverUrlInfo.ApproverType, resp.FlowApproverUrlInfo.Name) == ("PERSON", "张三")
    assert stored(shared_server, resp.FlowApproverUrlInfo.SignUrl)[4] == 7776000


def test_every_way_of_naming_the_employee_finds_the_same_signer(shared_server):
    r = create(shared_server, group())
    sign_id = detail(shared_server, FlowGroupId=r["FlowGroupId"])["FlowInfo"][1]["FlowApproverInfos"][0]["SignId"]
    ways = [
        {"ApproverType": "ORGANIZATION", "OpenId": "kev_8", "OrganizationOpenId": "kev_open_organization_8"},
        {"ApproverType": "ORGANIZATION", "OpenId": "kev_8"},
        {"ApproverType": "ORGANIZATION", "Name": "王五", "Mobile": "13800000008"},
        {"ApproverType": "ORGANIZATION", "Name": "王五", "Mobile": "13800000008", "OrganizationName": "典子谦示例企业"},
        {"RecipientId": ENT},
        {"SignId": sign_id},
        dict(EMPLOYEE),
    ]
    urls = set()
    for way in ways:
        info = quick(shared_server, FlowGroupId=r["FlowGroupId"], FlowApproverInfo=way)
        assert (info["ApproverType"], info["Name"], info["Mobile"]) == ("ORGANIZATION", "王五", "13800000008"), way
        assert stored(shared_server, info["SignUrl"]) == (r["FlowGroupId"], "", EMPLOYEE_KEY, 0, 1800), way
        urls.add(info["SignUrl"])
    assert len(urls) == len(ways)


def test_a_person_is_named_by_recipient_or_sign_id_too(shared_server):
    r = create(shared_server, group())
    sign_id = detail(shared_server, FlowGroupId=r["FlowGroupId"])["FlowInfo"][0]["FlowApproverInfos"][1]["SignId"]
    for way in ({"RecipientId": IND}, {"SignId": sign_id}, {"Name": "张三", "Mobile": "18888888888"}):
        info = quick(shared_server, FlowGroupId=r["FlowGroupId"], FlowApproverInfo=way)
        assert stored(shared_server, info["SignUrl"])[2] == PERSON_KEY, way


def test_an_employee_of_another_sub_organization_and_a_saas_employee(shared_server):
    other = {"OrganizationOpenId": "kev_open_organization_9", "OpenId": "kev_9", "ApproverType": "ORGANIZATION", "RecipientId": ENT}
    r = create(shared_server, group(flow(approvers=[other, PERSON]), flow(NDA, approvers=[SAAS, PERSON])))
    info = quick(shared_server, FlowGroupId=r["FlowGroupId"], FlowApproverInfo={
        "ApproverType": "ORGANIZATION", "OpenId": "kev_9", "OrganizationOpenId": "kev_open_organization_9"})
    assert (info["Name"], stored(shared_server, info["SignUrl"])[2]) == \
        ("赵六", "CHANNEL_EMPLOYEE/23:kev_open_organization_9/5:kev_9")
    # Without OrganizationOpenId an OpenId is one of the Agent's own organization.
    code, msg = quick_error(shared_server, FlowGroupId=r["FlowGroupId"],
                            FlowApproverInfo={"ApproverType": "ORGANIZATION", "OpenId": "kev_9"})
    assert code == "ResourceNotFound.FlowApprover" and "FlowApproverInfo.OrganizationOpenId kev_open_organization_8" in msg
    saas = {k: SAAS[k] for k in ("OrganizationName", "Name", "Mobile", "NotChannelOrganization", "ApproverType")}
    info = quick(shared_server, FlowGroupId=r["FlowGroupId"], FlowApproverInfo=saas)
    assert info == {**info, "ApproverType": "ORGANIZATION", "Name": "郑十一", "Mobile": "13600000000"}
    assert stored(shared_server, info["SignUrl"])[2] == "SAAS_EMPLOYEE/27:腾讯电子签测试企业/9:郑十一/11:13600000000"
    unnamed = {k: v for k, v in saas.items() if k != "OrganizationName"}
    code, msg = quick_error(shared_server, FlowGroupId=r["FlowGroupId"], FlowApproverInfo=unnamed)
    assert (code, msg) == ("MissingParameter", "The parameter `FlowApproverInfo.OrganizationName` is required.")


def test_a_signer_not_in_the_group_gets_no_link(shared_server):
    r = create(shared_server, group())
    code, msg = quick_error(shared_server, FlowGroupId=r["FlowGroupId"],
                            FlowApproverInfo={"ApproverType": "PERSON", "Name": "李四", "Mobile": "18888888888"})
    assert code == "ResourceNotFound.FlowApprover"
    assert msg == "`FlowApproverInfo`: no signer of these contracts is FlowApproverInfo.ApproverType PERSON, " \
                  "FlowApproverInfo.Name 李四, FlowApproverInfo.Mobile 18888888888."
    # The employee is an ORGANIZATION signer, not a PERSON one.
    code, _ = quick_error(shared_server, FlowGroupId=r["FlowGroupId"],
                          FlowApproverInfo={"ApproverType": "PERSON", "Name": "王五", "Mobile": "13800000008"})
    assert code == "ResourceNotFound.FlowApprover"
    assert sql(shared_server, f"SELECT COUNT(*) FROM sign_links WHERE flow_group_id = '{r['FlowGroupId']}'") == [("0",)]


def test_bad_signer_descriptions_name_the_field(shared_server):
    r = create(shared_server, group())
    cases = [
        ({"ApproverType": "PERSON", "Name": "张三"}, "MissingParameter", "`FlowApproverInfo.Mobile`"),
        ({"ApproverType": "PERSON", "Name": "张三", "Mobile": "+8618888888888"}, "InvalidParameter.Mobile", "`FlowApproverInfo.Mobile`"),
        ({"ApproverType": "ORGANIZATION"}, "MissingParameter", "`FlowApproverInfo.OpenId`"),
        ({"ApproverType": "ENTERPRISESERVER"}, "InvalidParameter.ApproverType", "`FlowApproverInfo.ApproverType`"),
        ({"ApproverType": "PERSON_AUTO_SIGN", "RecipientId": IND}, "InvalidParameter.ApproverType", "`FlowApproverInfo.ApproverType`"),
        ({"SignId": "short"}, "InvalidParameter", "`FlowApproverInfo.SignId`"),
    ]
    for info, code, field in cases:
        got, msg = quick_error(shared_server, FlowGroupId=r["FlowGroupId"], FlowApproverInfo=info)
        assert (got, field in msg) == (code, True), (info, msg)
    assert quick_error(shared_server, FlowGroupId=r["FlowGroupId"]) == \
        ("MissingParameter", "The parameter `FlowApproverInfo` is required.")


def test_auto_signers_and_unfilled_dynamic_signers_get_no_link(shared_server):
    auto = {"ApproverType": "ENTERPRISESERVER", "RecipientId": ENT}
    dynamic = {"ApproverType": "PERSON", "RecipientId": IND, "ApproverOption": {"FillType": 1}}
    r = create(shared_server, group(flow(NDA, approvers=[auto, dynamic]), flow(NDA, approvers=[auto, dynamic])))
    for recipient, why in ((ENT, "auto-signer"), (IND, "dynamic signer")):
        code, msg = quick_error(shared_server, FlowGroupId=r["FlowGroupId"], FlowApproverInfo={"RecipientId": recipient})
        assert code == "OperationDenied" and why in msg, msg


def test_flow_ids_of_one_group_open_the_group(shared_server):
    r = create(shared_server, group())
    for ids in (r["FlowIds"], r["FlowIds"][1:], r["FlowIds"] + r["FlowIds"][:1]):
        info = quick(shared_server, FlowIds=ids, FlowApproverInfo=AS_PERSON)
        assert stored(shared_server, info["SignUrl"])[:3] == (r["FlowGroupId"], "", PERSON_KEY)
    other = create(shared_server, group())
    code, msg = quick_error(shared_server, FlowIds=[r["FlowIds"][0], other["FlowIds"][0]], FlowApproverInfo=AS_PERSON)
    assert code == "InvalidParameter.FlowIds" and "different groups" in msg


def test_flow_group_id_or_flow_ids_exactly_one(shared_server):
    r = create(shared_server, group())
    code, msg = quick_error(shared_server, FlowGroupId=r["FlowGroupId"], FlowIds=r["FlowIds"], FlowApproverInfo=AS_PERSON)
    assert code == "InvalidParameter" and "`FlowGroupId` or `FlowIds`" in msg
    assert quick_error(shared_server, FlowApproverInfo=AS_PERSON)[0] == "MissingParameter.FlowIdsOrFlowGroupId"
    missing = "A" * 32
    assert quick_error(shared_server, FlowIds=[r["FlowIds"][0], missing], FlowApproverInfo=AS_PERSON) == \
        ("ResourceNotFound.Flow", f"The contract `{missing}` (FlowIds) does not exist.")
    assert quick_error(shared_server, FlowGroupId=missing, FlowApproverInfo=AS_PERSON) == \
        ("ResourceNotFound.FlowGroup", f"The contract group `{missing}` (FlowGroupId) does not exist.")
    assert quick_error(shared_server, FlowIds=["x"], FlowApproverInfo=AS_PERSON)[0] == "InvalidParameter"
    code, _ = quick_error(shared_server, FlowIds=[missing] * 101, FlowApproverInfo=AS_PERSON)
    assert code == "InvalidParameter.FlowIds"


def test_another_applications_or_organizations_contracts_are_not_found(shared_server):
    a = create(shared_server, group())
    b = create(shared_server, group(b_flow([B_EMPLOYEE]), b_flow([B_EMPLOYEE]), agent=AGENT_B), who="B")
    b_signer = {"ApproverType": "ORGANIZATION", "OpenId": "b_op"}
    assert quick(shared_server, "B", FlowGroupId=b["FlowGroupId"], FlowApproverInfo=b_signer)["Name"] == "周八"
    assert quick_error(shared_server, FlowGroupId=b["FlowGroupId"], FlowApproverInfo=b_signer)[0] == "ResourceNotFound.FlowGroup"
    assert quick_error(shared_server, FlowIds=b["FlowIds"], FlowApproverInfo=b_signer)[0] == "ResourceNotFound.Flow"
    assert quick_error(shared_server, "B", FlowGroupId=a["FlowGroupId"], FlowApproverInfo=AS_PERSON)[0] == "ResourceNotFound.FlowGroup"
    # Only contracts the Agent's own organization created.
    assert quick_error(shared_server, Agent=AGENT_9, FlowGroupId=a["FlowGroupId"], FlowApproverInfo=AS_PERSON)[0] == \
        "ResourceNotFound.FlowGroup"
    code, _ = error_of(shared_server.client("B"), "CreateSignUrls", {"Agent": AGENT_B, "FlowGroupId": a["FlowGroupId"]})
    assert code == "ResourceNotFound.FlowGroup"
    code, _ = error_of(shared_server.client("B"), "ChannelCreateFlowSignUrl",
                       {"Agent": AGENT_B, "FlowId": a["FlowIds"][0], "FlowApproverInfos": [AS_PERSON]})
    assert code == "ResourceNotFound.Flow"
    # An Agent naming another application is refused before anything is looked up.
    code, _ = quick_error(shared_server, Agent={**AGENT_B}, FlowGroupId=a["FlowGroupId"], FlowApproverInfo=AS_PERSON)
    assert code == "ResourceNotFound.Application"


def test_expired_on_sets_the_lifetime_within_30_minutes_and_90_days(shared_server):
    r = create(shared_server, group())
    for seconds in (1800, 86400, 7776000):
        info = quick(shared_server, FlowGroupId=r["FlowGroupId"], FlowApproverInfo=AS_PERSON, ExpiredOn=seconds)
        assert stored(shared_server, info["SignUrl"])[4] == seconds
    for seconds in (1799, 7776001):
        code, msg = quick_error(shared_server, FlowGroupId=r["FlowGroupId"], FlowApproverInfo=AS_PERSON, ExpiredOn=seconds)
        assert code == "InvalidParameterValue" and f"`ExpiredOn` ({seconds})" in msg
    code, _ = error_of(shared_server.client(), "ChannelCreateFlowSignUrl",
                       {"Agent": AGENT_A, "FlowId": r["FlowIds"][0], "FlowApproverInfos": [AS_PERSON], "ExpiredOn": 60})
    assert code == "InvalidParameter"


# ---- ChannelCreateFlowSignUrl ----

def test_one_link_per_listed_signer_of_one_contract(shared_server):
    r = create(shared_server, group())
    body = flow_sign_url(shared_server, FlowId=r["FlowIds"][1], FlowApproverInfos=[
        {"ApproverType": "ORGANIZATION", "OrganizationOpenId": "kev_open_organization_8", "OpenId": "kev_8"},
        {"Name": "张三", "Mobile": "18888888888"},
    ])
    assert list(body) == ["FlowApproverUrlInfos", "RequestId"]
    employee, person = body["FlowApproverUrlInfos"]
    assert employee == {"SignUrl": employee["SignUrl"], "ApproverType": "ORGANIZATION", "Name": "王五", "Mobile": "13800000008",
                        "LongUrl": employee["SignUrl"]}
    assert (person["ApproverType"], person["Name"]) == ("PERSON", "张三")
    assert stored(shared_server, employee["SignUrl"]) == ("", r["FlowIds"][1], EMPLOYEE_KEY, 0, 1800)
    assert stored(shared_server, person["SignUrl"]) == ("", r["FlowIds"][1], PERSON_KEY, 0, 1800)


def test_url_type_1_makes_a_preview_link(shared_server):
    r = create(shared_server, group())
    info, = flow_sign_url(shared_server, FlowId=r["FlowIds"][0], UrlType=1, ExpiredOn=3600,
                          FlowApproverInfos=[AS_PERSON])["FlowApproverUrlInfos"]
    assert stored(shared_server, info["SignUrl"]) == ("", r["FlowIds"][0], PERSON_KEY, 1, 3600)
    info, = flow_sign_url(shared_server, FlowId=r["FlowIds"][0], UrlType=0, FlowApproverInfos=[AS_PERSON])["FlowApproverUrlInfos"]
    assert stored(shared_server, info["SignUrl"])[3] == 0
    code, msg = error_of(shared_server.client(), "ChannelCreateFlowSignUrl",
                         {"Agent": AGENT_A, "FlowId": r["FlowIds"][0], "FlowApproverInfos": [AS_PERSON], "UrlType": 2})
    assert code == "InvalidParameter" and "`UrlType`" in msg


def test_flow_sign_url_refusals(shared_server):
    r = create(shared_server, group())
    missing = "B" * 32

    def refused(**params):
        return error_of(shared_server.client(), "ChannelCreateFlowSignUrl", {"Agent": AGENT_A, **params})

    assert refused(FlowId=missing, FlowApproverInfos=[AS_PERSON]) == \
        ("ResourceNotFound.Flow", f"The contract `{missing}` (FlowId) does not exist.")
    code, msg = refused(FlowId=r["FlowIds"][0], UrlType=1)
    assert code == "MissingParameter" and "`FlowApproverInfos`" in msg
    code, msg = refused(FlowId=r["FlowIds"][0], FlowApproverInfos=[AS_PERSON, {**AS_PERSON, "Name": "李四"}])
    assert code == "ResourceNotFound.FlowApprover" and msg.startswith("`FlowApproverInfos.1`")
    assert sql(shared_server, f"SELECT COUNT(*) FROM sign_links WHERE flow_id = '{r['FlowIds'][0]}'") == [("0",)]
    assert refused(FlowApproverInfos=[AS_PERSON]) == ("MissingParameter", "The parameter `FlowId` is required.")


# ---- CreateSignUrls ----

def test_all_signers_of_a_group_one_link_each_on_all_their_rows(shared_server):
    r = create(shared_server, group())
    d = detail(shared_server, FlowGroupId=r["FlowGroupId"])["FlowInfo"]
    body = sign_urls(shared_server, FlowGroupId=r["FlowGroupId"])
    assert list(body) == ["SignUrlInfos", "ErrorMessages", "RequestId"]
    rows = body["SignUrlInfos"]
    assert body["ErrorMessages"] == ["", "", "", ""]
    assert all(list(row) == SIGN_URL_INFO for row in rows)
    assert [(row["FlowId"], row["SignOrder"], row["Name"]) for row in rows] == [
        (r["FlowIds"][0], 0, "王五"), (r["FlowIds"][0], 1, "张三"), (r["FlowIds"][1], 0, "王五"), (r["FlowIds"][1], 1, "张三")]
    employee = rows[0]
    assert employee == {**employee, "Deadline": d[0]["DeadLine"], "SignId": d[0]["FlowApproverInfos"][0]["SignId"],
                        "CustomUserId": "", "Mobile": "13800000008", "OrganizationName": "典子谦示例企业",
                        "ApproverType": "ORGANIZATION", "IdCardNumber": "", "OpenId": "kev_8",
                        "FlowGroupId": r["FlowGroupId"], "SignQrcodeUrl": ""}
    assert rows[1] == {**rows[1], "ApproverType": "PERSON", "Mobile": "18888888888", "OpenId": "", "OrganizationName": ""}
    assert rows[0]["SignUrl"] == rows[2]["SignUrl"] != rows[1]["SignUrl"] == rows[3]["SignUrl"]
    assert stored(shared_server, rows[0]["SignUrl"]) == (r["FlowGroupId"], "", EMPLOYEE_KEY, 0, 90 * 86400)
    assert stored(shared_server, rows[1]["SignUrl"]) == (r["FlowGroupId"], "", PERSON_KEY, 0, 90 * 86400)
    assert sql(shared_server, f"SELECT COUNT(*) FROM sign_links WHERE flow_group_id = '{r['FlowGroupId']}'") == [("2",)]


def test_generate_types_select_their_signers(shared_server):
    r = create(shared_server, group(flow(approvers=[EMPLOYEE, PERSON]), flow(NDA, approvers=[SAAS, PERSON])))
    g = r["FlowGroupId"]

    def selected(**params):
        return [(row["FlowId"], row["Name"]) for row in sign_urls(shared_server, FlowGroupId=g, **params)["SignUrlInfos"]]

    first, second = r["FlowIds"]
    assert selected(GenerateType="PERSON", Name="张三", Mobile="18888888888") == [(first, "张三"), (second, "张三")]
    body = sign_urls(shared_server, FlowGroupId=g, GenerateType="CHANNEL", OrganizationOpenId="kev_open_organization_8")
    assert [(row["FlowId"], row["Name"], row["SignUrl"] != "") for row in body["SignUrlInfos"]] == \
        [(first, "王五", True), (second, "", False)]
    assert body["ErrorMessages"] == ["", f"No signer of contract {second} is OrganizationOpenId kev_open_organization_8."]
    assert selected(GenerateType="CHANNEL", OrganizationOpenId="kev_open_organization_8", OpenId="kev_8")[0] == (first, "王五")
    assert selected(GenerateType="NOT_CHANNEL", OrganizationName="腾讯电子签测试企业")[1] == (second, "郑十一")
    assert selected(GenerateType="ALL", Endpoint="CHANNEL") == [(first, "王五"), (first, "张三"), (second, "郑十一"), (second, "张三")]


def test_flow_ids_get_one_link_per_signer_and_contract(shared_server):
    r = create(shared_server, group())
    body = sign_urls(shared_server, FlowIds=r["FlowIds"], GenerateType="PERSON", Name="张三", Mobile="18888888888")
    rows = body["SignUrlInfos"]
    assert [(row["FlowId"], row["FlowGroupId"]) for row in rows] == [(r["FlowIds"][0], ""), (r["FlowIds"][1], "")]
    assert rows[0]["SignUrl"] != rows[1]["SignUrl"]
    assert [stored(shared_server, row["SignUrl"]) for row in rows] == [
        ("", r["FlowIds"][0], PERSON_KEY, 0, 90 * 86400), ("", r["FlowIds"][1], PERSON_KEY, 0, 90 * 86400)]
    one = sign_urls(shared_server, FlowIds=r["FlowIds"][:1])["SignUrlInfos"]
    assert [row["Name"] for row in one] == ["王五", "张三"]


def test_create_sign_urls_refusals(shared_server):
    r = create(shared_server, group())

    def refused(**params):
        return error_of(shared_server.client(), "CreateSignUrls", {"Agent": AGENT_A, **params})

    assert refused(FlowIds=r["FlowIds"])[0] == "InvalidParameter.FlowIds"
    code, msg = refused(FlowGroupId=r["FlowGroupId"], GenerateType="FOLLOWER")
    assert code == "InvalidParameter.GenerateType" and "not supported" in msg and "`GenerateType`" in msg
    assert refused(FlowGroupId=r["FlowGroupId"], GenerateType="CHANNEL") == \
        ("MissingParameter", "The parameter `OrganizationOpenId` is required when `GenerateType` is CHANNEL.")
    assert refused(FlowGroupId=r["FlowGroupId"], GenerateType="PERSON", Name="张三")[0] == "MissingParameter"
    assert refused(FlowGroupId=r["FlowGroupId"], GenerateType="PERSON", Name="李四", Mobile="18888888888") == \
        ("ResourceNotFound.FlowApprover", "No signer of these contracts is Name 李四, Mobile 18888888888.")
    assert refused(FlowGroupId=r["FlowGroupId"], Endpoint="SMS")[0] == "InvalidParameter.EndPoint"
    assert refused(FlowGroupId=r["FlowGroupId"], GenerateType="PERSON", Name="张三", Mobile="18888888888",
                   Endpoint="CHANNEL")[0] == "InvalidParameter.EndPoint"
    assert refused()[0] == "MissingParameter.FlowIdsOrFlowGroupId"
    code, _ = refused(Agent={**AGENT_A, "ProxyOperator": {"OpenId": "kev_unverified"}}, FlowGroupId=r["FlowGroupId"])
    assert code == "OperationDenied.NoIdentityVerify"


def test_auto_signers_get_no_rows(shared_server):
    auto = {"ApproverType": "ENTERPRISESERVER", "RecipientId": ENT}
    r = create(shared_server, group(flow(NDA, approvers=[auto, PERSON]), flow(NDA)))
    rows = sign_urls(shared_server, FlowGroupId=r["FlowGroupId"])["SignUrlInfos"]
    assert [(row["FlowId"], row["Name"]) for row in rows] == [(r["FlowIds"][0], "张三"), (r["FlowIds"][1], "王五"), (r["FlowIds"][1], "张三")]


# ---- the token ----

def test_the_link_is_under_the_public_url(start):
    server = start("--public-url", "https://sign.example.com/qianshu/")
    r = create(server, group())
    info = quick(server, FlowGroupId=r["FlowGroupId"], FlowApproverInfo=AS_PERSON)
    assert re.match(r"^https://sign\.example\.com/qianshu/s/[A-Za-z0-9_-]{43}$", info["SignUrl"]), info["SignUrl"]


def dump(server):
    """Everything the database holds, as text and bytes: what a stolen backup would show."""
    if server.db.backend == "sqlite":
        path = Path(server.db.url.removeprefix("sqlite://"))
        with sqlite3.connect(path) as c:
            text = "\n".join(c.iterdump())
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        return text, raw
    u = urlparse(server.db.url)
    out = subprocess.run(["pg_dump", "-h", u.hostname, "-p", str(u.port or 5432), "-U", u.username or "postgres",
                          u.path.lstrip("/")], capture_output=True, text=True, timeout=60, check=True).stdout
    return out, out.encode()


def test_the_database_holds_only_the_tokens_digest(server):
    r = create(server, group())
    info = quick(server, FlowGroupId=r["FlowGroupId"], FlowApproverInfo=AS_PERSON)
    rows = sign_urls(server, FlowGroupId=r["FlowGroupId"])["SignUrlInfos"]
    tokens = {token_of(info["SignUrl"])} | {token_of(row["SignUrl"]) for row in rows}
    assert len(tokens) == 3
    text, raw = dump(server)
    for token in tokens:
        assert digest(token) in text
        assert token not in text and token.encode() not in raw
        assert base64.urlsafe_b64decode(token + "=") not in raw
