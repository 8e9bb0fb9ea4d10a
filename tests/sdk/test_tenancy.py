"""Applications, sub-organizations, operators and templates, through the SDK and `qianshu apply`."""

import contextlib
import io
import json
import subprocess

import pytest

from conftest import AGENT_A, AGENT_B, APP_A, BIN, ROOT, TENANTS, apply, call, error_of

AGENT_ORG = {"AppId": APP_A, "ProxyOrganizationOpenId": "kev_open_organization_8"}


def operators(n, **extra):
    return [{"Id": f"op{i}", "Name": f"员工{i}", "Mobile": f"138{i:08d}", **extra} for i in range(n)]


def describe(server, who="A", **params):
    agent = params.pop("Agent", AGENT_A if who == "A" else AGENT_B)
    return call(server.client(who), "DescribeTemplates", {"Agent": agent, **params})


def test_sync_proxy_organization_creates_an_unverified_organization(server):
    client = server.client()
    agent = {"AppId": APP_A, "ProxyOrganizationOpenId": "new_org_1"}
    r = call(client, "SyncProxyOrganization", {"Agent": agent, "ProxyOrganizationName": "新建示例企业",
                                               "UniformSocialCreditCode": "91440300MA5F000001", "ProxyLegalName": "钱九"})
    assert list(r) == ["RequestId"]
    r = call(client, "SyncProxyOrganizationOperators",
             {"Agent": agent, "OperatorType": "CREATE", "ProxyOrganizationOperators": operators(1)})
    assert (r["Status"], r["FailedList"]) == (1, [])
    code, msg = error_of(client, "DescribeTemplates", {"Agent": {**agent, "ProxyOperator": {"OpenId": "op0"}}})
    assert code == "OperationDenied.NoIdentityVerify"
    assert "new_org_1" in msg


def test_sync_proxy_organization_rules(server):
    client = server.client()
    agent = {"AppId": APP_A, "ProxyOrganizationOpenId": "new_org_2"}
    assert error_of(client, "SyncProxyOrganization", {"Agent": agent, "ProxyOrganizationName": "示例(深圳)公司"})[0] == \
        "InvalidParameter.OrganizationName"
    code, msg = error_of(client, "SyncProxyOrganization", {"Agent": agent})
    assert (code, "`ProxyOrganizationName`" in msg) == ("MissingParameter", True)
    assert error_of(client, "SyncProxyOrganization", {"Agent": agent, "ProxyOrganizationName": "甲",
                                                      "ProxyLegalIdCardType": "PASSPORT"})[0] == "InvalidParameter.CardType"
    assert error_of(client, "SyncProxyOrganization", {"Agent": agent, "ProxyOrganizationName": "甲",
                                                      "ProxyLegalIdCardNumber": "123"})[0] == "InvalidParameter.CardNumber"
    assert error_of(client, "SyncProxyOrganization", {"Agent": agent, "ProxyOrganizationName": "甲",
                                                      "BusinessLicense": "not base64!"})[0] == "InvalidParameter.BusinessLicense"
    code, msg = error_of(client, "SyncProxyOrganization", {"Agent": {"ProxyOrganizationOpenId": "x"}, "ProxyOrganizationName": "甲"})
    assert (code, "`Agent.AppId`" in msg) == ("MissingParameter", True)


def test_operator_sync_reports_each_failure_and_refuses_when_all_fail(server):
    client = server.client()
    ops = operators(2)
    ops.append({"Id": "bad_mobile", "Name": "错号", "Mobile": "+8613800000000"})
    r = call(client, "SyncProxyOrganizationOperators", {"Agent": AGENT_ORG, "OperatorType": "CREATE", "ProxyOrganizationOperators": ops})
    assert r["Status"] == 2
    assert [f["Id"] for f in r["FailedList"]] == ["bad_mobile"]
    assert "InvalidParameter.Mobile" in r["FailedList"][0]["Message"]
    # A verified operator cannot be overwritten; an unknown one cannot be updated.
    code, msg = error_of(client, "SyncProxyOrganizationOperators",
                         {"Agent": AGENT_ORG, "OperatorType": "CREATE", "ProxyOrganizationOperators": [{"Id": "kev_8", "Name": "冒名"}]})
    assert code == "FailedOperation"
    assert "kev_8" in msg
    assert error_of(client, "SyncProxyOrganizationOperators",
                    {"Agent": AGENT_ORG, "OperatorType": "UPDATE", "ProxyOrganizationOperators": [{"Id": "ghost"}]})[0] == "FailedOperation"
    r = call(client, "SyncProxyOrganizationOperators",
             {"Agent": AGENT_ORG, "OperatorType": "RESIGN", "ProxyOrganizationOperators": [{"Id": "op0"}]})
    assert r["Status"] == 1


