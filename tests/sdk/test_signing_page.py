"""The signing page's server side through plain HTTP, as a browser without script would use it:
`GET /s/{token}`, `POST /s/{token}/code` (the one-time code, read back from the test helpers'
outbox) and `POST /s/{token}/sign`, on both backends. The business clock stands in for waiting."""

import base64
import json
import re
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request

from test_documents import png, sql
from test_signing import (  # noqa: F401 (signer_server is a fixture)
    CONTACT, EMPLOYEE_LINK, PERSON_LINK, advance, document, helper_sign, link, signer_server, statuses)
from test_flow_groups import NDA, create, flow, group

ALERT = re.compile(r'<p class="error" role="alert">([^<]*)</p>')
WRONG = "验证码错误或已失效，请重新输入或重新获取。"
LOCKED = "验证码错误次数过多，链接已锁定"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def request(server, method, path, form=None):
    """(status, headers, text) without following redirects."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
    req = urllib.request.Request(f"http://{server.address}{path}", data=data, method=method, headers=headers)
    try:
        with OPENER.open(req, timeout=60) as r:
            return r.status, r.headers, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode(errors="replace")


def path_of(url):
    return urllib.parse.urlparse(url).path


def send_code(server, url):
    status, headers, body = request(server, "POST", path_of(url) + "/code")
    assert status == 200 and headers["Content-Type"] == "application/json", body
    answer = json.loads(body)
    assert list(answer) == ["Ok", "Message", "RetryAfter"]
    return answer


def outbox(server):
    status, _, body = request(server, "GET", "/_qianshu/sms")
    assert status == 200
    return json.loads(body)["Messages"]


def new_code(server, url):
    answer = send_code(server, url)
    assert answer == {"Ok": True, "Message": "验证码已发送至 188****8888。", "RetryAfter": 60}, answer
    last = outbox(server)[-1]
    assert last["Mobile"] == "18888888888" and re.fullmatch(r"\d{6}", last["Code"]), last
    assert last["Code"] in last["Text"]
    return last["Code"]


def submit(server, url, code, **fields):
    form = {"Action": "sign", "Code": code, "SignatureText": "张三", "field:紧急联系人": "李四", **fields}
    return request(server, "POST", path_of(url) + "/sign", form)


def alert(answer):
    """The error the page shows after a refused submission."""
    status, _, page = answer
    assert status == 200, page
    found = ALERT.findall(page)
    assert len(found) == 1, page
    return found[0]


def signed_through_the_page(server, url, group_id, answer):
    status, headers, _ = answer
    assert (status, headers["Location"]) == (303, path_of(url))
    status, _, page = request(server, "GET", path_of(url))
    assert status == 200 and 'data-state="signed"' in page and "签署完成" in page and not ALERT.search(page)
    assert statuses(server, group_id) == [("ALL", ["ACCEPT", "ACCEPT"])] * 2
    # The page keeps where the signature came from: the peer of the connection, and its browser.
    origins = sql(server, "SELECT sign_ip, sign_user_agent FROM flow_approvers WHERE sign_door = 'PAGE'")
    assert {row[0] for row in origins} == {"127.0.0.1"} and len(origins) == 2, origins


def person_due(server):
    """A group whose employee has signed: the person's link, due."""
    g = create(server, group(flow(), flow(NDA)))
    assert helper_sign(server, link(server, g["FlowGroupId"], EMPLOYEE_LINK))[0] == 200
    return g, link(server, g["FlowGroupId"], PERSON_LINK)


def test_the_page_signs_with_the_code_from_the_outbox(signer_server):
    s = signer_server
    g, url = person_due(s)
    status, headers, page = request(s, "GET", path_of(url))
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert (headers["Cache-Control"], headers["Referrer-Policy"]) == ("no-store", "no-referrer")
    assert headers["Content-Security-Policy"].startswith("default-src 'self';")
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert 'data-state="open"' in page and "全部签署" in page and "紧急联系人" in page and "2023年张三入职合同组合" in page
    code = new_code(s, url)
    again = send_code(s, url)
    assert again["Ok"] is False and 0 < again["RetryAfter"] <= 60 and "秒后再获取" in again["Message"], again
    assert len(outbox(s)) == 1
    # A right code with something else wrong keeps the code for the corrected form.
    assert alert(submit(s, url, code, SignatureText="")) == "请输入签名或手写签名。"
    assert statuses(s, g["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"])] * 2
    signed_through_the_page(s, url, g["FlowGroupId"], submit(s, url, code))
    # Used once: the page now says it is signed, and the helper's second try is refused.
    assert helper_sign(s, url, SignatureText="张三", FormFields=CONTACT)[1]["Error"]["Code"] == \
        "OperationDenied.FlowStatusForbid"


