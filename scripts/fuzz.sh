#!/usr/bin/env bash
# Fuzzes what a caller can send qianshu, each target for a bounded time:
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Targets (fuzz/fuzz_targets/): edge_json, edge_query, authorization, template_pdf, image.
# A panic, a hang (one input over TIMEOUT seconds) or a memory blow-up (over RSS_MB) is a
# finding: it is saved under fuzz/artifacts/TARGET/ and the script exits 1. Each run goes on
# after a finding (libFuzzer's fork mode), so one run reports every distinct defect it meets.
# fuzz/dicts/TARGET.dict, when present, gives libFuzzer the tokens of the target's syntax.
# Reproduce one with `cargo +nightly fuzz run -s none -a TARGET FILE`; shrink it with `tmin`.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${1:-60}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(edge_json edge_query authorization template_pdf image)
TIMEOUT="${TIMEOUT:-10}"
RSS_MB="${RSS_MB:-1024}"
# Safe Rust has no memory errors for AddressSanitizer to find, and without it the build takes
# half the time and the targets run several times faster; debug assertions stay on, so an
# arithmetic overflow is a panic, as in the test builds.
FUZZ=(cargo +nightly fuzz)
BUILD_FLAGS=(-s none -a)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal

# Seeds, from the files the project already has; the corpus directories are not committed.
seed() {
  local target="$1"
  shift
  mkdir -p "fuzz/corpus/$target"
  for file in "$@"; do
    [ -f "$file" ] && cp -n "$file" "fuzz/corpus/$target/"
  done
  return 0
}
shopt -s nullglob
seed edge_json fuzz/seeds/edge_json/* tests/fixtures/fuzz/edge_json/*
seed edge_query fuzz/seeds/edge_query/* tests/fixtures/fuzz/edge_query/*
seed authorization fuzz/seeds/authorization/* tests/fixtures/fuzz/authorization/*
seed template_pdf examples/templates/*.pdf tests/fixtures/*.pdf tests/fixtures/locate/*.pdf \
  tests/fixtures/fuzz/template_pdf/*
seed image fuzz/seeds/image/* tests/fixtures/fuzz/image/*

(cd fuzz && "${FUZZ[@]}" build "${BUILD_FLAGS[@]}")

marker="$(mktemp)"
trap 'rm -f "$marker"' EXIT
failed=()
for target in "${TARGETS[@]}"; do
  printf '\n== %s (%ss)\n' "$target" "$SECONDS_PER_TARGET"
  mkdir -p "fuzz/artifacts/$target"
  dict=()
  [ -f "fuzz/dicts/$target.dict" ] && dict=(-dict="dicts/$target.dict")
  (cd fuzz && "${FUZZ[@]}" run "${BUILD_FLAGS[@]}" "$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB" "${dict[@]}" \
    -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1) || true
  found=$(find "fuzz/artifacts/$target" -type f -newer "$marker" | sort)
  if [ -n "$found" ]; then
    failed+=("$target")
    printf '%s: findings\n%s\n' "$target" "$found"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  printf '\nFindings in: %s (under fuzz/artifacts/). Minimise with `cargo +nightly fuzz tmin -s none -a TARGET FILE`, then keep it under tests/fixtures/fuzz/TARGET/ with a regression test.\n' "${failed[*]}"
  exit 1
fi
printf '\nNo findings.\n'
