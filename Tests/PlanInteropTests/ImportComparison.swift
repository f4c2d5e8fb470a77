import Foundation
import PlanTestKit

/// The instruction lists BuildKit's parser (scripts/dockerfile-parse) reads from an original Dockerfile and
/// from the one `plan compile` writes for its import, normalised only as docs/import.md ("How the round trip is
/// compared") lists, and their differences as `- ` (original only) and `+ ` (compiled only) lines.
enum ImportComparison {
    struct Instruction: Decodable {
        var cmd: String
        var json: Bool
        var flags: [String]
        var value: [String]
        var heredocs: [Heredoc]
    }

    struct Heredoc: Decodable {
        var name: String
        var content: String
    }

    /// Runs BuildKit's parser on a Dockerfile.
    static func parse(_ path: String) throws -> [Instruction] {
        let parser = TestSupport.repoRoot + "/scripts/dockerfile-parse"
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        let result = try TestSupport.run(python, [parser, path])
        guard result.status == 0 else { throw TestSupport.ToolMissing(name: "dockerfile-parse \(path): \(result.stderr)") }
        return try JSONDecoder().decode([Instruction].self, from: Data(result.stdout.utf8))
    }

    /// Image configuration: compared as each stage's final value, not by position (plan writes it last).
    static let configuration: Set<String> = ["LABEL", "EXPOSE", "VOLUME", "CMD", "ENTRYPOINT", "STOPSIGNAL", "HEALTHCHECK", "MAINTAINER", "ONBUILD"]
    /// Arguments BuildKit (and plan) predefine.
    static let predefined: Set<String> = [
        "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
    ]

    /// `${NAME}` → `$NAME`: the same to BuildKit and every shell.
    static func braces(_ text: String) -> String {
        text.replacing(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/) { "$" + $0.output.1 }
    }

    /// Quotes around a whole word removed (`ARG A="x"` ≡ `ARG A=x`).
    static func unquote(_ text: String) -> String {
        guard text.count >= 2, let first = text.first, first == text.last, first == "\"" || first == "'" else { return text }
        return String(text.dropFirst().dropLast())
    }

    /// Every quote of a word removed, as BuildKit's expansion of FROM's image does (`debian:"${A}"`).
    static func removingQuotes(_ text: String) -> String {
        text.filter { $0 != "\"" && $0 != "'" }
    }

    struct Normalised {
        /// Each argument's first default, by name.
        var arguments: [String: String] = [:]
        /// One line per step, `N: INSTRUCTION …` (N the stage's index), then the stage's final configuration.
        var lines: [String] = []
    }

