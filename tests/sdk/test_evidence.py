"""Evidence reports through the official SDK, on both backends: a group signed through the test
helper and through the signing page, then CreateChannelFlowEvidenceReport and
DescribeChannelFlowEvidenceReport, the PDF downloaded and read with pdftotext and pdftoppm."""

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import AGENT_A, AGENT_B, call, error_of
from test_documents import sql
from test_signing import (  # noqa: F401 (signer_server is a fixture)
    EMPLOYEE_LINK, PERSON_LINK, document, helper_sign, link, signer_server, statuses)
from test_signing_page import new_code, path_of
from test_flow_groups import NDA, create, flow, group
from test_pki import root_pem

TOOLS = ["pdftotext", "pdftoppm"]
if missing := [t for t in TOOLS if shutil.which(t) is None]:
    pytestmark = pytest.mark.skip(f"SKIPPED: {', '.join(missing)} not installed (scripts/test.sh installs them)")

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) EvidenceTest/1.0"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def page_sign(server, url, code):
    """The signing page's 全部签署, from a phone's browser."""
    form = {"Action": "sign", "Code": code, "SignatureText": "张三", "field:紧急联系人": "李四"}
    req = urllib.request.Request(
        f"http://{server.address}{path_of(url)}/sign", data=urllib.parse.urlencode(form).encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": PHONE,
                 # Not a trusted proxy's: ignored, the connection's peer is recorded.
                 "X-Forwarded-For": "203.0.113.9"})
    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def signed_group(s):
    """A group whose employee signed through the test helper and whose person signed through the
    page, after one wrong code."""
    g = create(s, group(flow(), flow(NDA)))
    assert helper_sign(s, link(s, g["FlowGroupId"], EMPLOYEE_LINK))[0] == 200
    url = link(s, g["FlowGroupId"], PERSON_LINK)
    code = new_code(s, url)
    wrong = "000000" if code != "000000" else "111111"
    status, page = page_sign(s, url, wrong)
    assert status == 200 and "验证码错误" in page, page
    assert page_sign(s, url, code)[0] == 303
    assert statuses(s, g["FlowGroupId"]) == [("ALL", ["ACCEPT", "ACCEPT"])] * 2
    return g


def report_pdf(s, flow_id, tmp_path, method="POST"):
    created = call(s.client(method=method), "CreateChannelFlowEvidenceReport", {"Agent": AGENT_A, "FlowId": flow_id})
    assert set(created) == {"ReportId", "Status", "ReportUrl", "RequestId"}, created
    assert (created["Status"], created["ReportUrl"]) == ("EvidenceStatusSuccess", "")
    assert re.fullmatch(r"[0-9A-Za-z]{32}", created["ReportId"])
    described = call(s.client(method=method), "DescribeChannelFlowEvidenceReport",
                     {"Agent": AGENT_A, "ReportId": created["ReportId"], "ReportType": 0})
    assert described["Status"] == "EvidenceStatusSuccess" and set(described) == {"ReportUrl", "Status", "RequestId"}
    with urllib.request.urlopen(described["ReportUrl"], timeout=60) as answer:
        assert answer.headers["Content-Type"] == "application/pdf"
        pdf = answer.read()
    path = tmp_path / f"report-{flow_id}.pdf"
    path.write_bytes(pdf)
    return created["ReportId"], path


