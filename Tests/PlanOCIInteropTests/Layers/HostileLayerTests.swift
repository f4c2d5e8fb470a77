import Foundation
import Testing
@testable import PlanOCI

/// The hostile layer corpus of docs/layers.md, the cases that need other programs: `plan-layer-bench` as
/// nobody (through setpriv), and `find` to count a hundred thousand files. The rest is in PlanOCIUnitTests.
@Suite struct HostileLayerTests {
    /// A target folder beside a canary folder (`LayerTestSupport.Sandbox`, shared with PlanOCIInteropTests).
    typealias Sandbox = LayerTestSupport.Sandbox

    static func file(_ path: String, _ text: String = "evil") -> (TarEntry, [UInt8]) {
        (TarEntry(path: path, kind: .regular, mode: 0o644), Array(text.utf8))
    }

    @Test func devicesAsNobodyAreSkippedWithWarnings() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let layer = try LayerTestSupport.layer([
            (TarEntry(path: "dev/null", kind: .characterDevice, mode: 0o666, deviceMajor: 1, deviceMinor: 3), []),
            (TarEntry(path: "dev/sda", kind: .blockDevice, mode: 0o660, deviceMajor: 8, deviceMinor: 0), []),
            (TarEntry(path: "dev/pipe", kind: .fifo, mode: 0o600), []),
            Self.file("dev/plain", "p"),
        ])
        try LayerTestSupport.write(box.tmp + "/layer.tar", layer)
        #expect(chown(box.target, 65534, 65534) == 0)
        let (status, output, errors) = try LayerTestSupport.run(
            "setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", try LayerTestSupport.benchBinary(), box.tmp + "/layer.tar", box.target],
            check: false)
        try FileManager.default.removeItem(atPath: box.tmp + "/layer.tar")
        #expect(status == 0, "\(output) \(errors)")
        #expect(output.contains("dev/null: device node skipped") && output.contains("dev/sda: device node skipped"), "\(output)")
        #expect(Set(try LayerTestSupport.snapshot(box.target).keys) == ["dev", "dev/pipe", "dev/plain"])
        try box.checkOutsideUntouched()
    }

    @Test func hundredThousandTinyFiles() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let path = box.tmp + "/many.tar.gz"
        let writer = TarWriter(try GzipByteSink(try FileByteSink(path: path)), options: .init(fixedModificationTime: 0))
        for d in 0..<100 {
            try writer.append(TarEntry(path: "d\(d)", kind: .directory, mode: 0o755))
            for f in 0..<1000 { try writer.append(TarEntry(path: "d\(d)/f\(f)", kind: .regular), content: [UInt8(f & 0xff)]) }
        }
        try writer.finish()
        let report = try LayerApplier().apply(layerAt: path, to: box.target)
        try FileManager.default.removeItem(atPath: path)
        #expect(report.entries == 100_100)
        let (_, count, _) = try LayerTestSupport.run("find", [box.target, "-type", "f", "-printf", "."])
        #expect(count.count == 100_000)
        try box.checkOutsideUntouched()
    }
}
