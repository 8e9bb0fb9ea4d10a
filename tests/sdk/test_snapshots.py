"""A contract never changes under its signers: `qianshu apply` with a changed template, or
without it, while the server runs, leaves existing contracts' documents, components and
approvers as they were; contracts created afterwards use the new version."""

import json
import time
import urllib.request

from conftest import AGENT_A, ROOT, apply, call
from test_flow_groups import EMPLOYEE, NDA, PERSON, create, detail, flow, group

FIXTURES = ROOT / "tests" / "fixtures"
TEMPLATES = ROOT / "examples" / "templates"


def tenants_file(tmp_path, change):
    """The fixture tenants with `change` made to them, written beside the test."""
    tenants = json.loads((FIXTURES / "tenants.json").read_text())
    for app in tenants["Applications"]:
        for t in app["Templates"]:
            t["Pdf"] = str((FIXTURES / t["Pdf"]).resolve())
    change(tenants["Applications"][0]["Templates"])
    path = tmp_path / "changed-tenants.json"
    path.write_text(json.dumps(tenants, ensure_ascii=False))
    return path


def nda(templates):
    return next(t for t in templates if t["TemplateId"] == NDA)


def changed(templates):
    t = nda(templates)
    t["Pdf"] = str(TEMPLATES / "employment-contract.pdf")
    t["Components"][0]["ComponentPosY"] = 300
    t["Components"][0]["ComponentName"] = "甲方全称"
    t["Recipients"][0]["RoleName"] = "用人单位"


def removed(templates):
    templates.remove(nda(templates))


def new_contract(server):
    """A contract on the NDA template (a group holds two at least)."""
    r = create(server, group(flow(NDA, [EMPLOYEE, PERSON]), flow(NDA, [EMPLOYEE, PERSON])))
    return r["FlowIds"][0]


def components(server, flow_id):
    return call(server.client(), "ChannelDescribeFlowComponents", {"Agent": AGENT_A, "FlowId": flow_id})[
        "RecipientComponentInfos"]


def approvers(server, flow_id):
    return detail(server, FlowIds=[flow_id])["FlowInfo"][0]["FlowApproverInfos"]


def document(server, flow_id):
    r = call(server.client(), "DescribeResourceUrlsByFlows", {"Agent": AGENT_A, "FlowIds": [flow_id]})
    assert r["ErrorMessages"] == [""], r
    with urllib.request.urlopen(r["FlowResourceUrlInfos"][0]["ResourceUrlInfos"][0]["Url"], timeout=60) as answer:
        return answer.read()


def party_a(server):
    """Where and under what name the current NDA template has PartyA."""
    r = call(server.client(), "DescribeTemplates", {"Agent": AGENT_A, "TemplateId": NDA})
    c = next(c for c in r["Templates"][0]["Components"] if c["ComponentId"] == "PartyA")
    return c["ComponentPosY"], c["ComponentName"]


def applied(db, tmp_path, change):
    r = apply(db, tmp_path, tenants_file(tmp_path, change))
    assert r.returncode == 0, r.stderr


def test_a_contract_keeps_the_template_it_was_created_with(start, db, tmp_path):
    server = start()
    old = new_contract(server)
    before = (components(server, old), approvers(server, old))
    assert before[0][0]["Components"][0]["ComponentName"] == "甲方名称"

    applied(db, tmp_path, changed)
    # The server reads templates through its cache (--cache-ttl-ms, 1 s by default).
    deadline = time.time() + 10
    while party_a(server) != (300, "甲方全称"):
        assert time.time() < deadline, party_a(server)
        time.sleep(0.2)

    assert (components(server, old), approvers(server, old)) == before
    confidentiality = (TEMPLATES / "confidentiality-agreement.pdf").read_bytes()
    old_document = document(server, old)
    # A contract is its template's bytes untouched plus one incremental update.
    assert old_document.startswith(confidentiality) and len(old_document) > len(confidentiality)

    new = new_contract(server)
    assert components(server, new)[0]["Components"][0]["ComponentName"] == "甲方全称"
    assert approvers(server, new)[0]["ApproverRoleName"] == "用人单位"
    assert approvers(server, old)[0]["ApproverRoleName"] == "甲方"
    assert document(server, new).startswith((TEMPLATES / "employment-contract.pdf").read_bytes())

    applied(db, tmp_path, removed)
    assert (components(server, old), approvers(server, old)) == before
    assert document(server, old) == old_document
