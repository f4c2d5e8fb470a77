import Foundation
import Testing

/// `platforms:` and `--platform` through the `plan` executable.
@Suite struct PlatformTests {
    static let plan = TestSupport.fixtures + "/multiplatform"

    @Test("--emit bound-plan expands TARGETARCH in env to the bound platform's architecture")
    func boundPlanExpandsTargetArch() throws {
        for (platform, arch) in [("linux/arm64", "arm64"), ("linux/amd64", "amd64")] {
            let result = try TestSupport.plan(["compile", Self.plan, "--emit", "bound-plan", "--platform", platform])
            #expect(result.status == 0, "\(result.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let stages = try #require(json["stages"] as? [[String: Any]])
            let app = try #require(stages.first { $0["name"] as? String == "app" })
            let final = try #require(app["finalConfiguration"] as? [String: Any])
            let environment = try #require(final["environment"] as? [[String: String]])
            #expect(environment.contains { $0["name"] == "ARCH" && $0["value"] == arch }, "\(environment)")
        }
        // Two platforms in the plan and none chosen: a usage error.
        #expect(try TestSupport.plan(["compile", Self.plan, "--emit", "bound-plan"]).status == 2)
    }

    @Test("a bad --platform is a usage error naming it, on check, compile and run",
          arguments: ["linux/sparc", "windows/amd64", "linux/arm64/v99", "", ",", "linux/amd64,"])
    func badPlatform(_ value: String) throws {
        for command in ["check", "compile", "run"] {
            let result = try TestSupport.plan([command, Self.plan, "--platform", value])
            #expect(result.status == 2, "\(command) \(value): \(result.stderr)")
            #expect(result.stderr.contains("--platform \"\(value)\""), "\(result.stderr)")
        }
    }

    @Test("--platform replaces the plan's platforms in the checks")
    func overridePlatforms() throws {
        let fixture = TestSupport.fixtures + "/checks/W0113-digest-with-several-platforms.yaml"
        let both = try TestSupport.plan(["check", fixture, "--platform", "linux/amd64", "--platform", "linux/arm64"])
        #expect(both.stderr.contains("warning[W0113]"), "\(both.stderr)")
        let one = try TestSupport.plan(["check", fixture, "--platform", "linux/arm64"])
        #expect(one.status == 0 && !one.stderr.contains("warning[W0113]"), "\(one.stderr)")
    }
}
