import PlanDiagnostics
import PlanImport
import Testing

/// BuildKit's Dockerfile syntax as `plan import` reads it.
@Suite("Unit: Dockerfile parser for import")
struct ImportParserTests {
    func parse(_ text: String) -> DockerfileParser.Result {
        DockerfileParser().parse(data: Array(text.utf8), path: "Dockerfile")
    }

    func instructions(_ text: String) throws -> [DockerfileInstruction] {
        let result = parse(text)
        #expect(!result.diagnostics.contains { $0.severity == .error }, "\(result.diagnostics)")
        return try #require(result.dockerfile).instructions
    }

    @Test func directivesOnlyAtTheTop() throws {
        let file = try #require(parse("# syntax=docker/dockerfile:1\n# escape=`\n\n# escape=\\\nFROM alpine\nRUN a `\n  b\n").dockerfile)
        #expect(file.directives.map(\.name) == ["syntax", "escape"])
        #expect(file.escape == "`")
        #expect(file.instructions.count == 2)
        #expect(file.instructions[1].text == "a   b")
        // After the blank line `# escape=\` is a comment, kept before FROM.
        #expect(file.instructions[0].comments == [" escape=\\"])
    }

    @Test func unknownDirectiveEndsDirectives() throws {
        let file = try #require(parse("# foo=bar\n# escape=`\nFROM alpine\n").dockerfile)
        #expect(file.escape == "\\")
        #expect(file.directives.map(\.name) == ["foo"])
        #expect(file.directives[0].isKnown == false)
    }

    @Test func continuationsCommentsAndEmptyLines() throws {
        let list = try instructions("from alpine AS b\r\nRUN apk add \\   \r\n# a comment inside\r\n\r\n    curl \\\r\n  git\r\n")
        try #require(list.map(\.keyword) == ["FROM", "RUN"])
        #expect(list[1].text == "apk add     curl   git")
        #expect(list[1].comments == [" a comment inside"])
        #expect(list[1].location.line == 2)
        #expect(list[1].endLine == 6)
    }

    @Test func jsonAndShellForms() throws {
        let list = try instructions(#"FROM a"# + "\nCMD [\"a\", \"b c\"]\nCMD [not json\nENTRYPOINT [\"x\"] extra\nRUN [ \"sh\" ]\n")
        #expect(list[1].arguments == .exec(["a", "b c"]))
        #expect(list[2].arguments == .shell("[not json"))
        #expect(list[3].arguments == .shell(#"["x"] extra"#))
        #expect(list[4].arguments == .exec(["sh"]))
        #expect(parse("FROM a\nCMD [\"a\", 1]\n").dockerfile == nil)
    }

    @Test func flagsWithQuotesAndLocations() throws {
        let list = try instructions("FROM a\nCOPY --from=build --chown=\"app:app\" --link /x /y\nRUN --mount=type=cache,target=/root/.npm --network=none npm ci\n")
        #expect(list[1].flags.map(\.name) == ["from", "chown", "link"])
        #expect(list[1].flag("chown") == "app:app")
        #expect(list[1].flag("link") == "")
        #expect(list[1].flags[1].location.line == 2)
        #expect(list[1].flags[1].location.column == 19)
        #expect(list[1].text == "/x /y")
        #expect(list[2].flag("network") == "none")
    }

    @Test func heredocs() throws {
        let list = try instructions("FROM a\nRUN <<EOF\necho hi\nEOF\nRUN <<-\"A\" cat - <<B > f\n\tone $x\n\tA\ntwo\nB\nCOPY <<EOF /f\nx\nEOF\n")
        try #require(list.count == 4)
        #expect(list[1].heredocs == [DockerfileHeredoc(name: "EOF", expand: true, chomp: false, content: "echo hi\n")])
        #expect(list[2].heredocs.map(\.name) == ["A", "B"])
        #expect(list[2].heredocs[0].expand == false)
        #expect(list[2].heredocs[0].chomp)
        #expect(list[2].heredocs[1].content == "two\n")
        #expect(list[3].heredocs.count == 1)
    }

    @Test func unterminatedHeredocIsLocated() throws {
        let result = parse("FROM a\n\nRUN <<EOF\necho\n")
        let error = try #require(result.diagnostics.first)
        #expect(error.severity == .error)
        #expect(error.message == "unterminated heredoc")
        #expect(error.location?.line == 3)
    }

    @Test func unknownInstructionIsLocated() throws {
        let result = parse("FROM a\n  FORM b\n")
        let error = try #require(result.diagnostics.first)
        #expect(error.code == DiagnosticCode.unknownInstruction)
        #expect(error.message == "unknown instruction: FORM (did you mean from?)")
        #expect(error.location == SourceLocation(file: "Dockerfile", line: 2, column: 3, length: 4))
    }

    @Test func emptyBinaryAndNonUTF8() {
        #expect(parse("").dockerfile == nil)
        #expect(parse(" \n\n").diagnostics.first?.message.contains("empty") == true)
        #expect(parse("# only a comment\n").dockerfile == nil)
        let binary = DockerfileParser().parse(data: [0x7F, 0x45, 0x4C, 0x46, 0, 0, 1], path: "x")
        #expect(binary.diagnostics.first?.message.contains("binary") == true)
        let latin1 = DockerfileParser().parse(data: Array("FROM a\nRUN echo ".utf8) + [0xE9, 0x0A], path: "x")
        #expect(latin1.diagnostics.first?.location?.line == 2)
    }

    @Test func envAndLabelForms() throws {
        let list = try instructions("FROM a\nENV A=1 B=\"two words\"\nENV LEGACY some value\nlabel \"k\"='v' x=y\n")
        #expect(list[1].text == "A=1 B=\"two words\"")
        #expect(DockerfileWords.split(list[1].text, escape: "\\") == ["A=1", "B=\"two words\""])
        #expect(DockerfileWords.unquote("B=\"two words\"", escape: "\\") == "B=two words")
        #expect(parse("FROM a\nENV ONLY\n").dockerfile == nil)
        #expect(parse("FROM a\nENV A=1 B\n").dockerfile == nil)
    }

    /// Any bytes: a result, never a crash.
    @Test func randomBytesNeverCrash() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("FROM RUN COPY --from=x <<EOF EOF \\ ` # escape= [\"a\"] \r\n\t\n=\"'é".utf8)
        for round in 0..<2000 {
            let count = Int.random(in: 0..<200, using: &generator)
            let bytes: [UInt8] = (0..<count).map { _ in
                round % 2 == 0 ? alphabet.randomElement(using: &generator) ?? 0 : UInt8.random(in: 1...255, using: &generator)
            }
            let result = DockerfileParser().parse(data: bytes, path: "random")
            #expect(result.dockerfile != nil || !result.diagnostics.isEmpty)
        }
    }
}
