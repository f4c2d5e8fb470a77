import Foundation
import Testing

@testable import PlanOCI

/// A folder replaced whole: the old one or the new one, never half of either.
@Suite struct AtomicFolderTests {
    @Test func aCommitSwapsTheFolderInAndRemovesTheOldOne() throws {
        let parent = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(parent) }
        let destination = parent.appendingPathComponent("out").path
        try FileManager.default.createDirectory(atPath: destination + "/old", withIntermediateDirectories: true)
        let folder = try AtomicFolder(prefix: destination + ".new-")
        try FileManager.default.createDirectory(atPath: folder.path + "/new", withIntermediateDirectories: true)
        try folder.commit(to: destination, settingAsideAt: destination + ".aside")
        #expect(try FileManager.default.contentsOfDirectory(atPath: destination) == ["new"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path) == ["out"])
        // mkdtemp's 0700 became the usual mode.
        var info = stat()
        #expect(lstat(destination, &info) == 0 && info.st_mode & 0o777 != 0o700)
    }

    @Test func aFailedSwapKeepsTheOldFolderAndLeavesNoTemporaryOne() throws {
        let parent = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(parent) }
        let destination = parent.appendingPathComponent("out").path
        try FileManager.default.createDirectory(atPath: destination + "/old", withIntermediateDirectories: true)
        let folder = try AtomicFolder(prefix: destination + ".new-")
        // The old folder cannot be set aside into a folder that does not exist.
        let aside = parent.appendingPathComponent("missing/aside").path
        var failure: AtomicFileError?
        do throws(AtomicFileError) {
            try folder.commit(to: destination, settingAsideAt: aside)
        } catch {
            failure = error
        }
        #expect(failure?.step == .rename(to: aside))
        folder.discard()
        #expect(try FileManager.default.contentsOfDirectory(atPath: destination) == ["old"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path) == ["out"])
    }

    @Test func aFolderInAMissingParentIsATypedError() throws {
        let parent = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(parent) }
        #expect(throws: AtomicFileError.self) { _ = try AtomicFolder(prefix: parent.path + "/missing/out.") }
    }
}
