import Foundation
import Testing

@testable import PlanOCI

/// The spelling of image sources (`oci:`, `oci-archive:`, `docker-archive:`, a registry reference) and
/// reading one without a registry.
@Suite struct ImageSourceTests {
    @Test func anOCILayoutWithAndWithoutAName() throws {
        let named = try #require(try ImageSources.parse("oci:some/dir:v1") as? OCILayoutImageSource)
        #expect(named == OCILayoutImageSource(path: "some/dir", name: "v1"))
        let unnamed = try #require(try ImageSources.parse("oci:/abs/dir") as? OCILayoutImageSource)
        #expect(unnamed == OCILayoutImageSource(path: "/abs/dir", name: nil))
        #expect(!unnamed.pullsIntoStore)
        #expect(named.description == "oci:some/dir:v1")
        // A colon before the last slash belongs to the path.
        let colon = try #require(try ImageSources.parse("oci:a:b/dir") as? OCILayoutImageSource)
        #expect(colon == OCILayoutImageSource(path: "a:b/dir", name: nil))
    }

    @Test func anOCIArchive() throws {
        let source = try #require(try ImageSources.parse("oci-archive:image.tar:latest") as? OCIArchiveImageSource)
        #expect(source == OCIArchiveImageSource(path: "image.tar", name: "latest"))
    }

    @Test func aDockerArchiveTakesADockerReferenceAfterItsPath() throws {
        let plain = try #require(try ImageSources.parse("docker-archive:missing-folder/bb.tar") as? DockerArchiveImageSource)
        #expect(plain == DockerArchiveImageSource(path: "missing-folder/bb.tar", tag: nil))
        let tagged = try #require(
            try ImageSources.parse("docker-archive:missing-folder/bb.tar:127.0.0.1:5555/team/app:2") as? DockerArchiveImageSource)
        #expect(tagged == DockerArchiveImageSource(path: "missing-folder/bb.tar", tag: "127.0.0.1:5555/team/app:2"))
        #expect(throws: ImageSourceError.notADockerArchiveReference("docker-archive:bb.tar:@1")) {
            try ImageSources.parse("docker-archive:bb.tar:@1")
        }
    }

    @Test func aRegistryReferenceIsParsedByImageReference() throws {
        let source = try #require(try ImageSources.parse("127.0.0.1:5555/plan-test/busybox:stable") as? RegistryImageSource)
        #expect(source.reference == (try ImageReference(parsing: "127.0.0.1:5555/plan-test/busybox:stable")))
        #expect(source.pullsIntoStore)
        #expect(throws: ImageSourceError.self) { try ImageSources.parse("Not A Reference") }
    }

    @Test func aPrefixWithoutAPathIsRefusedWithTheUsersText() {
        for text in ["oci:", "oci-archive:", "docker-archive:"] {
            #expect(throws: ImageSourceError.noPath(text)) { try ImageSources.parse(text) }
        }
        #expect(ImageSourceError.noPath("oci:").description == "`oci:` names no path")
    }

    @Test func aLayoutIsReadWithoutTheRegistry() async throws {
        let work = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(work) }
        let layout = try OCILayout.create(at: work.appendingPathComponent("layout"))
        let layer = try OCITestKit.makeLayer(["etc/hello": "hello\n"], in: work, sink: layout)
        let written = try ImageWriter(platform: .host, config: OCITestKit.sampleConfig(), layers: [layer]).write(to: layout)
        try layout.add(written.manifestDescriptor, name: "v1")
        let source = try ImageSources.parse("oci:\(work.path)/layout:v1")
        struct NoRegistry: Error {}
        let image = try await source.load(ImageLoadRequest(layers: false) { throw NoRegistry() })
        defer { image.cleanUp() }
        #expect(image.name == "oci:\(work.path)/layout:v1")
        #expect(image.descriptor.digest == written.manifestDescriptor.digest)
        #expect(image.manifest.layers.map(\.digest) == [layer.descriptor.digest])
        #expect(FileManager.default.fileExists(atPath: image.blobPath(layer.descriptor.digest)))
    }
}
