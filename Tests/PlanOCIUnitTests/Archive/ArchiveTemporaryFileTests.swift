import Foundation
import Testing

@testable import PlanOCI

/// An archive is written through a temporary file beside it; whoever can write that folder must not
/// be able to redirect the write (a root run) into another file by planting a symbolic link.
@Suite struct ArchiveTemporaryFileTests {
    @Test func aPlantedSymlinkAtTheTemporaryNameIsNotFollowed() throws {
        let folder = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(folder) }
        let canary = folder.appendingPathComponent("canary").path
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: canary))
        let destination = folder.appendingPathComponent("image.tar").path
        // The name the writer used to open with O_CREAT|O_TRUNC, following links (DEST.plan-PID.tmp).
        #expect(symlink(canary, destination + ".plan-\(getpid()).tmp") == 0)

        try ArchiveWriter.write([(name: "a.json", bytes: Array("{}".utf8))], to: destination)

        #expect(try String(contentsOfFile: canary, encoding: .utf8) == "precious\n")
        let archive = try ArchiveFiles.read(destination)
        #expect(archive.names == ["a.json"])
        // Only the planted links are left beside it: no temporary file of the writer's.
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(names == ["canary", "image.tar", "image.tar.plan-\(getpid()).tmp"])
    }

    @Test func anExclusiveSinkRefusesAnExistingLink() throws {
        let folder = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(folder) }
        let canary = folder.appendingPathComponent("canary").path
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: canary))
        let planted = folder.appendingPathComponent("planted").path
        #expect(symlink(canary, planted) == 0)
        #expect(throws: LayerError.self) { _ = try FileByteSink(path: planted, exclusive: true) }
        #expect(try String(contentsOfFile: canary, encoding: .utf8) == "precious\n")
    }
}