def text_of(path):
    r = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def revisions_of(pdf):
    """The SHA-256 of every revision a PDF holds: each incremental update ends at an %%EOF."""
    ends = [m.end() for m in re.finditer(rb"%%EOF\r?\n?", pdf)]
    return {hashlib.sha256(pdf[:end]).hexdigest() for end in ends}


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_signed_contracts_report_tells_its_whole_history(signer_server, tmp_path, method):
    s = signer_server
    g = signed_group(s)
    flow_id = g["FlowIds"][0]
    _, path = report_pdf(s, flow_id, tmp_path, method)
    text = text_of(path)
    flat = re.sub(r"\s+", "", text)
    assert "电子签署出证报告" in text and flow_id in flat and g["FlowGroupId"] in flat
    # The creator, the signers and their doors.
    assert "典子谦示例企业" in text and "kev_8" in flat
    assert "签署页面（链接 + 短信验证码）" in text and "测试接口 /_qianshu/sign" in text
    # Links issued and by which action; codes sent and checked, the mobile masked only.
    assert "ChannelCreateBatchQuickSignUrl" in flat
    assert "188****8888" in text and "18888888888" not in flat
    assert "发送验证码" in text and "验证码错误" in text and "验证码正确" in text
    # The page's signing: the connection's peer (the forged header ignored) and its browser.
    assert "127.0.0.1" in text and "203.0.113.9" not in flat
    assert re.sub(r"\s+", "", PHONE) in flat
    # Every revision's SHA-256, equal to the SHA-256 of that revision's bytes.
    stored = sql(s, f"SELECT sha256 FROM flow_revisions WHERE flow_id = '{flow_id}' ORDER BY revision")
    made = sql(s, f"SELECT sha256 FROM flow_documents WHERE flow_id = '{flow_id}'")
    shas = [row[0] for row in made + stored]
    assert len(shas) == 3
    final = document(s, flow_id)
    assert hashlib.sha256(final).hexdigest() == shas[-1]
    assert set(shas) <= revisions_of(final)
    for sha in shas:
        assert sha in text, sha
    # The signatures' section: each signing's certificate (the one in the PDF's signature) and
    # its timestamp.
    assert "签名证书与时间戳" in text and "第1版" in flat and "第2版" in flat and "未记录" not in text
    recorded = sql(s, f"SELECT cert_serial, cert_subject, timestamp_at FROM flow_revisions "
                      f"WHERE flow_id = '{flow_id}' ORDER BY revision")
    from pyhanko.pdf_utils.reader import PdfFileReader
    in_pdf = [sig.signer_cert.serial_number for sig in PdfFileReader(io.BytesIO(final)).embedded_signatures[:-1]]
    assert [int(serial, 16) for serial, _, _ in recorded] == in_pdf
    assert [subject for _, subject, _ in recorded] == ["CN=王五, O=典子谦示例企业", "CN=张三"]
    # The table wraps long cells line by line, interleaving them: the first line of each is whole.
    for serial, subject, timestamp_at in recorded:
        assert serial[:12] in flat and subject.split(",")[0] in flat and timestamp_at is not None


def test_the_first_page_is_drawn(signer_server, tmp_path):
    s = signer_server
    g = signed_group(s)
    _, path = report_pdf(s, g["FlowIds"][1], tmp_path)
    out = tmp_path / "page"
    r = subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(path), str(out)],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    [png] = list(tmp_path.glob("page*.png"))
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, timeout=60).stdout
    assert re.search(r"Page size:\s+595\.28 x 841\.89 pts \(A4\)", info), info


def test_only_a_complete_contract_of_the_callers_application_has_a_report(signer_server):
    s = signer_server
    g = create(s, group(flow(), flow(NDA)))
    code, message = error_of(s.client(), "CreateChannelFlowEvidenceReport",
                             {"Agent": AGENT_A, "FlowId": g["FlowIds"][0]})
    assert code == "OperationDenied.FlowStatusForbid" and "当前流程状态不支持出证" in message
    code, _ = error_of(s.client("B"), "CreateChannelFlowEvidenceReport", {"Agent": AGENT_B, "FlowId": g["FlowIds"][0]})
    assert code == "ResourceNotFound.Flow"
    assert error_of(s.client(), "CreateChannelFlowEvidenceReport", {"Agent": AGENT_A})[0] == "MissingParameter.FlowId"
    code, _ = error_of(s.client(), "CreateChannelFlowEvidenceReport",
                       {"Agent": AGENT_A, "FlowId": g["FlowIds"][0], "ReportType": 1})
    assert code == "InvalidParameter.ParamError"


