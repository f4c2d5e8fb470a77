import PlanCompiler
import PlanValues
import Testing

/// The platforms a plan may ask for, BuildKit's automatic platform arguments and what a stage's `platform:` pins.
@Suite struct PlatformArgumentTests {
    @Test("Linux image platforms parse and normalise as containerd does; others are refused with a reason",
          arguments: [
              ("linux/amd64", "linux/amd64"), ("x86_64", "linux/amd64"), ("linux/aarch64", "linux/arm64/v8"),
              ("arm64", "linux/arm64/v8"), ("linux/arm/v6", "linux/arm/v6"), ("armhf", "linux/arm/v7"),
              ("linux/386", "linux/386"), ("linux/riscv64", "linux/riscv64"), ("linux/amd64/v3", "linux/amd64/v3"),
          ])
    func known(_ text: String, _ expected: String) throws {
        #expect(try Platform.parseLinuxImagePlatform(text).get().description == expected)
    }

    @Test("unknown, foreign and malformed platforms are refused", arguments: [
        "linux/sparc", "windows/amd64", "linux/arm64/v99", "linux/amd65", "linux//amd64", "", "darwin/arm64", "linux/386/v2",
    ])
    func refused(_ text: String) {
        guard case .failure(let failure) = Platform.parseLinuxImagePlatform(text) else {
            Issue.record("\(text) was accepted")
            return
        }
        #expect(!failure.problem.isEmpty)
    }

    @Test("--platform values: repeatable, comma-separated, deduplicated; an empty entry is an error")
    func lists() throws {
        let platforms = try Platform.parseLinuxImagePlatforms(["linux/amd64,linux/arm64", "x86_64"]).get()
        #expect(platforms.map(\.description) == ["linux/amd64", "linux/arm64/v8"])
        guard case .failure(let failure) = Platform.parseLinuxImagePlatforms(["linux/amd64,"]) else {
            Issue.record("an empty entry was accepted")
            return
        }
        #expect(failure.text == "linux/amd64,")
    }

    @Test("the automatic arguments have BuildKit's values: arm64's v8 is left out, arm keeps its variant")
    func automaticValues() throws {
        let values = AutomaticArguments.values(build: Platform(architecture: "amd64"),
                                               target: try Platform(parsing: "linux/arm64"))
        #expect(values == [
            "BUILDPLATFORM": "linux/amd64", "BUILDOS": "linux", "BUILDARCH": "amd64", "BUILDVARIANT": "",
            "TARGETPLATFORM": "linux/arm64", "TARGETOS": "linux", "TARGETARCH": "arm64", "TARGETVARIANT": "",
        ])
        let arm = AutomaticArguments.values(build: .host, target: try Platform(parsing: "linux/arm/v7"))
        #expect(arm["TARGETPLATFORM"] == "linux/arm/v7")
        #expect(arm["TARGETVARIANT"] == "v7")
    }

    @Test("a stage's platform: pins it to the build platform, a literal platform, or follows the target")
    func stagePlatforms() throws {
        let build = Platform(architecture: "amd64")
        let target = try Platform(parsing: "linux/arm64")
        #expect(StagePlatform(written: nil) == .target)
        #expect(StagePlatform(written: "${BUILDPLATFORM}") == .build)
        #expect(StagePlatform(written: "${BUILDOS}/${BUILDARCH}") == .build)
        #expect(StagePlatform(written: "${TARGETPLATFORM}") == .target)
        #expect(StagePlatform(written: "linux/${TARGETARCH}") == .target)
        #expect(StagePlatform(written: "linux/s390x") == .fixed(Platform(architecture: "s390x")))
        #expect(StagePlatform(written: "${BUILDPLATFORM}").platform(target: target, build: build) == build)
        #expect(StagePlatform.target.platform(target: target, build: build) == target)
    }

    @Test("a stage built from another stage is built on that stage's platform, through the whole from: chain, as in BuildKit")
    func effectivePlatformFollowsFromChains() throws {
        let result = try TestSupport.compile(["plan.yaml": """
            version: 1
            allow: [root-target, unreachable-stage]
            platforms: [linux/amd64, linux/arm64]
            stages:
              toolchain:
                from: alpine:3.20
                platform: ${BUILDPLATFORM}
              build:
                from: toolchain
              test:
                from: build
              fixed:
                from: alpine:3.20
                platform: linux/s390x
              on-fixed:
                from: fixed
              repinned:
                from: toolchain
                platform: ${TARGETPLATFORM}
              app:
                from: alpine:3.20
            targets: [app]
            """])
        let graph = try #require(result.graph, "\(result.diagnostics)")
        #expect(graph.effectivePlatform(of: "toolchain") == .build)
        #expect(graph.effectivePlatform(of: "build") == .build)
        #expect(graph.effectivePlatform(of: "test") == .build)
        #expect(graph.effectivePlatform(of: "on-fixed") == .fixed(Platform(architecture: "s390x")))
        // BuildKit takes the base stage's platform over a `FROM --platform=…` naming a stage.
        #expect(graph.effectivePlatform(of: "repinned") == .build)
        #expect(graph.effectivePlatform(of: "app") == .target)
        #expect(graph.stage(named: "test")?.stagePlatform == .target, "the stage's own platform: is still none")
    }
}
