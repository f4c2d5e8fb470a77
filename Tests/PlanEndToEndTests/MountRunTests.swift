import Foundation
import PlanTestKit
import Testing

/// `mounts:` under `plan run` (Fixtures/run/mounts, copied): a bind from the context (its ignore file
/// applied) and from a stage's artifact, read-only unless `rw` and then with the writes discarded, a tmpfs of
/// a given size, an ssh agent's socket with SSH_AUTH_SOCK; the bound content in the step's cache key.
/// Needs root and the test registry, as scripts/test provides.
@Suite(.serialized) struct MountRunTests {
    static var registry: String { ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555" }
    static let fixture = TestSupport.fixtures + "/run/mounts"

    /// A copy of the fixture in a fresh folder: the plan, its context, a cache and outputs beside it.
    static func copy() throws -> String {
        let folder = try TestSupport.temporaryFolder()
        let copy = try TestSupport.run("/bin/cp", ["-a", fixture, folder + "/plan"])
        #expect(copy.status == 0, "\(copy.stderr)")
        return folder
    }

    func run(_ folder: String, _ extra: [String] = []) throws -> TestSupport.ProcessResult {
        try TestSupport.plan(["run", folder + "/plan", "--cache-dir", folder + "/cache", "--progress", "plain",
                              "--insecure-registry", Self.registry, "--arg", "REGISTRY=\(Self.registry)"] + extra)
    }

    /// A listening unix socket at `path` (an ssh agent as far as the step can tell); closed by the caller.
    static func listeningSocket(at path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        #expect(bytes.count < MemoryLayout.size(ofValue: address.sun_path))
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0, "bind \(path): \(String(cString: strerror(errno)))")
        #expect(listen(fd, 1) == 0)
        return fd
    }

    @Test func bindTmpfsAndSSHMountsReachTheStepAndLeaveNothingBehind() throws {
        let folder = try Self.copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let socketPath = folder + "/agent.sock"
        let socket = try Self.listeningSocket(at: socketPath)
        defer { close(socket) }
        let result = try run(folder, ["--ssh", "default=\(socketPath)", "--output", "type=local,dest=\(folder)/rootfs"])
        #expect(result.status == 0, "\(result.stderr)")
        func read(_ name: String) throws -> String { try TestSupport.read(folder + "/rootfs/app/" + name) }
        #expect(try read("from-context") == "app v1\n")
        #expect(try read("listing") == "app.txt\n", "the ignore file applies to binds from the context")
        #expect(try read("from-stage") == "tool-v1\n")
        #expect(try read("read-only") == "read-only\n")
        #expect(try read("rw-seen") == "scribble\n")
        #expect(try read("rw-after") == "gone\n", "the rw mount is gone in the next step")
        #expect(try read("tmpfs-size") == "8388608\n")
        #expect(try read("ssh") == "/run/buildkit/ssh_agent.0\n")
        #expect(try read("ssh-kind") == "socket\n")
        // Each agent mount is a socket of its own with BuildKit's mode and owner (default 0600, root).
        #expect(try read("ssh-owners") == "600 0 0\n660 1000 1000\n")
        // Writes to the rw bind are discarded: the context is as it was; no mount point reached the image.
        #expect(try TestSupport.read(folder + "/plan/context/src/app.txt") == "app v1\n")
        for path in ["/scratch-rw", "/scratch", "/opt/tools", "/app/src", "/run/buildkit"] {
            #expect(!FileManager.default.fileExists(atPath: folder + "/rootfs" + path), "\(path) is in the image")
        }
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/cache/runs")) ?? []
        #expect(runs.isEmpty, "\(runs)")
    }

