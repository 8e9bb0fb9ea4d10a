"""Signing a contract group: links, the one operation behind every door (page, test helpers,
auto-sign), signing order and the state machine, through the official SDK and the test helpers."""

import base64
import json
import secrets
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import AGENT_A, ROOT, Server, call
from test_documents import wait_until
from test_flow_groups import EMPLOYEE, EMPLOYMENT, ENT, NDA, PERSON, create, detail, flow, group

HELPERS = {"QIANSHU_TEST_HELPERS": "true"}


@pytest.fixture
def signer_server(start):
    return start("--rate-limit", "1000", env=HELPERS)


def http(server, method, path, body=None):
    """(status, parsed JSON or text) of a plain HTTP call."""
    data, headers = None, {}
    if body is not None:
        data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
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


def signing_date(now=None):
    """The day in China (UTC+8) at `now` (Unix seconds, the wall clock by default), as SIGN_DATE shows it."""
    return time.strftime("%Y年%m月%d日", time.gmtime((time.time() if now is None else now) + 8 * 3600))


# ---- helpers for the tests below ----

PERSON_LINK = {"ApproverType": "PERSON", "Name": "张三", "Mobile": "18888888888"}
EMPLOYEE_LINK = {k: EMPLOYEE[k] for k in ("OpenId", "OrganizationOpenId", "ApproverType")}
CONTACT = [{"ComponentName": "紧急联系人", "ComponentValue": "李四"}]


def advance(server, seconds):
    status, body = http(server, "POST", "/_qianshu/clock", {"AdvanceSeconds": seconds})
    assert status == 200, body
    return body["Now"]


def document(server, flow_id):
    """The bytes DescribeResourceUrlsByFlows serves for a contract now."""
    r = call(server.client(), "DescribeResourceUrlsByFlows", {"Agent": AGENT_A, "FlowIds": [flow_id]})
    assert r["ErrorMessages"] == [""], r
    [res] = r["FlowResourceUrlInfos"][0]["ResourceUrlInfos"]
    with urllib.request.urlopen(res["Url"], timeout=60) as answer:
        assert answer.headers["Content-Type"] == "application/pdf"
        return answer.read()


def documents(server, group_id):
    return [document(server, f) for f in detail_ids(server, group_id)]


def detail_ids(server, group_id):
    return [f["FlowId"] for f in detail(server, FlowGroupId=group_id)["FlowInfo"]]


def pdf_text(tmp_path, data):
    path = tmp_path / f"doc{len(list(tmp_path.iterdir()))}.pdf"
    path.write_bytes(data)
    r = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def qpdf_check(tmp_path, data):
    path = tmp_path / "check.pdf"
    path.write_bytes(data)
    r = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def error(answer):
    status, body = answer
    assert status == 400, body
    return body["Error"]["Code"], body["Error"]["Message"]


def tenants(tmp_path, edit):
    """The fixture tenants with `edit(templates by id)` applied, written to a file."""
    fixtures = ROOT / "tests" / "fixtures"
    data = json.loads((fixtures / "tenants.json").read_text())
    for app in data["Applications"]:
        for t in app["Templates"]:
            t["Pdf"] = str((fixtures / t["Pdf"]).resolve())
    edit({t["TemplateId"]: t for t in data["Applications"][0]["Templates"]})
    path = tmp_path / "edited-tenants.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    return path


def signed_group(server):
    """A group of an employment contract and an NDA with links for both signers."""
    g = create(server, group(flow(), flow(NDA)))
    return g, link(server, g["FlowGroupId"], EMPLOYEE_LINK), link(server, g["FlowGroupId"], PERSON_LINK)


# ---- order ----

def test_the_person_waits_for_the_employee_named_in_the_refusal(signer_server):
    s = signer_server
    g, _, person_url = signed_group(s)
    code, message = error(helper_sign(s, person_url, SignatureText="张三", FormFields=CONTACT))
    assert code == "InvalidParameter.Unordered" and "王五" in message, message
    assert statuses(s, g["FlowGroupId"]) == [("INIT", ["PENDING", "PENDING"])] * 2


@pytest.fixture
def parallel_server(start, tmp_path):
    """The NDA's two recipients share one RoutingOrder: they sign in parallel."""
    def edit(templates):
        for r in templates[NDA]["Recipients"]:
            r["RoutingOrder"] = 1
    return start("--rate-limit", "1000", env=HELPERS, tenants=tenants(tmp_path, edit))


