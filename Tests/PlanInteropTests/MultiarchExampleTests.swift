import Foundation
import PlanTestKit
import Testing

/// `plans/multiarch`, the example of issue 11, with the real tools: compiled for two platforms it parses with
/// BuildKit's parser, passes hadolint and its bake file carries the platforms; for each platform, `plan run
/// --platform` and `buildah bud --platform` of the compiled portable Dockerfile give the same image, tree and
/// config; the arm64 image, run under qemu, says `aarch64`.
///
/// Where buildah and BuildKit differ: buildah 1.28 builds `FROM --platform=$BUILDPLATFORM` stages for the
/// target platform (it pulls the arm64 busybox for `toolchain` and runs `shc` under qemu), where BuildKit, and
/// plan, build them natively on the build platform. The example's artifact depends only on `TARGETARCH` and its
/// sources, so the target images must still be equal; the builder stages' own images are not compared.
@Suite(.serialized) struct MultiarchExampleTests {
    static let plan = TestSupport.plans + "/multiarch"
    static var registry: String { ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555" }
    /// What the app prints: the platform it was cross-built for, then `uname -m`.
    static func greeting(_ platform: String, _ machine: String) -> String {
        "hello from multiarch, built for \(platform)\n\(machine)\n"
    }

    struct ParsedInstruction: Decodable {
        var cmd: String
        var value: [String]
        var flags: [String]
    }

    struct Bake: Decodable {
        struct Target: Decodable { var platforms: [String]? }
        var target: [String: Target]
    }

    /// The example compiled with `--out-dir` in `dialect`, for the plan's platforms or `--platform`'s.
    static func compiled(dialect: String, _ extra: [String] = []) throws -> String {
        let folder = try TestSupport.temporaryFolder()
        let result = try TestSupport.plan(["compile", plan, "--dialect", dialect, "--out-dir", folder, "--werror"] + extra)
        #expect(result.status == 0, "\(result.stderr)")
        return folder
    }

    static let platformChoices: [[String]] = [[], ["--platform", "linux/amd64,linux/arm64"]]

    @Test("compiled for two platforms, the Dockerfile parses with BuildKit's parser: builders pinned to $BUILDPLATFORM, TARGETARCH declared where used",
          arguments: ["buildkit", "portable"], platformChoices)
    func buildkitParser(_ dialect: String, _ extra: [String]) throws {
        let folder = try Self.compiled(dialect: dialect, extra)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        let result = try TestSupport.run(python, [TestSupport.repoRoot + "/scripts/dockerfile-parse", "--strict", folder + "/Dockerfile"])
        #expect(result.status == 0, "\(result.stderr)")
        let instructions = try JSONDecoder().decode([ParsedInstruction].self, from: Data(result.stdout.utf8))
        let froms = instructions.indices.filter { instructions[$0].cmd.lowercased() == "from" }
        try #require(froms.count == 3)
        #expect(froms.map { instructions[$0].flags } == [["--platform=$BUILDPLATFORM"], ["--platform=$BUILDPLATFORM"], []])
        #expect(froms.map { instructions[$0].value.last } == ["toolchain", "build", "app"])
        func arguments(_ stage: Int) -> [String] {
            let end = stage + 1 < froms.count ? froms[stage + 1] : instructions.count
            return instructions[froms[stage]..<end].filter { $0.cmd.lowercased() == "arg" }.flatMap(\.value)
        }
        // The shared toolchain uses no TARGET argument; the build stage declares the one it cross-builds for.
        #expect(arguments(0) == [])
        #expect(arguments(1) == ["TARGETARCH"])
        #expect(arguments(2) == [])
    }

    @Test("compiled for two platforms, the Dockerfile passes hadolint", arguments: ["buildkit", "portable"])
    func hadolint(_ dialect: String) throws {
        let folder = try Self.compiled(dialect: dialect, ["--platform", "linux/amd64", "--platform", "linux/arm64"])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let hadolint = try TestSupport.tool("hadolint", environment: "PLAN_TEST_HADOLINT")
        let result = try TestSupport.run(hadolint, ["--no-color", "-f", "json", folder + "/Dockerfile"], in: NSTemporaryDirectory())
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
    }

    @Test("the bake file carries the two platforms, from the plan or from --platform", arguments: platformChoices)
    func bakePlatforms(_ extra: [String]) throws {
        let folder = try Self.compiled(dialect: "buildkit", extra)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let bake = try JSONDecoder().decode(Bake.self, from: Data(TestSupport.read(folder + "/docker-bake.json").utf8))
        #expect(bake.target["app"]?.platforms == ["linux/amd64", "linux/arm64"])
    }

    /// The top-level fields of the config of the image in an OCI layout (architecture, os, variant, …).
    static func imageConfig(layout: String) throws -> [String: Any] {
        func json(_ path: String) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] ?? [:]
        }
        func blob(_ digest: Any?) -> String { layout + "/blobs/sha256/" + ((digest as? String) ?? "").replacingOccurrences(of: "sha256:", with: "") }
        let index = try json(layout + "/index.json")
        let manifest = try json(blob((index["manifests"] as? [[String: Any]])?.first?["digest"]))
        return try json(blob((manifest["config"] as? [String: Any])?["digest"]))
    }

    /// Runs the image's entrypoint in its unpacked tree with chroot: natively, or under qemu through
    /// binfmt_misc (the F flag makes the interpreter reachable from inside the chroot).
    static func runApp(_ rootfs: String) throws -> TestSupport.ProcessResult {
        try TestSupport.run(try TestSupport.tool("chroot"), [rootfs, "/usr/local/bin/hello"])
    }

    /// plan's and buildah's images for `platform` are equal; both say the platform in their config and
    /// print `machine` when run.
    func equalsBuildah(_ platform: String, architecture: String, machine: String) throws {
        try RunTests().differential(Self.plan, target: "app", platform: platform) { folder in
            for (side, layout) in [("plan", "ours"), ("buildah", "theirs")] {
                let config = try Self.imageConfig(layout: folder + "/\(layout)-layout")
                #expect(config["architecture"] as? String == architecture, "\(side)")
                #expect(config["os"] as? String == "linux", "\(side)")
                let ran = try Self.runApp(folder + "/\(layout)/rootfs")
                #expect(ran.status == 0, "\(side): \(ran.stderr)")
                #expect(ran.stdout == Self.greeting(platform, machine), "\(side)")
            }
        }
    }

    @Test("linux/amd64: plan run equals buildah bud --platform linux/amd64, tree and config, and the app runs")
    func amd64EqualsBuildah() throws {
        #if arch(x86_64)
        try equalsBuildah("linux/amd64", architecture: "amd64", machine: "x86_64")
        #endif
    }

    /// The `${BUILDPLATFORM}` stages run natively (as in BuildKit), `app` under qemu.
    @Test("linux/arm64: plan run equals buildah bud --platform linux/arm64, tree and config; the app, under qemu, says aarch64")
    func arm64EqualsBuildah() throws {
        guard try EmulationRunTests().requireEmulation() else { return }
        try equalsBuildah("linux/arm64", architecture: "arm64", machine: "aarch64")
    }

    /// One run for both platforms builds, per platform, exactly the image a run for that platform alone builds
    /// (same manifest digest, with a fixed SOURCE_DATE_EPOCH), and those equal buildah's (the tests above): so
    /// the index's images equal buildah's two builds. The index says each manifest's platform.
    @Test("one run for linux/amd64 and linux/arm64 writes an index whose two images are those of the one-platform runs")
    func bothPlatformsInOneRun() throws {
        guard try EmulationRunTests().requireEmulation() else { return }
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func json(_ path: String) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] ?? [:]
        }
        func blob(_ layout: String, _ digest: Any?) -> String {
            layout + "/blobs/sha256/" + ((digest as? String) ?? "").replacingOccurrences(of: "sha256:", with: "")
        }
        func build(_ platforms: String, into layout: String) throws -> TestSupport.ProcessResult {
            let result = try RunTests().run([Self.plan, "--target", "app", "--cache-dir", folder + "/cache", "--arg", "REGISTRY=\(RunTests.registry)",
                                             "--platform", platforms, "--source-date-epoch", "1700000000", "--progress", "plain",
                                             "--output", "type=oci,dest=\(layout)"])
            #expect(result.status == 0, "\(platforms): \(result.stderr)")
            return result
        }
        let both = try build("linux/amd64,linux/arm64", into: folder + "/both")
        // The toolchain (build platform, no TARGET argument) is built once; build and app once per platform.
        #expect(both.stderr.components(separatedBy: "[toolchain] started").count - 1 == 1, "\(both.stderr)")
        let top = try json(folder + "/both/index.json")
        let index = try json(blob(folder + "/both", (top["manifests"] as? [[String: Any]])?.first?["digest"]))
        var byPlatform: [String: String] = [:]
        for entry in index["manifests"] as? [[String: Any]] ?? [] {
            let platform = entry["platform"] as? [String: Any] ?? [:]
            byPlatform["\(platform["os"] ?? "")/\(platform["architecture"] ?? "")"] = entry["digest"] as? String
        }
        #expect(Set(byPlatform.keys) == ["linux/amd64", "linux/arm64"], "\(index)")
        for platform in ["linux/amd64", "linux/arm64"] {
            let layout = folder + "/" + platform.replacingOccurrences(of: "/", with: "_")
            _ = try build(platform, into: layout)
            let alone = try json(layout + "/index.json")
            let digest = (alone["manifests"] as? [[String: Any]])?.first?["digest"] as? String
            #expect(digest != nil && byPlatform[platform] == digest, "\(platform): \(byPlatform[platform] ?? "-") vs \(digest ?? "-")")
        }
    }

    @Test("buildah's arm64 image of the compiled example runs under qemu and says aarch64; the amd64 program refuses to run there")
    func buildahArm64RunsUnderEmulation() throws {
        guard try EmulationRunTests().requireEmulation() else { return }
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let buildah = try TestSupport.tool("buildah")
        let skopeo = try TestSupport.tool("skopeo")
        let context = folder + "/context"
        try FileManager.default.copyItem(atPath: Self.plan, toPath: context)
        let compile = try TestSupport.plan(["compile", context, "--dialect", "portable", "--arg", "REGISTRY=\(Self.registry)",
                                            "-o", context + "/Containerfile"])
        #expect(compile.status == 0, "\(compile.stderr)")
        var trees: [String: String] = [:]
        for (platform, architecture) in [("linux/arm64", "arm64"), ("linux/amd64", "amd64")] {
            let tag = "localhost/plan-multiarch-\(architecture):\(UUID().uuidString.lowercased().prefix(8))"
            let build = try TestSupport.run(buildah, ["bud", "--isolation", "chroot", "--tls-verify=false", "--layers=false",
                                                      "--platform", platform, "-f", context + "/Containerfile", "-t", tag, context])
            #expect(build.status == 0, "buildah: \(build.stderr.suffix(2000))")
            defer { _ = try? TestSupport.run(buildah, ["rmi", "-f", tag]) }
            let copy = try TestSupport.run(skopeo, ["copy", "containers-storage:\(tag)", "oci:\(folder)/\(architecture):t"])
            #expect(copy.status == 0, "\(copy.stderr)")
            _ = try ImageTree.unpack(layout: folder + "/" + architecture, name: "t", into: folder + "/tree-" + architecture)
            trees[architecture] = folder + "/tree-" + architecture + "/rootfs"
        }
        let arm64 = try #require(trees["arm64"])
        let amd64 = try #require(trees["amd64"])
        let ran = try Self.runApp(arm64)
        #expect(ran.status == 0, "\(ran.stderr)")
        #expect(ran.stdout == Self.greeting("linux/arm64", "aarch64"))
        // The amd64 build's program in the arm64 tree: shc's guard stops it, as a foreign binary would fail.
        try FileManager.default.removeItem(atPath: arm64 + "/usr/local/bin/hello")
        try FileManager.default.copyItem(atPath: amd64 + "/usr/local/bin/hello", toPath: arm64 + "/usr/local/bin/hello")
        let foreign = try Self.runApp(arm64)
        #expect(foreign.status == 126)
        #expect(foreign.stderr.contains("built for linux/amd64, cannot run on aarch64"), "\(foreign.stderr)")
    }
}
