// The assets as the binary serves them (src/page/assets.rs), in the browser: the fixture page
// with /assets/ relayed from a running `qianshu serve`, so the script that runs is the one the
// binary rewrote to name its versioned PDF.js, which finds its worker and cMaps beside it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixtureServer, inkOf, phone, serve, shooter } from "./harness.mjs";

test("the binary's own assets draw the contracts: versioned PDF.js, its worker and cMaps", async () => {
  const qianshu = await serve(mkdtempSync(join(tmpdir(), "qianshu-assets-")));
  const server = await fixtureServer([], qianshu.base);
  const { browser, page, problems } = await phone();
  try {
    const answers = new Map();
    page.on("response", async (r) => {
      const path = new URL(r.url()).pathname;
      if (path.startsWith("/assets/")) answers.set(path, { status: r.status(), headers: await r.allHeaders() });
    });
    await page.goto(server.url);
    const canvas = page.getByLabel("2023年张三劳动合同 合同内容").locator(".page canvas").first();
    await canvas.waitFor({ timeout: 30_000 });
    const ink = await inkOf(page, canvas);
    assert.ok(ink > 0.005, `page 1 is ${ink} ink; the page said ${JSON.stringify(problems)}`);
    await shooter("assets")(page, "from-the-binary");

    // The page's own (unversioned) paths are revalidated; what the script loads is versioned.
    const script = answers.get("/assets/sign.js");
    assert.equal(script.status, 200);
    assert.equal(script.headers["content-type"], "text/javascript; charset=utf-8");
    assert.equal(script.headers["x-content-type-options"], "nosniff");
    assert.equal(script.headers["cache-control"], "no-cache");
    assert.equal(answers.get("/assets/sign.css").headers["content-type"], "text/css; charset=utf-8");
    const versioned = [...answers.keys()].filter((p) => p.includes("/vendor/pdfjs/"));
    const version = versioned[0]?.match(/^\/assets\/([0-9a-f]{8})\/vendor\/pdfjs\//)?.[1];
    assert.ok(version, JSON.stringify(versioned));
    for (const name of ["pdf.min.mjs", "pdf.worker.min.mjs", "cmaps/UniGB-UCS2-H.bcmap"]) {
      const answer = answers.get(`/assets/${version}/vendor/pdfjs/${name}`);
      assert.equal(answer?.status, 200, name);
      assert.equal(answer.headers["cache-control"], "public, max-age=31536000, immutable", name);
    }
    assert.deepEqual(problems.filter((p) => !p.includes("404 (Not Found)")), []);
  } finally {
    await browser.close();
    await server.close();
    qianshu.proc.kill();
  }
});
