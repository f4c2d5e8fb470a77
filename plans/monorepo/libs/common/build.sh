#!/bin/sh
# Builds one service: copies its sources next to the shared library and writes a launcher.
# usage: build.sh SERVICE_DIR OUT_DIR
set -eu
service_dir=$1
out=$2
name=$(basename "$service_dir")
mkdir -p "$out/app/bin" "$out/app/lib" "$out/docs"
cp libs/common/lib/*.sh "$out/app/lib/"
cp "$service_dir"/main.sh "$out/app/lib/$name.sh"
cat > "$out/app/bin/run" <<LAUNCHER
#!/bin/sh
. /app/lib/common.sh
. /app/lib/$name.sh
main "\$@"
LAUNCHER
chmod 755 "$out/app/bin/run"
cp "$service_dir"/README.md "$out/docs/README.md"
echo "$name built with common $(cat libs/common/VERSION)" > "$out/app/BUILD"
