"""ChannelCreateFlowGroupByTemplates and DescribeFlowDetailInfo through the official SDK."""

import copy
import json
import re
import threading
import time

import pytest
from tencentcloud.essbasic.v20210526 import models

from conftest import AGENT_A, AGENT_B, APP_A, call, error_of

EMPLOYMENT = "yDwgKUUckp1jdy4dUWptGKRavSGWt9cW"
NDA = "yDRS4UUgygqdcj51UuO4zjEyWTmzsIAR"
B_TEMPLATE = "bTemplate0000000000000000000000B"
ENT = "yDwgKUUckp1jdybwUWptGKyGVpNME9fH"
IND = "yDwgKUUckp1jdybvUWptGKBD9TeupFMV"
ID32 = re.compile(r"^[A-Za-z0-9]{32}$")

EMPLOYEE = {"OrganizationName": "典子谦示例企业", "OrganizationOpenId": "kev_open_organization_8", "OpenId": "kev_8",
            "ApproverType": "ORGANIZATION", "RecipientId": ENT}
PERSON = {"Name": "张三", "Mobile": "18888888888", "ApproverType": "PERSON", "RecipientId": IND}
FIELDS = {EMPLOYMENT: [{"ComponentId": "CompanyName", "ComponentValue": "典子谦示例企业"},
                       {"ComponentName": "乙方姓名", "ComponentValue": "张三"}],
          NDA: [{"ComponentId": "PartyA", "ComponentValue": "典子谦示例企业"}, {"ComponentId": "PartyB", "ComponentValue": "张三"}]}


def flow(template=EMPLOYMENT, approvers=None, **extra):
    f = {"FlowName": "2023年张三入职合同", "TemplateId": template,
         "FlowApprovers": copy.deepcopy(approvers if approvers is not None else [EMPLOYEE, PERSON]),
         "FormFields": copy.deepcopy(FIELDS.get(template, [])), "Deadline": int(time.time()) + 86400}
    f.update(extra)
    return f


def group(*flows, name="2023年张三入职合同组合", agent=AGENT_A):
    return {"Agent": agent, "FlowGroupName": name, "FlowInfos": list(flows) or [flow(), flow(NDA)]}


def create(server, body, who="A", method="POST"):
    return call(server.client(who, method), "ChannelCreateFlowGroupByTemplates", body)


def refuse(server, body, who="A"):
    return error_of(server.client(who), "ChannelCreateFlowGroupByTemplates", body)


def detail(server, who="A", **params):
    agent = params.pop("Agent", AGENT_A if who == "A" else AGENT_B)
    return call(server.client(who), "DescribeFlowDetailInfo", {"Agent": agent, **params})


# ---- the seed's examples ----

@pytest.mark.parametrize("method", ["POST", "GET"])
def test_the_seeds_first_example_creates_a_group_of_two(shared_server, method):
    r = create(shared_server, group(), method=method)
    assert list(r) == ["FlowGroupId", "FlowIds", "TaskInfos", "RequestId"]
    assert ID32.match(r["FlowGroupId"])
    assert len(r["FlowIds"]) == 2 and all(ID32.match(f) for f in r["FlowIds"])
    assert len(set(r["FlowIds"] + [r["FlowGroupId"]])) == 3
    assert r["TaskInfos"] == [{"TaskId": "", "TaskStatus": ""}, {"TaskId": "", "TaskStatus": ""}]


def test_the_typed_sdk_model_reads_the_answer(shared_server):
    req = models.ChannelCreateFlowGroupByTemplatesRequest()
    req.from_json_string(json.dumps(group(), ensure_ascii=False))
    resp = shared_server.client().ChannelCreateFlowGroupByTemplates(req)
    assert len(resp.FlowIds) == 2
    assert resp.TaskInfos[0].TaskId == ""
    assert resp.Approvers is None


