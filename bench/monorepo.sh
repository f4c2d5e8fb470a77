#!/usr/bin/env bash
# Benchmark: compile a generated monorepo of 1,000 and of 2,000 services (3 stages each, one template
# expanded over `dirs: services/*`) with --out-dir (Dockerfile, .dockerignore, docker-bake.json).
#
# Usage: bench/monorepo.sh           (runnable from any directory)
#
# Requirements checked: 1,000 services compile in under LIMIT_SECONDS (1.5), and 2,000 services take
# at most RATIO_LIMIT (2.2) times as long as 1,000.
# Environment: SKIP_BUILD=1 uses the existing release binary; RESULTS_DIR=DIR keeps hyperfine exports.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
limit="${LIMIT_SECONDS:-1.5}"
ratio_limit="${RATIO_LIMIT:-2.2}"

for tool in hyperfine python3 swift; do
    command -v "$tool" >/dev/null 2>&1 || { echo "monorepo.sh: $tool is not installed" >&2; exit 2; }
done

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$root" && swift build -c release --product plan >&2)
fi
plan="$root/.build/release/plan"
[ -x "$plan" ] || { echo "monorepo.sh: $plan is missing; build it or unset SKIP_BUILD" >&2; exit 2; }

work="$(mktemp -d /tmp/plan-bench-monorepo.XXXXXX)"
trap 'rm -rf "$work"' EXIT
results="${RESULTS_DIR:-$work}"
mkdir -p "$results"

for n in 1000 2000; do
    python3 "$here/generate-monorepo.py" "$n" "$work/m$n"
    "$plan" compile "$work/m$n" --out-dir "$work/out$n" --werror
    stages=$(grep -c '^FROM ' "$work/out$n/Dockerfile")
    [ "$stages" = $((n * 3)) ] || { echo "monorepo.sh: expected $((n * 3)) stages, got $stages" >&2; exit 1; }
done

hyperfine --warmup 2 --runs 15 \
    --export-json "$results/monorepo.json" --export-markdown "$results/monorepo.md" \
    -n "compile --out-dir (1,000 services)" "$plan compile $work/m1000 --out-dir $work/out1000" \
    -n "compile --out-dir (2,000 services)" "$plan compile $work/m2000 --out-dir $work/out2000"
cat "$results/monorepo.md"

python3 - "$results/monorepo.json" "$limit" "$ratio_limit" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["results"]
small, large = runs[0]["mean"], runs[1]["mean"]
limit, ratio_limit = float(sys.argv[2]), float(sys.argv[3])
ratio = large / small
print(f"1,000 services: {small:.3f} s (limit {limit} s); 2,000 services: {large:.3f} s; ratio {ratio:.2f} (limit {ratio_limit})")
ok = small < limit and ratio <= ratio_limit
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
