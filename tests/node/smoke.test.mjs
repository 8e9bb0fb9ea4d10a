// Smoke test through the official Tencent Cloud Node.js SDK: a typed success and a coded error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import tencentcloud from "tencentcloud-sdk-nodejs";

const root = resolve(import.meta.dirname, "../..");
const bin = process.env.QIANSHU_BIN ?? join(root, "target/debug/qianshu");
const agent = { AppId: "qianshuTestAppA00000000000000000", ProxyOrganizationOpenId: "kev_open_organization_8", ProxyOperator: { OpenId: "kev_8" } };

async function startServer() {
  const dataDir = mkdtempSync(join(tmpdir(), "qianshu-node-"));
  const applied = spawnSync(bin, ["--data-dir", dataDir, "apply", join(root, "tests/fixtures/tenants.json")], { encoding: "utf8" });
  assert.equal(applied.status, 0, applied.stderr);
  const proc = spawn(bin, ["--data-dir", dataDir, "serve", "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: proc.stdout });
  for await (const line of lines) {
    const m = line.match(/qianshu listening on http:\/\/(\S+)/);
    if (m) return { proc, address: m[1] };
  }
  throw new Error("qianshu did not start");
}

function client(address, secretKey = "testSecretKeyA0000000000000000000") {
  const Client = tencentcloud.essbasic.v20210526.Client;
  return new Client({
    credential: { secretId: "AKIDtestA", secretKey },
    region: "",
    profile: { httpProfile: { endpoint: address, protocol: "http://" } },
  });
}

test("the Node SDK gets typed answers and coded errors", async () => {
  const { proc, address } = await startServer();
  try {
    const r = await client(address).DescribeTemplates({ Agent: agent, TemplateName: "保密" });
    assert.equal(r.TotalCount, 1);
    assert.equal(r.Templates[0].TemplateName, "保密协议");
    assert.match(r.RequestId, /^[0-9a-f-]{36}$/);
    await assert.rejects(client(address, "wrongKeyWrongKeyWrongKey00000000").DescribeTemplates({ Agent: agent }), (e) => {
      assert.equal(e.code, "AuthFailure.SignatureFailure");
      assert.match(e.requestId, /^[0-9a-f-]{36}$/);
      return true;
    });
    await assert.rejects(client(address).ChannelCreateFlowByFiles({ Agent: agent }), (e) => e.code === "UnsupportedOperation");
  } finally {
    proc.kill();
  }
});
