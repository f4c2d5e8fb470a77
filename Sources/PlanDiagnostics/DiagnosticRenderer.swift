import Foundation

/// The forms diagnostics can be printed in (`--diagnostics-format`).
public enum DiagnosticFormat: String, CaseIterable, Sendable {
    /// Compiler-style text with a source snippet and a caret.
    case text
    /// One JSON document for tools.
    case json
    /// GitHub Actions workflow commands (`::error file=…,line=…,col=…::…`).
    case github
}

/// Renders diagnostics as text, JSON or GitHub annotations. Pure: returns strings, prints nothing.
public struct DiagnosticRenderer: Sendable {
    public var sources: SourceMap
    /// ANSI colours, for terminals only.
    public var colored: Bool

    public init(sources: SourceMap, colored: Bool = false) {
        self.sources = sources
        self.colored = colored
    }

    public func render(_ diagnostics: [Diagnostic], format: DiagnosticFormat) -> String {
        switch format {
        case .text: diagnostics.map(renderText).joined()
        case .json: renderJSON(diagnostics)
        case .github: diagnostics.map(renderGitHub).joined()
        }
    }

    /// "1 error, 2 warnings" — or nil when there is nothing to count.
    public static func summary(_ diagnostics: [Diagnostic]) -> String? {
        let errors = diagnostics.count { $0.severity == .error }
        let warnings = diagnostics.count { $0.severity == .warning }
        guard errors + warnings > 0 else { return nil }
        func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        return [errors > 0 ? plural(errors, "error") : nil, warnings > 0 ? plural(warnings, "warning") : nil]
            .compactMap { $0 }.joined(separator: ", ")
    }

    // MARK: Text

    private enum Style: String {
        case red = "\u{1B}[1;31m", yellow = "\u{1B}[1;33m", blue = "\u{1B}[1;34m", cyan = "\u{1B}[1;36m"
        case bold = "\u{1B}[1m"
    }

    private func paint(_ text: String, _ style: Style) -> String {
        colored ? style.rawValue + text + "\u{1B}[0m" : text
    }

    private func severityStyle(_ severity: Diagnostic.Severity) -> Style {
        switch severity {
        case .error: .red
        case .warning: .yellow
        case .note: .blue
        }
    }

    public func renderText(_ diagnostic: Diagnostic) -> String {
        var out = ""
        let style = severityStyle(diagnostic.severity)
        if let location = diagnostic.location {
            out += paint("\(location):", .bold) + " "
        }
        out += paint("\(diagnostic.severity.rawValue)[\(diagnostic.code.id)]", style)
        out += paint(": \(diagnostic.message)", .bold) + "\n"

        let gutterWidth = String(diagnostic.location?.line ?? 0).count
        let pad = String(repeating: " ", count: gutterWidth)
        if let location = diagnostic.location, let line = sources[location.file]?.line(location.line) {
            let text = String(line).replacingOccurrences(of: "\t", with: " ")
            let visible = text.unicodeScalars.count
            let start = min(max(location.column - 1, 0), visible)
            let width = max(1, min(location.length, max(1, visible - start)))
            out += paint("\(pad) |", .blue) + "\n"
            out += paint("\(location.line) |", .blue) + " \(text)\n"
            out += paint("\(pad) |", .blue) + " " + String(repeating: " ", count: start)
                + paint(String(repeating: "^", count: width), style) + "\n"
        }
        for note in diagnostic.notes {
            let place = note.location.map { "\($0): " } ?? ""
            out += paint("\(pad) =", .blue) + " " + paint("note", .bold) + ": \(place)\(note.message)\n"
        }
        if let help = diagnostic.help {
            out += paint("\(pad) =", .blue) + " " + paint("help", .cyan) + ": \(help)\n"
        }
        return out
    }

    // MARK: JSON

    private struct JSONLocation: Encodable {
        let file: String
        let line: Int
        let column: Int
    }

    private struct JSONNote: Encodable {
        let message: String
        let location: JSONLocation?
    }

    private struct JSONDiagnostic: Encodable {
        let severity: String
        let code: String
        let name: String
        let message: String
        let location: JSONLocation?
        let notes: [JSONNote]
        let help: String?
    }

    private struct JSONReport: Encodable {
        let diagnostics: [JSONDiagnostic]
        let errors: Int
        let warnings: Int
    }

    private static func jsonLocation(_ location: SourceLocation?) -> JSONLocation? {
        location.map { JSONLocation(file: $0.file, line: $0.line, column: $0.column) }
    }

    public func renderJSON(_ diagnostics: [Diagnostic]) -> String {
        let report = JSONReport(
            diagnostics: diagnostics.map {
                JSONDiagnostic(
                    severity: $0.severity.rawValue, code: $0.code.id, name: $0.code.name, message: $0.message,
                    location: Self.jsonLocation($0.location),
                    notes: $0.notes.map { JSONNote(message: $0.message, location: Self.jsonLocation($0.location)) },
                    help: $0.help)
            },
            errors: diagnostics.count { $0.severity == .error },
            warnings: diagnostics.count { $0.severity == .warning })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(report), let text = String(data: data, encoding: .utf8) else {
            return "{\"diagnostics\":[],\"errors\":0,\"warnings\":0}\n"
        }
        return text + "\n"
    }

    // MARK: GitHub Actions

    /// Escapes a workflow-command message (data part).
    private static func escapeData(_ text: String) -> String {
        text.replacingOccurrences(of: "%", with: "%25")
            .replacingOccurrences(of: "\r", with: "%0D")
            .replacingOccurrences(of: "\n", with: "%0A")
    }

    /// Escapes a workflow-command property value.
    private static func escapeProperty(_ text: String) -> String {
        escapeData(text).replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: ",", with: "%2C")
    }

    public func renderGitHub(_ diagnostic: Diagnostic) -> String {
        let command = diagnostic.severity == .error ? "error" : (diagnostic.severity == .warning ? "warning" : "notice")
        var properties: [String] = []
        if let location = diagnostic.location {
            properties.append("file=\(Self.escapeProperty(location.file))")
            properties.append("line=\(location.line)")
            properties.append("col=\(location.column)")
        }
        properties.append("title=\(Self.escapeProperty("\(diagnostic.code.id) \(diagnostic.code.name)"))")
        var message = diagnostic.message
        for note in diagnostic.notes {
            message += "\nnote: " + (note.location.map { "\($0): " } ?? "") + note.message
        }
        if let help = diagnostic.help { message += "\nhelp: \(help)" }
        return "::\(command) \(properties.joined(separator: ","))::\(Self.escapeData(message))\n"
    }
}
