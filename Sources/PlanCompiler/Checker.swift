import Foundation
import PlanDiagnostics
import PlanLanguage
import PlanPaths
import PlanValues

/// Semantic checks over a parsed plan, producing the `BuildGraph`.
///
/// The checker reports every problem it can find in one pass; later phases skip what earlier errors make
/// meaningless rather than stopping at the first error.
struct Checker {
    let plan: PlanSyntax
    let options: CompileOptions
    var diagnostics = DiagnosticList()

    /// Where the plan file lives; relative paths in the plan start here.
    let planDirectory: String
    var contextPath = "."
    var contextExists = false
    var ignore = IgnoreMatcher([])

    /// Declared arguments with their effective values (nil: must be given).
    var arguments: [String: String?] = [:]
    var argumentOrder: [String] = []
    var planAllow: Set<String> = []
    /// The platforms every target is built for (`platforms:`, `--platform`, or the host's).
    var platforms: [Platform] = []

    /// Stage facts gathered by the phases, indexed like `stages`.
    var stages: [StageFacts] = []
    var stageIndex: [String: Int] = [:]

    static let stageNamePattern = "^[a-z][a-z0-9_-]*$"
    static let variableNamePattern = "^[A-Za-z_][A-Za-z0-9_]*$"

    /// Arguments every BuildKit build defines without a declaration.
    static let platformArguments: Set<String> = [
        "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
        "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
    ]
    /// Variables the builder or nearly every base image provides; referencing them is never an error.
    static let ambientVariables: Set<String> = [
        "PATH", "HOME", "HOSTNAME", "TERM", "LANG", "LC_ALL", "USER", "PWD", "SHELL", "TMPDIR",
        "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY",
        "http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy",
    ]

    init(plan: PlanSyntax, options: CompileOptions) {
        self.plan = plan
        self.options = options
        self.planDirectory = PosixPath.dirname(plan.file)
    }

    mutating func error(_ code: DiagnosticCode, _ message: String, at location: SourceLocation?,
                        notes: [Diagnostic.Note] = [], help: String? = nil) {
        diagnostics.append(.error(code, message, at: location, notes: notes, help: help))
    }

    /// Reports a warning unless the plan or the stage allows its code.
    mutating func warn(_ code: DiagnosticCode, _ message: String, at location: SourceLocation?,
                       stage: Int? = nil, notes: [Diagnostic.Note] = [], help: String? = nil) {
        if planAllow.contains(code.id) { return }
        if let stage, stages[stage].allow.contains(code.id) { return }
        diagnostics.append(.warning(code, message, at: location, notes: notes, help: help))
    }

    /// The warning codes an `allow` list names; an entry that names no warning is itself a warning.
    mutating func allowedCodes(_ entries: [Located<String>]) -> Set<String> {
        var codes = Set<String>()
        let warnings = DiagnosticCode.all.filter(\.isWarning)
        for entry in entries {
            if let known = DiagnosticCode.lookup(entry.value), known.isWarning {
                codes.insert(known.id)
            } else {
                diagnostics.append(.warning(
                    .unknownAllowCode, "`allow` names `\(entry.value)`, which is no warning", at: entry.location,
                    help: Suggestion.didYouMean(entry.value, in: warnings.flatMap { [$0.id, $0.name] })
                        ?? "allow takes warning codes like W0104 or names like root-target"))
            }
        }
        return codes
    }

    static func matches(_ text: String, _ pattern: String) -> Bool {
        RegexCache.matches(text, pattern)
    }

    mutating func run() -> BuildGraph? {
        checkPlanLevel()
        checkPlatforms()
        indexStages()
        resolveBasesAndDependencies()
        let order = dependencyOrder()
        resolveConfiguration(in: order)
        resolveArtifacts()
        for index in order { buildInstructions(for: index) }
        checkStageConfiguration()
        let targets = resolveTargets()
        checkWarnings(targets: targets)
        guard !diagnostics.hasErrors else { return nil }
        return graph(order: order, targets: targets)
    }

    // MARK: Plan level