def test_the_seeds_second_example_returns_dynamic_approvers(shared_server):
    dynamic = {"ApproverOption": {"FillType": 1}, "ApproverType": "ORGANIZATION", "RecipientId": ENT}
    r = create(shared_server, group(flow(approvers=[dynamic, PERSON]), flow(NDA, approvers=[dynamic, PERSON])))
    assert [a["FlowId"] for a in r["Approvers"]] == r["FlowIds"]
    for entry in r["Approvers"]:
        assert list(entry) == ["Approvers", "FlowId"]
        assert [(a["RecipientId"], a["ApproverRoleName"]) for a in entry["Approvers"]] == [(ENT, ""), (IND, "")]
    sign_ids = [a["SignId"] for e in r["Approvers"] for a in e["Approvers"]]
    assert len(set(sign_ids)) == 4 and all(ID32.match(s) for s in sign_ids)
    d = detail(shared_server, FlowGroupId=r["FlowGroupId"])
    assert [a["SignId"] for f in d["FlowInfo"] for a in f["FlowApproverInfos"]] == sign_ids


def test_describe_flow_detail_info_shows_the_whole_group(shared_server):
    body = group(flow(CustomerData="aGVsbG8=", FlowType="入职合同"), flow(NDA, Deadline=None))
    before = int(time.time())
    r = create(shared_server, body)
    d = detail(shared_server, FlowGroupId=r["FlowGroupId"])
    assert (d["ApplicationId"], d["ProxyOrganizationOpenId"]) == (APP_A, "kev_open_organization_8")
    assert (d["FlowGroupId"], d["FlowGroupName"]) == (r["FlowGroupId"], "2023年张三入职合同组合")
    assert [f["FlowId"] for f in d["FlowInfo"]] == r["FlowIds"]
    first, second = d["FlowInfo"]
    assert (first["FlowStatus"], first["FlowName"], first["TemplateId"]) == ("INIT", "2023年张三入职合同", EMPLOYMENT)
    assert (first["CustomData"], first["FlowType"], first["CcInfos"], first["NeedCreateReview"]) == ("aGVsbG8=", "入职合同", [], False)
    assert first["DeadLine"] == body["FlowInfos"][0]["Deadline"]
    assert before <= second["CreateOn"] <= int(time.time())
    assert second["DeadLine"] == second["CreateOn"] + 365 * 24 * 3600
    employee, person = first["FlowApproverInfos"]
    assert employee == {**employee, "RecipientId": ENT, "ProxyOrganizationOpenId": "kev_open_organization_8", "ProxyOperatorOpenId": "kev_8",
                        "ProxyOrganizationName": "典子谦示例企业", "Mobile": "13800000008", "ApproveName": "王五",
                        "ApproveStatus": "PENDING", "ApproveType": "ORGANIZATION", "ApproverRoleName": "甲方", "SignOrder": 0}
    assert (person["ApproveName"], person["Mobile"], person["ApproveType"], person["ApproverRoleName"]) == ("张三", "18888888888", "PERSON", "乙方")
    assert ID32.match(person["SignId"])


def test_describe_by_flow_ids_keeps_the_order_given(shared_server):
    r = create(shared_server, group())
    d = detail(shared_server, FlowIds=list(reversed(r["FlowIds"])))
    assert [f["FlowId"] for f in d["FlowInfo"]] == list(reversed(r["FlowIds"]))
    assert (d["FlowGroupId"], d["FlowGroupName"]) == ("", "")


# ---- the four signer scenarios ----

def test_an_employee_of_another_sub_organization_signs(shared_server):
    other = {"OrganizationOpenId": "kev_open_organization_9", "OpenId": "kev_9", "ApproverType": "ORGANIZATION", "RecipientId": ENT}
    r = create(shared_server, group(flow(approvers=[other, PERSON]), flow(NDA)))
    a = detail(shared_server, FlowIds=r["FlowIds"][:1])["FlowInfo"][0]["FlowApproverInfos"][0]
    assert (a["ProxyOrganizationOpenId"], a["ProxyOrganizationName"], a["ApproveName"]) == ("kev_open_organization_9", "典子谦合作企业", "赵六")


