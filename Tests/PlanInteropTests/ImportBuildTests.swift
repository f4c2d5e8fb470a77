import Foundation
import PlanTestKit
import Testing

/// Buildable variants of real fixtures (Tests/Fixtures/import/buildable/*, derived from real/*, bases rewritten
/// to the test registry's busybox): buildah builds the original Dockerfile and the one `plan compile --dialect
/// portable` writes for `plan import`'s plan; the two images are identical, tree and configuration. Needs
/// buildah, skopeo, umoci and the test registry, as scripts/test provides.
@Suite("Interop: plan import builds the same image", .serialized)
struct ImportBuildTests {
    static let fixtures = TestSupport.fixtures + "/import/buildable"
    static let names: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: fixtures)) ?? []).sorted()
    static var registry: String { ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555" }
    /// What buildah adds that is no part of either Dockerfile's meaning.
    static let ignoredLabels: Set<String> = ["io.buildah.version"]

    func build(_ dockerfile: String, context: String, folder: String, name: String) throws -> ImageTree.Built? {
        let buildah = try TestSupport.tool("buildah")
        let skopeo = try TestSupport.tool("skopeo")
        let tag = "localhost/plan-import-\(name):\(UUID().uuidString.lowercased().prefix(8))"
        let build = try TestSupport.run(buildah, ["bud", "--isolation", "chroot", "--tls-verify=false", "--layers=false",
                                                  "--build-arg", "REGISTRY=\(Self.registry)", "-f", dockerfile, "-t", tag, context])
        #expect(build.status == 0, "buildah \(dockerfile): \(build.stderr.suffix(2000))")
        guard build.status == 0 else { return nil }
        defer { _ = try? TestSupport.run(buildah, ["rmi", "-f", tag]) }
        let copy = try TestSupport.run(skopeo, ["copy", "containers-storage:\(tag)", "oci:\(folder)/\(name)-layout:t"])
        #expect(copy.status == 0, "\(copy.stderr)")
        return try ImageTree.unpack(layout: folder + "/\(name)-layout", name: "t", into: folder + "/\(name)")
    }

    @Test("buildah builds the same image from the original and the round-tripped Dockerfile", arguments: names)
    func sameImage(_ name: String) throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let context = folder + "/context"
        try FileManager.default.copyItem(atPath: Self.fixtures + "/" + name, toPath: context)
        try FileManager.default.createDirectory(atPath: folder + "/plan", withIntermediateDirectories: true)
        let imported = try TestSupport.plan(["import", context + "/Dockerfile", "-o", folder + "/plan/plan.yaml"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(!imported.stderr.contains("warning"), "\(name): \(imported.stderr)")
        let compiled = try TestSupport.plan(["compile", folder + "/plan", "--dialect", "portable", "-o", folder + "/Containerfile"])
        #expect(compiled.status == 0, "\(compiled.stderr)")
        guard imported.status == 0, compiled.status == 0 else { return }

        guard let original = try build(context + "/Dockerfile", context: context, folder: folder, name: "original"),
              let roundTripped = try build(folder + "/Containerfile", context: context, folder: folder, name: "round-trip")
        else { return }
        #expect(original.tree == roundTripped.tree,
                "\(name): trees differ:\n\(Set(original.tree).symmetricDifference(roundTripped.tree).sorted().joined(separator: "\n"))")
        func canonical(_ value: Any?) -> String {
            guard let value else { return "-" }
            let data = try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys])
            return data.map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
        }
        for key in ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "StopSignal", "Volumes", "Healthcheck", "Shell"] {
            #expect(canonical(original.config[key]) == canonical(roundTripped.config[key]),
                    "\(name) \(key): \(canonical(original.config[key])) vs \(canonical(roundTripped.config[key]))")
        }
        func labels(_ built: ImageTree.Built) -> [String: String] {
            (built.config["Labels"] as? [String: String] ?? [:]).filter { !Self.ignoredLabels.contains($0.key) }
        }
        #expect(labels(original) == labels(roundTripped), "\(name): labels")
    }
}
