#!/usr/bin/env python3
"""Capture requests exactly as the official Python SDK signs them, for qianshu's TC3 unit tests.

Run with the SDK installed; prints each request's method, path+query, headers and body as JSON.
"""
import http.server
import json
import threading
import time

from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.essbasic.v20210526 import essbasic_client, models

captured = []


class Handler(http.server.BaseHTTPRequestHandler):
    def _capture(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        captured.append({"method": self.command, "path": self.path,
                         "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
        out = b'{"Response":{"RequestId":"x","Templates":[],"TotalCount":0,"Limit":20,"Offset":0}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = _capture

    def log_message(self, *a):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
time.time = lambda: 1700000000
for method in ("POST", "GET"):
    hp = HttpProfile(protocol="http", endpoint=f"127.0.0.1:{srv.server_port}", reqMethod=method)
    c = essbasic_client.EssbasicClient(credential.Credential("AKIDqianshuTEST", "secretKEYqianshu"), "", ClientProfile(httpProfile=hp))
    r = models.DescribeTemplatesRequest()
    r.from_json_string(json.dumps({"Agent": {"AppId": "app1", "ProxyOperator": {"OpenId": "张三"}}, "Limit": 5, "WithPdfUrl": True}))
    c.DescribeTemplates(r)
print(json.dumps(captured, ensure_ascii=False, indent=1))
