import Foundation
import Testing
@testable import PlanOCI

/// Our tar writer against GNU tar, and GNU tar's formats against our reader.
@Suite struct TarRoundTripTests {
    static let long120 = "dir/" + String(repeating: "a", count: 60) + "/" + String(repeating: "b", count: 55)
    static let long300 = "dir/" + (0..<6).map { _ in String(repeating: "c", count: 49) }.joined(separator: "/") + "/end.txt"
    static let unicode = "dir/naïve-日本語-файл.txt"

    static func sampleEntries() -> [(TarEntry, [UInt8])] {
        let mtime: Int64 = 1_700_000_000
        return [
            (TarEntry(path: "dir", kind: .directory, mode: 0o755, modificationTime: mtime), []),
            (TarEntry(path: "dir/file.txt", kind: .regular, mode: 0o644, uid: 1000, gid: 1000, modificationTime: mtime), Array("hello\n".utf8)),
            (TarEntry(path: "dir/setuid", kind: .regular, mode: 0o4755, modificationTime: mtime), Array("#!/bin/sh\n".utf8)),
            (TarEntry(path: "dir/sticky", kind: .directory, mode: 0o1777, modificationTime: mtime), []),
            (TarEntry(path: "dir/link", kind: .symlink, mode: 0o777, modificationTime: mtime, linkTarget: "file.txt"), []),
            (TarEntry(path: "dir/hard", kind: .hardLink, mode: 0o644, modificationTime: mtime, linkTarget: "dir/file.txt"), []),
            (TarEntry(path: "dir/fifo", kind: .fifo, mode: 0o600, modificationTime: mtime), []),
            (TarEntry(path: "dir/null", kind: .characterDevice, mode: 0o666, modificationTime: mtime, deviceMajor: 1, deviceMinor: 3), []),
            (TarEntry(path: "dir/loop", kind: .blockDevice, mode: 0o660, modificationTime: mtime, deviceMajor: 7, deviceMinor: 0), []),
            (TarEntry(path: Self.long120, kind: .regular, mode: 0o644, modificationTime: mtime), Array("long 120\n".utf8)),
            (TarEntry(path: Self.long300, kind: .regular, mode: 0o644, modificationTime: mtime), Array("long 300\n".utf8)),
            (TarEntry(path: Self.unicode, kind: .regular, mode: 0o644, modificationTime: mtime), Array("unicode\n".utf8)),
            (TarEntry(path: "dir/bigid", kind: .regular, mode: 0o644, uid: 3_000_000_000, gid: 2_500_000, modificationTime: mtime), Array("big ids\n".utf8)),
            (TarEntry(path: "dir/longlink", kind: .symlink, mode: 0o777, modificationTime: mtime, linkTarget: Self.long300), []),
            (TarEntry(path: "dir/nanos", kind: .regular, mode: 0o600, modificationTime: mtime, modificationNanoseconds: 500_000_000), Array("t\n".utf8)),
        ]
    }

    @Test func ourWriterIsReadByGnuTar() throws {
        let tmp = try LayerTestSupport.tempDirectory()
        defer { LayerTestSupport.remove(tmp) }
        let bytes = try LayerTestSupport.layer(Self.sampleEntries(), gzip: true)
        try LayerTestSupport.write(tmp + "/layer.tar.gz", bytes)
        let (_, listing, _) = try LayerTestSupport.run("tar", ["--numeric-owner", "-tvzf", tmp + "/layer.tar.gz"])
        for (entry, _) in Self.sampleEntries() {
            #expect(listing.contains(entry.path), "tar -tv lacks \(entry.path)")
        }
        #expect(listing.contains("3000000000/2500000"), "big uid/gid")
        #expect(listing.contains("-rwsr-xr-x"))
        #expect(listing.contains("drwxrwxrwt"))
        #expect(listing.contains("dir/link -> file.txt"))
        #expect(listing.contains("dir/hard link to dir/file.txt"))
        #expect(listing.contains("crw-rw-rw-") && listing.contains("1,3"))
        try FileManager.default.createDirectory(atPath: tmp + "/x", withIntermediateDirectories: true)
        try LayerTestSupport.run("tar", ["-xzf", tmp + "/layer.tar.gz", "-C", tmp + "/x", "--numeric-owner"])
        #expect(try LayerTestSupport.read(tmp + "/x/" + Self.long300) == Array("long 300\n".utf8))
        #expect(try LayerTestSupport.read(tmp + "/x/" + Self.unicode) == Array("unicode\n".utf8))
        #expect(LayerTestSupport.inode(tmp + "/x/dir/hard")?.0 == LayerTestSupport.inode(tmp + "/x/dir/file.txt")?.0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: tmp + "/x/dir/longlink") == Self.long300)
    }

