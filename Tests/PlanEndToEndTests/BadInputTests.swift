import Foundation
import PlanCompiler
import Testing

/// Malformed input of every kind ends with exit 1 or 2 and a located message: never a crash, a trap or a hang.
@Suite struct BadInputTests {
    func check(_ bytes: Data, name: String = "plan.yaml") throws -> (TestSupport.ProcessResult, String) {
        let folder = try TestSupport.temporaryFolder()
        let path = folder + "/" + name
        try bytes.write(to: URL(fileURLWithPath: path))
        let result = try TestSupport.plan(["check", path])
        try? FileManager.default.removeItem(atPath: folder)
        return (result, path)
    }

    /// The process ended by itself with 1 or 2, and said where.
    func expectLocatedFailure(_ result: TestSupport.ProcessResult, path: String, code: String,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        #expect([1, 2].contains(result.status), "exit \(result.status): \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains("\(path):"), "no location in: \(result.stderr.prefix(500))", sourceLocation: sourceLocation)
        #expect(result.stderr.contains("error[\(code)]"), "\(result.stderr.prefix(500))", sourceLocation: sourceLocation)
        #expect(!result.stderr.contains("Fatal error"), sourceLocation: sourceLocation)
    }

    @Test func missingFile() throws {
        let result = try TestSupport.plan(["check", "/nonexistent/plan.yaml"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("error[E0001]: cannot read plan `/nonexistent/plan.yaml`: no such file"))
    }

    @Test func aDeviceIsNamedAsADeviceAndNeverRead() throws {
        let result = try TestSupport.plan(["check", "/dev/zero"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("error[E0001]: cannot read plan `/dev/zero`: it is a character device, not a file"),
                "\(result.stderr)")
        // An include of a device stops the same way, located at the plan that names it.
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TestSupport.write("version: 1\ninclude: [/dev/zero]\nstages:\n  a:\n    from: scratch\n", to: folder + "/plan.yaml")
        let included = try TestSupport.plan(["check", folder + "/plan.yaml"])
        #expect(included.status == 1)
        #expect(included.stderr.contains("it is a character device, not a file"), "\(included.stderr)")
    }

    @Test func folderWithoutPlan() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try TestSupport.plan(["check", folder])
        #expect(result.status == 2)
        #expect(result.stderr.contains("error[E0001]"))
    }

    @Test func emptyFile() throws {
        let (result, path) = try check(Data())
        expectLocatedFailure(result, path: path, code: "E0005")
        #expect(result.stderr.contains("\(path):1:1: error[E0005]: the plan is empty"))
    }

    @Test func binaryJunk() throws {
        var generator = SystemRandomNumberGenerator()
        var bytes = Data("version: 1\n".utf8)
        for _ in 0..<4096 { bytes.append(UInt8.random(in: 0...255, using: &generator)) }
        let (result, path) = try check(bytes)
        expectLocatedFailure(result, path: path, code: "E0002")
    }

    @Test func nulByteIsLocated() throws {
        let (result, path) = try check(Data("version: 1\nstages:\n  a\u{0}b: {}\n".utf8))
        #expect(result.stderr.contains("\(path):3:4: error[E0002]: the plan is not UTF-8 text: control character U+0000"))
        #expect(result.status == 1)
    }

    @Test func brokenYAML() throws {
        let (result, path) = try check(Data("version: 1\nstages:\n  app:\n    from: [alpine\n  other: {\n".utf8))
        expectLocatedFailure(result, path: path, code: "E0003")
    }

    @Test func tabsInIndentation() throws {
        let (result, path) = try check(Data("version: 1\nstages:\n\tapp:\n\t\tfrom: alpine:3.20\n".utf8))
        expectLocatedFailure(result, path: path, code: "E0003")
        #expect(result.stderr.contains("tabs"))
    }

    @Test func wrongTypesEverywhere() throws {
        let text = "version: one\nname: [a]\nstages:\n  app: 3\ntargets: {a: b}\n"
        let (result, path) = try check(Data(text.utf8))
        expectLocatedFailure(result, path: path, code: "E0102")
        #expect(result.stderr.contains("\(path):1:10: error[E0102]: `version` must be a whole number, found a string"))
        #expect(result.stderr.contains("\(path):4:8: error[E0102]: stage `app` must be a mapping, found a number"))
    }

    @Test func topLevelNotAMapping() throws {
        let (result, path) = try check(Data("- just\n- a list\n".utf8))
        expectLocatedFailure(result, path: path, code: "E0102")
    }

    @Test func deeplyNestedFlow() throws {
        let depth = 1_000
        let text = "version: 1\nstages: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n"
        let (result, path) = try check(Data(text.utf8))
        expectLocatedFailure(result, path: path, code: "E0004")
        #expect(result.stderr.contains("nests more than 64 levels"))
    }

    @Test func deeplyNestedBlocks() throws {
        var text = "version: 1\nstages:\n"
        for level in 0..<1_000 { text += String(repeating: " ", count: 2 * (level + 1)) + "k\(level):\n" }
        let (result, path) = try check(Data(text.utf8))
        expectLocatedFailure(result, path: path, code: "E0004")
    }

    @Test func aliasBomb() throws {
        var text = "version: 1\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1..<12 {
            text += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        let (result, path) = try check(Data(text.utf8))
        expectLocatedFailure(result, path: path, code: "E0004")
    }

    @Test func tenMegabyteDocument() throws {
        // A well-formed but huge plan: 10 MB of one long unknown key's list.
        var text = "version: 1\nstages:\n  app:\n    from: alpine:3.20\n    junk:\n"
        let line = "      - " + String(repeating: "x", count: 90) + "\n"
        while text.utf8.count < 10_000_000 { text += line }
        let (result, path) = try check(Data(text.utf8))
        expectLocatedFailure(result, path: path, code: "E0101")
        #expect(result.stderr.contains("\(path):5:5: error[E0101]: unknown key `junk` in stage `app`"))
    }

    @Test func tenMegabytesOfGarbage() throws {
        let text = String(repeating: "{[:,]}\"'&*!|>%@`", count: 10_000_000 / 16)
        let (result, path) = try check(Data(text.utf8))
        expectLocatedFailure(result, path: path, code: "E0003")
    }

    @Test func unknownCommandAndOptionAreUsageErrors() throws {
        #expect(try TestSupport.plan(["frobnicate"]).status == 2)
        #expect(try TestSupport.plan(["check"]).status == 2)
        #expect(try TestSupport.plan(["compile", "plans/site", "--dialect", "ancient"]).status == 2)
        #expect(try TestSupport.plan(["compile", "plans/site", "--arg", "NOEQUALS"]).status == 2)
    }

    @Test("random mutations of a valid plan never crash the parser")
    func mutationFuzz() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: TestSupport.plans + "/site/plan.yaml"))
        var generator = SeededGenerator(seed: 0x5EED)
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Whole plans through the executable (a crash there is a signal, not an exit code).
        for round in 0..<40 {
            var bytes = [UInt8](original)
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: bytes[index] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.remove(at: index)
                case 2: bytes.insert(Array("[]{}:-&*!|>\"'\t\n#,?".utf8).randomElement(using: &generator) ?? 0, at: index)
                default: bytes.insert(contentsOf: bytes[index..<min(bytes.count, index + 20)], at: index)
                }
            }
            let path = folder + "/plan-\(round).yaml"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let result = try TestSupport.plan(["check", path])
            #expect([0, 1].contains(result.status), "round \(round): exit \(result.status)\n\(result.stderr.prefix(400))")
        }
    }
}
