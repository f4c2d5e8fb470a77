import Foundation
import PlanCompiler
import PlanDiagnostics
import PlanDockerfile
@testable import PlanGraph
import PlanImport
import PlanLock
import PlanValues
import Testing

/// `mounts:` of `run` steps in-process: what the binder makes of them (defaults as BuildKit's), the `--mount`
/// flags the compiler writes, tmpfs sizes, and what `plan import` makes of RUN --mount.
@Suite struct MountTests {
    static let plan = """
        version: 1
        context: context
        allow: [root-target]
        stages:
          tools:
            from: example.com/base:1
            steps:
              - run: make
            artifacts:
              out: /out
          app:
            from: example.com/base:1
            workdir: /w
            steps:
              - run: make
                mounts:
                  - {source: go.sum, target: go.sum}
                  - {type: bind, from: tools, source: /out/bin, target: /opt/bin, rw: true}
                  - {type: bind, image: example.com/sdk:2, target: /sdk}
                  - {type: tmpfs, target: /tmp/t, size: 64m}
                  - {type: ssh}
                  - {type: ssh, id: github, target: agent.sock, required: true, mode: "0660", uid: 1000, gid: 1000}
        """

    func graph(_ text: String) throws -> (BuildGraph?, [Diagnostic]) {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TestSupport.write(text, to: folder + "/plan.yaml")
        try TestSupport.write("sum\n", to: folder + "/context/go.sum")
        let result = Compiler(options: CompileOptions()).compile(planAt: folder + "/plan.yaml")
        return (result.graph, result.diagnostics)
    }

    /// An image a step mounts is read like a base or a copied image: a lock must pin it (else E1103 at the step),
    /// and a locked Dockerfile mounts it by digest.
    @Test func aLockPinsAMountedImage() throws {
        let (compiled, diagnostics) = try graph(Self.plan)
        let graph = try #require(compiled, "\(diagnostics)")
        let amd64 = Platform(architecture: "amd64")
        let reads = try PlanReads.of(graph, platforms: [amd64])
        let sdk = try ImageReference(parsing: "example.com/sdk:2")
        let mounted = reads.images.filter { $0.reference == sdk }
        #expect(mounted.map(\.kind) == [.mount(2)], "\(reads.images)")
        #expect(reads.platformsByImage.map(\.reference.description).contains(sdk.description))
        let digest = try Digest(parsing: "sha256:" + String(repeating: "cd", count: 32))
        let base = try ImageReference(parsing: "example.com/base:1")
        var lock = LockFile(plan: graph.planName, planFile: "plan.yaml",
                            images: [base.description: LockedImage(digest: digest, platforms: ["linux/amd64": digest])])
        let missing = reads.problems(with: lock, lockPath: "plan.lock")
        #expect(missing.map(\.code) == [DiagnosticCode.imageNotLocked], "\(missing)")
        #expect(missing.first?.message.hasPrefix("the mounted image `\(sdk)`") == true, "\(missing)")
        lock.images[sdk.description] = LockedImage(digest: digest, platforms: ["linux/amd64": digest])
        let pinned = LockedBuild.pinnedGraph(graph, lock: lock, lockPath: "plan.lock")
        let locked = try #require(pinned.graph, "\(pinned.diagnostics)")
        let dockerfile = DockerfileWriter().dockerfile(for: locked)
        #expect(dockerfile.contains("from=example.com/sdk:2@\(digest)"), "\(dockerfile)")
    }

