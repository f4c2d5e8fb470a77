import Foundation
import PlanTestKit
import Testing

/// A multi-platform plan compiled for BuildKit and buildah: the Dockerfile parses with BuildKit's parser and
/// passes hadolint, the builder stage is pinned with `FROM --platform=$BUILDPLATFORM`, the automatic arguments a
/// stage uses are declared in it, and the bake file carries the plan's platforms.
@Suite struct PlatformToolTests {
    static let plan = TestSupport.fixtures + "/multiplatform"

    struct ParsedInstruction: Decodable {
        var cmd: String
        var value: [String]
        var flags: [String]
    }

    struct Bake: Decodable {
        struct Target: Decodable { var platforms: [String]? }
        var target: [String: Target]
    }

    /// The out-dir of the fixture compiled in `dialect`, with `extra` arguments.
    static func compiled(dialect: String, _ extra: [String] = []) throws -> String {
        let folder = try TestSupport.temporaryFolder()
        let result = try TestSupport.plan(["compile", plan, "--dialect", dialect, "--out-dir", folder] + extra)
        #expect(result.status == 0, "\(result.stderr)")
        return folder
    }

    @Test("the compiled Dockerfile parses with BuildKit's parser, pins the builder and declares the ARGs it uses",
          arguments: ["buildkit", "portable"])
    func buildkitParser(_ dialect: String) throws {
        let folder = try Self.compiled(dialect: dialect)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        let result = try TestSupport.run(python, [TestSupport.repoRoot + "/scripts/dockerfile-parse", "--strict", folder + "/Dockerfile"])
        #expect(result.status == 0, "\(result.stderr)")
        let instructions = try JSONDecoder().decode([ParsedInstruction].self, from: Data(result.stdout.utf8))
        let froms = instructions.enumerated().filter { $0.element.cmd.lowercased() == "from" }
        #expect(froms.count == 2)
        #expect(froms.first?.element.flags == ["--platform=$BUILDPLATFORM"])
        #expect(froms.last?.element.flags == [])
        // Each stage's ARGs: the automatic ones it uses, declared after its FROM.
        func arguments(from start: Int, to end: Int) -> [String] {
            instructions[start..<end].filter { $0.cmd.lowercased() == "arg" }.flatMap(\.value)
        }
        let builder = arguments(from: froms[0].offset, to: froms[1].offset)
        let app = arguments(from: froms[1].offset, to: instructions.count)
        #expect(builder == ["BUILDPLATFORM", "TARGETOS", "TARGETARCH"])
        #expect(app == ["TARGETARCH"])
    }

    @Test("the compiled Dockerfile passes hadolint", arguments: ["buildkit", "portable"])
    func hadolint(_ dialect: String) throws {
        let folder = try Self.compiled(dialect: dialect)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let hadolint = try TestSupport.tool("hadolint", environment: "PLAN_TEST_HADOLINT")
        let result = try TestSupport.run(hadolint, ["--no-color", "-f", "json", folder + "/Dockerfile"], in: NSTemporaryDirectory())
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
    }

    @Test("the bake file carries the plan's platforms, or --platform's instead")
    func bakePlatforms() throws {
        for (extra, expected) in [([String](), ["linux/amd64", "linux/arm64"]),
                                  (["--platform", "linux/arm/v7,aarch64", "--platform", "x86_64"],
                                   ["linux/arm/v7", "linux/arm64", "linux/amd64"])] {
            let folder = try Self.compiled(dialect: "buildkit", extra)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let bake = try JSONDecoder().decode(Bake.self, from: Data(TestSupport.read(folder + "/docker-bake.json").utf8))
            #expect(bake.target["app"]?.platforms == expected)
        }
    }
}