    @Test func ourWriterIsDeterministic() throws {
        let a = try LayerTestSupport.layer(Self.sampleEntries(), gzip: true)
        let b = try LayerTestSupport.layer(Self.sampleEntries(), gzip: true)
        #expect(a == b)
    }

    @Test func ourReaderReadsOurWriter() throws {
        let back = try LayerTestSupport.readAll(try LayerTestSupport.layer(Self.sampleEntries()))
        let expected = Self.sampleEntries()
        #expect(back.count == expected.count)
        for ((got, gotData), (want, wantData)) in zip(back, expected) {
            var want = want
            // Directory names come back with the trailing slash the writer adds.
            if want.kind == .directory { want.path += "/" }
            if want.kind == .regular { want.size = Int64(wantData.count) }
            #expect(got == want)
            #expect(gotData == wantData)
        }
    }

    @Test(arguments: ["pax", "gnu", "ustar"])
    func gnuTarFormatsAreReadByUs(format: String) throws {
        let tmp = try LayerTestSupport.tempDirectory()
        defer { LayerTestSupport.remove(tmp) }
        let src = tmp + "/src"
        // Build the tree with GNU tar from our writer's archive, then let tar write it in `format`.
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        var entries = Self.sampleEntries()
        if format == "ustar" {
            // ustar cannot hold names over 255 bytes, non-ASCII names or ids over 2^21.
            entries.removeAll { [Self.long300, Self.unicode, "dir/bigid", "dir/longlink"].contains($0.0.path) }
        }
        try LayerTestSupport.write(tmp + "/in.tar", try LayerTestSupport.layer(entries))
        try LayerTestSupport.run("tar", ["-xf", tmp + "/in.tar", "-C", src, "--numeric-owner"])
        try LayerTestSupport.run("tar", ["-c", "--format=\(format)", "--sort=name", "--numeric-owner", "-f", tmp + "/out.tar", "-C", src, "dir"])
        let back = try LayerTestSupport.readAll(try LayerTestSupport.read(tmp + "/out.tar"))
        let byPath = Dictionary(back.map { ($0.0.path.hasSuffix("/") ? String($0.0.path.dropLast()) : $0.0.path, $0) }, uniquingKeysWith: { a, _ in a })
        for (want, data) in entries {
            guard let (got, gotData) = byPath[want.path] else {
                Issue.record("\(format): entry \(want.path) missing; got \(byPath.keys.sorted())")
                continue
            }
            #expect(got.mode == want.mode, "\(format) \(want.path) mode")
            if want.kind != .hardLink {
                #expect(got.uid == want.uid && got.gid == want.gid, "\(format) \(want.path) owner")
            }
            if want.kind != .directory {
                // Directories' mtimes change as tar creates the implicit parents of long names.
                #expect(got.modificationTime == want.modificationTime, "\(format) \(want.path) mtime")
            }
            if want.kind == .hardLink {
                // tar may store either name of a hard-linked pair as the file.
                #expect(got.kind == .hardLink || got.kind == .regular)
            } else {
                #expect(got.kind == want.kind, "\(format) \(want.path) kind")
                #expect(gotData == data, "\(format) \(want.path) content")
            }
            if want.kind == .symlink { #expect(got.linkTarget == want.linkTarget) }
            if want.kind == .characterDevice || want.kind == .blockDevice {
                #expect(got.deviceMajor == want.deviceMajor && got.deviceMinor == want.deviceMinor)
            }
        }
    }
}
