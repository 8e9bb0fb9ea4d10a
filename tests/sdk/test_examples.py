"""The README's worked examples run as they are against a demo server, so they cannot rot; and the
retryer note: the SDK's StandardRetryer duplicates a group after a RequestLimitExceeded, the
example's JudgingRetryer creates exactly one."""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import urllib.request
import uuid

import pytest
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.retry import StandardRetryer
from tencentcloud.essbasic.v20210526 import essbasic_client

from conftest import KEYS, ROOT, Server, call
from test_documents import sql
from test_flow_groups import group

EXAMPLES = ROOT / "examples"
NODE_DIR = ROOT / "tests" / "node"


def demo_server(db, tmp_path):
    return Server(db, tmp_path, ["--demo"])


def expect_a_group_and_its_links(server, out):
    """The examples' output: the group, then each signer's link for each of its two contracts."""
    lines = out.splitlines()
    m = re.fullmatch(r"FlowGroupId ([A-Za-z0-9]{32}), FlowIds ([A-Za-z0-9]{32}), ([A-Za-z0-9]{32})", lines[0])
    assert m, out
    group_id, first, second = m.groups()
    link = rf"http://{re.escape(server.address)}/s/[A-Za-z0-9_-]{{43}}"
    expected = [("王五", first), ("张三", first), ("王五", second), ("张三", second)]
    assert len(lines) == 1 + len(expected), out
    for line, (name, flow_id) in zip(lines[1:], expected):
        assert re.fullmatch(rf"{name} signs {flow_id}: {link}", line), line
    assert sql(server, f"SELECT name FROM flow_groups WHERE flow_group_id = '{group_id}'") == [("张三入职合同",)]
    with urllib.request.urlopen(lines[1].rsplit(": ", 1)[1], timeout=30) as page:
        assert page.status == 200


def test_the_python_example_creates_a_group_and_prints_its_links(db, tmp_path):
    server = demo_server(db, tmp_path)
    try:
        r = subprocess.run([sys.executable, str(EXAMPLES / "first-group.py")],
                           capture_output=True, text=True, timeout=120,
                           env={**os.environ, "QIANSHU_ENDPOINT": server.address})
        assert r.returncode == 0, r.stderr
        expect_a_group_and_its_links(server, r.stdout)
    finally:
        server.stop()


def test_the_node_example_creates_a_group_and_prints_its_links(db, tmp_path):
    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "tencentcloud-sdk-nodejs").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("node and tests/node's SDK are required on CI (scripts/test.sh installs them)")
        pytest.skip("SKIPPED: the Node example (no node, or tests/node has no node_modules: run scripts/test.sh)")
    # The example imports the SDK by name: a byte-identical copy beside tests/node's node_modules
    # resolves it there, as it would beside the reader's own `npm install`.
    copy = NODE_DIR / f".first-group-{uuid.uuid4().hex}.mjs"
    shutil.copyfile(EXAMPLES / "first-group.mjs", copy)
    server = demo_server(db, tmp_path)
    try:
        r = subprocess.run(["node", str(copy)], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "QIANSHU_ENDPOINT": server.address})
        assert r.returncode == 0, r.stderr
        expect_a_group_and_its_links(server, r.stdout)
    finally:
        server.stop()
        copy.unlink()


def judging_retryer():
    spec = importlib.util.spec_from_file_location("retryer", EXAMPLES / "retryer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.JudgingRetryer


class CountingStandardRetryer(StandardRetryer):
    """The SDK's own retryer, unchanged but for counting its retries through its logging hook."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.retries = 0

    def on_retry(self, n, sleep, resp, err):
        self.retries += 1


# One call of ChannelCreateFlowGroupByTemplates a second: the call before the retryer's takes the
# second's room, so its first attempt is refused; 1.5 s later there is room again.
ONE_A_SECOND = ["--rate-limits", "ChannelCreateFlowGroupByTemplates=1"]
BACKOFF = 1.5


def client_with(server, retryer):
    hp = HttpProfile(protocol="http", endpoint=server.address)
    return essbasic_client.EssbasicClient(credential.Credential(*KEYS["A"]), "",
                                          ClientProfile(httpProfile=hp, retryer=retryer))


def create_with(server, retryer, name):
    # The limit is judged before the parameters, so a call with no contracts takes this second's
    # room and creates nothing.
    with pytest.raises(TencentCloudSDKException):
        call(server.client(), "ChannelCreateFlowGroupByTemplates", {**group(name=name), "FlowInfos": []})
    return call(client_with(server, retryer), "ChannelCreateFlowGroupByTemplates", group(name=name))


def groups_named(server, name):
    return int(sql(server, f"SELECT COUNT(*) FROM flow_groups WHERE name = '{name}'")[0][0])


def refused_first(retryer):
    """Whether the retryer's first attempt met the limit; a loaded machine may take more than the
    second between the two calls, and then the scenario is tried again."""
    return retryer.retries > 0


def test_the_sdks_standard_retryer_duplicates_a_group_and_raises(start):
    server = start(*ONE_A_SECOND)
    for attempt in range(5):
        name = f"标准重试{attempt}"
        retryer = CountingStandardRetryer(max_attempts=3, backoff_fn=lambda n: BACKOFF)
        try:
            create_with(server, retryer, name)
            outcome = "returned"
        except TencentCloudSDKException as e:
            outcome = e.code
        if refused_first(retryer):
            break
        assert (outcome, groups_named(server, name)) == ("returned", 1)
    else:
        pytest.fail("the first attempt was never refused in 5 tries")
    # Refused, then created, then judged by the first error: sent again, created again, and raised
    # (its hook runs after each of the 3 attempts, the last one too).
    assert (outcome, retryer.retries, groups_named(server, name)) == ("RequestLimitExceeded", 3, 2)


def test_a_retryer_that_judges_each_attempt_creates_exactly_one_group(start):
    server = start(*ONE_A_SECOND)
    JudgingRetryer = judging_retryer()
    for attempt in range(5):
        name = f"逐次判断{attempt}"
        retryer = JudgingRetryer(max_attempts=3, backoff=lambda n: BACKOFF)
        r = create_with(server, retryer, name)
        if refused_first(retryer):
            break
    else:
        pytest.fail("the first attempt was never refused in 5 tries")
    assert (retryer.retries, groups_named(server, name)) == (1, 1)
    assert sql(server, f"SELECT flow_group_id FROM flow_groups WHERE name = '{name}'") == [(r["FlowGroupId"],)]
