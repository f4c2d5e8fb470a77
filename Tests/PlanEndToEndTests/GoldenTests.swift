import Foundation
import Testing

/// Every example plan compiles to its golden Dockerfile (both dialects) and .dockerignore, byte for byte.
/// Run with PLAN_UPDATE_SNAPSHOTS=1 to rewrite the golden files after an intended change: each test that
/// writes one then fails, and a run without the switch checks them.
@Suite struct GoldenTests {
    static let dialects = ["buildkit", "portable"]

    func compare(_ actual: String, golden name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try TestSupport.expectGolden(actual, name, sourceLocation: sourceLocation)
    }

    @Test("examples exist: the site, a static Go binary, and a registry-backed plan")
    func examplesExist() {
        let plans = TestSupport.examplePlans()
        #expect(Set(["site", "go-static", "registry"]).isSubset(of: Set(plans)))
    }

    @Test("each example compiles to its golden Dockerfile", arguments: TestSupport.examplePlans())
    func golden(_ plan: String) throws {
        for dialect in Self.dialects {
            let result = try TestSupport.plan(["compile", "plans/\(plan)", "--dialect", dialect, "--werror"])
            #expect(result.status == 0, "\(plan) (\(dialect)): \(result.stderr)")
            // Only the note that standard output carries no ignore file.
            let diagnostics = result.stderr.split(separator: "\n").filter { !$0.hasPrefix("note: the plan's ignore patterns") }
            #expect(diagnostics.isEmpty, "no diagnostics expected for \(plan): \(result.stderr)")
            try compare(result.stdout, golden: "\(plan).\(dialect).Dockerfile")
        }
    }

    @Test("-o writes the Dockerfile and Dockerfile.dockerignore", arguments: TestSupport.examplePlans())
    func dockerignore(_ plan: String) throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try TestSupport.plan(["compile", "plans/\(plan)", "-o", folder + "/Dockerfile"])
        #expect(result.status == 0, "\(result.stderr)")
        // Beside the Dockerfile, named for it: where BuildKit and buildah read it.
        try compare(try TestSupport.read(folder + "/Dockerfile.dockerignore"), golden: "\(plan).dockerignore")
        #expect(!FileManager.default.fileExists(atPath: folder + "/.dockerignore"))
        let stdout = try TestSupport.plan(["compile", "plans/\(plan)"]).stdout
        #expect(try TestSupport.read(folder + "/Dockerfile") == stdout)
    }

    @Test("output is byte-identical from run to run and from any working directory", arguments: TestSupport.examplePlans())
    func deterministic(_ plan: String) throws {
        let first = try TestSupport.plan(["compile", "plans/\(plan)"])
        let second = try TestSupport.plan(["compile", "plans/\(plan)"])
        let elsewhere = try TestSupport.plan(["compile", TestSupport.plans + "/\(plan)/plan.yaml"], in: "/")
        #expect(first.stdout == second.stdout)
        #expect(first.stdout == elsewhere.stdout)
        #expect(!first.stdout.isEmpty)
    }
}
