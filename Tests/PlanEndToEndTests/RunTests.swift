import Foundation
import PlanTestKit
import Testing

/// `plan run` end to end: outputs, failures, secrets, signals, `add:` and image copies, rootless runs, progress.
/// The comparison with buildah is in PlanInteropTests. Needs root and the test registry, as scripts/test provides.
@Suite(.serialized) struct RunTests {
    static var registry: String { ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555" }
    static let runFixtures = TestSupport.fixtures + "/run"

    /// The image tree helpers live in the test kit (`ImageTree`), shared with PlanInteropTests.
    typealias Built = ImageTree.Built

    static func tree(_ root: String) throws -> [String] { try ImageTree.tree(root) }

    static func unpack(layout: String, name: String, into folder: String) throws -> Built {
        try ImageTree.unpack(layout: layout, name: name, into: folder)
    }

    func run(_ arguments: [String]) throws -> TestSupport.ProcessResult {
        try TestSupport.plan(["run"] + arguments + ["--insecure-registry", Self.registry])
    }

    @Test func localAndArtifactOutputs() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try run([TestSupport.plans + "/registry", "--cache-dir", folder + "/cache",
                              "--output", "type=local,dest=\(folder)/rootfs", "--output", "type=artifacts,dest=\(folder)/artifacts"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try TestSupport.read(folder + "/rootfs/usr/share/registry-demo/BUILD") == "registry-demo 1.0.0\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: folder + "/artifacts/build/bin/hello") == "greet")
        #expect(FileManager.default.fileExists(atPath: folder + "/artifacts/build/share/docs/README.md"))
        #expect(result.stderr.contains("[build] started"))
        // The run folder is gone: no mounts or stage trees stay behind.
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/cache/runs")) ?? []
        #expect(runs.isEmpty, "\(runs)")
    }

    @Test func aFailingRunNamesItsStepExitCodeAndLastLines() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let plan = Self.runFixtures + "/failing/plan.yaml"
        let result = try run([plan, "--target", "broken", "--cache-dir", folder + "/cache"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(plan):11:9: error[E0901]: stage `broken`: `run` exited with status 3"), "\(result.stderr)")
        // stdout and stderr are two streams (runc relays each, as BuildKit does): both lines are shown,
        // in the order they arrived.
        let lastOutput = result.stderr.components(separatedBy: "last output:").last ?? ""
        #expect(lastOutput.contains("    first line\n") && lastOutput.contains("    the problem is here\n"), "\(result.stderr)")
    }

    @Test func aMissingArtifactFailsTheRun() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try run([Self.runFixtures + "/failing", "--target", "missing", "--cache-dir", folder + "/cache"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("error[E0902]: stage `missing`: declared artifact `bin` at `/out/app` was not produced"),
                "\(result.stderr)")
        #expect(result.stderr.contains("note: /out holds: app-linux, bin/"), "\(result.stderr)")
    }

    /// The diagnostics report `--diagnostics-format json` printed to stderr (after the progress lines).
    static func diagnosticsReport(_ stderr: String) throws -> [[String: Any]] {
        let start = try #require(stderr.range(of: "{\n  \"diagnostics\""))
        let object = try JSONSerialization.jsonObject(with: Data(stderr[start.lowerBound...].utf8)) as? [String: Any]
        return object?["diagnostics"] as? [[String: Any]] ?? []
    }

    /// Run failures are diagnostics: the failing step, the missing artifact and the image that cannot be
    /// pulled come with their code and place in the plan, as JSON and as GitHub annotations.
    @Test func runFailuresAreLocatedDiagnosticsInJSONAndGitHubForm() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let plan = Self.runFixtures + "/failing/plan.yaml"
        let pullPlan = folder + "/pull/plan.yaml"
        try TestSupport.write("""
            version: 1
            name: pull
            allow: [root-target]
            stages:
              app:
                from: 127.0.0.1:5555/plan-test/no-such-image:1
                steps:
                  - run: "true"
            targets: [app]

            """, to: pullPlan)
        let cases: [(arguments: [String], code: String, file: String, line: Int, column: Int)] = [
            ([plan, "--target", "broken"], "E0901", plan, 11, 9),
            ([plan, "--target", "missing"], "E0902", plan, 21, 7),
            ([pullPlan], "E0903", pullPlan, 5, 3),
        ]
        for item in cases {
            let json = try run(item.arguments + ["--cache-dir", folder + "/cache", "--progress", "plain", "--diagnostics-format", "json"])
            #expect(json.status == 1)
            let report = try Self.diagnosticsReport(json.stderr)
            #expect(report.count == 1, "\(json.stderr)")
            let first = try #require(report.first)
            let location = first["location"] as? [String: Any]
            #expect(first["code"] as? String == item.code, "\(json.stderr)")
            #expect(location?["file"] as? String == item.file && location?["line"] as? Int == item.line
                        && location?["column"] as? Int == item.column, "\(json.stderr)")
            let github = try run(item.arguments + ["--cache-dir", folder + "/cache", "--progress", "plain", "--diagnostics-format", "github"])
            #expect(github.status == 1)
            #expect(github.stderr.contains("::error file=\(item.file),line=\(item.line),col=\(item.column),title=\(item.code) "),
                    "\(github.stderr)")
        }
    }