    /// The same mounts through bubblewrap: `nobody` runs plan (a copy of the binary and the fixture it can reach).
    @Test func withoutRootTheMountsAreTheSame() throws {
        let folder = try Self.copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let setpriv = try TestSupport.tool("setpriv")
        _ = try TestSupport.tool("bwrap")
        let copied = try TestSupport.run("/bin/cp", [TestSupport.planBinary, folder + "/plan-binary"])
        #expect(copied.status == 0, "\(copied.stderr)")
        let socketPath = folder + "/agent.sock"
        let socket = try Self.listeningSocket(at: socketPath)
        defer { close(socket) }
        let owned = try TestSupport.run("/bin/chown", ["-R", "65534:65534", folder])
        #expect(owned.status == 0, "\(owned.stderr)")
        chmod(folder, 0o755)
        let result = try TestSupport.run(setpriv, [
            "--reuid", "65534", "--regid", "65534", "--clear-groups", folder + "/plan-binary", "run", folder + "/plan",
            "--insecure-registry", Self.registry, "--arg", "REGISTRY=\(Self.registry)", "--cache-dir", folder + "/cache",
            "--ssh", "default=\(socketPath)", "--output", "type=local,dest=\(folder)/rootfs",
        ], environment: ["HOME": folder])
        #expect(result.status == 0, "\(result.stderr)")
        var seen = ""
        for name in ["from-context", "listing", "from-stage", "read-only", "rw-seen", "rw-after", "tmpfs-size", "ssh-kind"] {
            seen += name + ": " + ((try? TestSupport.read(folder + "/rootfs/app/" + name)) ?? "missing\n")
        }
        #expect(seen == """
            from-context: app v1
            listing: app.txt
            from-stage: tool-v1
            read-only: read-only
            rw-seen: scribble
            rw-after: gone
            tmpfs-size: 8388608
            ssh-kind: socket

            """)
        #expect(!FileManager.default.fileExists(atPath: folder + "/rootfs/scratch"))
    }

    @Test func withoutAnAgentAnOptionalSSHMountIsLeftOutAndARequiredOneStopsTheRunBeforeBuilding() throws {
        let folder = try Self.copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let optional = try run(folder, ["--output", "type=local,dest=\(folder)/rootfs"])
        #expect(optional.status == 0, "\(optional.stderr)")
        #expect(try TestSupport.read(folder + "/rootfs/app/ssh") == "none\n")
        let plan = try TestSupport.read(folder + "/plan/plan.yaml")
        try plan.replacingOccurrences(of: "- {type: ssh}", with: "- {type: ssh, id: github, required: true}")
            .write(toFile: folder + "/plan/plan.yaml", atomically: true, encoding: .utf8)
        let required = try run(folder)
        #expect(required.status == 2)
        #expect(required.stderr.contains("plan.yaml:19:9: stage `app` needs ssh agent `github` (`required: true`), but no --ssh github"),
                "\(required.stderr)")
        #expect(!required.stderr.contains("[tools] started"))
        let notASocket = try run(folder, ["--ssh", "github=\(folder)/plan/plan.yaml"])
        #expect(notASocket.status == 2)
        #expect(notASocket.stderr.contains("is not a socket"), "\(notASocket.stderr)")
    }

    /// `--explain` lines: "app #1" → whether it hit.
    static func hits(_ stdout: String) -> [String: Bool] {
        var hits: [String: Bool] = [:]
        for line in stdout.split(separator: "\n") where line.hasPrefix("hit  [") || line.hasPrefix("miss [") {
            guard let close = line.firstIndex(of: "]") else { continue }
            hits[String(line[line.index(line.startIndex, offsetBy: 6)..<close])] = line.hasPrefix("hit")
        }
        return hits
    }

    @Test func theStepsCacheKeyHoldsTheBoundContent() throws {
        let folder = try Self.copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = try run(folder, ["--explain"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(Self.hits(first.stdout)["app #1"] == false)
        let again = try run(folder, ["--explain"])
        #expect(Self.hits(again.stdout)["app #1"] == true, "\(again.stdout)")
        // An ignored file is not bound, so it is not an input.
        try TestSupport.write("changed\n", to: folder + "/plan/context/src/skip.tmp")
        #expect(Self.hits(try run(folder, ["--explain"]).stdout)["app #1"] == true)
        try TestSupport.write("app v2\n", to: folder + "/plan/context/src/app.txt")
        let changed = try run(folder, ["--explain", "--output", "type=local,dest=\(folder)/rootfs"])
        #expect(Self.hits(changed.stdout)["app #1"] == false, "\(changed.stdout)")
        #expect(changed.stdout.contains("mount /app/src"), "the reason names the mount: \(changed.stdout)")
        #expect(try TestSupport.read(folder + "/rootfs/app/from-context") == "app v2\n")
    }
}