def test_operator_sync_limits(server):
    client = server.client()
    assert error_of(client, "SyncProxyOrganizationOperators", {"Agent": AGENT_ORG, "OperatorType": "CREATE",
                    "ProxyOrganizationOperators": operators(201)})[0] == "LimitExceeded.ProxyOrganizationOperator"
    assert error_of(client, "SyncProxyOrganizationOperators", {"Agent": AGENT_ORG, "OperatorType": "DELETE",
                    "ProxyOrganizationOperators": operators(1)})[0] == "OperationDenied.OperateType"
    assert error_of(client, "SyncProxyOrganizationOperators", {"Agent": AGENT_ORG, "OperatorType": "CREATE",
                    "ProxyOrganizationOperators": []})[0] == "MissingParameter"
    assert error_of(client, "SyncProxyOrganizationOperators", {"Agent": {**AGENT_ORG, "ProxyOrganizationOpenId": "nowhere"},
                    "OperatorType": "CREATE", "ProxyOrganizationOperators": operators(1)})[0] == "ResourceNotFound.Organization"


def test_describe_templates_returns_the_whole_template(server):
    r = describe(server, TemplateId="yDwgKUUckp1jdy4dUWptGKRavSGWt9cW")
    assert (r["TotalCount"], r["Limit"], r["Offset"]) == (1, 20, 0)
    t = r["Templates"][0]
    assert t["TemplateName"] == "劳动合同"
    assert [(x["RecipientId"], x["RoleName"], x["RecipientType"], x["RoutingOrder"]) for x in t["Recipients"]] == [
        ("yDwgKUUckp1jdybwUWptGKyGVpNME9fH", "甲方", "ENTERPRISE", 1),
        ("yDwgKUUckp1jdybvUWptGKBD9TeupFMV", "乙方", "INDIVIDUAL", 2),
    ]
    # Without QueryAllComponents only the initiator's components come back.
    assert [c["ComponentId"] for c in t["Components"]] == [
        "CompanyName", "EmployeeName", "EmployeeIdNumber", "Position", "MonthlySalary", "StartDate", "WorkPlace",
        "Probation", "SocialInsurance", "EmployeePhoto", "SalaryTable"]
    first = t["Components"][0]
    assert first == {"ComponentId": "CompanyName", "ComponentType": "TEXT", "ComponentName": "甲方名称", "ComponentRequired": True,
                     "ComponentRecipientId": "", "FileIndex": 0, "GenerateMode": "NORMAL", "ComponentWidth": 260.0,
                     "ComponentHeight": 20.0, "ComponentPage": 1, "ComponentPosX": 170.0, "ComponentPosY": 130.0,
                     "ComponentExtra": '{"Font":"黑体","FontSize":12,"FontAlign":"Left"}', "ComponentValue": ""}
    assert [c["ComponentType"] for c in t["SignComponents"]] == ["SIGN_SEAL", "SIGN_DATE", "SIGN_SIGNATURE", "SIGN_DATE"]
    assert (t["TemplateType"], t["Available"]) == (3, 1)
    all_components = describe(server, TemplateId="yDwgKUUckp1jdy4dUWptGKRavSGWt9cW", QueryAllComponents=True)
    assert "EmergencyContact" in [c["ComponentId"] for c in all_components["Templates"][0]["Components"]]


def test_describe_templates_filters_and_pages(server):
    assert describe(server, ContentType=1)["Templates"][0]["Components"] == []
    r = describe(server, Limit=1, Offset=1)
    assert (len(r["Templates"]), r["TotalCount"]) == (1, 2)
    assert [t["TemplateName"] for t in describe(server, TemplateName="保密")["Templates"]] == ["保密协议"]
    assert describe(server, TemplateId="yDwgKUUckp1jdy4dUWptGKRavSGWt9cW", TemplateName="保密")["TotalCount"] == 0
    assert describe(server, ChannelTemplateId="anything")["TotalCount"] == 0
    r = describe(server, TemplateIds=["yDRS4UUgygqdcj51UuO4zjEyWTmzsIAR", "yDwgKUUckp1jdy4dUWptGKRavSGWt9cW"])
    assert r["TotalCount"] == 2


