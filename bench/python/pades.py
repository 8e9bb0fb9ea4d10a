"""pyHanko's PAdES signature of a contract's existing signature field, timed in a loop.

Run by qianshu-pades-bench (bench/src/pades.rs) on the very bytes qianshu signs: the contract's
first revision, whose signature fields are empty. Each signature certifies the document (DocMDP,
form filling allowed), as qianshu's first signature does, with PAdES's subfilter
(ETSI.CAdES.detached) and SHA-256, by a signer certificate under a root made here once (RSA-2048
or ECDSA P-256); with --tsa, timestamped (B-T) by that RFC 3161 server. Only the signing loop is
timed, not the interpreter, imports or key generation. Prints one JSON line.
"""

import argparse
import datetime
import io
import json
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers, timestamps
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter


# Room for the CMS, given so that pyHanko skips its default dry-run signature that sizes it (one
# more private-key load and signature per signature): the baseline at its fastest.
BYTES_RESERVED = 16384


def new_key(kind):
    if kind == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def certificate(subject, issuer, public_key, issuer_key, ca):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


def signer_files(kind, directory):
    """A root and a signer of `kind` under it, as PEM files pyHanko loads."""
    root_key, key = new_key(kind), new_key(kind)
    root = certificate("pyHanko bench root", "pyHanko bench root", root_key.public_key(), root_key, True)
    cert = certificate("张三", "pyHanko bench root", key.public_key(), root_key, False)
    paths = {name: directory / f"{name}.pem" for name in ("root", "cert", "key")}
    paths["root"].write_bytes(root.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pdf", required=True, type=Path)
    parser.add_argument("--field", required=True, help="the empty signature field to sign")
    parser.add_argument("--key", choices=["rsa2048", "p256"], default="rsa2048")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--tsa", help="an RFC 3161 URL: B-T instead of B-B")
    args = parser.parse_args()

    data = args.pdf.read_bytes()
    with tempfile.TemporaryDirectory() as directory:
        paths = signer_files(args.key, Path(directory))
        signer = signers.SimpleSigner.load(
            str(paths["key"]), str(paths["cert"]), ca_chain_files=(str(paths["root"]),)
        )
    timestamper = timestamps.HTTPTimeStamper(args.tsa) if args.tsa else None
    meta = signers.PdfSignatureMetadata(
        field_name=args.field,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        certify=True,
        docmdp_permissions=MDPPerm.FILL_FORMS,
    )

    def sign():
        writer = IncrementalPdfFileWriter(io.BytesIO(data))
        out = signers.sign_pdf(
            writer,
            meta,
            signer=signer,
            timestamper=timestamper,
            existing_fields_only=True,
            bytes_reserved=BYTES_RESERVED,
        )
        return out.getvalue()

    signed = sign()
    if not signed.startswith(data) or len(signed) <= len(data):
        sys.exit("pyHanko's output is not an incremental update of the contract")

    latencies = []
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        t = time.perf_counter()
        sign()
        latencies.append((time.perf_counter() - t) * 1e3)
    elapsed = time.perf_counter() - start
    latencies.sort()
    print(
        json.dumps(
            {
                "signatures": len(latencies),
                "seconds": elapsed,
                "per_second": len(latencies) / elapsed,
                "p50_ms": statistics.median(latencies),
                "p99_ms": latencies[round((len(latencies) - 1) * 0.99)],
                "key": args.key,
                "tsa": bool(args.tsa),
                "python": sys.version.split()[0],
                "pyhanko": version("pyhanko"),
            }
        )
    )


if __name__ == "__main__":
    main()
