import Foundation
import PlanDiagnostics
import Testing

/// One bad plan per check, run through the `plan` executable: the exact codes at the exact line:column.
@Suite struct CheckTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var file: String
        var expected: [String]
        var arguments: [String]
        var testDescription: String { file }
    }

    static let folder = TestSupport.fixtures + "/checks"

    static let cases: [Case] = {
        let manifest = (try? String(contentsOfFile: folder + "/expectations.txt", encoding: .utf8)) ?? ""
        return manifest.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#") else { return nil }
            let fields = line.split(separator: "|", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 2 else { return nil }
            let expected = fields[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let arguments = fields.count > 2 ? fields[2].split(separator: " ").map(String.init) : []
            return Case(file: fields[0], expected: expected, arguments: arguments)
        }
    }()

    struct Report: Decodable {
        struct Location: Decodable {
            var file: String
            var line: Int
            var column: Int
        }
        struct Item: Decodable {
            var severity: String
            var code: String
            var message: String
            var location: Location?
            var help: String?
        }
        var diagnostics: [Item]
        var errors: Int
        var warnings: Int
    }

    @Test("each bad plan reports exactly its diagnostics", arguments: cases)
    func badPlan(_ testCase: Case) throws {
        let path = Self.folder + "/" + testCase.file
        let result = try TestSupport.plan(["check", path, "--diagnostics-format", "json"] + testCase.arguments)
        let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
        let found = report.diagnostics.map { item in
            "\(item.code)@\(item.location.map { "\($0.line):\($0.column)" } ?? "-")"
        }
        #expect(found == testCase.expected, "\(testCase.file): \(result.stdout)")
        for item in report.diagnostics {
            // Most findings are in the plan itself; include checks may point into the included file.
            #expect(item.location?.file.hasPrefix(Self.folder + "/") == true)
            #expect(!item.message.isEmpty)
        }
        let hasErrors = testCase.expected.contains { $0.hasPrefix("E") }
        #expect(result.status == (hasErrors ? 1 : 0), "exit status for \(testCase.file)")
        #expect(result.stderr.isEmpty || !result.stderr.contains("Fatal error"))
    }

    @Test("every check has a bad plan")
    func everyCodeIsCovered() {
        let covered = Set(Self.cases.flatMap { $0.expected.map { String($0.prefix(5)) } })
        // Covered elsewhere: E0001 (a missing file, BadInputTests), E0004 (size and depth limits,
        // BadInputTests), E0403 (`--arg`, CLITests); the run-time codes E09xx (RunTests), E0905 (never printed);
        // the import codes E10xx/W10xx, found in Dockerfiles (ImportRoundTripTests, ImportQuirksTests); the lock
        // codes E11xx, found with a lock (LockBadInputTests).
        let elsewhere: Set<String> = ["E0001", "E0004", "E0403", "E0901", "E0902", "E0903", "E0904", "E0905",
                                      "E1001", "E1002", "E1003", "W1001", "W1002",
                                      "E1101", "E1102", "E1103", "E1104", "E1105"]
        let missing = DiagnosticCode.all.map(\.id).filter { !covered.contains($0) && !elsewhere.contains($0) }
        #expect(missing.isEmpty, "codes without a bad plan: \(missing)")
    }

    @Test("warnings become errors with --werror")
    func werror() throws {
        let path = Self.folder + "/W0103-unpinned-image.yaml"
        let plain = try TestSupport.plan(["check", path])
        #expect(plain.status == 0)
        #expect(plain.stderr.contains("warning[W0103]"))
        let strict = try TestSupport.plan(["check", path, "--werror"])
        #expect(strict.status == 1)
        #expect(strict.stderr.contains("error[W0103]"))
    }

    @Test("the text form shows the snippet, a caret under the column, notes and help")
    func textRendering() throws {
        let path = Self.folder + "/E0301-copy-outside-artifacts.yaml"
        let result = try TestSupport.plan(["check", path])
        let expected = """
            \(path):15:15: error[E0301]: `/src/main.go` is not inside any artifact that stage `build` declares
               |
            15 |       - copy: /src/main.go
               |               ^^^^^^^^^^^^
               = note: \(path):11:7: stage `build` declares artifact `bin` at /out/app
               = help: copy a declared artifact (`- artifact: build.bin`), declare it in stage `build`: `artifacts: {NAME: /src/main.go}`

            """
        #expect(result.stderr.hasPrefix(expected), "\(result.stderr)")
        #expect(result.stderr.hasSuffix("\(path): 1 error\n"))
        #expect(!result.stderr.contains("\u{1B}["), "no colour when not on a terminal")
    }

    @Test("the GitHub form writes workflow commands with file, line and column")
    func githubRendering() throws {
        let path = Self.folder + "/E0401-undefined-argument.yaml"
        let result = try TestSupport.plan(["check", path, "--diagnostics-format", "github"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("::error file=\(path),line=10,col=20,title=E0401 undefined-argument::"))
        #expect(result.stderr.contains("%0Ahelp: did you mean `VERSION`?"))
    }

    @Test("colour is used when asked for, and never in other forms")
    func colour() throws {
        let path = Self.folder + "/E0401-undefined-argument.yaml"
        let colored = try TestSupport.plan(["check", path, "--color", "always"])
        #expect(colored.stderr.contains("\u{1B}[1;31merror[E0401]"))
        let json = try TestSupport.plan(["check", path, "--color", "always", "--diagnostics-format", "json"])
        #expect(!json.stdout.contains("\u{1B}["))
    }

    @Test("all errors of a plan are reported in one run")
    func allErrorsAtOnce() throws {
        let text = """
            version: 1
            context: context
            stages:
              build:
                from: golang:1.22
                wrokdir: /src
                steps:
                  - copy: nothing-here.txt
                  - run: make
                    network: nowhere
                artifacts:
                  bin: out/app
              app:
                from: scratch
                steps:
                  - artifact: build.missing
                expose: [http]
            targets: [app, ghost]
            """
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder + "/context", withIntermediateDirectories: true)
        try TestSupport.write(text, to: folder + "/plan.yaml")
        let result = try TestSupport.plan(["check", folder + "/plan.yaml", "--diagnostics-format", "json"])
        let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
        let codes = report.diagnostics.filter { $0.severity == "error" }.map(\.code)
        #expect(codes == ["E0101", "E0501", "E0108", "E0302", "E0204", "E0601", "E0206"])
        #expect(result.status == 1)
    }
}
