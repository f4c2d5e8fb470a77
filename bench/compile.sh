#!/usr/bin/env bash
# Benchmark: compile a generated 3,000-stage plan, and check it, with hyperfine.
#
# Usage: bench/compile.sh            (runnable from any directory)
#
# Environment:
#   STAGES=3000         number of stages in the generated plan
#   LIMIT_SECONDS=1.0   fail (exit 1) if the mean time of `plan compile` is at or above this
#   RESULTS_DIR=DIR     also keep the hyperfine Markdown and JSON exports here
#   SKIP_BUILD=1        use the existing release binary instead of running `swift build`
#
# Steps: build plan in release mode; generate the plan and its build context into a
# temporary folder; check that it checks and compiles cleanly (--werror, no output on
# stderr but the summary); run hyperfine on `plan compile PLAN -o OUT/Dockerfile` and
# `plan check PLAN`; print the table; compare the mean of compile with the limit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
stages="${STAGES:-3000}"
limit="${LIMIT_SECONDS:-1.0}"

for tool in hyperfine python3 swift; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "compile.sh: $tool is not installed" \
            "$([ "$tool" = hyperfine ] && echo '(Debian/Ubuntu: apt-get install -y hyperfine)')" >&2
        exit 2
    fi
done

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "==> swift build -c release --product plan" >&2
    (cd "$root" && swift build -c release --product plan >&2)
fi
plan="$(cd "$root" && swift build -c release --show-bin-path)/plan"
[ -x "$plan" ] || { echo "compile.sh: no release binary at $plan" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/plan-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
ctx="$work/context"
out="$work/out"
mkdir -p "$out"

echo "==> generating a $stages-stage plan in $ctx" >&2
python3 "$here/generate-plan.py" "$stages" "$ctx"
echo "    $(wc -c <"$ctx/plan.yaml") bytes, $(wc -l <"$ctx/plan.yaml") lines," \
    "$(find "$ctx" -type f ! -name plan.yaml | wc -l) context files" >&2

echo "==> checking that it checks and compiles cleanly" >&2
"$plan" check "$ctx/plan.yaml" --werror --color never 2>"$work/check.err" || {
    cat "$work/check.err" >&2; echo "compile.sh: the generated plan does not check" >&2; exit 1; }
"$plan" compile "$ctx/plan.yaml" -o "$out/Dockerfile" --werror --color never 2>"$work/compile.err" || {
    cat "$work/compile.err" >&2; echo "compile.sh: the generated plan does not compile" >&2; exit 1; }
if grep -qiE '(^|[^a-z])(warning|error)' "$work/check.err" "$work/compile.err"; then
    cat "$work/check.err" "$work/compile.err" >&2
    echo "compile.sh: diagnostics reported for the generated plan" >&2
    exit 1
fi
froms="$(grep -c '^FROM ' "$out/Dockerfile")"
if [ "$froms" -ne "$stages" ]; then
    echo "compile.sh: expected $stages FROM lines in the Dockerfile, found $froms" >&2
    exit 1
fi
echo "    ok: $froms stages, $(wc -l <"$out/Dockerfile") Dockerfile lines" >&2

echo "==> hyperfine" >&2
hyperfine --warmup 3 --runs 20 --style basic \
    --export-markdown "$work/results.md" --export-json "$work/results.json" \
    -n "plan compile ($stages stages)" "'$plan' compile '$ctx/plan.yaml' -o '$out/Dockerfile'" \
    -n "plan check ($stages stages)" "'$plan' check '$ctx/plan.yaml'" >&2

echo
cat "$work/results.md"
echo

if [ -n "${RESULTS_DIR:-}" ]; then
    mkdir -p "$RESULTS_DIR"
    cp "$work/results.md" "$work/results.json" "$RESULTS_DIR/"
fi

python3 - "$work/results.json" "$limit" <<'EOF'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
limit = float(sys.argv[2])
compile_result = results[0]
mean, sd = compile_result["mean"], compile_result["stddev"] or 0.0
verdict = "PASS" if mean < limit else "FAIL"
print(f"{verdict}: plan compile mean {mean:.3f} s ± {sd:.3f} s (limit: under {limit:.3f} s)")
sys.exit(0 if mean < limit else 1)
EOF
