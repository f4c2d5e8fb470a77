import Foundation
import Testing
@testable import PlanOCI

/// Re-encoding stored layers for image outputs (`LayerConversion`): times clamped to the epoch, the rest
/// unchanged, gzip deterministic — checked with our reader and with GNU tar and gzip.
@Suite struct LayerConversionTests {
    static let epoch: Int64 = 1_700_000_000
    /// `tar --full-time` in UTC prints times like this.
    static let epochText = "2023-11-14 22:13:20"
    static let long120 = "dir/" + String(repeating: "a", count: 60) + "/" + String(repeating: "b", count: 55)
    static let long300 = "dir/" + (0..<6).map { _ in String(repeating: "c", count: 49) }.joined(separator: "/") + "/end.txt"

    /// Entries before, at and after the epoch, with what needs PAX (long names, sub-seconds, xattrs,
    /// big ids), hard and symbolic links.
    static func entries() -> [(TarEntry, [UInt8])] {
        let before = epoch - 86_400
        let after = epoch + 86_400 * 365
        return [
            (TarEntry(path: "dir", kind: .directory, mode: 0o755, modificationTime: after), []),
            (TarEntry(path: "dir/old.txt", kind: .regular, mode: 0o640, uid: 1000, gid: 1000, userName: "u", groupName: "g",
                      modificationTime: before), Array("old\n".utf8)),
            (TarEntry(path: "dir/new.txt", kind: .regular, mode: 0o4755, modificationTime: after, modificationNanoseconds: 250_000_000),
             Array("new\n".utf8)),
            (TarEntry(path: "dir/exact", kind: .regular, mode: 0o600, modificationTime: epoch, modificationNanoseconds: 1), Array("x".utf8)),
            (TarEntry(path: "dir/subsecond-before", kind: .regular, mode: 0o600, modificationTime: before, modificationNanoseconds: 5),
             Array("y".utf8)),
            (TarEntry(path: "dir/hard", kind: .hardLink, mode: 0o644, modificationTime: after, linkTarget: "dir/new.txt"), []),
            (TarEntry(path: "dir/soft", kind: .symlink, mode: 0o777, modificationTime: after, linkTarget: Self.long300), []),
            (TarEntry(path: Self.long120, kind: .regular, mode: 0o644, modificationTime: after), Array("long 120\n".utf8)),
            (TarEntry(path: Self.long300, kind: .regular, mode: 0o644, uid: 3_000_000_000, modificationTime: after),
             Array("long 300\n".utf8)),
            (TarEntry(path: "dir/caps", kind: .regular, mode: 0o755, modificationTime: after,
                      extendedAttributes: ["security.capability": [1, 0, 0, 2], "user.note": Array("é".utf8)]), Array("c".utf8)),
            (TarEntry(path: "dir/null", kind: .characterDevice, mode: 0o666, modificationTime: after, deviceMajor: 1, deviceMinor: 3), []),
            (TarEntry(path: "dir/.wh.gone", kind: .regular, mode: 0o644, modificationTime: after), []),
        ]
    }

    static func convert(_ layer: [UInt8], _ encoding: LayerEncoding) throws -> (bytes: [UInt8], diffID: Digest) {
        let sink = MemoryByteSink()
        let diffID = try LayerConversion.convert(try LayerSource.memory(layer), to: sink, encoding: encoding)
        return (sink.bytes, diffID)
    }

    /// Every time `tar -tv --full-time` prints for `archive` (TZ=UTC), as text.
    static func gnuTarTimes(_ archive: String) throws -> [String] {
        let (status, listing, errors) = try LayerTestSupport.run("env", ["TZ=UTC", "tar", "--numeric-owner", "--full-time", "-tvf", archive],
                                                                 check: false)
        #expect(status == 0, "\(errors)")
        let pattern = try NSRegularExpression(pattern: "\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}(\\.\\d+)?")
        return pattern.matches(in: listing, range: NSRange(listing.startIndex..., in: listing)).compactMap {
            Range($0.range, in: listing).map { String(listing[$0]) }
        }
    }

