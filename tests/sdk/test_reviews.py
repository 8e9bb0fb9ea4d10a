"""Sign reviews (NeedSignReview, ApproverNeedSignReview, ChannelCreateFlowSignReview,
CreateFlowGroupSignReview) and reminders (ChannelCreateFlowReminds), through the official SDK and
the test helpers."""

import re
import urllib.parse

import pytest

from conftest import AGENT_A, call, error_of
from test_documents import wait_until
from test_flow_groups import EMPLOYEE, ENT, IND, NDA, PERSON, create, detail, flow, group
from test_signing import (AUTO, CONTACT, EMPLOYEE_LINK, PERSON_LINK, error, helper_sign, http, link,
                          signer_server, statuses)  # noqa: F401 (signer_server is a fixture)

REVIEWED_PERSON = {**PERSON, "ApproverNeedSignReview": True}
# ApproverInfo for the person and for the initiating organisation's employee (王五, 13800000008).
PERSON_INFO = {"ApproverType": "PERSON", "ApproverName": "张三", "ApproverMobile": "18888888888"}
EMPLOYEE_INFO = {"ApproverType": "ORGANIZATION", "ApproverName": "王五", "ApproverMobile": "13800000008",
                 "OrganizationName": "典子谦示例企业"}


def flow_review(server, flow_id, review_type, message=None, recipient=None, **extra):
    params = {"Agent": AGENT_A, "FlowId": flow_id, "ReviewType": review_type, **extra}
    if message is not None:
        params["ReviewMessage"] = message
    if recipient is not None:
        params["RecipientId"] = recipient
    return call(server.client(), "ChannelCreateFlowSignReview", params)


def group_review(server, group_id, review_type, info, message=None):
    params = {"Agent": AGENT_A, "FlowGroupId": group_id, "ReviewType": review_type, "ApproverInfo": info}
    if message is not None:
        params["ReviewMessage"] = message
    return call(server.client(), "CreateFlowGroupSignReview", params)


def review_error(server, action, params):
    return error_of(server.client(), action, {"Agent": AGENT_A, **params})


def reviewed_person_group(server):
    """An employment contract and an NDA whose person signs only after a review."""
    g = create(server, group(flow(approvers=[EMPLOYEE, REVIEWED_PERSON]),
                             flow(NDA, approvers=[EMPLOYEE, REVIEWED_PERSON])))
    return g, link(server, g["FlowGroupId"], EMPLOYEE_LINK), link(server, g["FlowGroupId"], PERSON_LINK)


# ---- NeedSignReview: the contract's review of the initiator's signers ----

def test_need_sign_review_holds_the_initiators_employee_until_each_contract_passes(signer_server):
    s = signer_server
    g = create(s, group(flow(NeedSignReview=True), flow(NDA, NeedSignReview=True)))
    first, second = g["FlowIds"]
    employee_url = link(s, g["FlowGroupId"], EMPLOYEE_LINK)
    code, message = error(helper_sign(s, employee_url))
    assert code == "OperationDenied.Forbid" and "sign review" in message and "no review result yet" in message, message
    # The contract's own review (no RecipientId) lets its signer sign that contract only.
    assert set(flow_review(s, first, "PASS", "企业内部审核通过，允许签署")) == {"RequestId"}
    assert helper_sign(s, employee_url) == (200, {"FlowIds": [first]})
    assert statuses(s, g["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"]), ("INIT", ["PENDING", "PENDING"])]
    # A review may also name the signer by RecipientId.
    flow_review(s, second, "PASS", recipient=ENT)
    assert helper_sign(s, employee_url) == (200, {"FlowIds": [second]})
    # The person is no signer of the initiating organisation: NeedSignReview does not hold them.
    person_url = link(s, g["FlowGroupId"], PERSON_LINK)
    assert helper_sign(s, person_url, SignatureText="张三", FormFields=CONTACT) == (200, {"FlowIds": g["FlowIds"]})
    assert statuses(s, g["FlowGroupId"]) == [("ALL", ["ACCEPT", "ACCEPT"])] * 2


