#!/bin/sh
# Builds the fixture: src/ becomes the app artifact, VERSION the docs artifact.
# This comment is read by the build but never copied into an artifact.
set -eu
out=$1
test -s /run/secrets/token
mkdir -p "$out/app/lib" "$out/docs" /root/.cache
echo built >> /root/.cache/builds
cp -a src/. "$out/app/lib/"
echo "cache-keys $(cat VERSION) ($MODE)" > "$out/app/BUILD"
echo "version $(cat VERSION)" > "$out/docs/VERSION.txt"
