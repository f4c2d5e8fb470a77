import Foundation
import Testing

@testable import PlanOCI

/// Archives refuse what would land outside their layout (the archives against skopeo and umoci are in
/// PlanOCIInteropTests).
@Suite struct ArchiveTests {
    @Test func archivesRefuseEntriesOutsideTheirLayout() throws {
        let folder = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(folder) }
        let sink = MemoryByteSink()
        let writer = TarWriter(sink)
        for (name, text) in [("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"), ("index.json", "{\"schemaVersion\":2,\"manifests\":[]}"),
                             ("../escape", "x")] {
            let bytes = Array(text.utf8)
            try writer.append(TarEntry(path: name, kind: .regular, size: Int64(bytes.count)), content: bytes)
        }
        try writer.finish()
        let path = folder.appendingPathComponent("hostile.tar").path
        try Data(sink.bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: ImageError.self) {
            _ = try OCIArchive.extract(path, to: folder.appendingPathComponent("out"))
        }
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("escape").path))
        #expect(throws: ImageError.self) { _ = try DockerArchive.read(path, into: try OCILayout.create(at: folder.appendingPathComponent("d"))) }
    }
}
