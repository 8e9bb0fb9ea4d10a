"""Dynamic signers supplied later: ChannelCreateFlowApprovers through the official SDK, and
CreateSignUrls' RECIPIENT links whose holder says on the page (plain HTTP, as a browser without
script would) who they are, then signs; on both backends."""

import json
import re

from conftest import AGENT_A, call, error_of
from test_flow_groups import EMPLOYEE, ENT, IND, NDA, create, detail, flow, group
from test_signing import (  # noqa: F401 (signer_server is a fixture)
    CONTACT, EMPLOYEE_LINK, advance, helper_sign, link, signer_server, statuses)
from test_signing_page import ALERT, WRONG, outbox, path_of, request

DYN_PERSON = {"ApproverType": "PERSON", "RecipientId": IND, "ApproverOption": {"FillType": 1}}
DYN_ORG = {"ApproverType": "ORGANIZATION", "RecipientId": ENT, "ApproverOption": {"FillType": 1}}
PERSON_LATER = {"Name": "张三", "Mobile": "18888888888", "ApproverType": "PERSON", "RecipientId": IND}
ZHAO = {"ApproverName": "钱八", "ApproverMobile": "13900000006"}
REPEAT = "个人信息已补充，请勿重复补充"


def fill(server, **params):
    return call(server.client(), "ChannelCreateFlowApprovers", {"Agent": AGENT_A, **params})


def fill_error(server, **params):
    return error_of(server.client(), "ChannelCreateFlowApprovers", {"Agent": AGENT_A, **params})


def dynamic_person_group(server):
    return create(server, group(flow(approvers=[EMPLOYEE, DYN_PERSON]), flow(NDA, approvers=[EMPLOYEE, DYN_PERSON])))


def approvers_of(server, group_id):
    return [f["FlowApproverInfos"] for f in detail(server, FlowGroupId=group_id)["FlowInfo"]]


def test_a_filled_person_is_an_ordinary_signer_and_cannot_be_filled_twice(signer_server):
    s = signer_server
    g = dynamic_person_group(s)
    gid, flows = g["FlowGroupId"], g["FlowIds"]
    code, msg = error_of(s.client(), "ChannelCreateBatchQuickSignUrl",
                         {"Agent": AGENT_A, "FlowGroupId": gid, "FlowApproverInfo": {"RecipientId": IND}})
    assert code == "OperationDenied" and "dynamic signer" in msg
    r = fill(s, FlowGroupId=gid, FillApproverType=1, Approvers=[{"FlowId": f, "RecipientId": IND, **ZHAO} for f in flows])
    assert list(r) == ["RequestId"], r
    for employee, person in approvers_of(s, gid):
        assert (person["ApproveName"], person["Mobile"], person["ApproveType"], person["ApproveStatus"]) == \
            ("钱八", "13900000006", "PERSON", "PENDING")
        assert person["RecipientId"] == IND and employee["ApproveName"] == "王五"
    # Every link action finds them now.
    person_url = link(s, gid, {"ApproverType": "PERSON", "Name": "钱八", "Mobile": "13900000006"})
    urls = call(s.client(), "CreateSignUrls", {"Agent": AGENT_A, "FlowGroupId": gid, "GenerateType": "PERSON",
                                               "Name": "钱八", "Mobile": "13900000006"})
    assert [u["FlowId"] for u in urls["SignUrlInfos"]] == flows and urls["ErrorMessages"] == ["", ""]
    one = call(s.client(), "ChannelCreateFlowSignUrl",
               {"Agent": AGENT_A, "FlowId": flows[1], "FlowApproverInfos": [{"RecipientId": IND}]})
    assert one["FlowApproverUrlInfos"][0]["Name"] == "钱八"
    assert helper_sign(s, link(s, gid, EMPLOYEE_LINK))[0] == 200
    status, body = helper_sign(s, person_url, SignatureText="钱八", FormFields=CONTACT)
    assert (status, body) == (200, {"FlowIds": flows}), body
    assert statuses(s, gid) == [("ALL", ["ACCEPT", "ACCEPT"])] * 2
    again = fill(s, FlowGroupId=gid, FillApproverType=1,
                 Approvers=[{"FlowId": f, "RecipientId": IND, "ApproverName": "孙九", "ApproverMobile": "13900000009"}
                            for f in flows])
    assert again["FillError"] == [{"RecipientId": IND, "ErrMessage": REPEAT, "FlowId": f} for f in flows]
    assert [p["ApproveName"] for _, p in approvers_of(s, gid)] == ["钱八", "钱八"]


