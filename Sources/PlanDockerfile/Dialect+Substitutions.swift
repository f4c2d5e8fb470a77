import PlanCompiler
import PlanDiagnostics
import PlanValues

extension Dialect {
    /// `${NAME-word}`, `${NAME+word}`, `${NAME:?message}`, `${NAME?message}` and the pattern forms of Dockerfile
    /// syntax 1.7 (`${NAME#pattern}`, `${NAME%pattern}`, `${NAME/pattern/replacement}`, doubled or not) in what the
    /// builder expands: BuildKit knows them, buildah 1.28 does not ("Missing ':' in substitution", "Unsupported
    /// modifier (?)"), so the portable dialect reports each, located at its stage or step.
    static func portableSubstitutionProblems(in graph: BuildGraph) -> [Diagnostic] {
        var found: [Diagnostic] = []
        func check(_ text: String?, _ location: SourceLocation) {
            guard let text, text.contains("${") else { return }
            for reference in VariableSyntax.references(in: text).map(\.reference) {
                switch reference.modifier {
                case .defaultIfUnset, .alternativeIfSet, .errorIfUnsetOrEmpty, .errorIfUnset, .removePrefix, .removeSuffix,
                     .replace: break
                case .none, .defaultIfUnsetOrEmpty, .alternativeIfSetAndNotEmpty, .other: continue
                }
                let written = "${\(reference.name)\(reference.modifier.written)}"
                found.append(.error(.unsupportedByDialect, "the portable dialect cannot express `\(written)`", at: location,
                                    help: "buildah 1.28 knows only `${NAME:-word}` and `${NAME:+word}`: use one of them; "
                                        + "or compile with `--dialect buildkit`"))
            }
        }
        for stage in graph.stages {
            if case .image(let image) = stage.base { check(image, stage.location) }
            for instruction in stage.instructions {
                switch instruction {
                case .workdir(let path, let location): check(path, location)
                case .user(let user, let location): check(user, location)
                case .env(let pairs, let location): for pair in pairs { check(pair.value, location) }
                case .shell, .run: break
                case .copy(let copy):
                    if case .image(let image) = copy.source { check(image, copy.location) }
                    for text in copy.sources + [copy.destination] + copy.exclude { check(text, copy.location) }
                    check(copy.chown, copy.location)
                    check(copy.chmod, copy.location)
                case .add(let add):
                    for text in [add.url, add.destination] { check(text, add.location) }
                    check(add.chown, add.location)
                    check(add.chmod, add.location)
                }
            }
            let config = stage.config
            for text in config.expose + config.volumes + config.labels.flatMap({ [$0.key, $0.value] }) { check(text, stage.location) }
            check(config.stopSignal, stage.location)
        }
        return found
    }
}