def test_a_contract_review_rejected_then_passed_then_rejected_follows_the_last_result(signer_server):
    s = signer_server
    g, employee_url, person_url = reviewed_person_group(s)
    first, second = g["FlowIds"]
    assert helper_sign(s, employee_url) == (200, {"FlowIds": g["FlowIds"]})
    assert statuses(s, g["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"])] * 2
    flow_review(s, first, "REJECT", "资料不全", recipient=IND)
    code, message = error(helper_sign(s, person_url, SignatureText="张三", FormFields=CONTACT))
    assert code == "OperationDenied.Forbid" and "资料不全" in message, message
    flow_review(s, first, "PASS", recipient=IND)
    flow_review(s, first, "REJECT", "再核对一次", recipient=IND)
    code, message = error(helper_sign(s, person_url, SignatureText="张三", FormFields=CONTACT))
    assert code == "OperationDenied.Forbid" and "再核对一次" in message, message
    flow_review(s, first, "PASS", recipient=IND)
    # The second contract's review has not passed: it stays for later.
    assert helper_sign(s, person_url, SignatureText="张三", FormFields=CONTACT) == (200, {"FlowIds": [first]})
    assert statuses(s, g["FlowGroupId"]) == [("ALL", ["ACCEPT", "ACCEPT"]), ("PART", ["ACCEPT", "PENDING"])]
    # REJECT kept the contract as it was: no refusal anywhere.
    assert [f["FlowMessage"] for f in detail(s, FlowGroupId=g["FlowGroupId"])["FlowInfo"]] == ["", ""]


def test_the_signing_page_says_the_signer_waits_for_the_review(signer_server):
    s = signer_server
    g, employee_url, person_url = reviewed_person_group(s)
    assert helper_sign(s, employee_url)[0] == 200
    status, page = http(s, "GET", urllib.parse.urlparse(person_url).path)
    assert status == 200
    assert 'data-state="review"' in page and "合同正在等待发起方审核，审核通过后您才能签署。" in page
    assert page.count('data-status="review"') == 2 and "待审核" in page


# ---- CreateFlowGroupSignReview ----

def test_a_group_review_reviews_the_signer_in_every_contract(signer_server):
    s = signer_server
    g, employee_url, person_url = reviewed_person_group(s)
    assert helper_sign(s, employee_url) == (200, {"FlowIds": g["FlowIds"]})
    assert set(group_review(s, g["FlowGroupId"], "REJECT", PERSON_INFO, "不能签署")) == {"RequestId"}
    code, message = error(helper_sign(s, person_url, SignatureText="张三", FormFields=CONTACT))
    assert code == "OperationDenied.Forbid" and message.count("不能签署") == 2, message
    group_review(s, g["FlowGroupId"], "PASS", PERSON_INFO, "可以签署")
    assert helper_sign(s, person_url, SignatureText="张三", FormFields=CONTACT) == (200, {"FlowIds": g["FlowIds"]})
    assert statuses(s, g["FlowGroupId"]) == [("ALL", ["ACCEPT", "ACCEPT"])] * 2
    # Nothing left to review.
    code, _ = review_error(s, "CreateFlowGroupSignReview",
                           {"FlowGroupId": g["FlowGroupId"], "ReviewType": "PASS", "ApproverInfo": PERSON_INFO})
    assert code == "FailedOperation.NotAvailableSignReview"


def test_a_group_review_names_its_signer_and_its_reason(signer_server):
    s = signer_server
    g, _, _ = reviewed_person_group(s)
    gid = g["FlowGroupId"]
    cases = [
        ({"ReviewType": "REJECT", "ApproverInfo": PERSON_INFO}, "MissingParameter", "ReviewMessage"),
        ({"ReviewType": "SIGN_REJECT", "ApproverInfo": PERSON_INFO}, "MissingParameter", "ReviewMessage"),
        ({"ReviewType": "MAYBE", "ApproverInfo": PERSON_INFO}, "InvalidParameter", "ReviewType"),
        ({"ReviewType": "REJECT", "ReviewMessage": "长" * 201, "ApproverInfo": PERSON_INFO}, "InvalidParameter",
         "ReviewMessage"),
        ({"ReviewType": "PASS", "ApproverInfo": {"ApproverType": "PERSON", "ApproverName": "张三"}},
         "MissingParameter", "ApproverMobile"),
        ({"ReviewType": "PASS", "ApproverInfo": {**EMPLOYEE_INFO, "OrganizationName": ""}}, "MissingParameter",
         "ApproverInfo.OrganizationName"),
        ({"ReviewType": "PASS", "ApproverInfo": {**PERSON_INFO, "ApproverMobile": "13900000000"}},
         "ResourceNotFound.FlowApprover", "ApproverInfo"),
        # The employee signs without a review in this group.
        ({"ReviewType": "PASS", "ApproverInfo": EMPLOYEE_INFO}, "FailedOperation.NotAvailableSignReview", "review"),
    ]
    for params, code, named in cases:
        got, message = review_error(s, "CreateFlowGroupSignReview", {"FlowGroupId": gid, **params})
        assert (got, named in message) == (code, True), (params, got, message)
    code, _ = review_error(s, "CreateFlowGroupSignReview",
                           {"FlowGroupId": "yDwgKUUckp1jdy4dUWptGKRavSGWt9cX", "ReviewType": "PASS",
                            "ApproverInfo": PERSON_INFO})
    assert code == "ResourceNotFound.FlowGroup"


