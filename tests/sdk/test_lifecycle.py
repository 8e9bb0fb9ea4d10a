"""A contract's life after creation, through the official SDK and the test helpers: cancelling
(one, or a batch with its task), expiry at the deadline by the test clock, the seed's refund rule
in the quota ledger, and the ledger read back as ChannelDescribeBillUsageDetail and DescribeUsage."""

import sqlite3
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from conftest import AGENT_A, AGENT_B, APP_A, Server, call, error_of, psql
from test_documents import wait_until
from test_flow_groups import NDA, create, detail, flow, group
from test_signing import (  # noqa: F401 (signer_server is a fixture)
    CONTACT, EMPLOYEE_LINK, HELPERS, advance, auto_group, error, helper_sign, http, link, signed_group,
    signer_server, statuses,
)

ORG = AGENT_A["ProxyOrganizationOpenId"]
# Another sub-organization of application A.
AGENT_9 = {"AppId": APP_A, "ProxyOrganizationOpenId": "kev_open_organization_9", "ProxyOperator": {"OpenId": "kev_9"}}
NOT_CANCELLABLE = "合同当前状态不支持撤销"
NOT_FOUND = "合同信息不存在或非本企业发起的合同"


def cancel(server, flow_id, **extra):
    return call(server.client(), "ChannelCancelFlow", {"Agent": AGENT_A, "FlowId": flow_id, **extra})


def refuse_cancel(server, flow_id, **extra):
    return error_of(server.client(), "ChannelCancelFlow", {"Agent": AGENT_A, "FlowId": flow_id, **extra})


def batch(server, flow_ids, **extra):
    return call(server.client(), "ChannelBatchCancelFlows", {"Agent": AGENT_A, "FlowIds": flow_ids, **extra})


def quota(server, app=APP_A):
    """(flow_quota, flow_quota_used, the ledger's sum) as the database holds them."""
    sql = (f"SELECT flow_quota, flow_quota_used, (SELECT COALESCE(SUM(units), 0) FROM quota_ledger l "
           f"WHERE l.app_id = a.app_id) FROM applications a WHERE app_id = '{app}'")
    db = server.db
    if db.backend == "sqlite":
        with sqlite3.connect(db.url.removeprefix("sqlite://")) as conn:
            return tuple(conn.execute(sql).fetchone())
    r = psql(db.url, sql)
    assert r.returncode == 0, r.stderr
    return tuple(int(v) for v in r.stdout.strip().split("|"))


def used(server):
    total, used_units, ledger = quota(server)
    assert used_units == ledger, (used_units, ledger)
    return used_units


def china_day(now=None):
    return time.strftime("%Y%m%d", time.gmtime((time.time() if now is None else now) + 8 * 3600))


def bill(server, agent=AGENT_A, day=None, **extra):
    day = day or china_day()
    return call(server.client(), "ChannelDescribeBillUsageDetail",
                {"Agent": agent, "StartTime": day, "EndTime": day, **extra})


def bill_rows(server, **extra):
    return sorted((d["FlowId"], d["CostType"], d["UseCount"], d["FlowStatus"]) for d in bill(server, **extra)["Details"])


def flow_info(server, flow_id):
    [f] = detail(server, FlowIds=[flow_id])["FlowInfo"]
    return f


# ---- the seed's refund rule ----

def test_cancelled_before_anyone_signed_the_unit_comes_back_and_the_rest_of_the_group_stays_signable(signer_server):
    s = signer_server
    g, employee_url, person_url = signed_group(s)
    first, second = g["FlowIds"]
    assert used(s) == 2
    assert list(cancel(s, first, CancelMessage="合同里的金额填写错误")) == ["RequestId"]
    f = flow_info(s, first)
    assert (f["FlowStatus"], f["FlowMessage"]) == ("CANCEL", "合同里的金额填写错误")
    assert [a["ApproveStatus"] for a in f["FlowApproverInfos"]] == ["CANCEL", "CANCEL"]
    assert statuses(s, g["FlowGroupId"])[1] == ("INIT", ["PENDING", "PENDING"])
    assert used(s) == 1
    assert bill_rows(s) == sorted([(first, 1, 1, "CANCEL"), (first, 2, -1, "CANCEL"), (second, 1, 1, "INIT")])
    # The other contract is signed as before, by the same group links.
    assert helper_sign(s, employee_url) == (200, {"FlowIds": [second]})
    # The cancelled contract's components (紧急联系人) are no longer the person's to fill.
    code, _ = error(helper_sign(s, person_url, SignatureText="张三", FormFields=CONTACT))
    assert code == "InvalidParameter.DataNotFound"
    assert helper_sign(s, person_url, SignatureText="张三") == (200, {"FlowIds": [second]})
    assert statuses(s, g["FlowGroupId"]) == [("CANCEL", ["CANCEL", "CANCEL"]), ("ALL", ["ACCEPT", "ACCEPT"])]
    assert used(s) == 1


