#!/usr/bin/env bash
# Benchmark: `plan run` against `buildah bud --layers --jobs 2` on the compiled (portable) Dockerfile,
# cold (base images already stored; no step cache: --no-cache, and buildah's images pruned), for the registry example and the monorepo's
# `docs` target (which needs three independent build stages).
#
# Usage: bench/run.sh     (as root, with the test registry running: scripts/test-registry start)
# Requirement checked: plan run takes at most RATIO_LIMIT (0.6) of buildah's wall time.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
ratio_limit="${RATIO_LIMIT:-0.6}"
# shellcheck source=scripts/test-env.sh
source "$root/scripts/test-env.sh"
registry="${PLAN_TEST_REGISTRY:-127.0.0.1:5555}"

if [ "${SKIP_BUILD:-0}" != 1 ]; then (cd "$root" && swift build -c release --product plan >&2); fi
plan="$root/.build/release/plan"
work="$(mktemp -d /tmp/plan-bench-run.XXXXXX)"
trap 'rm -rf "$work"' EXIT

status=0
for case in "registry app" "monorepo docs"; do
    set -- $case
    example=$1 target=$2
    cp -r "$root/plans/$example" "$work/$example"
    "$plan" compile "$work/$example" --dialect portable --target "$target" -o "$work/$example/Containerfile"
    # Warm the stores: base images pulled once by each tool.
    "$plan" run "$work/$example" --target "$target" --insecure-registry "$registry" --cache-dir "$work/cache" 2>/dev/null
    buildah bud --isolation chroot --layers --jobs 2 -q -f "$work/$example/Containerfile" --target "$target" \
        -t "localhost/bench-$example" "$work/$example" >/dev/null
    hyperfine --warmup 1 --runs 8 --export-json "$work/$example.json" --export-markdown "$work/$example.md" \
        --prepare "buildah rmi -f localhost/bench-$example >/dev/null 2>&1; buildah rmi --prune >/dev/null 2>&1 || true" \
        -n "plan run ($example, $target)" \
        "$plan run $work/$example --target $target --insecure-registry $registry --cache-dir $work/cache --no-cache --progress plain 2>/dev/null" \
        -n "buildah bud --layers --jobs 2 ($example, $target)" \
        "buildah bud --isolation chroot --layers --jobs 2 -q -f $work/$example/Containerfile --target $target -t localhost/bench-$example $work/$example >/dev/null"
    cat "$work/$example.md"
    python3 - "$work/$example.json" "$ratio_limit" <<'PY' || status=1
import json, sys
ours, theirs = (r["mean"] for r in json.load(open(sys.argv[1]))["results"])
ratio = ours / theirs
print(f"plan run {ours:.3f} s, buildah {theirs:.3f} s: ratio {ratio:.2f} (limit {sys.argv[2]})", "PASS" if ratio <= float(sys.argv[2]) else "FAIL")
sys.exit(0 if ratio <= float(sys.argv[2]) else 1)
PY
done
exit $status
