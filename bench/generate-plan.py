#!/usr/bin/env python3
"""Generate a large, realistic plan for benchmarking `plan check` and `plan compile`.

Usage: bench/generate-plan.py N OUTDIR

Writes OUTDIR/plan.yaml with exactly N stages, plus the small build context those
stages copy from (every context path a `copy` step names exists, so `plan check`
passes). The output depends only on N: the same N always gives byte-identical files.

The stages come in groups, the way a monorepo is built:

  go      golang builder (module cache, build cache)       -> scratch runtime
  node    node deps stage -> node build stage (from: deps)  -> alpine runtime (nginx-like static server)
  rust    rust builder (cargo registry and target caches)   -> debian-slim runtime
  full    go API builder + node UI builder                  -> alpine runtime using both
  python  python wheel builder                              -> python-slim runtime
  tool    one self-contained alpine tool image               (fills the last stage when needed)

Each group's runtime stage copies every artifact its builders declare, every runtime
stage is a target and runs as a non-root user, so the plan checks without warnings.
"""

import os
import sys

# Group kinds in rotation, with the number of stages each contributes.
ROTATION = [("go", 2), ("node", 3), ("rust", 2), ("full", 3), ("python", 2)]


def q(s):
    """A double-quoted YAML scalar."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Plan:
    def __init__(self):
        self.lines = []
        self.targets = []
        self.files = {}  # context-relative path -> content

    def add(self, text):
        self.lines.append(text)

    def file(self, path, content):
        self.files[path] = content


# --------------------------------------------------------------------------- groups

def go_group(p, i, name):
    port = 8000 + i % 1000
    p.file(f"services/{name}/main.go", f'package main\n\nfunc main() {{ println("{name}") }}\n')
    p.file(f"services/{name}/config.yaml", f"service: {name}\nport: {port}\n")
    p.add(f"""
  {name}-build:
    from: golang:${{GO_VERSION}}-alpine
    workdir: /src
    env:
      CGO_ENABLED: "0"
      GOFLAGS: -trimpath
    steps:
      - copy: [go.mod, go.sum]
      - run: go mod download
        cache: [/root/go/pkg/mod]
      - copy: services/{name}/
        to: services/{name}/
      - run: |
          go vet ./services/{name}/...
          go build -ldflags="-s -w -X main.version=1.{i}.0" \\
            -o /out/{name} ./services/{name}
        cache:
          - /root/go/pkg/mod
          - target: /root/.cache/go-build
            id: go-build-{name}
    artifacts:
      bin: /out/{name}
      config:
        path: services/{name}/config.yaml
        description: default configuration for {name}

  {name}:
    from: scratch
    steps:
      - artifact: {name}-build.bin
        to: /usr/local/bin/{name}
      - artifact: {name}-build.config
        to: /etc/{name}/config.yaml
        chmod: "0444"
    user: "65532:65532"
    entrypoint: ["/usr/local/bin/{name}"]
    cmd: ["--config", "/etc/{name}/config.yaml"]
    expose: [{port}]
    labels:
      org.opencontainers.image.title: {name}
      org.opencontainers.image.version: "1.{i}.0"
""")
    p.targets.append(name)


def node_group(p, i, name):
    port = 3000 + i % 1000
    p.file(f"web/{name}/package.json", f'{{"name": "{name}", "version": "1.{i}.0", "private": true}}\n')
    p.file(f"web/{name}/package-lock.json", f'{{"name": "{name}", "lockfileVersion": 3}}\n')
    p.file(f"web/{name}/src/index.js", f'console.log("{name}");\n')
    p.file(f"web/{name}/public/index.html", f"<!doctype html><title>{name}</title>\n")
    p.add(f"""
  {name}-deps:
    from: node:${{NODE_VERSION}}-alpine
    workdir: /app
    env:
      NODE_ENV: production
      NPM_CONFIG_UPDATE_NOTIFIER: "false"
    steps:
      - copy: [web/{name}/package.json, web/{name}/package-lock.json]
        to: ./
      - run: npm ci --include=dev
        cache:
          - target: /root/.npm
            id: npm-{name}
            sharing: locked

  {name}-build:
    from: {name}-deps
    steps:
      - copy: [web/{name}/src/, web/{name}/public/]
        to: ./
      - run: |
          npx eslint src
          npx vite build --outDir dist
          find dist -name '*.map' -delete
    artifacts:
      dist: dist

  {name}:
    from: nginxinc/nginx-unprivileged:1.27-alpine
    workdir: /usr/share/nginx/html
    steps:
      - artifact: {name}-build.dist
        to: ./
        chown: "101:101"
    user: "101:101"
    expose: [{port}/tcp]
    healthcheck:
      cmd: ["wget", "-qO-", "http://localhost:{port}/"]
      interval: 30s
      timeout: 5s
      retries: 3
    labels:
      org.opencontainers.image.title: {name}
