import Foundation
import Testing
@testable import PlanOCI

/// The hostile layer corpus of docs/layers.md. Each case applies a generated layer to
/// `TMP/target`, next to a canary directory `TMP/canary`, and checks the documented outcome and
/// that nothing outside the target changed: the canary, the rest of TMP, and the real /etc paths
/// a layer names (none of these layers names a real /etc file we could damage: they name
/// `/etc/plan-canary-*`, which must never appear).
@Suite struct HostileLayerTests {
    enum Outcome { case refused, contained }

    /// A target folder beside a canary folder (`LayerTestSupport.Sandbox`, shared with PlanOCIInteropTests).
    typealias Sandbox = LayerTestSupport.Sandbox

    static func file(_ path: String, _ text: String = "evil") -> (TarEntry, [UInt8]) {
        (TarEntry(path: path, kind: .regular, mode: 0o644), Array(text.utf8))
    }
    static func symlink(_ path: String, _ target: String) -> (TarEntry, [UInt8]) {
        (TarEntry(path: path, kind: .symlink, mode: 0o777, linkTarget: target), [])
    }

    /// Applies `bytes`; returns the error if refused.
    static func apply(_ bytes: [UInt8], to target: String) -> Error? {
        do {
            try LayerApplier().apply(TarReader(try LayerSource.memory(bytes)), to: target)
            return nil
        } catch { return error }
    }

    @Test func pathTraversalIsRefused() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let error = Self.apply(try LayerTestSupport.layer([Self.file("../canary/passwd"), Self.file("../../etc/plan-canary-x")]), to: box.target)
        #expect(error as? LayerError == .pathEscapesRoot(entry: "../canary/passwd"))
        try box.checkOutsideUntouched()
    }

    @Test func absoluteNamesAreContained() throws {
        let box = try Sandbox()
        defer { box.remove() }
        #expect(Self.apply(try LayerTestSupport.layer([Self.file("/etc/plan-canary-x", "inside")]), to: box.target) == nil)
        #expect(try LayerTestSupport.read(box.target + "/etc/plan-canary-x") == Array("inside".utf8))
        try box.checkOutsideUntouched()
    }

    @Test func symlinkThenWriteIsContained() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let layer = try LayerTestSupport.layer([
            Self.symlink("rootlink", "/"), Self.file("rootlink/etc/plan-canary-x", "a"),
            Self.symlink("uplink", "../.."), Self.file("uplink/x", "b"),
            Self.symlink("canarylink", "../canary"), Self.file("canarylink/passwd", "c"),
            Self.symlink("abs", "/tmp"), Self.file("abs/etc/plan-canary-x", "d"),
        ])
        #expect(Self.apply(layer, to: box.target) == nil)
        #expect(try LayerTestSupport.read(box.target + "/etc/plan-canary-x") == Array("a".utf8))
        #expect(try LayerTestSupport.read(box.target + "/x") == Array("b".utf8))
        #expect(try LayerTestSupport.read(box.target + "/canary/passwd") == Array("c".utf8))
        #expect(try LayerTestSupport.read(box.target + "/tmp/etc/plan-canary-x") == Array("d".utf8))
        try box.checkOutsideUntouched()
    }

    @Test func hardLinkOutIsRefused() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let out = (TarEntry(path: "pw", kind: .hardLink, linkTarget: "/etc/passwd"), [UInt8]())
        #expect(Self.apply(try LayerTestSupport.layer([out]), to: box.target) as? LayerError
                == .hardLinkTargetMissing(entry: "pw", target: "/etc/passwd"))
        let up = (TarEntry(path: "pw2", kind: .hardLink, linkTarget: "../canary/passwd"), [UInt8]())
        #expect(Self.apply(try LayerTestSupport.layer([up]), to: box.target) as? LayerError == .pathEscapesRoot(entry: "pw2"))
        let through = (TarEntry(path: "pw3", kind: .hardLink, linkTarget: "up/canary/passwd"), [UInt8]())
        #expect(Self.apply(try LayerTestSupport.layer([Self.symlink("up", ".."), through]), to: box.target) as? LayerError
                == .hardLinkTargetMissing(entry: "pw3", target: "up/canary/passwd"))
        var info = stat()
        #expect(lstat(box.canary + "/passwd", &info) == 0 && info.st_nlink == 1)
        try box.checkOutsideUntouched()
    }

    @Test func truncatedGzipIsRefused() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let whole = try LayerTestSupport.layer((0..<50).map { Self.file("f\($0)", String(repeating: "z\($0)", count: 2000)) }, gzip: true)
        // Cut in the middle of the deflate data, and cut only the 8-byte trailer (CRC and length).
        for cut in [whole.count / 2, whole.count - 8] {
            let error = Self.apply(Array(whole[0..<cut]), to: box.target)
            #expect(error as? LayerError == .truncatedGzip || error as? LayerError == .truncated(entry: nil)
                    || { if case .truncated? = error as? LayerError { return true }; return false }(), "cut \(cut): \(String(describing: error))")
        }
        #expect(Self.apply(Array(whole[0..<(whole.count - 8)]), to: box.target) as? LayerError == .truncatedGzip)
        try box.checkOutsideUntouched()
    }

    @Test func headerThatLiesAboutSizeIsRefused() throws {
        let box = try Sandbox()
        defer { box.remove() }
        // Size too large: the header claims 1 MB, the stream holds 4 bytes and the end marker.
        var bigger = try LayerTestSupport.layer([Self.file("liar", "four")])
        Self.setSize(&bigger, 1_000_000)
        #expect(Self.apply(bigger, to: box.target) as? LayerError == .truncated(entry: "liar"))
        // Size too small: the content is read as the next header, whose checksum fails.
        var smaller = try LayerTestSupport.layer([Self.file("liar2", String(repeating: "x", count: 2000)), Self.file("next")])
        Self.setSize(&smaller, 10)
        #expect(Self.apply(smaller, to: box.target) as? LayerError == .badChecksum(offset: 1024))
        try box.checkOutsideUntouched()
    }

    @Test func badChecksumAndBadNumbersAreRefused() throws {
        let box = try Sandbox()
        defer { box.remove() }
        var bad = try LayerTestSupport.layer([Self.file("ok")])
        bad[0] = UInt8(ascii: "X")
        #expect(Self.apply(bad, to: box.target) as? LayerError == .badChecksum(offset: 0))
        var badNumber = try LayerTestSupport.layer([Self.file("num")])
        for i in 124..<135 { badNumber[i] = UInt8(ascii: "9") }
        Self.fixChecksum(&badNumber)
        #expect(Self.apply(badNumber, to: box.target) as? LayerError == .badNumber(field: "size", entry: "num"))
        // A PAX header announcing a path, then the archive ends.
        var paxOnly = try LayerTestSupport.layer([Self.file(String(repeating: "p", count: 300))])
        paxOnly = Array(paxOnly[0..<1024])
        #expect(Self.apply(paxOnly, to: box.target) as? LayerError == .truncated(entry: "PaxHeaders/" + String(repeating: "p", count: 88)))
        try box.checkOutsideUntouched()
    }

    static func setSize(_ bytes: inout [UInt8], _ size: Int) {
        let octal = Array(String(size, radix: 8).utf8)
        let field = [UInt8](repeating: UInt8(ascii: "0"), count: 11 - octal.count) + octal
        for (i, b) in field.enumerated() { bytes[124 + i] = b }
        fixChecksum(&bytes)
    }

    static func fixChecksum(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { TarHeader.putChecksum(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<512])) }
    }
}
