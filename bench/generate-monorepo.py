#!/usr/bin/env python3
"""Generate a monorepo of N services for the template benchmark.

usage: bench/generate-monorepo.py N OUTDIR

Writes OUTDIR/plan.yaml (one template of three stages, expanded over `dirs: services/*`), a shared
library folder, and N service folders. The output depends only on N.
"""
import os
import sys

PLAN = """version: 1
name: bench-monorepo
args:
  GO_VERSION: "1.22"
  RUNTIME: alpine:3.20
ignore: [.git, "**/*.tmp"]

templates:
  service:
    params:
      service:
      port: "8080"
    stages:
      ${{ service }}-deps:
        from: golang:${GO_VERSION}-alpine
        workdir: /src
        steps:
          - copy: [go.mod, go.sum]
          - run: go mod download
            cache: [/go/pkg/mod]
      ${{ service }}-build:
        from: ${{ service }}-deps
        steps:
          - copy: libs/shared/
          - copy: services/${{ service }}/
          - run: |
              set -eu
              go build -o /out/${{ service }} ./services/${{ service }}
              go test ./services/${{ service }}/...
            cache: [/root/.cache/go-build]
        artifacts:
          bin: /out/${{ service }}
      ${{ service }}:
        from: ${RUNTIME}
        user: "65532:65532"
        steps:
          - artifact: ${{ service }}-build.bin
            to: /usr/local/bin/${{ service }}
        env:
          SERVICE: ${{ service }}
        expose: ["${{ port }}"]
        labels:
          org.opencontainers.image.title: ${{ service }}
        entrypoint: ["/usr/local/bin/${{ service }}"]

expand:
  - template: service
    for:
      service: {dirs: services/*}
"""


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    count = int(sys.argv[1])
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "plan.yaml"), "w") as f:
        f.write(PLAN)
    for name, text in [("go.mod", "module example.com/mono\n\ngo 1.22\n"), ("go.sum", "")]:
        with open(os.path.join(out, name), "w") as f:
            f.write(text)
    shared = os.path.join(out, "libs", "shared")
    os.makedirs(shared, exist_ok=True)
    with open(os.path.join(shared, "shared.go"), "w") as f:
        f.write("package shared\n\nconst Version = \"1.0\"\n")
    for index in range(count):
        service = os.path.join(out, "services", "svc-%05d" % index)
        os.makedirs(service, exist_ok=True)
        with open(os.path.join(service, "main.go"), "w") as f:
            f.write("package main\n\nfunc main() { println(%d) }\n" % index)


if __name__ == "__main__":
    main()
