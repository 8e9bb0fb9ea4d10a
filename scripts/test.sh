#!/usr/bin/env bash
# Runs every test of qianshu: formatting and lints, the Rust unit and storage suites, the
# official Python SDK suite and the Node SDK smoke test, each on SQLite and on PostgreSQL.
# Installs what it needs (a Python venv with the pinned SDK, the Node SDK, psql).
set -euo pipefail
cd "$(dirname "$0")/.."

export QIANSHU_TEST_POSTGRES_URL="${QIANSHU_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
export QIANSHU_LOG="${QIANSHU_LOG:-warn}"

step() { printf '\n== %s\n' "$*"; }

step "tools"
if ! command -v psql >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && apt-get install -y -qq postgresql-client >/dev/null) || echo "could not install psql"
fi
if command -v psql >/dev/null && psql "$QIANSHU_TEST_POSTGRES_URL" -qAtc 'SELECT 1' >/dev/null 2>&1; then
  echo "PostgreSQL reachable at $QIANSHU_TEST_POSTGRES_URL: every suite runs on SQLite and PostgreSQL"
else
  echo "!!! PostgreSQL NOT reachable at $QIANSHU_TEST_POSTGRES_URL: the PostgreSQL half of every suite will be SKIPPED !!!"
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r tests/sdk/requirements.txt
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)

step "format and lints"
cargo fmt --check
cargo clippy --workspace --all-targets -- -D warnings

step "Rust tests: unit, and the storage suite on both backends"
cargo test --workspace

step "official Python SDK suite on both backends"
cargo build --bin qianshu
.venv/bin/python -m pytest tests/sdk -q -rs

step "official Node SDK smoke test"
(cd tests/node && node --test)
