import Foundation
import PlanCompiler
import PlanDockerfile
import PlanLanguage
import PlanValues
import Testing

/// Shell-style modifiers (`${NAME:-word}` and the rest) as BuildKit's shell lexer reads them: the one expansion
/// (``VariableSyntax``) the binder and executor use, and what the checker makes of them.
@Suite struct VariableModifierTests {
    /// S is set, E is set but empty, U is unset.
    static let values = ["S": "set", "E": "", "W": "word"]

    /// (text, expansion): each modifier with a set, an empty and an unset name, and nested words.
    static let expansions: [(String, String)] = [
        ("${S:-d}", "set"), ("${E:-d}", "d"), ("${U:-d}", "d"),
        ("${S-d}", "set"), ("${E-d}", ""), ("${U-d}", "d"),
        ("${S:+a}", "a"), ("${E:+a}", ""), ("${U:+a}", ""),
        ("${S+a}", "a"), ("${E+a}", "a"), ("${U+a}", ""),
        ("${S:?m}", "set"), ("${S?m}", "set"), ("${E?m}", ""),
        ("${U:-${W}}", "word"), ("${U:-${U:-${W}-x}}", "word-x"), ("${S:+${W}/${U:-z}}", "word/z"),
        ("${U:-a:b/c}", "a:b/c"), ("${U:-}", ""), ("x${U:-\\$W}y", "x$Wy"),
        ("${U:-docker.io}/library/${W}:${U:-1.36}", "docker.io/library/word:1.36"),
    ]

    @Test("each modifier gives BuildKit's value for a set, an empty and an unset name, nested words included")
    func modifiersExpand() throws {
        for (text, expected) in Self.expansions {
            #expect(VariableExpansion.expand(text, Self.values) == expected, "\(text)")
            #expect(try VariableSyntax.expanding(text, Self.values) == expected, "\(text)")
        }
    }

    /// (text, message of the strict expansion's error)
    static let failures: [(String, String)] = [
        ("${U:?}", "U: is not allowed to be unset"),
        ("${E:?}", "E: is not allowed to be empty"),
        ("${U?}", "U: is not allowed to be unset"),
        ("${U:?say ${W}}", "U: say word"),
        ("${S:#s}", "`${S:#s}` is a shell form the builder does not expand"),
        ("${#S}", "`${#S}` is a shell form the builder does not expand"),
        ("${}", "`${}` is a shell form the builder does not expand"),
        ("${:-x}", "`${:-x}` is a shell form the builder does not expand"),
    ]

    @Test("`:?` and `?` stop the strict expansion with BuildKit's message; forms the builder lacks stop it too")
    func strictFailures() {
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

    @Test("substitution for checks applies modifiers where every name is known, and keeps the rest as written")
    func substitution() {
        let unset: (String) -> Bool = { $0 == "REGISTRY" || $0 == "TAG" }
        let text = "${REGISTRY:-docker.io}/library/${BASE}:${TAG:-1.36}"
        #expect(VariableSyntax.substitute(in: text, ["BASE": "alpine"], isUnset: unset).text == "docker.io/library/alpine:1.36")
        #expect(VariableSyntax.substitute(in: text, ["BASE": "alpine", "TAG": "3"], isUnset: unset).text
                == "docker.io/library/alpine:3")
        // Without `isUnset` an unknown name may still be set by the build: kept.
        #expect(VariableSyntax.substitute(in: text, ["BASE": "alpine"]).text == "${REGISTRY:-docker.io}/library/alpine:${TAG:-1.36}")
        // A word that names something unknown is kept whole.
        #expect(VariableSyntax.substitute(in: "${TAG:-${OTHER}}", [:], isUnset: unset).text == "${TAG:-${OTHER}}")
        // `:?` that would fail and a form the builder lacks are left to the checks that report them.
        #expect(VariableSyntax.substitute(in: "${TAG:?m}${BASE=a}", ["BASE": "alpine"], isUnset: unset).text == "${TAG:?m}${BASE=a}")
        // The written span of a substituted default is the whole reference.
        let substitution = VariableSyntax.substitute(in: "a:${TAG:--x}", [:], isUnset: unset)
        #expect(substitution.text == "a:-x")
        #expect(substitution.writtenSpan(ofOffset: 2, length: 1).offset == 2)
        #expect(substitution.writtenSpan(ofOffset: 2, length: 1).length == 10)
    }

