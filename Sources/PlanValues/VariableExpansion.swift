/// Docker's build-time variable expansion for ENV, WORKDIR, USER, COPY paths and the like:
/// `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}`; `\$` is a literal dollar sign.
public enum VariableExpansion {
    /// `text` with every variable reference replaced by its value in `values` (unknown names: empty).
    public static func expand(_ text: String, _ values: [String: String]) -> String {
        guard text.contains("$") else { return text }
        let chars = Array(text)
        var out = ""
        var i = 0
        func isNameChar(_ c: Character) -> Bool { c == "_" || c.isASCII && (c.isLetter || c.isNumber) }
        while i < chars.count {
            let c = chars[i]
            if c == "\\", i + 1 < chars.count, chars[i + 1] == "$" {
                out.append("$")
                i += 2
                continue
            }
            guard c == "$", i + 1 < chars.count else {
                out.append(c)
                i += 1
                continue
            }
            if chars[i + 1] == "{", let close = chars[(i + 2)...].firstIndex(of: "}") {
                let inner = String(chars[(i + 2)..<close])
                if let range = inner.range(of: ":-") {
                    let name = String(inner[..<range.lowerBound])
                    let value = values[name] ?? ""
                    out += value.isEmpty ? String(inner[range.upperBound...]) : value
                } else if let range = inner.range(of: ":+") {
                    let name = String(inner[..<range.lowerBound])
                    out += (values[name] ?? "").isEmpty ? "" : String(inner[range.upperBound...])
                } else {
                    out += values[inner] ?? ""
                }
                i = close + 1
                continue
            }
            var j = i + 1
            while j < chars.count, isNameChar(chars[j]) { j += 1 }
            if j == i + 1 {
                out.append(c)
                i += 1
                continue
            }
            out += values[String(chars[(i + 1)..<j])] ?? ""
            i = j
        }
        return out
    }
}
