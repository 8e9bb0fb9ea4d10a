// A RECIPIENT link end to end: a group whose person is a dynamic signer (ApproverOption.FillType
// 1), made through the official Node SDK with the organisation signing by itself; the link from
// CreateSignUrls (GenerateType RECIPIENT) opened in Debian's headless Chromium as a 390×844 phone;
// the holder types name and mobile, gets the code (read from /_qianshu/sms), confirms who they
// are, then signs as on any link; the outcome checked through the SDK.
// Screenshots of every step: tests/browser/results/recipient/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EMPLOYMENT, ENTERPRISE, INDIVIDUAL, NDA, agent, client, smsCodes, startServer } from "./demo.mjs";
import { phone, shooter } from "./harness.mjs";

const SIGNER = { Name: "钱八", Mobile: "13900000006" };

const automatic = { ApproverType: "ENTERPRISESERVER", RecipientId: ENTERPRISE };
const later = { ApproverType: "PERSON", RecipientId: INDIVIDUAL, ApproverOption: { FillType: 1 } };

test("the holder of a RECIPIENT link says who they are, then signs the group", async () => {
  const { proc, base, address } = await startServer();
  const { browser, page, problems } = await phone();
  const shot = shooter("recipient");
  try {
    const sdk = client(address);
    const created = await sdk.ChannelCreateFlowGroupByTemplates({
      Agent: agent,
      FlowGroupName: "入职合同",
      FlowInfos: [
        { FlowName: "劳动合同", TemplateId: EMPLOYMENT.TemplateId, FlowApprovers: [automatic, later],
          FormFields: [{ ComponentId: "CompanyName", ComponentValue: "典子谦示例企业" }, { ComponentId: "EmployeeName", ComponentValue: "钱八" },
            { ComponentId: "Position", ComponentValue: "软件工程师" }] },
        { FlowName: "保密协议", TemplateId: NDA.TemplateId, FlowApprovers: [automatic, later],
          FormFields: [{ ComponentId: "PartyA", ComponentValue: "典子谦示例企业" }, { ComponentId: "PartyB", ComponentValue: "钱八" }] },
      ],
    });
    const urls = await sdk.CreateSignUrls({
      Agent: agent, FlowGroupId: created.FlowGroupId, GenerateType: "RECIPIENT",
      FlowGroupUrlInfo: { FlowGroupApproverInfos: created.FlowIds.map((FlowId) => ({ FlowId, RecipientId: INDIVIDUAL })) },
    });
    assert.deepEqual(urls.SignUrlInfos.map((u) => u.FlowId), created.FlowIds);
    const url = urls.SignUrlInfos[0].SignUrl;
    // The organisation signs by itself meanwhile.
    const statuses = async () => (await sdk.DescribeFlowDetailInfo({ Agent: agent, FlowGroupId: created.FlowGroupId }))
      .FlowInfo.map((f) => f.FlowApproverInfos.map((a) => a.ApproveStatus));
    for (const deadline = Date.now() + 60_000; ;) {
      if ((await statuses()).every(([organisation]) => organisation === "ACCEPT")) break;
      assert.ok(Date.now() < deadline, "the automatic signer has not signed");
      await new Promise((ok) => setTimeout(ok, 250));
    }

    await page.goto(url);
    assert.equal(await page.locator("main.signing").getAttribute("data-state"), "claim");
    await page.getByLabel("劳动合同 合同内容").locator("canvas").first().waitFor({ timeout: 30_000 });
    await shot(page, "claim");
    // No code for a mobile that is not one.
    await page.getByLabel("姓名").fill(SIGNER.Name);
    await page.getByLabel("手机号").fill("1390000");
    await page.getByRole("button", { name: "获取验证码" }).click();
    assert.deepEqual(await smsCodes(base, SIGNER.Mobile), []);
    await page.getByLabel("手机号").fill(SIGNER.Mobile);
    await page.getByRole("button", { name: "获取验证码" }).click();
    await page.getByRole("button", { name: /^重新获取\(\d+s\)$/ }).waitFor();
    const [code] = await smsCodes(base, SIGNER.Mobile);
    assert.match(code, /^\d{6}$/);
    await page.getByRole("textbox", { name: "验证码" }).fill(code);
    await shot(page, "identity");
    await page.getByRole("button", { name: "确认身份", exact: true }).click();
    await page.locator('main.signing[data-state="open"]').waitFor({ timeout: 30_000 });
    await page.getByText(`签署人：${SIGNER.Name}`).waitFor();
    await shot(page, "claimed");

    await page.getByLabel("紧急联系人").fill("李四 13900000000");
    await page.getByLabel("签名", { exact: true }).fill(SIGNER.Name);
    const signAll = page.getByRole("button", { name: "全部签署", exact: true });
    await signAll.waitFor({ timeout: 310_000 });
    await signAll.click();
    await page.getByRole("button", { name: "获取验证码" }).click();
    await page.getByRole("button", { name: /^重新获取\(\d+s\)$/ }).waitFor();
    const codes = await smsCodes(base, SIGNER.Mobile);
    assert.equal(codes.length, 2, JSON.stringify(codes));
    await page.getByRole("textbox", { name: "验证码" }).fill(codes[1]);
    await page.getByRole("button", { name: "确认签署", exact: true }).click();
    await page.getByRole("heading", { name: "签署完成" }).waitFor({ timeout: 30_000 });
    await shot(page, "signed");

    const detail = await sdk.DescribeFlowDetailInfo({ Agent: agent, FlowGroupId: created.FlowGroupId });
    for (const flow of detail.FlowInfo) {
      assert.equal(flow.FlowStatus, "ALL", flow.FlowName);
      const person = flow.FlowApproverInfos[1];
      assert.deepEqual([person.ApproveName, person.Mobile, person.ApproveStatus], [SIGNER.Name, SIGNER.Mobile, "ACCEPT"]);
    }
    assert.deepEqual(problems.filter((p) => !p.includes("404 (Not Found)")), []);
  } finally {
    await browser.close();
    proc.kill();
  }
});
