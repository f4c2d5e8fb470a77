import Foundation
import Testing

/// The `plan` command line: exit codes, outputs, atomic writes.
@Suite struct CLITests {
    @Test func helpExitsZeroWithExamples() throws {
        let result = try TestSupport.plan(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("Examples:"))
        #expect(result.stdout.contains("plan compile plans/site/plan.yaml -o build/Dockerfile"))
        let compileHelp = try TestSupport.plan(["compile", "--help"])
        #expect(compileHelp.status == 0)
        #expect(compileHelp.stdout.contains("--dialect"))
        #expect(compileHelp.stdout.contains("--werror"))
    }

    /// Every command's examples fit an 80-column terminal: a long one continues with `\`, never
    /// wrapped by the help printer in the middle of a command.
    @Test func helpExamplesDoNotWrapMidCommand() throws {
        let commands = [[], ["check"], ["compile"], ["graph"], ["affected"], ["run"], ["cache"], ["cache", "du"],
                        ["cache", "ls"], ["cache", "prune"], ["image"], ["image", "pull"], ["image", "inspect"],
                        ["image", "unpack"], ["image", "push"], ["image", "copy"]]
        for command in commands {
            let help = try TestSupport.run(TestSupport.planBinary, command + ["--help"], environment: ["COLUMNS": "80"],
                                           input: Data())
            #expect(help.status == 0, "\(command): \(help.stderr)")
            var inExamples = false
            var examples = 0
            for line in help.stdout.split(separator: "\n", omittingEmptySubsequences: false) {
                if line == "Examples:" { inExamples = true; continue }
                if line.isEmpty { inExamples = false }
                guard inExamples else { continue }
                examples += 1
                #expect(line.hasPrefix("  plan ") || line.hasPrefix("      --"), "plan \(command.joined(separator: " ")) --help wraps: `\(line)`")
                #expect(line.count <= 80)
            }
            if command.isEmpty || command == ["run"] || command == ["image"] { #expect(examples > 2, "\(command)") }
        }
    }

    @Test func aMisspeltCommandSuggestsTheNearestName() throws {
        let compil = try TestSupport.plan(["compil", "plans/site"])
        #expect(compil.status == 2)
        #expect(compil.stderr.hasPrefix("error: plan has no command `compil`; did you mean `compile`?\n"), "\(compil.stderr)")
        #expect(compil.stderr.contains("help: its commands are `check`, `compile`"), "\(compil.stderr)")
        let prun = try TestSupport.plan(["cache", "prun"])
        #expect(prun.status == 2)
        #expect(prun.stderr.hasPrefix("error: plan cache has no command `prun`; did you mean `prune`?"), "\(prun.stderr)")
        let unrelated = try TestSupport.plan(["frobnicate"])
        #expect(unrelated.status == 2)
        #expect(unrelated.stderr.hasPrefix("error: plan has no command `frobnicate`\n"), "\(unrelated.stderr)")
        // Command words that exist, options and `help` are left to the parser.
        #expect(try TestSupport.plan(["help", "compile"]).status == 0)
        #expect(try TestSupport.plan(["cache", "du", "--help"]).status == 0)
    }

    @Test func shellCompletions() throws {
        for shell in ["bash", "zsh", "fish"] {
            let result = try TestSupport.plan(["--generate-completion-script", shell])
            #expect(result.status == 0)
            #expect(result.stdout.contains("compile"))
        }
    }

    @Test func compileToStandardOutput() throws {
        let result = try TestSupport.plan(["compile", "plans/site"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("# syntax=docker/dockerfile:1\n"))
        // No ignore file goes to standard output; the one line on standard error says so.
        #expect(result.stderr == "note: the plan's ignore patterns were not written (the Dockerfile went to standard "
                    + "output); use -o FILE, or --dockerignore FILE\n")
    }

    @Test func argumentOverrideChangesTheDefault() throws {
        let result = try TestSupport.plan(["compile", "plans/site", "--arg", "NODE_VERSION=20"])
        #expect(result.stdout.contains("ARG NODE_VERSION=20\n"))
        let unknown = try TestSupport.plan(["compile", "plans/site", "--arg", "NODE_VERSOIN=20"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("error[E0403]: `--arg NODE_VERSOIN` sets an argument the plan does not declare"))
        #expect(unknown.stderr.contains("did you mean `NODE_VERSION`?"))
        #expect(unknown.stdout.isEmpty)
    }

    @Test func targetSelectsTheStagesItNeeds() throws {
        let result = try TestSupport.plan(["compile", "plans/site", "--target", "sass"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("AS sass\n"))
        #expect(!result.stdout.contains("AS hyde"))
        #expect(!result.stdout.contains("AS httpd"))
        let whole = try TestSupport.plan(["compile", "plans/site", "--target", "httpd"])
        #expect(whole.stdout == (try TestSupport.plan(["compile", "plans/site"])).stdout)
        let wrong = try TestSupport.plan(["compile", "plans/site", "--target", "htpd"])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("did you mean `httpd`?"))
    }

    @Test func errorsWriteNothingAndKeepWhatWasThere() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let output = folder + "/Dockerfile"
        try "previous contents\n".write(toFile: output, atomically: true, encoding: .utf8)
        let bad = TestSupport.fixtures + "/checks/E0301-copy-outside-artifacts.yaml"
        let result = try TestSupport.plan(["compile", bad, "-o", output])
        #expect(result.status == 1)
        #expect(result.stderr.contains("nothing written"))
        #expect(try TestSupport.read(output) == "previous contents\n")
        #expect(!FileManager.default.fileExists(atPath: folder + "/Dockerfile.dockerignore"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(leftovers == ["Dockerfile"])
    }

    @Test func outputFolderIsCreatedAndNoTemporaryFilesRemain() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try TestSupport.plan(["compile", "plans/go-static", "-o", folder + "/deep/er/Dockerfile"])
        #expect(result.status == 0, "\(result.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder + "/deep/er").sorted()
        #expect(files == ["Dockerfile", "Dockerfile.dockerignore"])
        // A second run replaces plan's own ignore file.
        #expect(try TestSupport.plan(["compile", "plans/go-static", "-o", folder + "/deep/er/Dockerfile"]).status == 0)
    }