    /// The codes (errors and warnings) `plan check` reports for a one-stage plan with `fields`.
    static func codes(_ fields: String, args: String = "args: {A: a, EMPTY: \"\"}", allow: String = "root-target") throws
        -> [String]
    {
        let plan = """
            version: 1
            allow: [\(allow)]
            \(args)
            stages:
              app:
            \(fields)

            """
        let result = try TestSupport.compile(["plan.yaml": plan], folders: ["context"])
        return result.diagnostics.map(\.code.id)
    }

    @Test("the checker: an undeclared name with a default warns, without one (or inside a word) is an error")
    func checkerVerdicts() throws {
        let stage = "    from: alpine:3.20\n"
        #expect(try Self.codes(stage + "    env: {X: '${UNDECLARED:-x}'}") == ["W0114"])
        #expect(try Self.codes(stage + "    env: {X: '${UNDECLARED+x}'}") == ["W0114"])
        #expect(try Self.codes(stage + "    env: {X: '${UNDECLARED:?x}'}") == ["E0401"])
        #expect(try Self.codes(stage + "    env: {X: '${A:-${UNDECLARED}}'}") == ["E0401"])
        #expect(try Self.codes(stage + "    env: {X: '${A:-x} ${A:+y} ${A-z} ${A?m} ${A:?m}'}") == [])
        #expect(try Self.codes(stage + "    env: {X: '${EMPTY:?m}'}") == ["E0405"])
        #expect(try Self.codes(stage + "    env: {X: '${EMPTY?m}'}") == [])
        #expect(try Self.codes(stage + "    env: {X: '${A:#a}'}") == ["E0406"])
        #expect(try Self.codes(stage + "    env: {X: '${}'}") == ["E0406"])
        #expect(try Self.codes(stage + "    steps:\n      - run: echo ${A#a} ${#A}") == [])
        #expect(try Self.codes("    from: ${REGISTRY:-docker.io}/library/alpine:${A:-3.20}") == ["W0114"])
        #expect(try Self.codes("    from: ${REGISTRY:-docker.io}/library/Alpine:${A:-3.20}") == ["W0114", "E0605"])
        #expect(try Self.codes("    from: alpine:${TAG:-3.20}", allow: "root-target, undeclared-with-default") == [])
        #expect(try Self.codes("    from: ${A}-php:${B:-8}", args: "args: {A: php, B: \"8\"}") == [])
    }

    @Test("an unpinned image built from arguments says what it became")
    func unpinnedSaysTheExpansion() throws {
        let plan = """
            version: 1
            allow: [root-target]
            args: {BASE: php}
            stages:
              app:
                from: ${BASE}-fpm

            """
        let result = try TestSupport.compile(["plan.yaml": plan], folders: ["context"])
        #expect(result.diagnostics.map(\.message) == ["image `${BASE}-fpm` (`php-fpm`) has no tag, so it means `latest`, which changes under you"])
    }

    @Test("compile keeps every modifier as written for BuildKit; the portable dialect (buildah 1.28) refuses the non-colon forms and `:?`")
    func compiledForms() throws {
        let plan = """
            version: 1
            allow: [root-target]
            args: {REGISTRY: docker.io, TAG: "", A: a}
            stages:
              app:
                from: ${REGISTRY:-docker.io}/library/alpine:${TAG:-3.20}
                env:
                  X: ${A:+yes}/${TAG:-none}
                  Y: ${A-none}${A:?must be set}

            """
        let result = try TestSupport.compile(["plan.yaml": plan], folders: ["context"])
        let graph = try #require(result.graph, "\(result.diagnostics.map(\.message))")
        #expect(Dialect.buildkit.unsupportedFeatures(in: graph).isEmpty)
        let text = DockerfileWriter(dialect: .buildkit).dockerfile(for: graph)
        #expect(text.contains("FROM ${REGISTRY:-docker.io}/library/alpine:${TAG:-3.20} AS app\n"), "\(text)")
        #expect(text.contains("ENV X=${A:+yes}/${TAG:-none}\n"), "\(text)")
        #expect(text.contains("ENV Y=\"${A-none}${A:?must be set}\"\n"), "\(text)")
        let portable = Dialect.portable.unsupportedFeatures(in: graph)
        #expect(portable.map(\.code.id) == ["E0701", "E0701"])
        #expect(portable.map(\.message) == ["the portable dialect cannot express `${A-none}`",
                                             "the portable dialect cannot express `${A:?must be set}`"])
    }
}
