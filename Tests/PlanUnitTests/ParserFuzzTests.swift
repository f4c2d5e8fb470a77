import Foundation
import PlanCompiler
import Testing

/// In-process fuzzing: thousands of mutated plans through the parser, the expander and the checks.
@Suite struct ParserFuzzTests {
    @Test("mutated plans never trap the compiler", arguments: ["site", "monorepo", "registry"])
    func mutations(_ example: String) throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.removeItem(atPath: folder)
        try FileManager.default.copyItem(atPath: TestSupport.plans + "/" + example, toPath: folder)
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/plan.yaml")))
        let tokens = Array("[]{}:-&*!|>\"'\t\n#,?$%@`\\".utf8) + Array("${{ x }}".utf8)
        var generator = SeededGenerator(seed: UInt64(example.count) &* 0x9E37)
        for _ in 0..<600 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                guard !bytes.isEmpty else { break }
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<5, using: &generator) {
                case 0: bytes[index] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.remove(at: index)
                case 2: bytes.insert(tokens.randomElement(using: &generator) ?? 0, at: index)
                case 3: bytes.insert(contentsOf: bytes[index..<min(bytes.count, index + 40)], at: index)
                default:
                    let end = min(bytes.count, index + Int.random(in: 1...30, using: &generator))
                    bytes.removeSubrange(index..<end)
                }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: folder + "/plan.yaml"))
            // Reaching the next line at all is the test: a trap would end the test process.
            let result = Compiler().compile(planAt: folder + "/plan.yaml")
            #expect(result.graph != nil || result.hasErrors)
            for diagnostic in result.diagnostics where diagnostic.severity == .error {
                #expect(!diagnostic.message.isEmpty)
            }
        }
    }
}
