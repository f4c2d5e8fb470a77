import Foundation
import Testing

/// `plan run` for several platforms in one run (Tests/Fixtures/multiplatform/run): a builder pinned to the build
/// platform built once and shared, a cross stage pinned to it built once per target, runtime targets per platform
/// under qemu; an OCI image index as the image output, per-platform sub-folders for local and artifacts outputs,
/// an index stored and pushed by name. Needs the test registry's plan-test/busybox-multi:1 and qemu-aarch64
/// registered with the F flag, as scripts/test provides.
@Suite(.serialized) struct MultiPlatformRunTests {
    static var registry: String { ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555" }
    static let plan = TestSupport.fixtures + "/multiplatform/run"
    static let both = ["--platform", "linux/amd64,linux/arm64"]

    func run(_ folder: String, _ extra: [String], plan: String = plan) throws -> TestSupport.ProcessResult {
        try TestSupport.plan(["run", plan, "--cache-dir", folder + "/cache", "--progress", "plain",
                              "--insecure-registry", Self.registry, "--arg", "REGISTRY=\(Self.registry)"] + extra)
    }

    func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    /// How many lines of `text` are exactly `line`.
    func count(_ line: String, in text: String) -> Int { text.split(separator: "\n").filter { $0 == line }.count }

    @Test("two platforms: one OCI index with a manifest per platform, the shared builder ran once, the arm64 image says aarch64; again: all cached")
    func twoPlatformsMakeAnIndex() throws {
        guard try EmulationRunTests().requireEmulation() else { return }
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let built = try run(folder, Self.both + ["--output", "type=oci,dest=\(folder)/layout",
                                                 "--output", "type=oci,dest=\(folder)/image.tar"])
        #expect(built.status == 0, "\(built.stderr)")
        guard built.status == 0 else { return }
        // The builder that uses no TARGET… argument is one instance; the cross stage and the target one per platform.
        #expect(count("[tools] started", in: built.stderr) == 1, "\(built.stderr)")
        for platform in ["linux/amd64", "linux/arm64"] {
            #expect(count("[\(platform) cross] started", in: built.stderr) == 1, "\(built.stderr)")
            #expect(count("[\(platform) app] started", in: built.stderr) == 1, "\(built.stderr)")
        }
        #expect(!built.stderr.contains("[app] started") && !built.stderr.contains("[cross] started"))
        #expect(built.stderr.contains("7 steps: 0 cached, 7 built"), "\(built.stderr)")

        // index.json names one image index; it lists the two manifests, each with its platform.
        let top = try #require(try json(folder + "/layout/index.json")["manifests"] as? [[String: Any]])
        #expect(top.count == 1)
        #expect(top.first?["mediaType"] as? String == "application/vnd.oci.image.index.v1+json")
        let digest = try #require((top.first?["digest"] as? String)?.replacingOccurrences(of: "sha256:", with: ""))
        let index = try json(folder + "/layout/blobs/sha256/" + digest)
        let manifests = try #require(index["manifests"] as? [[String: Any]])
        #expect(manifests.compactMap { $0["platform"] as? [String: String] } == [
            ["architecture": "amd64", "os": "linux"], ["architecture": "arm64", "os": "linux", "variant": "v8"],
        ])
        for manifest in manifests {
            let platform = try #require(manifest["platform"] as? [String: String])
            let blob = try #require((manifest["digest"] as? String)?.replacingOccurrences(of: "sha256:", with: ""))
            let config = try #require((try json(folder + "/layout/blobs/sha256/" + blob))["config"] as? [String: Any])
            let configBlob = try #require((config["digest"] as? String)?.replacingOccurrences(of: "sha256:", with: ""))
            let image = try json(folder + "/layout/blobs/sha256/" + configBlob)
            #expect(image["architecture"] as? String == platform["architecture"])
        }

        // skopeo reads the index from both outputs, and each platform's image from it (umoci 0.4 takes a tag naming
        // an index of several manifests as ambiguous, so it is not asked).
        let skopeo = try TestSupport.tool("skopeo")
        for source in ["oci:\(folder)/layout:latest", "oci-archive:\(folder)/image.tar"] {
            let raw = try TestSupport.run(skopeo, ["inspect", "--raw", source])
            #expect(raw.status == 0, "\(raw.stderr)")
            #expect(raw.stdout.contains("\"architecture\":\"arm64\"") && raw.stdout.contains("\"architecture\":\"amd64\""), "\(raw.stdout)")
            for architecture in ["amd64", "arm64"] {
                let image = try TestSupport.run(skopeo, ["inspect", "--override-arch", architecture, source])
                #expect(image.stdout.contains("\"Architecture\": \"\(architecture)\""), "\(image.stdout) \(image.stderr)")
            }
        }

