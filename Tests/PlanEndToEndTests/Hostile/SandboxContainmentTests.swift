import Foundation
import PlanTestKit
import Testing

/// Hostile steps (issue 15, findings 1, 6 and 8) run by `plan run` as root (runc) and as an
/// unprivileged user (bubblewrap): each probe records what it could do inside the root, and the host
/// is checked for canaries outside every root.
@Suite(.serialized) struct SandboxContainmentTests {
    static var registry: String { ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555" }

    /// A static program that `chroot`s into a subfolder, climbs `..` out of it and `chroot`s to where it
    /// ended up, then creates `argv[1]`: on the host when the climb left the sandbox's root.
    static let escape = """
        #include <fcntl.h>
        #include <stdio.h>
        #include <sys/stat.h>
        #include <unistd.h>
        int main(int argc, char **argv) {
            if (argc < 2) return 2;
            mkdir("jail", 0755);
            if (chroot("jail") != 0) { perror("chroot"); return 3; }
            for (int i = 0; i < 64; i++) chdir("..");
            if (chroot(".") != 0) { perror("chroot ."); return 4; }
            int fd = open(argv[1], O_WRONLY | O_CREAT | O_EXCL, 0644);
            if (fd < 0) { perror("open"); return 5; }
            write(fd, "escaped\\n", 8);
            close(fd);
            return 0;
        }
        """

    /// A folder `nobody` can use too, with the plan, the static escape program and a copy of `plan`.
    static func workspace() throws -> String {
        let folder = try TestSupport.temporaryFolder()
        chmod(folder, 0o755)
        try FileManager.default.createDirectory(atPath: folder + "/plan", withIntermediateDirectories: true)
        try escape.write(toFile: folder + "/escape.c", atomically: true, encoding: .utf8)
        let gcc = try TestSupport.tool("gcc")
        let compiled = try TestSupport.run(gcc, ["-static", "-O1", "-o", folder + "/plan/escape", folder + "/escape.c"])
        guard compiled.status == 0 else { throw TestSupport.ToolMissing(name: "gcc -static (libc6-dev): \(compiled.stderr)") }
        let copied = try TestSupport.run("/bin/cp", [TestSupport.planBinary, folder + "/plan-binary"])
        #expect(copied.status == 0, "\(copied.stderr)")
        return folder
    }

    /// A TCP listener on the host's 127.0.0.1 that records every connection in `log`; returns its pid
    /// and port.
    static func listener(log: String) throws -> (pid_t, Int) {
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        let portFile = log + ".port"
        let pid = try ChildProcess.spawn(python, ["-c", """
            import socket, sys
            s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
            open(sys.argv[2], "w").write(str(s.getsockname()[1]))
            while True:
                c, _ = s.accept(); open(sys.argv[1], "a").write("connected\\n"); c.close()
            """, log, portFile], environment: [:], stdout: nil, stderr: nil)
        while true {
            if let text = try? TestSupport.read(portFile), let port = Int(text) { return (pid, port) }
            usleep(20_000)
        }
    }

    /// The probes, each writing what it saw under /r.
    static func plan(port: Int, canary: String, network: String) -> String {
        """
        version: 1
        allow: [root-target]
        args: {REGISTRY: "127.0.0.1:5555"}
        stages:
          probe:
            from: ${REGISTRY}/plan-test/busybox:stable
            workdir: /r
            steps:
              - copy: escape
                to: /r/escape
              - run: /r/escape \(canary) > /r/escape.out 2>&1; echo $? > /r/escape.status
              - run: grep CapEff /proc/self/status | cut -f2 > /r/capeff
              - run: (echo '|/tmp/x' > /proc/sys/kernel/core_pattern) 2>/dev/null && echo written > /r/core || echo refused > /r/core
              - run: (echo 1 > /proc/sysrq-trigger) 2>/dev/null && echo written > /r/sysrq || echo refused > /r/sysrq
              - run: awk '$2 == "/sys" {print $4}' /proc/mounts > /r/sys; cat /proc/timer_list /proc/keys 2>/dev/null | wc -c > /r/masked
              - run: ip addr add 10.254.254.254/32 dev lo 2>/dev/null; ip -o addr show lo > /r/lo
              - run: (echo hello | nc -w 2 127.0.0.1 \(port); echo hello | nc -w 2 10.0.2.2 \(port)) > /dev/null 2>&1; echo done > /r/nc
                network: \(network)
              - run: sleep 3; echo "$TOKEN" | wc -c > /r/token
                secrets:
                  - {id: token, env: TOKEN}
        targets: [probe]
        """
    }

    struct Observed {
        var status: Int32
        var stderr: String
        var connected: Bool
        var secretOnACommandLine: Bool
        var sawTheStep: Bool
        var canaryExists: Bool
        var hostLoBefore: String
        var hostLoAfter: String
        var results: [String: String]
    }

    /// Runs the probe plan (as `nobody` when `rootless`), watching every host process's command line
    /// for the secret while it runs.
    static func probe(rootless: Bool, network: String) throws -> Observed {
        let folder = try workspace()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let canary = folder + "/canary"
        let (listener, port) = try listener(log: folder + "/connections")
        defer { ChildProcess.stop(listener) }
        try plan(port: port, canary: canary, network: network).write(toFile: folder + "/plan/plan.yaml", atomically: true, encoding: .utf8)
        let secret = "plan-secret-\(UUID().uuidString)"
        let loBefore = try TestSupport.run("/sbin/ip", ["-o", "addr", "show", "lo"]).stdout
        var command = [folder + "/plan-binary", "run", folder + "/plan", "--cache-dir", folder + "/cache",
                       "--arg", "REGISTRY=\(registry)", "--insecure-registry", registry,
                       "--secret", "id=token,env=PLAN_PROBE_TOKEN", "--output", "type=local,dest=\(folder)/out",
                       "--no-cache"]
        var environment = ProcessInfo.processInfo.environment
        environment["PLAN_PROBE_TOKEN"] = secret
        environment["HOME"] = folder
        if rootless {
            #expect(chown(folder, 65534, 65534) == 0)
            command = ["--reuid", "65534", "--regid", "65534", "--clear-groups"] + command
        }
        let executable = rootless ? try TestSupport.tool("setpriv") : command.removeFirst()
        let pid = try ChildProcess.spawn(executable, command, environment: environment,
                                         stdout: folder + "/stdout", stderr: folder + "/stderr")
        var sawSecret = false
        var sawStep = false
        var status: Int32 = -1
        while true {
            var raw: Int32 = 0
            let waited = waitpid(pid, &raw, WNOHANG)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where name.allSatisfy(\.isNumber) {
                // Read to the end: procfs reports a size of 0.
                guard let handle = FileHandle(forReadingAtPath: "/proc/\(name)/cmdline") else { continue }
                let data = (try? handle.readToEnd()) ?? Data()
                try? handle.close()
                let line = String(decoding: data, as: UTF8.self)
                if line.contains(secret) { sawSecret = true }
                // The step's shell, alive through the sleep (a last command may replace it).
                if line.contains("sleep 3; echo") { sawStep = true }
            }
            if waited == pid {
                status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
                break
            }
            usleep(20_000)
        }
        var results: [String: String] = [:]
        for name in ["escape.status", "escape.out", "capeff", "core", "sysrq", "sys", "masked", "lo", "nc", "token"] {
            results[name] = (try? TestSupport.read(folder + "/out/r/" + name))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return Observed(status: status, stderr: (try? TestSupport.read(folder + "/stderr")) ?? "",
                        connected: FileManager.default.fileExists(atPath: folder + "/connections"),
                        secretOnACommandLine: sawSecret, sawTheStep: sawStep,
                        canaryExists: FileManager.default.fileExists(atPath: canary),
                        hostLoBefore: loBefore, hostLoAfter: try TestSupport.run("/sbin/ip", ["-o", "addr", "show", "lo"]).stdout,
                        results: results)
    }

    /// Docker's default capabilities (CapEff of a root container): CHOWN DAC_OVERRIDE FOWNER FSETID KILL
    /// SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
    static let dockerCapabilities: UInt64 = 0x0000_0000_a804_25fb

    func expectContained(_ observed: Observed, rootless: Bool) {
        #expect(observed.status == 0, "\(observed.stderr.suffix(3000))")
        let results = observed.results
        #expect(!observed.canaryExists, "the chroot climb wrote the host canary")
        #expect(results["escape.status"] != nil && results["escape.status"] != "0", "\(results)")
        let capabilities = results["capeff"].flatMap { UInt64($0, radix: 16) }
        #expect(capabilities != nil && (capabilities ?? ~0) & ~Self.dockerCapabilities == 0, "CapEff \(results["capeff"] ?? "-")")
        #expect(results["core"] == "refused")
        #expect(results["sysrq"] == "refused")
        let sys = results["sys"] ?? ""
        #expect(sys.isEmpty || sys.hasPrefix("ro"), "sysfs mounted \(sys)")
        #expect(results["masked"] == "0", "/proc/timer_list and /proc/keys are masked")
        #expect(!observed.hostLoAfter.contains("10.254.254.254"), "a step added an address to the host's lo")
        #expect(observed.hostLoBefore == observed.hostLoAfter)
        #expect(results["nc"] == "done")
        #expect(results["token"] != nil && results["token"] != "1", "the env secret reached the step: \(results)")
        #expect(observed.sawTheStep, "the secret step was seen running")
        #expect(!observed.secretOnACommandLine, "the env secret was on a host process's command line")
    }

    @Test func asRootTheDefaultNetworkCannotReachTheHostLoopback() throws {
        let observed = try Self.probe(rootless: false, network: "default")
        expectContained(observed, rootless: false)
        #expect(!observed.connected, "a default-network step reached a listener on the host's 127.0.0.1")
    }

    @Test func rootlessStepsAreContainedToo() throws {
        _ = try TestSupport.tool("bwrap")
        let observed = try Self.probe(rootless: true, network: "default")
        expectContained(observed, rootless: true)
        #expect(!observed.connected, "a default-network step reached a listener on the host's 127.0.0.1")
    }

    /// Another user made `TMPDIR/plan-secrets-PID` first (the shell that becomes plan knows its pid):
    /// plan neither writes the secret there nor removes that user's folder.
    @Test func theSecretsFolderIsNeverOneAnotherUserMadeFirst() throws {
        let folder = try Self.workspace()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder + "/tmp", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o1777])
        try """
            version: 1
            allow: [root-target]
            args: {REGISTRY: "127.0.0.1:5555"}
            stages:
              probe:
                from: ${REGISTRY}/plan-test/busybox:stable
                steps:
                  - run: echo "$TOKEN" | wc -c > /length
                    secrets:
                      - {id: token, env: TOKEN}
            targets: [probe]
            """.write(toFile: folder + "/plan/plan.yaml", atomically: true, encoding: .utf8)
        let secret = "plan-secret-\(UUID().uuidString)"
        let result = try TestSupport.run("/bin/sh", ["-c", """
            others="$TMPDIR/plan-secrets-$$"
            mkdir -m 0777 "$others" && chown 65534:65534 "$others" && exec "$@"
            """, "sh", folder + "/plan-binary", "run", folder + "/plan", "--cache-dir", folder + "/cache",
            "--arg", "REGISTRY=\(Self.registry)", "--insecure-registry", Self.registry,
            "--secret", "id=token,env=PLAN_PROBE_TOKEN", "--output", "type=local,dest=\(folder)/out"],
            environment: ["TMPDIR": folder + "/tmp", "PLAN_PROBE_TOKEN": secret])
        #expect(result.status == 0, "\(result.stderr)")
        #expect((try? TestSupport.read(folder + "/out/length"))?.trimmingCharacters(in: .whitespacesAndNewlines)
                == "\(secret.utf8.count + 1)")
        let others = try FileManager.default.contentsOfDirectory(atPath: folder + "/tmp").filter { $0.hasPrefix("plan-secrets-") }
        #expect(others.count == 1, "the other user's folder is kept, plan's own is gone: \(others)")
        for name in others {
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/tmp/" + name).isEmpty,
                    "plan wrote into a folder another user made")
        }
    }

    @Test func networkHostIsTheHostsNetwork() throws {
        let observed = try Self.probe(rootless: false, network: "host")
        expectContained(observed, rootless: false)
        #expect(observed.connected, "a network: host step did not reach the host's 127.0.0.1")
    }
}
