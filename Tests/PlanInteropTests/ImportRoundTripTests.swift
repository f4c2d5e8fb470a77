import Foundation
import PlanCompiler
import PlanDiagnostics
import PlanDockerfile
import PlanImport
import PlanTestKit
import Testing

/// `plan import` on real multi-stage Dockerfiles (Tests/Fixtures/import/real/*/, each with a SOURCE file),
/// and on bad input through the `plan` binary.
@Suite("Interop: plan import")
struct ImportRoundTripTests {
    static let fixtures = TestSupport.fixtures + "/import/real"
    static let names: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: fixtures)) ?? []).sorted()

    /// A context holding a stub for every path the Dockerfile copies from the context (the fixtures keep
    /// only the Dockerfile): a folder for `dir/`, a file otherwise, `x` for each `*`.
    static func stubContext(for dockerfile: Dockerfile, at folder: String) throws {
        var all: [String] = []
        for instruction in dockerfile.instructions where ["COPY", "ADD"].contains(instruction.keyword) {
            guard instruction.flag("from") == nil, instruction.heredocs.isEmpty else { continue }
            let words: [String]
            switch instruction.arguments {
            case .exec(let list): words = list
            case .shell(let text): words = DockerfileWords.split(text, escape: dockerfile.escape).map { DockerfileWords.unquote($0, escape: dockerfile.escape) }
            }
            for source in words.dropLast() where !source.contains("://") && !source.contains("$") {
                let relative = source.replacingOccurrences(of: "*", with: "x").split(separator: "/").filter { $0 != "." }.joined(separator: "/")
                guard !relative.isEmpty else { continue }
                all.append(source.hasSuffix("/") ? relative + "/" : relative)
            }
        }
        // Bind mounts from the context read a path of it too (`--mount=type=bind,source=go.sum,target=…`; no
        // `source` binds the whole context, which exists).
        for instruction in dockerfile.instructions where instruction.keyword == "RUN" {
            for flag in instruction.flags where flag.name == "mount" {
                var options: [String: String] = [:]
                for part in (flag.value ?? "").split(separator: ",") {
                    let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
                    options[pair[0].lowercased()] = pair.count > 1 ? pair[1] : "true"
                }
                guard (options["type"] ?? "bind") == "bind", options["from"] == nil,
                      let source = options["source"] ?? options["src"], !source.contains("$") else { continue }
                let relative = source.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
                if !relative.isEmpty { all.append(source.hasSuffix("/") ? relative + "/" : relative) }
            }
        }
        // A path another one lies under is a folder.
        for source in all {
            let relative = source.hasSuffix("/") ? String(source.dropLast()) : source
            do {
                let path = folder + "/" + relative
                if source.hasSuffix("/") || all.contains(where: { $0.hasPrefix(relative + "/") }) {
                    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                    FileManager.default.createFile(atPath: path + "/stub", contents: Data("stub\n".utf8))
                } else if !FileManager.default.fileExists(atPath: path) {
                    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    FileManager.default.createFile(atPath: path, contents: Data("stub\n".utf8))
                }
            }
        }
    }

    /// Import → `plan check` (the library checker) gives exactly the diagnostics the fixture's EXPECTED lists →
    /// compile → BuildKit's parser reads the original and the compiled Dockerfile → the normalised instruction
    /// lists (ImportComparison, docs/import.md) differ exactly as EXPECTED lists. `PLAN_IMPORT_RECORD=1` writes
    /// EXPECTED from what the run finds, for review.
    @Test("import, check, compile and parse a real Dockerfile; the instruction lists compare", arguments: names)
    func roundTrip(_ name: String) throws {
        let original = Self.fixtures + "/" + name + "/Dockerfile"
        #expect(FileManager.default.fileExists(atPath: Self.fixtures + "/" + name + "/SOURCE"), "\(name) has no SOURCE")
        let data = try #require(FileManager.default.contents(atPath: original))
        let parsed = DockerfileParser().parse(data: Array(data), path: original)
        let dockerfile = try #require(parsed.dockerfile, "\(parsed.diagnostics)")
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let context = folder + "/context"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try Self.stubContext(for: dockerfile, at: context)
        let options = ImportOptions(context: "context", isContextFolder: { path in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: context + "/" + path, isDirectory: &isDirectory) else { return nil }
            return isDirectory.boolValue
        })
        let result = PlanImporter(options: options).importPlan(dockerfile)
        let plan = try #require(result.plan, "\(result.diagnostics)")
        try TestSupport.write(plan, to: folder + "/plan.yaml")
        let compiled = Compiler(options: CompileOptions()).compile(planAt: folder + "/plan.yaml")
        func line(_ diagnostic: Diagnostic, _ file: String) -> String {
            let place = diagnostic.location.map { "\(file):\($0.line)" } ?? file
            return "\(diagnostic.severity == .error ? "error" : "warning") \(diagnostic.code.id)  # \(place): \(diagnostic.message)"
        }
        let diagnostics = result.diagnostics.map { line($0, "Dockerfile") } + compiled.diagnostics.map { line($0, "plan.yaml") }
        var found = ImportComparison.Expectation(diagnostics: diagnostics.map { $0.split(separator: " ").prefix(2).joined(separator: " ") })
        if let graph = compiled.graph, !compiled.diagnostics.contains(where: { $0.severity == .error }) {
            try TestSupport.write(DockerfileWriter().dockerfile(for: graph), to: folder + "/Dockerfile")
            let before = try ImportComparison.parse(original)
            let after = try ImportComparison.parse(folder + "/Dockerfile")
            found.differences = ImportComparison.differences(original: before, compiled: after)
        }
        let expectedPath = Self.fixtures + "/" + name + "/EXPECTED"
        if ProcessInfo.processInfo.environment["PLAN_IMPORT_RECORD"] == "1" {
            let header = "# Reviewed expectations of the import round trip (docs/import.md, \"How the round trip is compared\").\n"
                + "# Diagnostics import and check give (code; after # where and what):\n"
            let differences = found.differences.isEmpty ? "" : "# Differences of the normalised instruction lists (- original only, + compiled only):\n"
                + found.differences.joined(separator: "\n") + "\n"
            try TestSupport.write(header + diagnostics.map { $0 + "\n" }.joined() + differences, to: expectedPath)
        }
        let expected = ImportComparison.Expectation(text: (try? TestSupport.read(expectedPath)) ?? "")
        #expect(found.diagnostics.sorted() == expected.diagnostics.sorted(),
                "\(name): diagnostics differ from EXPECTED:\n\(diagnostics.joined(separator: "\n"))")
        #expect(found.differences == expected.differences,
                "\(name): instruction lists differ from EXPECTED:\n\(found.differences.joined(separator: "\n"))")
    }

    @Test("at least 25 multi-stage fixtures, each with its source pinned (repository, path, commit, licence, language)")
    func sources() throws {
        var multiStage = 0
        for name in Self.names {
            let source = try TestSupport.read(Self.fixtures + "/" + name + "/SOURCE")
            var fields: [String: String] = [:]
            for line in source.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2 { fields[parts[0]] = parts[1] }
            }
            #expect(fields["repository"]?.hasPrefix("https://github.com/") == true, "\(name): repository")
            #expect(fields["path"]?.isEmpty == false, "\(name): path")
            #expect(fields["commit"]?.wholeMatch(of: /[0-9a-f]{40}/) != nil, "\(name): commit not pinned")
            #expect(fields["licence"]?.isEmpty == false, "\(name): licence")
            #expect(fields["language"]?.isEmpty == false, "\(name): language")
            let dockerfile = try TestSupport.read(Self.fixtures + "/" + name + "/Dockerfile")
            let stages = dockerfile.split(separator: "\n").count { $0.range(of: #"^\s*FROM\s"#, options: [.regularExpression, .caseInsensitive]) != nil }
            #expect(stages >= 1, "\(name): no FROM")
            if stages >= 2 { multiStage += 1 }
        }
        #expect(multiStage >= 25, "\(multiStage) multi-stage fixtures")
    }

    @Test("bad input: a located syntax error, an empty file, a binary file; nothing written")
    func badInput() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cases: [(String, [UInt8], String)] = [
            ("syntax", Array("FROM alpine:3.20\nRUN <<EOF\necho never closed\n".utf8), "Dockerfile:2:1: error[E1001]: unterminated heredoc"),
            ("unknown", Array("FROM alpine:3.20\nCOPPY a b\n".utf8), "Dockerfile:2:1: error[E1002]: unknown instruction: COPPY (did you mean copy?)"),
            ("from", Array("FROM alpine:3.20 AS a b\n".utf8), "Dockerfile:1:1: error[E1001]: FROM requires either one or three arguments"),
            ("json", Array("FROM alpine:3.20\nCMD [\"a\", 1]\n".utf8),
             "Dockerfile:2:1: error[E1001]: when using JSON array syntax, arrays must be comprised of strings only"),
            ("env", Array("FROM alpine:3.20\nENV A\n".utf8), "Dockerfile:2:1: error[E1001]: ENV must have two arguments"),
            ("escape", Array("# escape=x\nFROM alpine:3.20\n".utf8), "Dockerfile:1:1: error[E1001]: invalid escape token 'x' does not match ` or \\"),
            ("empty", [], "error[E1003]: the Dockerfile is empty"),
            ("binary", [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x00, 0x00], "error[E1003]: this is a binary file"),
        ]
        for (name, bytes, message) in cases {
            let input = folder + "/\(name)/Dockerfile"
            try FileManager.default.createDirectory(atPath: folder + "/\(name)", withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: input, contents: Data(bytes))
            let output = folder + "/\(name)/plan.yaml"
            let result = try TestSupport.plan(["import", input, "-o", output])
            #expect(result.status == 1, "\(name): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(name): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output), "\(name): a plan was written")
        }
        // An existing file is not replaced without --force.
        let input = folder + "/ok/Dockerfile"
        try FileManager.default.createDirectory(atPath: folder + "/ok", withIntermediateDirectories: true)
        try TestSupport.write("FROM alpine:3.20\nUSER 1000\n", to: input)
        try TestSupport.write("hand-written\n", to: folder + "/ok/plan.yaml")
        let refused = try TestSupport.plan(["import", input, "-o", folder + "/ok/plan.yaml"])
        #expect(refused.status == 2)
        #expect(try TestSupport.read(folder + "/ok/plan.yaml") == "hand-written\n")
        let forced = try TestSupport.plan(["import", input, "-o", folder + "/ok/plan.yaml", "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try TestSupport.read(folder + "/ok/plan.yaml").contains("from: alpine:3.20"))
        // A broken Dockerfile with --force leaves the existing plan as it was; no temporary file stays behind.
        try TestSupport.write("FROM alpine:3.20\nCOPPY a b\n", to: input)
        let broken = try TestSupport.plan(["import", input, "-o", folder + "/ok/plan.yaml", "--force"])
        #expect(broken.status == 1)
        #expect(try TestSupport.read(folder + "/ok/plan.yaml").contains("from: alpine:3.20"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/ok").sorted() == ["Dockerfile", "plan.yaml"])
    }

    @Test("a 10,000-line Dockerfile imports, every step kept")
    func tenThousandLines() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let lines = ["FROM alpine:3.20 AS big"] + (1..<10_000).map { "RUN echo line \($0)" }
        try TestSupport.write(lines.joined(separator: "\n") + "\n", to: folder + "/Dockerfile")
        let start = Date()
        let result = try TestSupport.plan(["import", folder + "/Dockerfile", "-o", folder + "/plan.yaml"])
        let seconds = Date().timeIntervalSince(start)
        #expect(result.status == 0, "\(result.stderr)")
        let plan = try TestSupport.read(folder + "/plan.yaml")
        #expect(plan.components(separatedBy: "\n      - run: echo line ").count - 1 == 9_999)
        #expect(seconds < 10, "took \(seconds) s")
    }
}
