import ArgumentParser
import Foundation
import PlanCompiler
import PlanDiagnostics
import PlanDockerfile

extension DiagnosticFormat: ExpressibleByArgument {}
extension Dialect: ExpressibleByArgument {}

/// When to colour text diagnostics.
enum ColorChoice: String, CaseIterable, ExpressibleByArgument {
    case auto, always, never
}

/// `--arg NAME=VALUE`.
struct ArgumentOverride: ExpressibleByArgument {
    var name: String
    var value: String

    init?(argument: String) {
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else { return nil }
        name = String(argument[..<equals])
        value = String(argument[argument.index(after: equals)...])
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

/// Options shared by every command that reads a plan.
struct PlanOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("The plan file, or a folder holding plan.yaml.", valueName: "plan"),
              completion: .file(extensions: ["yaml", "yml"]))
    var plan: String

    @Option(name: [.customLong("arg"), .customLong("build-arg")], help: ArgumentHelp(
        "Set a build argument the plan declares (repeatable); one without a default must be given.",
        valueName: "name=value"))
    var arguments: [ArgumentOverride] = []

    @Option(name: .customLong("target"), help: ArgumentHelp(
        "Only this stage and the stages it needs (repeatable). Default: the plan's targets.", valueName: "name"))
    var targets: [String] = []

    @Flag(name: .customLong("werror"), help: "Treat warnings as errors.")
    var warningsAsErrors = false

    @Option(name: .customLong("diagnostics-format"), help: "How to print diagnostics: text, json or github.")
    var diagnosticsFormat: DiagnosticFormat = .text

    @Option(help: "Colour text diagnostics: auto (on a terminal), always or never.")
    var color: ColorChoice = .auto

    var compileOptions: CompileOptions {
        CompileOptions(argumentOverrides: arguments.map { ($0.name, $0.value) }, targets: targets,
                       warningsAsErrors: warningsAsErrors)
    }

    /// For commands that only inspect the plan (graph, affected): arguments without a value are no error.
    var inspectionCompileOptions: CompileOptions {
        var options = compileOptions
        options.requireArgumentValues = false
        return options
    }

    var colored: Bool {
        switch color {
        case .always: return true
        case .never: return false
        case .auto:
            let environment = ProcessInfo.processInfo.environment
            return isatty(STDERR_FILENO) == 1 && environment["NO_COLOR"] == nil && environment["TERM"] != "dumb"
        }
    }
}

enum Output {
    static func standardError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func standardOutput(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Prints diagnostics (text and GitHub forms to stderr; JSON to `jsonToStandardOutput ? stdout : stderr`).
    static func report(_ diagnostics: [Diagnostic], sources: SourceMap, options: PlanOptions,
                       jsonToStandardOutput: Bool) {
        let renderer = DiagnosticRenderer(sources: sources, colored: options.colored && options.diagnosticsFormat == .text)
        let text = renderer.render(diagnostics, format: options.diagnosticsFormat)
        if options.diagnosticsFormat == .json, jsonToStandardOutput {
            standardOutput(text)
        } else if !text.isEmpty {
            standardError(text)
        }
    }
}

/// Running a command's work: a usage error stays one (exit 2); anything else is one `error:` line, exit 1.
enum CommandFailure {
    static func reporting<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw report(error)
        }
    }

    static func reporting<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw report(error)
        }
    }

    private static func report(_ error: any Error) -> any Error {
        if error is ValidationError || error is ExitCode { return error }
        Output.standardError("error: \(error)\n")
        return ExitCode(1)
    }
}

/// Where plan keeps images and caches: `--cache-dir`, else `$PLAN_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/plan`, else `~/.cache/plan`.
enum CacheLocation {
    static func directory(explicit: String?) -> String {
        let environment = ProcessInfo.processInfo.environment
        return explicit ?? environment["PLAN_CACHE_DIR"]
            ?? environment["XDG_CACHE_HOME"].map { $0 + "/plan" }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.cache/plan")
    }
}
