// assets/sign.js and assets/sign.css on tests/browser/fixture.html (the HTML contract written by
// hand), served by a static server, in Debian's headless Chromium as a 390×844 phone.
// Screenshots of every step: tests/browser/results/fixture-*/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { drawSignature, fixtureServer, inkOf, phone, results, shooter } from "./harness.mjs";

const NAMES = ["2023年张三劳动合同", "保密协议", "员工手册确认书"];
// The third contract's document is missing on purpose; the browser's own favicon request too.
const expectedProblems = (problems) => problems.filter((p) => !p.includes("404 (Not Found)"));

async function open(codeAnswers, test) {
  const server = await fixtureServer(codeAnswers);
  const { browser, page, problems } = await phone();
  await page.goto(server.url);
  return { server, browser, page, problems, shot: shooter(test), close: async () => { await browser.close(); await server.close(); } };
}

test("the signer reads each contract, fills the form, signs by hand and confirms with the code", async () => {
  const { server, page, problems, shot, close } = await open([{ Ok: true, RetryAfter: 60 }], "fixture-sign");
  try {
    // The reading time holds both signing buttons, counting down.
    const held = page.locator(".open-sign");
    assert.match(await held.textContent(), /^请阅读合同\([23]s\)$/);
    assert.equal(await held.isDisabled(), true);
    for (const name of NAMES) await page.getByText(name, { exact: true }).waitFor();
    await shot(page, "opened");

    // The first contract is open and drawn page by page, at the screen's resolution.
    const first = page.getByLabel("2023年张三劳动合同 合同内容");
    const canvas = first.locator(".page canvas").first();
    await canvas.waitFor({ timeout: 30_000 });
    const { cssWidth, pixels } = await canvas.evaluate((c) => ({ cssWidth: c.getBoundingClientRect().width, pixels: c.width }));
    assert.ok(Math.abs(pixels - cssWidth * 2) <= 2, `${pixels} canvas pixels for ${cssWidth} CSS pixels at 2×`);
    assert.equal(await first.locator(".page").count(), 2);
    assert.deepEqual(await first.locator(".page").evaluateAll((ps) => ps.map((p) => p.getAttribute("aria-label"))),
      ["第 1 页，共 2 页", "第 2 页，共 2 页"]);
    // Text in the template's non-embedded STSong-Light (through its cMap) and the filled values in
    // embedded subsets: page 1 is 0.9% ink; without the cMaps its template text is missing (0.3%).
    const ink = await inkOf(page, canvas);
    assert.ok(ink > 0.005, `page 1 is ${ink} ink`);
    await page.waitForTimeout(300);
    await canvas.screenshot({ path: join(results, "fixture-sign", "page-1.png") });

    // The other contracts render when opened; one whose document fails offers the download.
    await page.getByText("保密协议", { exact: true }).click();
    await page.getByLabel("保密协议 合同内容").locator(".page canvas").first().waitFor({ timeout: 30_000 });
    await page.getByText("员工手册确认书", { exact: true }).click();
    const download = page.getByRole("link", { name: "下载合同" });
    await download.waitFor();
    assert.equal(await download.getAttribute("href"), "/s/FIXTURE_TOKEN/flows/0VccSLh6NoDocumentYetMissing0000.pdf");
    await shot(page, "contracts");

    // A closed contract lets its pages' pixels go, and draws them again when reopened.
    await page.getByText("2023年张三劳动合同", { exact: true }).click();
    await page.waitForFunction(() => document.querySelectorAll(".contract:first-child .page canvas").length === 0);
    assert.equal(await first.locator(".page").count(), 2);
    await page.getByText("2023年张三劳动合同", { exact: true }).click();
    await canvas.waitFor();

    // After the reading time, the buttons have their names.
    const signAll = page.getByRole("button", { name: "全部签署", exact: true });
    await signAll.waitFor({ timeout: 5_000 });
    assert.equal(await signAll.isEnabled(), true);

    // A required field left empty stops 全部签署; so does a missing signature.
    await signAll.click();
    assert.equal(await page.locator(".confirm-sign").isHidden(), true);
    await page.getByLabel("紧急联系人").fill("李四 13900000000");
    await page.getByLabel("社保缴纳").selectOption("个人自缴");
    await page.getByLabel("同意岗位调整").check();
    await signAll.click();
    await page.getByRole("alert").filter({ hasText: "请签名" }).waitFor();
    assert.equal(await page.locator(".confirm-sign").isHidden(), true);
    await shot(page, "no-signature");

    // Drawing is enough (typing the name would be too); clearing empties the image.
    const pad = page.getByLabel("手写签名");
    await drawSignature(page, pad);
    const image = page.locator('input[name="SignatureImage"]');
    assert.match(await image.inputValue(), /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
    await page.getByRole("button", { name: "清除手写" }).click();
    assert.equal(await image.inputValue(), "");
    // A finger's tap is a stroke too (touch pointer events, not scrolling the page).
    await pad.tap();
    assert.match(await image.inputValue(), /^data:image\/png;base64,/);
    await page.getByRole("button", { name: "清除手写" }).click();
    assert.equal(await image.inputValue(), "");
    await drawSignature(page, pad);
    const drawn = await image.inputValue();
    assert.ok(drawn.length > 1000, "a drawn signature");
    await page.getByLabel("签名", { exact: true }).fill("张三");
    await shot(page, "signed-by-hand");

    // 全部签署 shows the code section alone; the reject section's fields are out of the form.
    await signAll.click();
    await page.getByRole("button", { name: "获取验证码" }).waitFor();
    assert.equal(await page.locator(".confirm-reject").isHidden(), true);
    assert.deepEqual(await page.locator(".confirm-reject").locator("input, textarea, button").evaluateAll((es) => es.map((e) => e.disabled)),
      [true, true, true, true]);
    assert.equal(await page.locator('input[type="hidden"][name="Action"]').inputValue(), "sign");
    // The reading time is over: 确认签署 is ready.
    const confirm = page.getByRole("button", { name: "确认签署", exact: true });
    assert.equal(await confirm.isEnabled(), true);
    await shot(page, "confirm");

    // The code: one empty same-origin POST, then a countdown on the button.
    await page.getByRole("button", { name: "获取验证码" }).click();
    const waiting = page.locator(".confirm-sign .send-code");
    await page.waitForFunction(() => /^重新获取\((60|59)s\)$/.test(document.querySelector(".confirm-sign .send-code").textContent));
    assert.equal(await waiting.isDisabled(), true);
    assert.deepEqual(server.codeRequests, [{ contentLength: "0", origin: new URL(server.url).origin }]);
    const code = page.getByRole("textbox", { name: "验证码" });
    assert.equal(await code.evaluate((e) => e === document.activeElement), true, "the code field has the focus");
    await code.fill("123456");
    await shot(page, "code");

    await confirm.click();
    await page.getByRole("heading", { name: "签署完成" }).waitFor();
    await shot(page, "done");

    // What was posted: the visible section's fields only, the pad as PNG, the fill components.
    const [fields] = server.posts;
    assert.deepEqual(fields.filter(([k]) => k !== "SignatureImage"), [
      ["Action", "sign"],
      ["field:紧急联系人", "李四 13900000000"],
      ["field:社保缴纳", "个人自缴"],
      ["field:同意岗位调整", "on"],
      ["SignatureText", "张三"],
      ["Code", "123456"],
      ["Action", "sign"],
    ]);
    assert.deepEqual(fields.filter(([k]) => k === "SignatureImage"), [["SignatureImage", drawn]]);
    assert.deepEqual(expectedProblems(problems), []);
  } finally {
    await close();
  }
});

test("the signer rejects with a reason; a refused code request shows why and how long to wait", async () => {
  const refusal = { Ok: false, Message: "验证码发送过于频繁，请稍后再试", RetryAfter: 5 };
  const { server, page, problems, shot, close } = await open([refusal, { Ok: true, RetryAfter: 60 }], "fixture-reject");
  try {
    await page.getByRole("button", { name: "拒签", exact: true }).click();
    const reason = page.getByRole("textbox", { name: "拒签理由" });
    await reason.waitFor();
    assert.equal(await reason.evaluate((e) => e === document.activeElement), true, "the reason has the focus");
    assert.equal(await page.locator(".confirm-sign").isHidden(), true);
    assert.equal(await page.locator('input[type="hidden"][name="Action"]').inputValue(), "reject");
    await reason.fill("薪资与面谈时不符");

    const send = page.getByRole("button", { name: "获取验证码" });
    await send.click();
    await page.getByRole("alert").filter({ hasText: refusal.Message }).waitFor();
    await page.waitForFunction(() => /^重新获取\([45]s\)$/.test(document.querySelector(".confirm-reject .send-code").textContent));
    await shot(page, "refused");
    // The wait ends with the button's own name back, and it works again.
    await send.waitFor({ timeout: 7_000 });
    assert.equal(await send.isEnabled(), true);
    await send.click();
    await page.waitForFunction(() => ![...document.querySelectorAll(".error")].some((e) => !e.hidden && e.textContent));

    // Required fields do not stop a rejection.
    await page.getByRole("textbox", { name: "验证码" }).fill("654321");
    await page.getByRole("button", { name: "确认拒签" }).click();
    await page.getByRole("heading", { name: "已拒签" }).waitFor();
    await shot(page, "rejected");
    assert.deepEqual(server.posts, [[["Action", "reject"], ["field:紧急联系人", ""], ["field:社保缴纳", "单位代缴"],
      ["SignatureText", ""], ["SignatureImage", ""], ["Reason", "薪资与面谈时不符"], ["Code", "654321"], ["Action", "reject"]]]);
    assert.deepEqual(expectedProblems(problems), []);
  } finally {
    await close();
  }
});

test("the buttons wait out the reading time the page asks for, then take their names", async () => {
  const { page, close } = await open([], "fixture-hold");
  try {
    const openSign = page.locator(".open-sign");
    assert.equal(await openSign.isDisabled(), true);
    assert.match(await openSign.textContent(), /^请阅读合同\([23]s\)$/);
    assert.equal(await page.locator(".submit-sign").textContent(), await openSign.textContent());
    // 拒签 is never held.
    assert.equal(await page.getByRole("button", { name: "拒签", exact: true }).isEnabled(), true);
    await page.getByRole("button", { name: "全部签署", exact: true }).waitFor({ timeout: 5_000 });
    assert.equal(await page.locator(".submit-sign").textContent(), "确认签署");
    // Its section hidden, 确认签署 stays out of the form even after the wait.
    assert.equal(await page.locator(".submit-sign").isDisabled(), true);
  } finally {
    await close();
  }
});
