#!/usr/bin/env bash
# Unpacking a layer: plan-layer-bench (PlanOCI's LayerApplier) against GNU `tar -xzf`.
#   bench/unpack.sh            # builds release, generates the layer once, runs hyperfine
# The layer: 10,000 files in 100 directories, 200 MB before compression, deterministic content
# (seeded pseudo-random bytes, half of each file, so gzip has real work), packed by GNU tar with
# sorted names and a fixed mtime, compressed with gzip -6. Results go to docs/benchmarks.md by hand.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
work="${BENCH_DIR:-/var/tmp/plan-bench-unpack}"
mkdir -p "$work"
layer="$work/layer.tar.gz"
if [ ! -f "$layer" ]; then
    rm -rf "$work/src" && mkdir -p "$work/src"
    python3 - "$work/src" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(20240601)
for d in range(100):
    os.makedirs(f"{root}/d{d:03}", exist_ok=True)
    for f in range(100):
        half = 10_000
        data = rng.randbytes(half) + (b"plan layer benchmark %06d\n" % (d * 100 + f)) * (half // 27 + 1)
        with open(f"{root}/d{d:03}/f{f:03}.bin", "wb") as out:
            out.write(data[: 2 * half])
PY
    tar -C "$work/src" --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner \
        -cf - . | gzip -6 -n > "$layer.tmp"
    mv "$layer.tmp" "$layer"
    rm -rf "$work/src"
fi
swift build -c release --product plan-layer-bench >/dev/null
bin="$(swift build -c release --show-bin-path)/plan-layer-bench"
ls -l "$layer"
hyperfine --warmup 2 --runs "${RUNS:-10}" \
    --prepare "rm -rf $work/out && mkdir $work/out" \
    -n "tar -xzf" "tar -xzf $layer -C $work/out" \
    -n "plan-layer-bench" "$bin $layer $work/out" \
    --export-markdown "$work/result.md"
cat "$work/result.md"