def test_each_approver_that_cannot_be_filled_gets_its_fill_error(shared_server):
    s = shared_server
    g = create(s, group(flow(approvers=[DYN_ORG, DYN_PERSON]), flow(NDA, approvers=[EMPLOYEE, DYN_PERSON])))
    gid, (first, second) = g["FlowGroupId"], g["FlowIds"]
    other = create(s, group())["FlowIds"][0]
    r = fill(s, FlowGroupId=gid, Approvers=[
        {"FlowId": first, "RecipientId": ENT, **ZHAO},
        {"FlowId": first, "RecipientId": IND, **ZHAO, "OrganizationName": "某某有限公司"},
        {"FlowId": first, "RecipientId": IND, "ApproverName": "钱八"},
        {"FlowId": second, "RecipientId": ENT, **ZHAO, "OrganizationName": "某某有限公司"},
        {"FlowId": second, "RecipientId": "yDwgKUUckp1jdybwUWptGKnobodyXXX", **ZHAO},
        {"FlowId": other, "RecipientId": IND, **ZHAO},
        {"FlowId": second, "RecipientId": IND, **ZHAO},
        {"FlowId": second, "RecipientId": IND, "ApproverName": "孙九", "ApproverMobile": "13900000009"},
    ])
    assert r["FillError"] == [
        {"RecipientId": ENT, "FlowId": first, "ErrMessage":
            f"参与方 {ENT} 是企业签署方，需要企业名称或企业 OpenId（Approvers.0.OrganizationName、Approvers.0.OrganizationOpenId）"},
        {"RecipientId": IND, "FlowId": first, "ErrMessage": f"参与方 {IND} 是个人签署方，不能补充为企业签署人（Approvers.1）"},
        {"RecipientId": IND, "FlowId": first, "ErrMessage": "补充个人签署方需要手机号（Approvers.2.ApproverMobile）"},
        {"RecipientId": ENT, "FlowId": second, "ErrMessage": f"参与方 {ENT} 不是动态签署人，无需补充（Approvers.3.RecipientId）"},
        {"RecipientId": "yDwgKUUckp1jdybwUWptGKnobodyXXX", "FlowId": second,
         "ErrMessage": f"合同 {second} 中没有参与方 yDwgKUUckp1jdybwUWptGKnobodyXXX（Approvers.4.RecipientId）"},
        {"RecipientId": IND, "FlowId": other, "ErrMessage": f"合同 {other} 不存在或不属于该合同组（Approvers.5.FlowId）"},
        {"RecipientId": IND, "FlowId": second, "ErrMessage": REPEAT},
    ]
    # The one that could be filled was; nothing else changed.
    (org, person1), (_, person2) = approvers_of(s, gid)
    assert (person2["ApproveName"], person2["Mobile"]) == ("钱八", "13900000006")
    assert (person1["ApproveName"], org["ApproveName"], org["ProxyOrganizationName"]) == ("", "", "")


def test_an_enterprise_is_filled_by_open_id_or_by_name(shared_server):
    s = shared_server
    g = create(s, group(flow(approvers=[DYN_ORG, PERSON_LATER]), flow(NDA, approvers=[DYN_ORG, PERSON_LATER])))
    gid, (first, second) = g["FlowGroupId"], g["FlowIds"]
    assert "FillError" not in fill(s, FlowGroupId=gid, Approvers=[
        {"FlowId": first, "RecipientId": ENT, "OrganizationOpenId": "kev_open_organization_9", "OpenId": "kev_9"},
        {"FlowId": second, "RecipientId": ENT, "OrganizationName": "某某有限公司", **ZHAO},
    ])
    (a, _), (b, _) = approvers_of(s, gid)
    assert (a["ProxyOrganizationOpenId"], a["ProxyOperatorOpenId"], a["ProxyOrganizationName"], a["ApproveName"],
            a["Mobile"], a["ApproveType"]) == \
        ("kev_open_organization_9", "kev_9", "典子谦合作企业", "赵六", "13800000009", "ORGANIZATION")
    assert (b["ProxyOrganizationOpenId"], b["ProxyOrganizationName"], b["ApproveName"], b["ApproveType"]) == \
        ("", "某某有限公司", "钱八", "ORGANIZATION")
    # Each is an ordinary signer for the link actions.
    quick = call(s.client(), "ChannelCreateBatchQuickSignUrl", {
        "Agent": AGENT_A, "FlowGroupId": gid,
        "FlowApproverInfo": {"ApproverType": "ORGANIZATION", "OrganizationOpenId": "kev_open_organization_9", "OpenId": "kev_9"}})
    assert quick["FlowApproverUrlInfo"]["Name"] == "赵六"