        // The arm64 image runs under qemu: uname -m says aarch64, and its program was cross-built natively.
        let buildah = try TestSupport.tool("buildah")
        let tag = "localhost/plan-multirun-test:\(UUID().uuidString.lowercased().prefix(8))"
        let copy = try TestSupport.run(skopeo, ["copy", "--override-arch", "arm64", "oci:\(folder)/layout:latest", "containers-storage:\(tag)"])
        #expect(copy.status == 0, "\(copy.stderr)")
        defer { _ = try? TestSupport.run(buildah, ["rmi", "-f", tag]) }
        let from = try TestSupport.run(buildah, ["from", "--quiet", "--pull-never", tag])
        #expect(from.status == 0, "\(from.stderr)")
        let container = from.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? TestSupport.run(buildah, ["rm", container]) }
        let uname = try TestSupport.run(buildah, ["run", "--isolation", "chroot", container, "uname", "-m"])
        #expect(uname.stdout == "aarch64\n", "\(uname.stderr)")
        let app = try TestSupport.run(buildah, ["run", "--isolation", "chroot", container, "cat", "/app", "/arch"])
        #expect(app.stdout == "cross-built for arm64 on x86_64\naarch64\n", "\(app.stderr)")

        // The same run again: every step from the cache, the same index.
        let again = try run(folder, Self.both + ["--output", "type=oci,dest=\(folder)/layout"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("7 steps: 7 cached, 0 built"), "\(again.stderr)")
        #expect((try json(folder + "/layout/index.json")["manifests"] as? [[String: Any]])?.first?["digest"] as? String == "sha256:" + digest)
    }

    @Test("one arm64 run: the stage pinned to ${BUILDPLATFORM} runs natively (x86_64), the target under qemu (aarch64)")
    func pinnedBuilderRunsNatively() throws {
        guard try EmulationRunTests().requireEmulation() else { return }
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let built = try run(folder, ["--platform", "linux/arm64", "--output", "type=local,dest=\(folder)/out"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(try TestSupport.read(folder + "/out/arch") == "aarch64\n")
        #expect(try TestSupport.read(folder + "/out/app") == "cross-built for arm64 on x86_64\n")
        // One platform: progress names stages alone, as before.
        #expect(built.stderr.contains("[cross] started") && built.stderr.contains("[app] started"), "\(built.stderr)")
        #expect(!built.stderr.contains("linux/arm64 "), "\(built.stderr)")
        // A fresh amd64 run after it shares the builder's cache entries (same stage, same platform).
        let amd64 = try run(folder, ["--platform", "linux/amd64", "--output", "type=local,dest=\(folder)/out-amd64"])
        #expect(amd64.status == 0, "\(amd64.stderr)")
        #expect(amd64.stderr.contains("[tools] CACHED run mkdir -p /out && uname -m > /out/builder"), "\(amd64.stderr)")
        #expect(try TestSupport.read(folder + "/out-amd64/app") == "cross-built for amd64 on x86_64\n")
    }

    @Test("local and artifacts outputs of two platforms: one sub-folder per platform (linux_amd64/, linux_arm64/)")
    func folderOutputsSplitByPlatform() throws {
        guard try EmulationRunTests().requireEmulation() else { return }
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let built = try run(folder, Self.both + ["--output", "type=local,dest=\(folder)/rootfs",
                                                 "--output", "type=artifacts,dest=\(folder)/dist"])
        #expect(built.status == 0, "\(built.stderr)")
        let roots = try FileManager.default.contentsOfDirectory(atPath: folder + "/rootfs").sorted()
        #expect(roots == ["linux_amd64", "linux_arm64"])
        #expect(try TestSupport.read(folder + "/rootfs/linux_amd64/arch") == "x86_64\n")
        #expect(try TestSupport.read(folder + "/rootfs/linux_arm64/arch") == "aarch64\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/dist").sorted() == ["linux_amd64", "linux_arm64"])
        #expect(try TestSupport.read(folder + "/dist/linux_amd64/cross/app") == "cross-built for amd64 on x86_64\n")
        #expect(try TestSupport.read(folder + "/dist/linux_arm64/cross/app") == "cross-built for arm64 on x86_64\n")
    }

    @Test("type=docker with two platforms fails before building and writes nothing")
    func dockerTakesOnePlatform() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try run(folder, Self.both + ["--output", "type=docker,dest=\(folder)/image.tar",
                                                  "--output", "type=local,dest=\(folder)/out"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("type=docker holds one platform")
                    && result.stderr.contains("linux/amd64, linux/arm64") && result.stderr.contains("Nothing was built"), "\(result.stderr)")
        #expect(!result.stderr.contains("] started"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/image.tar"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/out"))
    }

    @Test("a base image lacking one of the platforms: a located error naming the image, the platform and the platforms it has")
    func baseWithoutThePlatform() throws {
        let folder = try TestSupport.project("""
            version: 1
            allow: [root-target]
            args:
              REGISTRY: "127.0.0.1:5555"
            stages:
              app:
                from: ${REGISTRY}/plan-test/busybox:stable
                steps:
                  - copy: app.txt
                    to: /app.txt
            targets: [app]

            """, files: ["app.txt": "app\n"])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try run(folder, Self.both + ["--output", "type=oci,dest=\(folder)/layout"], plan: folder)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("plan.yaml:6:3: error[E0903]: cannot pull image `\(Self.registry)/plan-test/busybox:stable`"),
                "\(result.stderr)")
        #expect(result.stderr.contains("no manifest for platform linux/arm64") && result.stderr.contains("has: linux/amd64"),
                "\(result.stderr)")
        #expect(!result.stderr.contains("] started"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/layout"))
    }

    @Test("several platforms this machine cannot run: one error each, with the package and command, before building")
    func missingEmulationForEachPlatform() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try run(folder, ["--platform", "linux/mips64le,linux/amd64,linux/s390x", "--output", "type=oci,dest=\(folder)/layout"])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("error: cannot build for linux/mips64le"), "\(result.stderr)")
        if !FileManager.default.fileExists(atPath: "/proc/sys/fs/binfmt_misc/qemu-s390x") {
            #expect(result.stderr.contains("error: cannot build for linux/s390x") && result.stderr.contains("update-binfmts --enable qemu-s390x"),
                    "\(result.stderr)")
        }
        #expect(!result.stderr.contains("cannot build for linux/amd64"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/layout"))
    }

    @Test("type=registry with two platforms pushes the index; --metadata-file's containerimage.digest is the index's")
    func pushesTheIndex() throws {
        guard try EmulationRunTests().requireEmulation() else { return }
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let reference = "\(Self.registry)/plan-multirun-\(UUID().uuidString.lowercased())/app:1"
        let built = try run(folder, Self.both + ["--output", "type=registry,name=\(reference)", "--metadata-file", folder + "/metadata.json"])
        #expect(built.status == 0, "\(built.stderr)")
        guard built.status == 0 else { return }
        let skopeo = try TestSupport.tool("skopeo")
        let raw = try TestSupport.run(skopeo, ["inspect", "--raw", "--tls-verify=false", "docker://\(reference)"])
        #expect(raw.status == 0, "\(raw.stderr)")
        #expect(raw.stdout.contains("application/vnd.oci.image.index.v1+json") && raw.stdout.contains("\"architecture\":\"arm64\""), "\(raw.stdout)")
        let pushed = "sha256:" + (try TestSupport.run("/usr/bin/sha256sum", [], input: Data(raw.stdout.utf8)).stdout.split(separator: " ").first ?? "")
        let entry = try #require(try json(folder + "/metadata.json")["app"] as? [String: Any])
        #expect(entry["containerimage.digest"] as? String == pushed)
        #expect((entry["containerimage.descriptor"] as? [String: Any])?["mediaType"] as? String == "application/vnd.oci.image.index.v1+json")
        #expect(entry["containerimage.config.digest"] == nil)
        // Each platform's image is there: skopeo picks arm64 from the index.
        let arm64 = try TestSupport.run(skopeo, ["inspect", "--tls-verify=false", "--override-arch", "arm64", "docker://\(reference)"])
        #expect(arm64.stdout.contains("\"Architecture\": \"arm64\""), "\(arm64.stdout) \(arm64.stderr)")
        // Stored under its name too: `plan image inspect` lists the index's platforms.
        let inspect = try TestSupport.plan(["image", "inspect", reference, "--cache-dir", folder + "/cache",
                                            "--insecure-registry", Self.registry])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(inspect.stdout.contains("application/vnd.oci.image.index.v1+json") && inspect.stdout.contains("\"platforms\""),
                "\(inspect.stdout)")
    }
}
