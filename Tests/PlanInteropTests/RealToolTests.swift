import Foundation
import PlanCompiler
import Testing

/// The compiled examples against the real tools: BuildKit's own parser, hadolint, and a real build with
/// buildah pulling from the reference registry on 127.0.0.1. A missing tool fails these tests.
@Suite struct RealToolTests {
    /// Rules hadolint may report on the examples, each for a reason:
    /// DL3008 — pinning Debian package versions breaks whenever the mirror moves on; the base image tag
    /// already pins the distribution.
    static let hadolintIgnores = ["DL3008"]

    static func compiled(_ plan: String, dialect: String) throws -> String {
        let folder = try TestSupport.temporaryFolder()
        let path = folder + "/Dockerfile"
        let result = try TestSupport.plan(["compile", "plans/\(plan)", "--dialect", dialect, "-o", path])
        guard result.status == 0 else {
            Issue.record("compile \(plan) failed: \(result.stderr)")
            return path
        }
        return path
    }

    struct ParsedInstruction: Decodable {
        var cmd: String
        var value: [String]
        var flags: [String]
    }

    @Test("every compiled example parses with BuildKit's parser", arguments: TestSupport.examplePlans())
    func buildkitParser(_ plan: String) throws {
        let parser = TestSupport.repoRoot + "/scripts/dockerfile-parse"
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        for dialect in ["buildkit", "portable"] {
            let path = try Self.compiled(plan, dialect: dialect)
            defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
            let result = try TestSupport.run(python, [parser, "--strict", path])
            #expect(result.status == 0, "\(plan) (\(dialect)): \(result.stderr)")
            let instructions = try JSONDecoder().decode([ParsedInstruction].self, from: Data(result.stdout.utf8))
            let froms = instructions.filter { $0.cmd.lowercased() == "from" }
            let compiled = try TestSupport.read(path)
            #expect(froms.count == compiled.components(separatedBy: "\nFROM ").count - 1)
            // Every stage is named, and no instruction is unknown to BuildKit.
            for from in froms { #expect(from.value.count == 3 && from.value[1].lowercased() == "as") }
        }
    }

    @Test("BuildKit joins continuation lines, so an ENV or LABEL value cannot carry a line break (why E0611 refuses)")
    func lineBreaksCannotBeCarried() throws {
        let parser = TestSupport.repoRoot + "/scripts/dockerfile-parse"
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Escaped with a continuation, the line break is gone; written raw, the next line is an instruction.
        try TestSupport.write("FROM scratch\nENV A=\"one\\\ntwo\"\nLABEL b=\"one\nRUN two\"\n", to: folder + "/Dockerfile")
        let result = try TestSupport.run(python, [parser, folder + "/Dockerfile"])
        #expect(result.status == 0, "\(result.stderr)")
        let instructions = try JSONDecoder().decode([ParsedInstruction].self, from: Data(result.stdout.utf8))
        let env = instructions.first { $0.cmd.lowercased() == "env" }
        #expect(env?.value.contains { $0.contains("\n") } == false, "\(instructions.map(\.value))")
        #expect(instructions.map { $0.cmd.lowercased() } == ["from", "env", "label", "run"])
        // And plan refuses such values, located.
        let plan = try TestSupport.compile(["plan.yaml": """
            version: 1
            allow: [root-target]
            stages:
              app:
                from: alpine:3.20
                labels: {description: "one\\ntwo"}

            """])
        #expect(plan.graph == nil)
        #expect(plan.diagnostics.map(\.code.id) == ["E0611"])
    }

    @Test("every compiled example passes hadolint", arguments: TestSupport.examplePlans())
    func hadolint(_ plan: String) throws {
        let hadolint = try TestSupport.tool("hadolint", environment: "PLAN_TEST_HADOLINT")
        for dialect in ["buildkit", "portable"] {
            let path = try Self.compiled(plan, dialect: dialect)
            defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
            let ignores = Self.hadolintIgnores.flatMap { ["--ignore", $0] }
            let result = try TestSupport.run(hadolint, ["--no-color", "-f", "json"] + ignores + [path],
                                             in: NSTemporaryDirectory())
            #expect(result.status == 0, "\(plan) (\(dialect)): \(result.stdout)")
            #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        }
    }

    @Test("a heredoc is followed by an empty line, which hadolint's parser needs")
    func heredocForHadolint() throws {
        let hadolint = try TestSupport.tool("hadolint", environment: "PLAN_TEST_HADOLINT")
        let path = try Self.compiled("registry", dialect: "buildkit")
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let text = try TestSupport.read(path)
        #expect(text.contains("<<EOF\n"))
        #expect(text.contains("\nEOF\n\n"))
        let result = try TestSupport.run(hadolint, ["--no-color", path], in: NSTemporaryDirectory())
        #expect(result.status == 0, "\(result.stdout)")
    }

    @Test("the registry example, compiled portable, builds with buildah from the local registry and runs")
    func buildahBuild() throws {
        let buildah = try TestSupport.tool("buildah")
        let registry = ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555"
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // The context is a copy of the example; the ignore file is written as Containerfile.dockerignore.
        let context = folder + "/context"
        try FileManager.default.copyItem(atPath: TestSupport.plans + "/registry", toPath: context)
        try "scratch file the ignore list must keep out\n".write(toFile: context + "/notes.tmp", atomically: true, encoding: .utf8)
        let compile = try TestSupport.plan([
            "compile", context + "/plan.yaml", "--dialect", "portable", "--arg", "REGISTRY=\(registry)",
            "--arg", "GREETING=howdy", "-o", context + "/Containerfile",
        ])
        #expect(compile.status == 0, "\(compile.stderr)")
        let tag = "localhost/plan-test-registry-demo:\(UUID().uuidString.lowercased().prefix(8))"
        let build = try TestSupport.run(buildah, [
            "bud", "--isolation", "chroot", "--tls-verify=false", "--layers=false", "-f", context + "/Containerfile",
            "-t", tag, context,
        ])
        #expect(build.status == 0, "buildah bud failed:\n\(build.stdout.suffix(3000))\n\(build.stderr.suffix(3000))")
        guard build.status == 0 else { return }
        defer { _ = try? TestSupport.run(buildah, ["rmi", "-f", tag]) }

        let container = try TestSupport.run(buildah, ["from", "--isolation", "chroot", tag])
        #expect(container.status == 0, "\(container.stderr)")
        let name = container.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? TestSupport.run(buildah, ["rm", name]) }
        let greet = try TestSupport.run(buildah, ["run", "--isolation", "chroot", name, "--", "hello", "tester"])
        #expect(greet.stdout == "howdy, tester\n", "\(greet.stderr)")
        let listing = try TestSupport.run(buildah, [
            "run", "--isolation", "chroot", name, "--", "sh", "-c",
            "stat -c '%n %U %a' /app/bin/greet /etc/registry-demo/config.ini; readlink /app/bin/hello; "
                + "cat /usr/share/registry-demo/BUILD; id -u; pwd; ls /src 2>&1 | head -1",
        ])
        #expect(listing.stdout == """
            /app/bin/greet app 755
            /etc/registry-demo/config.ini app 640
            greet
            registry-demo 1.0.0
            1000
            /app
            ls: /src: No such file or directory

            """, "\(listing.stderr)")

        // The image configuration carries what the plan declared.
        let inspect = try TestSupport.run(buildah, ["inspect", "--type", "image", tag])
        #expect(inspect.stdout.contains("\"org.opencontainers.image.title\": \"registry-demo\""))
        #expect(inspect.stdout.contains("\"8080/tcp\""))
        #expect(inspect.stdout.contains("\"StopSignal\": \"SIGTERM\""))
    }

    @Test("buildah reads the ignore file compile writes beside the Containerfile, with the context's own .dockerignore in it")
    func buildahHonoursTheIgnoreFiles() throws {
        let buildah = try TestSupport.tool("buildah")
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let context = folder + "/context"
        try TestSupport.write("""
            version: 1
            allow: [root-target]
            ignore: [plan.yaml, build, "*.tmp"]
            stages:
              app:
                from: scratch
                workdir: /app
                steps:
                  - copy: .

            """, to: context + "/plan.yaml")
        try TestSupport.write("secret.env\n", to: context + "/.dockerignore")
        for (name, text) in ["secret.env": "TOKEN=hunter2\n", "notes.tmp": "scratch\n", "app.txt": "app\n"] {
            try TestSupport.write(text, to: context + "/" + name)
        }
        let compile = try TestSupport.plan([
            "compile", context, "--dialect", "portable", "-o", context + "/build/Containerfile",
        ])
        #expect(compile.status == 0, "\(compile.stderr)")
        let tag = "localhost/plan-test-ignore:\(UUID().uuidString.lowercased().prefix(8))"
        let build = try TestSupport.run(buildah, [
            "bud", "--isolation", "chroot", "--layers=false", "-f", context + "/build/Containerfile", "-t", tag, context,
        ])
        #expect(build.status == 0, "buildah bud failed:\n\(build.stderr.suffix(3000))")
        guard build.status == 0 else { return }
        defer { _ = try? TestSupport.run(buildah, ["rmi", "-f", tag]) }
        let container = try TestSupport.run(buildah, ["from", tag])
        let name = container.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? TestSupport.run(buildah, ["rm", name]) }
        let mount = try TestSupport.run(buildah, ["mount", name])
        let root = mount.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(mount.status == 0 && !root.isEmpty, "\(mount.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: root + "/app").sorted()
        // Neither the plan's `ignore` (*.tmp) nor the context's .dockerignore (secret.env) reached the image.
        #expect(files == [".dockerignore", "app.txt"], "\(files)")
    }
}