def test_equal_routing_orders_sign_in_parallel(parallel_server):
    s = parallel_server
    g = create(s, group(flow(NDA), flow(NDA)))
    person_url = link(s, g["FlowGroupId"], PERSON_LINK)
    employee_url = link(s, g["FlowGroupId"], EMPLOYEE_LINK)
    assert helper_sign(s, person_url, SignatureText="张三") == (200, {"FlowIds": g["FlowIds"]})
    assert statuses(s, g["FlowGroupId"]) == [("PART", ["PENDING", "ACCEPT"])] * 2
    assert helper_sign(s, employee_url) == (200, {"FlowIds": g["FlowIds"]})
    assert statuses(s, g["FlowGroupId"]) == [("ALL", ["ACCEPT", "ACCEPT"])] * 2


def test_a_signer_signs_what_is_due_and_the_rest_when_it_becomes_due(parallel_server):
    s = parallel_server
    g = create(s, group(flow(), flow(NDA)))
    employment, nda = g["FlowIds"]
    person_url = link(s, g["FlowGroupId"], PERSON_LINK)
    employee_url = link(s, g["FlowGroupId"], EMPLOYEE_LINK)
    # The NDA is due for the person at once, the employment contract after the employee.
    assert helper_sign(s, person_url, SignatureText="张三") == (200, {"FlowIds": [nda]})
    assert statuses(s, g["FlowGroupId"]) == [("INIT", ["PENDING", "PENDING"]), ("PART", ["PENDING", "ACCEPT"])]
    assert helper_sign(s, employee_url) == (200, {"FlowIds": [employment, nda]})
    assert statuses(s, g["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"]), ("ALL", ["ACCEPT", "ACCEPT"])]
    # The employment contract's own component is asked for only now that it is due.
    assert helper_sign(s, person_url, SignatureText="张三", FormFields=CONTACT) == (200, {"FlowIds": [employment]})
    assert statuses(s, g["FlowGroupId"]) == [("ALL", ["ACCEPT", "ACCEPT"])] * 2