def test_five_wrong_codes_lock_the_link_for_ten_minutes(signer_server):
    s = signer_server
    g, url = person_due(s)
    code = new_code(s, url)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        assert alert(submit(s, url, wrong)) == WRONG
    assert LOCKED in alert(submit(s, url, wrong))
    # Locked: even the right code is refused, and no new code is sent.
    assert LOCKED in alert(submit(s, url, code))
    advance(s, 61)
    answer = send_code(s, url)
    assert answer["Ok"] is False and LOCKED in answer["Message"] and 0 < answer["RetryAfter"] <= 600 - 61, answer
    assert len(outbox(s)) == 1
    assert statuses(s, g["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"])] * 2
    advance(s, 600)
    code = new_code(s, url)
    signed_through_the_page(s, url, g["FlowGroupId"], submit(s, url, code))


def test_a_code_lasts_five_minutes(signer_server):
    s = signer_server
    g, url = person_due(s)
    code = new_code(s, url)
    advance(s, 301)
    assert alert(submit(s, url, code)) == WRONG
    assert statuses(s, g["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"])] * 2
    code = new_code(s, url)
    signed_through_the_page(s, url, g["FlowGroupId"], submit(s, url, code))


def test_refusing_through_the_page_needs_a_reason_and_the_code(signer_server):
    s = signer_server
    g, url = person_due(s)
    code = new_code(s, url)
    refuse = {"Action": "reject", "Code": code}
    assert alert(request(s, "POST", path_of(url) + "/sign", {**refuse, "Reason": " "})) == "请填写拒签理由。"
    status, headers, _ = request(s, "POST", path_of(url) + "/sign", {**refuse, "Reason": "岗位与面谈不符"})
    assert (status, headers["Location"]) == (303, path_of(url))
    status, _, page = request(s, "GET", path_of(url))
    assert status == 200 and 'data-state="rejected"' in page and "已拒签" in page
    assert statuses(s, g["FlowGroupId"]) == [("REJECT", ["ACCEPT", "REJECT"])] * 2


def test_codes_are_sent_only_for_links_that_open(signer_server):
    s = signer_server
    g, url = person_due(s)
    status, _, _ = request(s, "POST", "/s/" + "A" * 43 + "/code")
    assert status == 404
    advance(s, 1801)
    status, _, page = request(s, "GET", path_of(url))
    assert status == 410 and "已过期" in page
    assert request(s, "POST", path_of(url) + "/code")[0] == 404
    assert request(s, "POST", path_of(url) + "/sign", {"Action": "sign", "Code": "000000"})[0] == 410
    assert outbox(s) == []


def test_two_tabs_sending_the_same_code_at_once_sign_once(signer_server):
    s = signer_server
    g, url = person_due(s)
    code = new_code(s, url)
    barrier, answers = threading.Barrier(2), [None, None]

    def tab(i):
        barrier.wait()
        answers[i] = submit(s, url, code)

    threads = [threading.Thread(target=tab, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a[0] for a in answers) == [200, 303], [a[0] for a in answers]
    refused = next(a for a in answers if a[0] == 200)
    assert alert(refused) in (WRONG, "您已签署全部合同。")
    assert 'data-state="signed"' in refused[2]
    assert statuses(s, g["FlowGroupId"]) == [("ALL", ["ACCEPT", "ACCEPT"])] * 2


def images_in(tmp_path, data):
    path = tmp_path / "images.pdf"
    path.write_bytes(data)
    r = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()[2:]


def test_a_drawn_signature_is_drawn_and_the_page_serves_the_latest_revision(signer_server, tmp_path):
    s = signer_server
    g, url = person_due(s)
    contract = path_of(url) + f"/flows/{g['FlowIds'][0]}.pdf"
    status, headers, _ = request(s, "GET", contract)
    assert (status, headers["Content-Type"], headers["Cache-Control"]) == (200, "application/pdf", "no-store")
    before = document(s, g["FlowIds"][0])
    code = new_code(s, url)
    assert alert(submit(s, url, code, SignatureText="", SignatureImage="data:image/png;base64,!!")) == \
        "The drawn signature (SignatureImage) is not base64."
    assert alert(submit(s, url, code, SignatureText="", SignatureImage="data:image/jpeg;base64,AAAA")) == \
        "The drawn signature (SignatureImage) must be a PNG data URL."
    drawn = "data:image/png;base64," + base64.b64encode(png(120, 40, (10, 10, 120))).decode()
    signed_through_the_page(s, url, g["FlowGroupId"], submit(s, url, code, SignatureText="", SignatureImage=drawn))
    after = document(s, g["FlowIds"][0])
    assert after.startswith(before) and len(images_in(tmp_path, after)) == len(images_in(tmp_path, before)) + 1
    # The page's viewer gets what the API serves: the latest revision.
    req = urllib.request.Request(f"http://{s.address}{contract}")
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.read() == after
    # Only the link's own contracts, and only for a link that opens.
    other = create(s, group(flow(), flow(NDA)))
    assert request(s, "GET", path_of(url) + f"/flows/{other['FlowIds'][0]}.pdf")[0] == 404
    assert request(s, "GET", "/s/" + "A" * 43 + f"/flows/{g['FlowIds'][0]}.pdf")[0] == 404
    assert request(s, "GET", path_of(url) + "/flows/nothing.pdf")[0] == 404