def test_malformed_requests_are_refused_naming_the_field(shared_server):
    s = shared_server
    g = dynamic_person_group(s)
    gid, first = g["FlowGroupId"], g["FlowIds"][0]
    one = {"FlowId": first, "RecipientId": IND, **ZHAO}
    assert fill_error(s, FlowGroupId=gid, Approvers=[{**one, "ApproverMobile": "12345"}]) == (
        "InvalidParameter.Mobile",
        "The parameter `Approvers.0.ApproverMobile` must be an 11-digit mainland mobile number, not 5 digits.")
    assert fill_error(s, FlowGroupId=gid, Approvers=[one, {**one, "RecipientId": ""}]) == \
        ("MissingParameter", "The parameter `Approvers.1.RecipientId` is required.")
    assert fill_error(s, FlowGroupId=gid, Approvers=[{**one, "FlowId": None}])[0] == "MissingParameter"
    code, msg = fill_error(s, FlowGroupId=gid, FillApproverType=2, Approvers=[one])
    assert (code, "`FillApproverType`" in msg) == ("InvalidParameter", True)
    assert fill_error(s, FlowGroupId=gid)[0] == "MissingParameter"
    assert fill_error(s, FlowGroupId="A" * 32, Approvers=[one])[0] == "ResourceNotFound.FlowGroup"
    # The request's FlowId stands in for an approver's own (Tencent's first example).
    assert "FillError" not in fill(s, FlowId=first, Approvers=[{"RecipientId": IND, **ZHAO}])
    assert approvers_of(s, gid)[0][1]["ApproveName"] == "钱八"


# ---- RECIPIENT links ----

def recipient_link(server, gid, flows, **preset):
    r = call(server.client(), "CreateSignUrls", {
        "Agent": AGENT_A, "FlowGroupId": gid, "GenerateType": "RECIPIENT", **preset,
        "FlowGroupUrlInfo": {"FlowGroupApproverInfos": [{"FlowId": f, "RecipientId": IND} for f in flows]}})
    rows = r["SignUrlInfos"]
    assert [row["FlowId"] for row in rows] == flows and r["ErrorMessages"] == [""] * len(flows)
    assert len({row["SignUrl"] for row in rows}) == 1
    return rows


def code_for(server, url, mobile):
    status, headers, body = request(server, "POST", path_of(url) + "/code", {"Mobile": mobile})
    assert status == 200 and headers["Content-Type"] == "application/json", body
    return json.loads(body)


def claim(server, url, code, **form):
    return request(server, "POST", path_of(url) + "/claim", {"Name": "钱八", "Mobile": "13900000006", "Code": code, **form})


