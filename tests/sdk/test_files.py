"""UploadFiles and the download links it hands out."""

import base64
import hashlib
import time
import urllib.error
import urllib.request

import pytest

from conftest import AGENT_A, ROOT, call, error_of

PDF = (ROOT / "examples" / "templates" / "confidentiality-agreement.pdf").read_bytes()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def b64(data):
    return base64.b64encode(data).decode()


def upload(server, files, business_type="DOCUMENT", **extra):
    infos = [{"FileBody": b64(data), "FileName": name} for name, data in files]
    return call(server.client(), "UploadFiles", {"Agent": AGENT_A, "BusinessType": business_type, "FileInfos": infos, **extra})


def refused(server, files, business_type="DOCUMENT"):
    infos = [{"FileBody": b64(data), "FileName": name} for name, data in files]
    return error_of(server.client(), "UploadFiles", {"Agent": AGENT_A, "BusinessType": business_type, "FileInfos": infos})


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_an_uploaded_pdf_comes_back_byte_for_byte_from_its_link(shared_server):
    before = int(time.time())
    r = upload(shared_server, [("保密协议.pdf", PDF), ("副本.pdf", PDF)])
    assert r["TotalCount"] == 2
    assert len(set(r["FileIds"])) == 2 and all(len(f) == 32 and f.isalnum() for f in r["FileIds"])
    assert before + 3600 <= r["Deadline"] <= int(time.time()) + 3600
    status, headers, body = fetch(r["FileUrls"][0])
    assert status == 200
    assert headers["Content-Type"] == "application/pdf"
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(PDF).hexdigest()
    assert "filename*=UTF-8''%E4%BF%9D%E5%AF%86%E5%8D%8F%E8%AE%AE.pdf" in headers["Content-Disposition"]


def test_a_link_with_a_bad_or_missing_signature_reveals_nothing(shared_server):
    url = upload(shared_server, [("a.pdf", PDF)])["FileUrls"][0]
    base, query = url.split("?")
    expires = int(query.split("expires=")[1].split("&")[0])
    signature = query.split("signature=")[1]
    tampered = [
        f"{base}?expires={expires}&signature={'0' * 64}",
        f"{base}?expires={expires + 60}&signature={signature}",
        f"{base}?expires={expires}",
        base,
        f"{base[:-1]}X?expires={expires}&signature={signature}",
        f"{base.rsplit('/', 1)[0]}/{'A' * 32}?expires={expires}&signature={signature}",
    ]
    for u in tampered:
        status, _, body = fetch(u)
        assert (status, body) == (404, b"not found"), u


def test_an_expired_link_is_refused(shared_server):
    url = upload(shared_server, [("a.pdf", PDF)])["FileUrls"][0]
    base = url.split("?")[0]
    assert fetch(f"{base}?expires={int(time.time()) - 1}&signature=00")[0] == 404


@pytest.mark.parametrize("name,data,code", [
    ("contract.pdf", PNG, "InvalidParameter.FileType"),
    ("broken.pdf", b"%PDF-1.7\nnot really a pdf", "InvalidParameter.FileType"),
    ("locked.pdf", (ROOT / "tests" / "fixtures" / "encrypted.pdf").read_bytes(), "InvalidParameter.FileType"),
    ("notes.txt", b"plain words", "InvalidParameter.FileType"),
])
def test_what_is_not_a_usable_file_is_refused(shared_server, name, data, code):
    c, msg = refused(shared_server, [(name, data)])
    assert c == code and "FileInfos.0.FileBody" in msg


def test_business_types_take_their_own_kinds(shared_server):
    assert refused(shared_server, [("seal.pdf", PDF)], "SEAL")[0] == "InvalidParameter.FileType"
    assert upload(shared_server, [("seal.png", PNG)], "SEAL")["TotalCount"] == 1
    assert refused(shared_server, [("a.pdf", PDF), ("b.png", PNG)])[0] == "InvalidParameter.FileType"
    assert refused(shared_server, [("a.pdf", PDF)], "PHOTO")[0] == "InvalidParameter"


def test_upload_limits(shared_server):
    assert refused(shared_server, [("a.pdf", PDF)] * 21)[0] == "InvalidParameter"
    code, msg = error_of(shared_server.client(), "UploadFiles", {"Agent": AGENT_A, "BusinessType": "DOCUMENT",
                                                                 "FileInfos": [{"FileBody": "***", "FileName": "a.pdf"}]})
    assert code == "InvalidParameter" and "FileInfos.0.FileBody" in msg
    assert error_of(shared_server.client(), "UploadFiles", {"Agent": AGENT_A, "BusinessType": "DOCUMENT"})[0] == "MissingParameter"


def test_an_image_of_8_mb_is_too_large(start):
    server = start("--max-body-bytes", str(20 * 1024 * 1024))
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (8 * 1024 * 1024)
    code, msg = refused(server, [("big.png", big)], "SEAL")
    assert code == "LimitExceeded.FileSize" and "8 MB" in msg


def test_apply_takes_a_template_pdf_by_file_id(server, db, tmp_path):
    import json

    from conftest import APP_A, apply

    file_id = upload(server, [("模板.pdf", PDF)], "TEMPLATE")["FileIds"][0]
    png_id = upload(server, [("seal.png", PNG)], "SEAL")["FileIds"][0]

    def tenants(**pdf):
        return {"Applications": [{"AppId": APP_A, "SecretId": "AKIDtestA", "SecretKey": "testSecretKeyA0000000000000000000",
                                  "FlowQuota": 100000, "Templates": [{"TemplateId": "uploadedTemplate0000000000000001",
                                  "TemplateName": "上传的模板", **pdf,
                                  "Recipients": [{"RecipientId": "r1", "RoleName": "甲方", "RecipientType": "ENTERPRISE"}]}]}]}

    path = tmp_path / "by-file-id.json"
    path.write_text(json.dumps(tenants(PdfFileId=file_id), ensure_ascii=False))
    r = apply(db, tmp_path, path)
    assert r.returncode == 0, r.stderr
    found = call(server.client(), "DescribeTemplates", {"Agent": AGENT_A, "TemplateName": "上传的模板"})
    assert [t["TemplateId"] for t in found["Templates"]] == ["uploadedTemplate0000000000000001"]
    for pdf, message in [({"PdfFileId": png_id}, "is a png file, not a PDF"),
                         ({"PdfFileId": "N" * 32}, "no file"),
                         ({"PdfFileId": file_id, "Pdf": "x.pdf"}, "exactly one of Pdf and PdfFileId")]:
        path.write_text(json.dumps(tenants(**pdf), ensure_ascii=False))
        r = apply(db, tmp_path, path)
        assert r.returncode == 1 and "Applications[0].Templates[0]" in r.stderr and message in r.stderr, r.stderr
