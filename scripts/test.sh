#!/usr/bin/env bash
# Runs every test of qianshu: formatting and lints, the Rust unit, storage and blob suites, the
# official Python SDK suite and the Node SDK smoke test, each on SQLite and on PostgreSQL, blobs
# on a local directory and on S3, and the signing page in headless Chromium. Installs what it
# needs (a Python venv with the pinned SDK and moto, the Node SDK, playwright-core, psql,
# poppler-utils, qpdf, the Noto CJK fonts, Chromium) and starts moto's
# S3-compatible server on a loopback port for the duration of the run.
set -euo pipefail
cd "$(dirname "$0")/.."

export QIANSHU_TEST_POSTGRES_URL="${QIANSHU_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
export QIANSHU_LOG="${QIANSHU_LOG:-warn}"

step() { printf '\n== %s\n' "$*"; }

step "tools"
# Debian package, and what shows it is there: psql for the PostgreSQL suites; pdftotext,
# pdffonts, pdftoppm and pdfsig (poppler-utils) and qpdf to check the PDFs qianshu writes; the
# CJK font qianshu embeds where no --font is set (and the browser tests' Chromium draws Chinese
# with); Chromium for the signing page's browser tests (playwright-core drives it, and downloads
# no browser of its own).
NOTO_CJK=/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
present() {
  case "$1" in
    postgresql-client) command -v psql >/dev/null ;;
    poppler-utils) command -v pdftotext >/dev/null && command -v pdffonts >/dev/null \
      && command -v pdftoppm >/dev/null && command -v pdfsig >/dev/null ;;
    # poppler's CMaps for the templates' non-embedded Chinese fonts, without which pdftoppm
    # renders their text as nothing.
    poppler-data) [ -d /usr/share/poppler/cMap/Adobe-GB1 ] ;;
    qpdf) command -v qpdf >/dev/null ;;
    fonts-noto-cjk) [ -f "$NOTO_CJK" ] ;;
    chromium) command -v chromium >/dev/null ;;
    # The cluster tests' Redis (QIANSHU_TEST_REDIS_URL, 127.0.0.1:6379 by default), and a
    # redis-server of their own that they stop and start.
    redis-server) command -v redis-server >/dev/null ;;
    # The PAdES tests make their certificates and CMS with openssl and trust their root in an
    # NSS database (certutil) for pdfsig.
    openssl) command -v openssl >/dev/null ;;
    libnss3-tools) command -v certutil >/dev/null ;;
  esac
}
PACKAGES=(postgresql-client poppler-utils poppler-data qpdf fonts-noto-cjk chromium redis-server openssl libnss3-tools)
missing=()
for p in "${PACKAGES[@]}"; do present "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "installing ${missing[*]} with apt-get"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null) || echo "!!! could not install ${missing[*]} with apt-get !!!"
  else
    echo "!!! missing ${missing[*]}, and not root with apt-get to install them !!!"
  fi
fi
for p in "${PACKAGES[@]}"; do
  if present "$p"; then echo "present: $p"; else echo "!!! MISSING: $p: the tests that need it will fail or be SKIPPED !!!"; fi
done
# The suites make their databases from a database of this run's own, created here and dropped
# when the script exits however it exits, so that nothing of a run is left in the shared one.
TEST_DATABASE=
drop_test_database() {
  if [ -n "$TEST_DATABASE" ]; then
    psql "$SERVER_POSTGRES_URL" -qAtc "DROP DATABASE IF EXISTS $TEST_DATABASE WITH (FORCE)" >/dev/null 2>&1 \
      || echo "!!! could not drop database $TEST_DATABASE on $SERVER_POSTGRES_URL !!!"
    TEST_DATABASE=
  fi
}
trap drop_test_database EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if command -v psql >/dev/null && psql "$QIANSHU_TEST_POSTGRES_URL" -qAtc 'SELECT 1' >/dev/null 2>&1; then
  SERVER_POSTGRES_URL=$QIANSHU_TEST_POSTGRES_URL
  TEST_DATABASE="qianshu_test_$$_$(date +%s)"
  psql "$SERVER_POSTGRES_URL" -qAtc "CREATE DATABASE $TEST_DATABASE" >/dev/null
  query=
  case "$SERVER_POSTGRES_URL" in *\?*) query="?${SERVER_POSTGRES_URL#*\?}" ;; esac
  server="${SERVER_POSTGRES_URL%%\?*}"
  export QIANSHU_TEST_POSTGRES_URL="${server%/*}/$TEST_DATABASE$query"
  echo "PostgreSQL reachable: every suite runs on SQLite and on PostgreSQL, in databases made from $QIANSHU_TEST_POSTGRES_URL (dropped at the end)"
else
  echo "!!! PostgreSQL NOT reachable at $QIANSHU_TEST_POSTGRES_URL: the PostgreSQL half of every suite will be SKIPPED !!!"
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r tests/sdk/requirements.txt
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

step "format and lints"
cargo fmt --check
cargo clippy --workspace --all-targets -- -D warnings

step "S3-compatible server (moto) for the blob store suites"
# moto_server from the venv, on a free loopback port, stopped when this script exits however it
# exits. If it does not answer, QIANSHU_TEST_S3_ENDPOINT stays unset and the S3 halves of the
# suites say SKIPPED (and fail under CI=true, where the server must be there).
unset QIANSHU_TEST_S3_ENDPOINT
MOTO_PID=
MOTO_LOG=target/moto_server.log
stop_moto() {
  if [ -n "$MOTO_PID" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
    MOTO_PID=
  fi
}
trap 'stop_moto; drop_test_database' EXIT
mkdir -p target
for _ in 1 2 3; do
  port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  .venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$MOTO_LOG" 2>&1 </dev/null &
  MOTO_PID=$!
  for _ in $(seq 100); do
    kill -0 "$MOTO_PID" 2>/dev/null || break
    if .venv/bin/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
      "http://127.0.0.1:$port/moto-api/" 2>/dev/null; then
      export QIANSHU_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
      break
    fi
    sleep 0.2
  done
  [ -n "${QIANSHU_TEST_S3_ENDPOINT:-}" ] && break
  stop_moto
done
if [ -n "${QIANSHU_TEST_S3_ENDPOINT:-}" ]; then
  echo "moto_server (pid $MOTO_PID) answers at $QIANSHU_TEST_S3_ENDPOINT: blob suites run on a directory and on S3"
else
  echo "--- last lines of $MOTO_LOG:"
  tail -n 20 "$MOTO_LOG" 2>/dev/null || true
  echo "!!! moto_server did NOT start: the S3 half of every blob suite will be SKIPPED !!!"
fi

step "Rust tests: unit, the storage suite on both databases, the blob suite on both stores"
cargo test --workspace

step "official Python SDK suite on both backends (with the README's examples, examples/)"
cargo build --bin qianshu
.venv/bin/python -m pytest tests/sdk -q -rs

step "official Node SDK smoke test"
(cd tests/node && node --test)

step "the signing page in headless Chromium (screenshots in tests/browser/results/)"
(cd tests/browser && node --test)
