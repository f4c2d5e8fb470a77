import Foundation
import Testing

/// `${NAME:-default}` and `${NAME:+word}` in `from:`, `copy … image:`, `env:` and `workdir`: plan run takes the
/// defaults, `--arg` replaces them, and the image equals what buildah builds from the compiled Dockerfile.
/// Needs buildah, skopeo and the test registry.
@Suite(.serialized) struct VariableDefaultsInteropTests {
    static let fixture = RunTests.runFixtures + "/defaults"

    @Test("shell-style defaults in from, copy image, env and workdir: plan run equals buildah")
    func defaultsEqualBuildah() throws {
        try RunTests().differential(Self.fixture, target: "app")
    }

    @Test("`${TAG:-…}` in `from:` and `env:` takes effect in plan run, and `--arg` overrides it")
    func defaultsTakeEffect() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try RunTests().run([Self.fixture, "--cache-dir", folder + "/cache", "--output", "type=oci,dest=\(folder)/layout"])
        #expect(run.status == 0, "\(run.stderr)")
        guard run.status == 0 else { return }
        let built = try ImageTree.unpack(layout: folder + "/layout", name: "latest", into: folder + "/image")
        let env = built.config["Env"] as? [String] ?? []
        for expected in ["FLAVOUR=default", "PINNED=", "SOURCE=none/plan-test/busybox", "MODE=release"] {
            #expect(env.contains(expected), "\(expected) not in \(env)")
        }
        #expect(built.config["WorkingDir"] as? String == "/srv/latest")
        #expect(built.tree.contains { $0.hasPrefix("./copied/busybox ") }, "the copy from the default image is missing")
        let flavour = try String(contentsOfFile: folder + "/image/rootfs/srv/latest/flavour", encoding: .utf8)
        #expect(flavour == "default//release\n")

        // The tag argument reaches the base image: a tag the registry lacks fails the pull, named as expanded.
        let missing = try RunTests().run([Self.fixture, "--cache-dir", folder + "/cache", "--arg", "TAG=no-such-tag",
                                          "--output", "type=oci,dest=\(folder)/missing"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("plan-test/busybox:no-such-tag"), "\(missing.stderr)")
    }
}