def test_a_recipient_link_holder_says_who_they_are_then_signs(signer_server):
    s = signer_server
    g = dynamic_person_group(s)
    gid, flows = g["FlowGroupId"], g["FlowIds"]
    rows = recipient_link(s, gid, flows)
    sign_ids = [p["SignId"] for _, p in approvers_of(s, gid)]
    assert [(r["SignId"], r["ApproverType"], r["SignOrder"], r["FlowGroupId"], r["Name"]) for r in rows] == \
        [(i, "PERSON", 1, gid, "") for i in sign_ids]
    url = rows[0]["SignUrl"]
    assert helper_sign(s, link(s, gid, EMPLOYEE_LINK))[0] == 200

    status, _, page = request(s, "GET", path_of(url))
    assert status == 200 and 'data-state="claim"' in page and 'name="Name"' in page and 'name="Mobile"' in page
    assert 'name="OrganizationName"' not in page and "确认身份" in page
    assert code_for(s, url, "1390000") == {"Ok": False, "Message": "请输入正确的11位手机号。", "RetryAfter": 0}
    # A code proves the mobile it was sent to, and no other.
    answer = code_for(s, url, "13700000007")
    assert answer == {"Ok": True, "Message": "验证码已发送至 137****0007。", "RetryAfter": 60}, answer
    sent = outbox(s)[-1]
    assert sent["Mobile"] == "13700000007" and re.fullmatch(r"\d{6}", sent["Code"])
    status, _, page = claim(s, url, sent["Code"])
    assert status == 200 and ALERT.findall(page) == [WRONG], page
    advance(s, 61)
    assert code_for(s, url, "13900000006")["Ok"] is True
    code = outbox(s)[-1]["Code"]
    assert outbox(s)[-1]["Mobile"] == "13900000006"
    status, headers, _ = claim(s, url, code)
    assert (status, headers["Location"]) == (303, path_of(url))
    for _, person in approvers_of(s, gid):
        assert (person["ApproveName"], person["Mobile"], person["ApproveType"]) == ("钱八", "13900000006", "PERSON")

    # The link is theirs now: the ordinary page, the code to their mobile, and signing.
    status, _, page = request(s, "GET", path_of(url))
    assert 'data-state="open"' in page and "签署人：钱八" in page
    # The claim's code does not hold back the signing's.
    status, _, body = request(s, "POST", path_of(url) + "/code")
    assert json.loads(body)["Message"] == "验证码已发送至 139****0006。"
    code = outbox(s)[-1]["Code"]
    status, headers, _ = request(s, "POST", path_of(url) + "/sign",
                                 {"Action": "sign", "Code": code, "SignatureText": "钱八", "field:紧急联系人": "李四"})
    assert status == 303, _
    assert statuses(s, gid) == [("ALL", ["ACCEPT", "ACCEPT"])] * 2
    # A filled approver gets no more RECIPIENT links; the claim endpoint just shows the page.
    code, msg = error_of(s.client(), "CreateSignUrls", {
        "Agent": AGENT_A, "FlowGroupId": gid, "GenerateType": "RECIPIENT",
        "FlowGroupUrlInfo": {"FlowGroupApproverInfos": [{"FlowId": flows[0], "RecipientId": IND}]}})
    assert code == "OperationDenied" and "not a dynamic signer waiting to be filled" in msg
    assert claim(s, url, "000000")[0] == 303


def test_a_preset_mobile_binds_the_claim_and_two_links_race_for_one_place(signer_server):
    s = signer_server
    g = dynamic_person_group(s)
    gid, flows = g["FlowGroupId"], g["FlowIds"]
    preset = recipient_link(s, gid, flows, Mobile="13900000006")[0]
    assert preset["Mobile"] == "13900000006"
    url = preset["SignUrl"]
    assert code_for(s, url, "13700000007") == \
        {"Ok": False, "Message": "手机号与发起方指定的签署人不一致。", "RetryAfter": 0}
    status, _, page = request(s, "GET", path_of(url))
    assert 'value="13900000006" readonly' in page
    # Another link to the same places, claimed first, leaves this one nothing to claim.
    other = recipient_link(s, gid, flows)[0]["SignUrl"]
    assert code_for(s, other, "13800000001")["Ok"] is True
    first = outbox(s)[-1]["Code"]
    assert code_for(s, url, "13900000006")["Ok"] is True
    second = outbox(s)[-1]["Code"]
    assert claim(s, other, first, Name="吴十", Mobile="13800000001")[0] == 303
    status, _, page = claim(s, url, second)
    assert status == 200 and ALERT.findall(page) == [REPEAT], page
    # The page says so before anyone types anything, and sends no code.
    taken = "这个链接的签署人已由他人确认，请向发起方索取新的链接。"
    status, _, page = request(s, "GET", path_of(url))
    assert status == 200 and 'data-state="invalid"' in page and taken in page
    advance(s, 61)
    assert code_for(s, url, "13900000006") == {"Ok": False, "Message": taken, "RetryAfter": 0}
    assert [p["ApproveName"] for _, p in approvers_of(s, gid)] == ["吴十", "吴十"]


