import Foundation
import PlanDiagnostics
import PlanLanguage
import PlanValues

extension Checker {
    /// What a string may refer to.
    enum VariableScope {
        /// Before any stage (`args` defaults, `from`, `platform`): build arguments only.
        case global
        /// Inside a stage, evaluated by the builder: arguments and the stage's environment.
        case stage(env: Set<String>)
        /// A `run` script: as `stage`, plus variables the script assigns itself.
        case script(env: Set<String>)
        /// Evaluated when the container runs (`cmd`, `entrypoint`, `healthcheck`): no build arguments exist.
        case runtime(env: Set<String>)
    }

    /// Checks every `${NAME}` and `${{ name }}` in `text`, and records the build arguments a stage uses.
    mutating func checkVariables(in text: Located<String>, scope: VariableScope, stage: Int?) {
        let value = text.value
        guard value.contains("$") else { return }
        // A builder expands most strings; a shell reads `run` scripts and runtime commands, where `$$` is its own.
        let dialect: VariableSyntax.Dialect
        switch scope {
        case .global, .stage: dialect = .builder
        case .script, .runtime: dialect = .shell
        }
        let references = Interpolation.references(in: value, dialect: dialect)
        guard !references.isEmpty else { return }
        var assigned: Set<String> = []
        if case .script = scope { assigned = Self.assignedNames(in: value) }
        for reference in references {
            let location = text.location(ofOffset: reference.offset, length: reference.length)
            let name = reference.name
            switch reference.kind {
            case .unterminated:
                error(.undefinedArgument, "`${` has no closing brace", at: location,
                      help: "close it: `${NAME}`; write `\\$` for a literal dollar sign")
            case .parameter:
                error(.undefinedParameter, "`${{ \(name) }}` is a template parameter, but this is not inside a template",
                      at: location, help: "template parameters exist only in `templates`; for a build argument write `${\(name)}`")
            case .bare, .braced:
                let isArgument = arguments[name] != nil || Self.platformArguments.contains(name)
                switch scope {
                case .runtime(let env):
                    if reference.kind == .braced, arguments[name] != nil, !env.contains(name) {
                        error(.argumentInRuntimeCommand,
                              "build argument `\(name)` does not exist when the container runs", at: location,
                              help: "keep its value in the image with `env: {\(name): ${\(name)}}`, and use a shell-form command")
                    }
                    continue
                case .global:
                    if isArgument { recordArgument(name, stage: stage) }
                    guard reference.kind == .braced, !isArgument else { continue }
                    error(.undefinedArgument, "`${\(name)}` is not a declared build argument", at: location,
                          help: Suggestion.didYouMean(name, in: arguments.keys.sorted())
                            ?? "declare it under `args:` (for example `args: {\(name): …}`)")
                case .stage(let env), .script(let env):
                    if isArgument { recordArgument(name, stage: stage) }
                    guard reference.kind == .braced, !isArgument, !env.contains(name), !assigned.contains(name),
                          !Self.ambientVariables.contains(name)
                    else { continue }
                    let candidates = arguments.keys.sorted() + env.sorted()
                    error(.undefinedArgument, "`${\(name)}` is neither a build argument nor a variable of this stage",
                          at: location,
                          help: Suggestion.didYouMean(name, in: candidates)
                            ?? "declare it under `args:` or set it with `env:`; for a variable of the base image write `$\(name)` (unchecked)")
                }
            }
        }
    }

    mutating func recordArgument(_ name: String, stage: Int?) {
        guard let stage, !stages[stage].usedArguments.contains(name) else { return }
        stages[stage].usedArguments.append(name)
    }

    /// Names a shell script assigns (`NAME=`, `export NAME=`, `for NAME in`, `read NAME`, `local NAME`).
    static func assignedNames(in script: String) -> Set<String> {
        var names = Set<String>()
        let patterns = [
            "(?:^|[\\s;&|(])([A-Za-z_][A-Za-z0-9_]*)=",
            "\\bfor\\s+([A-Za-z_][A-Za-z0-9_]*)\\s+in\\b",
            "\\b(?:read|local|export|declare|readonly)\\s+(?:-[a-z]+\\s+)*([A-Za-z_][A-Za-z0-9_]*)",
        ]
        for pattern in patterns {
            guard let regex = RegexCache.shared.regex(pattern) else { continue }
            let range = NSRange(script.startIndex..., in: script)
            for match in regex.matches(in: script, range: range) {
                if let nameRange = Range(match.range(at: 1), in: script) { names.insert(String(script[nameRange])) }
            }
        }
        return names
    }
}