""")
    p.targets.append(name)


def rust_group(p, i, name):
    port = 9000 + i % 1000
    p.file(f"crates/{name}/Cargo.toml", f'[package]\nname = "{name}"\nversion = "1.{i}.0"\nedition = "2021"\n')
    p.file(f"crates/{name}/src/main.rs", f'fn main() {{ println!("{name}"); }}\n')
    p.add(f"""
  {name}-build:
    from: rust:1.79-slim-bookworm
    workdir: /build
    steps:
      - run: apt-get update && apt-get install -y --no-install-recommends pkg-config libssl-dev
        cache: [/var/cache/apt, /var/lib/apt]
      - copy: [Cargo.toml, Cargo.lock]
      - copy: crates/{name}/
        to: crates/{name}/
      - run: |
          cargo build --release --locked -p {name}
          cp target/release/{name} /usr/local/bin/{name}
        cache:
          - /usr/local/cargo/registry
          - target: /build/target
            id: cargo-target-{name}
    artifacts:
      bin: /usr/local/bin/{name}

  {name}:
    from: debian:bookworm-slim
    steps:
      - run: apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
      - artifact: {name}-build.bin
        to: /usr/local/bin/{name}
      - user: "65532:65532"        # after the root-only package install
    env:
      RUST_LOG: info
    entrypoint: ["/usr/local/bin/{name}"]
    expose: [{port}]
    stopsignal: SIGTERM
""")
    p.targets.append(name)


def full_group(p, i, name):
    port = 7000 + i % 1000
    p.file(f"apps/{name}/api/main.go", f'package main\n\nfunc main() {{ println("{name}-api") }}\n')
    p.file(f"apps/{name}/ui/package.json", f'{{"name": "{name}-ui", "private": true}}\n')
    p.file(f"apps/{name}/ui/package-lock.json", f'{{"name": "{name}-ui", "lockfileVersion": 3}}\n')
    p.file(f"apps/{name}/ui/src/main.ts", f'export const app = "{name}";\n')
    p.file(f"apps/{name}/migrations/0001_init.sql", "create table items (id integer primary key);\n")
    p.add(f"""
  {name}-api:
    from: golang:${{GO_VERSION}}-alpine
    workdir: /src
    steps:
      - copy: [go.mod, go.sum]
      - run: go mod download
        cache: [/root/go/pkg/mod]
      - copy: apps/{name}/api/
        to: apps/{name}/api/
      - copy: apps/{name}/migrations/
        to: migrations/
      - run: CGO_ENABLED=0 go build -o /out/{name}-api ./apps/{name}/api
        cache: [/root/go/pkg/mod, /root/.cache/go-build]
    artifacts:
      bin: /out/{name}-api
      migrations: migrations

  {name}-ui:
    from: node:${{NODE_VERSION}}-alpine
    workdir: /ui
    steps:
      - copy: [apps/{name}/ui/package.json, apps/{name}/ui/package-lock.json]
        to: ./
      - run: npm ci
        cache: [/root/.npm]
      - copy: apps/{name}/ui/src/
        to: src/
      - run: npx tsc --noEmit && npx vite build
      - env:
          BUILD_ID: "{i}"
      - run: echo "$BUILD_ID" > dist/build-id.txt
    artifacts:
      dist: /ui/dist

  {name}:
    from: alpine:3.20
    steps:
      - run: apk add --no-cache ca-certificates tzdata
      - artifact: {name}-api.bin
        to: /usr/local/bin/{name}
      - artifact: {name}-api.migrations
        to: /usr/share/{name}/migrations/
      - artifact: {name}-ui.dist
        to: /usr/share/{name}/www/
      - user: "65532:65532"
    workdir: /var/lib/{name}
    env:
      APP_NAME: {name}
      APP_PORT: "{port}"
      APP_STATIC_DIR: /usr/share/{name}/www
    volumes: [/var/lib/{name}]
    entrypoint: ["/usr/local/bin/{name}"]
    cmd: ["serve", "--migrate"]
    expose: [{port}, {port + 1}/udp]
    labels:
      org.opencontainers.image.title: {name}
      com.example.team: team-{i % 17}
