import Foundation
import PlanDiagnostics
import PlanValues

/// A `${NAME}`, `$NAME` or `${{ name }}` inside a plan string.
public struct VariableReference: Hashable, Sendable {
    public enum Kind: Sendable {
        /// `${NAME}` (also `${NAME:-default}` and shell forms like `${#NAME}`): a checked build argument or variable.
        case braced
        /// `$NAME`: left to the builder or the shell, unchecked (the escape hatch for base-image variables).
        case bare
        /// `${{ name }}`: a template parameter, fixed at compile time.
        case parameter
        /// `${` or `${{` without its closing brace.
        case unterminated
    }

    public var kind: Kind
    public var name: String
    /// Offset of the `$` in the string, in Unicode scalars.
    public var offset: Int
    /// Length of the whole reference, `$` to closing brace, in Unicode scalars.
    public var length: Int
    /// What follows the name inside the braces (`:-word`, …); `.other` for a form the builder lacks.
    public var modifier: VariableReferenceSyntax.Modifier = .none

    /// True for `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}` and `${NAME+word}`: forms that give a value
    /// (the word, or nothing) when NAME is unset, so an undeclared NAME is no error to the builder.
    public var hasFallback: Bool {
        switch modifier {
        case .defaultIfUnsetOrEmpty, .defaultIfUnset, .alternativeIfSetAndNotEmpty, .alternativeIfSet: return true
        case .none, .errorIfUnsetOrEmpty, .errorIfUnset, .removePrefix, .removeSuffix, .replace, .other: return false
        }
    }
}

/// Finds variable references in plan strings and substitutes template parameters: a thin use of
/// ``VariableSyntax``, the scanner the executor expands with.
public enum Interpolation {
    /// True for `[A-Za-z_][A-Za-z0-9_]*`.
    public static func isName(_ text: String) -> Bool { VariableSyntax.isName(text) }

    /// Every reference in `text`, in order, including those in a default's word (`${A:-${B}}`). `\$` never
    /// starts a reference; in the builder dialect `$$` is a literal `$` before whatever the second `$` starts
    /// (as buildah reads it), in the shell dialect `$$` is the shell's process id. Positional parameters
    /// (`$1`) are not references.
    public static func references(in text: String, dialect: VariableSyntax.Dialect = .builder) -> [VariableReference] {
        guard text.contains("$") else { return [] }
        var result: [VariableReference] = []
        for token in VariableSyntax.tokens(in: text, dialect: dialect) {
            switch token.kind {
            case .literal: continue
            case .unterminated:
                result.append(VariableReference(kind: .unterminated, name: "", offset: token.offset, length: token.length))
            case .parameter(let name):
                result.append(VariableReference(kind: .parameter, name: name, offset: token.offset, length: token.length))
            case .reference:
                continue
            }
        }
        for found in VariableSyntax.references(in: text, dialect: dialect) {
            let reference = found.reference
            // `${}` and `${:-x}` name nothing; the checker reports them as a form the builder lacks.
            let namesNothing = reference.form == .braced && reference.name.isEmpty
            guard reference.hasVariableName || namesNothing else { continue }
            let kind: VariableReference.Kind = reference.form == .braced ? .braced : .bare
            var modifier = reference.modifier
            if namesNothing {
                let written = text.unicodeScalars.dropFirst(found.offset + 2).prefix(max(found.length - 3, 0))
                modifier = .other(String(String.UnicodeScalarView(written)))
            }
            result.append(VariableReference(kind: kind, name: reference.name, offset: found.offset, length: found.length,
                                            modifier: modifier))
        }
        return result.sorted { $0.offset < $1.offset }
    }

    /// `text` with every `${{ name }}` replaced from `values`; unknown names are left as written.
    public static func substituteParameters(in text: String, _ values: [String: String]) -> String {
        guard text.contains("${{") else { return text }
        var chars = Array(text.unicodeScalars)
        for reference in references(in: text).reversed() where reference.kind == .parameter {
            guard let value = values[reference.name] else { continue }
            chars.replaceSubrange(reference.offset..<(reference.offset + reference.length), with: value.unicodeScalars)
        }
        return String(String.UnicodeScalarView(chars))
    }

    /// `text` with `${NAME}` and `$NAME` replaced where `values` knows the name (for checks that need
    /// a concrete value, like an image reference with an argument default).
    /// Modifiers apply (``VariableSyntax/substitute(in:_:isUnset:dialect:)``): `${TAG:-1}` gives TAG's value or `1`
    /// when `values` has TAG, or `1` when `isUnset(TAG)`; otherwise it is kept as written.
    public static func substituteArguments(in text: String, _ values: [String: String],
                                           isUnset: (String) -> Bool = { _ in false }) -> String {
        guard text.contains("$") else { return text }
        return VariableSyntax.substitute(in: text, values, isUnset: isUnset).text
    }
}

extension Located where Value == String {
    /// The location of a part of the string, exact when the string sat on one line without escapes.
    ///
    /// A scalar's location underlines its raw width; when that equals the text's width (plain) or the text's
    /// width plus two quotes, each character has its own column.
    public func location(ofOffset offset: Int, length: Int) -> SourceLocation {
        let width = value.unicodeScalars.count
        if location.length == width, width > 1 || offset == 0 {
            return location.advanced(by: offset, length: length)
        }
        if location.length == width + 2 {
            return location.advanced(by: offset + 1, length: length)
        }
        return location
    }
}
