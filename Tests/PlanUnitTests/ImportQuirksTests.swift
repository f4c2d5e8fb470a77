import Foundation
import PlanCompiler
import PlanDiagnostics
import PlanImport
import PlanTestKit
import Testing

/// What real Dockerfiles have that small examples lack (Tests/Fixtures/import/quirks/*/Dockerfile, each folder
/// also the build context): each imports into a plan that passes the checker, keeping the meaning.
@Suite("Unit: plan import quirks")
struct ImportQuirksTests {
    static let fixtures = TestSupport.fixtures + "/import/quirks"

    /// The imported plan, the checker's verdict on it, and the importer's own diagnostics, for fixture `name`.
    func importFixture(_ name: String) throws -> (plan: String, compiled: CompileResult, imported: [Diagnostic]) {
        let folder = Self.fixtures + "/" + name
        let text = try String(contentsOfFile: folder + "/Dockerfile", encoding: .utf8)
        let (plan, compiled, imported) = try ImportMappingTests().importAndCompile(text, context: folder)
        let errors = compiled.diagnostics.filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(name): \(errors.map(\.message))\n\(plan)")
        return (plan, compiled, imported)
    }

    /// The codes of `diagnostics`, with their lines.
    func codes(_ diagnostics: [Diagnostic]) -> [String] {
        diagnostics.map { "\($0.code.id)@\($0.location?.line ?? 0)" }
    }

    /// The checker's warnings other than root-target, which every imported stage without `USER` has.
    func warnings(_ compiled: CompileResult) -> [String] {
        compiled.diagnostics.filter { $0.severity == .warning && $0.code.id != "W0104" }.map(\.code.id)
    }

    @Test("image names and values from arguments with defaults map as written, without import warnings")
    func argumentDefaults() throws {
        let (plan, compiled, imported) = try importFixture("defaults")
        #expect(plan.contains("    from: ${REGISTRY:-docker.io}/library/${BASE}:${TAG:-8.3}-cli\n"), "\(plan)")
        #expect(plan.contains("      PHP_TAG: ${TAG:-8.3}\n      CHANNEL: ${CHANNEL:+beta}\n"), "\(plan)")
        #expect(plan.contains("        image: ${TOOLS_IMAGE}\n"), "\(plan)")
        #expect(plan.contains("      - workdir: /srv/${TAG:-latest}\n"), "\(plan)")
        // Only `${TAG-none}` changes meaning: TAG has no default, unset to BuildKit and empty in the plan.
        #expect(codes(imported) == ["W1002@14"], "\(imported.map(\.message))")
        // APP_USER is declared nowhere: BuildKit always takes the default, which the checker points out.
        #expect(warnings(compiled) == ["W0114"])
        let graph = try #require(compiled.graph)
        #expect(graph.stages.first?.base == .image("${REGISTRY:-docker.io}/library/${BASE}:${TAG:-8.3}-cli"))
    }

    @Test("SHELL before any RUN becomes the stage's shell wherever it sits; after a RUN it is kept as a comment")
    func shell() throws {
        let (plan, _, imported) = try importFixture("shell")
        #expect(plan.contains("  tools:\n    from: alpine:3.20\n    shell: [/bin/ash, -eo, pipefail, -c]\n"), "\(plan)")
        #expect(plan.contains("  late:\n    from: alpine:3.20\n    shell: [/bin/ash, -euo, pipefail, -c]\n"), "\(plan)")
        #expect(plan.contains("      # SHELL [\"/bin/sh\", \"-exc\"]\n"), "\(plan)")
        #expect(codes(imported) == ["W1001@8"], "\(imported.map(\.message))")
    }

    @Test("FROM --platform and COPY --from naming an argument take its default, with a warning")
    func platformArguments() throws {
        let (plan, compiled, imported) = try importFixture("platform-args")
        #expect(plan.contains("  build:\n    from: golang:${GO}-alpine\n    platform: $BUILDPLATFORM\n"), "\(plan)")
        #expect(plan.contains("  helper:\n    from: alpine:3.20\n    platform: linux/amd64\n"), "\(plan)")
        #expect(plan.contains("  native:\n    from: alpine:3.20\n    platform: $BUILDPLATFORM\n"), "\(plan)")
        #expect(plan.contains("      - artifact: build.note\n        to: /note\n"), "\(plan)")
        #expect(codes(imported) == ["W1002@10", "W1002@12", "W1002@15"], "\(imported.map(\.message))")
        #expect(warnings(compiled) == [])
    }

    @Test("several sources copied into `.`, legacy `ENV key value`, comments in continued lines, trailing blanks, non-ASCII")
    func smallQuirks() throws {
        let copies = try importFixture("copy-into-dot")
        #expect(copies.plan.contains("      - copy: [package.json, package-lock.json]\n      - copy: [tsconfig.json, .eslintrc.js]\n"),
                "\(copies.plan)")
        #expect(copies.imported.isEmpty)

        let legacy = try importFixture("legacy-env")
        #expect(legacy.plan.contains("      APP_HOME: /srv/app\n      GREETING: hello world  with  spaces\n      PATH: $APP_HOME/bin:$PATH\n"),
                "\(legacy.plan)")
        #expect(legacy.plan.contains("      maintainer: Someone\n"), "\(legacy.plan)")

        let continued = try importFixture("continued-comments")
        #expect(continued.plan.contains("      # the compilers\n      # and make\n      - run: apt-get update "), "\(continued.plan)")
        #expect(continued.plan.contains("gcc        make     && rm -rf /var/lib/apt/lists/*\n"), "\(continued.plan)")

        let trailing = try importFixture("trailing-space")
        #expect(trailing.plan.contains("      A: \"1\"\n    steps:\n      - run: echo hi\n      - workdir: /srv\n    cmd: [sh]\n"),
                "\(trailing.plan)")

        let text = try importFixture("non-ascii")
        #expect(text.plan.contains("  # Café — naïve build\n"), "\(text.plan)")
        #expect(text.plan.contains("description: Grüße aus Köln 🎉\n"), "\(text.plan)")
        #expect(text.plan.contains("- run: echo \"¡hola!\" > /greeting\n"), "\(text.plan)")
        for result in [copies, legacy, continued, trailing, text] { #expect(warnings(result.compiled) == []) }
    }

    @Test("32 stages in a chain: each an artifact of the one before")
    func manyStages() throws {
        let (plan, compiled, imported) = try importFixture("many-stages")
        let graph = try #require(compiled.graph)
        #expect(graph.stages.count == 32)
        #expect(plan.contains("  s31:\n    from: alpine:3.20\n    steps:\n      - artifact: s30.n30\n"), "\(plan)")
        #expect(imported.isEmpty)
        #expect(warnings(compiled) == [])
    }

    @Test("ADD of a URL: with a checksum an `add` step, without one kept as a comment (plan's `add` needs it)")
    func addOfURLs() throws {
        let (plan, _, imported) = try importFixture("add-url")
        #expect(plan.contains("      - add: https://example.com/tool.tar.gz\n        checksum: sha256:"), "\(plan)")
        #expect(plan.contains("      # ADD https://example.com/config.json /etc/app/config.json\n"), "\(plan)")
        #expect(codes(imported) == ["W1001@3", "W1001@4"])
    }
}