def test_cancelled_after_only_the_auto_signer_signed_the_unit_comes_back(signer_server):
    s = signer_server
    g = auto_group(s)
    wait_until("the auto-signer", lambda: statuses(s, g["FlowGroupId"]) == [("PART", ["ACCEPT", "PENDING"])] * 2, timeout=20)
    for f in g["FlowIds"]:
        cancel(s, f)
    assert statuses(s, g["FlowGroupId"]) == [("CANCEL", ["ACCEPT", "CANCEL"])] * 2
    assert used(s) == 0
    assert [r[1:3] for r in bill_rows(s)] == [(1, 1), (2, -1)] * 2


def test_cancelled_after_a_person_signed_the_unit_is_kept(signer_server):
    s = signer_server
    g, employee_url, _ = signed_group(s)
    assert helper_sign(s, employee_url)[0] == 200
    first, _ = g["FlowIds"]
    cancel(s, first, CancelMessage="发错了")
    assert flow_info(s, first)["FlowStatus"] == "CANCEL"
    assert [a["ApproveStatus"] for a in flow_info(s, first)["FlowApproverInfos"]] == ["ACCEPT", "CANCEL"]
    assert used(s) == 2
    assert [r[1:3] for r in bill_rows(s)] == [(1, 1), (1, 1)]


def long_link(server, group_id, approver):
    """A link that outlives the contracts' deadline (90 days)."""
    return call(server.client(), "ChannelCreateBatchQuickSignUrl",
                {"Agent": AGENT_A, "FlowGroupId": group_id, "FlowApproverInfo": approver,
                 "ExpiredOn": 7776000})["FlowApproverUrlInfo"]["SignUrl"]


def test_an_expired_contract_keeps_its_unit_and_cannot_be_cancelled(signer_server):
    s = signer_server
    g = create(s, group())
    employee_url = long_link(s, g["FlowGroupId"], EMPLOYEE_LINK)
    deadline = flow_info(s, g["FlowIds"][0])["DeadLine"]
    now = advance(s, 0)
    advance(s, deadline - now + 1)
    wait_until("the expiry sweep", lambda: statuses(s, g["FlowGroupId"]) == [("DEADLINE", ["DEADLINE", "DEADLINE"])] * 2,
               timeout=10)
    code, message = refuse_cancel(s, g["FlowIds"][0])
    assert code == "OperationDenied.FlowHasTerminated" and "deadline" in message, message
    code, message = error(helper_sign(s, employee_url))
    assert code == "OperationDenied.FlowHasTerminated" and "past its deadline" in message, message
    status, page = http(s, "GET", urllib.parse.urlparse(employee_url).path)
    assert status == 200 and 'data-state="closed"' in page and "已过签署截止时间" in page and "已过期" in page
    assert used(s) == 2


def test_an_expired_contract_keeps_what_was_signed(signer_server):
    s = signer_server
    g, employee_url, _ = signed_group(s)
    assert helper_sign(s, employee_url)[0] == 200
    now = advance(s, 0)
    advance(s, flow_info(s, g["FlowIds"][0])["DeadLine"] - now + 1)
    wait_until("the expiry sweep", lambda: statuses(s, g["FlowGroupId"]) == [("DEADLINE", ["ACCEPT", "DEADLINE"])] * 2,
               timeout=10)
    assert used(s) == 2


