"""What an operator relies on, against the real binary: probes, metrics, the request log, a clean
stop on SIGTERM, `qianshu backup`, and the committed systemd unit's ExecStart line."""

import hashlib
import json
import os
import re
import shlex
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
from tencentcloud.common.sign import Sign

from conftest import APP_A, BIN, KEYS, ROOT, Server, apply, call, error_of, psql
from test_callbacks import Receiver, tenants_calling
from test_flow_groups import NDA, create, flow, group

LOG_INFO = {"QIANSHU_LOG": "info,sqlx=warn"}


def get(server, path):
    """(status, content type, body text) of a plain GET."""
    try:
        with urllib.request.urlopen(f"http://{server.address}{path}", timeout=10) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


def series(text):
    """Every sample of a Prometheus text exposition: {'name{labels}': value}."""
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def rows(db, sql):
    """The rows of `sql` in the server's database, as tuples of text."""
    if db.backend == "sqlite":
        with sqlite3.connect(db.url.removeprefix("sqlite://")) as c:
            return [tuple(str(v) for v in r) for r in c.execute(sql).fetchall()]
    r = psql(db.url, sql)
    assert r.returncode == 0, r.stderr
    return [tuple(line.split("|")) for line in r.stdout.splitlines() if line]


def stop(server, timeout=30):
    """SIGTERM, then the exit code and everything written to stderr."""
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(timeout=timeout)
    return code, server.proc.stderr.read()


def test_health_readiness_and_metrics_count_calls_by_action_and_code(start):
    s = start("--rate-limit", "1000", "--synthesis-workers", "0")
    assert get(s, "/healthz") == (200, "text/plain; charset=utf-8", "ok")
    assert get(s, "/readyz") == (200, "application/json", '{"database":"ok","blobs":"ok"}')
    client = s.client("A")
    agent = {"Agent": {"AppId": APP_A, "ProxyOrganizationOpenId": "kev_open_organization_8",
                       "ProxyOperator": {"OpenId": "kev_8"}}}
    for _ in range(2):
        call(client, "DescribeTemplates", agent)
    assert error_of(client, "DescribeTemplates", {**agent, "NoSuchField": 1})[0] == "UnknownParameter"
    create(s, group(flow(), flow(NDA)))

    status, content_type, text = get(s, "/metrics")
    assert (status, content_type) == (200, "text/plain; version=0.0.4; charset=utf-8")
    m = series(text)
    assert m['qianshu_requests_total{action="DescribeTemplates",code="Ok"}'] == 2
    assert m['qianshu_requests_total{action="DescribeTemplates",code="UnknownParameter"}'] == 1
    assert m['qianshu_requests_total{action="ChannelCreateFlowGroupByTemplates",code="Ok"}'] == 1
    assert m['qianshu_request_duration_seconds_count{action="DescribeTemplates"}'] == 3
    assert m['qianshu_request_duration_seconds_bucket{action="DescribeTemplates",le="+Inf"}'] == 3
    # No worker takes the two documents: the queue holds them; no callback URL, no callbacks.
    assert m['qianshu_queue_jobs{queue="documents"}'] == 2
    assert 0 <= m['qianshu_queue_oldest_job_age_seconds{queue="documents"}'] < 60
    assert m['qianshu_queue_jobs{queue="callbacks"}'] == 0
    assert m['qianshu_queue_oldest_job_age_seconds{queue="callbacks"}'] == 0
    assert m['qianshu_jobs_failed_total{queue="documents"}'] == 0
    assert m['qianshu_jobs_failed_total{queue="callbacks"}'] == 0
    assert "# TYPE qianshu_request_duration_seconds histogram" in text
    # The probes themselves are not API calls.
    assert not any("healthz" in k or "readyz" in k or "metrics" in k for k in m)


def test_readiness_names_the_blob_store_that_does_not_answer(db, tmp_path):
    assert apply(db, tmp_path).returncode == 0
    s = Server(db, tmp_path, ["--blob-store", "s3://nowhere"],
               {"AWS_ENDPOINT": "http://127.0.0.1:9", "AWS_ALLOW_HTTP": "true", "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"})
    try:
        assert get(s, "/healthz")[0] == 200
        assert get(s, "/readyz") == (503, "application/json", '{"database":"ok","blobs":"unavailable"}')
    finally:
        s.stop()


