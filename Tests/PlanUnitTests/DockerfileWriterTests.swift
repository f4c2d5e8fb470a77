import Foundation
import PlanCompiler
import PlanDockerfile
import Testing

/// Details of Dockerfile output that the examples do not all reach.
@Suite struct DockerfileWriterTests {
    /// Compiles plan text in a scratch folder with a small context.
    func compile(_ text: String, dialect: Dialect = .buildkit, files: [String] = []) throws -> (String?, [String]) {
        var contents = ["plan.yaml": text]
        for file in files { contents[file] = "x\n" }
        let result = try TestSupport.compile(contents)
        let codes = result.diagnostics.map(\.code.id)
        guard let graph = result.graph else { return (nil, codes) }
        let unsupported = dialect.unsupportedFeatures(in: graph)
        guard unsupported.isEmpty else { return (nil, codes + unsupported.map(\.code.id)) }
        return (DockerfileWriter(dialect: dialect).dockerfile(for: graph), codes)
    }

    @Test func heredocDelimiterNeverCollidesWithTheScript() throws {
        let plan = """
            version: 1
            allow: [root-target]
            stages:
              app:
                from: alpine:3.20
                workdir: /w
                steps:
                  - run: |
                      cat > notes <<EOF
                      hello
                      EOF
                      echo done
            """
        let (text, codes) = try compile(plan)
        #expect(codes.isEmpty)
        #expect(text?.contains("RUN <<EOF1\ncat > notes <<EOF\nhello\nEOF\necho done\nEOF1\n") == true)
    }

    @Test func portableRunsUseTheStageShellInExecForm() throws {
        let plan = """
            version: 1
            allow: [root-target]
            stages:
              base:
                from: debian:12
                shell: ["/bin/bash", "-o", "pipefail", "-c"]
                workdir: /w
                steps:
                  - run: curl -s x | tar x
                  - run: |
                      echo "a\tb"
                      echo 'c'
              app:
                from: base
                steps:
                  - run: echo inherited
            """
        let (text, _) = try compile(plan, dialect: .portable)
        let dockerfile = try #require(text)
        #expect(dockerfile.contains("SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\n"))
        #expect(dockerfile.contains("RUN [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\", \"curl -s x | tar x\"]\n"))
        #expect(dockerfile.contains("RUN [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\", \"echo \\\"a\\tb\\\"\\necho 'c'\"]\n"))
        #expect(dockerfile.contains("RUN [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\", \"echo inherited\"]\n"))
        let (buildkit, _) = try compile(plan, dialect: .buildkit)
        #expect(buildkit?.contains("RUN curl -s x | tar x\n") == true)
    }

    @Test func copiesKeepTheirPlaceWithoutTo() throws {
        let plan = """
            version: 1
            allow: [root-target]
            stages:
              app:
                from: alpine:3.20
                workdir: /src
                steps:
                  - copy: [a.txt, lib/, lib/inner.txt, b.txt, "*.md", "my file.txt"]
            """
        let (text, codes) = try compile(plan, files: ["a.txt", "b.txt", "lib/x.go", "lib/inner.txt", "README.md", "my file.txt"])
        #expect(codes.isEmpty, "\(codes)")
        let dockerfile = try #require(text)
        #expect(dockerfile.contains("COPY [\"a.txt\", \"b.txt\", \"*.md\", \"my file.txt\", \"./\"]\n"))
        #expect(dockerfile.contains("COPY lib/ lib/\n"))
        #expect(dockerfile.contains("COPY lib/inner.txt lib/\n"))
    }

    /// A relative destination that climbs the workdir keeps its meaning (it used to lose its `..`).
    @Test func relativeDestinationsThatClimbTheWorkdirAreResolved() throws {
        let plan = """
            version: 1
            allow: [root-target]
            stages:
              app:
                from: alpine:3.20
                workdir: /srv/app
                steps:
                  - copy: a.txt
                    to: ../etc/x
                  - copy: b.txt
                    to: ../../conf/
                  - copy: a.txt
                    to: sub/../y
            """
        let (text, codes) = try compile(plan, files: ["a.txt", "b.txt"])
        #expect(codes.isEmpty, "\(codes)")
        let dockerfile = try #require(text)
        #expect(dockerfile.contains("COPY a.txt /srv/etc/x\n"))
        #expect(dockerfile.contains("COPY b.txt /conf/\n"))
        #expect(dockerfile.contains("COPY a.txt y\n"))
    }

