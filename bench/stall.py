#!/usr/bin/env python3
"""Many connections that send a large body and then stall, against `qianshu serve` on loopback.

Reproduces issue 11's "100 connections each sending a 10 MB body and stalling" and prints the
server's RSS before, while the connections stall, right after they close, and some seconds
later. Run by hand (not a test), from the repository root, standard library only:

    python3 bench/stall.py                               # target/release/qianshu
    python3 bench/stall.py --binary target/debug/qianshu --connections 100 --megabytes 10
    python3 bench/stall.py --auth known-id               # a known SecretId with a bad signature

`--auth none` sends no Authorization (what an anonymous attacker sends); `known-id` names the
fixture's SecretId with a wrong signature, which passes every check that needs no body, so the
server does read those bodies, into the room `--max-buffered-body-bytes` bounds. Extra
arguments after `--` go to `qianshu serve`, and the environment (MALLOC_ARENA_MAX…) is passed on.
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) / 1024


def start(binary, data_dir, extra):
    env = dict(os.environ, QIANSHU_DATA_DIR=data_dir, QIANSHU_SYNTHESIS_WORKERS="0")
    subprocess.run([binary, "apply", "tests/fixtures/tenants.json"], env=env, check=True, capture_output=True)
    server = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", *extra], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in server.stdout:
        if m := re.search(r"listening on http://(\S+)", line):
            host, port = m.group(1).rsplit(":", 1)
            return server, (host, int(port))
    sys.exit("the server did not start")


def stall(address, auth, size):
    """A connection that sends headers and all of a `size`-byte body but its last byte."""
    s = socket.create_connection(address)
    s.settimeout(30)
    ts = int(time.time())
    head = (f"POST / HTTP/1.1\r\nHost: {address[0]}:{address[1]}\r\nContent-Type: application/json\r\n"
            f"X-TC-Action: DescribeTemplates\r\nX-TC-Version: 2021-05-26\r\nX-TC-Timestamp: {ts}\r\n"
            f"Content-Length: {size}\r\n")
    if auth == "known-id":
        date = time.strftime("%Y-%m-%d", time.gmtime(ts))
        head += (f"Authorization: TC3-HMAC-SHA256 Credential=AKIDtestA/{date}/essbasic/tc3_request, "
                 f"SignedHeaders=content-type;host, Signature={'0' * 64}\r\n")
    s.sendall((head + "\r\n").encode())
    chunk = b" " * (1 << 20)
    sent, refused = 0, False
    try:
        while sent < size - 1:
            n = min(len(chunk), size - 1 - sent)
            s.sendall(chunk[:n])
            sent += n
    except OSError:
        refused = True  # the server answered and closed without reading the body
    return s, sent, refused


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default="target/release/qianshu")
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--megabytes", type=int, default=10)
    p.add_argument("--hold", type=float, default=5, help="seconds the connections stay open, stalled")
    p.add_argument("--after", type=float, default=10, help="seconds to wait after closing before the last RSS")
    p.add_argument("--auth", choices=["none", "known-id"], default="none")
    p.add_argument("serve_args", nargs="*", help="after --: more arguments for qianshu serve")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        server, address = start(a.binary, data_dir, a.serve_args)
        try:
            time.sleep(1)
            before = rss_mb(server.pid)
            began = time.time()
            conns = [stall(address, a.auth, a.megabytes << 20) for _ in range(a.connections)]
            sent = sum(c[1] for c in conns) / (1 << 20)
            refused = sum(c[2] for c in conns)
            time.sleep(a.hold)
            during = rss_mb(server.pid)
            for s, _, _ in conns:
                s.close()
            time.sleep(0.5)
            closed = rss_mb(server.pid)
            time.sleep(a.after)
            after = rss_mb(server.pid)
            print(f"{os.path.basename(a.binary)} auth={a.auth} {a.connections}x{a.megabytes} MB "
                  f"(sent {sent:.0f} MB in {time.time() - began - a.hold - a.after - 0.5:.1f} s, "
                  f"{refused} connections closed by the server while sending)")
            print(f"RSS MB: before {before:.0f}, stalled {during:.0f}, just closed {closed:.0f}, "
                  f"{a.after:.0f} s later {after:.0f}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
