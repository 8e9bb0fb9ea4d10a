"""UploadFiles and the download links it hands out."""

import base64
import hashlib
import json
import struct
import subprocess
import time
import zlib
import urllib.error
import urllib.request

import pytest

from conftest import AGENT_A, APP_A, BIN, ROOT, call, error_of

PDF = (ROOT / "examples" / "templates" / "confidentiality-agreement.pdf").read_bytes()


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width, height, color_type=2, channels=3):
    """A PNG of one colour, its rows compressed one at a time so a large one costs little memory."""
    z = zlib.compressobj()
    row = b"\x00" + b"\xc8" * (width * channels)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))
            + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))


PNG = png(8, 8)


def pdf(*objects):
    """A PDF of `objects` (numbered from 1, the first the catalog) with a correct xref table."""
    out, offsets = b"%PDF-1.7\n", []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010} 00000 n \n".encode() for o in offsets)
    return out + f"trailer\n<</Size {len(objects) + 1}/Root 1 0 R>>\nstartxref\n{xref}\n%%EOF\n".encode()


CATALOG = "<</Type/Catalog/Pages 2 0 R>>"
CONTENT = "<</Length 8>>\nstream\n0 0 m S\n\nendstream"
# Each of these hung a runtime thread, or was accepted and then never made a document.
HOSTILE = {
    "parent-loop.pdf": (pdf(CATALOG, "<</Type/Pages/Kids[3 0 R]/Count 1>>", "<</Type/Page/Parent 3 0 R>>"),
                        "InvalidParameter.FileType", "its page tree is inconsistent: the /Parent of object 3 0 is not the node that lists it"),
    "no-resources.pdf": (pdf(CATALOG, "<</Type/Pages/Kids[3 0 R]/Count 1>>",
                             "<</Type/Page/Parent 3 0 R/MediaBox[0 0 595 842]/Contents 4 0 R>>", CONTENT),
                         "InvalidParameter.FileType", "its page tree is inconsistent: the /Parent of object 3 0 is not the node that lists it"),
    "kids-cycle.pdf": (pdf(CATALOG, "<</Type/Pages/Kids[3 0 R]/Count 1>>", "<</Type/Pages/Parent 2 0 R/Kids[2 0 R]/Count 1>>"),
                       "InvalidParameter.FileType", "its page tree reaches object 2 0 twice"),
    "truncated.pdf": ((ROOT / "examples" / "templates" / "employment-contract.pdf").read_bytes()[:1986],
                      "InvalidParameter.FileType", "its cross-reference table is missing or damaged (is the file truncated?)"),
    "claims-60000.png": (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 6, 0, 0, 0))
                         + png_chunk(b"IDAT", zlib.compress(b"")) + png_chunk(b"IEND", b""),
                         "InvalidParameter.Image", "it is 60000 by 60000 pixels, more than the 10000 by 10000 allowed"),
    "7000x7000.png": (png(7000, 7000, 6, 4), "InvalidParameter.Image",
                      "it is 7000 by 7000 pixels, which take 196 MB decoded, more than the 100 MB allowed"),
}


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
        # Another id: its last character changed (to one it is not already).
        f"{base[:-1]}{'Y' if base.endswith('X') else 'X'}?expires={expires}&signature={signature}",
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


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_file_is_refused_naming_it_and_the_server_answers_the_next_call(shared_server, name):
    data, code, reason = HOSTILE[name]
    business_type = "SEAL" if name.endswith(".png") else "TEMPLATE"
    what = "image" if name.endswith(".png") else "PDF"
    assert refused(shared_server, [(name, data)], business_type) == (
        code, f"`FileInfos.0.FileBody` ({name}) is not a usable {what}: {reason}.")
    assert upload(shared_server, [("next.pdf", PDF)])["TotalCount"] == 1


def test_a_hostile_template_fails_apply_within_seconds_naming_its_entry(db, tmp_path):
    for name in ["parent-loop.pdf", "no-resources.pdf", "kids-cycle.pdf", "truncated.pdf"]:
        (tmp_path / name).write_bytes(HOSTILE[name][0])
        tenants = {"Applications": [{"AppId": APP_A, "SecretId": "AKIDtestA", "SecretKey": "testSecretKeyA0000000000000000000",
                                     "FlowQuota": 10, "Templates": [{"TemplateId": "hostileTemplate00000000000000001",
                                     "TemplateName": "恶意模板", "Pdf": name,
                                     "Recipients": [{"RecipientId": "r1", "RoleName": "甲方", "RecipientType": "ENTERPRISE"}]}]}]}
        path = tmp_path / "hostile.json"
        path.write_text(json.dumps(tenants, ensure_ascii=False))
        r = subprocess.run([str(BIN), "--data-dir", str(tmp_path), "--database-url", db.url, "apply", str(path)],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 1, r.stderr
        assert f"Applications[0].Templates[0].Pdf: {tmp_path / name} is not a usable PDF" in r.stderr, r.stderr
        assert HOSTILE[name][2] in r.stderr, r.stderr


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
