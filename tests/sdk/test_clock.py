"""The test helpers' clock (`QIANSHU_TEST_HELPERS=true`): business time moves, TC3 does not."""

import base64
import json
import time
import urllib.error
import urllib.request

from conftest import AGENT_A, ROOT, call

PDF = (ROOT / "examples" / "templates" / "confidentiality-agreement.pdf").read_bytes()


def http(method, url, body=None):
    request = urllib.request.Request(url, method=method, data=body and json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def upload(server):
    infos = [{"FileBody": base64.b64encode(PDF).decode(), "FileName": "a.pdf"}]
    return call(server.client(), "UploadFiles", {"Agent": AGENT_A, "BusinessType": "DOCUMENT", "FileInfos": infos})


def test_advancing_the_clock_expires_links_and_moves_deadlines_while_sdk_calls_still_pass(start):
    server = start(env={"QIANSHU_TEST_HELPERS": "true"})
    link = upload(server)["FileUrls"][0]
    assert http("GET", link)[0] == 200

    status, body = http("POST", f"http://{server.address}/_qianshu/clock", {"AdvanceSeconds": 301})
    assert status == 200
    now = json.loads(body)["Now"]
    assert list(json.loads(body)) == ["Now"]
    assert int(time.time()) + 300 <= now <= int(time.time()) + 301

    assert http("GET", link) == (404, b"not found")
    # The SDK signs with the wall clock and is still accepted; the new file's default
    # Deadline (an hour) counts from business time.
    deadline = upload(server)["Deadline"]
    assert now + 3600 <= deadline <= int(time.time()) + 301 + 3600

    status, body = http("POST", f"http://{server.address}/_qianshu/clock", {"AdvanceSeconds": -1})
    assert status == 400
    assert json.loads(body)["Error"]["Code"] == "InvalidParameter"
