#!/usr/bin/env bash
# Benchmark: pushing the monorepo example grown to 10 services (11 targets: the services and docs) to
# the local reference registry, against `skopeo copy` of the same images as OCI layouts:
#   a. cold (every run pushes to repositories the registry has never seen): plan/skopeo mean ratio at
#      most 1.0;
#   b. unchanged re-push of all 11 targets (the registry has everything): plan under 0.150 s.
#
# Usage: bench/push.sh     (as root, with the test registry running: scripts/test-registry start)
# Environment: SKIP_BUILD=1 uses the existing release binary; RUNS=N measured runs per command (10).
#
# What is compared: `plan run DIR --push --tag-prefix P --tag v1` (the build cache warm, so the run is
# the cached rebuild plus the push of every target), and a loop of `skopeo copy oci:LAYOUT docker://…`
# over the 11 OCI layouts that `plan run --output type=oci` wrote for the same targets (the same gzip
# layers, so both send the same bytes). Each cold run gets a fresh repository prefix (a new UUID, made
# in hyperfine's --prepare), so nothing is already in the registry — except that plan mounts the base
# image's layers from the repository it pulled them from (plan-test/busybox), as it does for users;
# skopeo uploads them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
runs="${RUNS:-10}"
# shellcheck source=scripts/test-env.sh
source "$root/scripts/test-env.sh"
registry="${PLAN_TEST_REGISTRY:-127.0.0.1:5555}"

for tool in hyperfine skopeo python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "push.sh: $tool is not installed" >&2; exit 2; }
done
if [ "${SKIP_BUILD:-0}" != 1 ]; then (cd "$root" && swift build -c release --product plan >&2); fi
plan="$root/.build/release/plan"
[ -x "$plan" ] || { echo "push.sh: $plan is missing; build it or unset SKIP_BUILD" >&2; exit 2; }
work="$(mktemp -d /tmp/plan-bench-push.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# The monorepo grown to 10 services, as bench/cache.sh grows it.
mono="$work/monorepo"
cp -r "$root/plans/monorepo" "$mono"
for s in auth billing search notify report media admin; do
    cp -r "$mono/services/api" "$mono/services/$s"
    sed -i "s/api/$s/g" "$mono/services/$s/"*
    sed -i "/^    cmd:/i\\      - artifact: $s-build.docs\n        to: $s/" "$mono/plan.yaml"
done
summary="$("$plan" check "$mono" --werror 2>&1)"
targets="$(echo "${summary##*targets: }" | tr -d ,)"
[ "$(wc -w <<<"$targets")" = 11 ] || { echo "push.sh: expected 11 targets, got: $targets" >&2; exit 1; }

run="$plan run $mono --arg REGISTRY=$registry --insecure-registry $registry --cache-dir $work/cache --progress plain"
# Build once (warm cache), and write each target's OCI layout for skopeo.
for t in $targets; do
    $run --target "$t" --output "type=oci,dest=$work/layouts/$t" 2>/dev/null
done
echo "bench-$(cat /proc/sys/kernel/random/uuid)" > "$work/prefix"

plan_cold="$run --push --tag-prefix $registry/\$(cat $work/prefix)/ --tag v1 2>/dev/null"
skopeo_cold="for t in $targets; do skopeo copy -q --dest-tls-verify=false oci:$work/layouts/\$t \
docker://$registry/\$(cat $work/prefix)/\$t:v1 || exit 1; done"
hyperfine --runs "$runs" --export-json "$work/cold.json" --export-markdown "$work/cold.md" \
    --prepare "echo bench-\$(cat /proc/sys/kernel/random/uuid) > $work/prefix" \
    -n "plan run --push (11 targets, cold registry)" "$plan_cold" \
    -n "skopeo copy x11 (cold registry)" "$skopeo_cold"

fixed="$registry/bench-unchanged-$(cat /proc/sys/kernel/random/uuid)"
plan_again="$run --push --tag-prefix $fixed/ --tag v1 2>/dev/null"
skopeo_again="for t in $targets; do skopeo copy -q --dest-tls-verify=false oci:$work/layouts/\$t \
docker://$fixed/\$t:v1 || exit 1; done"
hyperfine --warmup 1 --runs "$runs" --export-json "$work/again.json" --export-markdown "$work/again.md" \
    -n "plan run --push (11 targets, unchanged)" "$plan_again" \
    -n "skopeo copy x11 (unchanged)" "$skopeo_again"
cat "$work/cold.md" "$work/again.md"

status=0
python3 - "$work/cold.json" "$work/again.json" <<'PY' || status=1
import json, sys
cold = [r["mean"] for r in json.load(open(sys.argv[1]))["results"]]
again = [r["mean"] for r in json.load(open(sys.argv[2]))["results"]]
ratio = cold[0] / cold[1]
ok_cold = ratio <= 1.0
ok_again = again[0] < 0.150
print(f"cold: plan {cold[0]:.3f} s, skopeo {cold[1]:.3f} s: ratio {ratio:.2f} (limit 1.0)", "PASS" if ok_cold else "FAIL")
print(f"unchanged: plan {again[0]:.3f} s (limit 0.150 s), skopeo {again[1]:.3f} s", "PASS" if ok_again else "FAIL")
sys.exit(0 if ok_cold and ok_again else 1)
PY
exit $status
