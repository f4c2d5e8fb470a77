import PlanDiagnostics
import PlanLanguage
import PlanValues

extension Checker {
    /// Checks an image reference the way the executor reads it (``ImageReference/init(parsing:)``), with the
    /// values of build arguments known at compile time substituted; reports the parser's error at its column in
    /// the text as written (the whole `${…}` when the problem lies in a substituted value). Modifiers apply:
    /// `${TAG:-1.36}` is TAG's value, or `1.36` when `isUnset(TAG)`. A reference that still holds a variable after
    /// substitution is left to the build.
    mutating func checkImageReference(_ reference: Located<String>, help: String? = nil,
                                      isUnset: (String) -> Bool = { _ in false }) {
        let written = reference.value
        let substitution = VariableSyntax.substitute(in: written, knownArgumentValues, isUnset: isUnset)
        let concrete = substitution.text
        guard !concrete.contains("$"), let failure = ValueFormats.imageReferenceError(concrete) else { return }
        // The parser counts characters; locations count Unicode scalars.
        let offset = concrete.prefix(failure.offset).unicodeScalars.count
        let span = substitution.writtenSpan(ofOffset: offset, length: 1)
        error(.malformedImageReference, "`\(written)` is not a valid image reference: \(failure.problem)",
              at: reference.location(ofOffset: span.offset, length: max(span.length, 1)), help: help)
    }

    /// True for a name nothing sets before any stage (neither a declared nor an automatic build argument): the
    /// builder reads it as unset in `from:`.
    func isUnsetBeforeStages(_ name: String) -> Bool {
        arguments[name] == nil && !Self.platformArguments.contains(name)
    }
}
