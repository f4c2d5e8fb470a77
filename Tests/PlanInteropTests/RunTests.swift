import Foundation
import Testing

/// `plan run` against a real builder: the same plan built by plan's executor and by buildah (from
/// `plan compile --dialect portable`) gives the same files, modes, owners, links and image config; skopeo reads
/// the docker output. Needs root, the test registry and buildah, as scripts/test provides.
@Suite(.serialized) struct RunTests {
    static var registry: String { ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555" }
    static let runFixtures = TestSupport.fixtures + "/run"

    /// Differences buildah adds that are not part of the plan's meaning.
    static let ignoredLabels: Set<String> = ["io.buildah.version"]

    func run(_ arguments: [String]) throws -> TestSupport.ProcessResult {
        try TestSupport.plan(["run"] + arguments + ["--insecure-registry", Self.registry])
    }

    /// `platform`: build for it with both (`plan run --platform`, `buildah bud --platform`). `inspect` is called
    /// after the comparison with the scratch folder, which holds `ours-layout`, `theirs-layout` (OCI layouts, tags
    /// `latest` and `t`) and their unpacked trees `ours/rootfs` and `theirs/rootfs`.
    func differential(_ plan: String, target: String, platform: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
                      inspect: (_ folder: String) throws -> Void = { _ in }) throws {
        let platformArguments = platform.map { ["--platform", $0] } ?? []
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let buildah = try TestSupport.tool("buildah")
        let skopeo = try TestSupport.tool("skopeo")
        let ours = try run([plan, "--target", target, "--cache-dir", folder + "/cache", "--arg", "REGISTRY=\(Self.registry)",
                            "--output", "type=oci,dest=\(folder)/ours-layout"] + platformArguments)
        #expect(ours.status == 0, "plan run: \(ours.stderr)", sourceLocation: sourceLocation)
        guard ours.status == 0 else { return }

        let context = folder + "/context"
        try FileManager.default.copyItem(atPath: plan, toPath: context)
        let compile = try TestSupport.plan(["compile", context, "--target", target, "--dialect", "portable",
                                            "--arg", "REGISTRY=\(Self.registry)", "-o", context + "/Containerfile"])
        #expect(compile.status == 0, "\(compile.stderr)", sourceLocation: sourceLocation)
        let tag = "localhost/plan-run-diff-\(target):\(UUID().uuidString.lowercased().prefix(8))"
        let build = try TestSupport.run(buildah, ["bud", "--isolation", "chroot", "--tls-verify=false", "--layers=false"]
                                        + platformArguments + ["--target", target, "-f", context + "/Containerfile", "-t", tag, context])
        #expect(build.status == 0, "buildah: \(build.stderr.suffix(2000))", sourceLocation: sourceLocation)
        defer { _ = try? TestSupport.run(buildah, ["rmi", "-f", tag]) }
        let copy = try TestSupport.run(skopeo, ["copy", "containers-storage:\(tag)", "oci:\(folder)/theirs-layout:t"])
        #expect(copy.status == 0, "\(copy.stderr)", sourceLocation: sourceLocation)

        let mine = try ImageTree.unpack(layout: folder + "/ours-layout", name: "latest", into: folder + "/ours")
        let theirs = try ImageTree.unpack(layout: folder + "/theirs-layout", name: "t", into: folder + "/theirs")
        #expect(mine.tree == theirs.tree, "trees differ:\n\(Set(mine.tree).symmetricDifference(theirs.tree).sorted().joined(separator: "\n"))",
                sourceLocation: sourceLocation)
        func canonical(_ value: Any?) -> String {
            guard let value else { return "-" }
            let data = try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys])
            return data.map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
        }
        for key in ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "StopSignal", "Volumes"] {
            let a = canonical(mine.config[key])
            let b = canonical(theirs.config[key])
            #expect(a == b, "\(key): \(a) vs \(b)", sourceLocation: sourceLocation)
        }
        var theirLabels = theirs.config["Labels"] as? [String: String] ?? [:]
        for label in Self.ignoredLabels { theirLabels.removeValue(forKey: label) }
        #expect((mine.config["Labels"] as? [String: String] ?? [:]) == theirLabels, sourceLocation: sourceLocation)
        try inspect(folder)
    }

    @Test func registryExampleEqualsBuildah() throws {
        try differential(TestSupport.plans + "/registry", target: "app")
    }

    @Test func monorepoTargetsEqualBuildah() throws {
        try differential(TestSupport.plans + "/monorepo", target: "api")
        try differential(TestSupport.plans + "/monorepo", target: "docs")
    }

    @Test func envWorkdirUserChownChmodLinksAndDeletionsEqualBuildah() throws {
        try differential(Self.runFixtures + "/features", target: "app")
    }

    @Test func dockerOutputIsReadBySkopeo() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try run([TestSupport.plans + "/registry", "--cache-dir", folder + "/cache",
                              "--output", "type=docker,dest=\(folder)/image.tar"])
        #expect(result.status == 0, "\(result.stderr)")
        let skopeo = try TestSupport.tool("skopeo")
        let inspect = try TestSupport.run(skopeo, ["inspect", "docker-archive:\(folder)/image.tar"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(inspect.stdout.contains("\"Layers\""))
        let manifest = try TestSupport.run("/bin/tar", ["-xOf", folder + "/image.tar", "manifest.json"])
        #expect(manifest.stdout.contains("\"RepoTags\":[\"registry-demo/app:latest\"]"), "\(manifest.stdout)")
    }
}
