// A first contract group on qianshu's demo tenant, through the official Node.js SDK.
//
// Start the server with `make run` (it loads the demo tenant into an empty database), then:
//
//     npm install tencentcloud-sdk-nodejs
//     node first-group.mjs            # QIANSHU_ENDPOINT=host:port if not 127.0.0.1:8080
//
// It reads the templates' signer roles (RecipientId), uploads a photo, creates one group of two
// contracts (an employment contract with a date, a table and the photo, and a confidentiality
// agreement), and prints every signer's link. `make test` runs this file as it is against a demo server.
import { deflateSync, crc32 } from "node:zlib";
import tencentcloud from "tencentcloud-sdk-nodejs";

// The demo tenant's keys, as `make run` prints them: public, for development only.
const credential = { secretId: "AKIDqianshuDEMO", secretKey: "qianshuDemoSecretKeyChangeMe0000" };
const Agent = {
  AppId: "16fd2f7d7ae85d13ca5f8d501d57b5ec",
  ProxyOrganizationOpenId: "kev_open_organization_8",
  ProxyOperator: { OpenId: "kev_8" },
};

const endpoint = process.env.QIANSHU_ENDPOINT ?? "127.0.0.1:8080";
const Client = tencentcloud.essbasic.v20210526.Client;
// region "" and the protocol "http://" (with its slashes) are what the Node SDK needs for qianshu.
const client = new Client({ credential, region: "", profile: { httpProfile: { endpoint, protocol: "http://" } } });

// 1. The templates, and the RecipientId of each signer role: every approver names the role it
//    fills with the template's RecipientId (甲方 the company, 乙方 the employee).
const { Templates } = await client.DescribeTemplates({ Agent });
const employment = Templates.find((t) => t.TemplateName === "劳动合同");
const nda = Templates.find((t) => t.TemplateName === "保密协议");
const role = Object.fromEntries(employment.Recipients.map((r) => [r.RoleName, r.RecipientId]));

// 2. An image for the FILL_IMAGE component: upload it first, then pass its FileId as the value.
function png(width, height, [r, g, b]) {
  // A plain-colour PNG, so the example needs no file of its own.
  const chunk = (kind, data) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(kind), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([head, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array(width).fill([r, g, b]).flat())]);
  const rows = Buffer.concat(Array(height).fill(row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

const { FileIds } = await client.UploadFiles({
  Agent,
  BusinessType: "DOCUMENT",
  FileInfos: [{ FileName: "photo.png", FileBody: png(80, 100, [70, 130, 180]).toString("base64") }],
});

// 3. A DYNAMIC_TABLE value is JSON in a string: headers (widthPercent optional), rowCount, and
//    body.cells addressed from 1 (a cell may span rows or columns).
const months = ["2026年03月", "2026年04月"];
const cells = months.flatMap((month, r) =>
  [month, "基本工资", "25,000.00元"].map((content, c) => ({
    rowStart: r + 1, rowEnd: r + 1, columnStart: c + 1, columnEnd: c + 1, content,
  })),
);
const salaryTable = JSON.stringify({
  headers: [{ content: "月份", widthPercent: 30 }, { content: "项目" }, { content: "金额" }],
  rowCount: months.length,
  body: { cells },
});

const company = {
  ApproverType: "ORGANIZATION", RecipientId: role["甲方"], OrganizationName: "典子谦示例企业",
  OrganizationOpenId: "kev_open_organization_8", OpenId: "kev_8",
};
const employee = { ApproverType: "PERSON", RecipientId: role["乙方"], Name: "张三", Mobile: "13900000000" };
const Deadline = Math.floor(Date.now() / 1000) + 7 * 86400; // Unix seconds

const group = await client.ChannelCreateFlowGroupByTemplates({
  Agent,
  FlowGroupName: "张三入职合同",
  FlowInfos: [
    {
      FlowName: "张三劳动合同", TemplateId: employment.TemplateId, Deadline, FlowApprovers: [company, employee],
      FormFields: [
        { ComponentId: "CompanyName", ComponentValue: "典子谦示例企业" },
        { ComponentId: "EmployeeName", ComponentValue: "张三" },
        { ComponentId: "Position", ComponentValue: "软件工程师" },
        // A DATE component takes YYYY年MM月DD日, not 2026-03-01.
        { ComponentId: "StartDate", ComponentValue: "2026年03月01日" },
        // CHECK_BOX takes "true" or "false"; SELECTOR one of its template's Values.
        { ComponentId: "Probation", ComponentValue: "true" },
        { ComponentId: "SocialInsurance", ComponentValue: "单位代缴" },
        { ComponentId: "EmployeePhoto", ComponentValue: FileIds[0] },
        { ComponentId: "SalaryTable", ComponentValue: salaryTable },
      ],
    },
    {
      FlowName: "张三保密协议", TemplateId: nda.TemplateId, Deadline, FlowApprovers: [company, employee],
      FormFields: [
        { ComponentId: "PartyA", ComponentValue: "典子谦示例企业" },
        { ComponentId: "PartyB", ComponentValue: "张三" },
        { ComponentId: "SignedOn", ComponentValue: "2026年03月01日" },
      ],
    },
  ],
});
console.log(`FlowGroupId ${group.FlowGroupId}, FlowIds ${group.FlowIds.join(", ")}`);

// 4. Every signer's link, one per signer and contract; the company signs first (its RoutingOrder
//    is 1), then the employee. A link opens the signing page in a browser.
const { SignUrlInfos } = await client.CreateSignUrls({ Agent, FlowGroupId: group.FlowGroupId });
for (const info of SignUrlInfos) console.log(`${info.Name} signs ${info.FlowId}: ${info.SignUrl}`);