def test_a_rejected_contract_keeps_its_unit_and_cannot_be_cancelled(signer_server):
    s = signer_server
    g, _, person_url = signed_group(s)
    assert helper_sign(s, person_url, Reject=True, Reason="薪资不符")[0] == 200
    for f in g["FlowIds"]:
        code, message = refuse_cancel(s, f)
        assert code == "OperationDenied.FlowHasTerminated" and "REJECT" in message, message
    assert used(s) == 2


def test_a_complete_contract_keeps_its_unit_and_cannot_be_cancelled(signer_server):
    s = signer_server
    g, employee_url, person_url = signed_group(s)
    assert helper_sign(s, employee_url)[0] == 200
    assert helper_sign(s, person_url, SignatureText="张三", FormFields=CONTACT)[0] == 200
    code, message = refuse_cancel(s, g["FlowIds"][0])
    assert code == "OperationDenied.FlowHasTerminated" and "ALL" in message, message
    assert used(s) == 2


def test_a_contract_is_cancelled_once(signer_server):
    s = signer_server
    g = create(s, group())
    cancel(s, g["FlowIds"][0])
    code, message = refuse_cancel(s, g["FlowIds"][0])
    assert code == "OperationDenied.FlowHasTerminated" and "CANCEL" in message, message
    assert used(s) == 1


# ---- what a cancel checks ----

def test_cancel_rules(signer_server):
    s = signer_server
    g = create(s, group())
    first = g["FlowIds"][0]
    assert refuse_cancel(s, "yDwFdUUckpsvi8mpUEn0aFR1tWzReolk")[0] == "ResourceNotFound.Flow"
    assert refuse_cancel(s, "not-a-flow-id")[0] == "ResourceNotFound.Flow"
    # Another application (and so another organization) cannot see it.
    assert error_of(s.client("B"), "ChannelCancelFlow", {"Agent": AGENT_B, "FlowId": first})[0] == "ResourceNotFound.Flow"
    code, message = refuse_cancel(s, first, CancelMessage="撤" * 201)
    assert code == "InvalidParameter.CancelReason" and "`CancelMessage`" in message
    code, message = refuse_cancel(s, first, CancelMessage="wrong_amount!")
    assert code == "InvalidParameter.CancelReason" and "`!`" in message
    assert refuse_cancel(s, first, CancelMessageFormat=4)[0] == "InvalidParameter.ParamError"
    assert statuses(s, g["FlowGroupId"]) == [("INIT", ["PENDING", "PENDING"])] * 2
    cancel(s, first, CancelMessage="撤" * 200, CancelMessageFormat=3)
    assert flow_info(s, first)["FlowMessage"] == "撤" * 200


def test_a_link_to_a_cancelled_contract_says_so(signer_server):
    s = signer_server
    g, employee_url, _ = signed_group(s)
    for f in g["FlowIds"]:
        cancel(s, f, CancelMessage="合同内容错误，需要修正")
    status, page = http(s, "GET", urllib.parse.urlparse(employee_url).path)
    assert status == 200 and 'data-state="closed"' in page and "全部签署" not in page
    assert "合同内容错误，需要修正" in page and "撤销" in page
    code, message = error(helper_sign(s, employee_url))
    assert code == "OperationDenied.FlowHasTerminated" and "cancelled by its initiator: 合同内容错误，需要修正" in message


# ---- batches ----

