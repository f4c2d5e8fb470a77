/// Docker's build-time variable expansion for ENV, WORKDIR, USER, COPY paths and the like:
/// `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}`; `\$` is a literal dollar sign.
/// Read by ``VariableSyntax`` in its builder dialect (as buildah reads it: `x$$y` is `x$` and `$y`).
public enum VariableExpansion {
    /// `text` with every variable reference replaced by its value in `values` (unknown names: empty).
    public static func expand(_ text: String, _ values: [String: String]) -> String {
        VariableSyntax.expand(text, values)
    }
}

/// A string with some references replaced by known values, and the way back from its offsets to the
/// text as written (for diagnostics about the substituted text).
public struct VariableSubstitution: Sendable {
    /// The text after substitution; references without a value are kept as written.
    public let text: String
    /// (offset in ``text``, offset in the written text, length in ``text``, length as written, substituted?)
    let segments: [(offset: Int, writtenOffset: Int, length: Int, writtenLength: Int, substituted: Bool)]

    /// Whether anything was replaced.
    public var substitutedAny: Bool { segments.contains { $0.substituted } }

    /// The span of the written text that produced `offset` in ``text`` (Unicode scalars): the same character
    /// in a literal part, the whole reference in a substituted one.
    public func writtenSpan(ofOffset offset: Int, length: Int) -> (offset: Int, length: Int) {
        for segment in segments where offset >= segment.offset && offset < segment.offset + max(segment.length, 1) {
            if segment.substituted { return (segment.writtenOffset, segment.writtenLength) }
            return (segment.writtenOffset + offset - segment.offset, min(length, segment.length - (offset - segment.offset)))
        }
        guard let last = segments.last else { return (0, length) }
        return (last.writtenOffset + last.writtenLength, length)
    }
}

extension VariableSyntax {
    /// `text` with each reference whose value can be known replaced by what the builder makes of it, modifiers
    /// applied (`${TAG:-1.36}` gives the value of TAG, or `1.36` when TAG is unset or empty), for checks that need
    /// a concrete value, like an image reference with an argument default.
    ///
    /// A reference can be known when its name and every name in its modifier's word are either in `values` or
    /// `isUnset` (a name that nothing sets, like an undeclared argument before any stage); other references, and
    /// those the builder would reject (`${NAME:?message}` with NAME unset, a form it lacks), are kept as written.
    public static func substitute(in text: String, _ values: [String: String], isUnset: (String) -> Bool = { _ in false },
                                  dialect: Dialect = .builder) -> VariableSubstitution {
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var segments: [(offset: Int, writtenOffset: Int, length: Int, writtenLength: Int, substituted: Bool)] = []
        for token in tokens(in: text, dialect: dialect) {
            let start = out.count
            let written = String(String.UnicodeScalarView(scalars[token.offset..<(token.offset + token.length)]))
            var substituted = false
            if case .reference(let reference) = token.kind,
               let value = knownValue(of: reference, written: written, values, isUnset: isUnset, dialect: dialect) {
                out.append(contentsOf: value.unicodeScalars)
                substituted = true
            } else {
                out.append(contentsOf: written.unicodeScalars)
            }
            segments.append((start, token.offset, out.count - start, token.length, substituted))
        }
        return VariableSubstitution(text: String(out), segments: segments)
    }

    /// What the builder makes of one reference (`written`), when every name it depends on is known.
    static func knownValue(of reference: VariableReferenceSyntax, written: String, _ values: [String: String],
                           isUnset: (String) -> Bool, dialect: Dialect) -> String? {
        func known(_ name: String) -> Bool { values[name] != nil || isUnset(name) }
        guard reference.hasVariableName, known(reference.name) else { return nil }
        if case .other = reference.modifier { return nil }
        let inner = references(in: written, dialect: dialect).dropFirst()
        guard inner.allSatisfy({ $0.reference.hasVariableName && known($0.reference.name) }) else { return nil }
        return try? render(written, values, strict: true)
    }
}
