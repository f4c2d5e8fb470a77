import Foundation
import Testing

@testable import PlanOCI

/// plan's one atomic file writer: the destination holds the old bytes or the new, a failure leaves no
/// temporary file, and the descriptor is closed once whatever fails.
@Suite struct AtomicFileTests {
    @Test func aCommitReplacesTheFileAndLeavesNothingBeside() throws {
        let folder = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(folder) }
        let path = folder.appendingPathComponent("file.json").path
        try Data("old".utf8).write(to: URL(fileURLWithPath: path))
        try AtomicFile.write(Data("new".utf8), to: path, durability: .fileAndFolder)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["file.json"])
    }

    /// The case that closed a descriptor twice in `POSIXFile.writeAtomically`: the rename fails after the
    /// file was closed. A second `close` of that number would close whatever the process opened since.
    @Test func aFailedRenameClosesTheDescriptorOnceAndRemovesTheTemporaryFile() throws {
        let folder = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(folder) }
        // A folder that is not empty cannot be replaced by a file: rename(2) fails.
        let destination = folder.appendingPathComponent("taken").path
        try FileManager.default.createDirectory(atPath: destination + "/inside", withIntermediateDirectories: true)
        var file: AtomicFile? = try AtomicFile(beside: destination)
        let temporary = try #require(file?.temporaryPath)
        try file?.write(Data("bytes".utf8))
        var failure: AtomicFileError?
        do throws(AtomicFileError) {
            try file?.commit(to: destination, durability: .file)
        } catch {
            failure = error
        }
        let error = try #require(failure)
        #expect(error.step == .rename(to: destination))
        #expect(error.path == temporary)
        #expect(error.code == EISDIR || error.code == ENOTEMPTY || error.code == EEXIST)
        #expect(file?.fileDescriptor == -1)
        #expect(!FileManager.default.fileExists(atPath: temporary))
        // A descriptor opened now may get the number the writer had: neither discard() nor the
        // writer going away may close it.
        let other = open("/dev/null", O_RDONLY | O_CLOEXEC)
        #expect(other >= 0)
        defer { close(other) }
        file?.discard()
        file = nil
        #expect(fcntl(other, F_GETFD) >= 0, "a descriptor opened after the failure was closed")
        #expect(try FileManager.default.contentsOfDirectory(atPath: destination) == ["inside"])
    }

    @Test func theStoresWriterReportsAFailedRenameAsATypedError() throws {
        let folder = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(folder) }
        let destination = folder.appendingPathComponent("index.json").path
        try FileManager.default.createDirectory(atPath: destination + "/inside", withIntermediateDirectories: true)
        let error = #expect(throws: ContentStoreError.self) {
            try POSIXFile.writeAtomically(Data("{}".utf8), to: destination)
        }
        guard case .io(let operation, _, _) = error else {
            Issue.record("not an I/O error: \(String(describing: error))")
            return
        }
        #expect(operation == "rename to \(destination)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["index.json"])
    }

    @Test func aMissingFolderFailsAtCreateWithNothingWritten() throws {
        let folder = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(folder) }
        let path = folder.appendingPathComponent("missing/file").path
        #expect(throws: AtomicFileError.self) { try AtomicFile.write(Data("x".utf8), to: path) }
        do throws(AtomicFileError) {
            try AtomicFile.write(Data("x".utf8), to: path)
        } catch {
            #expect(error.step == .create)
            #expect(error.code == ENOENT)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test func aPlantedLinkAtTheTemporaryNameIsNotFollowed() throws {
        let folder = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(folder) }
        let canary = folder.appendingPathComponent("canary").path
        try Data("precious".utf8).write(to: URL(fileURLWithPath: canary))
        let temporary = folder.appendingPathComponent("out.tmp").path
        #expect(symlink(canary, temporary) == 0)
        #expect(throws: AtomicFileError.self) { _ = try AtomicFile(temporaryPath: temporary) }
        #expect(try String(contentsOfFile: canary, encoding: .utf8) == "precious")
    }

    @Test func anUncommittedFileIsRemovedWhenDropped() throws {
        let folder = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(folder) }
        let path = folder.appendingPathComponent("file").path
        var file: AtomicFile? = try AtomicFile(beside: path)
        try file?.write(Data("half".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).count == 1)
        file = nil
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
