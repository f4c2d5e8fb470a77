import Foundation
import PlanCompiler
import PlanDockerfile
import PlanLanguage
import PlanValues
import Testing

/// Dockerfile syntax 1.7's pattern forms (`${NAME#p}`, `${NAME##p}`, `${NAME%p}`, `${NAME%%p}`, `${NAME/p/r}`,
/// `${NAME//p/r}`) in the one expansion (``VariableSyntax``); cases from BuildKit's
/// frontend/dockerfile/shell/lex_test.go (TestProcessWithMatches, TestConvertShellPatternToRegex) and more.
@Suite struct PatternSubstitutionTests {
    /// (text, values, expansion)
    static let buildKitCases: [(String, [String: String], String)] = [
        ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", ["FOO": "()[]{}^$.*?|\\x"], "x"),
        ("${FOO%%\\**}", ["FOO": "xx**"], "xx"),
        ("${FOO#*x*y}", ["FOO": "xxyy"], "y"),
        ("${FOO#*}", ["FOO": "xxyy"], "xxyy"),
        ("${FOO#$BAR}", ["FOO": "xxyy", "BAR": "x"], "xyy"),
        ("${FOO#$BAR}", ["FOO": "xxyy", "BAR": ""], "xxyy"),
        ("${FOO#}", ["FOO": "xxyy"], "xxyy"),
        ("${FOO##*x}", ["FOO": "xxyy"], "yy"),
        ("${FOO##}", ["FOO": "xxyy"], "xxyy"),
        ("${FOO#?\\?}", ["FOO": "???y"], "?y"),
        ("${ABC:-.}${FOO%x}${ABC:-.}", ["FOO": "xxyy"], ".xxyy."),
        ("${FOO%%\\**\\*}", ["FOO": "a***yy*"], "a"),
        ("${FOO%}", ["FOO": "xxyy"], "xxyy"),
        ("${FOO%%$BAR}", ["FOO": "xxyy", "BAR": ""], "xxyy"),
        ("${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}", ["FOO": "/foo*/*/*.txt", "NEEDLE": "\\*/"], "/foo.*/*.txt - /foo..*.txt"),
        ("${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", ["FOO": "/tmp/tmp/bar.txt", "NEEDLE": "/tmp"], "/tmp/bar.txt - /bar.txt"),
        ("${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
         ["FOO": "/a/foo/b/c.txt", "NEEDLE": "/?/", "REPLACEMENT": "/"], "/foo/b/c.txt - /foo/c.txt"),
        ("${FOO/$NEEDLE/$REPLACEMENT}", ["FOO": "http://google.de", "NEEDLE": "http://", "REPLACEMENT": "https://"],
         "https://google.de"),
        ("${FOO//\\//\\/}", ["FOO": "/tmp/foo.txt"], "\\/tmp\\/foo.txt"),
        ("${FOO/$BAR/ww}", ["FOO": "xxyy", "BAR": ""], "wwxxyy"),
        ("${FOO///}", ["FOO": "xxyy"], "xxyy"),
        ("${FOO///}", [:], ""),
    ]

    @Test("BuildKit's own lexer cases expand the same")
    func buildKitCasesExpand() throws {
        for (text, values, expected) in Self.buildKitCases {
            #expect(try VariableSyntax.expanding(text, values) == expected, "\(text)")
            #expect(VariableExpansion.expand(text, values) == expected, "\(text)")
        }
    }

    /// (text, expansion) with A=amd64, P=linux/arm/v7, F=archive.tar.gz, E empty, U unset.
    static let values = ["A": "amd64", "P": "linux/arm/v7", "F": "archive.tar.gz", "E": "", "X": "x64"]
    static let forms: [(String, String)] = [
        ("${A/amd64/x64}", "x64"), ("${A/arm64/aarch64}", "amd64"), ("${A/amd64/${X}}", "x64"),
        ("${A/amd/${U:-${X}-}}", "x64-64"), ("${A/$A/${E:+e}}", ""),
        ("${P/\\//-}", "linux-arm/v7"), ("${P//\\//-}", "linux-arm-v7"), ("${P//[a-z]/.}", "linux/arm/v7"),
        ("${P/*\\//}", "v7"), ("${P/?/L}", "Linux/arm/v7"), ("${P//?/.}", "............"),
        ("${F#*.}", "tar.gz"), ("${F##*.}", "gz"), ("${F%.*}", "archive.tar"), ("${F%%.*}", "archive"),
        ("${F#a?c}", "hive.tar.gz"), ("${F%t?r.gz}", "archive."), ("${F#x}", "archive.tar.gz"),
        ("${P%/*}", "linux/arm"), ("${P%%/*}", "linux"), ("${P#*/}", "arm/v7"), ("${P##*/}", "v7"),
        ("${U#a}", ""), ("${U%a}", ""), ("${U/a/b}", ""), ("${E//a/b}", ""),
        ("${A/a}d/x/}", "amd64"),  // BuildKit's pattern runs to the `/`: a `}` does not end it
        ("${A//[md]/x}", "amd64"),  // `[` is itself: BuildKit has no bracket expressions
        ("${A/#a/x}", "amd64"), ("${A/m*/\\$0}", "a\\md64"),
        ("${A#$X}", "amd64"), ("${A#${U:-am}}", "d64"),
    ]

    @Test("each pattern form with `*`, `?`, `[`, escapes and nested references in pattern and replacement")
    func formsExpand() throws {
        for (text, expected) in Self.forms {
            #expect(try VariableSyntax.expanding(text, Self.values) == expected, "\(text)")
        }
    }

