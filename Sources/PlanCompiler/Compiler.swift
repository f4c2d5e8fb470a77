import Foundation
import PlanDiagnostics
import PlanLanguage
import PlanPaths
import PlanValues

/// Options of one compilation, as the CLI passes them.
public struct CompileOptions: Sendable {
    /// `--arg NAME=VALUE`, in the order given (a later one wins).
    public var argumentOverrides: [(name: String, value: String)]
    /// `--target NAME`: build only these stages (and what they need). Empty: the plan's targets.
    public var targets: [String]
    /// `--werror`: warnings fail the compilation.
    public var warningsAsErrors: Bool
    /// An argument that must be given and has no value is an error (E0405): true for what builds or writes
    /// a build (check, compile, run); false for what only inspects the plan's structure (graph, affected).
    public var requireArgumentValues = true
    /// `--platform`: replaces the plan's `platforms:`; nil: the plan's, or the host's.
    public var platforms: [Platform]? = nil

    /// Options as the CLI flags give them.
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
    /// The checked graph; nil when the plan has errors.
    public var graph: BuildGraph?
    /// Every diagnostic, in a stable order.
    public var diagnostics: [Diagnostic]
    /// The text of every file read, for rendering the diagnostics.
    public var sources: SourceMap
    /// The plan file actually read (a folder argument resolves to its `plan.yaml`).
    public var planFile: String

    /// Whether any diagnostic is an error (with `warningsAsErrors`, warnings are).
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// The front end of plan: reads a plan file, parses it strictly, expands it, checks it and builds the `BuildGraph`.
public struct Compiler: Sendable {
    /// How this compiler compiles.
    public var options: CompileOptions

    /// A compiler with `options`.
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

    /// Reads the plan at `path` (a file, or a folder holding `plan.yaml`) and compiles it; problems come back as diagnostics.
    public func compile(planAt path: String) -> CompileResult {
        let file = Self.planFile(for: path)
        var sources = SourceMap()
        let (parsed, text) = PlanParser().parseFile(atPath: file)
        if let text { sources.add(SourceFile(path: file, text: text)) }
        var diagnostics = DiagnosticList(parsed.diagnostics)
        var graph: BuildGraph? = nil
        var instances: [TemplateInstance] = []
        var files = [file]
        if var syntax = parsed.plan {
            let context = Self.contextDirectory(of: syntax)
            if let contextIgnore = ContextIgnoreFile.read(contextDirectory: context) {
                sources.add(SourceFile(path: contextIgnore.path, text: contextIgnore.text))
                files.append(contextIgnore.path)
                syntax.ignore = contextIgnore.patterns + syntax.ignore
            }
            let ignore = IgnoreMatcher(syntax.ignore.map(\.value))
            let expanded = PlanExpander().expand(syntax, contextDirectory: context, ignore: ignore.isExcluded)
            for included in expanded.files {
                sources.add(SourceFile(path: included.path, text: included.text))
                files.append(included.path)
            }
            instances = expanded.instances
            diagnostics.append(contentsOf: expanded.diagnostics)
            // The checks would only report what the unreadable include would have defined.
            if !expanded.isIncomplete {
                var checker = Checker(plan: expanded.plan, options: options)
                graph = checker.run()
                graph?.planFiles = files
                diagnostics.append(contentsOf: checker.diagnostics)
            }
        }
        if options.warningsAsErrors { diagnostics.promoteWarnings() }
        let sorted = diagnostics.sorted.map { Self.attributing($0, to: instances) }
        let failed = sorted.contains { $0.severity == .error }
        return CompileResult(graph: failed ? nil : graph, diagnostics: sorted, sources: sources, planFile: file)
    }

    /// The build context folder of a plan: `context` relative to the plan file, by default its folder.
    public static func contextDirectory(of plan: PlanSyntax) -> String {
        let folder = PosixPath.dirname(plan.file)
        let context = plan.context?.value ?? "."
        return PosixPath.isAbsolute(context) ? context : PosixPath.normalize(folder + "/" + context).path
    }

    /// A diagnostic inside a template instance also names the instance and the `expand` entry that made it;
    /// a note that points into an instance is followed by the same.
    static func attributing(_ diagnostic: Diagnostic, to instances: [TemplateInstance]) -> Diagnostic {
        func note(for location: SourceLocation?, prefix: String) -> Diagnostic.Note? {
            guard let index = location?.instance, instances.indices.contains(index) else { return nil }
            let instance = instances[index]
            return .init("\(prefix)in instance \(instance.parameterSummary) of template `\(instance.template)`",
                         at: instance.location)
        }
        var result = diagnostic
        result.notes = []
        if let own = note(for: diagnostic.location, prefix: "") { result.notes.append(own) }
        for item in diagnostic.notes {
            result.notes.append(item)
            if let own = note(for: item.location, prefix: "that place is ") { result.notes.append(own) }
        }
        return result
    }
}
