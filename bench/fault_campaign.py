"""Fault campaign: two qianshu nodes on one fresh PostgreSQL database and one blob directory,
under a load of two-contract group creations through the official Python SDK; each round kills
one node with SIGKILL at a random moment of the load and starts it again, and one round restarts
the PostgreSQL server itself mid-load. After every round, with the load paused, it checks:

- no partial group: every group in the database has both its contracts, every contract both its
  approvers and its document job; every group a client was told was created is there, whole;
- quota used = the ledger's sum = the number of contracts;
- every document job finishes: the queue drains, each job READY and recorded once.

Run by scripts/fault-campaign.sh, which builds the binary; prints one line per round and a summary,
and exits 1 at the first round whose invariants do not hold."""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "sdk"))

from tencentcloud.common import credential  # noqa: E402
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException  # noqa: E402
from tencentcloud.common.profile.client_profile import ClientProfile  # noqa: E402
from tencentcloud.common.profile.http_profile import HttpProfile  # noqa: E402
from tencentcloud.essbasic.v20210526 import essbasic_client  # noqa: E402

from conftest import APP_A, KEYS, TENANTS, psql  # noqa: E402
from test_flow_groups import NDA, flow, group  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=50)
    p.add_argument("--postgres", default=os.environ.get("QIANSHU_TEST_POSTGRES_URL",
                                                        "postgres://postgres@127.0.0.1:5432/test"),
                   help="server (and database to connect to) where the campaign's own database is made")
    p.add_argument("--postgres-restart-round", type=int, default=None,
                   help="round whose load restarts the PostgreSQL server [default: the middle one; 0: never]")
    p.add_argument("--postgres-restart", default="pg_ctlcluster 15 main restart",
                   help="command that restarts the PostgreSQL server")
    p.add_argument("--clients", type=int, default=4, help="client threads creating groups")
    p.add_argument("--load-seconds", type=float, default=1.5, help="load per round, the kill falling within it")
    p.add_argument("--quota", type=int, default=3000,
                   help="the application's FlowQuota in contracts; once used up, creations are refused")
    p.add_argument("--drain-timeout", type=float, default=120.0, help="seconds for the queue to drain after a round")
    p.add_argument("--bin", default=str(ROOT / "target" / "debug" / "qianshu"))
    return p.parse_args()


class Node:
    """A `qianshu serve` whose log goes to a file; killed with SIGKILL and started again."""

    def __init__(self, name, args, env, work):
        self.name, self.args, self.env = name, args, env
        self.log = open(work / f"{name}.log", "a")
        self.proc, self.address = None, None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self.log, text=True, env=self.env)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("qianshu listening on http://"):
                self.address = line.split("http://", 1)[1].split()[0]
                # The rest of its output is not read: keep the pipe from filling.
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return
        raise RuntimeError(f"node {self.name} did not start; see {self.log.name}")

    def kill_9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.address = None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Load:
    """Client threads creating two-contract groups on both nodes in turn, paused between rounds."""

    def __init__(self, nodes, clients):
        self.nodes = nodes
        self.running = threading.Event()
        self.stopping = False
        self.idle = threading.Semaphore(0)
        self.lock = threading.Lock()
        self.accepted = {}  # FlowGroupId -> FlowIds, as the client was told
        self.outcomes = {}  # "created", an error code, or "transport"
        self.first_message = {}  # outcome -> the first message it came with
        self.threads = [threading.Thread(target=self.client, args=(i,), daemon=True) for i in range(clients)]
        for t in self.threads:
            t.start()
        for _ in self.threads:
            self.idle.acquire()

    def client(self, i):
        turn = i
        while True:
            if not self.running.is_set():
                self.idle.release()
                self.running.wait()
                if self.stopping:
                    return
            node = self.nodes[turn % len(self.nodes)]
            turn += 1
            address = node.address
            if address is None:
                time.sleep(0.01)
                continue
            sid, key = KEYS["A"]
            hp = HttpProfile(protocol="http", endpoint=address, reqTimeout=60)
            client = essbasic_client.EssbasicClient(credential.Credential(sid, key), "", ClientProfile(httpProfile=hp))
            try:
                r = client.call_json("ChannelCreateFlowGroupByTemplates", group(flow(), flow(NDA)))["Response"]
                outcome = "created"
                message = ""
            except TencentCloudSDKException as e:
                r, outcome, message = None, e.code if e.code != "ClientNetworkError" else "transport", e.message
            except OSError as e:
                r, outcome, message = None, "transport", str(e)
            with self.lock:
                self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
                self.first_message.setdefault(outcome, message)
                if r is not None:
                    self.accepted[r["FlowGroupId"]] = r["FlowIds"]

    def resume(self):
        self.running.set()

    def pause(self):
        """Returns once every client has finished its call in flight."""
        self.running.clear()
        for _ in self.threads:
            self.idle.acquire()

    def finish(self):
        self.stopping = True
        self.running.set()


def scalar(url, sql):
    r = psql(url, sql)
    if r.returncode != 0:
        raise RuntimeError(f"{sql}: {r.stderr}")
    return r.stdout.strip()


