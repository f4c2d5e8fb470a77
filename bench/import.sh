#!/usr/bin/env bash
# Benchmark: `plan import` of the Dockerfile the compile benchmark's 3,000-stage plan compiles to, with hyperfine.
#
# Usage: bench/import.sh             (runnable from any directory)
#
# Environment:
#   STAGES=3000         number of stages in the generated plan (and so in the Dockerfile)
#   LIMIT_SECONDS=1.0   fail (exit 1) if the mean time of `plan import` is at or above this
#   RESULTS_DIR=DIR     also keep the hyperfine Markdown and JSON exports here
#   SKIP_BUILD=1        use the existing release binary instead of running `swift build`
#   PLAN=PATH           the `plan` binary to time (default: the release build's)
#
# Steps: build plan in release mode; generate the compile benchmark's plan (bench/generate-plan.py) and
# compile it to a Dockerfile; check that importing it gives a plan with one stage per FROM that checks
# without errors; run hyperfine on `plan import DOCKERFILE -o OUT/plan.yaml --force`; compare the mean
# with the limit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
stages="${STAGES:-3000}"
limit="${LIMIT_SECONDS:-1.0}"

for tool in hyperfine python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "import.sh: $tool is not installed" \
            "$([ "$tool" = hyperfine ] && echo '(Debian/Ubuntu: apt-get install -y hyperfine)')" >&2
        exit 2
    fi
done

plan="${PLAN:-}"
if [ -z "$plan" ]; then
    if [ "${SKIP_BUILD:-0}" != 1 ]; then
        echo "==> swift build -c release --product plan" >&2
        (cd "$root" && swift build -c release --product plan >&2)
    fi
    plan="$(cd "$root" && swift build -c release --show-bin-path)/plan"
fi
[ -x "$plan" ] || { echo "import.sh: no binary at $plan" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/plan-bench-import.XXXXXX")"
trap 'rm -rf "$work"' EXIT
ctx="$work/context"
out="$work/out"
mkdir -p "$out"

echo "==> generating a $stages-stage plan in $ctx and compiling it" >&2
python3 "$here/generate-plan.py" "$stages" "$ctx"
"$plan" compile "$ctx/plan.yaml" -o "$ctx/Dockerfile" --color never 2>"$work/compile.err" || {
    cat "$work/compile.err" >&2; echo "import.sh: the generated plan does not compile" >&2; exit 1; }
echo "    $(wc -l <"$ctx/Dockerfile") Dockerfile lines, $(grep -c '^FROM ' "$ctx/Dockerfile") FROM lines" >&2

echo "==> checking that the import is whole" >&2
"$plan" import "$ctx/Dockerfile" -o "$out/plan.yaml" --force 2>"$work/import.err" || {
    cat "$work/import.err" >&2; echo "import.sh: the import failed" >&2; exit 1; }
imported="$(grep -cE '^  [a-z][a-z0-9_-]*:$' "$out/plan.yaml")"
if [ "$imported" -ne "$stages" ]; then
    echo "import.sh: expected $stages stages in the imported plan, found $imported" >&2
    exit 1
fi
"$plan" check "$out/plan.yaml" --color never >/dev/null 2>"$work/check.err" || {
    tail -20 "$work/check.err" >&2; echo "import.sh: the imported plan does not check" >&2; exit 1; }
echo "    ok: $imported stages, $(wc -l <"$out/plan.yaml") plan lines" >&2

echo "==> hyperfine" >&2
hyperfine --warmup 3 --runs 20 --style basic \
    --export-markdown "$work/results.md" --export-json "$work/results.json" \
    -n "plan import ($stages stages)" "'$plan' import '$ctx/Dockerfile' -o '$out/plan.yaml' --force" >&2

echo
cat "$work/results.md"
echo

if [ -n "${RESULTS_DIR:-}" ]; then
    mkdir -p "$RESULTS_DIR"
    cp "$work/results.md" "$work/results.json" "$RESULTS_DIR/"
fi

python3 - "$work/results.json" "$limit" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))["results"][0]
limit = float(sys.argv[2])
mean, sd = result["mean"], result["stddev"] or 0.0
verdict = "PASS" if mean < limit else "FAIL"
print(f"{verdict}: plan import mean {mean:.3f} s ± {sd:.3f} s (limit: under {limit:.3f} s)")
sys.exit(0 if mean < limit else 1)
PY