# ---- SIGN_REJECT ----

def test_sign_reject_of_a_contract_refuses_it_for_the_signer(signer_server):
    s = signer_server
    g, employee_url, person_url = reviewed_person_group(s)
    first, second = g["FlowIds"]
    flow_review(s, first, "SIGN_REJECT", "审核不通过，拒签", recipient=IND)
    d = detail(s, FlowGroupId=g["FlowGroupId"])
    refused, other = d["FlowInfo"]
    assert (refused["FlowStatus"], refused["FlowMessage"]) == ("REJECT", "审核不通过，拒签")
    employee, person = refused["FlowApproverInfos"]
    assert (employee["ApproveStatus"], person["ApproveStatus"], person["ApproveMessage"]) == (
        "PENDING", "REJECT", "审核不通过，拒签")
    assert other["FlowStatus"] == "INIT"
    # The refused contract is over for everyone; the other one goes on.
    assert helper_sign(s, employee_url) == (200, {"FlowIds": [second]})
    code, _ = review_error(s, "ChannelCreateFlowSignReview",
                           {"FlowId": first, "ReviewType": "PASS", "RecipientId": IND})
    assert code == "FailedOperation.NotAvailableSignReview"


def test_sign_reject_of_a_group_refuses_every_contract_for_the_signer(signer_server):
    s = signer_server
    g, employee_url, _ = reviewed_person_group(s)
    group_review(s, g["FlowGroupId"], "SIGN_REJECT", PERSON_INFO, "不同意签署")
    assert statuses(s, g["FlowGroupId"]) == [("REJECT", ["PENDING", "REJECT"])] * 2
    assert {f["FlowMessage"] for f in detail(s, FlowGroupId=g["FlowGroupId"])["FlowInfo"]} == {"不同意签署"}
    code, _ = error(helper_sign(s, employee_url))
    assert code == "OperationDenied.FlowHasTerminated"


def test_a_contract_review_is_refused_where_there_is_nothing_to_review(signer_server):
    s = signer_server
    g, _, _ = reviewed_person_group(s)
    first = g["FlowIds"][0]
    cases = [
        # The contract has no NeedSignReview of its own: the review must name its signer.
        ({"FlowId": first, "ReviewType": "PASS"}, "FailedOperation.NotAvailableSignReview", "RecipientId"),
        ({"FlowId": first, "ReviewType": "PASS", "RecipientId": ENT}, "FailedOperation.NotAvailableSignReview",
         ENT),
        ({"FlowId": first, "ReviewType": "PASS", "RecipientId": "yDwgKUUckp1jdybwUWptGKyGVpNME9fX"},
         "InvalidParameter", "RecipientId"),
        ({"FlowId": first, "ReviewType": "PASS", "RecipientId": IND, "OperateType": "CreateReview"},
         "OperationDenied.OperateType", "CreateReview"),
        ({"FlowId": "yDwgKUUckp1jdy4dUWptGKRavSGWt9cX", "ReviewType": "PASS", "RecipientId": IND},
         "ResourceNotFound.Flow", "FlowId"),
    ]
    for params, code, named in cases:
        got, message = review_error(s, "ChannelCreateFlowSignReview", params)
        assert (got, named in message) == (code, True), (params, got, message)


# ---- auto-sign ----

def test_an_auto_signer_waits_for_its_review_then_signs_by_itself(signer_server):
    s = signer_server
    reviewed = create(s, group(flow(NDA, approvers=[AUTO, PERSON], NeedSignReview=True),
                               flow(NDA, approvers=[AUTO, PERSON], NeedSignReview=True)))
    # A group created after it, without review: once the sweep has signed it, it has looked at
    # the reviewed group too and left it.
    control = create(s, group(flow(NDA, approvers=[AUTO, PERSON]), flow(NDA, approvers=[AUTO, PERSON])))
    wait_until("the control group's auto-signer",
               lambda: statuses(s, control["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"])] * 2, timeout=20)
    assert statuses(s, reviewed["FlowGroupId"]) == [("INIT", ["PENDING", "PENDING"])] * 2
    # The auto-signer is found by its organisation's name (qianshu records no person for it).
    group_review(s, reviewed["FlowGroupId"], "PASS", EMPLOYEE_INFO, "可以签署")
    wait_until("the reviewed auto-signer",
               lambda: statuses(s, reviewed["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"])] * 2, timeout=20)


