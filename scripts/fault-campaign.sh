#!/usr/bin/env bash
# The fault campaign (bench/fault_campaign.py): two nodes under create load, one killed with
# SIGKILL and restarted each round, PostgreSQL restarted once mid-load, the invariants checked
# after every round. Arguments go to the campaign (--rounds N, --clients N, --load-seconds S,
# --postgres URL, --postgres-restart-round N, --postgres-restart CMD, --quota N; --help lists
# them). Needs the PostgreSQL at QIANSHU_TEST_POSTGRES_URL and the test venv (make test makes it);
# 50 rounds take about five minutes on two cores. Exits 1 if an invariant breaks.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --bin qianshu
exec .venv/bin/python bench/fault_campaign.py "$@"
