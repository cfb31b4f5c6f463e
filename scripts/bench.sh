#!/usr/bin/env bash
# The benchmarks' figures, measured again and summed up in Markdown:
#
#   scripts/bench.sh                  # alloc, instructions and criterion
#   scripts/bench.sh alloc instructions
#   scripts/bench.sh e2e              # a real server, with and without the layer
#
# Steps: `alloc` (the allocation bounds, tests/alloc_counts.rs),
# `instructions` (CPU instructions under callgrind, benches/instructions.rs),
# `criterion` (wall-clock times, benches/layer.rs), `e2e` (requests a second
# of one axum page with and without the layer, loaded by wrk, each pinned to
# its core: benches/e2e.rs; only on request, it takes about 8 minutes). The
# benchmarks run the same requests (benches/common/mod.rs). Raw outputs
# go to <target dir>/perf/, and the summary to <target dir>/perf/summary.md:
# per group, each service's instructions over `bare` for the same request,
# the worst cases as a multiple of the guide's valid link, the
# candidate-dense queries in instructions a byte, criterion's mean times,
# and how long each step took.
#
# Needs valgrind and `cargo install gungraun-runner --version 0.20.0` for
# `instructions`, wrk and taskset for `e2e` (`apt-get install -y wrk`),
# python3 for the summary. Wall-clock figures (criterion, e2e) are only
# worth reporting from a quiet machine.
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
    start=$SECONDS
    case $step in
    alloc)
        cargo test --release --test alloc_counts 2>&1 | tee "$out/alloc.txt"
        ;;
    instructions)
        # One JSON summary a line, read below.
        cargo bench --bench instructions -- --output-format=json >"$out/instructions.json"
        ;;
    criterion)
        rm -rf "$target_dir/criterion"
        # `api`: the `api` group, a page view's cache hit.
        cargo bench --bench layer --features api
        ;;
    e2e)
        # The table goes to stdout, Markdown as benches/README.md shows it.
        cargo bench --bench e2e | tee "$out/e2e.md"
        ;;
    *)
        echo "bench.sh: unknown step $step (alloc, instructions, criterion or e2e)" >&2
        exit 2
        ;;
    esac
    printf '%s %d\n' "$step" $((SECONDS - start)) >>"$out/durations.txt"
done

python3 - "$out" "$target_dir/criterion" <<'PY' | tee "$out/summary.md"
import json, os, re, sys

out, criterion = sys.argv[1], sys.argv[2]
services = ["bare", "floor", "recipe", "layer"]
GUIDE = ("typical", "valid_link")

def read(name):
    path = os.path.join(out, name)
    return open(path).read() if os.path.exists(path) else ""

# Instructions (callgrind `Ir`): {(group, case): {service: Ir}}, and each
# group's cases in the order they ran.
ir, order = {}, {}
for line in read("instructions.json").splitlines():
    if not line.startswith("{"):
        continue
    d = json.loads(line)
    n = d["profiles"][0]["data"]["total"]["metrics"]["Ir"]["values"]["new"]
    group, case = d["group"], d["id"]
    service = d["function_name"].removeprefix(group + "_")
    ir.setdefault((group, case), {})[service] = n
    order.setdefault(group, [])
    if case not in order[group]:
        order[group].append(case)

# Criterion: mean time in nanoseconds, and the cases it ran.
def ns(group, service, case):
    path = os.path.join(criterion, group, service, case, "new", "estimates.json")
    if not os.path.exists(path):
        return None
    return json.load(open(path))["mean"]["point_estimate"]

for group in ("typical", "scaling", "worst"):
    path = os.path.join(criterion, group, "bare")
    if os.path.isdir(path) and group not in order:
        order[group] = sorted(os.listdir(path))

def over(group, case, service):
    c = ir.get((group, case), {})
    return c[service] - c["bare"] if service in c and "bare" in c else None

def num(n):
    return "–" if n is None else f"{n:,}"