def check(url, accepted, drain_timeout):
    """What does not hold, as sentences; empty when everything does."""
    broken = []
    partial = scalar(url, "SELECT COUNT(*) FROM flow_groups g WHERE (SELECT COUNT(*) FROM flows f "
                          "WHERE f.flow_group_id = g.flow_group_id) <> 2")
    if partial != "0":
        broken.append(f"{partial} groups without both contracts")
    missing = scalar(url, "SELECT COUNT(*) FROM flows f WHERE (SELECT COUNT(*) FROM flow_approvers a "
                          "WHERE a.flow_id = f.flow_id) <> 2 OR NOT EXISTS "
                          "(SELECT 1 FROM flow_documents d WHERE d.flow_id = f.flow_id)")
    if missing != "0":
        broken.append(f"{missing} contracts without both approvers or without a document job")
    stored = {}
    for line in scalar(url, "SELECT flow_group_id || ' ' || flow_id FROM flows ORDER BY flow_group_id, position").splitlines():
        group_id, flow_id = line.split()
        stored.setdefault(group_id, []).append(flow_id)
    lost = [g for g, flows in accepted.items() if stored.get(g) != flows]
    if lost:
        broken.append(f"{len(lost)} groups answered as created are not stored as answered, e.g. {lost[0]}")
    used, ledger, contracts = (scalar(url, f"SELECT flow_quota_used FROM applications WHERE app_id = '{APP_A}'"),
                               scalar(url, f"SELECT COALESCE(SUM(units), 0) FROM quota_ledger WHERE app_id = '{APP_A}'"),
                               scalar(url, f"SELECT COUNT(*) FROM flows WHERE app_id = '{APP_A}'"))
    if not used == ledger == contracts:
        broken.append(f"quota used {used}, ledger sum {ledger}, contracts {contracts}")
    deadline = time.time() + drain_timeout
    while (pending := scalar(url, "SELECT COUNT(*) FROM flow_documents WHERE state = 'PENDING'")) != "0":
        if time.time() > deadline:
            broken.append(f"{pending} document jobs still pending after {drain_timeout:.0f} s")
            break
        time.sleep(0.2)
    odd = scalar(url, "SELECT COUNT(*) FROM flow_documents WHERE state <> 'READY' OR renders <> 1")
    if odd != "0" and not any("pending" in b for b in broken):
        broken.append(f"{odd} document jobs not READY exactly once")
    return broken, int(contracts)


def main():
    a = parse_args()
    restart_round = a.rounds // 2 + 1 if a.postgres_restart_round is None else a.postgres_restart_round
    name = f"qianshu_fault_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    base, _, query = a.postgres.partition("?")
    url = base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")
    scalar(a.postgres, f"CREATE DATABASE {name}")
    work = Path(tempfile.mkdtemp(prefix="qianshu-fault-"))
    nodes, load = [], None
    started = time.time()
    try:
        tenants = json.loads(TENANTS.read_text())
        for app in tenants["Applications"]:
            if app["AppId"] == APP_A:
                app["FlowQuota"] = a.quota
            for t in app.get("Templates", []):
                t["Pdf"] = str((TENANTS.parent / t["Pdf"]).resolve())
        (work / "tenants.json").write_text(json.dumps(tenants, ensure_ascii=False))
        env = {**os.environ, "QIANSHU_MASTER_KEY": os.urandom(32).hex(), "QIANSHU_BLOB_STORE": str(work / "blobs"),
               "QIANSHU_LOG": os.environ.get("QIANSHU_LOG", "warn")}
        common = [a.bin, "--data-dir", str(work), "--database-url", url]
        r = subprocess.run(common + ["apply", str(work / "tenants.json")], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        # A short lease, so that a killed node's jobs go to the other within the round.
        serve = common + ["serve", "--listen", "127.0.0.1:0", "--rate-limit", "100000", "--synthesis-lease-ms", "2000"]
        nodes = [Node(n, serve, env, work) for n in ("a", "b")]
        load = Load(nodes, a.clients)
        failed = False
        for round_ in range(1, a.rounds + 1):
            load.resume()
            victim = random.choice(nodes)
            kill_at = random.uniform(0.1, a.load_seconds * 0.8)
            time.sleep(kill_at)
            victim.kill_9()
            restarted_postgres = round_ == restart_round
            if restarted_postgres:
                r = subprocess.run(a.postgres_restart.split(), capture_output=True, text=True, timeout=120)
                if r.returncode != 0:
                    raise RuntimeError(f"{a.postgres_restart}: {r.stderr}")
            victim.start()
            time.sleep(max(0.0, a.load_seconds - kill_at))
            load.pause()
            broken, contracts = check(url, dict(load.accepted), a.drain_timeout)
            print(f"round {round_:2}: killed {victim.name}{', restarted PostgreSQL' if restarted_postgres else ''}; "
                  f"{contracts} contracts, {len(load.accepted)} groups answered created; outcomes so far "
                  f"{dict(sorted(load.outcomes.items()))}; {'; '.join(broken) if broken else 'invariants hold'}",
                  flush=True)
            if broken:
                failed = True
                break
        print(f"\n{round_} rounds in {time.time() - started:.0f} s; outcomes {dict(sorted(load.outcomes.items()))}; "
              f"{'INVARIANTS BROKEN' if failed else 'every invariant held after every round'}; logs in {work}")
        for outcome, message in sorted(load.first_message.items()):
            if message:
                print(f"first {outcome}: {message[:300]}")
        return 1 if failed else 0
    finally:
        if load:
            load.finish()
        for n in nodes:
            n.stop()
        psql(a.postgres, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
