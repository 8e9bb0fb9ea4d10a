"""Every signing is a PAdES signature: contracts signed through the page, the test helper and
auto-sign, until complete, validated by pyHanko and pdfsig with qianshu's root as the only
trust anchor; a byte changed anywhere is detected. On both backends."""

import io
import os
import shutil
import subprocess
import urllib.request

import pytest
from asn1crypto import crl as asn1_crl
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext

from conftest import ROOT
from test_signing import (  # noqa: F401 (signer_server is a fixture)
    EMPLOYEE_LINK, PERSON_LINK, CONTACT, auto_group, documents, helper_sign, link, signer_server, statuses)
from test_signing_page import new_code, person_due, submit
from test_documents import wait_until
from test_flow_groups import NDA, create, flow, group

PYHANKO = str(ROOT / ".venv" / "bin" / "pyhanko")


def tools_or_skip():
    missing = [t for t in ("pdfsig", "certutil") if shutil.which(t) is None]
    if missing:
        assert not os.environ.get("CI"), f"CI installs {missing}"
        pytest.skip(f"SKIPPED: no {', '.join(missing)}")


class Validators:
    """pyHanko and pdfsig, both trusting only the server's root (`GET /pki/ca.pem`)."""

    def __init__(self, server, tmp_path):
        self.dir = tmp_path
        with urllib.request.urlopen(f"http://{server.address}/pki/ca.pem", timeout=30) as r:
            self.root = tmp_path / "ca.pem"
            self.root.write_bytes(r.read())
        self.nss = tmp_path / "nss"
        self.nss.mkdir()
        for args in (["-N", "--empty-password"], ["-A", "-n", "qianshu", "-t", "CT,C,C", "-i", str(self.root)]):
            subprocess.run(["certutil", "-d", str(self.nss), *args], check=True, capture_output=True, timeout=60)

    def write(self, name, data):
        path = self.dir / name
        path.write_bytes(data)
        return path

    def pyhanko(self, path):
        r = subprocess.run([PYHANKO, "sign", "validate", "--trust-replace", "--trust", str(self.root),
                            "--no-revocation-check", "--pretty-print", str(path)],
                           capture_output=True, text=True, timeout=120)
        return r.returncode, r.stdout + r.stderr

    def pdfsig(self, path):
        r = subprocess.run(["pdfsig", "-nssdir", str(self.nss), str(path)], capture_output=True, text=True, timeout=120)
        return r.returncode, r.stdout + r.stderr



def check(v, data, signers):
    """`data` is a complete contract: one signature per signer in `signers` (their certificates'
    subjects, in signing order), the first certifying, each timestamped, then the document
    security store and a document timestamp; pyHanko and pdfsig accept every signature."""
    path = v.write("contract.pdf", data)
    code, report = v.pyhanko(path)
    assert code == 0, report
    assert report.count("The signature is judged VALID.") == len(signers), report
    assert report.count("The signer's certificate is trusted.") == len(signers), report
    assert report.count("The TSA certificate is trusted.") == len(signers), report
    assert report.count("compatible with the current document modification policy") == len(signers), report
    code, report = v.pdfsig(path)
    assert code == 0, report
    assert report.count("Signature Validation: Signature is Valid.") == len(signers), report
    assert report.count("Certificate Validation: Certificate is Trusted.") == len(signers), report

    root = load_cert_from_pemder(str(v.root))
    reader = PdfFileReader(io.BytesIO(data))
    *signatures, stamp = reader.embedded_signatures
    assert [s.sig_object["/SubFilter"] for s in signatures] == ["/ETSI.CAdES.detached"] * len(signers)
    assert [s.signer_cert.subject.human_friendly for s in signatures] == signers
    assert [s.docmdp_level for s in signatures] == [MDPPerm.FILL_FORMS] + [None] * (len(signers) - 1)
    assert (stamp.sig_object["/Type"], stamp.sig_object["/SubFilter"]) == ("/DocTimeStamp", "/ETSI.RFC3161")
    timestamp = validate_pdf_timestamp(stamp, validation_context=ValidationContext(trust_roots=[root]))
    assert (timestamp.intact, timestamp.valid, timestamp.trusted) == (True, True, True), timestamp
    # Long-term validation: the document security store holds every certificate (each signer's,
    # the TSA's, the root) and the root's CRL, enough to check revocation with nothing fetched.
    dss = reader.root["/DSS"]
    assert (len(dss["/Certs"]), len(dss["/CRLs"])) == (len(signers) + 2, 1)
    crls = [asn1_crl.CertificateList.load(c.get_object().data) for c in dss["/CRLs"]]
    offline = ValidationContext(trust_roots=[root], allow_fetching=False, crls=crls, revocation_mode="hard-fail")
    for s in signatures:
        status = validate_pdf_signature(s, signer_validation_context=offline)
        assert (status.bottom_line, status.docmdp_ok, status.timestamp_validity.trusted) == (True, True, True), status