    @Test func theBinderResolvesTargetsAndGivesBuildKitsDefaults() throws {
        let (compiled, diagnostics) = try graph(Self.plan)
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics)")
        let graph = try #require(compiled)
        #expect(graph.stage(named: "app")?.dependencies == ["tools"])
        let digest = try Digest(parsing: "sha256:" + String(repeating: "ab", count: 32))
        let base = try ImageReference(parsing: "example.com/base:1")
        let sdk = try ImageReference(parsing: "example.com/sdk:2")
        let images = [base: ResolvedImage(manifestDigest: digest, configuration: BoundImageConfiguration()),
                      sdk: ResolvedImage(manifestDigest: digest, configuration: BoundImageConfiguration())]
        let bound = try Binder(graph: graph, options: BindOptions(targets: [], platform: Platform(architecture: "amd64")))
            .bind(images: images)
        let step = try #require(bound.stage(named: "app")?.steps.first { if case .run = $0.action { true } else { false } })
        guard case .run(let run) = step.action else { return }
        #expect(run.mounts == [
            .bind(BoundBindMount(source: .context, path: "go.sum", target: "/w/go.sum", readWrite: false, artifact: nil)),
            .bind(BoundBindMount(source: .stage("tools"), path: "/out/bin", target: "/opt/bin", readWrite: true, artifact: "out")),
            .bind(BoundBindMount(source: .image(sdk), path: "/", target: "/sdk", readWrite: false, artifact: nil)),
            .tmpfs(BoundTmpfsMount(target: "/tmp/t", size: 64 << 20)),
            .ssh(BoundSSHMount(id: "default", target: "/run/buildkit/ssh_agent.0", required: false, mode: 0o600, uid: 0, gid: 0)),
            .ssh(BoundSSHMount(id: "github", target: "/w/agent.sock", required: true, mode: 0o660, uid: 1000, gid: 1000)),
        ])
        // The JSON round-trips; a step without mounts has no `mounts` key (bound-plan goldens stay as they were).
        let text = try bound.jsonText()
        #expect(try JSONDecoder().decode(BoundPlan.self, from: Data(text.utf8)) == bound)
        #expect(text.components(separatedBy: "\"mounts\"").count == 2)
        #expect(bound.firstUse(of: sdk) == step.location)
    }

    @Test func aBoundContextFileAffectsItsTarget() throws {
        let graph = try #require(try graph(Self.plan).0)
        #expect(AffectedTargets(graph: graph).targets(changedContextPaths: ["go.sum"], planChanged: false) == ["app"])
        #expect(AffectedTargets(graph: graph).targets(changedContextPaths: ["README.md"], planChanged: false).isEmpty)
        // `plan graph` draws the bound artifact and image like copies.
        let edges = GraphWriter.edges(graph).edges.map { "\($0.from) -> \($0.to) \($0.label)" }
        #expect(edges.contains("tools -> app out") && edges.contains("image:example.com/sdk:2 -> app mount"), "\(edges)")
    }

    @Test func theCompilerWritesBuildKitMountFlags() throws {
        let graph = try #require(try graph(Self.plan).0)
        let dockerfile = DockerfileWriter().dockerfile(for: graph)
        let line = try #require(dockerfile.split(separator: "\n").first { $0.hasPrefix("RUN --mount") })
        let flags: [String] = [
            "--mount=type=bind,source=go.sum,target=/w/go.sum",
            "--mount=type=bind,from=tools,source=/out/bin,target=/opt/bin,rw",
            "--mount=type=bind,from=example.com/sdk:2,target=/sdk",
            "--mount=type=tmpfs,target=/tmp/t,size=67108864",
            "--mount=type=ssh",
            "--mount=type=ssh,id=github,target=/w/agent.sock,required=true,mode=0660,uid=1000,gid=1000",
        ]
        let expected = "RUN " + flags.joined(separator: " ") + " make"
        #expect(String(line) == expected)
    }

    @Test func sizesAreBytesOrNumbersWithBinaryUnits() {
        #expect(ValueFormats.sizeBytes("1024") == 1024)
        #expect(ValueFormats.sizeBytes("64m") == 64 << 20)
        #expect(ValueFormats.sizeBytes("1.5g") == 3 << 29)
        #expect(ValueFormats.sizeBytes("512KiB") == 512 << 10)
        #expect(ValueFormats.sizeBytes("64 megs") == nil)
        #expect(ValueFormats.sizeBytes("-1") == nil)
        #expect(ValueFormats.sizeBytes("99999999p") == nil)
    }

    @Test func anSSHMountMakesSSHAuthSockAVariableOfItsScript() throws {
        let (_, diagnostics) = try graph("""
            version: 1
            allow: [root-target]
            stages:
              app:
                from: example.com/base:1
                steps:
                  - run: ssh-add -l; echo ${SSH_AUTH_SOCK}
                    mounts: [{type: ssh}]
                  - run: echo ${SSH_AUTH_SOCK}
            """)
        #expect(diagnostics.map(\.code.id) == ["E0401"])
        #expect(diagnostics.first?.location?.line == 9)
    }

    @Test func aMountTypeOrKeyThatDoesNotFitIsLocated() throws {
        let (_, diagnostics) = try graph("""
            version: 1
            allow: [root-target]
            stages:
              app:
                from: example.com/base:1
                steps:
                  - run: make
                    mounts:
                      - {type: cache, target: /c}
                      - {size: 1m, target: /x}
                      - {type: tmpfs}
                      - {type: bind, from: nowhere, target: /y}
                      - {type: bind, source: "a b", target: /z}
            """)
        #expect(diagnostics.map { "\($0.code.id)@\($0.location?.line ?? 0)" }
                == ["E0108@9", "E0115@10", "E0103@11", "E0203@12", "E0610@13"])
        #expect(diagnostics.first { $0.code.id == "E0108" }?.help?.contains("cache:") == true)
    }

    @Test func importTurnsBindTmpfsAndSSHMountsIntoMounts() throws {
        let text = """
            FROM busybox:1.36 AS version
            RUN echo 1 > /tmp/.version
            FROM busybox:1.36
            WORKDIR /src
            RUN --mount=type=bind,target=. \\
                --mount=type=bind,source=/tmp/.version,target=/tmp/.version,from=version \\
                --mount=type=bind,source=go.sum,dst=go.sum,rw \\
                --mount=type=tmpfs,target=/tmp/t,size=64m \\
                --mount=type=ssh,id=gh,required \\
                --mount=type=bind,from=golang:1.22,source=/usr/local/go,target=/go \\
                cat /tmp/.version
            """
        let (result, _) = PlanImporter(options: ImportOptions(context: ".")).importPlan(data: Array(text.utf8), path: "Dockerfile")
        let plan = try #require(result.plan, "\(result.diagnostics)")
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        #expect(plan.contains("""
                    mounts:
                      - {type: bind, target: .}
                      - {type: bind, from: version, source: /tmp/.version, target: /tmp/.version}
                      - {type: bind, source: go.sum, target: go.sum, rw: true}
                      - {type: tmpfs, target: /tmp/t, size: 64m}
                      - {type: ssh, id: gh, required: true}
                      - {type: bind, image: golang:1.22, source: /usr/local/go, target: /go}
            """), "\(plan)")
        #expect(plan.contains("artifacts:\n      version: /tmp/.version"), "\(plan)")
    }
}
