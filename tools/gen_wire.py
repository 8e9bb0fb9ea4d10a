#!/usr/bin/env python3
"""Regenerate qianshu's wire tables from the official SDK (the final word on names).

Writes:
  src/api/schema.json     every action's request shape, for UnknownParameter, type checks and GET unflattening
  src/api/actions.rs       the list behind the `Action` enum
  src/error/catalog.rs     every error code of the SDK's errorcodes.py plus the common API 3.0 codes

Usage: tools/gen_wire.py SDK_DIR API_JSON
  SDK_DIR   .../site-packages/tencentcloud/essbasic/v20210526 of tencentcloud-sdk-python-essbasic
  API_JSON  essbasic-api.json from tencentcloud-cli (fills in the Go-only actions)
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# API 3.0 common codes (Tencent Cloud common error-code pages); not all are in errorcodes.py.
COMMON_CODES = [
    ("ActionOffline", "接口已下线。"),
    ("AuthFailure.InvalidAuthorization", "请求头部的 Authorization 不符合腾讯云标准。"),
    ("AuthFailure.InvalidSecretId", "密钥非法（不是云 API 密钥类型）。"),
    ("AuthFailure.MFAFailure", "MFA 错误。"),
    ("AuthFailure.SecretIdNotFound", "密钥不存在。"),
    ("AuthFailure.SignatureExpire", "签名过期。"),
    ("AuthFailure.SignatureFailure", "签名错误。"),
    ("AuthFailure.TokenFailure", "token 错误。"),
    ("AuthFailure.UnauthorizedOperation", "请求未授权。"),
    ("DryRunOperation", "DryRun 操作。"),
    ("FailedOperation", "操作失败。"),
    ("InternalError", "内部错误。"),
    ("InvalidAction", "接口不存在。"),
    ("InvalidParameter", "参数错误。"),
    ("InvalidParameterValue", "参数取值错误。"),
    ("InvalidRequest", "请求 body 的 multipart 格式错误。"),
    ("IpInBlacklist", "IP 地址在黑名单中。"),
    ("IpNotInWhitelist", "IP 地址不在白名单中。"),
    ("LimitExceeded", "超过配额限制。"),
    ("MissingParameter", "缺少参数错误。"),
    ("NoSuchProduct", "产品不存在。"),
    ("NoSuchVersion", "接口版本不存在。"),
    ("RequestLimitExceeded", "请求的次数超过了频率限制。"),
    ("RequestSizeLimitExceeded", "请求包超过限制大小。"),
    ("ResourceInUse", "资源被占用。"),
    ("ResourceInsufficient", "资源不足。"),
    ("ResourceNotFound", "资源不存在。"),
    ("ResourceUnavailable", "资源不可用。"),
    ("ResponseSizeLimitExceeded", "返回包超过限制大小。"),
    ("ServiceUnavailable", "当前服务暂时不可用。"),
    ("UnauthorizedOperation", "未授权操作。"),
    ("UnknownParameter", "未知参数错误。"),
    ("UnsupportedOperation", "操作不支持。"),
    ("UnsupportedProtocol", "HTTP 请求方法错误。"),
    ("UnsupportedRegion", "接口不支持所传地域。"),
]

SCALARS = {"str": "string", "int": "integer", "int non-negative": "integer", "bool": "boolean", "float": "float"}


def sdk_models(sdk_dir):
    """{class: {field: type}} read from each class's `:type X: T` docstring lines."""
    src = open(os.path.join(sdk_dir, "models.py"), encoding="utf-8").read()
    models = {}
    for m in re.finditer(r"^class (\w+)\(AbstractModel\):\n(.*?)(?=^class |\Z)", src, re.S | re.M):
        name, body = m.group(1), m.group(2)
        init = body.split("    def __init__(self):", 1)[1].split('"""', 2)[1] if "def __init__" in body else ""
        fields = {}
        for t in re.finditer(r":type (\w+): (.+)", init):
            fields[t.group(1)] = sdk_type(t.group(2).strip())
        models[name] = fields
    return models


def sdk_type(t):
    if t.startswith("list of "):
        return [sdk_type(t[len("list of "):])]
    cls = re.match(r":class:`tencentcloud\.essbasic\.v20210526\.models\.(\w+)`", t)
    if cls:
        return cls.group(1)
    if t in SCALARS:
        return SCALARS[t]
    return t  # a bare class name (list members are written that way)


def api_models(api):
    out = {}
    for name, obj in api["objects"].items():
        fields = {}
        for m in obj["members"]:
            base = m["member"]
            base = {"string": "string", "date": "string", "int64": "integer", "uint64": "integer",
                    "bool": "boolean", "float": "float"}.get(base, base)
            fields[m["name"]] = [base] if m["type"] == "list" else base
        out[name] = fields
    return out


def reachable(models, roots):
    seen, todo = set(), list(roots)
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        for t in models[n].values():
            t = t[0] if isinstance(t, list) else t
            if t not in ("string", "integer", "boolean", "float"):
                todo.append(t)
    return seen


def main():
    sdk_dir, api_json = sys.argv[1], sys.argv[2]
    api = json.load(open(api_json, encoding="utf-8"))
    client = open(os.path.join(sdk_dir, "essbasic_client.py"), encoding="utf-8").read()
    sdk_actions = re.findall(r"^    def (\w+)\(self, request\):", client, re.M)
    models = sdk_models(sdk_dir)
    fallback = api_models(api)
    actions = {a: "sdk" for a in sdk_actions}
    for a in api["actions"]:
        actions.setdefault(a, "go-only")
    for a, origin in actions.items():
        if origin == "go-only":
            for n in reachable(fallback, [a + "Request"]):
                models.setdefault(n, fallback[n])
    roots = [a + "Request" for a in actions]
    objects = {n: models[n] for n in sorted(reachable(models, roots))}
    schema = {"actions": {a: {"request": a + "Request", "origin": actions[a]} for a in sorted(actions)},
              "objects": objects}
    with open(os.path.join(ROOT, "src/api/schema.json"), "w", encoding="utf-8") as f:
        json.dump(schema, f, ensure_ascii=False, indent=None, separators=(",", ":"), sort_keys=False)
        f.write("\n")

    with open(os.path.join(ROOT, "src/api/actions.rs"), "w") as f:
        f.write("// @generated by tools/gen_wire.py from the official SDK; do not edit.\n")
        f.write("// Every essbasic action the SDKs know, implemented or not.\n")
        f.write("essbasic_actions! {\n")
        for a in sorted(actions):
            f.write(f"    {a},\n")
        f.write("}\n")

    errsrc = open(os.path.join(sdk_dir, "errorcodes.py"), encoding="utf-8").read()
    codes = {}
    for m in re.finditer(r"# (.*)\n\w+ = '([^']+)'", errsrc):
        codes[m.group(2)] = m.group(1).strip()
    for code, msg in COMMON_CODES:
        codes.setdefault(code, msg)
    with open(os.path.join(ROOT, "src/error/catalog.rs"), "w") as f:
        f.write("// @generated by tools/gen_wire.py from the SDK's errorcodes.py and the API 3.0 common codes; do not edit.\n")
        f.write("error_catalog! {\n")
        for code in sorted(codes):
            ident = code.replace(".", "_")
            f.write(f"    {ident} => {json.dumps(code)}, {json.dumps(codes[code], ensure_ascii=False)};\n")
        f.write("}\n")
    print(f"{len(actions)} actions, {len(objects)} request objects, {len(codes)} error codes")


if __name__ == "__main__":
    main()