    mutating func checkPlanLevel() {
        planAllow = allowedCodes(plan.allow)

        if let name = plan.name, !Self.matches(name.value, "^[a-z0-9][a-z0-9._-]*$") {
            error(.badName, "plan name `\(name.value)` cannot name images", at: name.location,
                  help: "use lowercase letters, digits, `.`, `_` and `-`, starting with a letter or digit")
        }

        // The build context.
        contextPath = Compiler.contextDirectory(of: plan)
        var isDirectory: ObjCBool = false
        contextExists = FileManager.default.fileExists(atPath: contextPath, isDirectory: &isDirectory)
            && isDirectory.boolValue
        if !contextExists {
            error(.contextMissing, "the build context `\(contextPath)` is not a folder",
                  at: plan.context?.location ?? plan.location,
                  help: plan.context == nil ? "the context defaults to the plan's folder" : "`context` is relative to the plan file")
        }
        ignore = IgnoreMatcher(plan.ignore.map(\.value))
        for pattern in plan.ignore where IgnoreMatcher.compile(PosixPath.normalize(pattern.value).path) == nil {
            error(.invalidValue, "`\(pattern.value)` is not a valid ignore pattern", at: pattern.location,
                  help: "close the `[` of the character class")
        }

        // Build arguments.
        for argument in plan.args {
            let name = argument.name.value
            if !Self.matches(name, Self.variableNamePattern) {
                error(.badName, "`\(name)` is not a valid argument name", at: argument.name.location,
                      help: "use letters, digits and `_`, not starting with a digit")
            }
            if arguments[name] == nil { argumentOrder.append(name) }
            arguments[name] = .some(argument.defaultValue?.value)
            if let value = argument.defaultValue {
                checkVariables(in: value, scope: .global, stage: nil)
                checkNoLineBreak(value, what: "the default of argument `\(name)`")
            }
            checkSecretLooking(name: argument.name, kind: "argument", stage: nil)
        }
        for (name, value) in options.argumentOverrides {
            if arguments[name] == nil {
                error(.unknownArgumentOverride, "`--arg \(name)` sets an argument the plan does not declare", at: nil,
                      help: Suggestion.didYouMean(name, in: argumentOrder) ?? "declare it under `args:` in the plan")
            } else {
                arguments[name] = .some(value)
                if value.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
                    error(.lineBreakInValue, "`--arg \(name)` holds a line break, which no Dockerfile ARG can carry",
                          at: nil, help: "pass the value on one line")
                }
            }
        }
        // A required argument without a value would build with an empty one (docker build does so silently).
        var reported = Set<String>()
        for argument in plan.args where options.requireArgumentValues && arguments[argument.name.value] == .some(nil) {
            guard reported.insert(argument.name.value).inserted else { continue }
            let name = argument.name.value
            error(.missingArgumentValue, "build argument `\(name)` must be given, and no value was passed",
                  at: argument.name.location,
                  help: "pass `--arg \(name)=VALUE` (to check, compile and run alike), or give it a default under `args:`")
        }
    }

    /// Argument values known at compile time (for checks that need concrete text).
    var knownArgumentValues: [String: String] {
        var values: [String: String] = [:]
        for (name, value) in arguments { if let value { values[name] = value } }
        return values
    }
}

/// What the checker learns about one stage.
struct StageFacts {
    var syntax: StageSyntax
    var name: String { syntax.name.value }
    var allow: Set<String> = []
    var isValid = true
    var base: GraphStage.Base?
    /// (stage index, where referenced), in first-use order, duplicates removed.
    var dependencies: [(index: Int, location: SourceLocation)] = []
    var initialWorkdir: String?
    /// The stage sets a workdir whose value is only known at build time (it uses a variable).
    var hasUnknownWorkdir = false
    var finalWorkdir: String?
    var finalUser: String?
    /// Environment variable names set by the plan for this stage (inherited ones included), after all steps.
    var envNames: Set<String> = []
    var initialEnvNames: Set<String> = []
    var artifacts: [GraphArtifact] = []
    var usedArtifacts: Set<String> = []
    var instructions: [GraphInstruction] = []
    var usedArguments: [String] = []
    var config = StageConfiguration()
}
