#!/usr/bin/env python3
"""Contract synthesis the way an integrator would write it in Python: pypdf + reportlab.

    python baseline.py --template bench/fixtures/one-page.pdf --fields bench/fixtures/fields.json \
        --seconds 5 [--vary]

For each contract, on one core, in a loop: draw an overlay with reportlab (every TEXT and DATE
value at its FontSize, 12 pt by default, left-aligned and vertically centred in its box, in WQY
Micro Hei embedded as a subset; every FILL_IMAGE stretched into its box with drawImage), read the
template bytes with pypdf (PdfReader, then PdfWriter(clone_from=reader), as pypdf 7 only merges
onto a writer's pages), merge the overlay onto the pages that carry components, write the whole
document to memory, and keep the bytes. Boxes are in Tencent e-sign's convention
(points, page from 1, origin at the page's top-left, y downwards, (x, y) the box's top-left).

With --vary every contract gets the next of the value sets in variants.json (next to the fields
file), so nothing can be reused between consecutive contracts. Before timing, one output PDF is
checked with pdftotext for every text value. Prints one JSON line.
"""
import argparse
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import pypdf
import reportlab
from pypdf import PdfReader, PdfWriter
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

FONT = "WQYMicroHei"
FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
TEXT_TYPES = ("TEXT", "DATE")


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def font_size(component):
    extra = component.get("ComponentExtra")
    if extra:
        return float(json.loads(extra).get("FontSize", 12))
    return 12.0


def overlay_pdf(reader, components, values, images):
    """One overlay page per template page that carries a component, as PDF bytes, and the page numbers."""
    by_page = {}
    for comp in components:
        by_page.setdefault(comp["ComponentPage"], []).append(comp)
    pages = sorted(by_page)
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for number in pages:
        box = reader.pages[number - 1].mediabox
        left, top = float(box.left), float(box.top)
        c.setPageSize((float(box.width), float(box.height)))
        for comp in by_page[number]:
            value = values.get(comp["ComponentId"])
            if not value:
                continue
            x = left + comp["ComponentPosX"]
            w, h = comp["ComponentWidth"], comp["ComponentHeight"]
            bottom = top - comp["ComponentPosY"] - h  # Tencent's top-left y to PDF's bottom-left y
            kind = comp["ComponentType"]
            if kind in TEXT_TYPES:
                size = font_size(comp)
                ascent, descent = pdfmetrics.getAscentDescent(FONT, size)
                c.setFont(FONT, size)
                c.drawString(x, bottom + h / 2 - (ascent + descent) / 2, value)
            elif kind == "FILL_IMAGE":
                c.drawImage(ImageReader(io.BytesIO(images[value])), x, bottom, width=w, height=h)
        c.showPage()
    c.save()
    return buf.getvalue(), pages


def synthesize(template_bytes, components, values, images):
    """One filled contract, as PDF bytes."""
    reader = PdfReader(io.BytesIO(template_bytes))
    overlay_bytes, pages = overlay_pdf(reader, components, values, images)
    overlay = PdfReader(io.BytesIO(overlay_bytes))
    writer = PdfWriter(clone_from=reader)  # pypdf 7 merges only onto pages that belong to a writer
    for i, number in enumerate(pages):
        writer.pages[number - 1].merge_page(overlay.pages[i])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def check_output(pdf, template_pages, components, values):
    """Exits with an error unless pdftotext reads the PDF and finds every text value in it."""
    if shutil.which("pdftotext") is None:
        fail("pdftotext is not installed (poppler-utils)")
    if len(PdfReader(io.BytesIO(pdf)).pages) != template_pages:
        fail("the output does not have the template's page count")
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        run = subprocess.run(["pdftotext", "-enc", "UTF-8", f.name, "-"], capture_output=True)
    if run.returncode != 0:
        fail(f"pdftotext rejected the output: {run.stderr.decode(errors='replace').strip()}")
    text = "".join(run.stdout.decode("utf-8", errors="replace").split())
    for comp in components:
        if comp["ComponentType"] in TEXT_TYPES:
            value = values.get(comp["ComponentId"], "")
            if value and "".join(value.split()) not in text:
                fail(f"the output's text lacks {comp['ComponentId']} = {value!r}")


def value_map(pairs):
    return {v["ComponentId"]: v["ComponentValue"] for v in pairs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--template", required=True, help="template PDF")
    ap.add_argument("--fields", required=True, help="fields.json: Components and Values")
    ap.add_argument("--seconds", type=float, default=5.0, help="how long to run (5)")
    ap.add_argument("--vary", action="store_true", help="a different value set for every contract (variants.json)")
    ap.add_argument("--font", default=FONT_PATH, help=f"TrueType collection for the values ({FONT_PATH})")
    args = ap.parse_args()

    # Start-up, as a service would do it once: the font, the template and the uploaded images.
    pdfmetrics.registerFont(TTFont(FONT, args.font, subfontIndex=0))
    with open(args.template, "rb") as f:
        template_bytes = f.read()
    with open(args.fields, encoding="utf-8") as f:
        fields = json.load(f)
    components = fields["Components"]
    here = os.path.dirname(os.path.abspath(args.fields))
    value_sets = [value_map(fields["Values"])]
    if args.vary:
        with open(os.path.join(here, "variants.json"), encoding="utf-8") as f:
            value_sets = [value_map(v) for v in json.load(f)["Values"]]
    images = {}
    for comp in components:
        if comp["ComponentType"] == "FILL_IMAGE":
            for values in value_sets:
                name = values.get(comp["ComponentId"])
                if name and name not in images:
                    with open(os.path.join(here, name), "rb") as f:
                        images[name] = f.read()

    template_pages = len(PdfReader(io.BytesIO(template_bytes)).pages)
    for values in value_sets[:2]:
        check_output(synthesize(template_bytes, components, values, images), template_pages, components, values)

    n, total_bytes, last = 0, 0, b""
    start = time.perf_counter()
    while True:
        last = synthesize(template_bytes, components, value_sets[n % len(value_sets)], images)
        total_bytes += len(last)
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= args.seconds:
            break
    print(json.dumps({
        "contracts": n,
        "seconds": round(elapsed, 3),
        "per_second": round(n / elapsed, 2),
        "python": platform.python_version(),
        "pypdf": pypdf.__version__,
        "reportlab": reportlab.Version,
    }))


if __name__ == "__main__":
    main()
