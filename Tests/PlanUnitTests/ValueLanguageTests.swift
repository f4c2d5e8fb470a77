import Foundation
import PlanCompiler
import PlanLanguage
import PlanValues
import Testing

/// One parser per value language: for each, a table of inputs on which the checker's verdict (`plan check`'s
/// diagnostic) and the parser the executor uses agree — accepted exactly when it parses, the same expansion.
@Suite struct ValueLanguageTests {
    /// The codes the checker reports for a one-stage plan with `fields` (YAML lines, indented for the stage).
    static func codes(_ fields: String, args: String = "", allow: String = "[root-target]") throws -> [String] {
        let plan = """
            version: 1
            allow: \(allow)
            \(args)
            stages:
              app:
            \(fields)

            """
        let result = try TestSupport.compile(["plan.yaml": plan], folders: ["context"])
        return result.diagnostics.filter { $0.severity == .error }.map(\.code.id)
    }

    /// `value` quoted for YAML.
    static func yaml(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
    }

    // MARK: Variables

    static let values = ["y": "why", "z": "zed", "E": "", "Q": "argq"]

    /// (text, expansion with `values`, names the checker sees in the builder dialect)
    static let variables: [(String, String, [String])] = [
        ("plain", "plain", []),
        ("x$$y", "x$why", ["y"]),  // buildah: `$` then `$y`
        ("\\$z", "$z", []),
        ("${y:-d}$$", "why$$", ["y"]),
        ("$$$y", "$$why", ["y"]),
        ("q$$", "q$$", []),
        ("a$", "a$", []),
        ("$1abc", "abc", []),  // one positional digit, empty
        ("$_", "", ["_"]),
        ("${y:+w$$}", "w$$", ["y"]),
        ("${U:+w}", "", ["U"]),
        ("${E:-dflt}", "dflt", ["E"]),
        ("${E-dflt}", "", ["E"]),
        ("${U-dflt}", "dflt", ["U"]),
        ("${U:-${y}}", "why", ["U", "y"]),
        ("$${y}", "$why", ["y"]),
        ("\\${y}", "${y}", []),
        ("${Q}/${z}", "argq/zed", ["Q", "z"]),
        ("${{ p }}", "${{ p }}", ["p"]),
        ("${y", "${y", []),
    ]

    @Test("the checker's references are the names the expansion reads, `$$` and `\\$` included")
    func variablesAgree() throws {
        for (text, expansion, names) in Self.variables {
            #expect(VariableExpansion.expand(text, Self.values) == expansion, "\(text)")
            let found = Interpolation.references(in: text).filter { $0.kind != .unterminated }.map(\.name)
            #expect(found == names, "\(text)")
            // A name the checker does not see never changes the expansion.
            for name in Self.values.keys where !found.contains(name) {
                var fewer = Self.values
                fewer[name] = nil
                #expect(VariableExpansion.expand(text, fewer) == expansion, "\(text) without \(name)")
            }
        }
    }

    @Test("an unclosed `${` is an error to the checker and to the strict expansion alike")
    func unterminatedAgrees() throws {
        for (text, _, _) in Self.variables {
            let checker = Interpolation.references(in: text).contains { $0.kind == .unterminated }
            var throwsUnterminated = false
            do throws(VariableExpansionError) {
                _ = try VariableSyntax.expanding(text, Self.values)
            } catch {
                throwsUnterminated = error.reason == .unterminated
            }
            #expect(checker == throwsUnterminated, "\(text)")
        }
        #expect(try Self.codes("    from: alpine:3.20\n    env: {A: '${y'}") == ["E0401"])
    }

    @Test("`$$` in a value the builder expands does not hide a reference; in a `run` script it is the shell's")
    func dollarDollarByDialect() throws {
        #expect(try Self.codes("    from: alpine:3.20\n    env: {A: '$${UNDECLARED}'}") == ["E0401"])
        #expect(try Self.codes("    from: alpine:3.20\n    steps:\n      - run: echo $${NOT_A_REFERENCE}") == [])
        #expect(try Self.codes("    from: alpine:3.20\n    env: {A: 'x$$y \\${NOT}'}") == [])
        #expect(Interpolation.references(in: "echo $$ $? $# $${X}", dialect: .shell).isEmpty)
    }

