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
                if dialect == .builder, case .other(let inner) = reference.modifier {
                    error(.unsupportedSubstitution, "`${\(inner)}` is not a substitution the builder knows", at: location,
                          help: "the builder expands `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:+word}`, "
                            + "`${NAME+word}`, `${NAME:?message}`, `${NAME?message}`, `${NAME#pattern}`, `${NAME##pattern}`, "
                            + "`${NAME%pattern}`, `${NAME%%pattern}`, `${NAME/pattern/replacement}` and "
                            + "`${NAME//pattern/replacement}`; compute anything else in a `run` step")
                    continue
                }
                if dialect == .builder, let pattern = reference.modifier.pattern, !pattern.contains("$") {
                    do throws(ShellPattern.InvalidEscape) {
                        _ = try ShellPattern(pattern)
                    } catch let invalid {
                        self.error(.unsupportedSubstitution, "`\(invalid.escape)` in the pattern of `${\(name)\(reference.modifier.written)}` is an escape the builder rejects",
                              at: location, help: "a pattern escapes only `*`, `?`, `\\`, `/` and `}`; write any other character as itself")
                    }
                }
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
                    if isArgument { checkRequiredValue(reference, at: location, env: []) }
                    guard reference.kind == .braced, !isArgument else { continue }
                    if reference.hasFallback {
                        warnUndeclared(reference, in: value, at: location, stage: stage,
                                       why: "`\(name)` is not a declared build argument",
                                       help: "declare it under `args:` so that `--arg \(name)=…` can set it")
                        continue
                    }
                    error(.undefinedArgument, "`${\(name)}` is not a declared build argument", at: location,
                          help: Suggestion.didYouMean(name, in: arguments.keys.sorted())
                            ?? "declare it under `args:` (for example `args: {\(name): …}`)")
                case .stage(let env), .script(let env):
                    if isArgument { recordArgument(name, stage: stage) }
                    if isArgument, !assigned.contains(name) { checkRequiredValue(reference, at: location, env: env) }
                    guard reference.kind == .braced, !isArgument, !env.contains(name), !assigned.contains(name),
                          !Self.ambientVariables.contains(name)
                    else { continue }
                    if reference.hasFallback {
                        warnUndeclared(reference, in: value, at: location, stage: stage,
                                       why: "`\(name)` is neither a build argument nor a variable of this stage",
                                       help: "declare it under `args:` or set it with `env:`; if the base image sets it, "
                                         + "allow this with `allow: [undeclared-with-default]`")
                        continue
                    }
                    let candidates = arguments.keys.sorted() + env.sorted()
                    error(.undefinedArgument, "`${\(name)}` is neither a build argument nor a variable of this stage",
                          at: location,
                          help: Suggestion.didYouMean(name, in: candidates)
                            ?? "declare it under `args:` or set it with `env:`; for a variable of the base image write `$\(name)` (unchecked)")
                }
            }
        }
    }

    /// `${NAME:-word}` (or `-`, `:+`, `+`) of a name nothing declares: the builder takes it as unset, so the
    /// fallback is always what it gives; a warning, as a typo in NAME would go unnoticed.
    mutating func warnUndeclared(_ reference: VariableReference, in text: String, at location: SourceLocation, stage: Int?,
                                 why: String, help: String) {
        let written = String(String.UnicodeScalarView(text.unicodeScalars.dropFirst(reference.offset).prefix(reference.length)))
        let gives: String
        switch reference.modifier {
        case .defaultIfUnsetOrEmpty(let word), .defaultIfUnset(let word): gives = "its default `\(word)`"
        default: gives = "nothing"
        }
        warn(.undeclaredWithDefault, "\(why), so `\(written)` always gives \(gives)", at: location, stage: stage,
             help: Suggestion.didYouMean(reference.name, in: arguments.keys.sorted()).map { "\($0); or \(help)" } ?? help)
    }

    /// `${NAME:?message}` or `${NAME?message}` of a build argument whose value is known to be empty or unset (and
    /// that no `env` of the stage sets): the build would stop there, with BuildKit's message.
    mutating func checkRequiredValue(_ reference: VariableReference, at location: SourceLocation, env: Set<String>) {
        guard !env.contains(reference.name), case .some(.some(let value)) = arguments[reference.name] else { return }
        let reason: VariableExpansionError.Reason
        switch reference.modifier {
        case .errorIfUnsetOrEmpty(let message) where value.isEmpty: reason = .empty(reference.name, message)
        default: return
        }
        error(.missingArgumentValue, "build argument `\(reference.name)` is empty: the build stops with `\(reason.message)`",
              at: location, help: "give it a value with `--arg \(reference.name)=…`, or a non-empty default under `args:`")
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