# ---- ChannelCreateFlowReminds ----

def outbox(server):
    status, body = http(server, "GET", "/_qianshu/sms")
    assert status == 200, body
    return body["Messages"]


def reminds(server, flow_ids):
    return call(server.client(), "ChannelCreateFlowReminds", {"Agent": AGENT_A, "FlowIds": flow_ids})["RemindFlowRecords"]


def test_each_signer_whose_turn_it_is_is_reminded_once_per_contract(signer_server):
    s = signer_server
    g = create(s, group(flow(), flow(NDA)))
    ids = g["FlowIds"]
    before = len(outbox(s))
    # The employee signs first; the person is not due yet and is not reminded.
    assert reminds(s, ids) == [{"CanRemind": True, "FlowId": f, "RemindMessage": "签署人 王五: 催办成功；"} for f in ids]
    sent = outbox(s)[before:]
    assert [m["Mobile"] for m in sent] == ["13800000008"] * 2
    assert all("典子谦示例企业提醒您签署《2023年张三入职合同组合》" in m["Text"] for m in sent), sent
    # Once per contract: the second call sends nothing.
    assert reminds(s, ids) == [
        {"CanRemind": True, "FlowId": f, "RemindMessage": "签署人 王五: 此签署人已催办过；"} for f in ids]
    assert len(outbox(s)) == before + 2
    # The reminder's link opens the whole group for its signer.
    url = re.search(r"https?://\S+", sent[0]["Text"]).group(0)
    assert helper_sign(s, url) == (200, {"FlowIds": ids})
    assert reminds(s, ids[:1]) == [{"CanRemind": True, "FlowId": ids[0], "RemindMessage": "签署人 张三: 催办成功；"}]
    assert outbox(s)[-1]["Mobile"] == "18888888888"
    person_url = link(s, g["FlowGroupId"], PERSON_LINK)
    assert helper_sign(s, person_url, SignatureText="张三", FormFields=CONTACT)[0] == 200
    assert reminds(s, ids) == [
        {"CanRemind": False, "FlowId": f, "RemindMessage": "合同已全部签署完成，无需催办；"} for f in ids]


def test_auto_signers_signers_awaiting_review_and_refused_contracts_are_not_reminded(signer_server):
    s = signer_server
    held = create(s, group(flow(NDA, approvers=[AUTO, PERSON], NeedSignReview=True),
                           flow(approvers=[EMPLOYEE, REVIEWED_PERSON])))
    auto_flow, reviewed_flow = held["FlowIds"]
    employee_url = link(s, held["FlowGroupId"], EMPLOYEE_LINK)
    assert helper_sign(s, employee_url) == (200, {"FlowIds": [reviewed_flow]})
    before = len(outbox(s))
    assert reminds(s, [auto_flow, reviewed_flow]) == [
        {"CanRemind": False, "FlowId": auto_flow, "RemindMessage": "签署人 典子谦示例企业: 自动签署，无需催办；"},
        {"CanRemind": False, "FlowId": reviewed_flow, "RemindMessage": "签署人 张三: 等待发起方签署审核，暂不能催办；"},
    ]
    assert len(outbox(s)) == before
    flow_review(s, reviewed_flow, "SIGN_REJECT", "不同意", recipient=IND)
    assert reminds(s, [reviewed_flow]) == [
        {"CanRemind": False, "FlowId": reviewed_flow, "RemindMessage": "合同已被拒签，无法催办；"}]


def test_reminds_take_at_most_100_known_contracts_each_once(signer_server):
    s = signer_server
    g = create(s, group(flow(), flow(NDA)))
    first = g["FlowIds"][0]
    unknown = "yDwgKUUckp1jdy4dUWptGKRavSGWt9cX"
    for ids, named in (([first, unknown], "FlowIds.1"), ([first, first], "FlowIds.1"), ([first] * 101, "100"),
                       (["short"], "FlowIds.0")):
        code, message = error_of(s.client(), "ChannelCreateFlowReminds", {"Agent": AGENT_A, "FlowIds": ids})
        assert (code, named in message) == ("InvalidParameterValue", True), (ids, code, message)