def test_an_unknown_employee_of_a_new_organization_needs_names(shared_server):
    stranger = {"OrganizationOpenId": "org_new", "OpenId": "op_new", "ApproverType": "ORGANIZATION", "RecipientId": ENT}
    code, msg = refuse(shared_server, group(flow(approvers=[stranger, PERSON]), flow(NDA)))
    assert code == "MissingParameter" and "FlowInfos.0.FlowApprovers.0.OrganizationName" in msg
    stranger.update({"OrganizationName": "新合作企业", "Name": "吴十", "Mobile": "13700000000"})
    assert len(create(shared_server, group(flow(approvers=[stranger, PERSON]), flow(NDA)))["FlowIds"]) == 2


def test_a_saas_enterprise_employee_signs(shared_server):
    saas = {"OrganizationName": "腾讯电子签测试企业", "Name": "郑十一", "Mobile": "13600000000", "NotChannelOrganization": True,
            "ApproverType": "ORGANIZATION", "RecipientId": ENT}
    r = create(shared_server, group(flow(approvers=[saas, PERSON]), flow(NDA)))
    a = detail(shared_server, FlowIds=r["FlowIds"][:1])["FlowInfo"][0]["FlowApproverInfos"][0]
    assert (a["ProxyOrganizationOpenId"], a["ProxyOrganizationName"], a["ApproveName"]) == ("", "腾讯电子签测试企业", "郑十一")
    saas["OpenId"] = "x"
    assert refuse(shared_server, group(flow(approvers=[saas, PERSON]), flow(NDA)))[0] == "InvalidParameter"


def test_enterprise_auto_sign_on_a_template_without_fill_components(shared_server):
    auto = {"ApproverType": "ENTERPRISESERVER", "RecipientId": ENT}
    r = create(shared_server, group(flow(NDA, approvers=[auto, PERSON]), flow(NDA)))
    a = detail(shared_server, FlowIds=r["FlowIds"][:1])["FlowInfo"][0]["FlowApproverInfos"][0]
    assert (a["ApproveType"], a["ProxyOrganizationOpenId"]) == ("ORGANIZATION", "kev_open_organization_8")


# ---- rules, each broken alone ----

@pytest.mark.parametrize("count", [1, 51])
def test_a_group_needs_2_to_50_contracts(shared_server, count):
    code, msg = refuse(shared_server, group(*[flow(NDA) for _ in range(count)]))
    assert code == "InvalidParameter.FlowInfos"
    assert str(count) in msg


def test_fifty_contracts_is_the_most(shared_server):
    assert len(create(shared_server, group(*[flow(NDA) for _ in range(50)]))["FlowIds"]) == 50


@pytest.mark.parametrize("name,code", [("入职-合同组", "InvalidParameter"), ("合" * 201, "InvalidParameter"), (None, "MissingParameter")])
def test_the_group_name_rule(shared_server, name, code):
    body = group()
    if name is None:
        del body["FlowGroupName"]
    else:
        body["FlowGroupName"] = name
    c, msg = refuse(shared_server, body)
    assert (c, "`FlowGroupName`" in msg) == (code, True)


def test_two_hundred_chinese_characters_are_a_valid_group_name(shared_server):
    assert create(shared_server, group(name="合" * 200))["FlowGroupId"]


def test_the_flow_name_rule(shared_server):
    code, msg = refuse(shared_server, group(flow(), flow(NDA, FlowName="保密 协议")))
    assert code == "InvalidParameter.FlowName" and "FlowInfos.1.FlowName" in msg


def test_another_applications_template_is_resource_not_found(shared_server):
    code, msg = refuse(shared_server, group(flow(), flow(B_TEMPLATE, approvers=[EMPLOYEE])))
    assert code == "ResourceNotFound.Template" and B_TEMPLATE in msg


