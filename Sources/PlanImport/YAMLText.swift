/// Scalars written the way the example plans write them: plain where YAML reads them back as the same
/// string, double-quoted otherwise, literal blocks for multi-line commands.
enum YAMLText {
    private static let special: Set<String> = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", "True", "False", "Yes", "No", "On", "Off",
        "TRUE", "FALSE", "YES", "NO", "ON", "OFF", "NULL", "Null", "Y", "N", "<<", "=",
    ]

    /// A scalar; `flow` for items of a `[…]` list, where `,[]{}` must be quoted too.
    static func scalar(_ s: String, flow: Bool = false) -> String {
        plainIsSafe(s, flow: flow) ? s : quoted(s)
    }

    static func plainIsSafe(_ s: String, flow: Bool) -> Bool {
        guard let first = s.first, let last = s.last else { return false }
        if special.contains(s) { return false }
        if first == " " || last == " " || last == ":" { return false }
        if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
            // `-x` is plain when a non-space follows; the others are always quoted.
            if !(first == "-" && s.count > 1 && s.dropFirst().first != " ") { return false }
        }
        if looksNumeric(s) { return false }
        if s.containsBytes(": ") || s.containsBytes(" #") || s.containsBytes("\t") { return false }
        if flow, s.contains(where: { ",[]{}".contains($0) }) { return false }
        for scalar in s.unicodeScalars where scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0xFEFF {
            return false
        }
        return true
    }

    /// Numbers, dates and sexagesimals in YAML 1.1 or 1.2.
    static func looksNumeric(_ s: String) -> Bool {
        let body = s.hasPrefix("-") || s.hasPrefix("+") ? s.dropFirst() : Substring(s)
        guard let first = body.first else { return false }
        if first == "." {
            let rest = body.dropFirst().lowercased()
            return rest == "inf" || rest == "nan" || (body.count > 1 && body.dropFirst().allSatisfy { $0.isNumber || $0 == "_" || $0 == "e" || $0 == "E" || $0 == "-" || $0 == "+" })
        }
        guard first.isASCII, first.isNumber else { return false }
        return body.allSatisfy { $0.isASCII && ($0.isNumber || $0.isLetter || "._:+-".contains($0)) }
            && (body.allSatisfy { $0.isASCII && ($0.isNumber || "._:+-eE".contains($0)) }
                || body.hasPrefix("0x") || body.hasPrefix("0o") || body.hasPrefix("0b"))
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0xFEFF {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += scalar.value <= 0xFF ? "\\x" + String(repeating: "0", count: 2 - hex.count) + hex
                        : "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// `[a, b]` when short and flow-safe, nil otherwise (then written as a block list).
    static func flowList(_ items: [String], limit: Int = 100) -> String? {
        let parts = items.map { scalar($0, flow: true) }
        let text = "[" + parts.joined(separator: ", ") + "]"
        return text.count <= limit ? text : nil
    }

    /// A value after `key:` that may span lines: a literal block at `indent` (the key's indentation + 2) when
    /// it has line breaks and reads back the same, a scalar otherwise.
    static func value(_ s: String, indent: Int) -> String {
        guard s.containsBytes("\n") else { return " " + scalar(s) }
        let lines = s.split(separator: "\n", omittingEmptySubsequences: false)
        let usable = !s.containsBytes("\r") && !s.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || $0.value == 0x7F || $0.value == 0xFEFF }
            && !(lines.first.map { $0.hasPrefix(" ") || $0.hasPrefix("\t") || $0.isEmpty } ?? true)
            && !lines.contains { $0.allSatisfy { $0 == " " } && !$0.isEmpty }
        guard usable else { return " " + quoted(s) }
        var body = Substring(s)
        var trailing = 0
        while body.hasSuffix("\n") {
            body = body.dropLast()
            trailing += 1
        }
        let indicator = trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+"
        let pad = String(repeating: " ", count: indent)
        var out = " " + indicator
        for line in body.split(separator: "\n", omittingEmptySubsequences: false) {
            out += "\n" + (line.isEmpty ? "" : pad + line)
        }
        if trailing > 1 { out += String(repeating: "\n", count: trailing - 1) }
        return out
    }

    /// A comment line (`#` and the text as written).
    static func comment(_ text: String, indent: Int) -> String {
        String(repeating: " ", count: indent) + "#" + text.replacingOccurrences(of: "\r", with: "")
    }
}
