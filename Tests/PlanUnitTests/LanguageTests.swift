import Foundation
import PlanCompiler
import PlanDiagnostics
import PlanLanguage
import Testing
import PlanPaths

/// Units of the language front end: YAML locations, interpolation, paths, ignore patterns, value formats.
@Suite struct LanguageTests {
    @Test func yamlNodesKeepLineAndColumn() throws {
        let text = "version: 1\nstages:\n  app:\n    from: \"alpine:3.20\"\n    expose: [80, '443']\n"
        let result = YAMLReader().read(Data(text.utf8), file: "p.yaml")
        #expect(result.diagnostics.isEmpty)
        guard case .mapping(let root) = result.root, case .mapping(let stages) = root["stages"],
              case .mapping(let app) = stages["app"], case .scalar(let from) = app["from"],
              case .sequence(let expose) = app["expose"]
        else {
            Issue.record("unexpected tree")
            return
        }
        #expect(from.location == SourceLocation(file: "p.yaml", line: 4, column: 11, length: 13))
        #expect(from.style == .doubleQuoted && from.isVerbatim)
        #expect(expose.items.map(\.location.column) == [14, 18])
        #expect(stages.entries.first?.key.location.line == 3)
    }

    @Test func aliasesExpandAndAreCounted() {
        let text = "a: &x [1, 2]\nb: *x\n"
        let result = YAMLReader().read(Data(text.utf8), file: "p.yaml")
        guard case .mapping(let root) = result.root, case .sequence(let b) = root["b"] else {
            Issue.record("alias not expanded")
            return
        }
        #expect(b.items.count == 2)
    }

    @Test func interpolationFindsEveryForm() {
        let refs = Interpolation.references(in: "a${ONE}b$TWO ${{ three }} \\${NOT} $$ ${#LEN} ${X:-d}")
        #expect(refs.map(\.name) == ["ONE", "TWO", "three", "LEN", "X"])
        #expect(refs.map(\.kind) == [.braced, .bare, .parameter, .braced, .braced])
        #expect(refs[0].offset == 1 && refs[0].length == 6)
        #expect(Interpolation.references(in: "${OPEN").first?.kind == .unterminated)
        #expect(Interpolation.substituteParameters(in: "/bin/${{ service }}-x", ["service": "api"]) == "/bin/api-x")
        #expect(Interpolation.substituteArguments(in: "node:${V}-alpine", ["V": "18"]) == "node:18-alpine")
    }

    @Test func locatedStringsMapOffsetsToColumns() {
        let plain = Located("ab${X}", at: SourceLocation(file: "f", line: 3, column: 10, length: 6))
        #expect(plain.location(ofOffset: 2, length: 4) == SourceLocation(file: "f", line: 3, column: 12, length: 4))
        let quoted = Located("ab${X}", at: SourceLocation(file: "f", line: 3, column: 10, length: 8))
        #expect(quoted.location(ofOffset: 2, length: 4).column == 13)
        let escaped = Located("a\tb", at: SourceLocation(file: "f", line: 3, column: 10, length: 6))
        #expect(escaped.location(ofOffset: 2, length: 1).column == 10)
    }

    @Test func posixPaths() {
        #expect(PosixPath.normalize("/a/./b//c/../d") == ("/a/b/d", false))
        #expect(PosixPath.normalize("/../x") == ("/x", true))
        #expect(PosixPath.normalize("a/../../b") == ("b", true))
        #expect(PosixPath.resolve("build/x", against: "/app").path == "/app/build/x")
        #expect(PosixPath.isInside("/out/app/bin", "/out/app"))
        #expect(!PosixPath.isInside("/out/application", "/out/app"))
        #expect(PosixPath.isInside("/anything", "/"))
        #expect(PosixPath.staticPrefix("src/*/x.go") == "src")
        #expect(PosixPath.dirname("a/b/") == "a" && PosixPath.basename("a/b/") == "b")
    }

