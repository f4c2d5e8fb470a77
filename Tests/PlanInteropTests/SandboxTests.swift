import Foundation
import PlanExecutor
import Testing

/// The namespace sandbox on a small root filesystem made from the host's static busybox.
@Suite struct SandboxTests {
    /// A root filesystem with busybox, a passwd with `app` (1000) and a group `staff` holding it.
    static func busyboxRoot() throws -> String {
        let root = try TestSupport.temporaryFolder()
        let busybox = try TestSupport.tool("busybox")
        try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/work", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o1777])
        // Copied by a child process: a descriptor this process held open for writing could leak into
        // a sandbox another test starts meanwhile, and exec would then fail with "text file busy".
        let copied = try TestSupport.run("/bin/cp", [busybox, root + "/bin/busybox"])
        guard copied.status == 0 else { throw TestSupport.ToolMissing(name: "cp: \(copied.stderr)") }
        for applet in ["sh", "id", "ls", "cat", "touch", "hostname", "ip", "ps", "echo", "pwd", "stat", "sleep", "mkdir", "grep", "tr", "cut"] {
            try FileManager.default.createSymbolicLink(atPath: root + "/bin/" + applet, withDestinationPath: "busybox")
        }
        try "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
            .write(toFile: root + "/etc/passwd", atomically: true, encoding: .utf8)
        try "root:x:0:\napp:x:1000:\nstaff:x:50:app\n".write(toFile: root + "/etc/group", atomically: true, encoding: .utf8)
        return root
    }

    final class Collected: @unchecked Sendable {
        private var data = Data()
        private let lock = NSLock()
        func add(_ more: Data) { lock.lock(); data.append(more); lock.unlock() }
        var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
    }

    func run(_ script: String, root: String, user: String = "root", network: SandboxNetwork = .default,
             mounts: [SandboxMount] = [], workdir: String = "/work") async throws -> (Int32, String) {
        let resolved = try UserDatabase(root: root).resolve(user)
        let output = Collected()
        let state = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let sandbox = try #require(RuncSandbox.find())
        let status = try await sandbox.run(
            SandboxRequest(rootfs: root, arguments: ["/bin/sh", "-c", script],
                           environment: ["PATH=/bin", "HOME=\(resolved.home)", "GREETING=hi there"],
                           workingDirectory: workdir, user: resolved, network: network, mounts: mounts, stateDirectory: state),
            output: { output.add($0) })
        return (status, output.text)
    }

    @Test func runsAsTheStepUserInTheWorkdirWithItsEnvironment() async throws {
        let root = try Self.busyboxRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (status, output) = try await run("id -u; id -g; pwd; echo \"$GREETING\"; hostname; touch /work/made; stat -c '%u:%g' /work/made",
                                             root: root, user: "app")
        #expect(status == 0)
        #expect(output == "1000\n1000\n/work\nhi there\nplan\n1000:1000\n", "\(output)")
        var info = stat()
        #expect(lstat(root + "/work/made", &info) == 0 && info.st_uid == 1000)
    }

    @Test func processesSeeTheirOwnPidNamespaceProcAndDev() async throws {
        let root = try Self.busyboxRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (status, output) = try await run("echo $$; ls /proc/1/status >/dev/null && echo proc; echo x > /dev/null && echo dev",
                                             root: root)
        #expect(status == 0)
        #expect(output == "1\nproc\ndev\n", "\(output)")
        // Mount points the sandbox made are gone again, so they never reach a layer.
        #expect(!FileManager.default.fileExists(atPath: root + "/proc"))
        #expect(!FileManager.default.fileExists(atPath: root + "/dev"))
    }

    @Test func exitStatusAndNetworkNone() async throws {
        let root = try Self.busyboxRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try await run("exit 7", root: root).0 == 7)
        let (_, links) = try await run("ip -o link | cut -d: -f2", root: root, network: .none)
        #expect(!links.contains("eth"), "\(links)")
    }

    @Test func otherUsersHoldNoCapabilityAndCannotGainAny() async throws {
        let root = try Self.busyboxRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let script = "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\\t ' ' '"
        let (status, output) = try await run(script, root: root, user: "app")
        #expect(status == 0)
        #expect(output == "CapEff: 0000000000000000\nCapBnd: 00000000a80425fb\nNoNewPrivs: 1\nSeccomp: 2\n", "\(output)")
        let (_, rootOutput) = try await run(script, root: root)
        #expect(rootOutput == "CapEff: 00000000a80425fb\nCapBnd: 00000000a80425fb\nNoNewPrivs: 0\nSeccomp: 2\n", "\(rootOutput)")
    }

    @Test func theDefaultNetworkIsANamespaceOfItsOwnWithSlirp() async throws {
        _ = try TestSupport.tool("slirp4netns")
        let root = try Self.busyboxRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (status, output) = try await run("ip -o link | cut -d: -f2 | tr -d ' '; cat /etc/resolv.conf", root: root)
        #expect(status == 0)
        #expect(output == "lo\ntap0\nnameserver 10.0.2.3\n", "\(output)")
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/resolv.conf"), "the mount point is removed")

        // An image's resolv.conf that links out of the root is left alone: no mount point on the host.
        let outside = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: outside) }
        try FileManager.default.createSymbolicLink(atPath: root + "/etc/resolv.conf", withDestinationPath: outside + "/canary")
        let (linked, _) = try await run("true", root: root)
        #expect(linked == 0)
        #expect(!FileManager.default.fileExists(atPath: outside + "/canary"), "a mount point was made outside the root")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/etc/resolv.conf")) == outside + "/canary")
    }

    @Test func bindMountsAreVisibleAndReadOnlyWhenAsked() async throws {
        let root = try Self.busyboxRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let secret = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: secret) }
        try "s3cret".write(toFile: secret + "/token", atomically: true, encoding: .utf8)
        let (status, output) = try await run(
            "cat /run/secrets/token; echo; touch /run/secrets/token 2>/dev/null && echo writable || echo read-only",
            root: root, mounts: [SandboxMount(source: secret + "/token", target: "/run/secrets/token", readOnly: true)])
        #expect(status == 0)
        #expect(output == "s3cret\nread-only\n", "\(output)")
        #expect(!FileManager.default.fileExists(atPath: root + "/run"), "the mount point is removed")
    }

    @Test func unknownUsersAreErrorsAndNumericOnesRunWithGroupZero() throws {
        let root = try Self.busyboxRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let database = UserDatabase(root: root)
        #expect(throws: UserDatabase.Failure.unknownUser("nobody")) { try database.resolve("nobody") }
        #expect(try database.resolve("4242") == ResolvedUser(uid: 4242, gid: 0, groups: [], home: "/"))
        #expect(try database.resolve("app") == ResolvedUser(uid: 1000, gid: 1000, groups: [50], home: "/home/app"))
        #expect(try database.resolve("app:staff").gid == 50)
        #expect(try database.resolve("") == ResolvedUser(uid: 0, gid: 0, groups: [], home: "/root"))
    }
}