def test_a_batch_cancel_reports_each_contract_in_order_and_its_task_remembers(signer_server):
    s = signer_server
    g1, g2 = create(s, group()), create(s, group())
    done, flow_name = g1["FlowIds"][0], flow()["FlowName"]
    cancel(s, done)
    unknown = "yDw9jUUgyg34g2mdUxawbT61HrwMQ3gF"
    ids = [done, g1["FlowIds"][1], unknown, g2["FlowIds"][0]]
    r = batch(s, ids, CancelMessage="合同内容错误，需要修正", CancelMessageFormat=1)
    assert r["FailMessages"] == [
        f"合同流程Id:{done},无法撤回，错误信息：{NOT_CANCELLABLE}", "", f"合同流程Id:{unknown},无法撤回，错误信息：{NOT_FOUND}", ""]
    assert len(r["TaskId"]) == 32
    assert flow_info(s, g2["FlowIds"][0])["FlowMessage"] == "合同内容错误，需要修正"
    assert flow_info(s, g2["FlowIds"][1])["FlowStatus"] == "INIT"
    task = call(s.client(), "DescribeCancelFlowsTask", {"Agent": AGENT_A, "TaskId": r["TaskId"]})
    assert task["TaskId"] == r["TaskId"] and task["TaskStatus"] == "END"
    assert task["SuccessFlowIds"] == [g1["FlowIds"][1], g2["FlowIds"][0]]
    assert task["FailureFlows"] == [{"FlowId": done, "Reason": NOT_CANCELLABLE, "FlowName": flow_name},
                                    {"FlowId": unknown, "Reason": NOT_FOUND, "FlowName": ""}]
    assert used(s) == 4 - 3


def test_a_batch_that_cancels_everything_answers_an_empty_array_and_the_default_reason(signer_server):
    s = signer_server
    g = create(s, group())
    r = batch(s, g["FlowIds"])
    assert r["FailMessages"] == []
    for f in g["FlowIds"]:
        assert (flow_info(s, f)["FlowStatus"], flow_info(s, f)["FlowMessage"]) == ("CANCEL", "自动撤销（通过接口实现）")
    task = call(s.client(), "DescribeCancelFlowsTask", {"Agent": AGENT_A, "TaskId": r["TaskId"], "CancelType": 0})
    assert (task["SuccessFlowIds"], task["FailureFlows"]) == (g["FlowIds"], [])


def test_batch_rules(signer_server):
    s = signer_server
    g = create(s, group())
    code, message = error_of(s.client(), "ChannelBatchCancelFlows", {"Agent": AGENT_A, "FlowIds": [g["FlowIds"][0]] * 101})
    assert code == "InvalidParameter.ParamError" and "100" in message
    # The batch's documented codes have no MissingParameter or CancelReason.
    assert error_of(s.client(), "ChannelBatchCancelFlows", {"Agent": AGENT_A, "FlowIds": []})[0] == "InvalidParameter.ParamError"
    code, message = error_of(s.client(), "ChannelBatchCancelFlows",
                             {"Agent": AGENT_A, "FlowIds": g["FlowIds"], "CancelMessage": "a b"})
    assert code == "InvalidParameter.ParamError" and "`CancelMessage`" in message
    assert statuses(s, g["FlowGroupId"]) == [("INIT", ["PENDING", "PENDING"])] * 2
    task = batch(s, g["FlowIds"][:1])["TaskId"]
    for params in ({"TaskId": "yD3POUUckpzme5ekUxM7lqE1ODrkqmYz"}, {"TaskId": "short"}, {}, {"TaskId": task, "CancelType": 1},
                   {"TaskId": task, "CancelType": 2}):
        assert error_of(s.client(), "DescribeCancelFlowsTask", {"Agent": AGENT_A, **params})[0] == "InvalidParameter.ParamError"


# ---- expiry ----

def test_a_contract_expires_at_its_deadline_and_the_others_of_its_group_at_theirs(signer_server):
    s = signer_server
    now = advance(s, 0)
    g = create(s, group(flow(Deadline=now + 3600), flow(NDA, Deadline=now + 7200)))
    advance(s, 3600 + 60)
    wait_until("the first contract's expiry", lambda: statuses(s, g["FlowGroupId"]) == [
        ("DEADLINE", ["DEADLINE", "DEADLINE"]), ("INIT", ["PENDING", "PENDING"])], timeout=10)
    advance(s, 3600)
    wait_until("the second contract's expiry",
               lambda: statuses(s, g["FlowGroupId"]) == [("DEADLINE", ["DEADLINE", "DEADLINE"])] * 2, timeout=10)
    assert used(s) == 2


# ---- the bill and usage ----

