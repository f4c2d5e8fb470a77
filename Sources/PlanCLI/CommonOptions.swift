import ArgumentParser
import Foundation
import PlanCompiler
import PlanDiagnostics
import PlanDockerfile
import PlanValues

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

/// `--platform`, shared by `check`, `compile` and `run`: the platforms to build for, replacing the plan's
/// `platforms:`. Repeatable or comma-separated; each value parsed by the one platform parser.
struct PlatformOptions: ParsableArguments {
    @Option(name: .customLong("platform"), help: ArgumentHelp(
        "Build for these platforms instead of the plan's `platforms:` (repeatable or comma-separated, "
            + "e.g. linux/amd64,linux/arm64).", valueName: "os/arch[/variant]"))
    var values: [String] = []

    func validate() throws {
        guard !values.isEmpty else { return }
        if case .failure(let failure) = Platform.parseLinuxImagePlatforms(values) {
            throw ValidationError("--platform \"\(failure.text)\": \(failure.problem)")
        }
    }

    /// The parsed platforms; nil when `--platform` was not given (validate() has checked them).
    var platforms: [Platform]? {
        guard !values.isEmpty, case .success(let platforms) = Platform.parseLinuxImagePlatforms(values) else { return nil }
        return platforms
    }

    /// `options`' compile options with these platforms.
    func compileOptions(_ options: PlanOptions) -> CompileOptions {
        var compile = options.compileOptions
        compile.platforms = platforms
        return compile
    }
}