    @Test func ignorePatternsFollowDocker() {
        let matcher = IgnoreMatcher(["node_modules", "**/*.log", "!keep.log", "docs/*.md", "# comment", "/build"])
        #expect(matcher.isExcluded("node_modules"))
        #expect(matcher.isExcluded("node_modules/left-pad/index.js"))
        #expect(!matcher.isExcluded("src/node_modules"))
        #expect(matcher.isExcluded("a/b/c.log"))
        #expect(matcher.isExcluded("top.log"))
        #expect(!matcher.isExcluded("keep.log"))
        #expect(matcher.isExcluded("docs/x.md"))
        #expect(!matcher.isExcluded("docs/sub/x.md"))
        #expect(matcher.isExcluded("build/out"))
        #expect(matcher.excludingPattern(for: "node_modules/x")?.text == "node_modules")
    }

    @Test func valueFormats() {
        #expect(ValueFormats.portProblem("80") == nil)
        #expect(ValueFormats.portProblem("8000-8010/udp") == nil)
        #expect(ValueFormats.portProblem("0") != nil)
        #expect(ValueFormats.portProblem("http") != nil)
        #expect(ValueFormats.chmodProblem("0755") == nil && ValueFormats.chmodProblem("755") == nil)
        #expect(ValueFormats.chmodProblem("u+x") != nil && ValueFormats.chmodProblem("0999") != nil)
        #expect(ValueFormats.durationProblem("1m30s") == nil && ValueFormats.durationProblem("30") != nil)
        #expect(ValueFormats.platformProblem("linux/arm/v7") == nil)
        #expect(ValueFormats.platformProblem("linux") != nil)
        #expect(ValueFormats.imageReferenceProblem("ghcr.io/o/r@sha256:" + String(repeating: "a", count: 64)) == nil)
        #expect(ValueFormats.imageReferenceProblem("127.0.0.1:5555/plan-test/busybox:stable") == nil)
        #expect(ValueFormats.imageReferenceProblem("localhost:5000/x") == nil)
        #expect(ValueFormats.imageReferenceProblem("Node:18") != nil)
        #expect(ValueFormats.imageReferenceProblem("node:bad tag") != nil)
        #expect(ValueFormats.signalProblem("TERM") == nil && ValueFormats.signalProblem("SIGRTMIN+3") == nil)
        #expect(ValueFormats.userProblem("1000:1000") == nil && ValueFormats.userProblem("a b") != nil)
        #expect(ValueFormats.checksumProblem("sha256:" + String(repeating: "0", count: 64)) == nil)
        #expect(ValueFormats.urlProblem("https://example.com/x.tgz") == nil)
        #expect(ValueFormats.urlProblem("file:///etc/passwd") != nil)
    }

    @Test func suggestions() {
        #expect(Suggestion.closest(to: "wrokdir", in: ["workdir", "user"]) == "workdir")
        #expect(Suggestion.closest(to: "xyz", in: ["workdir", "user"]) == nil)
        #expect(Suggestion.closest(to: "Stages", in: ["stages"]) == "stages")
        #expect(Suggestion.editDistance("kitten", "sitting") == 3)
        #expect(Suggestion.list(["a", "b", "c"]) == "`a`, `b` and `c`")
    }

    @Test func everyCodeIsUniqueAndNamed() {
        let ids = DiagnosticCode.all.map(\.id)
        #expect(Set(ids).count == ids.count)
        #expect(Set(DiagnosticCode.all.map(\.name)).count == ids.count)
        #expect(ids == ids.sorted())
        #expect(DiagnosticCode.lookup("root-target") == .rootTarget)
    }
}

/// The reference documents every diagnostic code the compiler can report.
@Suite struct ReferenceTests {
    @Test func languageReferenceListsEveryCode() throws {
        let reference = try TestSupport.read(TestSupport.repoRoot + "/docs/language.md")
        for code in DiagnosticCode.all {
            #expect(reference.contains("| \(code.id) | \(code.name) |"), "docs/language.md lacks \(code.id) \(code.name)")
        }
    }
}
