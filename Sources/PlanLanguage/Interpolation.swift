import Foundation
import PlanDiagnostics

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
}

/// Finds variable references in plan strings and substitutes template parameters.
public enum Interpolation {
    static func isNameStart(_ c: Unicode.Scalar) -> Bool {
        c == "_" || (c >= "a" && c <= "z") || (c >= "A" && c <= "Z")
    }

    static func isNameChar(_ c: Unicode.Scalar) -> Bool {
        isNameStart(c) || (c >= "0" && c <= "9")
    }

    /// True for `[A-Za-z_][A-Za-z0-9_]*`.
    public static func isName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, isNameStart(first) else { return false }
        return text.unicodeScalars.allSatisfy(isNameChar)
    }

    /// Every reference in `text`, in order. `\$` and `$$` are escapes and never start a reference.
    public static func references(in text: String) -> [VariableReference] {
        let chars = Array(text.unicodeScalars)
        var result: [VariableReference] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "\\", i + 1 < chars.count, chars[i + 1] == "$" {
                i += 2
                continue
            }
            guard c == "$", i + 1 < chars.count else {
                i += 1
                continue
            }
            let next = chars[i + 1]
            if next == "$" {
                i += 2
                continue
            }
            if next == "{", i + 2 < chars.count, chars[i + 2] == "{" {
                // ${{ name }}
                var j = i + 3
                while j + 1 < chars.count, !(chars[j] == "}" && chars[j + 1] == "}") { j += 1 }
                if j + 1 >= chars.count {
                    result.append(VariableReference(kind: .unterminated, name: "", offset: i, length: chars.count - i))
                    return result
                }
                let name = String(String.UnicodeScalarView(chars[(i + 3)..<j])).trimmingCharacters(in: .whitespaces)
                result.append(VariableReference(kind: .parameter, name: name, offset: i, length: j + 2 - i))
                i = j + 2
                continue
            }
            if next == "{" {
                var j = i + 2
                var depth = 1
                while j < chars.count {
                    if chars[j] == "{" { depth += 1 }
                    if chars[j] == "}" {
                        depth -= 1
                        if depth == 0 { break }
                    }
                    j += 1
                }
                if j >= chars.count {
                    result.append(VariableReference(kind: .unterminated, name: "", offset: i, length: chars.count - i))
                    return result
                }
                var k = i + 2
                if k < j, chars[k] == "#" || chars[k] == "!" { k += 1 }
                let nameStart = k
                while k < j, isNameChar(chars[k]) { k += 1 }
                let name = String(String.UnicodeScalarView(chars[nameStart..<k]))
                if !name.isEmpty, let first = name.unicodeScalars.first, isNameStart(first) {
                    result.append(VariableReference(kind: .braced, name: name, offset: i, length: j + 1 - i))
                }
                i = j + 1
                continue
            }
            if isNameStart(next) {
                var j = i + 1
                while j < chars.count, isNameChar(chars[j]) { j += 1 }
                let name = String(String.UnicodeScalarView(chars[(i + 1)..<j]))
                result.append(VariableReference(kind: .bare, name: name, offset: i, length: j - i))
                i = j
                continue
            }
            i += 1
        }
        return result
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
    public static func substituteArguments(in text: String, _ values: [String: String]) -> String {
        guard text.contains("$") else { return text }
        var chars = Array(text.unicodeScalars)
        for reference in references(in: text).reversed() where reference.kind == .braced || reference.kind == .bare {
            guard let value = values[reference.name] else { continue }
            chars.replaceSubrange(reference.offset..<(reference.offset + reference.length), with: value.unicodeScalars)
        }
        return String(String.UnicodeScalarView(chars))
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
