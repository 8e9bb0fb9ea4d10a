// The demo tenant the end-to-end browser tests run against: its keys and templates, the real
// binary started over it with the test helpers, an official Node SDK client, and the codes the
// server texted.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tencentcloud from "tencentcloud-sdk-nodejs";
import { bin, root, serve } from "./harness.mjs";

// The demo tenant (examples/demo-tenants.json), its keys and templates.
export const demo = JSON.parse(readFileSync(join(root, "examples/demo-tenants.json"), "utf8")).Applications[0];
export const agent = { AppId: demo.AppId, ProxyOrganizationOpenId: "kev_open_organization_8", ProxyOperator: { OpenId: "kev_8" } };
export const [EMPLOYMENT, NDA] = demo.Templates;
export const ENTERPRISE = EMPLOYMENT.Recipients.find((r) => r.RecipientType === "ENTERPRISE").RecipientId;
export const INDIVIDUAL = EMPLOYMENT.Recipients.find((r) => r.RecipientType === "INDIVIDUAL").RecipientId;

/**
 * The demo tenant, except that the employer fills nothing in the employment contract: a signer
 * who fills components can only sign automatically (AUTO_SIGN) when they fill none, and the tests
 * want the person to be the group's only signer who is not automatic. Applied with
 * `qianshu apply`, the same as `--demo` does.
 */
function tenants(dir) {
  const app = structuredClone(demo);
  const employment = app.Templates[0];
  employment.Components = employment.Components.filter((c) => !(c.ComponentRecipientId === ENTERPRISE && !c.ComponentType.startsWith("SIGN_")));
  for (const t of app.Templates) t.Pdf = join(root, "examples", t.Pdf);
  const path = join(dir, "tenants.json");
  writeFileSync(path, JSON.stringify({ Applications: [app] }));
  return path;
}

export async function startServer() {
  const dataDir = mkdtempSync(join(tmpdir(), "qianshu-browser-"));
  const applied = spawnSync(bin, ["--data-dir", dataDir, "apply", tenants(dataDir)], { encoding: "utf8" });
  assert.equal(applied.status, 0, applied.stderr);
  return serve(dataDir, ["--test-helpers"]);
}

export function client(address) {
  const Client = tencentcloud.essbasic.v20210526.Client;
  return new Client({
    credential: { secretId: demo.SecretId, secretKey: demo.SecretKey },
    region: "",
    profile: { httpProfile: { endpoint: address, protocol: "http://" } },
  });
}

/** The one-time codes texted to `mobile`, oldest first. */
export async function smsCodes(base, mobile) {
  const { Messages } = await (await fetch(`${base}/_qianshu/sms`)).json();
  return Messages.filter((m) => m.Mobile === mobile && m.Code).map((m) => m.Code);
}
