import Foundation
import PlanCompiler
import PlanValues
import Testing

/// `BoundBuild`: the plan bound per target platform, and which stage instances the platforms share — worked out
/// in the binding, in-process (images unresolved).
@Suite struct BoundBuildTests {
    static let amd64 = Platform(architecture: "amd64")
    static let arm64 = Platform(architecture: "arm64")

    /// The fixture of the multi-platform run tests, bound for `platforms` on an amd64 machine.
    func build(_ platforms: [Platform], targets: [String] = []) throws -> BoundBuild {
        let result = Compiler(options: CompileOptions()).compile(planAt: TestSupport.fixtures + "/multiplatform/run/plan.yaml")
        let graph = try #require(result.graph, "\(result.diagnostics)")
        let plans = try platforms.map { platform in
            try Binder(graph: graph, options: BindOptions(targets: targets, platform: platform, buildPlatform: Self.amd64))
                .bind(images: [:])
        }
        return BoundBuild(plans: plans)
    }

    @Test("two platforms: a build-platform stage without TARGET… is one shared instance; one using TARGETARCH and the targets are one per platform")
    func sharing() throws {
        let build = try build([Self.amd64, Self.arm64])
        #expect(build.instances.map(\.name) == ["tools", "linux/amd64 cross", "linux/amd64 app", "linux/arm64 cross", "linux/arm64 app"])
        let tools = try #require(build.instance(of: "tools", plan: 1))
        #expect(tools.plans == [0, 1])
        #expect(tools.stage.platform == Self.amd64.normalized)
        // The cross stage is pinned to the build platform (amd64) for both targets; it depends on the shared builder.
        let cross = try #require(build.instance(of: "cross", plan: 1))
        #expect(cross.stage.platform == Self.amd64.normalized && cross.dependencies == ["tools": "tools"])
        let app = try #require(build.instance(of: "app", plan: 1))
        #expect(app.stage.platform == Self.arm64.normalized && app.dependencies == ["cross": "linux/arm64 cross"])
        // Every image use carries the reading stage's platform: the builder's base for amd64 only, the target's for both.
        #expect(build.plans[1].images.map(\.platform) == [Self.amd64.normalized, Self.arm64.normalized])
    }

    @Test("one platform: instances are the stages, named as the stages")
    func onePlatform() throws {
        let build = try build([Self.arm64])
        #expect(build.instances.map(\.name) == ["tools", "cross", "app"])
        #expect(build.instances.map(\.stage) == build.plans[0].stages)
        #expect(build.instances.map(\.stage.platform) == [Self.amd64, Self.amd64, Self.arm64].map(\.normalized))
    }
}
