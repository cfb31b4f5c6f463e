#!/usr/bin/env bash
# Every figure of the README's "Performance" section, measured again:
#
#   scripts/bench.sh                  # all three steps
#   scripts/bench.sh alloc instructions
#
# Steps: `alloc` (allocations per request, tests/alloc_counts.rs),
# `instructions` (CPU instructions under callgrind, benches/instructions.rs),
# `criterion` (wall-clock times, benches/layer.rs). Raw outputs go to
# <target dir>/perf/, and a summary in Markdown to <target dir>/perf/summary.md.
#
# Needs valgrind and `cargo install gungraun-runner --version 0.20.0` for
# `instructions`, python3 for the summary. Wall-clock figures are only worth
# reporting from a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(alloc instructions criterion)

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
out="$target_dir/perf"
mkdir -p "$out"

for step in "${steps[@]}"; do
    printf '\n=== %s\n' "$step"
    case $step in
    alloc)
        cargo test --release --test alloc_counts -- --nocapture | tee "$out/alloc.txt"
        ;;
    instructions)
        cargo bench --bench instructions -- --output-format=json >"$out/instructions.json"
        ;;
    criterion)
        rm -rf "$target_dir/criterion"
        cargo bench --bench layer
        ;;
    *)
        echo "bench.sh: unknown step $step" >&2
        exit 2
        ;;
    esac
done

python3 - "$out" "$target_dir/criterion" <<'PY' | tee "$out/summary.md"
import json, os, re, sys

out, criterion = sys.argv[1], sys.argv[2]
variants = ["bare", "naive", "layer", "layer_nostrip"]

def read(name):
    path = os.path.join(out, name)
    return open(path).read() if os.path.exists(path) else None

# Instructions (callgrind): {(group, case): {variant: Ir}}
ir = {}
text = read("instructions.json")
for line in (text or "").splitlines():
    if line.startswith("{"):
        d = json.loads(line)
        n = d["profiles"][0]["data"]["total"]["metrics"]["Ir"]["values"]["new"]
        ir.setdefault((d["group"], d["id"]), {})[d["function_name"].removeprefix("scaling_")] = n

# Allocations: {case: [bare, naive, layer, layer_nostrip]}
allocs = {}
for m in re.finditer(r'\("(\w+)", \[(\d+), (\d+), (\d+), (\d+)\]\)', read("alloc.txt") or ""):
    allocs[m.group(1)] = [int(x) for x in m.groups()[1:]]

# Criterion: mean time in nanoseconds.
def ns(group, variant, case):
    path = os.path.join(criterion, group, variant, case, "new", "estimates.json")
    if not os.path.exists(path):
        return None
    return json.load(open(path))["mean"]["point_estimate"]

def fmt_ns(t):
    if t is None:
        return "–"
    return f"{t / 1000:.2f} µs" if t >= 1000 else f"{t:.0f} ns"

def over(v, case, group="compare"):
    c = ir.get((group, case), {})
    return c[v] - c["bare"] if v in c and "bare" in c else None

cases = [c for (g, c) in ir if g == "compare"] or list(allocs)
if ir or allocs:
    print("| request | bare | naive (+) | layer (+) | layer / naive | no strip (+) | no strip / naive | allocations naive / layer / no strip (+) | time bare / naive / layer / no strip |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case in cases:
        c = ir.get(("compare", case), {})
        o = {v: over(v, case) for v in variants}
        ratio = lambda v: f"{o[v] / o['naive']:.3f}" if o[v] is not None and o["naive"] else "–"
        a = allocs.get(case)
        alloc = " / ".join(str(x - a[0]) for x in a[1:]) if a else "–"
        times = " / ".join(fmt_ns(ns("compare", v, case)) for v in variants)
        print(f"| {case} | {c.get('bare', '–')} | {o['naive']} | {o['layer']} | {ratio('layer')} | "
              f"{o['layer_nostrip']} | {ratio('layer_nostrip')} | {alloc} | {times} |")
    print("\nInstructions: callgrind `Ir` per request; (+) is the count minus `bare`'s for the same request.")

scaling = [c for (g, c) in ir if g == "scaling"]
if scaling:
    print("\n| scaling | naive (+) | layer (+) | × previous | no strip (+) | × previous | time layer |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    prev = {}
    for case in scaling:
        kind = case.rsplit("_", 1)[0]
        row = [case, str(over("naive", case, "scaling"))]
        for v in ("layer", "layer_nostrip"):
            o = over(v, case, "scaling")
            p = prev.get((kind, v))
            row += [str(o), f"{o / p:.2f}" if p else "–"]
            prev[(kind, v)] = o
        row.append(fmt_ns(ns("scaling", "layer", case)))
        print("| " + " | ".join(row) + " |")
PY
