"""qianshu's certificate authority and timestamp authority, as PKI tools see them: the root at
/pki/ca.pem, the CRL at /pki/crl, and RFC 3161 at POST /tsa answered to OpenSSL's and pyHanko's
clients, whose own verification must pass against the served root."""

import asyncio
import hashlib
import os
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest
from asn1crypto import pem, x509

from conftest import Server

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None and os.environ.get("CI") != "true",
    reason="SKIPPED: the openssl command is not installed",
)


def get(server, path):
    with urllib.request.urlopen(f"http://{server.address}{path}", timeout=10) as r:
        return r.headers["Content-Type"], r.read()


def post(server, path, body, content_type):
    request = urllib.request.Request(f"http://{server.address}{path}", data=body, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.headers["Content-Type"], r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


def openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    return r


def root_pem(server, tmp_path):
    content_type, body = get(server, "/pki/ca.pem")
    assert content_type == "application/x-pem-file"
    path = tmp_path / "ca.pem"
    path.write_bytes(body)
    return path


def test_openssl_gets_a_timestamp_it_verifies_against_the_served_root(server, tmp_path):
    root_pem(server, tmp_path)
    (tmp_path / "f.txt").write_bytes("合同 contract\n".encode())
    assert openssl("ts", "-query", "-data", "f.txt", "-sha256", "-cert", "-out", "req.tsq", cwd=tmp_path).returncode == 0
    status, content_type, reply = post(server, "/tsa", (tmp_path / "req.tsq").read_bytes(), "application/timestamp-query")
    assert (status, content_type) == (200, "application/timestamp-reply")
    (tmp_path / "resp.tsr").write_bytes(reply)
    text = openssl("ts", "-reply", "-in", "resp.tsr", "-text", cwd=tmp_path).stdout
    assert "Status: Granted." in text and "Policy OID: 1.3.6.1.4.1.32473.3161.1" in text, text
    assert "Accuracy: 0x01 seconds" in text, text
    assert openssl("ts", "-reply", "-in", "resp.tsr", "-token_out", "-out", "token.der", cwd=tmp_path).returncode == 0
    certs = openssl("pkcs7", "-inform", "DER", "-in", "token.der", "-print_certs", "-out", "chain.pem", cwd=tmp_path)
    assert certs.returncode == 0, certs.stderr
    verified = openssl("ts", "-verify", "-queryfile", "req.tsq", "-in", "resp.tsr", "-CAfile", "ca.pem",
                       "-untrusted", "chain.pem", cwd=tmp_path)
    assert verified.stdout.strip() == "Verification: OK", verified.stdout + verified.stderr

    # The same token does not verify for other data.
    (tmp_path / "g.txt").write_bytes(b"another contract\n")
    other = openssl("ts", "-verify", "-data", "g.txt", "-in", "resp.tsr", "-CAfile", "ca.pem",
                    "-untrusted", "chain.pem", cwd=tmp_path)
    assert "Verification: OK" not in other.stdout


def test_the_tsa_refuses_sha1_and_garbage_with_their_rfc_3161_failures(server, tmp_path):
    (tmp_path / "f.txt").write_bytes(b"x")
    assert openssl("ts", "-query", "-data", "f.txt", "-sha1", "-out", "sha1.tsq", cwd=tmp_path).returncode == 0
    for body, failure in [((tmp_path / "sha1.tsq").read_bytes(), "unrecognized or unsupported algorithm identifier"),
                          (b"not a request", "the data submitted has the wrong format")]:
        status, content_type, reply = post(server, "/tsa", body, "application/timestamp-query")
        assert (status, content_type) == (200, "application/timestamp-reply")
        (tmp_path / "r.tsr").write_bytes(reply)
        text = openssl("ts", "-reply", "-in", "r.tsr", "-text", cwd=tmp_path).stdout
        assert "Status: Rejected." in text and f"Failure info: {failure}\n" in text, text


def test_the_tsa_takes_only_timestamp_queries_of_bounded_size(server):
    status, _, _ = post(server, "/tsa", b"\x30\x00", "application/octet-stream")
    assert status == 415
    status, _, _ = post(server, "/tsa", b"\x30" * (16 * 1024 + 1), "application/timestamp-query")
    assert status == 413


def test_pyhanko_gets_a_timestamp_and_validates_it_against_the_served_root(server, tmp_path):
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import ValidationContext

    root = x509.Certificate.load(pem.unarmor(root_pem(server, tmp_path).read_bytes())[2])
    digest = hashlib.sha256(b"a contract").digest()

    async def stamp_and_validate():
        token = await HTTPTimeStamper(f"http://{server.address}/tsa").async_timestamp(digest, "sha256")
        context = ValidationContext(trust_roots=[root])
        return await validate_tst_signed_data(token["content"], context, lambda _: digest)

    status = asyncio.run(stamp_and_validate())
    assert status["intact"] and status["valid"], status
    assert status["trust_problem_indic"] is None, status
    assert status["signing_cert"].subject.native["common_name"] == "qianshu Timestamp Authority"


def test_the_crl_is_signed_by_the_root_and_revokes_nothing(server, tmp_path):
    root_pem(server, tmp_path)
    content_type, crl = get(server, "/pki/crl")
    assert content_type == "application/pkix-crl"
    (tmp_path / "crl.der").write_bytes(crl)
    r = openssl("crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout", "-text", cwd=tmp_path)
    assert r.returncode == 0 and "verify OK" in r.stderr, r.stderr
    assert "No Revoked Certificates." in r.stdout and "Next Update:" in r.stdout, r.stdout


def test_an_imported_root_is_served_kept_and_never_replaced(db, tmp_path, start):
    made = openssl("req", "-utf8", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3650",
                   "-subj", "/O=导入 Imported/CN=Imported Root", "-addext", "basicConstraints=critical,CA:TRUE",
                   "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", "root.key", "-out", "root.pem",
                   cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    imported = start("--ca-cert", str(tmp_path / "root.pem"), "--ca-key", str(tmp_path / "root.key"))
    served = get(imported, "/pki/ca.pem")[1]
    assert pem.unarmor(served)[2] == pem.unarmor((tmp_path / "root.pem").read_bytes())[2]
    assert b"PRIVATE" not in served
    log_key = (tmp_path / "root.key").read_text()
    imported.stop()
    assert log_key.splitlines()[1] not in imported.proc.stderr.read()

    # A node started without the flags shares the stored root.
    again = Server(db, tmp_path)
    assert get(again, "/pki/ca.pem")[1] == served
    again.stop()

    # Another root is refused rather than put in the stored one's place.
    other = openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                    "-subj", "/CN=Other Root", "-keyout", "other.key", "-out", "other.pem", cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    r = subprocess.run([*again.base_args, "serve", "--listen", "127.0.0.1:0", "--ca-cert", str(tmp_path / "other.pem"),
                        "--ca-key", str(tmp_path / "other.key")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].startswith(
        "qianshu: --ca-cert (QIANSHU_CA_CERT) is not the root CA this database already has (`Imported Root`, "
        "serial "), r.stderr


def test_a_ca_key_that_is_not_the_certificates_is_refused(db, tmp_path, start):
    for name in ["a", "b"]:
        r = openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                    "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    with pytest.raises(RuntimeError) as refused:
        start("--ca-cert", str(tmp_path / "a.pem"), "--ca-key", str(tmp_path / "b.key"))
    assert f"--ca-key {tmp_path / 'b.key'}: the private key is not the certificate's" in str(refused.value)