def test_recipient_links_need_their_places(shared_server):
    s = shared_server
    g = create(s, group(flow(approvers=[DYN_ORG, PERSON_LATER]), flow(NDA, approvers=[DYN_ORG, PERSON_LATER])))
    gid, flows = g["FlowGroupId"], g["FlowIds"]

    def refused(**params):
        return error_of(s.client(), "CreateSignUrls", {"Agent": AGENT_A, "GenerateType": "RECIPIENT", **params})

    assert refused(FlowGroupId=gid)[0] == "MissingParameter"
    assert refused(FlowGroupId=gid, FlowGroupUrlInfo={"FlowGroupApproverInfos": [{"FlowId": flows[0]}]}) == \
        ("MissingParameter", "The parameter `FlowGroupUrlInfo.FlowGroupApproverInfos.0.RecipientId` is required.")
    code, msg = refused(FlowGroupId=gid, FlowGroupUrlInfo={"FlowGroupApproverInfos": [{"FlowId": flows[0], "RecipientId": IND}]})
    assert code == "OperationDenied" and "`FlowGroupUrlInfo.FlowGroupApproverInfos.0.RecipientId`" in msg
    assert refused(FlowIds=flows, RecipientIds=[ENT])[0] == "InvalidParameter"
    # An enterprise's place asks for the organisation's name too.
    r = call(s.client(), "CreateSignUrls", {"Agent": AGENT_A, "GenerateType": "RECIPIENT", "FlowIds": flows,
                                            "RecipientIds": [ENT, ENT]})
    assert [row["ApproverType"] for row in r["SignUrlInfos"]] == ["ORGANIZATION"] * 2
    status, _, page = request(s, "GET", path_of(r["SignUrlInfos"][0]["SignUrl"]))
    assert status == 200 and 'name="OrganizationName"' in page


def test_nothing_is_filled_past_the_deadline(signer_server):
    s = signer_server
    g = dynamic_person_group(s)
    gid, flows = g["FlowGroupId"], g["FlowIds"]
    url = recipient_link(s, gid, flows)[0]["SignUrl"]
    advance(s, 86400 + 1)
    r = fill(s, FlowGroupId=gid, Approvers=[{"FlowId": flows[0], "RecipientId": IND, **ZHAO}])
    assert r["FillError"] == [{"RecipientId": IND, "FlowId": flows[0],
                               "ErrMessage": f"合同 {flows[0]} 已结束（已过签署截止时间），不能补充签署人"}]
    status, _, page = request(s, "GET", path_of(url))
    assert status == 200 and "合同已结束签署。" in page and 'data-state="invalid"' in page
    assert code_for(s, url, "13900000006") == {"Ok": False, "Message": "合同已结束签署。", "RetryAfter": 0}
    assert [p["ApproveName"] for _, p in approvers_of(s, gid)] == ["", ""]


def test_an_enterprise_place_is_claimed_with_its_organization(signer_server):
    s = signer_server
    named = {**DYN_ORG, "OrganizationOpenId": "kev_open_organization_9"}
    g = create(s, group(flow(approvers=[named, PERSON_LATER]), flow(NDA, approvers=[named, PERSON_LATER])))
    gid, flows = g["FlowGroupId"], g["FlowIds"]
    r = call(s.client(), "CreateSignUrls", {"Agent": AGENT_A, "GenerateType": "RECIPIENT", "FlowIds": flows,
                                            "RecipientIds": [ENT, ENT]})
    assert [(row["ApproverType"], row["OrganizationName"]) for row in r["SignUrlInfos"]] == \
        [("ORGANIZATION", "典子谦合作企业")] * 2
    url = r["SignUrlInfos"][0]["SignUrl"]
    status, _, page = request(s, "GET", path_of(url))
    assert 'name="OrganizationName" autocomplete="organization" required value="典子谦合作企业" readonly' in page
    assert code_for(s, url, "13900000006")["Ok"] is True
    code = outbox(s)[-1]["Code"]
    status, _, page = claim(s, url, code, OrganizationName="别的企业")
    assert status == 200 and ALERT.findall(page) == \
        ["企业名称 别的企业 与企业 OpenId 对应的企业 典子谦合作企业 不一致（签署人.OrganizationName）"], page
    assert claim(s, url, code, OrganizationName="典子谦合作企业")[0] == 303
    for org, _ in approvers_of(s, gid):
        assert (org["ProxyOrganizationOpenId"], org["ProxyOrganizationName"], org["ApproveName"], org["Mobile"],
                org["ApproveType"]) == ("kev_open_organization_9", "典子谦合作企业", "钱八", "13900000006", "ORGANIZATION")
    status, body = helper_sign(s, url)
    assert (status, body) == (200, {"FlowIds": flows}), body
