"""Fixtures for the SDK suite: the real qianshu binary on port 0 with a fresh database (a SQLite
file, or a new PostgreSQL database), loaded by `qianshu apply`, called through the official
tencentcloud-sdk-python-essbasic. Every test runs on both backends."""

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.essbasic.v20210526 import essbasic_client

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("QIANSHU_BIN", ROOT / "target" / "debug" / "qianshu"))
TENANTS = ROOT / "tests" / "fixtures" / "tenants.json"
POSTGRES = os.environ.get("QIANSHU_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")

APP_A = "qianshuTestAppA00000000000000000"
APP_B = "qianshuTestAppB00000000000000000"
KEYS = {
    "A": ("AKIDtestA", "testSecretKeyA0000000000000000000"),
    "A2": ("AKIDtestA2", "testSecretKeyA2000000000000000000"),
    "B": ("AKIDtestB", "testSecretKeyB0000000000000000000"),
}
AGENT_A = {"AppId": APP_A, "ProxyOrganizationOpenId": "kev_open_organization_8", "ProxyOperator": {"OpenId": "kev_8"}}
AGENT_B = {"AppId": APP_B, "ProxyOrganizationOpenId": "b_org", "ProxyOperator": {"OpenId": "b_op"}}


def psql(admin_url, sql):
    u = urlparse(admin_url)
    return subprocess.run(
        ["psql", "-h", u.hostname or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres",
         "-d", u.path.lstrip("/") or "postgres", "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
        capture_output=True, text=True, timeout=30,
    )


_pg_state = {}


def postgres_available():
    if "ok" not in _pg_state:
        try:
            r = psql(POSTGRES, "SELECT 1")
            _pg_state["ok"] = r.returncode == 0
            _pg_state["why"] = r.stderr.strip()
        except (OSError, subprocess.TimeoutExpired) as e:
            _pg_state["ok"], _pg_state["why"] = False, str(e)
    return _pg_state["ok"]


class Database:
    def __init__(self, backend, tmp):
        self.backend = backend
        self.name = None
        if backend == "sqlite":
            self.url = f"sqlite://{tmp / 'qianshu.db'}"
        else:
            if not postgres_available():
                if os.environ.get("CI") == "true":
                    pytest.fail(f"PostgreSQL at {POSTGRES} is required on CI: {_pg_state['why']}")
                pytest.skip(f"SKIPPED: PostgreSQL half (no PostgreSQL at {POSTGRES}: {_pg_state['why']})")
            self.name = "qianshu_sdk_" + uuid.uuid4().hex
            r = psql(POSTGRES, f"CREATE DATABASE {self.name}")
            assert r.returncode == 0, r.stderr
            self.url = POSTGRES.rsplit("/", 1)[0] + "/" + self.name

    def drop(self):
        if self.name:
            psql(POSTGRES, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


class Server:
    """A running `qianshu serve`."""

    def __init__(self, db, data_dir, extra_args=(), env=None):
        self.db = db
        self.data_dir = data_dir
        self.base_args = [str(BIN), "--data-dir", str(data_dir), "--database-url", db.url]
        self.proc = subprocess.Popen(
            self.base_args + ["serve", "--listen", "127.0.0.1:0", *extra_args],
            # Nobody reads stderr until the server stops: a log line per call at info would fill
            # the pipe and stall the server, so tests that read info lines ask for them.
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={"QIANSHU_LOG": "warn", **os.environ, **(env or {})},
        )
        deadline = time.time() + 30
        self.address = None
        self.banner = []
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.banner.append(line)
            m = re.match(r"qianshu listening on http://(\S+)", line)
            if m:
                self.address = m.group(1)
                break
        if self.address is None:
            self.proc.kill()
            raise RuntimeError("qianshu did not start: " + self.proc.stderr.read())

    def client(self, who="A", method="POST", language="zh-CN"):
        sid, key = KEYS[who] if isinstance(who, str) else who
        hp = HttpProfile(protocol="http", endpoint=self.address, reqMethod=method)
        return essbasic_client.EssbasicClient(credential.Credential(sid, key), "", ClientProfile(httpProfile=hp, language=language))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def apply(db, data_dir, tenants=TENANTS):
    return subprocess.run(
        [str(BIN), "--data-dir", str(data_dir), "--database-url", db.url, "apply", str(tenants)],
        capture_output=True, text=True, timeout=60,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    d = Database(request.param, tmp_path)
    yield d
    d.drop()


@pytest.fixture
def start(db, tmp_path):
    """Starts qianshu on the fixture tenants; call it with extra serve flags if needed."""
    servers = []

    def _start(*extra_args, env=None, tenants=TENANTS):
        r = apply(db, tmp_path, tenants)
        assert r.returncode == 0, r.stderr
        s = Server(db, tmp_path, extra_args, env)
        servers.append(s)
        return s

    yield _start
    for s in servers:
        s.stop()


@pytest.fixture
def server(start):
    return start()


def call(client, action, params):
    """Calls `action` with raw parameters (unknown names included) and returns the response dict,
    or raises TencentCloudSDKException."""
    body = client.call_json(action, params)
    return body["Response"]


def error_of(client, action, params):
    """The (code, message) an action fails with; fails the test if it succeeds."""
    try:
        r = call(client, action, params)
    except TencentCloudSDKException as e:
        return e.code, e.message
    pytest.fail(f"{action} succeeded: {json.dumps(r, ensure_ascii=False)}")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared_server(request, tmp_path_factory):
    """One server per backend for a whole module, for tests that do not depend on quota."""
    tmp = tmp_path_factory.mktemp("shared")
    d = Database(request.param, tmp)
    r = apply(d, tmp)
    assert r.returncode == 0, r.stderr
    s = Server(d, tmp, ["--rate-limit", "1000"])
    yield s
    s.stop()
    d.drop()


def use_s3_bucket(monkeypatch, endpoint, prefix):
    """A new bucket on the S3-compatible server at `endpoint`, named from `prefix`, and the
    environment that makes a server started from now on keep its blobs in it (every AWS_
    variable of the caller's environment out of the way)."""
    import boto3
    bucket = prefix + uuid.uuid4().hex[:12]
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                      region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in [("AWS_ENDPOINT_URL", endpoint), ("AWS_ACCESS_KEY_ID", "test"),
                       ("AWS_SECRET_ACCESS_KEY", "test"), ("AWS_REGION", "us-east-1"), ("AWS_ALLOW_HTTP", "true"),
                       ("QIANSHU_BLOB_STORE", f"s3://{bucket}/documents")]:
        monkeypatch.setenv(key, value)
    return s3, bucket
