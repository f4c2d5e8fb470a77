import Foundation
import PlanDiagnostics

enum Output {
    static func standardError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func standardOutput(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Prints diagnostics (text and GitHub forms to stderr; JSON to `jsonToStandardOutput ? stdout : stderr`).
    static func report(_ diagnostics: [Diagnostic], sources: SourceMap, options: PlanOptions,
                       jsonToStandardOutput: Bool) {
        let renderer = DiagnosticRenderer(sources: sources, colored: options.colored && options.diagnosticsFormat == .text)
        let text = renderer.render(diagnostics, format: options.diagnosticsFormat)
        if options.diagnosticsFormat == .json, jsonToStandardOutput {
            standardOutput(text)
        } else if !text.isEmpty {
            standardError(text)
        }
    }
}
