import ArgumentParser
import Foundation
import PlanDiagnostics
import PlanImport

/// `plan import DOCKERFILE`: a plan written from an existing Dockerfile.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Write a plan from an existing Dockerfile (BuildKit syntax).",
        discussion: """
            Stages, steps, configuration and build arguments are carried over; artifacts are inferred from \
            what later stages copy (`COPY --from=build /out/app …` declares `build.app`). What a plan cannot \
            express is a located warning and stays in the plan as a comment. See docs/import.md.

            Examples:
              plan import Dockerfile
              plan import services/api/Dockerfile -o services/api/plan.yaml
              plan import Dockerfile --target app --dockerignore .dockerignore -o plan.yaml
            """)

    @Argument(help: "The Dockerfile to read.")
    var dockerfile: String

    @Option(name: .shortAndLong, help: "Write the plan to this file (atomically) instead of standard output.")
    var output: String?

    @Option(help: "The .dockerignore to turn into `ignore:` (default: the one beside the Dockerfile, if any).")
    var dockerignore: String?

    @Option(help: "A stage to make a target (repeatable; default: the last stage).")
    var target: [String] = []

    @Flag(help: "Replace an existing output file.")
    var force = false

    @Option(help: "Diagnostics format: text, json or github.")
    var diagnosticsFormat: DiagnosticFormat = .text

    func run() throws {
        guard let data = FileManager.default.contents(atPath: dockerfile) else {
            Output.standardError("error: cannot read `\(dockerfile)`\n")
            throw ExitCode(2)
        }
        let folder = (dockerfile as NSString).deletingLastPathComponent
        let contextFolder = folder.isEmpty ? "." : folder
        var patterns: [String] = []
        let ignorePath = dockerignore ?? (contextFolder + "/.dockerignore")
        if let ignore = FileManager.default.contents(atPath: ignorePath) {
            patterns = String(decoding: ignore, as: UTF8.self).split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        } else if dockerignore != nil {
            Output.standardError("error: cannot read `\(ignorePath)`\n")
            throw ExitCode(2)
        }
        // The plan's context is the Dockerfile's folder: relative to where the plan is written.
        var context: String? = nil
        if let output {
            let planFolder = URL(fileURLWithPath: (output as NSString).deletingLastPathComponent.isEmpty ? "." : (output as NSString).deletingLastPathComponent).standardizedFileURL.path
            let contextPath = URL(fileURLWithPath: contextFolder).standardizedFileURL.path
            if planFolder != contextPath { context = contextPath }
        } else if contextFolder != "." {
            context = URL(fileURLWithPath: contextFolder).standardizedFileURL.path
        }
        let options = ImportOptions(
            context: context, ignorePatterns: patterns, targets: target,
            isContextFolder: { path in
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: contextFolder + "/" + path, isDirectory: &isDirectory) else { return nil }
                return isDirectory.boolValue
            })
        let (result, source) = PlanImporter(options: options).importPlan(data: Array(data), path: dockerfile)
        var sources = SourceMap()
        if let source { sources.add(source) }
        let renderer = DiagnosticRenderer(sources: sources)
        let text = renderer.render(result.diagnostics, format: diagnosticsFormat)
        if !text.isEmpty { Output.standardError(text) }
        guard let plan = result.plan, !result.hasErrors else {
            if diagnosticsFormat == .text, let summary = DiagnosticRenderer.summary(result.diagnostics) {
                Output.standardError("\(dockerfile): \(summary); nothing written\n")
            }
            throw ExitCode(1)
        }
        guard let output else {
            Output.standardOutput(plan)
            return
        }
        do {
            if !force, FileManager.default.fileExists(atPath: output) {
                throw OutputFile.Failure(message: "`\(output)` exists; refusing to replace it (use --force, or write somewhere else)", isUsage: true)
            }
            try OutputFile.writeAtomically([(output, plan)])
        } catch let failure as OutputFile.Failure {
            Output.standardError("error: \(failure.message)\n")
            throw ExitCode(failure.isUsage ? 2 : 1)
        }
        if diagnosticsFormat == .text {
            let warnings = result.diagnostics.count { $0.severity == .warning }
            Output.standardError("\(output): written\(warnings > 0 ? " (\(warnings) warning\(warnings == 1 ? "" : "s"))" : "")\n")
        }
    }
}
