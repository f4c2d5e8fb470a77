import Foundation
@testable import PlanExecutor
import Testing

/// Outputs are swapped in whole; what a killed writer left next to them is put right by the next one.
@Suite struct AtomicOutputTests {
    /// A pid that is not running: a child that has exited and been reaped.
    static func deadPid() throws -> pid_t {
        let result = try TestSupport.run("/bin/sh", ["-c", "echo $$"])
        return try #require(pid_t(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    @Test func replacesAFolderWhole() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let destination = folder + "/out"
        try FileManager.default.createDirectory(atPath: destination + "/old", withIntermediateDirectories: true)
        try AtomicOutput.replace(destination) { temporary in
            try FileManager.default.createDirectory(atPath: temporary + "/new", withIntermediateDirectories: true)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: destination) == ["new"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["out"])
    }

    @Test func aFailedBuildLeavesTheOldOutput() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let destination = folder + "/out"
        try FileManager.default.createDirectory(atPath: destination + "/old", withIntermediateDirectories: true)
        struct Failure: Error {}
        #expect(throws: Failure.self) {
            try AtomicOutput.replace(destination) { temporary in
                try FileManager.default.createDirectory(atPath: temporary + "/half", withIntermediateDirectories: true)
                throw Failure()
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["out"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: destination) == ["old"])
    }

    @Test func aKilledWritersLeftoversArePutRight() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let dead = try Self.deadPid()
        let fm = FileManager.default
        // Killed between moving the old output aside and moving the new one in: the old one comes back.
        try fm.createDirectory(atPath: folder + "/a.plan-old-\(dead)/kept", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: folder + "/a.plan-\(dead)/half", withIntermediateDirectories: true)
        AtomicOutput.recoverOrphans(of: folder + "/a")
        #expect(try fm.contentsOfDirectory(atPath: folder + "/a") == ["kept"])
        // Killed after the swap: the old one just goes.
        try fm.createDirectory(atPath: folder + "/b/new", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: folder + "/b.plan-old-\(dead)/old", withIntermediateDirectories: true)
        // A live writer's siblings are left alone.
        try fm.createDirectory(atPath: folder + "/b.plan-1", withIntermediateDirectories: true)  // pid 1 is alive
        AtomicOutput.recoverOrphans(of: folder + "/b")
        #expect(try fm.contentsOfDirectory(atPath: folder + "/b") == ["new"])
        #expect(try fm.contentsOfDirectory(atPath: folder).sorted() == ["a", "b", "b.plan-1"])
    }
}
