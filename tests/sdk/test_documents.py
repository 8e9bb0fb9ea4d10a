"""Contract documents through the official SDK: each contract's PDF is downloaded from the link
DescribeResourceUrlsByFlows hands out and checked with real tools (pdftotext, pdffonts, qpdf,
pdftoppm); the synthesis queue is checked in the database itself."""

import base64
import hashlib
import json
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import time
import urllib.request
import zlib

import pytest

from conftest import AGENT_A, ROOT, Server, call, error_of, psql
from test_flow_groups import EMPLOYEE, EMPLOYMENT, NDA, PERSON, create, flow, group, refuse

TOOLS = ["pdftotext", "pdffonts", "pdftoppm", "pdfinfo", "qpdf"]
if missing := [t for t in TOOLS if shutil.which(t) is None]:
    pytestmark = pytest.mark.skip(f"SKIPPED: {', '.join(missing)} not installed (scripts/test.sh installs them)")

TEMPLATES = ROOT / "examples" / "templates"


def png(width, height, rgb):
    """A plain PNG of one colour, written by hand so the suite needs no imaging library."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def upload(server, name, data, business_type="DOCUMENT"):
    r = call(server.client(), "UploadFiles", {
        "Agent": AGENT_A, "BusinessType": business_type,
        "FileInfos": [{"FileName": name, "FileBody": base64.b64encode(data).decode()}]})
    return r["FileIds"][0]


def table(rows):
    """A DYNAMIC_TABLE value as the API documents it: three columns, `rows` rows."""
    cells = []
    for r in range(1, rows + 1):
        for c, text in enumerate([f"{2023 + (r - 1) // 12}年{(r - 1) % 12 + 1}月", f"基本工资{r}", f"{8000 + r}.00元"], 1):
            cells.append({"rowStart": r, "rowEnd": r, "columnStart": c, "columnEnd": c, "content": text})
    return json.dumps({"headers": [{"content": "月份", "widthPercent": 30}, {"content": "项目"}, {"content": "金额"}],
                       "rowCount": rows, "body": {"cells": cells}}, ensure_ascii=False)


# Every initiator component of the employment contract, with values in Chinese, Latin and digits.
def employment_fields(photo, rows=3):
    return {
        "CompanyName": "典子谦示例企业 Dianziqian Ltd.",
        "EmployeeName": "张三",
        "EmployeeIdNumber": "11010519491231002X",
        "Position": "高级软件工程师 (Rust)",
        "MonthlySalary": "25,000.00元",
        "StartDate": "2023年03月01日",
        "WorkPlace": "北京市海淀区中关村大街1号 科技大厦12层，可根据工作需要调整至上海办公室",
        "Probation": "true",
        "SocialInsurance": "单位代缴",
        "EmployeePhoto": photo,
        "SalaryTable": table(rows),
    }


def as_form_fields(values):
    return [{"ComponentId": k, "ComponentValue": v} for k, v in values.items()]


def document_urls(server, flow_ids):
    return call(server.client(), "DescribeResourceUrlsByFlows", {"Agent": AGENT_A, "FlowIds": flow_ids})


def fetch(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.status, r.headers, r.read()


def download(server, flow_id, tmp_path):
    r = document_urls(server, [flow_id])
    assert r["ErrorMessages"] == [""], r
    [info] = r["FlowResourceUrlInfos"]
    assert info["FlowId"] == flow_id
    [res] = info["ResourceUrlInfos"]
    assert res["Type"] == "PDF"
    status, headers, body = fetch(res["Url"])
    assert status == 200 and headers["Content-Type"] == "application/pdf"
    path = tmp_path / f"{flow_id}.pdf"
    path.write_bytes(body)
    return path


def run(*args):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60)


def text_of(pdf, page=None):
    pages = ["-f", str(page), "-l", str(page)] if page else []
    r = run("pdftotext", "-enc", "UTF-8", *pages, pdf, "-")
    assert r.returncode == 0, r.stderr
    return r.stdout


def box_text(pdf, page, x, y, w, h):
    """What pdftotext reads inside a box given in Tencent's coordinates (points, top-left origin)."""
    r = run("pdftotext", "-enc", "UTF-8", "-f", page, "-l", page, "-x", int(x), "-y", int(y),
            "-W", int(w), "-H", int(h), "-r", 72, pdf, "-")
    assert r.returncode == 0, r.stderr
    return r.stdout