    @Test func timesAfterTheEpochAreClampedAndNothingElseChanges() throws {
        let source = try LayerTestSupport.layer(Self.entries())
        let converted = try Self.convert(source, LayerEncoding(compression: .gzip, sourceDateEpoch: Self.epoch))
        #expect(converted.bytes.starts(with: [0x1F, 0x8B]))
        let original = try LayerTestSupport.readAll(source)
        let back = try LayerTestSupport.readAll(converted.bytes)
        #expect(back.count == original.count)
        for ((got, gotData), (want, wantData)) in zip(back, original) {
            var expected = want
            if want.modificationTime > Self.epoch || (want.modificationTime == Self.epoch && want.modificationNanoseconds > 0) {
                expected.modificationTime = Self.epoch
                expected.modificationNanoseconds = 0
            }
            #expect(got == expected, "\(want.path)")
            #expect(gotData == wantData, "\(want.path)")
            #expect(got.modificationTime < Self.epoch || (got.modificationTime == Self.epoch && got.modificationNanoseconds == 0))
        }
        // Times before the epoch, sub-seconds included, stay as they were.
        #expect(back.first { $0.0.path == "dir/subsecond-before" }?.0.modificationNanoseconds == 5)

        // GNU tar and gzip agree: the gzip stream is valid, holds the tar the diff ID names, and every time is at most the epoch.
        let tmp = try LayerTestSupport.tempDirectory()
        defer { LayerTestSupport.remove(tmp) }
        try LayerTestSupport.write(tmp + "/layer.tar.gz", converted.bytes)
        let (testStatus, _, testErrors) = try LayerTestSupport.run("gzip", ["-t", tmp + "/layer.tar.gz"], check: false)
        #expect(testStatus == 0, "\(testErrors)")
        try LayerTestSupport.run("sh", ["-c", "gzip -dc \"$0\" > \"$1\"", tmp + "/layer.tar.gz", tmp + "/layer.tar"])
        #expect(Digest.sha256(of: Data(try LayerTestSupport.read(tmp + "/layer.tar"))) == converted.diffID)
        let times = try Self.gnuTarTimes(tmp + "/layer.tar")
        #expect(times.count == original.count, "\(times)")
        #expect(times.allSatisfy { $0 <= Self.epochText }, "\(times)")
        #expect(times.contains(Self.epochText) && times.contains { $0 < Self.epochText })
        let (_, listing, _) = try LayerTestSupport.run("tar", ["--numeric-owner", "-tvf", tmp + "/layer.tar"])
        #expect(listing.contains("dir/hard link to dir/new.txt"), "\(listing)")
        #expect(listing.contains("-rwsr-xr-x") && listing.contains(Self.long300), "\(listing)")
        #expect(listing.contains("3000000000/0"), "\(listing)")
    }

    @Test func conversionIsDeterministicAndTheLevelIsTheOnlyKnob() throws {
        let source = try LayerTestSupport.layer(Self.entries())
        let encoding = LayerEncoding(compression: .gzip, level: 9, sourceDateEpoch: Self.epoch)
        let first = try Self.convert(source, encoding)
        let second = try Self.convert(source, encoding)
        #expect(first.bytes == second.bytes)
        #expect(first.diffID == second.diffID)
        // The gzip header: deflate, no flags (no name, no comment), mtime 0, extra flags of level 9, OS Unix.
        #expect(Array(first.bytes.prefix(10)) == [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 2, 3])
        // Another level: other bytes, the same tar inside.
        let fast = try Self.convert(source, LayerEncoding(compression: .gzip, level: 1, sourceDateEpoch: Self.epoch))
        #expect(fast.bytes != first.bytes && fast.diffID == first.diffID)
        // zlib's default level is 6: nil and 6 give the same bytes.
        let defaultLevel = try Self.convert(source, LayerEncoding(compression: .gzip, sourceDateEpoch: Self.epoch))
        let six = try Self.convert(source, LayerEncoding(compression: .gzip, level: 6, sourceDateEpoch: Self.epoch))
        #expect(defaultLevel.bytes == six.bytes)
        #expect(LayerConversion.name(LayerEncoding(compression: .gzip)) == LayerConversion.name(LayerEncoding(compression: .gzip, level: 6)))
        // Plain tar with the epoch: the diff ID is the blob's digest, and equals the tar inside the gzip one.
        let plain = try Self.convert(source, LayerEncoding(compression: .uncompressed, sourceDateEpoch: Self.epoch))
        #expect(Digest.sha256(of: Data(plain.bytes)) == plain.diffID && plain.diffID == first.diffID)
    }

