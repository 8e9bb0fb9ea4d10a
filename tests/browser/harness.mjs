// What the browser tests share: Debian's Chromium as a phone, screenshots, and the static server
// that serves tests/browser/fixture.html with the repository's assets.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdirSync, readFileSync, existsSync } from "node:fs";
import { join, resolve, normalize, sep } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

export const root = resolve(import.meta.dirname, "../..");
export const bin = process.env.QIANSHU_BIN ?? join(root, "target/debug/qianshu");
export const results = join(import.meta.dirname, "results");
const chromiumPath = process.env.QIANSHU_CHROMIUM ?? "/usr/bin/chromium";

/** `qianshu serve` on a free loopback port over `dataDir`; resolves once it listens. */
export async function serve(dataDir, args = []) {
  const proc = spawn(bin, ["--data-dir", dataDir, "serve", "--listen", "127.0.0.1:0", ...args],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, QIANSHU_LOG: process.env.QIANSHU_LOG ?? "warn" } });
  const lines = createInterface({ input: proc.stdout });
  for await (const line of lines) {
    const m = line.match(/qianshu listening on (http:\/\/\S+)/);
    if (m) {
      // Keep reading, so the server never blocks on a full pipe.
      lines.on("line", () => {});
      return { proc, base: m[1], address: m[1].slice("http://".length) };
    }
  }
  throw new Error(`qianshu did not start (${bin})`);
}

/** Headless Chromium as a 390×844 phone with a touch screen. */
export async function phone() {
  if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath} (scripts/test.sh installs Debian's chromium)`);
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true });
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: "zh-CN",
  });
  const page = await context.newPage();
  // What the page itself reports as broken, for the tests to assert on.
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`); });
  return { browser, page, problems };
}

/** Writes results/{test}/{nn-step}.png: what the screen shows. */
export function shooter(test) {
  const dir = join(results, test);
  mkdirSync(dir, { recursive: true });
  let n = 0;
  return async (page, step) => {
    n += 1;
    await page.screenshot({ path: join(dir, `${String(n).padStart(2, "0")}-${step}.png`) });
  };
}

/** Resolves when `draw` strokes have been made on the canvas located by `pad` (pointer events). */
export async function drawSignature(page, pad) {
  const box = await pad.boundingBox();
  const at = (fx, fy) => [box.x + box.width * fx, box.y + box.height * fy];
  // 张 drawn badly: three strokes.
  for (const stroke of [
    [[0.2, 0.3], [0.35, 0.3], [0.33, 0.5], [0.2, 0.52], [0.34, 0.55], [0.3, 0.8]],
    [[0.5, 0.25], [0.48, 0.85]],
    [[0.45, 0.5], [0.7, 0.35], [0.6, 0.6], [0.8, 0.8]],
  ]) {
    await page.mouse.move(...at(...stroke[0]));
    await page.mouse.down();
    for (const p of stroke.slice(1)) await page.mouse.move(...at(...p), { steps: 6 });
    await page.mouse.up();
  }
}

/** Share of a canvas's pixels that are dark: how much of a rendered page is ink. */
export function inkOf(page, canvas) {
  return canvas.evaluate((c) => {
    const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let dark = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && data[i] + data[i + 1] + data[i + 2] < 300) dark++;
    return dark / (c.width * c.height);
  });
}

const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".html": "text/html; charset=utf-8", ".pdf": "application/pdf", ".bcmap": "application/octet-stream" };
const typeOf = (path) => TYPES[path.slice(path.lastIndexOf("."))] ?? "application/octet-stream";

export const FIXTURE_TOKEN = "FIXTURE_TOKEN";
const FIXTURE_PDFS = {
  "0VccSLh608umD2VB3gzcpa6naowR5mJT": "employment-contract.pdf",
  "0VccSLh6JrSK4t5GV2WHiLONDQaMClzI": "confidentiality-agreement.pdf",
};

/**
 * The fixture page as the server would serve it: /s/FIXTURE_TOKEN, its contracts' PDFs, /assets/
 * from the repository's assets directory (or relayed from `assetsFrom`, a running qianshu), and
 * the form's two endpoints. `codeAnswers` are the answers to successive code requests; each
 * signing POST's fields are pushed to `posts`, and answered 303 to a page in the state the action
 * leads to.
 */
export async function fixtureServer(codeAnswers, assetsFrom) {
  const posts = [];
  const codeRequests = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://fixture");
    const send = (status, type, body, headers = {}) => {
      res.writeHead(status, { "content-type": type, ...headers });
      res.end(body);
    };
    const base = `/s/${FIXTURE_TOKEN}`;
    if (req.method === "GET" && url.pathname.startsWith("/assets/") && assetsFrom) {
      const answer = await fetch(new URL(url.pathname, assetsFrom));
      const relayed = ["content-type", "cache-control", "x-content-type-options", "etag"]
        .filter((h) => answer.headers.has(h)).map((h) => [h, answer.headers.get(h)]);
      return send(answer.status, answer.headers.get("content-type") ?? "text/plain", Buffer.from(await answer.arrayBuffer()), Object.fromEntries(relayed));
    }
    if (req.method === "GET" && url.pathname.startsWith("/assets/")) {
      const dir = join(root, "assets");
      const path = normalize(join(dir, decodeURIComponent(url.pathname.slice("/assets/".length))));
      if (!path.startsWith(dir + sep) || !existsSync(path)) return send(404, "text/plain", "not found");
      return send(200, typeOf(path), readFileSync(path));
    }
    if (req.method === "GET" && url.pathname === base) {
      return send(200, "text/html; charset=utf-8", readFileSync(join(import.meta.dirname, "fixture.html")));
    }
    const pdf = url.pathname.match(/^\/s\/FIXTURE_TOKEN\/flows\/(\w+)\.pdf$/);
    if (req.method === "GET" && pdf) {
      const file = FIXTURE_PDFS[pdf[1]];
      if (!file) return send(404, "text/plain", "not found");
      return send(200, "application/pdf", readFileSync(join(import.meta.dirname, "fixtures", file)));
    }
    if (req.method === "POST" && url.pathname === `${base}/code`) {
      codeRequests.push({ contentLength: req.headers["content-length"], origin: req.headers.origin });
      req.resume();
      const answer = codeAnswers[Math.min(codeRequests.length, codeAnswers.length) - 1];
      return send(200, "application/json", JSON.stringify(answer));
    }
    if (req.method === "POST" && url.pathname === `${base}/sign`) {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c) => { body += c; });
      req.on("end", () => {
        const fields = [...new URLSearchParams(body)];
        posts.push(fields);
        const action = fields.filter(([k]) => k === "Action").map(([, v]) => v);
        res.writeHead(303, { location: `${base}/${action.includes("reject") ? "rejected" : "signed"}` });
        res.end();
      });
      return;
    }
    const outcome = { signed: "签署完成", rejected: "已拒签" }[url.pathname.slice(base.length + 1)];
    if (req.method === "GET" && outcome && url.pathname.startsWith(base)) {
      return send(200, "text/html; charset=utf-8", `<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/assets/sign.css"></head>
<body><main class="signing" data-state="${outcome === "已拒签" ? "rejected" : "signed"}"><header class="head"><h1>张三入职合同</h1>
<p class="meta">发起方：典子谦示例企业 · 签署人：张三</p></header>
<section class="done"><h2>${outcome}</h2><p>合同已发送至各签署方</p></section></main></body></html>`);
    }
    send(404, "text/plain", "not found");
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/s/${FIXTURE_TOKEN}`, posts, codeRequests, close: () => new Promise((ok) => server.close(ok)) };
}