""")
    p.targets.append(name)


def python_group(p, i, name):
    port = 5000 + i % 1000
    p.file(f"py/{name}/pyproject.toml", f'[project]\nname = "{name}"\nversion = "1.{i}.0"\n')
    p.file(f"py/{name}/requirements.txt", "flask==3.0.3\ngunicorn==22.0.0\n")
    p.file(f"py/{name}/src/{name.replace('-', '_')}/__init__.py", f'NAME = "{name}"\n')
    p.add(f"""
  {name}-wheels:
    from: python:3.12-slim
    workdir: /w
    env:
      PIP_DISABLE_PIP_VERSION_CHECK: "1"
    steps:
      - copy: py/{name}/requirements.txt
        to: requirements.txt
      - run: pip wheel --wheel-dir /wheels -r requirements.txt
        cache: [/root/.cache/pip]
      - copy: [py/{name}/pyproject.toml, py/{name}/src/]
        to: ./
      - run: pip wheel --no-deps --wheel-dir /wheels .
    artifacts:
      wheels: /wheels

  {name}:
    from: python:3.12-slim
    steps:
      - artifact: {name}-wheels.wheels
        to: /tmp/wheels/
      - run: pip install --no-cache-dir /tmp/wheels/*.whl && rm -rf /tmp/wheels
      - workdir: /srv
      - user: "65532:65532"
    env:
      PYTHONUNBUFFERED: "1"
    cmd: gunicorn --bind 0.0.0.0:{port} {name.replace('-', '_')}:app
    expose: [{port}]
""")
    p.targets.append(name)


def tool_stage(p, i, name):
    p.add(f"""
  {name}:
    from: alpine:3.20
    steps:
      - run: |
          apk add --no-cache curl jq
          adduser -D -u 10001 tool
      - user: "10001"
    entrypoint: ["/usr/bin/jq"]
""")
    p.targets.append(name)


GROUPS = {"go": go_group, "node": node_group, "rust": rust_group, "full": full_group, "python": python_group}


# --------------------------------------------------------------------------- plan

def generate(n):
    p = Plan()
    p.add(f"""# Generated by bench/generate-plan.py {n}: a {n}-stage monorepo plan for benchmarking.
version: 1
name: bench-monorepo
args:
  GO_VERSION: "1.22"
  NODE_VERSION: "20"
ignore:
  - .git
  - "**/node_modules"
  - "**/target"
  - "**/*.log"
  - "**/__pycache__"
  - dist/

stages:""")
    p.file("go.mod", "module example.com/monorepo\n\ngo 1.22\n")
    p.file("go.sum", "")
    p.file("Cargo.toml", '[workspace]\nmembers = ["crates/*"]\nresolver = "2"\n')
    p.file("Cargo.lock", "version = 3\n")

    remaining = n
    i = 0
    while remaining > 0:
        kind, size = ROTATION[i % len(ROTATION)]
        if size > remaining:
            # Fill the tail with the largest group that fits, else a one-stage tool image.
            fits = [(k, s) for k, s in ROTATION if s <= remaining]
            kind, size = max(fits, key=lambda ks: ks[1]) if fits else ("tool", 1)
        name = f"{kind}{i:05d}"
        if kind == "tool":
            tool_stage(p, i, name)
        else:
            GROUPS[kind](p, i, name)
        remaining -= size
        i += 1

    p.add("\ntargets:")
    for t in p.targets:
        p.add(f"  - {t}")
    return p


def main(argv):
    if len(argv) != 3 or not argv[1].isdigit() or int(argv[1]) < 1:
        sys.stderr.write("usage: generate-plan.py N OUTDIR   (N >= 1: number of stages)\n")
        return 2
    n, out = int(argv[1]), argv[2]
    p = generate(n)
    os.makedirs(out, exist_ok=True)
    for path in sorted(p.files):
        full = os.path.join(out, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8", newline="\n") as f:
            f.write(p.files[path])
    with open(os.path.join(out, "plan.yaml"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(p.lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
