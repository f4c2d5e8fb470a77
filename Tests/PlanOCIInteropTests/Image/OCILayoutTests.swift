import Foundation
import Testing

@testable import PlanOCI

@Suite("OCI image layout")
struct OCILayoutTests {
    /// A layout with one image named `name`, written by ImageWriter with a real tar layer.
    func writeLayout(at dir: URL, work: URL, name: String) throws -> (OCILayout, WrittenImage) {
        let layout = try OCILayout.create(at: dir)
        let layer = try OCITestKit.makeLayer(
            ["etc/greeting": "hello from plan\n", "usr/share/doc/readme": "docs\n"], in: work, sink: layout)
        let written = try ImageWriter(
            platform: .host, config: OCITestKit.sampleConfig(), layers: [layer],
            history: [.init(createdBy: "plan test layer")]
        ).write(to: layout)
        try layout.add(written.manifestDescriptor, name: name)
        return (layout, written)
    }

    @Test("the written layout has oci-layout, index.json and blobs, and reads back")
    func roundTrip() throws {
        let work = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(work) }
        let dir = work.appendingPathComponent("layout")
        let (_, written) = try writeLayout(at: dir, work: work, name: "v1")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(names == ["blobs", "index.json", "oci-layout"])
        #expect(try String(contentsOf: dir.appendingPathComponent("oci-layout"), encoding: .utf8) == #"{"imageLayoutVersion":"1.0.0"}"#)

        let reopened = try OCILayout.open(at: dir)
        let image = try reopened.image(named: "v1")
        #expect(image.descriptor.digest == written.manifestDescriptor.digest)
        #expect(image.configuration == written.configuration)
        #expect(throws: ImageError.notFound("v2", dir.standardizedFileURL.path)) { try reopened.image(named: "v2") }
        // Naming again replaces the entry.
        try reopened.add(written.manifestDescriptor, name: "v1")
        #expect(try reopened.index().manifests.count == 1)
        #expect(throws: ImageError.self) { try OCILayout.open(at: work) }
    }

    @Test("skopeo inspect reads it, byte for byte")
    func skopeoAccepts() throws {
        let work = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(work) }
        let dir = work.appendingPathComponent("layout")
        let (layout, written) = try writeLayout(at: dir, work: work, name: "latest")
        let raw = try OCITestKit.run("skopeo", ["inspect", "--raw", "oci:\(dir.path):latest"])
        #expect(Data(raw.utf8) == (try layout.blob(written.manifestDescriptor.digest)))
        let configRaw = try OCITestKit.run("skopeo", ["inspect", "--config", "--raw", "oci:\(dir.path):latest"])
        #expect(Data(configRaw.utf8) == (try layout.blob(written.configDescriptor.digest)))
        struct Inspect: Decodable {
            var Digest: String
            var Architecture: String
            var Os: String
            var Env: [String]
            var Labels: [String: String]
            var Layers: [String]
        }
        let info = try JSONDecoder().decode(
            Inspect.self, from: Data(try OCITestKit.run("skopeo", ["inspect", "oci:\(dir.path):latest"]).utf8))
        #expect(info.Digest == written.manifestDescriptor.digest.description)
        #expect(info.Architecture == Platform.host.architecture && info.Os == "linux")
        #expect(info.Env == ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"])
        #expect(info.Labels["org.opencontainers.image.title"] == "sample")
        #expect(info.Layers == written.manifest.layers.map(\.digest.description))
    }

    @Test("umoci unpacks it, with our files and config")
    func umociAccepts() throws {
        let work = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(work) }
        let dir = work.appendingPathComponent("layout")
        _ = try writeLayout(at: dir, work: work, name: "latest")
        let bundle = work.appendingPathComponent("bundle")
        try OCITestKit.run("umoci", ["unpack", "--rootless", "--image", "\(dir.path):latest", bundle.path])
        let greeting = try String(contentsOf: bundle.appendingPathComponent("rootfs/etc/greeting"), encoding: .utf8)
        #expect(greeting == "hello from plan\n")
        let runtime = try String(contentsOf: bundle.appendingPathComponent("config.json"), encoding: .utf8)
        #expect(runtime.contains("\"/bin/app\"") && runtime.contains("\"--serve\""))
        #expect(runtime.contains("\"cwd\": \"/srv\"") || runtime.contains("\"cwd\":\"/srv\""))
        // umoci stat agrees on the history we wrote.
        let stat = try OCITestKit.run("umoci", ["stat", "--image", "\(dir.path):latest", "--json"])
        #expect(stat.contains("plan test layer"))
    }

    @Test("an image index in a layout: both platforms, and skopeo picks by --override-arch")
    func indexInLayout() throws {
        let work = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(work) }
        let dir = work.appendingPathComponent("layout")
        let layout = try OCILayout.create(at: dir)
        let layer = try OCITestKit.makeLayer(["f": "x"], in: work, sink: layout)
        var manifests: [Descriptor] = []
        for arch in ["amd64", "arm64"] {
            let p = try Platform(parsing: "linux/\(arch)")
            manifests.append(try ImageWriter(platform: p, layers: [layer]).write(to: layout).manifestDescriptor)
        }
        let index = try ImageWriter.writeIndex(manifests, to: layout)
        try layout.add(index.descriptor, name: "multi")
        #expect(try layout.image(named: "multi", platform: try Platform(parsing: "linux/arm64")).configuration.architecture == "arm64")
        #expect(try layout.image(named: "multi", platform: try Platform(parsing: "linux/amd64")).configuration.architecture == "amd64")
        #expect(throws: ImageError.self) { try layout.image(named: "multi", platform: try Platform(parsing: "linux/s390x")) }
        let arm = try OCITestKit.run("skopeo", ["--override-arch", "arm64", "inspect", "--config", "--raw", "oci:\(dir.path):multi"])
        #expect(arm.contains("\"architecture\":\"arm64\""))
    }
}