def test_one_json_log_line_per_call_with_its_action_app_code_time_and_request_id(start):
    s = start(env={**LOG_INFO, "QIANSHU_LOG_FORMAT": "json"})
    client = s.client("A")
    agent = {"Agent": {"AppId": APP_A, "ProxyOrganizationOpenId": "kev_open_organization_8",
                       "ProxyOperator": {"OpenId": "kev_8"}}}
    ok = call(client, "DescribeTemplates", agent)
    try:
        call(client, "DescribeTemplates", {**agent, "NoSuchField": 1})
        pytest.fail("an unknown parameter was accepted")
    except Exception as e:  # noqa: BLE001 - the SDK's exception carries the RequestId
        refused_id = e.requestId
    code, log = stop(s)
    assert code == 0, log
    lines = [json.loads(line) for line in log.splitlines()]
    requests = [line for line in lines if line.get("message") == "request"]
    assert len(requests) == 2, requests
    first, second = requests
    assert (first["level"], first["action"], first["app_id"], first["code"], first["request_id"]) == (
        "INFO", "DescribeTemplates", APP_A, "Ok", ok["RequestId"])
    assert (second["code"], second["request_id"]) == ("UnknownParameter", refused_id)
    assert isinstance(first["ms"], int) and first["ms"] >= 0
    for secret in (KEYS["A"][1], "testSecretKey"):
        assert secret not in log
    assert "NoSuchField" not in log, "bodies are never logged"


