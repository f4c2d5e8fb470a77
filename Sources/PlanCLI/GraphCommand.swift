import ArgumentParser
import PlanCompiler
import PlanGraph

extension GraphWriter.Format: ExpressibleByArgument {}

/// `plan graph PLAN`: the stages and the artifacts between them, as a picture's source.
struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Draw a plan's stages and artifact edges as Mermaid or Graphviz dot.",
        discussion: """
            Targets have a double border; an edge carries the name of the artifact it copies.

            Examples:
              plan graph plans/monorepo
              plan graph plans/monorepo --format dot | dot -Tsvg > graph.svg
            """)

    @OptionGroup var options: PlanOptions

    @Option(help: "mermaid or dot.")
    var format: GraphWriter.Format = .mermaid

    func run() throws {
        let result = Compiler(options: options.inspectionCompileOptions).compile(planAt: options.plan)
        Output.report(result.diagnostics, sources: result.sources, options: options, jsonToStandardOutput: false)
        guard let graph = result.graph else { throw ExitCode(isUsageProblem(result) ? 2 : 1) }
        Output.standardOutput(GraphWriter(format: format).render(graph))
    }
}
