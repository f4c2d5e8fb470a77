import Foundation
import Testing

/// `plan run --platform linux/arm64` on an amd64 machine: base images chosen from their index for arm64, steps run
/// under qemu-aarch64 through binfmt_misc, the image says arm64, the cache keeps the platforms apart, and the
/// result equals what `buildah bud --platform linux/arm64` builds. Needs root, the test registry's
/// plan-test/busybox-multi:1 and qemu-aarch64 registered with the F flag, as scripts/test provides.
@Suite(.serialized) struct EmulationRunTests {
    static var registry: String { ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555" }

    static let plan = """
        version: 1
        allow: [root-target]
        args:
          REGISTRY: "127.0.0.1:5555"
        stages:
          app:
            from: ${REGISTRY}/plan-test/busybox-multi:1
            steps:
              - run: uname -m > /arch
        targets: [app]

        """

    /// Skips (fails under CI) on a machine that is not amd64 or has no arm64 emulation.
    func requireEmulation() throws -> Bool {
        #if arch(x86_64)
        let entry = (try? String(contentsOfFile: "/proc/sys/fs/binfmt_misc/qemu-aarch64", encoding: .utf8)) ?? ""
        if entry.hasPrefix("enabled"), entry.contains("flags: ") && entry.split(separator: "\n").contains(where: { $0.hasPrefix("flags:") && $0.contains("F") }) {
            return true
        }
        if ProcessInfo.processInfo.environment["PLAN_TEST_REQUIRE_TOOLS"] == "1" {
            throw TestSupport.ToolMissing(name: "qemu-aarch64 in binfmt_misc with the F flag (scripts/test enables it)")
        }
        return false
        #else
        return false
        #endif
    }

    func run(_ folder: String, _ extra: [String]) throws -> TestSupport.ProcessResult {
        try TestSupport.plan(["run", folder, "--cache-dir", folder + "/cache", "--progress", "plain",
                              "--insecure-registry", Self.registry, "--arg", "REGISTRY=\(Self.registry)"] + extra)
    }

    /// The `config` blob of the one image in an OCI layout.
    func imageConfig(layout: String) throws -> [String: Any] {
        func json(_ path: String) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] ?? [:]
        }
        func blob(_ digest: Any?) -> String { layout + "/blobs/sha256/" + ((digest as? String) ?? "").replacingOccurrences(of: "sha256:", with: "") }
        let index = try json(layout + "/index.json")
        let manifest = try json(blob((index["manifests"] as? [[String: Any]])?.first?["digest"]))
        return try json(blob((manifest["config"] as? [String: Any])?["digest"]))
    }

    @Test("an arm64 build from a two-platform base runs its steps under qemu: uname -m says aarch64, the config says arm64/v8")
    func arm64BuildRunsUnderEmulation() throws {
        guard try requireEmulation() else { return }
        let folder = try TestSupport.project(Self.plan)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let built = try run(folder, ["--platform", "linux/arm64", "--output", "type=local,dest=\(folder)/out",
                                     "--output", "type=oci,dest=\(folder)/layout"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(try TestSupport.read(folder + "/out/arch") == "aarch64\n")
        let config = try imageConfig(layout: folder + "/layout")
        #expect(config["architecture"] as? String == "arm64")
        #expect(config["variant"] as? String == "v8")
        #expect(config["os"] as? String == "linux")
        let index = try TestSupport.read(folder + "/layout/index.json")
        #expect(index.contains("\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}"), "\(index)")

        // buildah runs the written image under the same emulation.
        let buildah = try TestSupport.tool("buildah")
        let skopeo = try TestSupport.tool("skopeo")
        let tag = "localhost/plan-emulation-test:\(UUID().uuidString.lowercased().prefix(8))"
        let copy = try TestSupport.run(skopeo, ["copy", "oci:\(folder)/layout:latest", "containers-storage:\(tag)"])
        #expect(copy.status == 0, "\(copy.stderr)")
        defer { _ = try? TestSupport.run(buildah, ["rmi", "-f", tag]) }
        let from = try TestSupport.run(buildah, ["from", "--quiet", "--pull-never", tag])
        #expect(from.status == 0, "\(from.stderr)")
        let container = from.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? TestSupport.run(buildah, ["rm", container]) }
        let uname = try TestSupport.run(buildah, ["run", "--isolation", "chroot", container, "uname", "-m"])
        #expect(uname.stdout == "aarch64\n", "\(uname.stderr)")
        let file = try TestSupport.run(buildah, ["run", "--isolation", "chroot", container, "cat", "/arch"])
        #expect(file.stdout == "aarch64\n", "\(file.stderr)")
    }

    @Test("one cache, two platforms: the amd64 build does not take the arm64 build's entries, and each hits its own")
    func cacheKeepsPlatformsApart() throws {
        guard try requireEmulation() else { return }
        let folder = try TestSupport.project(Self.plan)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (platform, arch) in [("linux/arm64", "aarch64"), ("linux/amd64", "x86_64")] {
            let out = folder + "/out-" + arch
            let built = try run(folder, ["--platform", platform, "--output", "type=local,dest=\(out)"])
            #expect(built.status == 0, "\(built.stderr)")
            #expect(built.stderr.contains("1 steps: 0 cached, 1 built"), "\(platform): \(built.stderr)")
            #expect(try TestSupport.read(out + "/arch") == arch + "\n")
        }
        for platform in ["linux/arm64/v8", "linux/amd64"] {
            let again = try run(folder, ["--platform", platform])
            #expect(again.stderr.contains("1 steps: 1 cached, 0 built"), "\(platform): \(again.stderr)")
        }
    }

    @Test("the arm64 image equals, tree and config, what buildah bud --platform linux/arm64 builds from the compiled Containerfile")
    func arm64EqualsBuildah() throws {
        guard try requireEmulation() else { return }
        let folder = try TestSupport.project(Self.plan)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try RunTests().differential(folder, target: "app", platform: "linux/arm64")
    }

    @Test("a platform this machine cannot run and plan cannot emulate is an error before building, naming it")
    func unknownEmulationIsRefused() throws {
        let folder = try TestSupport.project(Self.plan)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try run(folder, ["--platform", "linux/mips64le", "--output", "type=local,dest=\(folder)/out"])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("error: cannot build for linux/mips64le"), "\(result.stderr)")
        #expect(!result.stderr.contains("[app] started"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/out"))
        // A build of copies only starts no program of the platform: no emulator needed.
        let copies = try TestSupport.project("""
            version: 1
            allow: [root-target]
            args:
              REGISTRY: unused
            stages:
              app:
                from: scratch
                steps:
                  - copy: app.txt
                    to: /app.txt
            targets: [app]

            """, files: ["app.txt": "app\n"])
        defer { try? FileManager.default.removeItem(atPath: copies) }
        let copied = try run(copies, ["--platform", "linux/mips64le", "--output", "type=oci,dest=\(copies)/layout"])
        #expect(copied.status == 0, "\(copied.stderr)")
        #expect(try imageConfig(layout: copies + "/layout")["architecture"] as? String == "mips64le")
        let malformed = try run(folder, ["--platform", "linux/arm64/v99x"])
        #expect(malformed.status == 2)
        #expect(malformed.stderr.contains("--platform \"linux/arm64/v99x\": `v99x` is not a variant"), "\(malformed.stderr)")
    }

    /// `plan run` as `nobody`, so in the bubblewrap sandbox (SandboxChoice: bubblewrap without root): the
    /// project folder is given to nobody, and the binary copied to a folder of its own that nobody can reach.
    func runWithoutRoot(_ folder: String, _ extra: [String]) throws -> TestSupport.ProcessResult {
        let setpriv = try TestSupport.tool("setpriv")
        _ = try TestSupport.tool("bwrap")
        let box = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: box) }
        chmod(box, 0o755)
        // Copied by cp, not in this process: a child spawned meanwhile could inherit a descriptor open for writing.
        let copied = try TestSupport.run("/bin/cp", [TestSupport.planBinary, box + "/plan"])
        #expect(copied.status == 0, "\(copied.stderr)")
        let given = try TestSupport.run("/bin/chown", ["-R", "65534:65534", folder])
        #expect(given.status == 0, "\(given.stderr)")
        chmod(folder, 0o755)
        return try TestSupport.run(setpriv, [
            "--reuid", "65534", "--regid", "65534", "--clear-groups", box + "/plan", "run", folder,
            "--cache-dir", folder + "/cache", "--progress", "plain",
            "--insecure-registry", Self.registry, "--arg", "REGISTRY=\(Self.registry)",
        ] + extra, environment: ["HOME": folder])
    }

    @Test("without root, in the bubblewrap sandbox: an arm64 step runs under qemu (binfmt_misc's F flag), uname -m says aarch64")
    func arm64StepRunsUnderBubblewrap() throws {
        guard try requireEmulation() else { return }
        guard getuid() == 0 else {
            if ProcessInfo.processInfo.environment["PLAN_TEST_REQUIRE_TOOLS"] == "1" {
                throw TestSupport.ToolMissing(name: "root (to run plan as nobody)")
            }
            return
        }
        let folder = try TestSupport.project(Self.plan)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let built = try runWithoutRoot(folder, ["--platform", "linux/arm64", "--output", "type=local,dest=\(folder)/out"])
        #expect(built.status == 0, "\(built.stderr)")
        // Only the bubblewrap sandbox says this: the run did not use runc.
        #expect(built.stderr.contains("warning: without root"), "\(built.stderr)")
        #expect(try TestSupport.read(folder + "/out/arch") == "aarch64\n")
    }

    @Test("an emulator that is registered but exits 126 on the first step: the failure names the platform and its emulator, under runc (root) and bubblewrap (without root)", arguments: [false, true])
    func brokenEmulatorIsNamed(withoutRoot: Bool) throws {
        #if arch(x86_64)
        guard getuid() == 0, FileManager.default.fileExists(atPath: "/proc/sys/fs/binfmt_misc/register") else {
            if ProcessInfo.processInfo.environment["PLAN_TEST_REQUIRE_TOOLS"] == "1" {
                throw TestSupport.ToolMissing(name: "root and a mounted binfmt_misc")
            }
            return
        }
        let folder = try TestSupport.project("""
            version: 1
            allow: [root-target]
            args:
              REGISTRY: unused
            stages:
              tools:
                from: scratch
                steps:
                  - copy: busybox
                    to: /bin/busybox
                    chmod: "755"
                  - copy: fake-sh
                    to: /bin/sh
                    chmod: "755"
              app:
                from: tools
                steps:
                  - run: "true"
            targets: [app]

            """)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: folder + "/busybox")
        // The start of a riscv64 program: the kernel hands it to the riscv64 handler.
        let riscv64: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0xF3, 0]
        try Data(riscv64).write(to: URL(fileURLWithPath: folder + "/fake-sh"))
        // The "emulator": a static program that exits 126, registered with F for riscv64 programs.
        try "int main(void) { return 126; }\n".write(toFile: folder + "/fake.c", atomically: true, encoding: .utf8)
        let gcc = try TestSupport.tool("gcc")
        let compiled = try TestSupport.run(gcc, ["-static", "-Os", "-o", folder + "/fake-emulator", folder + "/fake.c"])
        #expect(compiled.status == 0, "\(compiled.stderr)")
        let name = "plan-test-fake-riscv64-\(getpid())-\(withoutRoot ? "bwrap" : "runc")"
        let hex = { (bytes: [UInt8]) in bytes.map { String(format: "\\x%02x", $0) }.joined() }
        let mask: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF]
        let registration = ":\(name):M:0:\(hex(riscv64)):\(hex(mask)):\(folder)/fake-emulator:F\n"
        try registration.write(toFile: "/proc/sys/fs/binfmt_misc/register", atomically: false, encoding: .utf8)
        defer { try? "-1".write(toFile: "/proc/sys/fs/binfmt_misc/" + name, atomically: false, encoding: .utf8) }

        let arguments = ["--platform", "linux/riscv64", "--output", "type=local,dest=\(folder)/out"]
        let result = withoutRoot ? try runWithoutRoot(folder, arguments) : try run(folder, arguments)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("plan.yaml:18:9: error[E0904]: stage `app`: `run` exited with status 126: the emulator for linux/riscv64 failed"),
                "\(result.stderr)")
        #expect(result.stderr.contains("update-binfmts --enable qemu-riscv64"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/out"))
        #endif
    }
}
