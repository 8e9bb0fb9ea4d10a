"""Signing a contract group: links, the one operation behind every door (page, test helpers,
auto-sign), signing order and the state machine, through the official SDK and the test helpers."""

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import AGENT_A, call, error_of
from test_flow_groups import EMPLOYEE, ENT, NDA, PERSON, create, detail, flow, group

HELPERS = {"QIANSHU_TEST_HELPERS": "true"}


@pytest.fixture
def signer_server(start):
    return start("--rate-limit", "1000", env=HELPERS)


def http(server, method, path, body=None, form=None):
    """(status, parsed JSON or text) of a plain HTTP call."""
    data, headers = None, {}
    if body is not None:
        data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
    if form is not None:
        from urllib.parse import urlencode
        data, headers = urlencode(form).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    req = urllib.request.Request(f"http://{server.address}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, raw, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, raw, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
    return status, (json.loads(raw) if ctype.startswith("application/json") else raw.decode())


def link(server, group_id, approver):
    r = call(server.client(), "ChannelCreateBatchQuickSignUrl",
             {"Agent": AGENT_A, "FlowGroupId": group_id, "FlowApproverInfo": approver})
    return r["FlowApproverUrlInfo"]["SignUrl"]


def helper_sign(server, url, **extra):
    return http(server, "POST", "/_qianshu/sign", {"SignUrl": url, **extra})


def statuses(server, group_id):
    infos = detail(server, FlowGroupId=group_id)["FlowInfo"]
    return [(f["FlowStatus"], [a["ApproveStatus"] for a in f["FlowApproverInfos"]]) for f in infos]


def test_the_group_is_signed_in_order_through_the_test_helper(signer_server):
    s = signer_server
    g = create(s, group(flow(), flow(NDA)))
    employee_url = link(s, g["FlowGroupId"], {k: EMPLOYEE[k] for k in ("OpenId", "OrganizationOpenId", "ApproverType")})
    person_url = link(s, g["FlowGroupId"], {"ApproverType": "PERSON", "Name": "张三", "Mobile": "18888888888"})
    status, body = helper_sign(s, person_url, SignatureText="张三",
                               FormFields=[{"ComponentName": "紧急联系人", "ComponentValue": "李四"}])
    assert (status, body["Error"]["Code"]) == (400, "InvalidParameter.Unordered"), body
    status, body = helper_sign(s, employee_url)
    assert (status, body) == (200, {"FlowIds": g["FlowIds"]})
    assert statuses(s, g["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"])] * 2
    status, body = helper_sign(s, person_url, SignatureText="张三",
                               FormFields=[{"ComponentName": "紧急联系人", "ComponentValue": "李四"}])
    assert (status, body) == (200, {"FlowIds": g["FlowIds"]}), body
    assert statuses(s, g["FlowGroupId"]) == [("ALL", ["ACCEPT", "ACCEPT"])] * 2
    status, body = helper_sign(s, person_url, SignatureText="张三",
                               FormFields=[{"ComponentName": "紧急联系人", "ComponentValue": "李四"}])
    assert (status, body["Error"]["Code"]) == (400, "OperationDenied.FlowStatusForbid"), body


def test_an_auto_signer_signs_the_moment_it_is_due(signer_server):
    s = signer_server
    auto = {"ApproverType": "ENTERPRISESERVER", "RecipientId": ENT}
    g = create(s, group(flow(NDA, approvers=[auto, PERSON]), flow(NDA, approvers=[auto, PERSON])))
    deadline = time.time() + 20
    while time.time() < deadline and statuses(s, g["FlowGroupId"]) != [("PART", ["ACCEPT", "PENDING"])] * 2:
        time.sleep(0.2)
    assert statuses(s, g["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"])] * 2


def test_each_signing_draws_its_signer_inside_their_boxes_and_nowhere_else(signer_server, tmp_path):
    from test_documents import changed_pixels, components, download, inside, text_of
    s = signer_server
    g = create(s, group(flow(), flow(NDA)))
    employment = g["FlowIds"][0]
    employee_url = link(s, g["FlowGroupId"], {k: EMPLOYEE[k] for k in ("OpenId", "OrganizationOpenId", "ApproverType")})
    person_url = link(s, g["FlowGroupId"], {"ApproverType": "PERSON", "Name": "张三", "Mobile": "18888888888"})
    for step in "012":
        (tmp_path / step).mkdir()
    made = download(s, employment, tmp_path / "0")
    assert helper_sign(s, employee_url, FormFields=[{"ComponentName": "甲方意见", "ComponentValue": "同意录用"}])[0] == 200
    by_employee = download(s, employment, tmp_path / "1")
    assert helper_sign(s, person_url, SignatureText="张三",
                       FormFields=[{"ComponentName": "紧急联系人", "ComponentValue": "李四"}])[0] == 200
    by_person = download(s, employment, tmp_path / "2")

    # Each revision is the one before plus an incremental update.
    assert by_employee.read_bytes().startswith(made.read_bytes())
    assert by_person.read_bytes().startswith(by_employee.read_bytes())
    text = text_of(by_person)
    for value in ("同意录用", "李四", "张三", signing_date()):
        assert value in text, value

    boxes = components(flow()["TemplateId"])
    for before, after, recipient in ((made, by_employee, ENT), (by_employee, by_person, PERSON["RecipientId"])):
        mine = [c for c in boxes.values() if c.get("ComponentRecipientId") == recipient]
        page = mine[0]["ComponentPage"]
        assert {c["ComponentPage"] for c in mine} == {page}
        _, changed = changed_pixels(before, after, page)
        assert [(x, y) for x, y in changed if not any(inside(x, y, c) for c in mine)] == []
        for c in mine:
            assert any(inside(x, y, c, margin=0) for x, y in changed), c["ComponentId"]


def signing_date():
    """Today in China, as SIGN_DATE shows it."""
    import datetime
    today = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8)))
    return today.strftime("%Y年%m月%d日")