def test_a_deadline_in_the_past_is_refused(shared_server):
    assert refuse(shared_server, group(flow(), flow(NDA, Deadline=int(time.time()) - 10)))[0] == "InvalidParameter.FlowDeadLine"


def test_groups_do_not_support_cc(shared_server):
    code, msg = refuse(shared_server, group(flow(CcInfos=[{"Name": "抄送人", "Mobile": "13800000001"}]), flow(NDA)))
    assert code == "InvalidParameter" and "FlowInfos.0.CcInfos" in msg


def test_other_flow_fields_are_checked(shared_server):
    assert refuse(shared_server, group(flow(FlowDescription="长" * 1001), flow(NDA)))[0] == "InvalidParameter.FlowDescription"
    assert refuse(shared_server, group(flow(CustomerData="%%%"), flow(NDA)))[0] == "InvalidParameter.CustomerData"
    assert refuse(shared_server, group(flow(FlowType="a b"), flow(NDA)))[0] == "InvalidParameter.FlowType"
    assert refuse(shared_server, group(flow(FlowDisplayType=4), flow(NDA)))[0] == "InvalidParameter"
    assert refuse(shared_server, group(flow(CustomShowMap="{签署方3姓名}"), flow(NDA)))[0] == "InvalidParameter.CustomShowMap"


def test_approvers_must_follow_the_templates_recipients(shared_server):
    assert refuse(shared_server, group(flow(approvers=[PERSON, EMPLOYEE]), flow(NDA)))[0] == "InvalidParameter.FlowApprovers"
    assert refuse(shared_server, group(flow(approvers=[EMPLOYEE]), flow(NDA)))[0] == "InvalidParameter.FlowApprovers"
    assert refuse(shared_server, group(flow(approvers=[EMPLOYEE, PERSON, {**PERSON, "RecipientId": "extra"}]), flow(NDA)))[0] == \
        "InvalidParameter.FlowApprovers"
    assert refuse(shared_server, group(flow(approvers=[EMPLOYEE, EMPLOYEE]), flow(NDA)))[0] == "InvalidParameter.BizApproverAlreadyExists"
    no_recipient = {k: v for k, v in PERSON.items() if k != "RecipientId"}
    code, msg = refuse(shared_server, group(flow(approvers=[EMPLOYEE, no_recipient]), flow(NDA)))
    assert code == "MissingParameter" and "FlowInfos.0.FlowApprovers.1.RecipientId" in msg


def test_signer_identities_are_checked(shared_server):
    code, msg = refuse(shared_server, group(flow(approvers=[EMPLOYEE, {**PERSON, "Mobile": "1888888888"}]), flow(NDA)))
    assert code == "InvalidParameter.Mobile" and "FlowInfos.0.FlowApprovers.1.Mobile" in msg
    assert refuse(shared_server, group(flow(approvers=[EMPLOYEE, {**PERSON, "IdCardNumber": "123"}]), flow(NDA)))[0] == \
        "InvalidParameter.CardNumber"
    assert create(shared_server, group(flow(approvers=[EMPLOYEE, {**PERSON, "IdCardType": "HONGKONG_AND_MACAO",
                                                                "IdCardNumber": "H1234567890"}]), flow(NDA)))["FlowIds"]
    assert refuse(shared_server, group(flow(approvers=[EMPLOYEE, {"ApproverType": "PERSON", "RecipientId": IND, "Mobile": "18888888888"}]),
                                       flow(NDA)))[0] == "MissingParameter"
    assert refuse(shared_server, group(flow(approvers=[EMPLOYEE, {**PERSON, "ApproverType": "ORGANIZATION"}]), flow(NDA)))[0] == \
        "MissingParameter"
    swapped = [{**PERSON, "RecipientId": ENT}, {**EMPLOYEE, "RecipientId": IND}]
    assert refuse(shared_server, group(flow(approvers=swapped), flow(NDA)))[0] == "InvalidParameter.ApproverType"
    assert refuse(shared_server, group(flow(approvers=[EMPLOYEE, {**PERSON, "ApproverType": "PERSON_AUTO_SIGN"}]), flow(NDA)))[0] == \
        "InvalidParameter.ApproverType"