def time(t):
    if t is None:
        return "–"
    return f"{t / 1000:.2f} µs" if t >= 1000 else f"{t:.0f} ns"

def times(group, case, names):
    return " / ".join(time(ns(group, s, case)) for s in names)

guide = over(*GUIDE, "layer")

if "typical" in order:
    print("## typical: instructions over `bare`\n")
    print("| request | bare | floor | recipe | layer | time: bare / floor / recipe / layer |")
    print("|---|---:|---:|---:|---:|---:|")
    for case in order["typical"]:
        bare = ir.get(("typical", case), {}).get("bare")
        row = [case, num(bare)] + [num(over("typical", case, s)) for s in services[1:]]
        row.append(times("typical", case, services))
        print("| " + " | ".join(row) + " |")

if "scaling" in order:
    print("\n## scaling: instructions over `bare`\n")
    print("| request | floor | recipe | layer | layer × previous | time: bare / recipe / layer |")
    print("|---|---:|---:|---:|---:|---:|")
    previous = {}
    for case in order["scaling"]:
        kind = case.rsplit("_", 1)[0]
        layer = over("scaling", case, "layer")
        p = previous.get(kind)
        growth = f"{layer / p:.2f}" if layer is not None and p else ""
        previous[kind] = layer
        row = [case] + [num(over("scaling", case, s)) for s in services[1:]]
        row += [growth, times("scaling", case, ["bare", "recipe", "layer"])]
        print("| " + " | ".join(row) + " |")

if "worst" in order:
    print("\n## worst: instructions over `bare`\n")
    print(f"The guide's valid link costs the layer {num(guide)} instructions over `bare`.\n")
    print("| request | recipe | layer | layer ÷ guide link | time: bare / recipe / layer |")
    print("|---|---:|---:|---:|---:|")
    for case in order["worst"]:
        layer = over("worst", case, "layer")
        ratio = f"{layer / guide:.2f}" if layer is not None and guide else "–"
        row = [case, num(over("worst", case, "recipe")), num(layer), ratio]
        row.append(times("worst", case, ["bare", "recipe", "layer"]))
        print("| " + " | ".join(row) + " |")

if "dense" in order:
    # benches/common/mod.rs: 60,000 bytes, or 8 KiB for the `_8k` cases.
    def size(case):
        return 8 * 1024 if case.endswith("_8k") else 60_000
    rows = [(case, over("dense", case, "layer")) for case in order["dense"]]
    per_byte = [(case, n / size(case)) for case, n in rows if n is not None]
    print("\n## dense: instructions over `bare`, a byte\n")
    if per_byte:
        case, worst = max(per_byte, key=lambda row: row[1])
        print(f"The most a byte: {worst:.2f}, `{case}`.\n")
    print("| request | bytes | layer | layer a byte |")
    print("|---|---:|---:|---:|")
    for case, layer in rows:
        a_byte = f"{layer / size(case):.2f}" if layer is not None else "–"
        print(f"| {case} | {size(case):,} | {num(layer)} | {a_byte} |")

e2e = read("e2e.md").strip()
if e2e:
    print("\n## e2e: requests a second, with and without the layer\n")
    print(e2e)
cache_hit = ns("api", "client", "cache_hit")
if cache_hit is not None:
    print("\n## api: a page view's customer links, cached\n")
    print(f"`Client::customer_links` on a cache hit, polled once: {time(cache_hit)}.")

alloc = re.findall(r"^test result: .*$", read("alloc.txt"), re.M)
if alloc:
    print(f"\nAllocation bounds (tests/alloc_counts.rs): {alloc[-1].removeprefix('test result: ')}")

durations = read("durations.txt").split()
if durations:
    steps = dict(zip(durations[::2], durations[1::2]))
    print("\nLast run of each step: " + ", ".join(f"{s} {t} s" for s, t in steps.items()))

print("\nInstructions: callgrind `Ir` for `poll_ready`, `call` and one poll of the response "
      "future, minus `bare`'s for the same request; times: criterion's mean.")
PY