def test_parallel_signers_at_once_both_sign_on_one_chain_of_revisions(parallel_server):
    s = parallel_server
    g = create(s, group(flow(NDA), flow(NDA)))
    urls = [link(s, g["FlowGroupId"], PERSON_LINK), link(s, g["FlowGroupId"], EMPLOYEE_LINK)]
    made = [document(s, f) for f in g["FlowIds"]]
    barrier, answers = threading.Barrier(2), [None, None]

    def sign(i):
        barrier.wait()
        answers[i] = helper_sign(s, urls[i], SignatureText="张三")

    threads = [threading.Thread(target=sign, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [(200, {"FlowIds": g["FlowIds"]})] * 2
    assert statuses(s, g["FlowGroupId"]) == [("ALL", ["ACCEPT", "ACCEPT"])] * 2
    for before, flow_id in zip(made, g["FlowIds"]):
        after = document(s, flow_id)
        # Two signatures; the second completes the contract: the DSS and a document timestamp too.
        assert after.startswith(before) and after.count(b"%%EOF") == before.count(b"%%EOF") + 4


# ---- the whole group at once ----

def test_one_call_signs_every_due_contract_and_each_revision_extends_the_last(signer_server, tmp_path):
    s = signer_server
    g, employee_url, person_url = signed_group(s)
    made = documents(s, g["FlowGroupId"])
    # Business time, a quarter of an hour on: what ApproveTime and the drawn dates show.
    now = advance(s, 900)
    assert helper_sign(s, employee_url, FormFields=[{"ComponentName": "甲方意见", "ComponentValue": "同意录用"}]) == \
        (200, {"FlowIds": g["FlowIds"]})
    assert statuses(s, g["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"])] * 2
    half = documents(s, g["FlowGroupId"])
    assert helper_sign(s, person_url, SignatureText="张三", FormFields=CONTACT) == (200, {"FlowIds": g["FlowIds"]})
    full = documents(s, g["FlowGroupId"])

    d = detail(s, FlowGroupId=g["FlowGroupId"])
    for f in d["FlowInfo"]:
        assert f["FlowStatus"] == "ALL" and f["FlowMessage"] == ""
        for a in f["FlowApproverInfos"]:
            assert a["ApproveStatus"] == "ACCEPT" and a["ApproveMessage"] == ""
            assert now <= a["ApproveTime"] <= now + 60, (a["ApproveTime"], now)
    for before, middle, after in zip(made, half, full):
        assert middle.startswith(before) and after.startswith(middle)
        # The completing signature comes with the DSS and a document timestamp (PAdES B-LTA).
        assert (middle.count(b"%%EOF"), after.count(b"%%EOF")) == (before.count(b"%%EOF") + 1, before.count(b"%%EOF") + 4)
        qpdf_check(tmp_path, after)
    date = signing_date(now)
    employment_before, employment = pdf_text(tmp_path, made[0]), pdf_text(tmp_path, full[0])
    for value in ("同意录用", "李四", date):
        assert value not in employment_before and value in employment, value
    # The typed name is drawn in the person's signature box of both contracts.
    for before, after in zip(made, full):
        assert pdf_text(tmp_path, after).count("张三") == pdf_text(tmp_path, before).count("张三") + 1

    r = call(s.client(), "ChannelDescribeFlowComponents", {"Agent": AGENT_A, "FlowId": g["FlowIds"][0]})
    signers = {c["RecipientId"]: c for c in r["RecipientComponentInfos"] if not c["IsPromoter"]}
    shown = {c["ComponentId"]: (c["ComponentFillStatus"], c["ComponentValue"])
             for info in signers.values() for c in info["Components"]}
    assert shown == {"EmergencyContact": ("1", "李四"), "EmployerOpinion": ("1", "同意录用")}


# ---- values ----

def test_bad_values_sign_nothing(signer_server):
    s = signer_server
    g, employee_url, person_url = signed_group(s)
    assert helper_sign(s, employee_url)[0] == 200
    before = documents(s, g["FlowGroupId"])
    code, message = error(helper_sign(s, person_url, SignatureText="张三",
                                      FormFields=[{"ComponentName": "紧急联系人", "ComponentValue": "李\n四"}]))
    assert code == "InvalidParameter.ComponentValue" and "FormFields.0.ComponentValue" in message, message
    code, message = error(helper_sign(s, person_url, SignatureText="张三",
                                      FormFields=CONTACT + [{"ComponentName": "甲方意见", "ComponentValue": "x"}]))
    assert code == "InvalidParameter.DataNotFound" and "FormFields.1.ComponentName" in message and "甲方意见" in message
    code, message = error(helper_sign(s, person_url, FormFields=CONTACT))
    assert code == "OperationDenied.PersonHasNoSignature", message
    assert statuses(s, g["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"])] * 2
    assert documents(s, g["FlowGroupId"]) == before


def test_a_required_signer_component_must_be_filled(start, tmp_path):
    def edit(templates):
        contact = next(c for c in templates[EMPLOYMENT]["Components"] if c["ComponentId"] == "EmergencyContact")
        contact["ComponentRequired"] = True
    s = start("--rate-limit", "1000", env=HELPERS, tenants=tenants(tmp_path, edit))
    g, employee_url, person_url = signed_group(s)
    assert helper_sign(s, employee_url)[0] == 200
    code, message = error(helper_sign(s, person_url, SignatureText="张三"))
    assert code == "OperationDenied.RequiredComponentNotFill" and "紧急联系人" in message, message
    assert statuses(s, g["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"])] * 2
    assert helper_sign(s, person_url, SignatureText="张三", FormFields=CONTACT) == (200, {"FlowIds": g["FlowIds"]})


# ---- nothing twice ----

def test_the_same_signature_twice_signs_once(signer_server):
    s = signer_server
    g, employee_url, _ = signed_group(s)
    made = documents(s, g["FlowGroupId"])
    assert helper_sign(s, employee_url) == (200, {"FlowIds": g["FlowIds"]})
    once = documents(s, g["FlowGroupId"])
    code, _ = error(helper_sign(s, employee_url))
    assert code == "OperationDenied.FlowStatusForbid"
    assert documents(s, g["FlowGroupId"]) == once
    assert [a.count(b"%%EOF") for a in once] == [b.count(b"%%EOF") + 1 for b in made]