    @Test func keepGoingLetsIndependentStagesFinish() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try run([Self.runFixtures + "/failing", "--target", "broken", "--target", "missing", "--keep-going",
                              "--jobs", "1", "--cache-dir", folder + "/cache"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("status 3") && result.stderr.contains("was not produced"), "\(result.stderr)")
    }

    @Test func aSecretReachesNoByteOfAnyOutputLayerOrCache() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let secret = "plan-secret-\(UUID().uuidString)"
        try secret.write(toFile: folder + "/token.txt", atomically: true, encoding: .utf8)
        let result = try run([Self.runFixtures + "/failing", "--target", "secretive", "--cache-dir", folder + "/cache",
                              "--secret", "id=token,src=\(folder)/token.txt",
                              "--output", "type=oci,dest=\(folder)/out/image.tar", "--output", "type=local,dest=\(folder)/out/rootfs",
                              "--progress", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try TestSupport.read(folder + "/out/rootfs/w/length").trimmingCharacters(in: .whitespacesAndNewlines)
                == "\(secret.utf8.count)")
        #expect(try TestSupport.read(folder + "/out/rootfs/w/env-length").trimmingCharacters(in: .whitespacesAndNewlines)
                == "\(secret.utf8.count + 1)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/out/rootfs/run/secrets"))
        let grep = try TestSupport.run("/bin/grep", ["-r", "-a", "-l", secret, folder + "/out", folder + "/cache"])
        #expect(grep.stdout.isEmpty, "the secret is in: \(grep.stdout)")
        #expect(!result.stderr.contains(secret) && !result.stdout.contains(secret))
    }

    /// Ctrl-C, SIGTERM (CI cancellation, `timeout`, Kubernetes) and SIGHUP stop the run alike: no
    /// sandboxed process, mount or run folder is left, and the exit status is 128 + the signal.
    @Test(.serialized, arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143)), (SIGHUP, Int32(129))])
    func aStopSignalStopsTheSandboxesAndCleansUp(signal: Int32, expected: Int32) throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let log = folder + "/stderr"
        let pid = try ChildProcess.spawn(TestSupport.planBinary, [
            "run", Self.runFixtures + "/failing", "--target", "slow", "--cache-dir", folder + "/cache",
            "--insecure-registry", Self.registry, "--progress", "plain",
        ], environment: ProcessInfo.processInfo.environment, stdout: nil, stderr: log)
        // Wait until the step is running, then interrupt.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !((try? TestSupport.read(log))?.contains("[slow] run echo started") ?? false) {
            usleep(50_000)
        }
        Thread.sleep(forTimeInterval: 1)
        let started = Date()
        kill(pid, signal)
        let status = ChildProcess.wait(pid)
        #expect(status == expected, "signal \(signal): \((try? TestSupport.read(log)) ?? "")")
        #expect(Date().timeIntervalSince(started) < 10)
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/cache/runs")) ?? []
        #expect(runs.isEmpty, "leftover run state: \(runs)")
        let mounts = try TestSupport.read("/proc/self/mountinfo").split(separator: "\n").filter { $0.contains(folder + "/cache") }
        #expect(mounts.isEmpty, "leftover mounts: \(mounts)")
        // A process killed a moment ago may still be exiting (its namespaces torn down) on a busy
        // machine: it survived only if it is still there after a grace period.
        var sleeping = try TestSupport.run("/bin/sh", ["-c", "pgrep -f 'slee[p] 30' || true"])
        let grace = Date().addingTimeInterval(5)
        while !sleeping.stdout.isEmpty, Date() < grace {
            usleep(100_000)
            sleeping = try TestSupport.run("/bin/sh", ["-c", "pgrep -f 'slee[p] 30' || true"])
        }
        #expect(sleeping.stdout.isEmpty, "a sandboxed process survived: \(sleeping.stdout)")
    }

    /// A static HTTP server on 127.0.0.1 serving `folder`; stop it with `ChildProcess.stop`.
    static func httpServer(_ folder: String) throws -> (pid_t, Int) {
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        let portFile = folder + "/../port"
        let pid = try ChildProcess.spawn(python, ["-c", """
            import http.server, socketserver, sys, os
            os.chdir(sys.argv[1])
            server = socketserver.TCPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
            with open(sys.argv[2] + ".tmp", "w") as f: f.write(str(server.server_address[1]))
            os.rename(sys.argv[2] + ".tmp", sys.argv[2])
            server.serve_forever()
            """, folder, portFile], environment: ProcessInfo.processInfo.environment, stdout: nil, stderr: nil)
        for _ in 0..<200 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text) { return (pid, port) }
            usleep(25_000)
        }
        ChildProcess.stop(pid)
        throw TestSupport.ToolMissing(name: "an HTTP server on 127.0.0.1 (python3 http.server did not start)")
    }

    @Test func addDownloadsAndChecksAndImageCopiesReadOtherImages() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder + "/served", withIntermediateDirectories: true)
        let payload = "downloaded payload\n"
        try payload.write(toFile: folder + "/served/payload.txt", atomically: true, encoding: .utf8)
        let (server, port) = try Self.httpServer(folder + "/served")
        defer { ChildProcess.stop(server) }
        let sum = try TestSupport.run("/usr/bin/sha256sum", [folder + "/served/payload.txt"]).stdout.prefix(64)
        func plan(checksum: String) -> String {
            """
            version: 1
            allow: [root-target]
            args:
              REGISTRY: "\(Self.registry)"
            stages:
              app:
                from: scratch
                steps:
                  - add: http://127.0.0.1:\(port)/payload.txt
                    checksum: sha256:\(checksum)
                    to: /data/
                  - copy: /bin/busybox
                    image: ${REGISTRY}/plan-test/busybox:stable
                    to: /bin/busybox
            """
        }
        try TestSupport.write(plan(checksum: String(sum)), to: folder + "/good/plan.yaml")
        let good = try run([folder + "/good", "--cache-dir", folder + "/cache", "--output", "type=local,dest=\(folder)/out"])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(try TestSupport.read(folder + "/out/data/payload.txt") == payload)
        let attributes = try FileManager.default.attributesOfItem(atPath: folder + "/out/data/payload.txt")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(FileManager.default.isExecutableFile(atPath: folder + "/out/bin/busybox"))

        try TestSupport.write(plan(checksum: String(repeating: "0", count: 64)), to: folder + "/bad/plan.yaml")
        let bad = try run([folder + "/bad", "--cache-dir", folder + "/cache"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("has checksum sha256:\(sum), not sha256:000"), "\(bad.stderr)")
    }

    @Test func anUnprivilegedUserRunsThePlanInAUserNamespace() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // The folder belongs to `nobody`, who runs plan through bubblewrap.
        #expect(chown(folder, 65534, 65534) == 0)
        chmod(folder, 0o755)
        let setpriv = try TestSupport.tool("setpriv")
        _ = try TestSupport.tool("bwrap")
        // The binary and the plan are copied where `nobody` can reach them, wherever the checkout is.
        // Copied by cp, not in this process: a child another test spawns meanwhile could inherit our
        // descriptor open for writing, and executing the copy would then fail with ETXTBSY.
        let copied = try TestSupport.run("/bin/cp", [TestSupport.planBinary, folder + "/plan"])
        #expect(copied.status == 0, "\(copied.stderr)")
        try FileManager.default.copyItem(atPath: TestSupport.plans + "/registry", toPath: folder + "/registry")
        let result = try TestSupport.run(setpriv, [
            "--reuid", "65534", "--regid", "65534", "--clear-groups", folder + "/plan", "run",
            folder + "/registry", "--insecure-registry", Self.registry, "--cache-dir", folder + "/cache",
            "--output", "type=local,dest=\(folder)/rootfs",
        ], environment: ["HOME": folder])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try TestSupport.read(folder + "/rootfs/usr/share/registry-demo/BUILD") == "registry-demo 1.0.0\n")
        var info = stat()
        #expect(lstat(folder + "/rootfs/app/bin/greet", &info) == 0 && info.st_uid == 65534)

        // Without overlayfs the steps still come from the cache: a changed file rebuilds from its copy on.
        try TestSupport.write("[demo]\ngreeting = changed\n", to: folder + "/registry/config.ini")
        let again = try TestSupport.run(setpriv, [
            "--reuid", "65534", "--regid", "65534", "--clear-groups", folder + "/plan", "run",
            folder + "/registry", "--insecure-registry", Self.registry, "--cache-dir", folder + "/cache",
            "--output", "type=local,dest=\(folder)/rootfs", "--explain",
        ], environment: ["HOME": folder])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stdout.contains("miss [build"), "\(again.stdout)")
        #expect(again.stdout.contains("hit  [app #3] copy build:/out/bin"), "\(again.stdout)")
        #expect(again.stdout.contains("config.ini: config.ini changed"), "\(again.stdout)")
        #expect(try TestSupport.read(folder + "/rootfs/etc/registry-demo/config.ini") == "[demo]\ngreeting = changed\n")
        #expect(try TestSupport.read(folder + "/rootfs/usr/share/registry-demo/BUILD") == "registry-demo 1.0.0\n")
    }

    /// 150 steps that each change a file: deeper than mount(2)'s one page of options can stack, so the
    /// step roots go through the new mount API; every step's file is there, and a rebuild hits them all.
    @Test func aLongChainOfStepsStacksPastTheMountOptionLimit() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let steps = (1...150).map { "      - run: echo \($0) > /steps/\($0)" }.joined(separator: "\n")
        try TestSupport.write("""
            version: 1
            args: {REGISTRY: "127.0.0.1:5555"}
            stages:
              deep:
                from: ${REGISTRY}/plan-test/busybox:stable
                workdir: /steps
                steps:
            \(steps)
            """, to: folder + "/plan/plan.yaml")
        let arguments = [folder + "/plan", "--cache-dir", folder + "/cache", "--arg", "REGISTRY=\(Self.registry)",
                         "--output", "type=local,dest=\(folder)/rootfs", "--explain"]
        let first = try run(arguments)
        #expect(first.status == 0, "\(first.stderr.suffix(2000))")
        for index in [1, 75, 150] {
            #expect((try? TestSupport.read(folder + "/rootfs/steps/\(index)")) == "\(index)\n")
        }
        let second = try run(arguments)
        #expect(second.status == 0, "\(second.stderr.suffix(2000))")
        #expect(!second.stdout.contains("miss "), "\(second.stdout.suffix(2000))")
        #expect(second.stdout.components(separatedBy: "\nhit  ").count == 151, "workdir and 150 runs hit")
    }

    @Test func theImageConfigurationCarriesTheHealthcheck() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TestSupport.write("""
            version: 1
            allow: [root-target]
            stages:
              app:
                from: scratch
                healthcheck:
                  cmd: ["/bin/check", "--quick"]
                  interval: 1m30s
                  timeout: 500ms
                  retries: 4
                entrypoint: ["/bin/app"]
            """, to: folder + "/plan/plan.yaml")
        let result = try run([folder + "/plan", "--cache-dir", folder + "/cache", "--output", "type=oci,dest=\(folder)/layout"])
        #expect(result.status == 0, "\(result.stderr)")
        let built = try Self.unpack(layout: folder + "/layout", name: "latest", into: folder + "/unpacked")
        let health = built.config["Healthcheck"] as? [String: Any]
        #expect(health?["Test"] as? [String] == ["CMD", "/bin/check", "--quick"])
        #expect((health?["Interval"] as? NSNumber)?.int64Value == 90_000_000_000)
        #expect((health?["Timeout"] as? NSNumber)?.int64Value == 500_000_000)
        #expect((health?["Retries"] as? NSNumber)?.intValue == 4)
        #expect(built.config["Entrypoint"] as? [String] == ["/bin/app"])
    }

    @Test func onATerminalProgressIsALiveViewThatFoldsFinishedStages() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let script = try TestSupport.tool("script")
        let command = [TestSupport.planBinary, "run", TestSupport.plans + "/monorepo", "--target", "docs",
                       "--insecure-registry", Self.registry, "--cache-dir", folder + "/cache"].joined(separator: " ")
        let result = try TestSupport.run(script, ["-qec", command, folder + "/typescript"])
        #expect(result.status == 0, "\(result.stderr)")
        let screen = try TestSupport.read(folder + "/typescript")
        #expect(screen.contains("\u{1B}[J"), "the view redraws in place")
        for stage in ["api-build", "web-build", "worker-build", "docs"] {
            #expect(screen.contains("✔\u{1B}[0m \(stage) "), "\(stage) folds into one line")
        }
        #expect(screen.contains("=> [docs] copy api-build:/out/docs"))
        #expect(screen.contains("docs                        "))
    }
}