    static func normalise(_ list: [Instruction]) -> Normalised {
        var out = Normalised()
        var stageIndex: [String: Int] = [:]
        var stage = -1
        var config: [String: String] = [:]
        // Each stage's working directory as far as the file says (nil: the base image's, unknown here).
        var workdirs: [Int: String] = [:]
        var workdir: String? = nil
        func flush() {
            for key in config.keys.sorted() { out.lines.append("\(stage): config \(key) \(config[key] ?? "")") }
            config = [:]
        }
        func stageReference(_ name: String) -> String {
            stageIndex[name.lowercased()].map { "stage#\($0)" } ?? name
        }
        for instruction in list {
            let command = instruction.cmd.uppercased()
            var value = instruction.value.map(braces)
            switch command {
            case "FROM":
                flush()
                stage += 1
                if stage >= 0 { workdirs[stage] = workdir }
                let base = stageReference(braces(removingQuotes(instruction.value.first ?? "")))
                workdir = base.hasPrefix("stage#") ? Int(base.dropFirst("stage#".count)).flatMap { workdirs[$0] } : nil
                if base == "scratch" { workdir = "/" }
                if instruction.value.count == 3, stageIndex[instruction.value[2].lowercased()] == nil {
                    stageIndex[instruction.value[2].lowercased()] = stage  // references name the first of duplicates
                }
                stageIndex[String(stage)] = stage
                let platform = instruction.flags.filter { $0.hasPrefix("--platform") }.map(braces)
                out.lines.append((["\(stage): FROM", base] + platform).joined(separator: " "))
                continue
            case "ARG":
                for word in instruction.value {
                    let parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    let name = String(parts[0])
                    if out.arguments[name] == nil { out.arguments[name] = braces(unquote(parts.count > 1 ? String(parts[1]) : "")) }
                }
                continue
            default: break
            }
            guard stage >= 0 else { continue }
            if configuration.contains(command) {
                switch command {
                case "LABEL":
                    for index in stride(from: 0, to: value.count - 1, by: 2) {
                        config["LABEL " + unquote(value[index])] = unquote(value[index + 1])
                    }
                case "EXPOSE", "VOLUME":
                    let set = Set((config[command] ?? "").split(separator: " ").map(String.init)).union(value.map(unquote))
                    config[command] = set.sorted().joined(separator: " ")
                default:
                    if !instruction.json, command == "CMD" || command == "ENTRYPOINT" { value = ["/bin/sh", "-c"] + value }
                    if !instruction.json, command == "HEALTHCHECK", value.first == "CMD" { value = ["CMD", "/bin/sh", "-c"] + value.dropFirst() }
                    config[command] = "\(instruction.flags.sorted()) \(value)"
                }
                continue
            }
            if command == "ENV" {
                for index in stride(from: 0, to: value.count - 1, by: 2) {
                    out.lines.append("\(stage): ENV \(value[index])=\(unquote(value[index + 1]))")
                }
                continue
            }
            if command == "WORKDIR" || command == "USER" {
                // BuildKit's word expansion removes quotes (`WORKDIR "$APP"` ≡ `WORKDIR $APP`).
                value = value.map(removingQuotes)
                if command == "WORKDIR", let path = value.first {
                    workdir = path.hasPrefix("/") ? path : workdir.map { ($0.hasSuffix("/") ? $0 : $0 + "/") + path }
                }
            }
            var name = command
            var flags = instruction.flags.map { flag in
                // A mount's options in any order; a relative target resolved against the working directory, as
                // BuildKit does, when the file says what it is.
                guard flag.hasPrefix("--mount=") else { return flag }
                let options = flag.dropFirst("--mount=".count).split(separator: ",").map { option -> String in
                    guard let workdir, option.hasPrefix("target="), !option.dropFirst("target=".count).hasPrefix("/") else { return String(option) }
                    var target = String(option.dropFirst("target=".count))
                    while target.hasPrefix("./") { target.removeFirst(2) }
                    if target == "." { target = "" }
                    let joined = (workdir.hasSuffix("/") ? workdir : workdir + "/") + target
                    return "target=" + (joined.count > 1 && joined.hasSuffix("/") ? String(joined.dropLast()) : joined)
                }
                // No type is a bind mount (BuildKit's default).
                let typed = options.contains { $0.hasPrefix("type=") } ? options : options + ["type=bind"]
                return "--mount=" + typed.sorted().joined(separator: ",")
            }.map(braces).sorted()
            if command == "RUN", !instruction.heredocs.isEmpty {
                value = value.map { $0.replacing(/<<-?["']?[A-Za-z_][A-Za-z0-9_]*["']?/, with: "<<HEREDOC") }
                    + instruction.heredocs.map { "HEREDOC:" + braces($0.content) }
            }
            if command == "ADD", !value.dropLast().contains(where: { $0.contains("://") }) { name = "COPY" }
            if name == "COPY" {
                flags.removeAll { $0 == "--link" || $0 == "--link=true" }
                flags = flags.map { flag in
                    flag.hasPrefix("--from=") ? "--from=" + stageReference(String(flag.dropFirst("--from=".count))) : flag
                }
                let fromContext = !flags.contains { $0.hasPrefix("--from=") }
                value = value.enumerated().map { index, path in
                    // Quotes removed, as BuildKit's word expansion does (`"$APP"/config` ≡ `$APP/config`).
                    copyPath(instruction.json ? path : removingQuotes(path), isSource: index < value.count - 1, fromContext: fromContext)
                }
            }
            let form = command == "RUN" && instruction.json ? ["(json)"] : []
            out.lines.append((["\(stage): \(name)"] + flags + form + value).joined(separator: " ").replacingOccurrences(of: "\n", with: "\\n"))
        }
        flush()
        return out
    }

    /// `./a` ≡ `a`; `.` ≡ `./`; a source's trailing `/` dropped; a context source's leading `/` dropped (the
    /// context is its root).
    static func copyPath(_ path: String, isSource: Bool, fromContext: Bool) -> String {
        var path = path
        if isSource, fromContext { while path.hasPrefix("/") { path.removeFirst() } }
        while path.hasPrefix("./") { path.removeFirst(2) }
        if isSource, path.count > 1, path.hasSuffix("/") { path.removeLast() }
        return path.isEmpty || path == "." ? "./" : path
    }

    /// The differences, `- ` original only, `+ ` compiled only. Arguments: every argument the compiled file
    /// declares (platform arguments aside) has the original's first default; arguments no stage of the plan
    /// uses are not declared by `plan compile` and not compared.
    static func differences(original: [Instruction], compiled: [Instruction]) -> [String] {
        let before = normalise(original)
        let after = normalise(compiled)
        var result: [String] = []
        for name in after.arguments.keys.sorted() where !predefined.contains(name) {
            let value = after.arguments[name] ?? ""
            if let old = before.arguments[name] {
                if old != value { result += ["- ARG \(name)=\(old)", "+ ARG \(name)=\(value)"] }
            } else {
                result.append("+ ARG \(name)=\(value)")
            }
        }
        return result + diff(before.lines, after.lines)
    }

    /// A line diff by longest common subsequence.
    static func diff(_ a: [String], _ b: [String]) -> [String] {
        var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                table[i][j] = a[i] == b[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var out: [String] = []
        var i = 0
        var j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] {
                i += 1
                j += 1
            } else if j == b.count || (i < a.count && table[i + 1][j] >= table[i][j + 1]) {
                out.append("- " + a[i])
                i += 1
            } else {
                out.append("+ " + b[j])
                j += 1
            }
        }
        return out
    }

    /// A fixture's `EXPECTED` file: the diagnostic codes import and check give (one line each, `warning CODE`
    /// or `error CODE`, a `#` comment after it), and the exact differences (`- …`, `+ …`).
    struct Expectation: Equatable {
        var diagnostics: [String] = []
        var differences: [String] = []

        init(diagnostics: [String] = [], differences: [String] = []) {
            self.diagnostics = diagnostics
            self.differences = differences
        }

        init(text: String) {
            for line in text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) {
                if line.hasPrefix("- ") || line.hasPrefix("+ ") {
                    differences.append(line)
                } else if line.hasPrefix("warning ") || line.hasPrefix("error ") {
                    diagnostics.append(line.split(separator: " ").prefix(2).joined(separator: " "))
                }
            }
        }
    }
}
