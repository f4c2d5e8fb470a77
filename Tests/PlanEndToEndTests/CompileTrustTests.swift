import Foundation
import PlanCompiler
import PlanDiagnostics
import Testing

/// Plans that used to pass silently or mislead: required arguments, ignore files, secrets as variables,
/// help lines. Each test fails without its fix.
@Suite struct CompileTrustTests {
    static let requiredArgument = """
        version: 1
        allow: [root-target]
        args:
          APP_VERSION:
        stages:
          app:
            from: alpine:3.20
            env:
              VERSION: ${APP_VERSION}

        """

    @Test("a required argument without a value fails check, compile and run, located, before building")
    func requiredArgumentIsEnforced() throws {
        let folder = try TestSupport.project(Self.requiredArgument)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for command in ["check", "compile", "run"] {
            var arguments = [command, folder]
            if command == "run" { arguments += ["--cache-dir", folder + "/cache", "--output", "type=local,dest=\(folder)/out"] }
            let result = try TestSupport.plan(arguments)
            #expect(result.status == 1, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("\(folder)/plan.yaml:4:3: error[E0405]: build argument `APP_VERSION` must be given"),
                    "\(command): \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(command) wrote: \(result.stdout)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/out"))
        // Commands that only inspect the plan do not need the value.
        let graph = try TestSupport.plan(["graph", folder])
        #expect(graph.status == 0, "\(graph.stderr)")
        for spelling in ["--arg", "--build-arg"] {
            let given = try TestSupport.plan(["compile", folder, spelling, "APP_VERSION=1.2.3"])
            #expect(given.status == 0, "\(given.stderr)")
            #expect(given.stdout.contains("ARG APP_VERSION=1.2.3"))
        }
    }

    // MARK: Ignore files (13.7)

    static let copiesEverything = """
        version: 1
        allow: [root-target]
        ignore: [plan.yaml]
        stages:
          app:
            from: alpine:3.20
            workdir: /app
            steps:
              - copy: .

        """

    @Test("compile -o FILE writes FILE.dockerignore, where builders read it, and nothing else")
    func ignoreFileBesideTheDockerfile() throws {
        let folder = try TestSupport.project(Self.copiesEverything)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try TestSupport.plan(["compile", folder, "-o", folder + "/build/Dockerfile"])
        #expect(result.status == 0, "\(result.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder + "/build").sorted()
        #expect(files == ["Dockerfile", "Dockerfile.dockerignore"])
        #expect(try TestSupport.read(folder + "/build/Dockerfile.dockerignore").contains("\nplan.yaml\n"))
    }

    @Test("compile to standard output says that no ignore file was written")
    func standardOutputNotesTheMissingIgnoreFile() throws {
        let folder = try TestSupport.project(Self.copiesEverything)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try TestSupport.plan(["compile", folder])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("# syntax="))
        #expect(result.stderr.contains("note: the plan's ignore patterns were not written"), "\(result.stderr)")
        // --dockerignore writes it, and the note goes away.
        let written = try TestSupport.plan(["compile", folder, "--dockerignore", folder + "/out/Dockerfile.dockerignore"])
        #expect(written.status == 0, "\(written.stderr)")
        #expect(written.stderr.isEmpty, "\(written.stderr)")
        #expect(written.stdout == result.stdout)
        #expect(try TestSupport.read(folder + "/out/Dockerfile.dockerignore").hasSuffix("\nplan.yaml\n"))
    }

    @Test("a hand-written .dockerignore at the context root is honoured: checked, and compiled into the ignore file")
    func contextDockerignoreIsHonoured() throws {
        let folder = try TestSupport.project(Self.copiesEverything, files: [
            ".dockerignore": "# local secrets\n  secret.env  \n",
            "secret.env": "TOKEN=hunter2\n",
            "app.txt": "app\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try TestSupport.plan(["compile", folder, "-o", folder + "/build/Dockerfile"])
        #expect(result.status == 0, "\(result.stderr)")
        let ignore = try TestSupport.read(folder + "/build/Dockerfile.dockerignore")
        #expect(ignore.contains("\nsecret.env\nplan.yaml\n"), "\(ignore)")
        // A copy of an ignored file is an error located in the plan, as for the plan's own `ignore`.
        try TestSupport.write(Self.copiesEverything.replacingOccurrences(of: "- copy: .", with: "- copy: secret.env"),
                              to: folder + "/plan.yaml")
        let check = try TestSupport.plan(["check", folder])
        #expect(check.status == 1)
        #expect(check.stderr.contains("error[E0502]"), "\(check.stderr)")
    }
}