def test_the_bill_and_usage_are_the_ledger(signer_server):
    s = signer_server
    groups = [create(s, group()) for _ in range(3)]
    cancel(s, groups[0]["FlowIds"][0])
    batch(s, groups[1]["FlowIds"])
    other = create(s, group(agent=AGENT_9))
    # Only the organization that created a contract cancels it.
    assert refuse_cancel(s, other["FlowIds"][1])[0] == "ResourceNotFound.Flow"
    call(s.client(), "ChannelCancelFlow", {"Agent": AGENT_9, "FlowId": other["FlowIds"][1]})
    r = bill(s)
    assert r["Total"] == 6 + 3 and len(r["Details"]) == 9
    charge = next(d for d in r["Details"] if d["CostType"] == 1)
    refund = next(d for d in r["Details"] if d["CostType"] == 2)
    assert {k: charge[k] for k in ("QuotaType", "QuotaName", "UseCount", "CreateOrganizationName", "FlowName", "Remark")} == {
        "QuotaType": "CloudEnterprise", "QuotaName": "企业版合同", "UseCount": 1,
        "CreateOrganizationName": "典子谦示例企业", "FlowName": flow()["FlowName"], "Remark": ""}
    assert charge["OperatorName"] != ""
    assert (refund["UseCount"], refund["FlowStatus"]) == (-1, "CANCEL")
    assert abs(refund["CostTime"] - time.time()) < 120
    assert sum(d["UseCount"] for d in r["Details"]) == 3
    # Pages count from 0.
    pages = [bill(s, Limit=4, Offset=i)["Details"] for i in range(3)]
    assert [len(p) for p in pages] == [4, 4, 1] and sum(pages, []) == r["Details"]
    assert bill(s, QuotaType="CloudEnterprise")["Total"] == 9
    assert (bill(s, QuotaType="SignFace")["Total"], bill(s, QuotaType="SignFace")["Details"]) == (0, [])
    # One sub-organization, or the whole application.
    assert bill(s, agent={"AppId": APP_A})["Total"] == 9 + 3
    assert sorted((d["CreateOrganizationName"], d["UseCount"]) for d in bill(s, agent=AGENT_9)["Details"]) == [
        ("典子谦合作企业", -1), ("典子谦合作企业", 1), ("典子谦合作企业", 1)]
    assert bill(s, agent={"AppId": APP_A, "ProxyOrganizationOpenId": "another_org"})["Total"] == 0
    yesterday = china_day(time.time() - 86400)
    if yesterday[:6] == china_day()[:6]:
        assert bill(s, day=yesterday)["Total"] == 0

    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    usage = call(s.client(), "DescribeUsage", {"Agent": AGENT_A, "StartDate": today, "EndDate": today})
    assert usage["Total"] == 2
    assert usage["Details"] == [
        {"ProxyOrganizationOpenId": ORG, "ProxyOrganizationName": "典子谦示例企业", "Date": today,
         "Usage": 6, "Cancel": 3, "FlowChannel": "企业版"},
        {"ProxyOrganizationOpenId": "kev_open_organization_9", "ProxyOrganizationName": "典子谦合作企业", "Date": today,
         "Usage": 2, "Cancel": 1, "FlowChannel": "企业版"}]
    aggregated = call(s.client(), "DescribeUsage",
                      {"Agent": {"AppId": APP_A}, "StartDate": today, "EndDate": today, "NeedAggregate": True})
    assert [(d["Date"], d["Usage"], d["Cancel"]) for d in aggregated["Details"]] == [("1970-01-01", 6, 3), ("1970-01-01", 2, 1)]
    second_page = call(s.client(), "DescribeUsage",
                       {"Agent": AGENT_A, "StartDate": today, "EndDate": today, "Limit": 1, "Offset": 1})
    assert (second_page["Total"], second_page["Details"]) == (2, usage["Details"][1:])
    # The bill and usage are the same ledger.
    every = bill(s, agent={"AppId": APP_A})["Details"]
    assert sum(d["UseCount"] for d in every) == sum(d["Usage"] - d["Cancel"] for d in usage["Details"]) == used(s) == 4


