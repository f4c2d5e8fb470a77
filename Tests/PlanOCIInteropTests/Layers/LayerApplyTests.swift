import Foundation
import Testing
@testable import PlanOCI

/// Applying a layer GNU tar wrote gives what `tar -x` of the same file gives.
@Suite struct LayerApplyTests {
    @Test func applyEqualsGnuTarExtract() throws {
        let tmp = try LayerTestSupport.tempDirectory()
        defer { LayerTestSupport.remove(tmp) }
        // A layer written by GNU tar (pax format, gzip) from a tree with every kind of entry.
        let src = tmp + "/src"
        try LayerTestSupport.write(tmp + "/in.tar", try LayerTestSupport.layer(TarRoundTripTests.sampleEntries()))
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        try LayerTestSupport.run("tar", ["-xf", tmp + "/in.tar", "-C", src, "--numeric-owner"])
        try LayerTestSupport.run("tar", ["-czf", tmp + "/layer.tar.gz", "--format=pax", "--sort=name", "--numeric-owner", "-C", src, "."])
        let ours = tmp + "/ours", theirs = tmp + "/theirs"
        for dir in [ours, theirs] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let report = try LayerApplier().apply(layerAt: tmp + "/layer.tar.gz", to: ours)
        try LayerTestSupport.run("tar", ["-xzf", tmp + "/layer.tar.gz", "-C", theirs, "--numeric-owner", "--same-permissions"])
        let differences = LayerTestSupport.differences(try LayerTestSupport.snapshot(ours, directoryTimes: true),
                                                       try LayerTestSupport.snapshot(theirs, directoryTimes: true))
        #expect(differences.isEmpty, "\(differences)")
        #expect(report.warnings.isEmpty == (geteuid() == 0))
        #expect(LayerTestSupport.inode(ours + "/dir/hard")?.0 == LayerTestSupport.inode(ours + "/dir/file.txt")?.0)
    }
}