def test_auto_sign_rules(shared_server):
    auto = {"ApproverType": "ENTERPRISESERVER", "RecipientId": ENT}
    code, msg = refuse(shared_server, group(flow(approvers=[auto, PERSON]), flow(NDA)))
    assert code == "OperationDenied"
    assert refuse(shared_server, group(flow(NDA, approvers=[{**auto, "ApproverOption": {"FillType": 1}}, PERSON]), flow(NDA)))[0] == \
        "InvalidParameter.ApproverType"
    assert refuse(shared_server, group(flow(NDA, approvers=[{**auto, "OrganizationOpenId": "kev_open_organization_9"}, PERSON]),
                                       flow(NDA)))[0] == "OperationDenied"


def b_flow(approvers):
    return {"FlowName": "乙合同", "TemplateId": B_TEMPLATE, "FlowApprovers": approvers}


B_EMPLOYEE = {"OrganizationOpenId": "b_org", "OpenId": "b_op", "ApproverType": "ORGANIZATION", "RecipientId": "bRecipient1"}


def test_features_are_per_application(shared_server):
    auto = {"ApproverType": "ENTERPRISESERVER", "RecipientId": "bRecipient1"}
    dynamic = {"ApproverType": "ORGANIZATION", "RecipientId": "bRecipient1", "ApproverOption": {"FillType": 1}}
    for approver in (auto, dynamic):
        code, _ = refuse(shared_server, group(b_flow([approver]), b_flow([B_EMPLOYEE]), agent=AGENT_B), who="B")
        assert code == "UnauthorizedOperation.NoPermissionFeature"


def test_form_field_rules(shared_server):
    def with_fields(fields):
        return group(flow(FormFields=fields), flow(NDA))
    base = FIELDS[EMPLOYMENT]
    code, msg = refuse(shared_server, with_fields(base + [{"ComponentId": "Nope", "ComponentValue": "x"}]))
    assert code == "InvalidParameter.DataNotFound" and "FlowInfos.0.FormFields.2" in msg
    code, msg = refuse(shared_server, with_fields(base + [{"ComponentId": "EmergencyContact", "ComponentValue": "x"}]))
    assert code == "InvalidParameter" and "EmergencyContact" in msg
    assert refuse(shared_server, with_fields(base[:1]))[0] == "InvalidParameter.MissingRequiredParameterValue"
    assert refuse(shared_server, with_fields(base + [{"ComponentValue": "x"}]))[0] == "MissingParameter.MissComponentName"
    assert refuse(shared_server, with_fields(base + [{"ComponentId": "Probation", "ComponentValue": "yes"}]))[0] == \
        "InvalidParameter.ComponentValue"
    assert refuse(shared_server, with_fields(base + [{"ComponentId": "StartDate", "ComponentValue": "2026-12-01"}]))[0] == \
        "InvalidParameter.ComponentValue"
    assert create(shared_server, with_fields(base + [{"ComponentId": "StartDate", "ComponentValue": "2026年12月01日"},
                                                     {"ComponentId": "Probation", "ComponentValue": "true"}]))["FlowIds"]


def test_the_initiator_must_be_a_verified_member(shared_server):
    for operator, code in [("kev_unverified", "OperationDenied.NoIdentityVerify"), ("stranger", "OperationDenied.UserNotInOrganization")]:
        agent = {**AGENT_A, "ProxyOperator": {"OpenId": operator}}
        assert refuse(shared_server, group(agent=agent))[0] == code
    agent = {**AGENT_A, "ProxyOrganizationOpenId": "org_unverified", "ProxyOperator": {"OpenId": "op_u"}}
    assert refuse(shared_server, group(agent=agent))[0] == "OperationDenied.NoIdentityVerify"
    code, msg = refuse(shared_server, group(agent={"AppId": APP_A, "ProxyOrganizationOpenId": "kev_open_organization_8"}))
    assert code == "MissingParameter" and "Agent.ProxyOperator.OpenId" in msg


