#!/usr/bin/env bash
# Benchmark: the incremental build cache of `plan run` against `buildah bud --layers --jobs 2` on the
# compiled (portable) Containerfiles, both caches warm, on the monorepo example grown to 10 services:
#   a. no-change rebuild: plan/buildah mean ratio at most 0.1, and plan run under 0.300 s;
#   b. one source file of one service (services/api/main.sh) changed before every run: ratio at most 0.3;
#   c. what the cache itself saves: the no-change rebuild against `plan run --no-cache` (every step
#      built again, base images still stored): ratio at most 0.5. The example's steps are tiny shell
#      scripts, so (a) and (b) would hold even without a cache; (c) would not.
#
# Usage: bench/cache.sh     (as root, with the test registry running: scripts/test-registry start)
# Environment: SKIP_BUILD=1 uses the existing release binary; RUNS=N measured runs per command (10).
#
# What is compared: `plan run DIR` builds every target of the plan (docs and the 10 services) in one
# invocation. buildah has no multi-target build and the plan has no "all" stage, so buildah builds the
# same 11 targets, one `buildah bud --layers` per target, each from a Containerfile compiled for that
# target alone (only the stages it needs), all inside one hyperfine command. buildah runs on a storage
# of its own in the work folder, so it neither sees nor prunes anyone else's images.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
runs="${RUNS:-10}"
# shellcheck source=scripts/test-env.sh
source "$root/scripts/test-env.sh"
registry="${PLAN_TEST_REGISTRY:-127.0.0.1:5555}"

if [ "${SKIP_BUILD:-0}" != 1 ]; then (cd "$root" && swift build -c release --product plan >&2); fi
plan="$root/.build/release/plan"
work="$(mktemp -d /tmp/plan-bench-cache.XXXXXX)"
export CONTAINERS_STORAGE_CONF="$work/storage.conf"
printf '[storage]\ndriver = "%s"\ngraphroot = "%s/containers/root"\nrunroot = "%s/containers/run"\n' \
    "$STORAGE_DRIVER" "$work" "$work" > "$CONTAINERS_STORAGE_CONF"
trap 'buildah rmi --all --force >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# The monorepo grown to 10 services: seven copies of services/api under new names, which the
# template's `for: {service: {dirs: services/*}}` expands like the first three, and each new service's
# docs artifact added to the docs image, as api's, web's and worker's are.
mono="$work/monorepo"
cp -r "$root/plans/monorepo" "$mono"
for s in auth billing search notify report media admin; do
    cp -r "$mono/services/api" "$mono/services/$s"
    sed -i "s/api/$s/g" "$mono/services/$s/"*
    sed -i "/^    cmd:/i\\      - artifact: $s-build.docs\n        to: $s/" "$mono/plan.yaml"
done
summary="$("$plan" check "$mono" --werror 2>&1)"
echo "$summary"
targets="$(echo "${summary##*targets: }" | tr -d ,)"
[ "$(wc -w <<<"$targets")" = 11 ] || { echo "cache.sh: expected 11 targets, got: $targets" >&2; exit 1; }
for t in $targets; do
    "$plan" compile "$mono" --werror --dialect portable --arg "REGISTRY=$registry" --target "$t" -o "$mono/$t.Containerfile"
done

plan_cmd="$plan run $mono --arg REGISTRY=$registry --insecure-registry $registry --cache-dir $work/cache --progress plain"
buildah_cmd="for t in $targets; do buildah bud --isolation chroot --layers --jobs 2 -q -f $mono/\$t.Containerfile \
-t localhost/bench-cache-\$t $mono >/dev/null || exit 1; done"
# Warm both caches (and both stores: base image pulled once by each tool).
$plan_cmd 2>/dev/null
sh -c "$buildah_cmd"

hyperfine --warmup 1 --runs "$runs" --export-json "$work/nochange.json" --export-markdown "$work/nochange.md" \
    -n "plan run (no change, 11 targets)" "$plan_cmd" \
    -n "buildah bud --layers x11 (no change)" "$buildah_cmd"
hyperfine --warmup 1 --runs "$runs" --export-json "$work/change.json" --export-markdown "$work/change.md" \
    --prepare "echo \"# change \$(date +%s%N)\" >> $mono/services/api/main.sh" \
    -n "plan run (api/main.sh changed, 11 targets)" "$plan_cmd" \
    -n "buildah bud --layers x11 (api/main.sh changed)" "$buildah_cmd"
hyperfine --warmup 1 --runs "$runs" --export-json "$work/self.json" --export-markdown "$work/self.md" \
    -n "plan run (no change, cached)" "$plan_cmd" \
    -n "plan run --no-cache" "$plan_cmd --no-cache"
cat "$work/nochange.md" "$work/change.md" "$work/self.md"

check() {  # NAME JSON RATIO_LIMIT [PLAN_LIMIT_SECONDS]
    python3 - "$@" <<'PY'
import json, sys
name, path, ratio_limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
plan_limit = float(sys.argv[4]) if len(sys.argv) > 4 else None
ours, theirs = (r["mean"] for r in json.load(open(path))["results"])
ratio = ours / theirs
ok = ratio <= ratio_limit and (plan_limit is None or ours < plan_limit)
limits = f"ratio limit {ratio_limit}" + (f", plan limit {plan_limit:.3f} s" if plan_limit else "")
print(f"{name}: plan run {ours:.3f} s, other {theirs:.3f} s: ratio {ratio:.3f} ({limits})", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
}
status=0
check "no-change rebuild" "$work/nochange.json" 0.1 0.300 || status=1
check "one-file change" "$work/change.json" 0.3 || status=1
check "cache against --no-cache" "$work/self.json" 0.5 || status=1
exit $status