def revision_ends(data):
    """Where each revision of a PDF ends: after each `%%EOF` line."""
    ends, at = [], 0
    while (at := data.find(b"%%EOF", at)) >= 0:
        at += len(b"%%EOF")
        ends.append(at)
    return ends


def timestamp_intact(v, data):
    try:
        stamp = PdfFileReader(io.BytesIO(data)).embedded_signatures[-1]
        root = load_cert_from_pemder(str(v.root))
        status = validate_pdf_timestamp(stamp, validation_context=ValidationContext(trust_roots=[root]))
        return status.intact and status.valid
    except Exception:  # noqa: BLE001 (a file too broken to read is not intact)
        return False


def flipped_anywhere_fails(v, data, signers):
    """A byte flipped in the middle of any revision is detected: by pyHanko always (its
    signatures' report, or the document timestamp, which covers every revision before it), by
    pdfsig in every revision a signature covers (it does not check document timestamps). The
    hex strings that hold the signatures are not signed bytes (nor is their zero padding, which
    no validator reads); a byte there moves to just past the string."""
    holes = [(r[0] + r[1], r[2]) for r in (s.sig_object["/ByteRange"] for s in
                                            PdfFileReader(io.BytesIO(data)).embedded_signatures)]
    last_signed = max(r[2] + r[3] for r in (s.sig_object["/ByteRange"] for s in
                                            PdfFileReader(io.BytesIO(data)).embedded_signatures[:-1]))
    start = 0
    for n, end in enumerate(revision_ends(data)):
        at = (start + end) // 2
        at = next((hole_end for hole_start, hole_end in holes if hole_start <= at < hole_end), at)
        assert at < end
        start = end
        tampered = bytearray(data)
        tampered[at] ^= 0x01
        tampered = bytes(tampered)
        path = v.write(f"tampered-{n}.pdf", tampered)
        code, report = v.pyhanko(path)
        assert code != 0 or not timestamp_intact(v, tampered), f"byte {at} of revision {n}: {report}"
        if at < last_signed:
            _, report = v.pdfsig(path)
            assert report.count("Signature is Valid.") < len(signers), f"byte {at} of revision {n}: {report}"


EMPLOYER = "Common Name: 王五, Organization: 典子谦示例企业"
ZHANG_SAN = "Common Name: 张三"


def test_contracts_signed_through_the_test_helper_are_pades_b_lta_and_any_byte_changed_is_detected(signer_server, tmp_path):
    tools_or_skip()
    s = signer_server
    v = Validators(s, tmp_path)
    g = create(s, group(flow(), flow(NDA)))
    assert helper_sign(s, link(s, g["FlowGroupId"], EMPLOYEE_LINK))[0] == 200
    assert helper_sign(s, link(s, g["FlowGroupId"], PERSON_LINK), SignatureText="张三", FormFields=CONTACT)[0] == 200
    assert statuses(s, g["FlowGroupId"]) == [("ALL", ["ACCEPT", "ACCEPT"])] * 2
    contracts = documents(s, g["FlowGroupId"])
    for data in contracts:
        check(v, data, [EMPLOYER, ZHANG_SAN])
    # The template, the contract made from it, signed by each, then the document security store
    # and the document timestamp.
    assert len(revision_ends(contracts[0])) == 6
    flipped_anywhere_fails(v, contracts[0], [EMPLOYER, ZHANG_SAN])


def test_contracts_signed_through_the_page_are_pades_b_lta(signer_server, tmp_path):
    tools_or_skip()
    s = signer_server
    v = Validators(s, tmp_path)
    g, url = person_due(s)
    status, headers, _ = submit(s, url, new_code(s, url))
    assert status == 303, headers
    assert statuses(s, g["FlowGroupId"]) == [("ALL", ["ACCEPT", "ACCEPT"])] * 2
    for data in documents(s, g["FlowGroupId"]):
        check(v, data, [EMPLOYER, ZHANG_SAN])


def test_an_automatic_signature_is_made_with_the_organisations_certificate(signer_server, tmp_path):
    tools_or_skip()
    s = signer_server
    v = Validators(s, tmp_path)
    g = auto_group(s)
    wait_until("the auto-signer", lambda: statuses(s, g["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"])] * 2,
               timeout=20)
    assert helper_sign(s, link(s, g["FlowGroupId"], PERSON_LINK), SignatureText="张三")[0] == 200
    organization = "Common Name: 典子谦示例企业, Organization: 典子谦示例企业"
    contracts = documents(s, g["FlowGroupId"])
    for data in contracts:
        check(v, data, [organization, ZHANG_SAN])
    # One organisation certificate for all its automatic signatures.
    serials = {PdfFileReader(io.BytesIO(d)).embedded_signatures[0].signer_cert.serial_number for d in contracts}
    assert len(serials) == 1