    @Test("the scanner reads the forms as modifiers, and names inside pattern and replacement as references")
    func scanned() {
        let found = VariableSyntax.references(in: "${A/$P/${X:-y}}${F##$E}${F%.gz}")
        #expect(found.map(\.reference.name) == ["A", "P", "X", "F", "E", "F"])
        #expect(found.map(\.offset) == [0, 4, 7, 15, 20, 23])
        #expect(found[0].reference.modifier == .replace(pattern: "$P", replacement: "${X:-y}", all: false))
        #expect(found[3].reference.modifier == .removePrefix("$E", longest: true))
        #expect(found[5].reference.modifier == .removeSuffix(".gz", longest: false))
        #expect(found[5].reference.modifier.written == "%.gz")
    }

    /// (text, message of the strict expansion's error): escapes BuildKit rejects, and forms it still rejects.
    static let failures: [(String, String)] = [
        ("${A#\\x}", "invalid pattern (\\x) in substitution: invalid escape '\\x'"),
        ("${A/a\\b/c}", "invalid pattern (a\\b) in substitution: invalid escape '\\b'"),
        ("${A:#a}", "`${A:#a}` is a shell form the builder does not expand"),
        ("${A:%a}", "`${A:%a}` is a shell form the builder does not expand"),
        ("${A//a}", "`${A//a}` is a shell form the builder does not expand"),
        ("${A=a}", "`${A=a}` is a shell form the builder does not expand"),
        ("${#A}", "`${#A}` is a shell form the builder does not expand"),
        ("${}", "`${}` is a shell form the builder does not expand"),
    ]

    @Test("a bad escape in a pattern and the forms BuildKit rejects stop the strict expansion")
    func failuresStop() {
        for (text, message) in Self.failures {
            var got: String?
            do throws(VariableExpansionError) {
                _ = try VariableSyntax.expanding(text, Self.values)
            } catch {
                got = error.description
            }
            #expect(got == message, "\(text)")
        }
    }

    @Test("Go's template in the replacement: `$0` is the match, `$$` a dollar, other names empty")
    func replacementTemplate() throws {
        let pattern = try ShellPattern("b*")
        #expect(pattern.replacing(in: "abc", with: "[$0]", all: false) == "a[bc]")
        #expect(pattern.replacing(in: "abc", with: "$$-${1}-$x-$", all: false) == "a$---$")
        // An empty match right after a match is not replaced again (Go's ReplaceAllString).
        #expect(try ShellPattern("*").replacing(in: "ab", with: "-", all: true) == "-")
        #expect(try ShellPattern("").replacing(in: "ab", with: "-", all: true) == "-a-b-")
        #expect(try ShellPattern("x*").replacing(in: "axxb", with: "-", all: true) == "a-")
        #expect(throws: ShellPattern.InvalidEscape.self) { try ShellPattern("a\\") }
    }

    @Test("the checker accepts the pattern forms and keeps E0406 for what BuildKit rejects; substitution computes them")
    func checkerAndSubstitution() throws {
        let stage = "    from: alpine:3.20\n"
        #expect(try VariableModifierTests.codes(stage + "    env: {X: '${A#a} ${A##a} ${A%a} ${A%%a} ${A/a/b} ${A//a/${EMPTY}}'}") == [])
        #expect(try VariableModifierTests.codes(stage + "    env: {X: '${UNDECLARED/a/b}'}") == ["E0401"])
        #expect(try VariableModifierTests.codes(stage + "    env: {X: '${A/a/${UNDECLARED}}'}") == ["E0401"])
        #expect(try VariableModifierTests.codes(stage + "    env: {X: '${#A}'}") == ["E0406"])
        #expect(try VariableModifierTests.codes(stage + "    env: {X: '${A:#a}'}") == ["E0406"])
        #expect(try VariableModifierTests.codes(stage + "    env: {X: '${A=a}'}") == ["E0406"])
        #expect(try VariableModifierTests.codes(stage + "    env: {X: '${A%\\x} ${A/\\//-}'}") == ["E0406"])
        let unset: (String) -> Bool = { $0 == "TAG" }
        #expect(VariableSyntax.substitute(in: "alpine:${V/v/}${TAG/a/b}", ["V": "v3.20"], isUnset: unset).text == "alpine:3.20")
    }

    @Test("compile keeps the pattern forms for BuildKit; the portable dialect (buildah 1.28) reports each")
    func compiledForms() throws {
        let plan = """
            version: 1
            allow: [root-target]
            args: {ARCH: amd64, FILE: a.tar.gz}
            stages:
              app:
                from: alpine:3.20
                env:
                  X: ${ARCH/amd64/x64}
                  Y: ${FILE%%.*}

            """
        let result = try TestSupport.compile(["plan.yaml": plan], folders: ["context"])
        let graph = try #require(result.graph, "\(result.diagnostics.map(\.message))")
        #expect(Dialect.buildkit.unsupportedFeatures(in: graph).isEmpty)
        let text = DockerfileWriter(dialect: .buildkit).dockerfile(for: graph)
        #expect(text.contains("ENV X=${ARCH/amd64/x64}\n"), "\(text)")
        let portable = Dialect.portable.unsupportedFeatures(in: graph)
        #expect(portable.map(\.code.id) == ["E0701", "E0701"])
        #expect(portable.map(\.message) == ["the portable dialect cannot express `${ARCH/amd64/x64}`",
                                             "the portable dialect cannot express `${FILE%%.*}`"])
    }
}
