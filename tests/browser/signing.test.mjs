// The signing page end to end: the real binary (target/debug/qianshu, or QIANSHU_BIN) with the
// demo tenant's keys and templates (see tenants()) and its test helpers, a contract group of
// three made through the official Node SDK, the organisation signing by itself, the
// signer's link opened in Debian's headless Chromium as a 390×844 phone, every step a person
// takes, the SMS code read from /_qianshu/sms, and the outcome checked through the SDK.
// Screenshots of every step: tests/browser/results/signing/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EMPLOYMENT, ENTERPRISE, INDIVIDUAL, NDA, agent, client, smsCodes, startServer } from "./demo.mjs";
import { phone, shooter } from "./harness.mjs";

const SIGNER = { Name: "张三", Mobile: "18888888888" };

const person = (extra = {}) => ({ ApproverType: "PERSON", RecipientId: INDIVIDUAL, ...SIGNER, ...extra });
const automatic = { ApproverType: "ENTERPRISESERVER", RecipientId: ENTERPRISE };
const CONTRACTS = ["2023年张三劳动合同", "保密协议", "保密协议补充条款"];

/** The signer's link: ChannelCreateBatchQuickSignUrl, or CreateSignUrls where it is not built. */
async function signUrl(sdk, flowGroupId) {
  try {
    const r = await sdk.ChannelCreateBatchQuickSignUrl({ Agent: agent, FlowGroupId: flowGroupId, FlowApproverInfo: person({ RecipientId: undefined }) });
    return r.FlowApproverUrlInfo.SignUrl;
  } catch (e) {
    if (!String(e.code).startsWith("UnsupportedOperation")) throw e;
    const r = await sdk.CreateSignUrls({ Agent: agent, FlowGroupId: flowGroupId, GenerateType: "PERSON", ...SIGNER });
    assert.deepEqual(r.ErrorMessages.filter(Boolean), []);
    return r.SignUrlInfos[0].SignUrl;
  }
}

/** The codes texted to `mobile` so far, oldest first (the test helpers' outbox). */
test("a person signs a whole group from the link: reads, fills, gets the code, signs", async () => {
  const { proc, base, address } = await startServer();
  const { browser, page, problems } = await phone();
  const shot = shooter("signing");
  try {
    const sdk = client(address);
    const created = await sdk.ChannelCreateFlowGroupByTemplates({
      Agent: agent,
      FlowGroupName: "张三入职合同",
      FlowInfos: [
        { FlowName: CONTRACTS[0], TemplateId: EMPLOYMENT.TemplateId, FlowApprovers: [automatic, person()],
          FormFields: [{ ComponentId: "CompanyName", ComponentValue: "典子谦示例企业" }, { ComponentId: "EmployeeName", ComponentValue: "张三" },
            { ComponentId: "Position", ComponentValue: "高级软件工程师 (Rust)" }] },
        { FlowName: CONTRACTS[1], TemplateId: NDA.TemplateId, FlowApprovers: [automatic, person()],
          FormFields: [{ ComponentId: "PartyA", ComponentValue: "典子谦示例企业" }, { ComponentId: "PartyB", ComponentValue: "张三" }] },
        { FlowName: CONTRACTS[2], TemplateId: NDA.TemplateId, FlowApprovers: [automatic, person()],
          FormFields: [{ ComponentId: "PartyA", ComponentValue: "典子谦示例企业" }, { ComponentId: "PartyB", ComponentValue: "张三" }] },
      ],
    });
    // The organisation signs by itself, off the request path: the person's turn comes after.
    const approvers = async () => (await sdk.DescribeFlowDetailInfo({ Agent: agent, FlowGroupId: created.FlowGroupId }))
      .FlowInfo.map((f) => f.FlowApproverInfos.map((a) => a.ApproveStatus));
    for (const deadline = Date.now() + 60_000; ;) {
      const statuses = await approvers();
      if (statuses.every(([organisation]) => organisation === "ACCEPT")) break;
      assert.ok(Date.now() < deadline, `the automatic signer has not signed: ${JSON.stringify(statuses)}`);
      await new Promise((ok) => setTimeout(ok, 250));
    }
    const url = await signUrl(sdk, created.FlowGroupId);
    assert.match(url, new RegExp(`^${base}/s/[A-Za-z0-9_-]{43}$`));

    const assets = [];
    page.on("response", (r) => { if (new URL(r.url()).pathname.startsWith("/assets/")) assets.push([new URL(r.url()).pathname, r.status()]); });
    await page.goto(url);
    await shot(page, "link");
    assert.equal(await page.locator("main.signing").getAttribute("data-state"), "open");
    for (const name of CONTRACTS) await page.getByText(name, { exact: true }).waitFor();
    // The first contract is drawn by PDF.js from the binary's own assets.
    await page.getByLabel(`${CONTRACTS[0]} 合同内容`).locator("canvas").first().waitFor({ timeout: 30_000 });
    await shot(page, "opened");

    await page.getByLabel("紧急联系人").fill("李四 13900000000");
    await page.getByLabel("签名", { exact: true }).fill("张三");
    await shot(page, "filled");

    // Enabled once any reading time the page asks for has passed.
    const signAll = page.getByRole("button", { name: "全部签署", exact: true });
    await signAll.waitFor({ timeout: 310_000 });
    await signAll.click();
    assert.deepEqual(await smsCodes(base, SIGNER.Mobile), []);
    await page.getByRole("button", { name: "获取验证码" }).click();
    // Sent once the button counts down.
    await page.getByRole("button", { name: /^重新获取\(\d+s\)$/ }).waitFor();
    const codes = await smsCodes(base, SIGNER.Mobile);
    assert.equal(codes.length, 1, JSON.stringify(codes));
    const [code] = codes;
    assert.match(code, /^\d{6}$/);
    await page.getByRole("textbox", { name: "验证码" }).fill(code);
    await shot(page, "code");

    await page.getByRole("button", { name: "确认签署", exact: true }).click();
    await page.getByRole("heading", { name: "签署完成" }).waitFor({ timeout: 30_000 });
    await page.locator('main.signing[data-state="signed"]').waitFor();
    await shot(page, "signed");

    const detail = await sdk.DescribeFlowDetailInfo({ Agent: agent, FlowGroupId: created.FlowGroupId });
    assert.deepEqual(detail.FlowInfo.map((f) => f.FlowName), CONTRACTS);
    for (const flow of detail.FlowInfo) {
      assert.equal(flow.FlowStatus, "ALL", flow.FlowName);
      assert.deepEqual(flow.FlowApproverInfos.map((a) => a.ApproveStatus), ["ACCEPT", "ACCEPT"], flow.FlowName);
    }
    assert.ok(assets.length >= 2 && assets.every(([, status]) => status === 200), JSON.stringify(assets));
    // A missing asset shows above; the browser's own favicon request may be a 404.
    assert.deepEqual(problems.filter((p) => !p.includes("404 (Not Found)")), []);
  } finally {
    await browser.close();
    proc.kill();
  }
});
