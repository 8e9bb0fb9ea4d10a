"""Secrets at rest: sealed under the master key, from --master-key / QIANSHU_MASTER_KEY or else a
key file generated in the data dir, which later starts reuse."""

import os
import stat
import subprocess

from conftest import AGENT_A, BIN, KEYS, TENANTS, Server, call

WRONG_KEY = "0f" * 32


def describe(server):
    return call(server.client(), "DescribeTemplates", {"Agent": AGENT_A})


def run(db, data_dir, *args, key):
    env = {**os.environ, "QIANSHU_MASTER_KEY": key}
    return subprocess.run([str(BIN), "--data-dir", str(data_dir), "--database-url", db.url, *args],
                          env=env, capture_output=True, text=True, timeout=60)


def test_a_restarted_server_reuses_the_generated_key_file_and_never_logs_a_key(db, tmp_path, start):
    first = start()
    key_file = tmp_path / "master.key"
    key = key_file.read_text()
    assert len(key) == 65 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert describe(first)["TotalCount"] == 2
    first.stop()

    second = Server(db, tmp_path)
    assert describe(second)["TotalCount"] == 2
    assert call(second.client("A2"), "DescribeTemplates", {"Agent": AGENT_A})["TotalCount"] == 2
    second.stop()
    assert key_file.read_text() == key
    log = first.proc.stderr.read() + second.proc.stderr.read()
    assert log.count(f"no --master-key (QIANSHU_MASTER_KEY): secrets at rest are sealed with a key read in {key_file}. "
                     "In production set --master-key (QIANSHU_MASTER_KEY)") == 2, log
    for secret in [key.strip(), *(k for _, k in KEYS.values())]:
        assert secret not in log


def test_a_wrong_master_key_fails_at_start_naming_the_setting(db, tmp_path, start):
    start().stop()
    for args in [("serve", "--listen", "127.0.0.1:0"), ("apply", str(TENANTS))]:
        r = run(db, tmp_path, *args, key=WRONG_KEY)
        assert r.returncode == 1, r.stdout
        assert r.stderr.splitlines()[-1] == (
            "qianshu: the secret application_secrets.secret_key of `AKIDtestA` does not open with the master key "
            "from --master-key (QIANSHU_MASTER_KEY). If this database was sealed under another master key, set "
            "--master-key (QIANSHU_MASTER_KEY) to that key; qianshu never replaces secrets it cannot open")
        assert "listening" not in r.stdout and WRONG_KEY not in r.stderr

    # Nothing was replaced: the key file still opens everything.
    again = Server(db, tmp_path)
    assert describe(again)["TotalCount"] == 2
    again.stop()


def test_the_key_given_in_the_environment_is_used_and_a_malformed_one_is_refused(db, tmp_path):
    key = "3c" * 32
    assert run(db, tmp_path, "apply", str(TENANTS), key=key).returncode == 0
    assert not (tmp_path / "master.key").exists()
    r = run(db, tmp_path, "apply", str(TENANTS), key=WRONG_KEY)
    assert r.returncode == 1 and "does not open with the master key" in r.stderr, r.stderr

    typo = key[:-1] + "g"
    r = run(db, tmp_path, "serve", "--listen", "127.0.0.1:0", key=typo)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == (
        "qianshu: the master key (--master-key, QIANSHU_MASTER_KEY or master_key in the settings file): must be 64 "
        "hex characters (32 bytes), such as `openssl rand -hex 32` prints")
    assert typo not in r.stderr
