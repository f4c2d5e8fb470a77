import Foundation
import PlanOCI
import PlanTestKit
import Testing

@Suite("push smoke") struct RegistryPushSmokeTests {
    @Test("push a layout image, then again") func smoke() async throws {
        let work = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(work) }
        let layout = try OCILayout.create(at: work.appendingPathComponent("layout"))
        let layer = try OCITestKit.makeLayer(["a.txt": "hello \(UUID())"], in: work, sink: layout)
        let written = try ImageWriter(platform: .host, config: OCITestKit.sampleConfig(), layers: [layer]).write(to: layout)
        let image = try PushableImage(layout: layout, root: written.manifestDescriptor)
        var configuration = RegistryClient.Configuration()
        configuration.uploadChunkSize = 1 << 16
        let client = RegistryClient(configuration: configuration)
        let ref = try ImageReference(parsing: "\(OCITestKit.registry)/smoke/push-\(UUID().uuidString.lowercased()):v1")
        let first = try await client.push(image, to: ref)
        #expect(first.uploaded == 2)
        let second = try await client.push(image, to: ref)
        #expect(second.uploaded == 0 && second.present == 2)
        let other = ref.with(tag: "v2")
        let ref2 = try ImageReference(parsing: "\(OCITestKit.registry)/smoke/other-\(UUID().uuidString.lowercased()):v1")
        let third = try await client.push(image, to: ref2)
        #expect(third.mounted == 2)
        _ = other
        let raw = try OCITestKit.run("skopeo", ["inspect", "--tls-verify=false", "--raw", "docker://\(ref)"])
        #expect(Digest.sha256(of: Data(raw.utf8)) == written.manifestDescriptor.digest)
    }
}
