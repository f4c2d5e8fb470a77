import Foundation
import Testing

@testable import PlanOCI

@Suite("Writing images")
struct ImageWriterTests {
    func writer(labels extra: [String: String] = [:], store: ContentStore, work: URL) throws -> ImageWriter {
        let layer = try OCITestKit.makeLayer(["etc/hello": "hello\n", "bin/tool": "#!/bin/sh\necho hi\n"], in: work, sink: store)
        var config = OCITestKit.sampleConfig()
        config.labels?.merge(extra) { $1 }
        return ImageWriter(
            platform: Platform(os: "linux", architecture: "amd64"), config: config, layers: [layer],
            history: [.init(createdBy: "plan: COPY . /", comment: "layer 1")])
    }

    @Test("the same inputs give the same digests; another input another digest")
    func deterministic() throws {
        let work = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(work) }
        let a = try ContentStore(root: work.appendingPathComponent("a"))
        let b = try ContentStore(root: work.appendingPathComponent("b"))
        let first = try writer(store: a, work: work).write(to: a)
        let second = try writer(store: b, work: work).write(to: b)
        #expect(first.manifestDescriptor.digest == second.manifestDescriptor.digest)
        #expect(first.configDescriptor.digest == second.configDescriptor.digest)
        #expect(try a.data(for: first.manifestDescriptor.digest) == b.data(for: second.manifestDescriptor.digest))
        let third = try writer(labels: ["x": "y"], store: a, work: work).write(to: a)
        #expect(third.configDescriptor.digest != first.configDescriptor.digest)
        #expect(third.manifestDescriptor.digest != first.manifestDescriptor.digest)

        let i1 = try ImageWriter.writeIndex([first.manifestDescriptor, third.manifestDescriptor], to: a)
        let i2 = try ImageWriter.writeIndex([first.manifestDescriptor, third.manifestDescriptor], to: b)
        #expect(i1.descriptor.digest == i2.descriptor.digest)
    }

    @Test("config JSON: sorted keys, every run setting, no timestamp unless given")
    func configJSON() throws {
        let diffID = Digest.sha256(of: Array("layer".utf8))
        var w = ImageWriter(
            platform: Platform(os: "linux", architecture: "arm64", variant: "v8"), config: OCITestKit.sampleConfig(),
            layers: [ImageLayer(descriptor: Descriptor(mediaType: .ociLayerGzip, digest: diffID, size: 5), diffID: diffID)])
        let json = String(decoding: try w.configurationJSON(), as: UTF8.self)
        let expected = """
            {"architecture":"arm64","config":{"Cmd":["--serve"],"Entrypoint":["/bin/app"],"Env":["PATH=/usr/bin:/bin","LANG=C.UTF-8"],\
            "ExposedPorts":{"53/udp":{},"8080/tcp":{}},"Labels":{"a":"1","b":"2","org.opencontainers.image.title":"sample"},\
            "StopSignal":"SIGTERM","User":"1000:1000","Volumes":{"/cache":{},"/data":{}},"WorkingDir":"/srv"},\
            "os":"linux","rootfs":{"diff_ids":["\(diffID)"],"type":"layers"},"variant":"v8"}
            """
        #expect(json == expected)
        #expect(!json.contains("created"))

        w.created = Date(timeIntervalSince1970: 86400)
        let dated = w.configuration()
        #expect(dated.created == "1970-01-02T00:00:00Z")
        // Round trip.
        let decoded = try JSONDecoder().decode(ImageConfiguration.self, from: try w.configurationJSON())
        #expect(decoded == dated)
        #expect(decoded.config?.exposedPorts == ["8080/tcp", "53/udp"])
    }

    @Test("Docker media types when asked for")
    func dockerFormat() throws {
        let work = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(work) }
        let store = try ContentStore(root: work.appendingPathComponent("s"))
        var w = try writer(store: store, work: work)
        w.format = .docker
        let written = try w.write(to: store)
        #expect(written.manifestDescriptor.mediaType == .dockerManifest)
        #expect(written.configDescriptor.mediaType == .dockerConfig)
        let manifestJSON = String(decoding: try store.data(for: written.manifestDescriptor.digest), as: UTF8.self)
        #expect(manifestJSON.hasPrefix("{\"config\":{\"digest\":\"sha256:"))
        #expect(manifestJSON.contains("\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\""))
    }

    @Test("reads a Docker config with extra fields and fractional timestamps")
    func readsDockerConfig() throws {
        let json = """
            {"architecture":"amd64","os":"linux","created":"2024-05-01T12:34:56.123456789Z","docker_version":"24.0",
             "container_config":{"Hostname":"x"},"config":{"Env":["A=1"],"Cmd":["sh"],"ExposedPorts":{"80/tcp":{}},
             "Volumes":null,"OnBuild":null},"rootfs":{"type":"layers","diff_ids":["sha256:\(String(repeating: "0", count: 64))"]},
             "history":[{"created":"2024-05-01T12:34:56Z","created_by":"/bin/sh -c #(nop) CMD [\\"sh\\"]","empty_layer":true}]}
            """
        let c = try JSONDecoder().decode(ImageConfiguration.self, from: Data(json.utf8))
        #expect(c.created == "2024-05-01T12:34:56.123456789Z")
        #expect(c.config?.exposedPorts == ["80/tcp"] && c.config?.volumes == nil)
        #expect(c.history?.first?.emptyLayer == true)
        #expect(c.platform == Platform(os: "linux", architecture: "amd64"))
    }
}
