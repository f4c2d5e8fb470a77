import PlanDiagnostics

/// What `plan import` is asked for beyond the Dockerfile.
public struct ImportOptions: Sendable {
    /// The plan's `name`; nil leaves it to the plan's folder.
    public var name: String?
    /// `context:` to write (relative to where the plan goes, or absolute); nil for the plan's folder.
    public var context: String?
    /// `.dockerignore` patterns, as written, for `ignore:`.
    public var ignorePatterns: [String]
    /// Stages to make targets (`--target`); empty: the last stage.
    public var targets: [String]
    /// Whether a context path names a folder (for copying `dir .`); nil when unknown.
    public var isContextFolder: @Sendable (String) -> Bool?

    public init(
        name: String? = nil, context: String? = nil, ignorePatterns: [String] = [], targets: [String] = [],
        isContextFolder: @escaping @Sendable (String) -> Bool? = { _ in nil }
    ) {
        self.name = name
        self.context = context
        self.ignorePatterns = ignorePatterns
        self.targets = targets
        self.isContextFolder = isContextFolder
    }
}

/// The plan text, and the warnings (or errors) found on the way.
public struct ImportResult: Sendable {
    public var plan: String?
    public var diagnostics: [Diagnostic]
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// Dockerfile → plan: stages in order, steps, configuration, `args`, `ignore`, artifacts inferred from
/// what later stages copy. What has no plan form is a located warning and stays as a comment.
public struct PlanImporter: Sendable {
    public var options: ImportOptions

    public init(options: ImportOptions = ImportOptions()) { self.options = options }

    /// Parses and maps in one go.
    public func importPlan(data: [UInt8], path: String) -> (ImportResult, SourceFile?) {
        let parsed = DockerfileParser().parse(data: data, path: path)
        guard let file = parsed.dockerfile else { return (ImportResult(plan: nil, diagnostics: parsed.diagnostics), parsed.source) }
        var result = importPlan(file)
        result.diagnostics = parsed.diagnostics + result.diagnostics
        return (result, parsed.source)
    }

    public func importPlan(_ file: Dockerfile) -> ImportResult {
        var mapper = ImportMapper(file: file, options: options)
        mapper.map()
        if mapper.diagnostics.contains(where: { $0.severity == .error }) {
            return ImportResult(plan: nil, diagnostics: mapper.diagnostics)
        }
        return ImportResult(plan: mapper.write(), diagnostics: mapper.diagnostics)
    }
}
