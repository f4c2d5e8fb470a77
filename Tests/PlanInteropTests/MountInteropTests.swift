import Foundation
import Testing

/// `mounts:` compiled (Fixtures/run/mounts): golden in both dialects, read by BuildKit's own parser, passed by
/// hadolint (the BuildKit dialect), and built by buildah with the same results in the step as `plan run` gets.
@Suite struct MountInteropTests {
    static let fixture = TestSupport.fixtures + "/run/mounts"

    struct ParsedInstruction: Decodable {
        var cmd: String
        var flags: [String]
    }

    @Test("the mounts fixture compiles to its golden Dockerfiles, which BuildKit's parser reads and hadolint passes")
    func compiledMounts() throws {
        let parser = TestSupport.repoRoot + "/scripts/dockerfile-parse"
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        let hadolint = try TestSupport.tool("hadolint", environment: "PLAN_TEST_HADOLINT")
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for dialect in ["buildkit", "portable"] {
            let path = folder + "/\(dialect).Dockerfile"
            let compile = try TestSupport.plan(["compile", Self.fixture, "--dialect", dialect, "--werror", "-o", path])
            #expect(compile.status == 0, "\(dialect): \(compile.stderr)")
            try TestSupport.expectGolden(try TestSupport.read(path), "mounts.\(dialect).Dockerfile")
            let parsed = try TestSupport.run(python, [parser, "--strict", path])
            #expect(parsed.status == 0, "\(dialect): \(parsed.stderr)")
            let runs = try JSONDecoder().decode([ParsedInstruction].self, from: Data(parsed.stdout.utf8))
                .filter { $0.cmd.lowercased() == "run" }
            let size = dialect == "portable" ? "tmpfs-size" : "size"
            #expect(runs.count == 3)
            #expect(runs.dropFirst().first?.flags == [
                "--mount=type=bind,source=src,target=/app/src", "--mount=type=bind,from=tools,source=/out,target=/opt/tools",
                "--mount=type=bind,source=src,target=/scratch-rw,rw", "--mount=type=tmpfs,target=/scratch,\(size)=8388608",
                "--mount=type=ssh", "--mount=type=ssh,target=/run/agent-1000.sock,mode=0660,uid=1000,gid=1000",
            ])
            // hadolint knows BuildKit's `size=` only; the portable dialect's `tmpfs-size=` is what buildah 1.28 takes.
            guard dialect == "buildkit" else { continue }
            let lint = try TestSupport.run(hadolint, ["--no-color", "-f", "json", path], in: NSTemporaryDirectory())
            #expect(lint.status == 0 && lint.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]", "\(dialect): \(lint.stdout)")
        }
    }

    @Test("buildah builds the portable Dockerfile with the step seeing what it sees under plan run")
    func buildahAgreesWithPlanRun() throws {
        let buildah = try TestSupport.tool("buildah")
        let registry = ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555"
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let copy = try TestSupport.run("/bin/cp", ["-a", Self.fixture, folder + "/plan"])
        #expect(copy.status == 0, "\(copy.stderr)")
        let socketPath = folder + "/agent.sock"
        let socket = try MountSockets.listening(at: socketPath)
        defer { close(socket) }

        let run = try TestSupport.plan(["run", folder + "/plan", "--cache-dir", folder + "/cache", "--ssh", "default=\(socketPath)",
                                        "--insecure-registry", registry, "--arg", "REGISTRY=\(registry)",
                                        "--output", "type=local,dest=\(folder)/rootfs"])
        #expect(run.status == 0, "\(run.stderr)")

        let containerfile = folder + "/plan/Containerfile"
        let compile = try TestSupport.plan(["compile", folder + "/plan", "--dialect", "portable", "--arg", "REGISTRY=\(registry)",
                                            "-o", containerfile])
        #expect(compile.status == 0, "\(compile.stderr)")
        let tag = "localhost/plan-test-mounts:\(UUID().uuidString.lowercased().prefix(8))"
        let build = try TestSupport.run(buildah, [
            "bud", "--isolation", "chroot", "--tls-verify=false", "--layers=false", "--ssh", "default=\(socketPath)",
            "--ignorefile", containerfile + ".dockerignore", "-f", containerfile, "-t", tag, folder + "/plan/context",
        ])
        #expect(build.status == 0, "buildah bud failed:\n\(build.stdout.suffix(3000))\n\(build.stderr.suffix(3000))")
        guard build.status == 0 else { return }
        defer { _ = try? TestSupport.run(buildah, ["rmi", "-f", tag]) }
        let container = try TestSupport.run(buildah, ["from", "--isolation", "chroot", tag])
        let name = container.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? TestSupport.run(buildah, ["rm", name]) }
        let listing = try TestSupport.run(buildah, ["run", "--isolation", "chroot", name, "--", "sh", "-c",
                                                    "for f in /app/*; do [ $f = /app/ssh-owners ] || echo \"$f: $(cat $f)\"; done"])
        var expected = ""
        // Not compared: the agent sockets' modes (buildah makes the default one 0620, BuildKit and plan 0600).
        for file in try FileManager.default.contentsOfDirectory(atPath: folder + "/rootfs/app").sorted() where file != "ssh-owners" {
            let text = try TestSupport.read(folder + "/rootfs/app/" + file)
            expected += "/app/\(file): \(text.hasSuffix("\n") ? String(text.dropLast()) : text)\n"
        }
        // buildah 1.28 binds context files the ignore file excludes; BuildKit, and plan with it, leave them out.
        #expect(listing.stdout.replacingOccurrences(of: "app.txt\nskip.tmp\n", with: "app.txt\n") == expected, "\(listing.stderr)")
        #expect(expected.contains("/app/ssh-kind: socket") && expected.contains("/app/tmpfs-size: 8388608"))
    }
}

/// A unix socket that listens (an ssh agent as far as a step or buildah can tell).
enum MountSockets {
    static func listening(at path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        #expect(bytes.count < MemoryLayout.size(ofValue: address.sun_path))
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() where index < buffer.count - 1 { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0, "bind \(path): \(String(cString: strerror(errno)))")
        #expect(listen(fd, 8) == 0)
        return fd
    }
}
