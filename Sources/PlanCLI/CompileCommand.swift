import ArgumentParser
import Foundation
import PlanCompiler
import PlanDiagnostics
import PlanDockerfile
import PlanCompiler

/// `plan compile PLAN`: the plan as a multi-stage Dockerfile (and its .dockerignore).
struct CompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Compile a plan into a multi-stage Dockerfile.",
        discussion: """
            Without -o the Dockerfile goes to standard output and diagnostics to standard error. With -o, \
            the Dockerfile and a .dockerignore beside it are written atomically: on any error, nothing is written.

            Examples:
              plan compile plans/site/plan.yaml > Dockerfile
              plan compile plans/site -o build/Dockerfile
              plan compile plans/go-static --target app --arg GO_VERSION=1.22
              plan compile plans/registry --dialect portable -o Containerfile
            """)

    @OptionGroup var options: PlanOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the Dockerfile here (and .dockerignore beside it).",
                                                    valueName: "file"),
            completion: .file())
    var output: String?

    @Option(help: "Dockerfile dialect: buildkit (Docker's BuildKit) or portable (older builders such as buildah 1.28).")
    var dialect: Dialect = .buildkit

    @Option(help: ArgumentHelp("With -o, write the .dockerignore here instead of beside the Dockerfile.",
                               valueName: "file"),
            completion: .file())
    var dockerignore: String?

    func run() throws {
        var result = Compiler(options: options.compileOptions).compile(planAt: options.plan)
        if let graph = result.graph {
            let unsupported = dialect.unsupportedFeatures(in: graph)
            if !unsupported.isEmpty {
                result.diagnostics = DiagnosticList(result.diagnostics + unsupported).sorted
                result.graph = nil
            }
        }
        Output.report(result.diagnostics, sources: result.sources, options: options, jsonToStandardOutput: false)
        guard let graph = result.graph else {
            if options.diagnosticsFormat == .text, let summary = DiagnosticRenderer.summary(result.diagnostics) {
                Output.standardError("\(result.planFile): \(summary); nothing written\n")
            }
            throw ExitCode(isUsageProblem(result) ? 2 : 1)
        }
        let writer = DockerfileWriter(dialect: dialect)
        let dockerfile = writer.dockerfile(for: graph)
        guard let output else {
            Output.standardOutput(dockerfile)
            return
        }
        let ignorePath = dockerignore ?? (PosixPath.dirname(output) + "/.dockerignore")
        do {
            try OutputFile.checkOwnership(ignorePath)
            try OutputFile.writeAtomically([
                (output, dockerfile),
                (ignorePath, writer.dockerignore(for: graph)),
            ])
        } catch let failure as OutputFile.Failure {
            Output.standardError("error: \(failure.message)\n")
            throw ExitCode(failure.isUsage ? 2 : 1)
        }
    }
}