def test_a_report_is_found_only_by_its_own_application(signer_server, tmp_path):
    s = signer_server
    g = signed_group(s)
    report_id, _ = report_pdf(s, g["FlowIds"][0], tmp_path)
    assert error_of(s.client("B"), "DescribeChannelFlowEvidenceReport",
                    {"Agent": AGENT_B, "ReportId": report_id})[0] == "InvalidParameter.DataNotFound"
    unknown = "0" * 32
    assert error_of(s.client(), "DescribeChannelFlowEvidenceReport",
                    {"Agent": AGENT_A, "ReportId": unknown})[0] == "InvalidParameter.DataNotFound"
    assert error_of(s.client(), "DescribeChannelFlowEvidenceReport",
                    {"Agent": AGENT_A, "ReportId": "short"})[0] == "InvalidParameter.ParamError"
    assert error_of(s.client(), "DescribeChannelFlowEvidenceReport", {"Agent": AGENT_A})[0] == "MissingParameter"


def validators():
    pyhanko = Path(sys.executable).parent / "pyhanko"
    missing = [t for t in ("pdfsig", "certutil") if shutil.which(t) is None] + ([] if pyhanko.exists() else ["pyhanko"])
    if missing:
        assert not os.environ.get("CI"), f"CI installs {missing}"
        pytest.skip(f"SKIPPED: {', '.join(missing)} not installed (scripts/test.sh installs them)")
    return pyhanko


def test_the_report_is_signed_and_timestamped_by_qianshu_as_validators_see_it(signer_server, tmp_path):
    pyhanko = validators()
    s = signer_server
    g = signed_group(s)
    _, path = report_pdf(s, g["FlowIds"][0], tmp_path)
    ca = root_pem(s, tmp_path)
    r = subprocess.run([str(pyhanko), "sign", "validate", "--no-revocation-check", "--trust-replace", "--trust",
                        str(ca), "--pretty-print", str(path)], capture_output=True, text=True, timeout=120)
    report = r.stdout + r.stderr
    assert r.returncode == 0, report
    for said in ('Certificate subject: "Common Name: qianshu, Organization: qianshu"',
                 "The signer's certificate is trusted.", "The signature is cryptographically sound.",
                 "The timestamp token is cryptographically sound.", "The TSA certificate is trusted.",
                 "The signature covers the entire file.", "The signature is judged VALID."):
        assert said in report, (said, report)
    # One signature, certifying that nothing may change.
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import MDPPerm
    with path.open("rb") as f:
        [seal] = PdfFileReader(f).embedded_signatures
        assert (seal.field_name, seal.docmdp_level) == ("qs-signature-qianshu", MDPPerm.NO_CHANGES)

    nss = tmp_path / "nss"
    nss.mkdir()
    for args in (["-N", "--empty-password"], ["-A", "-n", "root", "-t", "CT,C,C", "-i", str(ca)]):
        done = subprocess.run(["certutil", *args, "-d", str(nss)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    out = subprocess.run(["pdfsig", "-nssdir", str(nss), str(path)], capture_output=True, text=True, timeout=60)
    text = out.stdout + out.stderr
    assert text.count("Signature Validation: Signature is Valid.") == 1, text
    assert text.count("Certificate Validation: Certificate is Trusted.") == 1, text
    assert "Signer Certificate Common Name: qianshu" in text, text

    # One byte of the report's text changed: the seal no longer holds.
    pdf = bytearray(path.read_bytes())
    pdf[pdf.index(b"stream") + 20] ^= 1
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(bytes(pdf))
    r = subprocess.run([str(pyhanko), "sign", "validate", "--no-revocation-check", "--trust-replace", "--trust",
                        str(ca), "--pretty-print", str(tampered)], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "The signature is judged VALID." not in r.stdout, r.stdout + r.stderr