    @Test func aLayerOurWriterWroteRoundTripsByteForByte() throws {
        // Times all before the epoch: nothing to clamp, so the plain conversion is the stored layer itself.
        let entries = Self.entries().map { entry, data in
            var entry = entry
            entry.modificationTime = min(entry.modificationTime, Self.epoch - 1)
            return (entry, data)
        }
        let source = try LayerTestSupport.layer(entries)
        let plain = try Self.convert(source, LayerEncoding(compression: .uncompressed, sourceDateEpoch: Self.epoch))
        #expect(plain.bytes == source)
        #expect(LayerConversion.isIdentity(.stored))
        #expect(!LayerConversion.isIdentity(LayerEncoding(compression: .uncompressed, sourceDateEpoch: 0)))
        #expect(!LayerConversion.isIdentity(LayerEncoding(compression: .gzip)))
    }

    /// GNU tar's POSIX format writes `atime` and `ctime` PAX records and sub-second times: after
    /// conversion no time is later than the epoch, and access and change times are gone.
    @Test func gnuTarPaxTimesAreClampedOrDropped() throws {
        let tmp = try LayerTestSupport.tempDirectory()
        defer { LayerTestSupport.remove(tmp) }
        try LayerTestSupport.run("sh", ["-c", """
            set -e
            mkdir -p "$0/src/d"
            echo a > "$0/src/d/a"; ln "$0/src/d/a" "$0/src/d/hard"; ln -s a "$0/src/d/soft"
            echo b > "$0/src/d/\(String(repeating: "n", count: 150))"
            touch -d @1800000000.5 "$0/src/d/a"; touch -h -d @1600000000 "$0/src/d/soft"
            tar --format=posix -C "$0/src" -cf "$0/gnu.tar" d
            """, tmp])
        let raw = try LayerTestSupport.read(tmp + "/gnu.tar")
        #expect(String(decoding: raw, as: UTF8.self).contains("atime="), "GNU tar wrote atime records")
        let converted = try Self.convert(raw, LayerEncoding(compression: .uncompressed, sourceDateEpoch: Self.epoch))
        let text = String(decoding: converted.bytes, as: UTF8.self)
        #expect(!text.contains("atime=") && !text.contains("ctime="))
        try LayerTestSupport.write(tmp + "/converted.tar", converted.bytes)
        let times = try Self.gnuTarTimes(tmp + "/converted.tar")
        #expect(times.count == 5 && times.allSatisfy { $0 <= Self.epochText }, "\(times)")
        #expect(times.contains("2020-09-13 12:26:40"), "a time before the epoch stays: \(times)")
        let (_, listing, _) = try LayerTestSupport.run("tar", ["-tvf", tmp + "/converted.tar"])
        #expect(listing.contains(" link to d/") && listing.contains("d/soft -> a"), "\(listing)")
        #expect(listing.contains(String(repeating: "n", count: 150)), "\(listing)")
    }

    @Test func aConversionIntoAStoreGivesTheBlobsDescriptor() throws {
        let tmp = try LayerTestSupport.tempDirectory()
        defer { LayerTestSupport.remove(tmp) }
        let store = try ContentStore(root: URL(fileURLWithPath: tmp + "/store"))
        try LayerTestSupport.write(tmp + "/layer.tar", try LayerTestSupport.layer(Self.entries()))
        let result = try LayerConversion.convert(fileAt: tmp + "/layer.tar", encoding: LayerEncoding(compression: .gzip), into: store)
        #expect(result.descriptor.mediaType == .ociLayerGzip)
        #expect(result.descriptor.mediaType.rawValue == "application/vnd.oci.image.layer.v1.tar+gzip")
        #expect(store.size(of: result.descriptor.digest) == result.descriptor.size)
        let bytes = try store.data(for: result.descriptor.digest, verify: true)
        #expect(try LayerTestSupport.readAll([UInt8](bytes)).count == Self.entries().count)
        let plain = try LayerConversion.convert(fileAt: tmp + "/layer.tar", encoding: LayerEncoding(compression: .uncompressed, sourceDateEpoch: 0),
                                                into: store)
        #expect(plain.descriptor.mediaType == .ociLayer && plain.descriptor.digest == plain.diffID)
        let clamped = try LayerTestSupport.readAll([UInt8](try store.data(for: plain.descriptor.digest, verify: true)))
        #expect(clamped.allSatisfy { $0.0.modificationTime == 0 && $0.0.modificationNanoseconds == 0 })
    }
}
