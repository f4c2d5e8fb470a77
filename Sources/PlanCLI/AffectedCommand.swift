import ArgumentParser
import Foundation
import PlanCompiler
import PlanDiagnostics

/// `plan affected PLAN --since REF`: the targets a change touches.
struct AffectedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "affected",
        abstract: "List the targets whose inputs changed since a git revision.",
        discussion: """
            A target is affected when a context file that one of its stages copies changed (directly, or \
            through the artifacts of the stages it uses), or when the plan or a file it includes changed. \
            Files that `ignore` excludes never affect a target.

            Examples:
              plan affected plans/monorepo --since origin/main
              plan affected plans/monorepo --since HEAD~1 --format json
            """)

    enum Format: String, CaseIterable, ExpressibleByArgument {
        case lines, json
    }

    @OptionGroup var options: PlanOptions

    @Option(help: ArgumentHelp("The git revision to compare the work tree with.", valueName: "ref"))
    var since: String

    @Option(help: "Output: one target per line, or a JSON array.")
    var format: Format = .lines

    func run() throws {
        let result = Compiler(options: options.inspectionCompileOptions).compile(planAt: options.plan)
        Output.report(result.diagnostics, sources: result.sources, options: options, jsonToStandardOutput: false)
        guard let graph = result.graph else { throw ExitCode(isUsageProblem(result) ? 2 : 1) }
        let targets: [String]
        do {
            targets = try Affected.targets(of: graph, since: since)
        } catch let failure as GitChanges.Failure {
            Output.standardError("error: \(failure.message)\n")
            throw ExitCode(2)
        }
        switch format {
        case .lines: Output.standardOutput(targets.map { $0 + "\n" }.joined())
        case .json:
            let items = targets.map { "\"\($0)\"" }.joined(separator: ", ")
            Output.standardOutput("[\(items)]\n")
        }
    }
}

/// Ties git's view of a change to a plan's build graph.
enum Affected {
    static func targets(of graph: BuildGraph, since revision: String) throws -> [String] {
        let context = GitChanges.canonical(graph.contextPath)
        let changed = try GitChanges.changedFiles(since: revision, in: context)
        let planFiles = Set(graph.planFiles.map(GitChanges.canonical))
        let planChanged = changed.contains { planFiles.contains($0) }
        let inContext = changed.compactMap { path -> String? in
            guard path.hasPrefix(context + "/") else { return nil }
            return String(path.dropFirst(context.count + 1))
        }
        return AffectedTargets(graph: graph).targets(changedContextPaths: inContext, planChanged: planChanged)
    }
}