def test_bill_and_usage_rules(signer_server):
    s = signer_server
    client = s.client()
    code, _ = error_of(client, "ChannelDescribeBillUsageDetail",
                       {"Agent": AGENT_A, "StartTime": "20230902", "EndTime": "20230930", "Offset": 0, "Limit": 500})
    assert code == "InvalidParameter.Limit"
    for start, end in (("20230901", "20231002"), ("2023-09-01", "20230930"), ("20230930", "20230901"),
                       ("20230915", "20231010"), ("20230901", None)):
        params = {"Agent": AGENT_A, "StartTime": start, **({"EndTime": end} if end else {})}
        code, message = error_of(client, "ChannelDescribeBillUsageDetail", params)
        assert code == "InvalidParameterValue.InvalidTime", (start, end, message)
    code, _ = error_of(client, "ChannelDescribeBillUsageDetail",
                       {"Agent": AGENT_A, "StartTime": "20230901", "EndTime": "20230930", "QuotaType": "Contracts"})
    assert code == "InvalidParameterValue.InvalidQuotaType"
    for params, expected in (({"StartDate": "2023-11-06"}, "MissingParameter.Date"),
                             ({"StartDate": "20231106", "EndDate": "2023-11-08"}, "InvalidParameter.Date"),
                             ({"StartDate": "2023-01-01", "EndDate": "2023-04-01"}, "InvalidParameter.Date"),
                             ({"StartDate": "2023-11-06", "EndDate": "2023-11-08", "Limit": 1001}, "InvalidParameter.Limit")):
        assert error_of(client, "DescribeUsage", {"Agent": AGENT_A, **params})[0] == expected, params


# ---- ModifyFlowDeadline ----

def test_modify_flow_deadline_refuses_group_contracts(signer_server):
    s = signer_server
    g = create(s, group())
    params = {"Agent": AGENT_A, "FlowId": g["FlowIds"][0], "Deadline": int(time.time()) + 7 * 86400}
    code, message = error_of(s.client(), "ModifyFlowDeadline", params)
    assert code == "OperationDenied" and "不支持操作合同组合同" in message and g["FlowGroupId"] in message
    code, _ = error_of(s.client(), "ModifyFlowDeadline", {**params, "FlowId": "yDCNtUUckpvrezq3UudRJ1LEXDLa8Lga"})
    assert code == "ResourceNotFound.Flow"
    assert flow_info(s, g["FlowIds"][0])["DeadLine"] == flow_info(s, g["FlowIds"][1])["DeadLine"] != params["Deadline"]


# ---- concurrency ----

def test_quota_and_ledger_agree_after_64_concurrent_creates_and_cancels(signer_server):
    s = signer_server
    earlier = [create(s, group()) for _ in range(16)]
    start = threading.Barrier(64)

    def work(i):
        client = s.client()
        start.wait()
        if i < 32:
            call(client, "ChannelCreateFlowGroupByTemplates", group())
            return "created"
        # Two cancels of each earlier group's first contract race: one wins.
        try:
            call(client, "ChannelCancelFlow", {"Agent": AGENT_A, "FlowId": earlier[(i - 32) // 2]["FlowIds"][0]})
            return "cancelled"
        except TencentCloudSDKException as e:
            return e.code

    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(work, range(64)))
    assert results[:32] == ["created"] * 32
    for a, b in zip(results[32::2], results[33::2]):
        assert sorted([a, b]) == ["OperationDenied.FlowHasTerminated", "cancelled"], results
    charged, refunded = (16 + 32) * 2, 16
    _, used_units, ledger = quota(s)
    assert used_units == ledger == charged - refunded
    details = bill(s, Limit=100)["Details"] + bill(s, Limit=100, Offset=1)["Details"]
    assert len(details) == charged + refunded
    assert sum(d["UseCount"] for d in details) == charged - refunded


def test_a_deadline_passed_while_no_node_ran_expires_on_the_next_node(db, tmp_path, start):
    first = start("--rate-limit", "1000", env=HELPERS)
    g = create(first, group())
    first.proc.kill()
    first.proc.wait()
    second = Server(db, tmp_path, ["--rate-limit", "1000"], HELPERS)
    try:
        advance(second, 86400 + 60)
        wait_until("the expiry sweep", lambda: statuses(second, g["FlowGroupId"]) == [("DEADLINE", ["DEADLINE", "DEADLINE"])] * 2,
                   timeout=10)
    finally:
        second.stop()
