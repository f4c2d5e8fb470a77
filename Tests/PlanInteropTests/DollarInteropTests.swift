import Foundation
import Testing

/// `$$` and `\$` in values the builder expands: plan run's image equals buildah's, and both read them as
/// buildah reads a hand-written `ENV A=x$$y B=\$z`. Needs buildah, skopeo, umoci and the test registry.
@Suite(.serialized) struct DollarInteropTests {
    @Test("`$$` and `\\$` in env, labels and workdir: plan run equals buildah")
    func dollarsEqualBuildah() throws {
        let fixture = RunTests.runFixtures + "/dollars"
        try RunTests().differential(fixture, target: "app")

        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try RunTests().run([fixture, "--cache-dir", folder + "/cache", "--arg", "REGISTRY=\(RunTests.registry)",
                                      "--output", "type=oci,dest=\(folder)/layout"])
        #expect(run.status == 0, "\(run.stderr)")
        guard run.status == 0 else { return }
        let built = try ImageTree.unpack(layout: folder + "/layout", name: "latest", into: folder + "/image")
        let env = built.config["Env"] as? [String] ?? []
        // What `buildah bud` 1.28 makes of `ENV A=x$$y B=\$z C=${y:-d}$$ D=$1abc E=$$$y F="q$$" G=a$ H=${y:+w$$}`.
        for expected in ["A=x$why", "B=$z", "C=why$$", "D=abc", "E=$$why", "F=q$$", "G=a$", "H=w$$", "J=argq",
                         "K=$z and $$ and why"] {
            #expect(env.contains(expected), "\(expected) not in \(env)")
        }
        #expect(built.config["WorkingDir"] as? String == "/w$why")
        #expect((built.config["Labels"] as? [String: String])?["price"] == "cost$")  // `$` then `$5`, empty
    }
}