def test_two_tabs_signing_at_once_sign_once(signer_server):
    s = signer_server
    for _ in range(3):
        g, employee_url, _ = signed_group(s)
        made = documents(s, g["FlowGroupId"])
        barrier, answers = threading.Barrier(2), [None, None]

        def sign(i):
            barrier.wait()
            answers[i] = helper_sign(s, employee_url)

        threads = [threading.Thread(target=sign, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        outcomes = sorted((status, body.get("Error", {}).get("Code", "")) for status, body in answers)
        assert outcomes == [(200, ""), (400, "OperationDenied.FlowStatusForbid")], answers
        assert statuses(s, g["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"])] * 2
        assert [a.count(b"%%EOF") for a in documents(s, g["FlowGroupId"])] == [b.count(b"%%EOF") + 1 for b in made]


# ---- refusal ----

def test_a_refusal_ends_the_group_for_everyone(signer_server):
    s = signer_server
    g, employee_url, person_url = signed_group(s)
    code, message = error(helper_sign(s, person_url, Reject=True))
    assert code == "MissingParameter" and "Reason" in message
    code, _ = error(helper_sign(s, person_url, Reject=True, Reason="   "))
    assert code == "MissingParameter"
    assert statuses(s, g["FlowGroupId"]) == [("INIT", ["PENDING", "PENDING"])] * 2
    now = advance(s, 60)
    # Not due yet, the person may still refuse: refusing needs no turn.
    assert helper_sign(s, person_url, Reject=True, Reason="薪资与面谈不符") == (200, {"FlowIds": g["FlowIds"]})
    d = detail(s, FlowGroupId=g["FlowGroupId"])
    for f in d["FlowInfo"]:
        assert (f["FlowStatus"], f["FlowMessage"]) == ("REJECT", "薪资与面谈不符")
        employee, person = f["FlowApproverInfos"]
        assert (employee["ApproveStatus"], employee["ApproveMessage"], employee["ApproveTime"]) == ("PENDING", "", 0)
        assert (person["ApproveStatus"], person["ApproveMessage"]) == ("REJECT", "薪资与面谈不符")
        assert now <= person["ApproveTime"] <= now + 60
    code, _ = error(helper_sign(s, employee_url))
    assert code == "OperationDenied.FlowHasTerminated"
    code, _ = error(helper_sign(s, person_url, Reject=True, Reason="再次拒签"))
    assert code in ("OperationDenied.FlowHasTerminated",)
    assert statuses(s, g["FlowGroupId"]) == [("REJECT", ["PENDING", "REJECT"])] * 2


# ---- links ----

def test_a_forged_link_shows_nothing(signer_server):
    s = signer_server
    signed_group(s)
    token = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    assert len(token) == 43
    for path in (f"/s/{token}", "/s/short"):
        status, page = http(s, "GET", path)
        assert status == 404 and "链接无效" in page and "入职合同" not in page and "张三" not in page
    code, _ = error(helper_sign(s, f"http://{s.address}/s/{token}"))
    assert code == "ResourceNotFound.URL"


def test_an_expired_link_shows_nothing_and_signs_nothing(signer_server):
    s = signer_server
    g, employee_url, _ = signed_group(s)
    longer = call(s.client(), "ChannelCreateBatchQuickSignUrl",
                  {"Agent": AGENT_A, "FlowGroupId": g["FlowGroupId"], "FlowApproverInfo": EMPLOYEE_LINK,
                   "ExpiredOn": 3600})["FlowApproverUrlInfo"]["SignUrl"]
    path = urllib.parse.urlparse(employee_url).path
    assert http(s, "GET", path)[0] == 200
    advance(s, 1799)
    assert http(s, "GET", path)[0] == 200
    advance(s, 2)
    status, page = http(s, "GET", path)
    assert status == 410 and "已过期" in page and "入职合同" not in page and "张三" not in page
    code, message = error(helper_sign(s, employee_url))
    assert code == "ResourceNotFound.URL" and "expired" in message
    assert statuses(s, g["FlowGroupId"]) == [("INIT", ["PENDING", "PENDING"])] * 2
    # ExpiredOn (seconds) gives a link an hour.
    assert helper_sign(s, longer) == (200, {"FlowIds": g["FlowIds"]})


def test_a_link_issued_after_the_clock_moved_lasts_its_whole_lifetime(signer_server):
    s = signer_server
    g = create(s, group(flow(), flow(NDA)))
    advance(s, 7200)
    url = link(s, g["FlowGroupId"], EMPLOYEE_LINK)
    assert http(s, "GET", urllib.parse.urlparse(url).path)[0] == 200
    advance(s, 1700)
    assert helper_sign(s, url) == (200, {"FlowIds": g["FlowIds"]})


def test_a_preview_link_signs_and_refuses_nothing(signer_server):
    s = signer_server
    g = create(s, group(flow(), flow(NDA)))
    r = call(s.client(), "ChannelCreateFlowSignUrl",
             {"Agent": AGENT_A, "FlowId": g["FlowIds"][1], "UrlType": 1, "FlowApproverInfos": [EMPLOYEE_LINK]})
    [info] = r["FlowApproverUrlInfos"]
    status, page = http(s, "GET", urllib.parse.urlparse(info["SignUrl"]).path)
    assert status == 200 and 'data-state="preview"' in page and "全部签署" not in page
    assert error(helper_sign(s, info["SignUrl"]))[0] == "OperationDenied.NoFlowPermission"
    assert error(helper_sign(s, info["SignUrl"], Reject=True, Reason="不同意"))[0] == "OperationDenied.NoFlowPermission"
    assert statuses(s, g["FlowGroupId"]) == [("INIT", ["PENDING", "PENDING"])] * 2


# ---- auto-sign ----

AUTO = {"ApproverType": "ENTERPRISESERVER", "RecipientId": ENT}


def auto_group(server):
    return create(server, group(flow(NDA, approvers=[AUTO, PERSON]), flow(NDA, approvers=[AUTO, PERSON])))


def test_an_auto_signer_signs_by_itself_then_the_person_completes(signer_server, tmp_path):
    s = signer_server
    g = auto_group(s)
    wait_until("the auto-signer", lambda: statuses(s, g["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"])] * 2, timeout=20)
    person_url = link(s, g["FlowGroupId"], PERSON_LINK)
    assert helper_sign(s, person_url, SignatureText="张三") == (200, {"FlowIds": g["FlowIds"]})
    assert statuses(s, g["FlowGroupId"]) == [("ALL", ["ACCEPT", "ACCEPT"])] * 2
    for data in documents(s, g["FlowGroupId"]):
        qpdf_check(tmp_path, data)


