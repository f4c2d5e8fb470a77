import Foundation
import PlanCompiler
import PlanDockerfile
import PlanImport
import PlanTestKit
import Testing

/// The quirk fixtures (Tests/Fixtures/import/quirks) round trip: import → check → compile, and BuildKit's parser
/// reads the original and the compiled Dockerfile with the same stages and RUNs; `${NAME:-default}` forms reach
/// the Dockerfile as written, for BuildKit to expand.
@Suite("Interop: plan import quirks")
struct ImportQuirksInteropTests {
    static let fixtures = TestSupport.fixtures + "/import/quirks"
    static let names: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: fixtures)) ?? []).sorted()

    struct ParsedInstruction: Decodable {
        var cmd: String
        var value: [String]
    }

    static func parse(_ path: String) throws -> [ParsedInstruction] {
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        let result = try TestSupport.run(python, [TestSupport.repoRoot + "/scripts/dockerfile-parse", "--strict", path])
        #expect(result.status == 0, "\(path): \(result.stderr)")
        return (try? JSONDecoder().decode([ParsedInstruction].self, from: Data(result.stdout.utf8))) ?? []
    }

    @Test("import, check, compile and parse each quirk fixture", arguments: names)
    func roundTrip(_ name: String) throws {
        let context = Self.fixtures + "/" + name
        let original = context + "/Dockerfile"
        let data = try #require(FileManager.default.contents(atPath: original))
        let options = ImportOptions(context: context, isContextFolder: { path in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: context + "/" + path, isDirectory: &isDirectory) else { return nil }
            return isDirectory.boolValue
        })
        let (result, _) = PlanImporter(options: options).importPlan(data: Array(data), path: original)
        let plan = try #require(result.plan, "\(result.diagnostics)")
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TestSupport.write(plan, to: folder + "/plan.yaml")
        let compiled = Compiler(options: CompileOptions()).compile(planAt: folder + "/plan.yaml")
        let errors = compiled.diagnostics.filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(name): \(errors.map(\.message))\n\(plan)")
        let graph = try #require(compiled.graph)
        let dockerfile = DockerfileWriter().dockerfile(for: graph)
        try TestSupport.write(dockerfile, to: folder + "/Dockerfile")
        let before = try Self.parse(original)
        let after = try Self.parse(folder + "/Dockerfile")
        func count(_ list: [ParsedInstruction], _ command: String) -> Int { list.count { $0.cmd.lowercased() == command } }
        #expect(count(after, "from") == count(before, "from"), "\(name): stages")
        // A RUN after a mid-stage SHELL stays a RUN; the SHELL itself is a comment (W1001).
        #expect(count(after, "run") == count(before, "run"), "\(name): RUN instructions")
        if name == "defaults" {
            let froms = after.filter { $0.cmd.lowercased() == "from" }.map { $0.value.first ?? "" }
            #expect(froms == ["${REGISTRY:-docker.io}/library/${BASE}:${TAG:-8.3}-cli"], "\(dockerfile)")
            #expect(dockerfile.contains("COPY --from=${TOOLS_IMAGE} "), "\(dockerfile)")
            #expect(dockerfile.contains("ENV CHANNEL=${CHANNEL:+beta}") || dockerfile.contains("CHANNEL=${CHANNEL:+beta}"), "\(dockerfile)")
        }
    }
}
