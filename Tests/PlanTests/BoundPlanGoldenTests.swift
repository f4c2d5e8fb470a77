import Foundation
import Testing

/// Every example plan binds (`plan compile --emit bound-plan`, images unresolved, for linux/amd64) to its golden JSON,
/// byte for byte. Run with PLAN_UPDATE_SNAPSHOTS=1 to rewrite the golden files after an intended change; a test
/// that rewrites its golden file fails, so a recording run is never mistaken for a passing one.
@Suite struct BoundPlanGoldenTests {
    @Test("each example binds to its golden bound plan", arguments: TestSupport.examplePlans())
    func golden(_ plan: String) throws {
        let result = try TestSupport.plan(["compile", "plans/\(plan)", "--emit", "bound-plan", "--platform", "linux/amd64", "--werror"])
        #expect(result.status == 0, "\(plan): \(result.stderr)")
        #expect(result.stderr.isEmpty, "no diagnostics expected for \(plan): \(result.stderr)")
        // Paths as the user named them: nothing of the machine the golden file was recorded on.
        #expect(!result.stdout.contains(TestSupport.repoRoot))
        let path = TestSupport.snapshots + "/bound-plan/\(plan).json"
        if GoldenTests.update {
            try TestSupport.write(result.stdout, to: path)
            Issue.record("recorded \(path); run again without PLAN_UPDATE_SNAPSHOTS to check it")
            return
        }
        #expect(result.stdout == (try TestSupport.read(path)), "bound-plan/\(plan).json differs from its golden file")
    }

    @Test("the bound plan is the same from any working directory, apart from the paths as given")
    func elsewhere() throws {
        let here = try TestSupport.plan(["compile", "plans/site", "--emit", "bound-plan", "--platform", "linux/amd64"])
        let there = try TestSupport.plan(["compile", TestSupport.plans + "/site", "--emit", "bound-plan", "--platform", "linux/amd64"],
                                         in: "/")
        #expect(here.status == 0 && there.status == 0)
        #expect(there.stdout.replacingOccurrences(of: TestSupport.repoRoot + "/", with: "") == here.stdout)
    }

    @Test("--emit bound-plan refuses the Dockerfile's outputs and more than one platform")
    func usage() throws {
        let output = try TestSupport.plan(["compile", "plans/site", "--emit", "bound-plan", "-o", "/tmp/never"])
        #expect(output.status == 2 && output.stderr.contains("-o goes with --emit dockerfile"), "\(output.stderr)")
        let platforms = try TestSupport.plan(["compile", "plans/site", "--emit", "bound-plan", "--platform", "linux/amd64",
                                              "--platform", "linux/arm64"])
        #expect(platforms.status == 2, "\(platforms.stderr)")
        let target = try TestSupport.plan(["compile", "plans/site", "--emit", "bound-plan", "--target", "nope"])
        #expect(target.status != 0 && target.stderr.contains("E0206"), "\(target.stderr)")
        #expect(target.stdout.isEmpty)
    }
}