def test_an_auto_signer_left_pending_by_a_stopped_node_is_signed_after_the_restart(db, tmp_path, start):
    # A killed node's document jobs wait for their lease to run out: a short one.
    flags = ["--rate-limit", "1000", "--synthesis-lease-ms", "1500"]
    first = start(*flags, env=HELPERS)
    g = auto_group(first)
    # Killed at once: its auto-signer has the documents still to make, so it had no time to sign.
    first.proc.kill()
    first.proc.wait()
    second = Server(db, tmp_path, flags, HELPERS)
    try:
        wait_until(
            "the auto-signer", lambda: statuses(second, g["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"])] * 2, timeout=20
        )
        person_url = link(second, g["FlowGroupId"], PERSON_LINK)
        assert helper_sign(second, person_url, SignatureText="张三") == (200, {"FlowIds": g["FlowIds"]})
        assert statuses(second, g["FlowGroupId"]) == [("ALL", ["ACCEPT", "ACCEPT"])] * 2
    finally:
        second.stop()


def test_a_contract_past_its_deadline_is_signed_by_nobody(signer_server):
    s = signer_server
    g = create(s, group(flow(), flow(NDA)))
    url = call(s.client(), "ChannelCreateBatchQuickSignUrl",
               {"Agent": AGENT_A, "FlowGroupId": g["FlowGroupId"], "FlowApproverInfo": EMPLOYEE_LINK,
                "ExpiredOn": 7776000})["FlowApproverUrlInfo"]["SignUrl"]
    deadline = detail(s, FlowGroupId=g["FlowGroupId"])["FlowInfo"][0]["DeadLine"]
    now = advance(s, 0)
    advance(s, deadline - now + 1)
    code, message = error(helper_sign(s, url))
    assert code == "OperationDenied.FlowHasTerminated", message
    status, page = http(s, "GET", urllib.parse.urlparse(url).path)
    assert status == 200 and 'data-state="closed"' in page and "全部签署" not in page
    # Nobody signed; the expiry sweep ends the contracts and their approvers.
    wait_until("the expiry sweep", lambda: statuses(s, g["FlowGroupId"]) == [("DEADLINE", ["DEADLINE", "DEADLINE"])] * 2,
               timeout=10)