def signed_request(address, body, action="DescribeTemplates", key=KEYS["A"]):
    """Headers of a TC3-signed POST of `body`, as bytes to write on a socket."""
    ts = int(time.time())
    date = time.strftime("%Y-%m-%d", time.gmtime(ts))
    canonical = (f"POST\n/\n\ncontent-type:application/json\nhost:{address}\n\ncontent-type;host\n"
                 f"{hashlib.sha256(body).hexdigest()}")
    to_sign = f"TC3-HMAC-SHA256\n{ts}\n{date}/essbasic/tc3_request\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    sig = Sign.sign_tc3(key[1], date, "essbasic", to_sign)
    return (f"POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n"
            f"X-TC-Action: {action}\r\nX-TC-Version: 2021-05-26\r\nX-TC-Timestamp: {ts}\r\n"
            f"Authorization: TC3-HMAC-SHA256 Credential={key[0]}/{date}/essbasic/tc3_request, "
            f"SignedHeaders=content-type;host, Signature={sig}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()


def test_sigterm_answers_the_request_in_flight_hands_callbacks_back_and_exits_0(db, tmp_path):
    receiver = Receiver(delay=60)
    try:
        assert apply(db, tmp_path, tenants_calling(tmp_path, receiver.url)).returncode == 0
        s = Server(db, tmp_path, ["--callback-allow-private", "--drain-timeout-ms", "20000"], LOG_INFO)
        create(s, group(flow(), flow(NDA)))
        deadline = time.time() + 30
        while not receiver.in_flight and time.time() < deadline:
            time.sleep(0.05)
        assert receiver.in_flight, "no callback was being delivered"
        held = rows(db, "SELECT msg_id FROM callback_outbox WHERE state = 'PENDING' AND lease_token IS NOT NULL")
        assert held, "the delivery in progress holds a lease"

        body = json.dumps({"Agent": {"AppId": APP_A, "ProxyOrganizationOpenId": "kev_open_organization_8",
                                     "ProxyOperator": {"OpenId": "kev_8"}}}).encode()
        host, port = s.address.rsplit(":", 1)
        stalled = socket.create_connection((host, int(port)), timeout=30)
        stalled.sendall(signed_request(s.address, body) + body[:10])
        time.sleep(0.5)
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert s.proc.poll() is None, "the server left before answering the request in flight"
        stalled.sendall(body[10:])
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = stalled.recv(65536)
            if not chunk:
                break
            answer += chunk
        stalled.close()
        head, payload = answer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200"), head
        assert "Templates" in json.loads(payload)["Response"], payload

        assert s.proc.wait(timeout=30) == 0
        log = s.proc.stderr.read()
        assert re.search(r"handed back 0 document job\(s\) and [1-9]\d* callback\(s\)", log), log
        now_ms = int(time.time() * 1000)
        pending = rows(db, "SELECT msg_id, lease_token, attempts, due_at FROM callback_outbox WHERE state = 'PENDING'")
        assert {r[0] for r in pending} >= {h[0] for h in held}
        for msg_id, token, attempts, due_at in pending:
            assert token in ("None", ""), f"{msg_id} is still leased"
            assert attempts == "0", f"{msg_id}: a handed back delivery is not an attempt"
            assert int(due_at) <= now_ms, f"{msg_id} is not claimable at once"
    finally:
        receiver.close()


def ledger(path):
    """Per application: (quota used, ledger sum, contracts), read from a SQLite file."""
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return {
            app: (used,
                  c.execute("SELECT COALESCE(SUM(units), 0) FROM quota_ledger WHERE app_id = ?", (app,)).fetchone()[0],
                  c.execute("SELECT COUNT(*) FROM flows WHERE app_id = ?", (app,)).fetchone()[0])
            for app, used in c.execute("SELECT app_id, flow_quota_used FROM applications")
        }


def backup(db, data_dir, file):
    return subprocess.run([str(BIN), "--data-dir", str(data_dir), "--database-url", db.url, "backup", str(file)],
                          capture_output=True, text=True, timeout=60)


def test_backup_copies_a_consistent_sqlite_database_while_groups_are_written(start, db, tmp_path):
    target = tmp_path / "backup.db"
    if db.backend == "postgres":
        r = backup(db, tmp_path, target)
        assert r.returncode != 0
        assert "pg_dump" in r.stderr and "README" in r.stderr, r.stderr
        assert not target.exists()
        return
    s = start("--rate-limit", "1000", "--synthesis-workers", "0")
    created, stopping = [], threading.Event()

    def writer():
        while not stopping.is_set():
            created.append(create(s, group(flow(), flow(NDA)))["FlowGroupId"])

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(created) < 3:
            time.sleep(0.05)
        r = backup(db, tmp_path, target)
        at_backup = len(created)
        time.sleep(0.3)
    finally:
        stopping.set()
        thread.join(timeout=60)
    assert r.returncode == 0, r.stderr
    assert len(created) > at_backup, "the writer went on during the backup"
    copied = ledger(target)
    used, ledger_sum, contracts = copied[APP_A]
    assert used == ledger_sum == contracts and contracts % 2 == 0 and contracts >= 6, copied
    with sqlite3.connect(target) as c:
        groups = c.execute("SELECT COUNT(*) FROM flow_groups").fetchone()[0]
    assert groups * 2 == contracts

    again = backup(db, tmp_path, target)
    assert again.returncode != 0 and "exists already" in again.stderr, again.stderr


def test_the_systemd_units_exec_start_line_serves_and_is_ready(db, tmp_path):
    unit = (ROOT / "deploy" / "qianshu.service").read_text()
    exec_start = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    assert len(exec_start) == 1, exec_start
    argv = shlex.split(exec_start[0].removeprefix("ExecStart="))
    assert argv[0] == "/usr/local/bin/qianshu"
    argv = [str(BIN)] + [a.replace("/var/lib/qianshu", str(tmp_path)) for a in argv[1:]]
    env_file = [line.removeprefix("EnvironmentFile=") for line in unit.splitlines()
                if line.startswith("EnvironmentFile=")]
    assert env_file == ["/etc/qianshu/qianshu.env"]
    example = (ROOT / "deploy" / "qianshu.env").read_text()
    assert re.search(r"^QIANSHU_DATABASE_URL=", example, re.M) and re.search(r"^QIANSHU_MASTER_KEY=", example, re.M)
    env = {"QIANSHU_DATABASE_URL": db.url, "QIANSHU_LISTEN": "127.0.0.1:0", "QIANSHU_MASTER_KEY": "ab" * 32}
    assert subprocess.run(argv[:argv.index("serve")] + ["apply", str(ROOT / "tests" / "fixtures" / "tenants.json")],
                          env={**os.environ, **env}, capture_output=True, timeout=60).returncode == 0
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, **env})
    try:
        address = None
        for line in proc.stdout:
            m = re.match(r"qianshu listening on http://(\S+)", line)
            if m:
                address = m.group(1)
                break
        assert address, "the unit's command did not start"
        with urllib.request.urlopen(f"http://{address}/readyz", timeout=10) as r:
            assert (r.status, json.loads(r.read())) == (200, {"database": "ok", "blobs": "ok"})
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
