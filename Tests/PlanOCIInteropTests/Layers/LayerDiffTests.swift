import Foundation
import Testing
@testable import PlanOCI

/// Diffing directories and overlayfs upper directories into layers.
@Suite struct LayerDiffTests {
    @Test func diffAppliedOnBaseGivesModified() throws {
        let tmp = try LayerTestSupport.tempDirectory()
        defer { LayerTestSupport.remove(tmp) }
        let base = tmp + "/base", modified = tmp + "/modified", copy = tmp + "/copy"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let fm = FileManager.default
        for dir in ["etc", "usr/lib", "replaced", "var/cache"] { try fm.createDirectory(atPath: base + "/" + dir, withIntermediateDirectories: true) }
        try LayerTestSupport.write(base + "/etc/keep", Array("keep".utf8))
        try LayerTestSupport.write(base + "/etc/change", Array("old".utf8))
        try LayerTestSupport.write(base + "/etc/delete", Array("bye".utf8))
        try LayerTestSupport.write(base + "/replaced/one", Array("1".utf8))
        try LayerTestSupport.write(base + "/replaced/two", Array("2".utf8))
        try LayerTestSupport.write(base + "/var/cache/big", [UInt8](repeating: 7, count: 300_000))
        try fm.createSymbolicLink(atPath: base + "/lib", withDestinationPath: "usr/lib")
        try LayerTestSupport.run("cp", ["-a", base, modified])
        try LayerTestSupport.run("cp", ["-a", base, copy])
        // Changes: modify, delete, add (with a hard link), replace a dir's content, change a mode,
        // turn a directory into a file, retarget a symlink.
        try LayerTestSupport.write(modified + "/etc/change", Array("new content".utf8))
        try fm.removeItem(atPath: modified + "/etc/delete")
        try LayerTestSupport.write(modified + "/etc/added", Array("added".utf8))
        #expect(link(modified + "/etc/added", modified + "/etc/added-link") == 0)
        try fm.removeItem(atPath: modified + "/replaced/one")
        try fm.removeItem(atPath: modified + "/replaced/two")
        try LayerTestSupport.write(modified + "/replaced/three", Array("3".utf8))
        #expect(chmod(modified + "/etc/keep", 0o600) == 0)
        try fm.removeItem(atPath: modified + "/var/cache")
        try LayerTestSupport.write(modified + "/var/cache", Array("now a file".utf8))
        try fm.removeItem(atPath: modified + "/lib")
        try fm.createSymbolicLink(atPath: modified + "/lib", withDestinationPath: "usr/lib64")

        let sink = MemoryByteSink()
        let writer = TarWriter(sink)
        try LayerDiffer().diff(base: base, changed: modified, to: writer)
        try writer.finish()
        let names = try LayerTestSupport.readAll(sink.bytes).map(\.0.path)
        #expect(names.contains("etc/.wh.delete"))
        #expect(names.contains("replaced/.wh..wh..opq"))
        #expect(names.contains("etc/keep"), "a mode change is a change")
        #expect(!names.contains("usr/"), "unchanged directories are not in the layer")
        try LayerApplier().apply(TarReader(try LayerSource.memory(sink.bytes)), to: copy)
        let differences = LayerTestSupport.differences(try LayerTestSupport.snapshot(copy), try LayerTestSupport.snapshot(modified))
        #expect(differences.isEmpty, "\(differences)")
        #expect(LayerTestSupport.inode(copy + "/etc/added")?.0 == LayerTestSupport.inode(copy + "/etc/added-link")?.0)

        // Deterministic: the same diff twice gives the same bytes.
        let again = MemoryByteSink()
        let writer2 = TarWriter(again)
        try LayerDiffer().diff(base: base, changed: modified, to: writer2)
        try writer2.finish()
        #expect(again.bytes == sink.bytes)
    }

    @Test func overlayUpperDirectory() throws {
        #expect(geteuid() == 0, "mknod of a 0/0 device and trusted.* xattrs need root, which these tests run as")
        let tmp = try LayerTestSupport.tempDirectory()
        defer { LayerTestSupport.remove(tmp) }
        let lower = tmp + "/lower", upper = tmp + "/upper"
        let fm = FileManager.default
        for dir in ["lower/etc", "lower/opaque/sub", "upper/etc", "upper/opaque"] {
            try fm.createDirectory(atPath: tmp + "/" + dir, withIntermediateDirectories: true)
        }
        try LayerTestSupport.write(lower + "/etc/gone", Array("g".utf8))
        try LayerTestSupport.write(lower + "/etc/stay", Array("s".utf8))
        try LayerTestSupport.write(lower + "/opaque/old", Array("o".utf8))
        try LayerTestSupport.write(lower + "/opaque/sub/deep", Array("d".utf8))
        // The upper directory as overlayfs leaves it: deletion = 0/0 char device, opaque = xattr.
        try LayerTestSupport.run("mknod", [upper + "/etc/gone", "c", "0", "0"])
        try LayerTestSupport.write(upper + "/etc/new", Array("n".utf8))
        try LayerTestSupport.run("setfattr", ["-n", "trusted.overlay.opaque", "-v", "y", upper + "/opaque"])
        try LayerTestSupport.write(upper + "/opaque/fresh", Array("f".utf8))

        let sink = MemoryByteSink()
        let writer = TarWriter(sink, options: .init(fixedModificationTime: 0))
        try LayerDiffer().overlayUpper(upper, to: writer)
        try writer.finish()
        let names = try LayerTestSupport.readAll(sink.bytes).map(\.0.path)
        #expect(names == ["etc/", "etc/.wh.gone", "etc/new", "opaque/", "opaque/.wh..wh..opq", "opaque/fresh"])
        try LayerApplier().apply(TarReader(try LayerSource.memory(sink.bytes)), to: lower)
        #expect(Set(try LayerTestSupport.snapshot(lower).keys) == ["etc", "etc/stay", "etc/new", "opaque", "opaque/fresh"])
    }
}