    @Test func artifactsCopyTheirResolvedPaths() throws {
        let plan = """
            version: 1
            stages:
              build:
                from: golang:1.22
                workdir: /src
                steps:
                  - run: make
                artifacts:
                  out: dist
              app:
                from: scratch
                user: "65532"
                steps:
                  - artifact: build.out/bin/app
                    to: /app
                  - copy: dist/share
                    from: build
                    chown: "65532:65532"
                  - artifact: build.out
                    chown: app
            """
        let (text, codes) = try compile(plan)
        #expect(codes.isEmpty, "\(codes)")
        let dockerfile = try #require(text)
        #expect(dockerfile.contains("COPY --from=build --link /src/dist/bin/app /app\n"))
        #expect(dockerfile.contains("COPY --from=build --chown=65532:65532 --link /src/dist/share dist/share\n"))
        // --link cannot resolve names, so a named owner drops it.
        #expect(dockerfile.contains("COPY --from=build --chown=app /src/dist /src/dist\n"))
    }

    @Test func valuesAreQuotedOnlyWhenNeeded() throws {
        let plan = """
            version: 1
            allow: [root-target]
            stages:
              app:
                from: alpine:3.20
                env:
                  SIMPLE: /usr/local/bin:$PATH
                  SPACED: hello world
                  QUOTED: say "hi"
                  EMPTY: ""
                labels:
                  org.example.note: two words
                cmd: serve --port 80
                healthcheck:
                  cmd: ["wget", "-q", "-O-", "http://localhost/"]
                  interval: 30s
                  retries: 3
            """
        let (text, codes) = try compile(plan)
        #expect(codes.isEmpty, "\(codes)")
        let dockerfile = try #require(text)
        #expect(dockerfile.contains("ENV SIMPLE=/usr/local/bin:$PATH\n"))
        #expect(dockerfile.contains("ENV SPACED=\"hello world\"\n"))
        #expect(dockerfile.contains("ENV QUOTED=\"say \\\"hi\\\"\"\n"))
        #expect(dockerfile.contains("ENV EMPTY=\"\"\n"))
        #expect(dockerfile.contains("LABEL org.example.note=\"two words\"\n"))
        #expect(dockerfile.contains("CMD [\"/bin/sh\", \"-c\", \"serve --port 80\"]\n"))
        #expect(dockerfile.contains("HEALTHCHECK --interval=30s --retries=3 CMD [\"wget\", \"-q\", \"-O-\", \"http://localhost/\"]\n"))
    }

    @Test func stagesFollowDependenciesThenTheAuthorsOrder() throws {
        let plan = """
            version: 1
            allow: [root-target, unused-artifact]
            stages:
              app:
                from: scratch
                steps:
                  - artifact: build.bin
              tools:
                from: alpine:3.20
              build:
                from: alpine:3.20
                artifacts:
                  bin: /bin/busybox
            targets: [app, tools]
            """
        let (text, codes) = try compile(plan)
        #expect(codes.isEmpty, "\(codes)")
        let froms = (text ?? "").split(separator: "\n").filter { $0.hasPrefix("FROM") }
        #expect(froms == ["FROM alpine:3.20 AS tools", "FROM alpine:3.20 AS build", "FROM scratch AS app"])
    }

    @Test func argumentsAreDeclaredWhereUsed() throws {
        let plan = """
            version: 1
            allow: [root-target]
            args:
              BASE: alpine:3.20
              MODE: release
              UNUSED: x
            stages:
              build:
                from: ${BASE}
                workdir: /w
                env:
                  BUILD_MODE: ${MODE}
                steps:
                  - run: echo $TARGETARCH ${MODE}
            """
        let (text, codes) = try compile(plan)
        #expect(codes.isEmpty, "\(codes)")
        #expect(text?.contains("ARG BASE=alpine:3.20\n\nFROM ${BASE} AS build\nARG MODE=release\nARG TARGETARCH\n") == true)
        #expect(text?.contains("UNUSED") == false)
    }
}
