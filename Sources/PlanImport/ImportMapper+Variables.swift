import PlanDiagnostics
import PlanValues

/// What the importer makes of build arguments where plan needs a fixed value: a stage or platform named by
/// an argument, and modifiers whose meaning depends on an argument being unset (plan has no unset argument).
extension ImportMapper {
    /// `text` with the arguments' defaults put in (automatic platform arguments kept as written), when it
    /// uses any other argument; nil when it uses none, or a name no `ARG` declares.
    func withArgumentDefaults(_ text: String) -> String? {
        let names = VariableSyntax.references(in: text).map(\.reference.name)
        let arguments = names.filter { !Self.platformArguments.contains($0) }
        guard !arguments.isEmpty, arguments.allSatisfy({ argDefaults[$0] != nil }) else { return nil }
        var values = argDefaults
        for name in Self.platformArguments { values[name] = nil }
        return VariableSyntax.substitute(in: text, values).text
    }

    /// `FROM ${NAME}` or `COPY --from=${NAME}` whose argument's default names a stage of the file: that stage
    /// (BuildKit resolves it after expansion), with a warning that `--build-arg` can no longer switch it.
    mutating func stageNamedByArguments(_ text: String, at location: SourceLocation, what: String) -> Int? {
        guard text.containsBytes("$"), let expanded = withArgumentDefaults(text), !expanded.containsBytes("$"),
              let index = stageIndex(expanded)
        else { return nil }
        warn(DiagnosticCode.lossyImport, "\(what) `\(text)` names stage \"\(expanded)\" with the arguments' defaults; the plan names the stage itself",
             at: location, help: "plan's stage references are fixed: `--arg` can no longer choose another stage")
        return index
    }

    /// A `FROM --platform=` value plan's `platform` takes: as written when it uses only the automatic platform
    /// arguments, else with the other arguments' defaults put in (a warning: `--arg` no longer changes it).
    mutating func platformValue(_ text: String, at location: SourceLocation) -> String {
        guard let expanded = withArgumentDefaults(text) else { return text }
        warn(DiagnosticCode.lossyImport, "FROM --platform=\(text) is written `\(expanded)`, its arguments' defaults put in",
             at: location, help: "plan's `platform` takes a literal platform, ${BUILDPLATFORM} or ${TARGETPLATFORM}; `--arg` no longer changes it")
        return expanded
    }

    /// Warns for `${NAME-word}`, `${NAME+word}` and `${NAME?message}` of an `ARG` declared without a default:
    /// BuildKit reads NAME as unset, the plan as empty (plan arguments always have a value), so the result
    /// differs. The colon forms treat unset and empty alike and keep their meaning.
    mutating func warnUnsetSensitive(_ text: String, at location: SourceLocation) {
        guard text.containsBytes("${") else { return }
        for found in VariableSyntax.references(in: text) where withoutDefault.contains(found.reference.name) {
            let name = found.reference.name
            switch found.reference.modifier {
            case .defaultIfUnset, .alternativeIfSet, .errorIfUnset:
                warn(DiagnosticCode.lossyImport, "`ARG \(name)` has no default: BuildKit reads it as unset, the plan as empty, so a `-`, `+` or `?` modifier of it gives another value",
                     at: location, help: "write the colon form (`${\(name):-…}`), which treats unset and empty alike, or give the argument a default")
            default:
                continue
            }
        }
    }
}