def gray_pages(pdf, page):
    """One page rendered at 72 dpi (a pixel per point) in grey: (width, height, pixels)."""
    r = subprocess.run(["pdftoppm", "-gray", "-r", "72", "-f", str(page), "-l", str(page), str(pdf)],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    m = re.match(rb"P5\s+(\d+)\s+(\d+)\s+255\s", r.stdout)
    w, h = int(m.group(1)), int(m.group(2))
    return w, h, r.stdout[m.end():]


def changed_pixels(template_pdf, contract_pdf, page):
    tw, th, before = gray_pages(template_pdf, page)
    cw, ch, after = gray_pages(contract_pdf, page)
    assert (tw, th) == (cw, ch)
    return tw, [(i % tw, i // tw) for i in range(len(after)) if abs(after[i] - before[i]) > 32]


def components(template_id):
    tenants = json.loads((ROOT / "tests" / "fixtures" / "tenants.json").read_text())
    [t] = [t for t in tenants["Applications"][0]["Templates"] if t["TemplateId"] == template_id]
    return {c["ComponentId"]: c for c in t["Components"]}


def inside(px, py, c, margin=1.5):
    return (c["ComponentPosX"] - margin <= px + 0.5 <= c["ComponentPosX"] + c["ComponentWidth"] + margin
            and c["ComponentPosY"] - margin <= py + 0.5 <= c["ComponentPosY"] + c["ComponentHeight"] + margin)


def sql(server, query):
    """Rows of a query on the server's own database."""
    if server.db.backend == "sqlite":
        with sqlite3.connect(server.db.url.removeprefix("sqlite://")) as c:
            return [tuple(str(v) for v in row) for row in c.execute(query)]
    r = psql(server.db.url, query)
    assert r.returncode == 0, r.stderr
    return [tuple(line.split("|")) for line in r.stdout.splitlines()]


def wait_until(what, check, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def contract(shared_server, tmp_path_factory):
    """One employment contract with every initiator component filled, downloaded."""
    tmp = tmp_path_factory.mktemp("contract")
    photo = upload(shared_server, "photo.png", png(40, 50, (200, 30, 30)))
    values = employment_fields(photo)
    r = create(shared_server, group(flow(FormFields=as_form_fields(values)), flow(NDA)))
    flow_id = r["FlowIds"][0]
    return values, download(shared_server, flow_id, tmp), r


def test_every_filled_value_is_in_the_text_exactly(contract):
    values, pdf, _ = contract
    c = components(EMPLOYMENT)
    for key in ["CompanyName", "EmployeeName", "EmployeeIdNumber", "Position", "MonthlySalary", "StartDate",
                "SocialInsurance"]:
        p = c[key]
        got = box_text(pdf, p["ComponentPage"], p["ComponentPosX"], p["ComponentPosY"], p["ComponentWidth"],
                       p["ComponentHeight"])
        assert got.strip() == values[key], key
    # The multi-line value wraps inside its box: the lines joined give back the value.
    p = c["WorkPlace"]
    got = box_text(pdf, 1, p["ComponentPosX"], p["ComponentPosY"], p["ComponentWidth"], p["ComponentHeight"])
    assert len(got.strip().splitlines()) >= 2
    assert "".join(got.split()) == "".join(values["WorkPlace"].split())
    table_text = text_of(pdf, 2)
    for cell in json.loads(values["SalaryTable"])["body"]["cells"]:
        assert cell["content"] in table_text
    for header in ["月份", "项目", "金额"]:
        assert header in table_text


def test_fonts_are_embedded_subsets(contract):
    _, pdf, _ = contract
    r = run("pdffonts", pdf)
    assert r.returncode == 0, r.stderr
    ours = [line for line in r.stdout.splitlines()[2:] if "CID" in line and "Identity-H" in line]
    assert ours, r.stdout
    for line in ours:
        name, *_, emb, sub, uni, _obj, _gen = line.split()
        assert re.match(r"^[A-Z]{6}\+", name), line
        assert (emb, sub, uni) == ("yes", "yes", "yes"), line


def test_the_document_passes_qpdf_check(contract):
    _, pdf, _ = contract
    r = run("qpdf", "--check", pdf)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No syntax or stream encoding errors found" in r.stdout


def test_ink_lies_inside_each_filled_box_and_nowhere_else(contract):
    values, pdf, _ = contract
    template = TEMPLATES / "employment-contract.pdf"
    boxes = [c for k, c in components(EMPLOYMENT).items() if k in values and c["ComponentPage"] == 1]
    _, changed = changed_pixels(template, pdf, 1)
    outside = [(x, y) for x, y in changed if not any(inside(x, y, c) for c in boxes)]
    assert outside == []
    for c in boxes:
        assert any(inside(x, y, c, margin=0) for x, y in changed), c["ComponentId"]


def test_an_unchecked_box_is_an_empty_square_and_an_unfilled_component_leaves_no_ink(shared_server, contract,
                                                                                      tmp_path):
    photo = upload(shared_server, "photo.png", png(8, 8, (0, 0, 0)))
    values = {**employment_fields(photo), "Probation": "false"}
    del values["Position"], values["SalaryTable"]
    flow_id = create(shared_server, group(flow(FormFields=as_form_fields(values)), flow(NDA)))["FlowIds"][0]
    pdf = download(shared_server, flow_id, tmp_path)
    c = components(EMPLOYMENT)
    template = TEMPLATES / "employment-contract.pdf"
    _, unchecked = changed_pixels(template, pdf, 1)
    _, checked = changed_pixels(template, contract[1], 1)
    assert not any(inside(x, y, c["Position"], margin=0) for x, y in unchecked)
    square = sum(inside(x, y, c["Probation"], margin=0) for x, y in unchecked)
    ticked = sum(inside(x, y, c["Probation"], margin=0) for x, y in checked)
    assert 0 < square < ticked


def test_a_long_table_grows_onto_new_pages(shared_server, tmp_path):
    photo = upload(shared_server, "photo.png", png(8, 8, (0, 0, 0)))
    values = employment_fields(photo, rows=80)
    flow_id = create(shared_server, group(flow(FormFields=as_form_fields(values)), flow(NDA)))["FlowIds"][0]
    pdf = download(shared_server, flow_id, tmp_path)
    info = run("pdfinfo", pdf).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    assert pages > 2
    text = text_of(pdf)
    for r in range(1, 81):
        assert f"基本工资{r}\n" in text or f"基本工资{r} " in text, r
    assert run("qpdf", "--check", pdf).returncode == 0


def test_a_dynamic_table_is_a_task_that_becomes_ready(shared_server, contract):
    _, _, created = contract
    flow_id = created["FlowIds"][0]
    heavy, light = created["TaskInfos"]
    assert re.fullmatch(r"[A-Za-z0-9]{32}", heavy["TaskId"]) and heavy["TaskStatus"] == "NOTREADY"
    assert light == {"TaskId": "", "TaskStatus": ""}
    r = call(shared_server.client(), "DescribeFileConvertTask", {"Agent": AGENT_A, "TaskId": heavy["TaskId"]})
    assert (r["TaskId"], r["TaskStatus"], r["TaskMessage"], r["ResourceId"]) == (heavy["TaskId"], 8, "任务处理完成", flow_id)
    # The older name, in the Go SDK only: called by name through the Python SDK's generic call.
    r = call(shared_server.client(), "ChannelGetTaskResultApi", {"Agent": AGENT_A, "TaskId": heavy["TaskId"]})
    assert (r["TaskId"], r["TaskStatus"], r["TaskMessage"], r["ResourceId"], r["PreviewUrl"]) == (
        heavy["TaskId"], 8, "任务处理完成", flow_id, "")
    code, message = error_of(shared_server.client(), "DescribeFileConvertTask",
                             {"Agent": AGENT_A, "TaskId": "x" * 32})
    assert code == "InvalidParameter.ParamError" and "TaskId" in message


def test_a_task_is_reported_while_the_document_is_queued(start, tmp_path):
    server = start("--synthesis-workers", "0")
    photo = upload(server, "photo.png", png(8, 8, (0, 0, 0)))
    created = create(server, group(flow(FormFields=as_form_fields(employment_fields(photo))), flow(NDA)))
    task = created["TaskInfos"][0]["TaskId"]
    r = call(server.client(), "DescribeFileConvertTask", {"Agent": AGENT_A, "TaskId": task})
    assert (r["TaskStatus"], r["TaskMessage"]) == (0, "任务已提交")
    # Asking for the document makes it on the spot, even with no worker running.
    download(server, created["FlowIds"][0], tmp_path)
    r = call(server.client(), "DescribeFileConvertTask", {"Agent": AGENT_A, "TaskId": task})
    assert r["TaskStatus"] == 8


def test_resource_urls_name_unknown_contracts_in_error_messages(shared_server, contract):
    _, _, created = contract
    r = document_urls(shared_server, [created["FlowIds"][1], "nosuchflow"])
    known, unknown = r["FlowResourceUrlInfos"]
    assert [i["Name"] for i in known["ResourceUrlInfos"]] == ["2023年张三入职合同.pdf"]
    assert unknown == {"FlowId": "nosuchflow", "ResourceUrlInfos": []}
    assert r["ErrorMessages"][0] == "" and "不存在" in r["ErrorMessages"][1]
    code, message = error_of(shared_server.client(), "DescribeResourceUrlsByFlows", {"Agent": AGENT_A, "FlowIds": []})
    assert code == "MissingParameter.FlowId" and "FlowIds" in message


def test_a_tampered_or_expired_document_link_reveals_nothing(shared_server, contract):
    _, _, created = contract
    url = document_urls(shared_server, [created["FlowIds"][0]])["FlowResourceUrlInfos"][0]["ResourceUrlInfos"][0]["Url"]
    expires = int(re.search(r"expires=(\d+)", url).group(1))
    assert time.time() + 290 <= expires <= time.time() + 301
    first = re.search(r"signature=(\w)", url).group(1)
    tampered = url.replace(f"signature={first}", "signature=" + ("1" if first == "0" else "0"))
    for bad in [tampered, url.replace(f"expires={expires}", f"expires={expires + 60}"),
                url.replace("/blobs/", "/view/"), url.split("?")[0]]:
        with pytest.raises(urllib.error.HTTPError) as e:
            fetch(bad)
        assert e.value.code == 404 and e.value.read() == b"not found"


def test_flow_components_show_the_initiators_values(shared_server, contract):
    values, _, created = contract
    r = call(shared_server.client(), "ChannelDescribeFlowComponents",
             {"Agent": AGENT_A, "FlowId": created["FlowIds"][0]})
    promoter, *signers = r["RecipientComponentInfos"]
    assert promoter["IsPromoter"] is True and promoter["RecipientFillStatus"] == "1"
    shown = {c["ComponentId"]: c for c in promoter["Components"]}
    assert "SalaryTable" not in shown
    for key, value in values.items():
        if key != "SalaryTable":
            assert (shown[key]["ComponentFillStatus"], shown[key]["ComponentValue"]) == ("1", value), key
    status, headers, body = fetch(shown["EmployeePhoto"]["ImageUrl"])
    assert status == 200 and body.startswith(b"\x89PNG")
    assert set(shown) == set(values) - {"SalaryTable"}
    assert [(s["RecipientId"], [c["ComponentId"] for c in s["Components"]]) for s in signers] == [
        (EMPLOYEE["RecipientId"], ["EmployerOpinion"]), (PERSON["RecipientId"], ["EmergencyContact"])]


def test_describe_templates_links_to_the_template_pdf(shared_server):
    r = call(shared_server.client(), "DescribeTemplates",
             {"Agent": AGENT_A, "TemplateId": EMPLOYMENT, "WithPdfUrl": True, "WithPreviewUrl": True})
    [t] = r["Templates"]
    status, headers, body = fetch(t["PdfUrl"])
    assert body == (TEMPLATES / "employment-contract.pdf").read_bytes()
    assert headers["Content-Disposition"].startswith("attachment")
    status, headers, body = fetch(t["PreviewUrl"])
    assert headers["Content-Disposition"].startswith("inline") and body.startswith(b"%PDF-")
    r = call(shared_server.client(), "DescribeTemplates", {"Agent": AGENT_A, "TemplateId": EMPLOYMENT})
    assert (r["Templates"][0]["PdfUrl"], r["Templates"][0]["PreviewUrl"]) == ("", "")


# ---- bad values are refused at creation, and nothing is written ----

def pending(server):
    """Synthesis jobs not done yet: the queue."""
    return int(sql(server, "SELECT COUNT(*) FROM flow_documents WHERE state = 'PENDING'")[0][0])


def flows_written(server):
    return int(sql(server, "SELECT COUNT(*) FROM flows")[0][0]), pending(server)


@pytest.mark.parametrize("key, value, rule", [
    ("Probation", "yes", "must be `true` or `false`"),
    ("StartDate", "2023-03-01", "must be a date written YYYY年MM月DD日"),
    ("SocialInsurance", "不缴纳", "must be one of the options of component `SocialInsurance`: 单位代缴, 个人自缴"),
    ("EmployeeName", "张三" * 40, "cannot be shown in component `EmployeeName`"),
    ("WorkPlace", "很长的地址" * 60, "cannot be shown in component `WorkPlace`"),
    ("EmployeeName", "张三\n李四", "must be one line"),
    ("SalaryTable", json.dumps({"headers": [{"content": "a"}, {"content": "b"}], "rowCount": 1, "body": {
        "cells": [{"rowStart": 1, "rowEnd": 1, "columnStart": 1, "columnEnd": 3, "content": "x"}]}}),
     "body.cells.0 spans columns 1 to 3, but the table has 2 header column(s)"),
    ("SalaryTable", "[1, 2]", ': is not a table; a DYNAMIC_TABLE value is {"headers":[{"content":"…","widthPercent":50},…],'
                              '"rowCount":N,"body":{"cells":[{"rowStart":1,"rowEnd":1,"columnStart":1,"columnEnd":1,'
                              '"content":"…"},…]}} (widthPercent and body are optional).'),
    ("SalaryTable", json.dumps({"headers": [{"content": "月份", "widthPercent": 1}, {"content": "金额"}], "rowCount": 1}),
     "cannot be shown in component `SalaryTable`: headers.0: a word needs 10.0 points but the box is"),
    ("EmployeePhoto", "nosuchfile", "must be the FileId of an image this application uploaded"),
])
def test_a_bad_value_is_refused_naming_the_field(server, key, value, rule):
    photo = upload(server, "photo.png", png(8, 8, (0, 0, 0)))
    before = flows_written(server)
    values = {**employment_fields(photo), key: value}
    code, message = refuse(server, group(flow(NDA), flow(FormFields=as_form_fields(values))))
    index = list(values).index(key)
    assert code == "InvalidParameter.ComponentValue", message
    assert f"`FlowInfos.1.FormFields.{index}.ComponentValue`" in message and rule in message, message
    assert flows_written(server) == before


def test_an_image_component_refuses_a_file_that_is_not_an_image(server):
    pdf = upload(server, "contract.pdf", (TEMPLATES / "confidentiality-agreement.pdf").read_bytes())
    before = flows_written(server)
    code, message = refuse(server, group(flow(FormFields=as_form_fields(employment_fields(pdf))), flow(NDA)))
    assert code == "InvalidParameter.ComponentValue"
    assert "`FlowInfos.0.FormFields.9.ComponentValue` names a pdf file; an image component takes a PNG or JPEG" in message
    assert flows_written(server) == before


def test_a_value_for_a_component_that_does_not_exist_is_refused(server):
    photo = upload(server, "photo.png", png(8, 8, (0, 0, 0)))
    fields = as_form_fields(employment_fields(photo)) + [{"ComponentId": "NoSuchComponent", "ComponentValue": "x"}]
    before = flows_written(server)
    code, message = refuse(server, group(flow(FormFields=fields), flow(NDA)))
    assert code == "InvalidParameter.DataNotFound" and "FlowInfos.0.FormFields.11" in message, message
    assert flows_written(server) == before


# ---- the queue survives restarts and is shared by nodes ----

def backlog(server, groups):
    photo = upload(server, "photo.png", png(8, 8, (0, 0, 0)))
    values = employment_fields(photo)
    ids = []
    for _ in range(groups):
        ids += create(server, group(flow(FormFields=as_form_fields(values)), flow(NDA)))["FlowIds"]
    return ids


def all_documents_made_once(server, flow_ids):
    rows = sql(server, "SELECT flow_id, state, renders FROM flow_documents")
    assert sorted(r[0] for r in rows) == sorted(flow_ids)
    assert {(r[1], r[2]) for r in rows} == {("READY", "1")}
    assert pending(server) == 0


def test_a_restart_in_the_middle_of_a_backlog_loses_no_job_and_makes_none_twice(db, tmp_path, start):
    first = start("--synthesis-workers", "1")
    ids = backlog(first, 15)
    first.stop()
    left = pending(first)
    assert 0 < left < len(ids), "the restart should come in the middle of the backlog"
    second = Server(db, tmp_path, ["--synthesis-workers", "2"])
    try:
        wait_until("the backlog", lambda: pending(second) == 0)
        all_documents_made_once(second, ids)
    finally:
        second.stop()


def test_a_node_killed_in_the_middle_of_a_backlog_leaves_its_jobs_to_the_next(db, tmp_path, start):
    lease = ["--synthesis-lease-ms", "1500"]
    # Thirty groups in quick succession: above the default 20 calls a second.
    first = start("--synthesis-workers", "1", "--rate-limit", "1000", *lease)
    ids = backlog(first, 15)
    # Renders run at the lowest priority, so on a busy machine the worker may not have made
    # any document yet: wait for one, then queue more than it can make before the kill.
    wait_until("a first document", lambda: pending(first) < len(ids))
    ids += backlog(first, 15)
    first.proc.kill()
    first.proc.wait()
    left = pending(first)
    assert 0 < left < len(ids), "the kill should come in the middle of the backlog"
    second = Server(db, tmp_path, ["--synthesis-workers", "2", *lease])
    try:
        wait_until("the backlog", lambda: pending(second) == 0)
        all_documents_made_once(second, ids)
    finally:
        second.stop()


def test_two_nodes_share_the_queue_without_doing_a_job_twice(db, tmp_path, start):
    first = start("--synthesis-workers", "0")
    ids = backlog(first, 15)
    nodes = [Server(db, tmp_path, ["--synthesis-workers", "2"]) for _ in range(2)]
    try:
        wait_until("the backlog", lambda: pending(first) == 0)
        all_documents_made_once(first, ids)
    finally:
        for n in nodes:
            n.stop()


# ---- components placed by keyword and by form field ----

ANCHORED = "anchoredTemplate0000000000000001"


def anchored_tenants(tmp_path, components, pdf):
    """The fixture tenants plus one template of app A whose components are `components`."""
    fixtures = ROOT / "tests" / "fixtures"
    tenants = json.loads((fixtures / "tenants.json").read_text())
    for app in tenants["Applications"]:
        for t in app["Templates"]:
            t["Pdf"] = str((fixtures / t["Pdf"]).resolve())
    nda = next(t for t in tenants["Applications"][0]["Templates"] if t["TemplateId"] == NDA)
    tenants["Applications"][0]["Templates"].append({
        "TemplateId": ANCHORED, "TemplateName": "关键字定位", "Pdf": str(pdf), "Recipients": nda["Recipients"],
        "Components": components})
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps(tenants, ensure_ascii=False))
    return path


def resolved(server):
    r = call(server.client(), "DescribeTemplates", {"Agent": AGENT_A, "TemplateId": ANCHORED})
    return {c["ComponentId"]: c for c in r["Templates"][0]["Components"]}


def test_components_placed_by_keyword_are_filled_where_the_keyword_is(start, tmp_path):
    keyword = {"ComponentType": "TEXT", "GenerateMode": "KEYWORD", "ComponentWidth": 200, "ComponentHeight": 20,
               "RelativeLocation": "Right", "OffsetX": 4}
    server = start(tenants=anchored_tenants(tmp_path, [
        {**keyword, "ComponentId": "^乙方：^", "ComponentName": "乙方"},
        # 签名 occurs once on the page (in 乙方（签名）：); KeywordOrder Reverse counts from the end.
        {**keyword, "ComponentId": "签名", "ComponentName": "签名处", "KeywordOrder": "Reverse",
         "KeywordIndexes": [0], "RelativeLocation": "Below", "OffsetX": 0, "ComponentWidth": 100},
    ], TEMPLATES / "confidentiality-agreement.pdf"))
    boxes = resolved(server)
    assert set(boxes) == {"乙方：", "签名"}
    # The keyword line 乙方： sits where PartyB's box starts: the component goes right of it.
    party_b = boxes["乙方："]
    assert party_b["ComponentPage"] == 1 and party_b["ComponentWidth"] == 200 and party_b["ComponentHeight"] == 20
    assert 160 <= party_b["ComponentPosX"] <= 180 and 155 <= party_b["ComponentPosY"] <= 165, party_b
    fields = [{"ComponentId": "乙方：", "ComponentValue": "张三 Zhang San"},
              {"ComponentName": "签名处", "ComponentValue": "签于北京"}]
    created = create(server, group(flow(ANCHORED, FormFields=fields), flow(NDA)))
    pdf = download(server, created["FlowIds"][0], tmp_path)
    for key, value in [("乙方：", "张三 Zhang San"), ("签名", "签于北京")]:
        b = boxes[key]
        got = box_text(pdf, 1, b["ComponentPosX"], b["ComponentPosY"], b["ComponentWidth"], b["ComponentHeight"])
        assert got.strip() == value, key


def test_components_placed_over_form_fields(start, tmp_path):
    forms = ROOT / "tests" / "fixtures" / "locate" / "forms.pdf"
    server = start(tenants=anchored_tenants(tmp_path, [
        {"ComponentId": "Email", "ComponentName": "email", "ComponentType": "TEXT", "GenerateMode": "FIELD"},
    ], forms))
    # forms.pdf's field `email` has /Rect [144 676 344 694] on a 792 pt high page.
    e = resolved(server)["Email"]
    assert (e["ComponentPage"], e["ComponentPosX"], e["ComponentPosY"], e["ComponentWidth"], e["ComponentHeight"]) \
        == (1, 144, 98, 200, 18)
    created = create(server, group(flow(ANCHORED, FormFields=[{"ComponentId": "Email", "ComponentValue": "zs@例子.cn"}]),
                                   flow(NDA)))
    pdf = download(server, created["FlowIds"][0], tmp_path)
    assert box_text(pdf, 1, 144, 98, 200, 18).strip() == "zs@例子.cn"


@pytest.mark.parametrize("component, message", [
    ({"ComponentId": "没有的词", "GenerateMode": "KEYWORD", "ComponentWidth": 10, "ComponentHeight": 10},
     "Components[0].ComponentId: the keyword `没有的词` is not in the text of any page"),
    ({"ComponentId": "甲方", "GenerateMode": "KEYWORD", "ComponentWidth": 10, "ComponentHeight": 10,
      "KeywordIndexes": [9]}, "Components[0].ComponentId: KeywordIndexes names occurrence 9"),
    ({"ComponentId": "甲方", "GenerateMode": "KEYWORD", "ComponentWidth": 10, "ComponentHeight": 10,
      "RelativeLocation": "Above"}, "Components[0].RelativeLocation: `Above` is not one of Middle, Below"),
    ({"ComponentId": "甲方", "GenerateMode": "KEYWORD", "ComponentWidth": 10},
     "Components[0].ComponentHeight: required with GenerateMode KEYWORD"),
    ({"ComponentId": "F", "ComponentName": "nosuch", "GenerateMode": "FIELD"},
     "Components[0].ComponentName: the PDF has no form field `nosuch` (it has no form fields at all)"),
    ({"ComponentId": "F", "GenerateMode": "FIELD", "ComponentPage": 1},
     "Components[0].ComponentPage: only applies to GenerateMode NORMAL"),
    ({"ComponentId": "F", "GenerateMode": "SOMEWHERE"},
     "Components[0].GenerateMode: `SOMEWHERE` is not one of NORMAL, KEYWORD, FIELD"),
])
def test_an_anchored_component_that_cannot_be_placed_is_refused_by_apply(db, tmp_path, component, message):
    from conftest import apply
    r = apply(db, tmp_path, anchored_tenants(tmp_path, [{"ComponentType": "TEXT", **component}],
                                              TEMPLATES / "confidentiality-agreement.pdf"))
    assert r.returncode != 0
    assert f"Applications[0].Templates[2].{message}" in r.stderr, r.stderr


# ---- documents on S3-compatible storage ----

def test_a_server_on_s3_keeps_templates_and_contracts_in_the_bucket(db, tmp_path, monkeypatch):
    endpoint = os.environ.get("QIANSHU_TEST_S3_ENDPOINT")
    if not endpoint:
        if os.environ.get("CI") == "true":
            pytest.fail("an S3-compatible server is required on CI (scripts/test.sh starts moto_server)")
        pytest.skip("SKIPPED: no S3-compatible server (QIANSHU_TEST_S3_ENDPOINT; scripts/test.sh starts one)")
    from conftest import apply, use_s3_bucket
    s3, bucket = use_s3_bucket(monkeypatch, endpoint, "qianshu-sdk-")
    r = apply(db, tmp_path)
    assert r.returncode == 0, r.stderr
    server = Server(db, tmp_path)
    try:
        created = create(server, group(flow(NDA, FormFields=[{"ComponentId": "PartyA", "ComponentValue": "甲公司"},
                                                           {"ComponentId": "PartyB", "ComponentValue": "乙某"}]),
                                       flow(NDA)))
        pdf = download(server, created["FlowIds"][0], tmp_path)
    finally:
        server.stop()
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    contract = hashlib.sha256(pdf.read_bytes()).hexdigest()
    template = hashlib.sha256((TEMPLATES / "confidentiality-agreement.pdf").read_bytes()).hexdigest()
    for sha in [contract, template]:
        assert f"documents/sha256/{sha[:2]}/{sha}" in keys
    assert not any((tmp_path / "blobs").glob("**/*.pdf")) and not (tmp_path / "blobs").exists()
    assert "乙某" in text_of(pdf)
