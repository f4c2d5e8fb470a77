import ArgumentParser
import PlanCompiler
import PlanDiagnostics
import PlanDockerfile

/// `plan check PLAN`: every mistake of a plan, before anything is built.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a plan and report every problem, located, with a fix hint.",
        discussion: """
            Examples:
              plan check plans/site/plan.yaml
              plan check plans/site --werror --diagnostics-format github
              plan check plans/registry --dialect portable
              plan check plans/multiarch --platform linux/amd64,linux/arm64
              plan check plans/site --locked

            With --locked it also checks, offline, that the lock (plan.lock beside the plan, or --lock-file) \
            belongs to the plan and pins every image, platform and download the plan reads, as `plan run --locked` \
            and `plan compile --locked` need.
            """)

    @OptionGroup var options: PlanOptions
    @OptionGroup var platformOptions: PlatformOptions

    /// `--locked`: also check the lock (PlanLock), offline.
    @OptionGroup var lockOptions: LockOptions

    @Option(help: "Also check that the plan can be written in this Dockerfile dialect: buildkit or portable.")
    var dialect: Dialect = .buildkit

    func run() throws {
        var result = Compiler(options: platformOptions.compileOptions(options)).compile(planAt: options.plan)
        if let graph = result.graph {
            var extra = dialect.unsupportedFeatures(in: graph)
            if !extra.isEmpty {
                extra = DiagnosticList(result.diagnostics + extra).sorted
                result.diagnostics = extra
            }
            if lockOptions.locked, !result.hasErrors {
                let found = try lockOptions.problems(for: graph)
                if let source = found.source { result.sources.add(source) }
                result.diagnostics = DiagnosticList(result.diagnostics + found.diagnostics).sorted
            }
        }
        Output.report(result.diagnostics, sources: result.sources, options: options, jsonToStandardOutput: true)
        if options.diagnosticsFormat == .text {
            if let summary = DiagnosticRenderer.summary(result.diagnostics) {
                Output.standardError("\(result.planFile): \(summary)\n")
            } else if let graph = result.graph {
                let stages = graph.stages.count
                Output.standardError(
                    "\(result.planFile): ok, \(stages) stage\(stages == 1 ? "" : "s"), targets: "
                        + graph.targets.joined(separator: ", ") + "\n")
            }
        }
        if result.hasErrors { throw ExitCode(result.graph == nil && result.sources[result.planFile] == nil && isUsageProblem(result) ? 2 : 1) }
    }
}

/// A plan that could not be read at all (a missing file) is a usage problem, not an error in a plan.
func isUsageProblem(_ result: CompileResult) -> Bool {
    result.diagnostics.contains { $0.code == .unreadableFile }
}
