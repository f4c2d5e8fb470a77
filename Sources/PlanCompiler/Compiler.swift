import Foundation
import PlanDiagnostics
import PlanLanguage

/// Options of one compilation, as the CLI passes them.
public struct CompileOptions: Sendable {
    /// `--arg NAME=VALUE`, in the order given (a later one wins).
    public var argumentOverrides: [(name: String, value: String)]
    /// `--target NAME`: build only these stages (and what they need). Empty: the plan's targets.
    public var targets: [String]
    /// `--werror`: warnings fail the compilation.
    public var warningsAsErrors: Bool

    public init(argumentOverrides: [(name: String, value: String)] = [], targets: [String] = [],
                warningsAsErrors: Bool = false) {
        self.argumentOverrides = argumentOverrides
        self.targets = targets
        self.warningsAsErrors = warningsAsErrors
    }
}

/// What a compilation produced: the checked graph (nil when there are errors), the diagnostics in a
/// stable order, and the source text needed to render them.
public struct CompileResult: Sendable {
    public var graph: BuildGraph?
    public var diagnostics: [Diagnostic]
    public var sources: SourceMap
    /// The plan file actually read (a folder argument resolves to its `plan.yaml`).
    public var planFile: String

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// The front end of plan: reads a plan file, parses it strictly, expands it, checks it and builds the `BuildGraph`.
public struct Compiler: Sendable {
    public var options: CompileOptions

    public init(options: CompileOptions = CompileOptions()) {
        self.options = options
    }

    /// The plan file for a path: the path itself, or `plan.yaml` (or `plan.yml`) inside a folder.
    public static func planFile(for path: String) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return path
        }
        let base = path.hasSuffix("/") ? String(path.dropLast()) : path
        for name in ["plan.yaml", "plan.yml"] where FileManager.default.fileExists(atPath: base + "/" + name) {
            return base + "/" + name
        }
        return base + "/plan.yaml"
    }

    public func compile(planAt path: String) -> CompileResult {
        let file = Self.planFile(for: path)
        var sources = SourceMap()
        let (parsed, text) = PlanParser().parseFile(atPath: file)
        if let text { sources.add(SourceFile(path: file, text: text)) }
        var diagnostics = DiagnosticList(parsed.diagnostics)
        var graph: BuildGraph? = nil
        if let syntax = parsed.plan {
            var checker = Checker(plan: syntax, options: options)
            graph = checker.run()
            diagnostics.append(contentsOf: checker.diagnostics)
        }
        if options.warningsAsErrors { diagnostics.promoteWarnings() }
        let sorted = diagnostics.sorted
        let failed = sorted.contains { $0.severity == .error }
        return CompileResult(graph: failed ? nil : graph, diagnostics: sorted, sources: sources, planFile: file)
    }
}
