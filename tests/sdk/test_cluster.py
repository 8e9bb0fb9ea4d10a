"""Two qianshu nodes on one PostgreSQL database, one S3-compatible bucket (moto's, started by
scripts/test.sh) and one Redis, each with a data directory of its own and the same master key:
what one node makes, the other reads, renders, downloads and signs; quota and rate limits hold for
both together. Needs all three services: without one these tests say SKIPPED (and fail under
CI=true)."""

import hashlib
import os
import socket
import threading
import time
import urllib.parse
import uuid

import pytest

from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from conftest import APP_B, Database, Server, apply, call, psql, use_s3_bucket
from test_documents import download, text_of
from test_flow_groups import AGENT_A, EMPLOYEE, NDA, b_group, create, detail, flow, group
from test_signing import helper_sign, http, link, statuses

REDIS = os.environ.get("QIANSHU_TEST_REDIS_URL", "redis://127.0.0.1:6379")
RATE_LIMITED = "DescribeTemplates"
RATE_LIMIT = 2


def missing(what, why):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required on CI: {why}")
    pytest.skip(f"SKIPPED: the two-node tests need {what}: {why}")


def redis_answers(url):
    u = urllib.parse.urlparse(url)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def two_nodes(tmp_path, monkeypatch):
    endpoint = os.environ.get("QIANSHU_TEST_S3_ENDPOINT")
    if not endpoint:
        missing("an S3-compatible server", "QIANSHU_TEST_S3_ENDPOINT is not set (scripts/test.sh starts moto_server)")
    if not redis_answers(REDIS):
        missing("Redis", f"nothing answers PING at {REDIS}")
    db = Database("postgres", tmp_path)
    s3, bucket = use_s3_bucket(monkeypatch, endpoint, "qianshu-cluster-")
    for key, value in [("QIANSHU_MASTER_KEY", os.urandom(32).hex()),
                       ("QIANSHU_REDIS_URL", REDIS),
                       ("QIANSHU_REDIS_KEY_PREFIX", "qianshu-test-" + uuid.uuid4().hex),
                       # Generous, so that a loaded machine never makes a node judge alone here.
                       ("QIANSHU_REDIS_TIMEOUT_MS", "2000"),
                       ("QIANSHU_TEST_HELPERS", "true")]:
        monkeypatch.setenv(key, value)
    nodes = []
    try:
        for name in ("a", "b"):
            data_dir = tmp_path / name
            data_dir.mkdir()
            if not nodes:
                r = apply(db, data_dir)
                assert r.returncode == 0, r.stderr
            nodes.append(Server(db, data_dir, ["--rate-limit", "1000", "--rate-limits", f"{RATE_LIMITED}={RATE_LIMIT}"]))
        yield db, bucket, s3, nodes
    finally:
        for node in nodes:
            node.stop()
        db.drop()


def test_a_group_made_on_one_node_is_read_rendered_downloaded_and_signed_through_the_other(two_nodes, tmp_path):
    db, bucket, s3, (a, b) = two_nodes
    g = create(a, group(flow(), flow(NDA)))
    by_group = detail(b, FlowGroupId=g["FlowGroupId"])
    assert [f["FlowId"] for f in by_group["FlowInfo"]] == g["FlowIds"]
    assert [f["FlowId"] for f in detail(b, FlowIds=g["FlowIds"])["FlowInfo"]] == g["FlowIds"]

    pdf = download(b, g["FlowIds"][0], tmp_path)
    assert "张三" in text_of(pdf)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
    assert f"documents/sha256/{sha[:2]}/{sha}" in keys, keys
    assert not (tmp_path / "a" / "blobs").exists() and not (tmp_path / "b" / "blobs").exists()

    url = link(a, g["FlowGroupId"], {k: EMPLOYEE[k] for k in ("OpenId", "OrganizationOpenId", "ApproverType")})
    assert url.startswith(f"http://{a.address}/s/")
    on_b = url.replace(a.address, b.address, 1)
    status, page = http(b, "GET", urllib.parse.urlparse(on_b).path)
    assert status == 200 and "2023年张三入职合同" in page, page[:500]
    status, body = helper_sign(b, on_b)
    assert (status, body) == (200, {"FlowIds": g["FlowIds"]}), body
    assert statuses(a, g["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"])] * 2


def test_forty_creates_split_across_both_nodes_take_exactly_the_quota(two_nodes):
    db, _, _, nodes = two_nodes
    results = []
    lock = threading.Lock()
    start = threading.Barrier(40)

    def one(node):
        start.wait()
        try:
            outcome = len(create(node, b_group(2), who="B")["FlowIds"])
        except Exception as e:  # noqa: BLE001 - the code is what we check
            outcome = e.code
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=one, args=(nodes[i % 2],)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str) == [2] * 5 + ["OperationDenied.NoQuota"] * 35

    def scalar(sql):
        r = psql(db.url, sql)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    assert scalar(f"SELECT flow_quota_used FROM applications WHERE app_id = '{APP_B}'") == "10"
    assert scalar(f"SELECT SUM(units) FROM quota_ledger WHERE app_id = '{APP_B}'") == "10"
    assert scalar(f"SELECT COUNT(*) FROM flows WHERE app_id = '{APP_B}'") == "10"
    assert scalar(f"SELECT COUNT(*) FROM flow_groups WHERE app_id = '{APP_B}'") == "5"


def test_the_rate_limit_holds_for_both_nodes_together(two_nodes):
    _, _, _, nodes = two_nodes
    interval = 1 / RATE_LIMIT
    # Calls judged further apart than one emission interval may rightly be allowed by the time
    # that passed; the count is checked on a round that fitted in one.
    for _ in range(5):
        outcomes = []
        lock = threading.Lock()

        def one(node):
            try:
                call(node.client(), RATE_LIMITED, {"Agent": AGENT_A})
                outcome = "allowed"
            except TencentCloudSDKException as e:
                outcome = e.code
            with lock:
                outcomes.append(outcome)

        threads = [threading.Thread(target=one, args=(nodes[i % 2],)) for i in range(8)]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if time.monotonic() - began < interval:
            # Each node alone would allow RATE_LIMIT: 2 × RATE_LIMIT in all.
            assert sorted(outcomes) == ["RequestLimitExceeded"] * (8 - RATE_LIMIT) + ["allowed"] * RATE_LIMIT
            return
        time.sleep(RATE_LIMIT * interval + 0.1)
    pytest.fail("eight calls never fitted in one emission interval on this machine")
