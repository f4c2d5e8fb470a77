import Foundation
import Testing
@testable import PlanOCI

/// Applying layers: against `tar -x` of the same file, whiteouts and opaque directories.
@Suite struct LayerApplyTests {
    @Test func whiteoutsAndOpaqueDirectories() throws {
        let tmp = try LayerTestSupport.tempDirectory()
        defer { LayerTestSupport.remove(tmp) }
        let target = tmp + "/root"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        func file(_ path: String, _ text: String) -> (TarEntry, [UInt8]) {
            (TarEntry(path: path, kind: .regular, mode: 0o644), Array(text.utf8))
        }
        func dir(_ path: String) -> (TarEntry, [UInt8]) { (TarEntry(path: path, kind: .directory, mode: 0o755), []) }
        let lower = try LayerTestSupport.layer([
            dir("a"), file("a/keep", "k"), file("a/gone", "g"), dir("a/sub"), file("a/sub/x", "x"),
            dir("o"), file("o/old1", "1"), dir("o/olddir"), file("o/olddir/deep", "d"), file("top", "t"),
        ])
        try LayerApplier().apply(TarReader(try LayerSource.memory(lower)), to: target)
        // Upper: whiteout a file and a directory; opaque `o` with a new file before and after the marker.
        let upper = try LayerTestSupport.layer([
            file("a/.wh.gone", ""), file("a/.wh.sub", ""),
            dir("o"), file("o/new-before", "b"), file("o/.wh..wh..opq", ""), file("o/new-after", "a"),
            file(".wh.top", ""), file(".wh.never-existed", ""),
        ], gzip: true)
        try LayerApplier().apply(TarReader(try LayerSource.memory(upper)), to: target)
        let tree = try LayerTestSupport.snapshot(target)
        #expect(Set(tree.keys) == ["a", "a/keep", "o", "o/new-before", "o/new-after"])
    }

    @Test func ownershipAndSpecialFilesAsRoot() throws {
        #expect(geteuid() == 0, "this container runs the tests as root; ownership and devices need it")
        let tmp = try LayerTestSupport.tempDirectory()
        defer { LayerTestSupport.remove(tmp) }
        let layer = try LayerTestSupport.layer([
            (TarEntry(path: "owned", kind: .regular, mode: 0o4750, uid: 1234, gid: 5678, modificationTime: 1_000_000), Array("x".utf8)),
            (TarEntry(path: "ln", kind: .symlink, uid: 42, gid: 43, modificationTime: 2_000_000, linkTarget: "/nonexistent"), []),
            (TarEntry(path: "null", kind: .characterDevice, mode: 0o666, deviceMajor: 1, deviceMinor: 3), []),
        ])
        let report = try LayerApplier().apply(TarReader(try LayerSource.memory(layer)), to: tmp)
        #expect(report.warnings.isEmpty)
        var info = stat()
        #expect(lstat(tmp + "/owned", &info) == 0)
        #expect(info.st_uid == 1234 && info.st_gid == 5678 && info.st_mode & 0o7777 == 0o4750 && info.st_mtim.tv_sec == 1_000_000)
        #expect(lstat(tmp + "/ln", &info) == 0)
        #expect(info.st_uid == 42 && info.st_gid == 43 && info.st_mtim.tv_sec == 2_000_000)
        #expect(lstat(tmp + "/null", &info) == 0)
        #expect(info.st_mode & S_IFMT == S_IFCHR)
    }
}
