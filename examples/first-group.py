"""A first contract group on qianshu's demo tenant, through the official Python SDK.

Start the server with `make run` (it loads the demo tenant into an empty database), then:

    pip install tencentcloud-sdk-python-essbasic
    python3 examples/first-group.py            # QIANSHU_ENDPOINT=host:port if not 127.0.0.1:8080

It reads the templates' signer roles (RecipientId), uploads a photo, creates one group of two
contracts (an employment contract with a date, a table and the photo, and a confidentiality
agreement), and prints every signer's link. `make test` runs this file as it is against a demo server.
"""

import base64
import json
import os
import struct
import time
import zlib

from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.essbasic.v20210526 import essbasic_client, models

# The demo tenant's keys, as `make run` prints them: public, for development only.
SECRET_ID, SECRET_KEY = "AKIDqianshuDEMO", "qianshuDemoSecretKeyChangeMe0000"
AGENT = {"AppId": "16fd2f7d7ae85d13ca5f8d501d57b5ec",
         "ProxyOrganizationOpenId": "kev_open_organization_8", "ProxyOperator": {"OpenId": "kev_8"}}

endpoint = os.environ.get("QIANSHU_ENDPOINT", "127.0.0.1:8080")
# The protocol must be given to HttpProfile here: setting it afterwards is too late for the SDK.
profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=endpoint))
client = essbasic_client.EssbasicClient(credential.Credential(SECRET_ID, SECRET_KEY), "", profile)


def request(model, params):
    """A typed SDK request from a dict shaped like the API's JSON."""
    req = model()
    req.from_json_string(json.dumps(params, ensure_ascii=False))
    return req


# 1. The templates, and the RecipientId of each signer role: every approver names the role it
#    fills with the template's RecipientId (甲方 the company, 乙方 the employee).
templates = client.DescribeTemplates(request(models.DescribeTemplatesRequest, {"Agent": AGENT})).Templates
by_name = {t.TemplateName: t for t in templates}
employment, nda = by_name["劳动合同"], by_name["保密协议"]
role = {r.RoleName: r.RecipientId for r in employment.Recipients}


# 2. An image for the FILL_IMAGE component: upload it first, then pass its FileId as the value.
def png(width, height, rgb):
    """A plain-colour PNG, so the example needs no file of its own."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


photo = client.UploadFiles(request(models.UploadFilesRequest, {
    "Agent": AGENT, "BusinessType": "DOCUMENT",
    "FileInfos": [{"FileName": "photo.png", "FileBody": base64.b64encode(png(80, 100, (70, 130, 180))).decode()}],
})).FileIds[0]

# 3. A DYNAMIC_TABLE value is JSON in a string: headers (widthPercent optional), rowCount, and
#    body.cells addressed from 1 (a cell may span rows or columns).
months = ["2026年03月", "2026年04月"]
cells = [{"rowStart": r, "rowEnd": r, "columnStart": c, "columnEnd": c, "content": text}
         for r, month in enumerate(months, 1) for c, text in enumerate([month, "基本工资", "25,000.00元"], 1)]
salary_table = json.dumps({"headers": [{"content": "月份", "widthPercent": 30}, {"content": "项目"}, {"content": "金额"}],
                           "rowCount": len(months), "body": {"cells": cells}}, ensure_ascii=False)

company = {"ApproverType": "ORGANIZATION", "RecipientId": role["甲方"], "OrganizationName": "典子谦示例企业",
           "OrganizationOpenId": "kev_open_organization_8", "OpenId": "kev_8"}
employee = {"ApproverType": "PERSON", "RecipientId": role["乙方"], "Name": "张三", "Mobile": "13900000000"}
deadline = int(time.time()) + 7 * 86400   # Unix seconds

group = client.ChannelCreateFlowGroupByTemplates(request(models.ChannelCreateFlowGroupByTemplatesRequest, {
    "Agent": AGENT,
    "FlowGroupName": "张三入职合同",
    "FlowInfos": [
        {"FlowName": "张三劳动合同", "TemplateId": employment.TemplateId, "Deadline": deadline,
         "FlowApprovers": [company, employee],
         "FormFields": [
             {"ComponentId": "CompanyName", "ComponentValue": "典子谦示例企业"},
             {"ComponentId": "EmployeeName", "ComponentValue": "张三"},
             {"ComponentId": "Position", "ComponentValue": "软件工程师"},
             # A DATE component takes YYYY年MM月DD日, not 2026-03-01.
             {"ComponentId": "StartDate", "ComponentValue": "2026年03月01日"},
             # CHECK_BOX takes "true" or "false"; SELECTOR one of its template's Values.
             {"ComponentId": "Probation", "ComponentValue": "true"},
             {"ComponentId": "SocialInsurance", "ComponentValue": "单位代缴"},
             {"ComponentId": "EmployeePhoto", "ComponentValue": photo},
             {"ComponentId": "SalaryTable", "ComponentValue": salary_table},
         ]},
        {"FlowName": "张三保密协议", "TemplateId": nda.TemplateId, "Deadline": deadline,
         "FlowApprovers": [company, employee],
         "FormFields": [
             {"ComponentId": "PartyA", "ComponentValue": "典子谦示例企业"},
             {"ComponentId": "PartyB", "ComponentValue": "张三"},
             {"ComponentId": "SignedOn", "ComponentValue": "2026年03月01日"},
         ]},
    ],
}))
print(f"FlowGroupId {group.FlowGroupId}, FlowIds {', '.join(group.FlowIds)}")

# 4. Every signer's link, one per signer and contract; the company signs first (its RoutingOrder
#    is 1), then the employee. A link opens the signing page in a browser.
links = client.CreateSignUrls(request(models.CreateSignUrlsRequest, {"Agent": AGENT, "FlowGroupId": group.FlowGroupId}))
for info in links.SignUrlInfos:
    print(f"{info.Name} signs {info.FlowId}: {info.SignUrl}")
