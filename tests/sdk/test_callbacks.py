"""Callbacks to the platform: a receiver in the test decrypts and verifies each one exactly as
Tencent's kits do (AES-256-CBC with IV = the key's first 16 bytes and PKCS#7; HMAC-SHA256 of the
raw body in `Content-Signature`), answers 500 for a while, and sees every message, in order per
contract and per group, across a `kill -9` of the server."""

import base64
import hashlib
import hmac
import http.server
import json
import signal
import threading
import time

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from conftest import ROOT, Server, apply
from test_flow_groups import NDA, create, flow, group
from test_lifecycle import batch, cancel
from test_signing import CONTACT, EMPLOYEE_LINK, PERSON_LINK, advance, helper_sign, link

KEY = b"0123456789abcdef0123456789ABCDEF"
TOKEN = "callback-signing-token"
HELPERS = {"QIANSHU_TEST_HELPERS": "true"}
CUSTOMER_DATA = base64.b64encode("平台的订单 42".encode()).decode()


class Receiver:
    """The platform's callback endpoint, as Tencent's Go kit reads a callback: verify the
    signature over the raw body, then decrypt `encrypt`. Answers 500 while `failing`."""

    def __init__(self, key=KEY, token=TOKEN, delay=0.0, answer=None):
        self.key, self.token = key, token
        self.failing = False
        self.delay = delay
        # The status of the n-th request (from 1), when failing is off.
        self.answer = answer or (lambda n: 200)
        self.requests = 0
        self.messages = []
        self.errors = []
        self.in_flight = set()
        self.overlaps = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.receive(raw, self.headers)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def receive(self, raw, headers):
        with self.lock:
            self.requests += 1
            n = self.requests
            if self.failing:
                return 500
            try:
                message = self.open(raw, headers)
            except Exception as e:  # noqa: BLE001 - any failure to open is the finding
                self.errors.append(f"{type(e).__name__}: {e}")
                return 400
            if message["MsgId"] in self.in_flight:
                self.overlaps.append(message["MsgId"])
            self.in_flight.add(message["MsgId"])
        time.sleep(self.delay)
        with self.lock:
            self.in_flight.discard(message["MsgId"])
            status = self.answer(n)
            if status == 200:
                self.messages.append(message)
            return status

    def open(self, raw, headers):
        assert headers["Content-Type"] == "application/json", headers["Content-Type"]
        if self.token is not None:
            expected = "sha256=" + hmac.new(self.token.encode(), raw, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["Content-Signature"], expected), headers["Content-Signature"]
        else:
            assert "Content-Signature" not in headers
        body = json.loads(raw)
        if self.key is None:
            return body
        assert list(body) == ["encrypt"], body
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        padded = decryptor.update(base64.b64decode(body["encrypt"])) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return json.loads(unpadder.update(padded) + unpadder.finalize())

    def unique(self):
        """Each message once (delivery is at least once), in the order first received."""
        with self.lock:
            seen, out = set(), []
            for m in self.messages:
                if m["MsgId"] not in seen:
                    seen.add(m["MsgId"])
                    out.append(m)
            return out

    def wait_for(self, count, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(self.unique()) >= count:
                return self.unique()
            time.sleep(0.1)
        pytest.fail(f"{len(self.unique())} of {count} callbacks arrived: {self.unique()}; errors {self.errors}")

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def tenants_calling(tmp_path, url, key=KEY, token=TOKEN):
    """The fixture tenants with application A's callbacks going to `url`."""
    fixtures = ROOT / "tests" / "fixtures"
    data = json.loads((fixtures / "tenants.json").read_text())
    for app in data["Applications"]:
        for t in app["Templates"]:
            t["Pdf"] = str((fixtures / t["Pdf"]).resolve())
    app = data["Applications"][0]
    app["CallbackUrl"] = url
    if key is not None:
        app["CallbackKey"] = key.decode()
    if token is not None:
        app["CallbackToken"] = token
    path = tmp_path / "callback-tenants.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    return path


@pytest.fixture
def calling(db, tmp_path):
    """Starts (and restarts) qianshu on one database and data dir, its tenants calling back."""
    servers = []

    def _start(tenants=None, *extra_args):
        if tenants is not None:
            r = apply(db, tmp_path, tenants)
            assert r.returncode == 0, r.stderr
        s = Server(db, tmp_path, ["--rate-limit", "1000", *extra_args], HELPERS)
        servers.append(s)
        return s

    yield _start
    for s in servers:
        if s.proc.poll() is None:
            s.stop()


def kill_9(server):
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(timeout=10)


def by_stream(messages):
    flows, groups = {}, {}
    for m in messages:
        d = m["MsgData"]
        if m["MsgType"] == "FlowStatusChange":
            flows.setdefault(d["FlowId"], []).append(d)
        elif m["MsgType"] == "FlowGroupStatusChange":
            groups.setdefault(d["FlowGroupId"], []).append(d)
        else:
            assert m["MsgType"] == "CancelFlows", m
    return flows, groups


def test_every_change_is_called_back_in_order_through_500s_and_a_kill_9(calling, receiver, tmp_path):
    receiver.failing = True
    s = calling(tenants_calling(tmp_path, receiver.url), "--callback-allow-private")
    g = create(s, group(flow(CustomerData=CUSTOMER_DATA), flow(NDA)))
    group_id, flow_ids = g["FlowGroupId"], g["FlowIds"]
    employee_url, person_url = link(s, group_id, EMPLOYEE_LINK), link(s, group_id, PERSON_LINK)
    assert helper_sign(s, employee_url) == (200, {"FlowIds": flow_ids})
    deadline = time.time() + 30
    while receiver.requests < 4 and time.time() < deadline:
        time.sleep(0.05)
    assert receiver.requests >= 4, "the server never tried to call back"

    kill_9(s)
    s = calling(None, "--callback-allow-private")
    assert helper_sign(s, person_url, SignatureText="张三", FormFields=CONTACT) == (200, {"FlowIds": flow_ids})
    receiver.failing = False
    # Per contract start, sign, sign, finish; per group creation and two signings.
    messages = receiver.wait_for(2 * 4 + 3)
    assert receiver.errors == []
    time.sleep(1)
    assert len(receiver.unique()) == 11, receiver.unique()

    assert {(m["MsgType"], m["MsgVersion"]) for m in messages} == {
        ("FlowStatusChange", "ThirdPartyApp"), ("FlowGroupStatusChange", "ThirdPartyApp")}
    flows, groups = by_stream(messages)
    assert sorted(flows) == sorted(flow_ids)
    for flow_id in flow_ids:
        seen = flows[flow_id]
        assert [(d["Operate"], d["FlowStatus"], d["FlowCallbackStatus"]) for d in seen] == [
            ("start", "INIT", 1), ("sign", "PART", 2), ("sign", "ALL", 4), ("finish", "ALL", 4)], seen
        # Each message tells the contract as it was at that change.
        assert [[a["ApproveStatus"] for a in d["Approvers"]] for d in seen] == [
            ["PENDING", "PENDING"], ["ACCEPT", "PENDING"], ["ACCEPT", "ACCEPT"], ["ACCEPT", "ACCEPT"]]
        assert [[a["ApproveCallbackStatus"] for a in d["Approvers"]] for d in seen] == [
            [2, 2], [3, 2], [3, 3], [3, 3]]
        assert [d["SignId"] != "" for d in seen] == [False, True, True, False]
        for d in seen:
            assert (d["FlowGroupId"], d["FlowGroupName"], d["AppId"]) == (
                group_id, "2023年张三入职合同组合", "qianshuTestAppA00000000000000000")
            assert (d["ProxyOrganizationOpenId"], d["ProxyOperatorOpenId"]) == ("kev_open_organization_8", "kev_8")
        employee, person = seen[3]["Approvers"]
        assert (employee["ApproverName"], employee["ApproverType"], employee["ProxyOperatorOpenId"]) == (
            "王五", 0, "kev_8")
        assert (person["ApproverName"], person["ApproverMobile"], person["ApproverType"]) == (
            "张三", "18888888888", 1)
        assert seen[1]["RecipientId"] == employee["RecipientId"] and seen[2]["RecipientId"] == person["RecipientId"]
    assert [d["CustomerData"] for d in flows[flow_ids[0]]] == [CUSTOMER_DATA] * 4
    assert [d["CustomerData"] for d in flows[flow_ids[1]]] == [""] * 4
    assert list(groups) == [group_id]
    assert [(d["FlowGroupStatus"], [f["FlowStatus"] for f in d["FlowInfos"]]) for d in groups[group_id]] == [
        ("WAITSIGN", ["INIT", "INIT"]), ("WAITSIGN", ["PART", "PART"]), ("ALL", ["ALL", "ALL"])]
    assert [f["FlowId"] for f in groups[group_id][0]["FlowInfos"]] == flow_ids


def test_a_refusal_is_called_back_with_its_reason_signed_but_not_encrypted(db, tmp_path):
    receiver = Receiver(key=None)
    s = None
    try:
        r = apply(db, tmp_path, tenants_calling(tmp_path, receiver.url, key=None))
        assert r.returncode == 0, r.stderr
        s = Server(db, tmp_path, ["--callback-allow-private"], HELPERS)
        g = create(s, group(flow(), flow(NDA)))
        url = link(s, g["FlowGroupId"], EMPLOYEE_LINK)
        assert helper_sign(s, url, Reject=True, Reason="条款有误") == (200, {"FlowIds": g["FlowIds"]})
        flows, groups = by_stream(receiver.wait_for(2 * 2 + 2))
        assert receiver.errors == []
        for flow_id in g["FlowIds"]:
            assert [(d["Operate"], d["FlowStatus"], d["FlowCallbackStatus"], d["FlowMessage"]) for d in flows[flow_id]] == [
                ("start", "INIT", 1, ""), ("reject", "REJECT", 3, "条款有误")]
            employee = flows[flow_id][1]["Approvers"][0]
            assert (employee["ApproveStatus"], employee["ApproveCallbackStatus"], employee["ApproveMessage"]) == (
                "REJECT", 4, "条款有误")
            assert employee["ApproveTime"] > 0
        assert [d["FlowGroupStatus"] for d in groups[g["FlowGroupId"]]] == ["WAITSIGN", "INVALID"]
    finally:
        if s is not None:
            s.stop()
        receiver.close()


def test_a_loopback_callback_url_waits_until_private_addresses_are_allowed(calling, receiver, tmp_path):
    s = calling(tenants_calling(tmp_path, receiver.url.replace("127.0.0.1", "localhost")))
    g = create(s, group(flow(), flow(NDA)))
    time.sleep(3)
    assert receiver.requests == 0
    s.stop()
    assert "private or loopback" in s.proc.stderr.read()
    calling(None, "--callback-allow-private")
    flows, groups = by_stream(receiver.wait_for(3, timeout=30))
    assert sorted(flows) == sorted(g["FlowIds"]) and list(groups) == [g["FlowGroupId"]]


def test_two_nodes_deliver_each_message_once_at_a_time_and_in_order(calling, tmp_path):
    # Slow answers, every third one a 500: both nodes compete for the same outbox meanwhile.
    receiver = Receiver(delay=0.2, answer=lambda n: 500 if n % 3 == 0 else 200)
    try:
        first = calling(tenants_calling(tmp_path, receiver.url), "--callback-allow-private")
        second = calling(None, "--callback-allow-private")
        groups = [create(node, group(flow(), flow(NDA))) for node in (first, second, first, second)]
        for g, node in zip(groups, (second, first, second, first)):
            assert helper_sign(node, link(node, g["FlowGroupId"], EMPLOYEE_LINK))[0] == 200
        messages = receiver.wait_for(len(groups) * (2 * 2 + 2))
        assert (receiver.errors, receiver.overlaps) == ([], [])
        flows, by_group = by_stream(messages)
        for g in groups:
            for flow_id in g["FlowIds"]:
                assert [d["Operate"] for d in flows[flow_id]] == ["start", "sign"]
            assert [[f["FlowStatus"] for f in d["FlowInfos"]] for d in by_group[g["FlowGroupId"]]] == [
                ["INIT", "INIT"], ["PART", "PART"]]
    finally:
        receiver.close()


def test_cancels_expiries_and_batch_cancels_are_called_back(calling, receiver, tmp_path):
    s = calling(tenants_calling(tmp_path, receiver.url), "--callback-allow-private")
    now = advance(s, 0)
    cancelled = create(s, group(flow(), flow(NDA)))
    expiring = create(s, group(flow(Deadline=now + 3600), flow(NDA, Deadline=now + 7200)))
    first, second = cancelled["FlowIds"]
    cancel(s, first, CancelMessage="条款有误")
    r = batch(s, [first, second], CancelMessage="重新发起")
    assert r["FailMessages"][1] == "" and r["FailMessages"][0].endswith("合同当前状态不支持撤销"), r
    advance(s, 3600 + 60)
    # Two groups of two created (3 messages each), one cancel and a batch cancel (2 each, and
    # the batch's CancelFlows), one expiry (2).
    messages = receiver.wait_for(2 * 3 + 2 + 3 + 2)
    assert receiver.errors == []
    flows, groups = by_stream(messages)
    assert [(d["Operate"], d["FlowStatus"], d["FlowCallbackStatus"], d["FlowMessage"]) for d in flows[first]] == [
        ("start", "INIT", 1, ""), ("cancel", "CANCEL", 6, "条款有误")]
    assert [[a["ApproveCallbackStatus"] for a in d["Approvers"]] for d in flows[first]] == [[2, 2], [6, 6]]
    assert [(d["Operate"], d["FlowStatus"]) for d in flows[second]] == [("start", "INIT"), ("cancel", "CANCEL")]
    assert [d["FlowGroupStatus"] for d in groups[cancelled["FlowGroupId"]]] == ["WAITSIGN", "PART", "INVALID"]
    [task] = [m["MsgData"] for m in messages if m["MsgType"] == "CancelFlows"]
    assert task == {
        "AppId": "qianshuTestAppA00000000000000000", "ProxyOrganizationOpenId": "kev_open_organization_8",
        "TaskId": r["TaskId"], "TaskStatus": "END", "SuccessFlowIds": [second],
        "FailureFlows": [{"FlowId": first, "Reason": "合同当前状态不支持撤销", "FlowName": "2023年张三入职合同"}],
        "OccurTime": task["OccurTime"]}
    early, late = expiring["FlowIds"]
    assert [(d["Operate"], d["FlowStatus"], d["FlowCallbackStatus"]) for d in flows[early]] == [
        ("start", "INIT", 1), ("deadline", "DEADLINE", 5)]
    assert [[a["ApproveCallbackStatus"] for a in d["Approvers"]] for d in flows[early]] == [[2, 2], [5, 5]]
    assert [(d["Operate"]) for d in flows[late]] == ["start"]
    assert [d["FlowGroupStatus"] for d in groups[expiring["FlowGroupId"]]] == ["WAITSIGN", "PART"]
