import Foundation
import PlanCompiler
import PlanDiagnostics
import PlanValues
import Testing

/// The bind pass, in-process: what each step sees and what each stage's image gets, with base images "resolved" by
/// the test (no registry).
@Suite struct BinderTests {
    static let digest = "sha256:" + String(repeating: "ab", count: 32)

    /// The graph of `plan` (with `files` in its context), compiled with `arguments` as `--arg`s; fails the test on
    /// errors.
    func graph(_ plan: String, files: [String: String] = [:], arguments: [(String, String)] = [],
               sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> BuildGraph {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TestSupport.write(plan, to: folder + "/plan.yaml")
        for (name, text) in files { try TestSupport.write(text, to: folder + "/" + name) }
        let result = Compiler(options: CompileOptions(argumentOverrides: arguments.map { (name: $0.0, value: $0.1) }))
            .compile(planAt: folder + "/plan.yaml")
        let errors = result.diagnostics.filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(errors)", sourceLocation: sourceLocation)
        return try #require(result.graph, sourceLocation: sourceLocation)
    }

    /// A resolved image with `configuration`.
    func image(_ configuration: BoundImageConfiguration) throws -> ResolvedImage {
        ResolvedImage(manifestDigest: try Digest(parsing: Self.digest), configuration: configuration)
    }

    func reference(_ text: String) throws -> ImageReference { try ImageReference(parsing: text) }

    func bind(_ graph: BuildGraph, targets: [String] = [], images: [ImageReference: ResolvedImage] = [:]) throws -> BoundPlan {
        try Binder(graph: graph, options: BindOptions(targets: targets, platform: Platform(architecture: "amd64")))
            .bind(images: images)
    }

    func step(_ plan: BoundPlan, _ stage: String, _ index: Int) throws -> BoundStep {
        try #require(plan.stage(named: stage)?.steps.first { $0.index == index })
    }

    @Test("env values expand over the base image's environment, in order: PATH=/x:$PATH")
    func environmentChain() throws {
        let graph = try graph("""
            version: 1
            allow: [root-target]
            stages:
              app:
                from: example.com/base:1
                env:
                  PATH: /x:$PATH
                  TOOLS: $PATH/tools
                steps:
                  - run: echo hi
            """)
        let base = try image(BoundImageConfiguration(environment: [
            EnvironmentVariable(name: "HOME", value: "/root"), EnvironmentVariable(name: "PATH", value: "/usr/bin"),
        ]))
        let plan = try bind(graph, images: [try reference("example.com/base:1"): base])
        let run = try step(plan, "app", 1)
        #expect(run.description == "run echo hi")
        // PATH stays where the image has it; TOOLS comes after, and sees the PATH set before it.
        #expect(run.configuration.environment == [
            EnvironmentVariable(name: "HOME", value: "/root"), EnvironmentVariable(name: "PATH", value: "/x:/usr/bin"),
            EnvironmentVariable(name: "TOOLS", value: "/x:/usr/bin/tools"),
        ])
        let stage = try #require(plan.stage(named: "app"))
        #expect(stage.initialConfiguration.environment.count == 2)
        #expect(plan.images == [BoundImage(reference: try reference("example.com/base:1"), platform: Platform(architecture: "amd64"),
                                           manifestDigest: try Digest(parsing: Self.digest), configuration: base.configuration)])
    }

    @Test("an image the caller did not resolve is bound with an empty configuration")
    func unresolvedImage() throws {
        let graph = try graph("""
            version: 1
            allow: [root-target]
            stages:
              app:
                from: example.com/base:1
                env:
                  PATH: /x:$PATH
                steps:
                  - run: echo hi
            """)
        let plan = try bind(graph)
        #expect(try step(plan, "app", 1).configuration.environment == [EnvironmentVariable(name: "PATH", value: "/x:")])
        #expect(plan.images == [BoundImage(reference: try reference("example.com/base:1"), platform: Platform(architecture: "amd64"), manifestDigest: nil, configuration: nil)])
        #expect(try step(plan, "app", 1).configuration.workdir == "/")
    }

    @Test("a relative workdir resolves against the base image's")
    func workdirRelativeToImage() throws {
        let graph = try graph("""
            version: 1
            allow: [root-target]
            stages:
              app:
                from: example.com/base:1
                steps:
                  - workdir: app
                  - workdir: ../lib
                  - run: pwd
            """)
        let plan = try bind(graph, images: [try reference("example.com/base:1"): try image(BoundImageConfiguration(workdir: "/srv"))])
        let first = try step(plan, "app", 0)
        #expect(first.action == .workdir)
        #expect(first.description == "workdir /srv/app")
        #expect(first.configuration.workdir == "/srv/app")
        #expect(try step(plan, "app", 1).description == "workdir /srv/lib")
        #expect(try step(plan, "app", 2).configuration.workdir == "/srv/lib")
    }

    @Test("a stage based on a stage starts from its final configuration: shell, env, workdir, user")
    func shellThroughStageBase() throws {
        let graph = try graph("""
            version: 1
            allow: [root-target]
            stages:
              base:
                from: example.com/base:1
                shell: ["/bin/bash", "-eu", "-c"]
                workdir: /w
                user: "1000"
                env:
                  MODE: release
                cmd: ["serve"]
              app:
                from: base
                steps:
                  - run: echo $MODE
                cmd: serve --fast
            targets: [app]
            """)
        let plan = try bind(graph)
        let app = try #require(plan.stage(named: "app"))
        #expect(app.base == .stage("base"))
        #expect(app.initialConfiguration == plan.stage(named: "base")?.finalConfiguration)
        let run = try step(plan, "app", 0)
        #expect(run.configuration == StepConfiguration(environment: [EnvironmentVariable(name: "MODE", value: "release")],
                                                       user: "1000", workdir: "/w", shell: ["/bin/bash", "-eu", "-c"]))
        #expect(app.finalConfiguration.cmd == ["/bin/bash", "-eu", "-c", "serve --fast"])
        #expect(app.isTarget && plan.stage(named: "base")?.isTarget == false)
        // The configuration instructions are steps too, each with the configuration after it.
        let base = try #require(plan.stage(named: "base"))
        #expect(base.steps.map(\.action) == [.configure, .configure, .workdir, .configure])
        #expect(base.steps.first?.configuration.shell == ["/bin/bash", "-eu", "-c"])
    }

    @Test("a stage sees only the build arguments it declares; the plan lists them all")
    func argumentsOnlyForDeclaredNames() throws {
        let graph = try graph("""
            version: 1
            allow: [root-target]
            args:
              FOO: one
              BAR: two
            stages:
              first:
                from: example.com/base:1
                env:
                  A: ${FOO}
              second:
                from: example.com/base:1
                env:
                  B: ${BAR}
            targets: [first, second]
            """, arguments: [("BAR", "given")])
        let plan = try bind(graph)
        #expect(plan.arguments == [BoundArgument(name: "FOO", value: "one"), BoundArgument(name: "BAR", value: "given")])
        #expect(plan.stage(named: "first")?.arguments == [BoundArgument(name: "FOO", value: "one")])
        #expect(plan.stage(named: "second")?.arguments == [BoundArgument(name: "BAR", value: "given")])
        #expect(plan.stage(named: "second")?.finalConfiguration.environment == [EnvironmentVariable(name: "B", value: "given")])
    }

    @Test("image configuration: health check durations in nanoseconds, ports with /tcp, labels expanded, volumes sorted")
    func imageConfiguration() throws {
        let graph = try graph("""
            version: 1
            allow: [root-target]
            args:
              VERSION: "1.0"
            stages:
              app:
                from: example.com/base:1
                env:
                  PORT: "8080"
                expose: ["${PORT}", 53/udp]
                labels:
                  org.opencontainers.image.version: ${VERSION}
                volumes: [/data, /cache]
                stopsignal: SIGINT
                healthcheck:
                  cmd: ["wget", "-q", "http://localhost/"]
                  interval: 1m30s
                  timeout: 500ms
                  retries: 3
            """, arguments: [("VERSION", "2.1")])
        let plan = try bind(graph)
        let config = try #require(plan.stage(named: "app")?.finalConfiguration)
        #expect(config.exposedPorts == ["53/udp", "8080/tcp"])
        #expect(config.labels == [.init(key: "org.opencontainers.image.version", value: "2.1")])
        #expect(config.volumes == ["/cache", "/data"])
        #expect(config.stopSignal == "SIGINT")
        #expect(config.healthcheck == BoundHealthcheck(test: ["CMD", "wget", "-q", "http://localhost/"], interval: 90_000_000_000,
                                                       timeout: 500_000_000, startPeriod: nil, startInterval: nil, retries: 3))
    }

    @Test("copy: chmod is octal, the destination resolves against the workdir keeping its trailing /")
    func copyModeAndDestination() throws {
        let graph = try graph("""
            version: 1
            allow: [root-target]
            stages:
              app:
                from: example.com/base:1
                workdir: /app
                steps:
                  - copy: run.sh
                    to: bin/
                    chmod: "0755"
                  - copy: run.sh
                    to: /etc/run.conf
            """, files: ["run.sh": "echo\n"])
        let plan = try bind(graph)
        guard case .copy(let first) = try step(plan, "app", 1).action, case .copy(let second) = try step(plan, "app", 2).action else {
            Issue.record("copies expected")
            return
        }
        #expect(first.chmod == 0o755)
        #expect(first.destination == "bin/")
        #expect(first.resolvedDestination == "/app/bin/")
        #expect(first.source == .context && first.sources == ["run.sh"])
        #expect(try step(plan, "app", 1).description == "copy run.sh")
        #expect(second.chmod == nil)
        #expect(second.resolvedDestination == "/etc/run.conf")
    }

    @Test("add: a destination ending in / takes the URL's file name; mode 0600 unless chmod says otherwise")
    func addDestination() throws {
        let checksum = "sha256:" + String(repeating: "0a", count: 32)
        let graph = try graph("""
            version: 1
            allow: [root-target]
            args:
              TOOL_VERSION: "1.4.2"
            stages:
              app:
                from: example.com/base:1
                workdir: /w
                steps:
                  - add: https://example.com/releases/tool-${TOOL_VERSION}.tar.gz
                    checksum: \(checksum)
                    to: downloads/
                  - add: https://example.com/releases/tool-${TOOL_VERSION}.tar.gz
                    checksum: \(checksum)
                    to: /opt/tool.tgz
                    chmod: "0644"
            """)
        let plan = try bind(graph)
        let first = try step(plan, "app", 1)
        #expect(first.description == "add https://example.com/releases/tool-1.4.2.tar.gz")
        guard case .add(let add) = first.action, case .add(let other) = try step(plan, "app", 2).action else {
            Issue.record("adds expected")
            return
        }
        #expect(add.url == "https://example.com/releases/tool-1.4.2.tar.gz")
        #expect(add.checksum.description == checksum)
        #expect(add.destination == "downloads/")
        #expect(add.resolvedDestination == "/w/downloads/tool-1.4.2.tar.gz")
        #expect(add.chmod == 0o600)
        #expect(other.resolvedDestination == "/opt/tool.tgz")
        #expect(other.chmod == 0o644)
    }

    @Test("an entrypoint without a cmd resets the base's cmd, as in Docker; a cmd alone keeps the entrypoint")
    func finalConfigurationOfTarget() throws {
        let graph = try graph("""
            version: 1
            allow: [root-target]
            stages:
              entry:
                from: example.com/base:1
                entrypoint: ["/bin/app"]
              command:
                from: example.com/base:1
                cmd: ["--help"]
            targets: [entry, command]
            """)
        let base = try image(BoundImageConfiguration(entrypoint: ["/docker-entrypoint.sh"], cmd: ["nginx"]))
        let plan = try bind(graph, images: [try reference("example.com/base:1"): base])
        let entry = try #require(plan.stage(named: "entry")?.finalConfiguration)
        #expect(entry.entrypoint == ["/bin/app"] && entry.cmd == nil)
        let command = try #require(plan.stage(named: "command")?.finalConfiguration)
        #expect(command.entrypoint == ["/docker-entrypoint.sh"] && command.cmd == ["--help"])
        #expect(plan.stage(named: "entry")?.initialConfiguration.cmd == ["nginx"])
    }

    @Test("targets: the given ones and what they need, else the plan's; an unknown one fails")
    func targetSelection() throws {
        let graph = try graph("""
            version: 1
            allow: [root-target]
            stages:
              build:
                from: example.com/build:1
                workdir: /src
                steps:
                  - run: make
                artifacts:
                  bin: /src/bin
              app:
                from: example.com/base:1
                steps:
                  - artifact: build.bin
                    to: /usr/local/bin/
              docs:
                from: example.com/docs:1
            targets: [app, docs]
            """)
        let all = try bind(graph)
        #expect(all.targets == ["app", "docs"])
        #expect(all.stages.map(\.name) == ["build", "app", "docs"])
        let binder = Binder(graph: graph, options: BindOptions(targets: ["app"], platform: Platform(architecture: "amd64")))
        let some = try binder.bind(images: [:])
        #expect(some.targets == ["app"])
        #expect(some.stages.map(\.name) == ["build", "app"])
        #expect(some.stages.map(\.isTarget) == [false, true])
        #expect(some.stage(named: "app")?.dependencies == ["build"])
        #expect(try binder.imageReferences() == [try reference("example.com/build:1"), try reference("example.com/base:1")])
        #expect(try step(some, "app", 0).description == "copy build:/src/bin")

        let unknown = Binder(graph: graph, options: BindOptions(targets: ["ap"]))
        let failure = #expect(throws: BindFailure.self) { try unknown.bind(images: [:]) }
        #expect(failure?.diagnostics.map(\.code) == [.targetNotAStage])
        #expect(failure?.diagnostics.first?.help?.contains("app") == true)
    }

    @Test("image references: bases then copy sources, expanded, deduplicated")
    func imageReferenceOrder() throws {
        let graph = try graph("""
            version: 1
            allow: [root-target]
            args:
              REGISTRY: example.com
            stages:
              app:
                from: ${REGISTRY}/base:1
                steps:
                  - copy: /usr/bin/tool
                    image: ${REGISTRY}/tools:2
                    to: /usr/bin/tool
                  - copy: /usr/bin/other
                    image: example.com/base:1
                    to: /usr/bin/other
              more:
                from: example.com/more:1
            targets: [app, more]
            """, arguments: [("REGISTRY", "127.0.0.1:5000")])
        let binder = Binder(graph: graph, options: BindOptions())
        #expect(try binder.imageReferences().map(\.description) == [
            "127.0.0.1:5000/base:1", "example.com/more:1", "127.0.0.1:5000/tools:2", "example.com/base:1",
        ])
        let plan = try binder.bind(images: [:])
        #expect(plan.images.map(\.reference.description)
                    == ["127.0.0.1:5000/base:1", "127.0.0.1:5000/tools:2", "example.com/base:1", "example.com/more:1"])
        #expect(plan.stage(named: "app")?.base == .image(try reference("127.0.0.1:5000/base:1")))
    }

    @Test("a reference that is invalid once expanded is a located bind failure")
    func invalidReferenceAfterExpansion() throws {
        var graph = try graph("""
            version: 1
            allow: [root-target]
            args:
              REGISTRY: example.com
            stages:
              app:
                from: ${REGISTRY}/base:1
                env:
                  TOOLS: Tools:Latest
                steps:
                  - copy: /usr/bin/tool
                    image: $TOOLS
                    to: /usr/bin/tool
            """)
        // A value the checker did not see: given for the run (`--arg`) after the plan was checked.
        let index = try #require(graph.arguments.firstIndex { $0.name == "REGISTRY" })
        graph.arguments[index].value = "bad host"
        let stage = try #require(graph.stage(named: "app"))
        var step: PlanDiagnostics.SourceLocation?
        if case .copy(let copy) = stage.instructions.last { step = copy.location }
        do throws(BindFailure) {
            _ = try Binder(graph: graph, options: BindOptions()).imageReferences()
            Issue.record("binding should fail")
        } catch {
            #expect(error.diagnostics.map(\.code) == [.malformedImageReference, .malformedImageReference])
            #expect(error.diagnostics.map(\.location) == [stage.location, step])
            #expect(error.diagnostics.first?.message.contains("`bad host/base:1`") == true)
            #expect(error.diagnostics.last?.message.contains("`Tools:Latest`") == true)
        }
    }

    @Test("the bound plan survives a JSON round trip, and its enums read as names")
    func jsonRoundTrip() throws {
        let graph = try graph("""
            version: 1
            allow: [root-target]
            stages:
              app:
                from: example.com/base:1
                workdir: /w
                steps:
                  - run: make
                    network: none
                    cache: [{target: cache, sharing: locked}]
                    secrets: [{id: token}]
            """)
        let plan = try bind(graph, images: [try reference("example.com/base:1"): try image(BoundImageConfiguration(user: "app"))])
        let text = try plan.jsonText()
        #expect(try JSONDecoder().decode(BoundPlan.self, from: Data(text.utf8)) == plan)
        #expect(text.contains("\"base\" : {\n        \"image\" : \"example.com/base:1\"\n      }"))
        #expect(text.contains("\"action\" : \"workdir\""))
        #expect(!text.contains("_0"))
        guard case .run(let run) = try step(plan, "app", 1).action else {
            Issue.record("a run step expected")
            return
        }
        #expect(run.network == .none)
        #expect(run.cacheMounts == [BoundCacheMount(target: "/w/cache", id: nil, sharing: .locked)])
        #expect(run.secrets == [BoundSecret(id: "token", env: nil, target: "/run/secrets/token", required: false)])
    }
}
