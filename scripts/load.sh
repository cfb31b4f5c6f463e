#!/usr/bin/env bash
# Requests per second of the example page with and without PortalLinkLayer,
# loaded over 127.0.0.1 by wrk in alternating, bounded runs.
#
#   scripts/load.sh                 # 5 rounds of 10 s a side, typical query
#   ROUNDS=3 DURATION=5 scripts/load.sh
#   QUERY='crylk=https%3a%2f%2f...' scripts/load.sh
#
# Needs wrk (Debian: apt-get install -y wrk). Prints one line per run, then
# the median requests per second of each side and their ratio. Stops by
# itself: ROUNDS x 2 runs of DURATION seconds, plus a short warm-up.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-1}
# The request nearly every page gets: campaign parameters, no link.
QUERY=${QUERY:-utm_source=newsletter&utm_medium=email&utm_campaign=2026-11&ref=abc123&lang=fr}

command -v wrk >/dev/null || {
    echo "load.sh: needs wrk (apt-get install -y wrk)" >&2
    exit 1
}

cargo build --release --quiet --features axum --example load_server
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

# With two cores or more, the server and wrk each get one to themselves, so
# that they do not take turns on the same core.
server_cpu=() wrk_cpu=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    server_cpu=(taskset -c 0) wrk_cpu=(taskset -c 1)
fi

work=$(mktemp -d)
"${server_cpu[@]}" "$target_dir/release/examples/load_server" >"$work/ports" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

for _ in $(seq 50); do
    [ "$(wc -l <"$work/ports")" -ge 2 ] && break
    sleep 0.1
done
plain=$(awk '$1 == "plain" { print $2 }' "$work/ports")
layer=$(awk '$1 == "layer" { print $2 }' "$work/ports")
[ -n "$plain" ] && [ -n "$layer" ] || {
    echo "load.sh: the server did not start" >&2
    exit 1
}

# wrk's own figure, in requests per second.
run() {
    timeout $((DURATION + 10)) "${wrk_cpu[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${2}s" \
        "$1/Subscriptions?$QUERY" | awk '/^Requests\/sec:/ { print $2 }'
}

echo "# wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds, query: $QUERY"
run "$plain" 2 >/dev/null
run "$layer" 2 >/dev/null
for round in $(seq "$ROUNDS"); do
    # Alternate which side goes first, so that neither always follows the other.
    if [ $((round % 2)) -eq 1 ]; then order="plain layer"; else order="layer plain"; fi
    for side in $order; do
        if [ "$side" = plain ]; then url=$plain; else url=$layer; fi
        rps=$(run "$url" "$DURATION")
        echo "$side $round $rps" | tee -a "$work/results"
    done
done

python3 - "$work/results" <<'PY'
import statistics, sys
runs = {"plain": {}, "layer": {}}
for line in open(sys.argv[1]):
    side, round_, rps = line.split()
    runs[side][round_] = float(rps)
plain, layer = (statistics.median(runs[s].values()) for s in ("plain", "layer"))
# Each round's two runs are back to back: their ratio cancels slow drift.
ratios = [runs["layer"][r] / runs["plain"][r] for r in runs["plain"]]
print(f"median req/s: without layer {plain:.0f}, with layer {layer:.0f}, ratio {layer / plain:.3f}")
print(f"per-round ratios: {' '.join(f'{r:.3f}' for r in ratios)}; median {statistics.median(ratios):.3f}")
PY