    @Test("tokens cover the text and keep each piece's offset")
    func tokensCoverTheText() {
        let tokens = VariableSyntax.tokens(in: "a${B:-c}$$\\$d")
        #expect(tokens.map(\.offset) == [0, 1, 8])
        #expect(tokens.map(\.length) == [1, 7, 5])
        #expect(tokens[1].kind == .reference(VariableReferenceSyntax(name: "B", form: .braced, modifier: .defaultIfUnsetOrEmpty("c"))))
        #expect(tokens[2].kind == .literal("$$$d"))
    }

    // MARK: Image references

    /// (reference, offset of the error in it, or nil when valid).
    static let references: [(String, Int?)] = [
        ("alpine:3.20", nil),
        ("127.0.0.1:5555/plan-test/busybox:stable", nil),
        ("ghcr.io/o/r@sha256:" + String(repeating: "a", count: 64), nil),
        ("localhost/app:1", nil),
        ("Alpine:3.20", 0),
        ("alpine:", 7),
        ("alpine:-x", 7),
        ("app//x:1", 4),
        ("alpine@sha256:abc", 7),
        ("registry.example.com:99999/app:1", 21),
    ]

    @Test("an image reference is valid to the checker exactly when ImageReference parses it, and the error sits at its column")
    func imageReferencesAgree() throws {
        for (text, offset) in Self.references {
            let parses = (try? ImageReference(parsing: text)) != nil
            #expect(parses == (offset == nil), "\(text)")
            let result = try TestSupport.compile(["plan.yaml": """
                version: 1
                allow: [root-target]
                stages:
                  app:
                    from: \(Self.yaml(text))

                """])
            // The quoted value starts at column 11; its first character is at 12.
            let errors = result.diagnostics.filter { $0.code.id == "E0605" }
            #expect(errors.map { $0.location?.column } == (offset.map { [12 + $0] } ?? []),
                    "\(text): \(result.diagnostics.map(\.message))")
        }
    }

    @Test("a reference with a build argument is checked with the argument's value, the error at the `${…}`")
    func imageReferenceWithArgument() throws {
        let result = try TestSupport.compile(["plan.yaml": """
            version: 1
            allow: [root-target]
            args: {TAG: "-x", NAME: Alpine}
            stages:
              app:
                from: alpine:${TAG}
              other:
                from: ${NAME}:1.0

            """])
        let errors = result.diagnostics.filter { $0.code.id == "E0605" }
        #expect(errors.map { $0.location?.column } == [18, 11], "\(result.diagnostics.map(\.message))")
        #expect(errors.map { $0.location?.length } == [6, 7])
        #expect(try Self.codes("    from: ${UNSET_REGISTRY}/app:1", args: "args: {UNSET_REGISTRY: null}").filter { $0 == "E0605" }.isEmpty)
    }

    // MARK: Durations

    /// (duration, nanoseconds when Go parses it, whether Docker's HEALTHCHECK takes it)
    static let durations: [(String, Int64?, Bool)] = [
        ("30s", 30_000_000_000, true),
        ("1m30s", 90_000_000_000, true),
        ("500ms", 500_000_000, true),
        ("1.5h", 5_400_000_000_000, true),
        (".5s", 500_000_000, true),
        ("0", 0, true),
        ("0s", 0, true),
        ("1µs", 1_000, false),
        ("-2s", -2_000_000_000, false),
        ("30 seconds", nil, false),
        ("10", nil, false),
        ("1d", nil, false),
    ]

    @Test("a duration is valid to the checker exactly when Docker's reading of Go's parser takes it")
    func durationsAgree() throws {
        for (text, nanoseconds, healthcheck) in Self.durations {
            #expect(GoDuration.nanoseconds(text) == nanoseconds, "\(text)")
            #expect(((try? GoDuration.healthcheck(text)) != nil) == healthcheck, "\(text)")
            let codes = try Self.codes("    from: alpine:3.20\n    healthcheck: {cmd: [/bin/true], interval: \(Self.yaml(text))}")
            #expect(codes == (healthcheck ? [] : ["E0603"]), "\(text): \(codes)")
        }
    }

    // MARK: Platforms, ports, signals, modes

    @Test("platforms: the checker takes what Platform(parsing:) takes")
    func platformsAgree() throws {
        let table: [(String, Bool)] = [
            ("linux/amd64", true), ("linux/arm64/v8", true), ("linux/arm/v7", true), ("linux/arm/7", true),
            ("linux/x86_64", true), ("arm64", true), ("linux/amd65", false), ("linx/amd64", false),
            ("linux/arm/seven", false), ("linux//amd64", false), ("a/b/c/d", false),
        ]
        for (text, valid) in table {
            #expect(((try? Platform(parsing: text)) != nil) == valid, "\(text)")
            let codes = try Self.codes("    from: alpine:3.20\n    platform: \(Self.yaml(text))")
            #expect(codes == (valid ? [] : ["E0604"]), "\(text): \(codes)")
        }
        #expect(ValueFormats.platformProblem("linux/amd65") == "`amd65` is not an architecture (did you mean `amd64`?)")
    }

    @Test("ports: the checker takes what Port(parsing:) takes")
    func portsAgree() throws {
        let table: [(String, String?)] = [
            ("80", "80/tcp"), ("80/tcp", "80/tcp"), ("53/udp", "53/udp"), ("8000-8010/sctp", "8000-8010/sctp"),
            ("0", nil), ("65536", nil), ("80/tcpx", nil), ("10-5", nil), ("80/tcp/x", nil), ("1-2-3", nil), ("８０", nil),
        ]
        for (text, parsed) in table {
            #expect((try? Port(parsing: text))?.description == parsed, "\(text)")
            let codes = try Self.codes("    from: alpine:3.20\n    expose: [\(Self.yaml(text))]")
            #expect(codes == (parsed == nil ? ["E0601"] : []), "\(text): \(codes)")
        }
    }

    @Test("stop signals: the checker takes what StopSignal(parsing:) takes")
    func signalsAgree() throws {
        let table: [(String, String?)] = [
            ("SIGTERM", "SIGTERM"), ("TERM", "SIGTERM"), ("term", "SIGTERM"), ("15", "15"), ("SIGRTMIN+3", "SIGRTMIN+3"),
            ("RTMAX-1", "SIGRTMAX-1"), ("SIGTREM", nil), ("0", nil), ("65", nil), ("SIGRTMIN+", nil),
        ]
        for (text, parsed) in table {
            #expect((try? StopSignal(parsing: text))?.description == parsed, "\(text)")
            let codes = try Self.codes("    from: alpine:3.20\n    stopsignal: \(Self.yaml(text))")
            #expect(codes == (parsed == nil ? ["E0608"] : []), "\(text): \(codes)")
        }
    }

    @Test("modes: the checker takes what FileMode(parsing:) takes")
    func modesAgree() throws {
        let table: [(String, UInt32?)] = [
            ("755", 0o755), ("0644", 0o644), ("4755", 0o4755), ("rwx", nil), ("75", nil), ("08", nil), ("0o755", nil),
            ("17777", nil),
        ]
        for (text, bits) in table {
            #expect((try? FileMode(parsing: text))?.bits == bits, "\(text)")
            let codes = try Self.codes("""
                    from: alpine:3.20
                    workdir: /app
                    steps:
                      - copy: context/
                        chmod: \(Self.yaml(text))
                """)
            #expect(codes == (bits == nil ? ["E0602"] : []), "\(text): \(codes)")
        }
    }
}