    @Test func aHandWrittenDockerignoreIsNeverReplaced() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "mine\n".write(toFile: folder + "/Dockerfile.dockerignore", atomically: true, encoding: .utf8)
        let result = try TestSupport.plan(["compile", "plans/site", "-o", folder + "/Dockerfile"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("was not written by plan"))
        #expect(try TestSupport.read(folder + "/Dockerfile.dockerignore") == "mine\n")
        #expect(!FileManager.default.fileExists(atPath: folder + "/Dockerfile"))
        let elsewhere = try TestSupport.plan([
            "compile", "plans/site", "-o", folder + "/Dockerfile", "--dockerignore", folder + "/plan.dockerignore",
        ])
        #expect(elsewhere.status == 0)
        #expect(FileManager.default.fileExists(atPath: folder + "/plan.dockerignore"))
    }

    @Test func outputIntoAFolderIsAUsageError() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try TestSupport.plan(["compile", "plans/site", "-o", folder])
        #expect(result.status == 2)
        #expect(result.stderr.contains("is a folder"))
    }

    @Test func portableDialectRejectsWhatItCannotExpress() throws {
        let plan = TestSupport.fixtures + "/checks/E0701-unsupported-by-dialect.yaml"
        let buildkit = try TestSupport.plan(["compile", plan])
        #expect(buildkit.status == 0)
        #expect(buildkit.stdout.contains("RUN --network=none make"))
        let portable = try TestSupport.plan(["compile", plan, "--dialect", "portable"])
        #expect(portable.status == 1)
        #expect(portable.stderr.contains("error[E0701]: the portable dialect cannot express `network: none`"))
        #expect(portable.stdout.isEmpty)
    }

    @Test func checkSummarisesASoundPlan() throws {
        let result = try TestSupport.plan(["check", "plans/site/plan.yaml"])
        #expect(result.status == 0)
        #expect(result.stderr == "plans/site/plan.yaml: ok, 3 stages, targets: httpd\n")
        let json = try TestSupport.plan(["check", "plans/site", "--diagnostics-format", "json"])
        #expect(json.stdout.contains("\"errors\" : 0"))
    }
}