def test_describe_templates_rules(server):
    client = server.client()
    code, msg = error_of(client, "DescribeTemplates", {"Agent": AGENT_A, "TemplateIds": ["yDRS4UUgygqdcj51UuO4zjEyWTmzsIAR",
                                                                                        "bTemplate0000000000000000000000B"]})
    assert (code, "bTemplate0000000000000000000000B" in msg) == ("ResourceNotFound.Template", True)
    assert error_of(client, "DescribeTemplates", {"Agent": AGENT_A, "Limit": 101})[0] == "InvalidParameter"
    assert error_of(client, "DescribeTemplates", {"Agent": AGENT_A, "Offset": -1})[0] == "InvalidParameter"
    assert error_of(client, "DescribeTemplates", {"Agent": AGENT_A, "ContentType": 2})[0] == "InvalidParameter.ContentType"
    assert error_of(client, "DescribeTemplates", {"Agent": AGENT_A, "TemplateId": "short"})[0] == "InvalidParameter"
    assert error_of(client, "DescribeTemplates", {"Agent": {**AGENT_A, "ProxyOperator": {"OpenId": "kev_unverified"}}})[0] == \
        "OperationDenied.NoIdentityVerify"
    assert error_of(client, "DescribeTemplates", {"Agent": {**AGENT_A, "ProxyOperator": {"OpenId": "stranger"}}})[0] == \
        "OperationDenied.UserNotInOrganization"
    assert error_of(client, "DescribeTemplates", {"Agent": {**AGENT_A, "ProxyOrganizationOpenId": "org_unverified",
                                                            "ProxyOperator": {"OpenId": "op_u"}}})[0] == "OperationDenied.NoIdentityVerify"


def test_applications_never_see_each_others_templates(server):
    assert [t["TemplateName"] for t in describe(server, "B")["Templates"]] == ["乙应用模板"]
    assert describe(server, TemplateId="bTemplate0000000000000000000000B")["TotalCount"] == 0


def test_apply_twice_succeeds_and_a_bad_file_names_the_entry(db, tmp_path):
    assert apply(db, tmp_path).returncode == 0
    again = apply(db, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "2 application(s), 4 organization(s), 3 template(s)" in again.stdout
    bad = json.loads(TENANTS.read_text())
    bad["Applications"][1]["Organizations"][0]["Operators"][0]["Mobile"] = "12345"
    for t in bad["Applications"][0]["Templates"] + bad["Applications"][1]["Templates"]:
        t["Pdf"] = str((TENANTS.parent / t["Pdf"]).resolve())
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad, ensure_ascii=False))
    r = apply(db, tmp_path, path)
    assert r.returncode == 1
    assert "Applications[1].Organizations[0].Operators[0]: The parameter `Mobile` must be an 11-digit" in r.stderr


def test_apply_refuses_a_template_that_does_not_fit_its_pdf(db, tmp_path):
    bad = json.loads(TENANTS.read_text())
    for t in bad["Applications"][0]["Templates"] + bad["Applications"][1]["Templates"]:
        t["Pdf"] = str((TENANTS.parent / t["Pdf"]).resolve())
    bad["Applications"][0]["Templates"][1]["Components"][0]["ComponentPage"] = 3
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad, ensure_ascii=False))
    r = apply(db, tmp_path, path)
    assert r.returncode == 1
    assert "Applications[0].Templates[1].Components[0].ComponentPage 3 is past the PDF's last page (1)" in r.stderr
    not_pdf = tmp_path / "not.pdf"
    not_pdf.write_bytes(b"hello")
    bad["Applications"][0]["Templates"][1]["Pdf"] = str(not_pdf)
    path.write_text(json.dumps(bad, ensure_ascii=False))
    r = apply(db, tmp_path, path)
    assert "Applications[0].Templates[1].Pdf" in r.stderr and "does not start with %PDF-" in r.stderr


def test_an_unknown_database_scheme_is_a_loud_error(tmp_path):
    r = subprocess.run([str(BIN), "--data-dir", str(tmp_path), "--database-url", "sqlit://typo.db", "apply", str(TENANTS)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "unknown scheme" in r.stderr
    assert not (tmp_path / "typo.db").exists()


def test_serve_demo_loads_the_demo_tenant_into_an_empty_database(db, tmp_path):
    from conftest import Server
    server = Server(db, tmp_path, ["--demo"])
    try:
        banner = "".join(server.banner)
        snippet = banner[banner.index("from tencentcloud.common import credential"):banner.index("qianshu listening")]
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(snippet, {})  # noqa: S102 - the snippet the server prints must run as printed
        assert json.loads(printed.getvalue())["TotalCount"] == 2
        client = server.client(("AKIDqianshuDEMO", "qianshuDemoSecretKeyChangeMe0000"))
        agent = {"AppId": "16fd2f7d7ae85d13ca5f8d501d57b5ec", "ProxyOrganizationOpenId": "kev_open_organization_8",
                 "ProxyOperator": {"OpenId": "kev_8"}}
        assert call(client, "DescribeTemplates", {"Agent": agent})["TotalCount"] == 2
    finally:
        server.stop()
