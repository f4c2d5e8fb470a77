import Foundation
import Testing

/// Dockerfile syntax 1.7's pattern forms (`${NAME/p/r}`, `${NAME%%p}`, …) take effect in plan run.
/// Needs the test registry.
@Suite(.serialized) struct PatternSubstitutionInteropTests {
    static let fixture = RunTests.runFixtures + "/patterns"

    @Test("`${TARGETARCH/amd64/x64}` and the other pattern forms expand in env, workdir and the run step's environment")
    func patternsTakeEffect() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try RunTests().run([Self.fixture, "--cache-dir", folder + "/cache", "--output", "type=oci,dest=\(folder)/layout"])
        #expect(run.status == 0, "\(run.stderr)")
        guard run.status == 0 else { return }
        let built = try ImageTree.unpack(layout: folder + "/layout", name: "latest", into: folder + "/image")
        let env = built.config["Env"] as? [String] ?? []
        #if arch(x86_64)
        let (arch, workdir, platform) = ("x64", "x86_64", "linux-amd64")
        #else
        let (arch, workdir, platform) = ("arm64", "arm64", "linux-arm64")
        #endif
        for expected in ["DART_ARCH=\(arch)", "STEM=dart-sass-1.77", "VERSION=1.77.tar.gz", "SLASHED=\(platform)"] {
            #expect(env.contains(expected), "\(expected) not in \(env)")
        }
        #expect(built.config["WorkingDir"] as? String == "/srv/\(workdir)")
        let written = try String(contentsOfFile: folder + "/image/rootfs/srv/\(workdir)/arch", encoding: .utf8)
        #expect(written == "\(arch)/dart-sass-1.77\n")
    }
}
