#!/usr/bin/env bash
# Fuzzes target_from_query and validate_link (fuzz/fuzz_targets/) with
# libFuzzer for a bounded time, one job, seeded with every query of
# tests/corpus.json.
#
#   scripts/fuzz.sh [SECONDS]      default 600
#
# Needs cargo-fuzz (installed from crates.io when missing) and a C++
# compiler. cargo-fuzz asks for nightly-only flags (-Zsanitizer=address);
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
# Exits non-zero on a finding; the crashing input is then in
# fuzz/artifacts/target_from_query/, and the whole log in
# fuzz/artifacts/target_from_query/run.log.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-600}"
target=target_from_query
corpus="fuzz/corpus/$target"
artifacts="fuzz/artifacts/$target"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

mkdir -p "$corpus" "$artifacts"
# The queries hold no JSON escape (tests/corpus.rs checks it), so each
# "query" line is the raw query string.
i=0
while IFS= read -r query; do
    printf '%s' "$query" >"$corpus/seed-$i"
    i=$((i + 1))
done < <(sed -n 's/^ *"query": "\(.*\)",$/\1/p' tests/corpus.json)
if [ "$i" -eq 0 ]; then
    echo "no query found in tests/corpus.json" >&2
    exit 1
fi
echo "seeded $i inputs from tests/corpus.json"

# -max_len: sixteen times the 512-byte limit, so that too-long values,
# and queries much longer than any link, are explored too.
# -malloc_limit_mb: any single allocation over 64 MiB is a finding.
cargo fuzz build --fuzz-dir fuzz "$target"
cargo fuzz run --fuzz-dir fuzz "$target" "$corpus" -- \
    -max_total_time="$seconds" \
    -max_len=8192 \
    -malloc_limit_mb=64 \
    -dict=fuzz/crylk.dict \
    -artifact_prefix="$artifacts/" \
    -print_final_stats=1 \
    2>&1 | tee "$artifacts/run.log"