# ---- DescribeFlowDetailInfo rules ----

def test_describe_flow_detail_info_rules(shared_server):
    assert error_of(shared_server.client(), "DescribeFlowDetailInfo", {"Agent": AGENT_A})[0] == "MissingParameter.FlowIdsOrFlowGroupId"
    assert error_of(shared_server.client(), "DescribeFlowDetailInfo", {"Agent": AGENT_A, "FlowGroupId": "x" * 32})[0] == \
        "ResourceNotFound.FlowGroup"
    code, msg = error_of(shared_server.client(), "DescribeFlowDetailInfo", {"Agent": AGENT_A, "FlowIds": ["y" * 32]})
    assert (code, "y" * 32 in msg) == ("InvalidParameter.fFowIds", True)
    assert error_of(shared_server.client(), "DescribeFlowDetailInfo", {"Agent": AGENT_A, "FlowIds": ["y" * 32] * 101})[0] == \
        "LimitExceeded.FlowIds"


def test_flows_are_visible_only_to_their_creator(shared_server):
    r = create(shared_server, group())
    other_org = {"AppId": APP_A, "ProxyOrganizationOpenId": "kev_open_organization_9", "ProxyOperator": {"OpenId": "kev_9"}}
    assert error_of(shared_server.client(), "DescribeFlowDetailInfo", {"Agent": other_org, "FlowGroupId": r["FlowGroupId"]})[0] == \
        "ResourceNotFound.FlowGroup"
    assert error_of(shared_server.client("B"), "DescribeFlowDetailInfo", {"Agent": AGENT_B, "FlowGroupId": r["FlowGroupId"]})[0] == \
        "ResourceNotFound.FlowGroup"
    assert error_of(shared_server.client("B"), "DescribeFlowDetailInfo", {"Agent": AGENT_B, "FlowIds": r["FlowIds"]})[0] == \
        "InvalidParameter.fFowIds"


# ---- quota (application B has 10 contracts) ----

def b_group(n, broken_at=None):
    flows = [b_flow([B_EMPLOYEE]) for _ in range(n)]
    if broken_at is not None:
        flows[broken_at]["TemplateId"] = "NoSuchTemplate000000000000000000"
    return group(*flows, agent=AGENT_B)


def test_every_contract_costs_one_unit_and_nothing_is_written_without_quota(server):
    for _ in range(4):
        assert len(create(server, b_group(2), who="B")["FlowIds"]) == 2
    code, msg = refuse(server, b_group(3), who="B")
    assert code == "OperationDenied.NoQuota" and "2 left" in msg
    assert len(create(server, b_group(2), who="B")["FlowIds"]) == 2
    assert refuse(server, b_group(2), who="B")[0] == "OperationDenied.NoQuota"


def test_a_request_failing_in_its_37th_flow_writes_nothing_and_costs_nothing(server):
    code, msg = refuse(server, b_group(40, broken_at=36), who="B")
    assert code == "ResourceNotFound.Template" and "FlowInfos.36" in msg
    assert len(create(server, b_group(10), who="B")["FlowIds"]) == 10
    assert refuse(server, b_group(2), who="B")[0] == "OperationDenied.NoQuota"


def test_parallel_creates_never_take_more_than_the_quota(server):
    results = []

    def one():
        try:
            results.append(len(create(server, b_group(2), who="B")["FlowIds"]))
        except Exception as e:  # noqa: BLE001 - the code is what we check
            results.append(e.code)

    threads = [threading.Thread(target=one) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str) == [2] * 5 + ["OperationDenied.NoQuota"] * 11
