import Foundation
@testable import PlanExecutor
import PlanOCI
import Testing

/// `compression=`, `compression-level=` of image outputs and `SOURCE_DATE_EPOCH`: parsed once, refused clearly.
@Suite struct LayerEncodingOptionTests {
    @Test func ociIsGzipByDefaultAndDockerUncompressed() throws {
        #expect(try OutputSpec(parsing: "type=oci,dest=out") == .oci(destination: "out", compression: LayerEncoding(compression: .gzip)))
        #expect(try OutputSpec(parsing: "type=docker,dest=i.tar") == .docker(destination: "i.tar", compression: .stored))
        #expect(try OutputSpec(parsing: "type=oci,dest=out,compression=uncompressed")
                == .oci(destination: "out", compression: .stored))
        #expect(try OutputSpec(parsing: "type=oci,dest=out,compression-level=9")
                == .oci(destination: "out", compression: LayerEncoding(compression: .gzip, level: 9)))
        #expect(try OutputSpec(parsing: "type=docker,dest=i.tar,compression=gzip,compression-level=0")
                == .docker(destination: "i.tar", compression: LayerEncoding(compression: .gzip, level: 0)))
        let oci = try #require(try OutputSpec(parsing: "type=oci,dest=out,compression-level=3").exporter as? OCIExporter)
        #expect(oci.compression == LayerEncoding(compression: .gzip, level: 3))
        let docker = try #require(try OutputSpec(parsing: "type=docker,dest=i.tar").exporter as? DockerArchiveExporter)
        #expect(docker.compression == .stored)
    }

    @Test(arguments: [
        ("type=oci,dest=o,compression=zstd", "--output type=oci,dest=o,compression=zstd: compression=zstd is not one of gzip, uncompressed"),
        ("type=oci,dest=o,compression-level=10", "--output type=oci,dest=o,compression-level=10: compression-level=10 is not a whole number from 0 to 9"),
        ("type=oci,dest=o,compression-level=-1", "--output type=oci,dest=o,compression-level=-1: compression-level=-1 is not a whole number from 0 to 9"),
        ("type=oci,dest=o,compression-level=fast", "--output type=oci,dest=o,compression-level=fast: compression-level=fast is not a whole number from 0 to 9"),
        ("type=docker,dest=o,compression-level=5",
         "--output type=docker,dest=o,compression-level=5: compression-level= is for compression=gzip (the layers are uncompressed)"),
        ("type=oci,dest=o,compression=uncompressed,compression-level=5",
         "--output type=oci,dest=o,compression=uncompressed,compression-level=5: compression-level= is for compression=gzip (the layers are uncompressed)"),
        ("type=local,dest=o,compression=gzip", "--output type=local,dest=o,compression=gzip: unknown key `compression`"),
    ])
    func badCompressionIsAClearParseError(spec: String, message: String) {
        let error = #expect(throws: OutputSpec.ParseError.self) { try OutputSpec(parsing: spec) }
        #expect(error?.description == message)
    }

    @Test func theSharedParserTakesOnlyItsKeys() throws {
        var fields = ["compression": "gzip", "compression-level": "1", "name": "x"]
        let encoding = try OutputSpec.layerCompression(from: &fields, default: .uncompressed, output: "type=image,name=x")
        #expect(encoding == LayerEncoding(compression: .gzip, level: 1))
        #expect(fields == ["name": "x"])
    }

    @Test func theExportAddsTheRunsEpoch() throws {
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("plan-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: store) }
        var input = ExportInput(planName: "p", targetNames: [], targets: [:], artifacts: [], force: false, allowSpecialFiles: false,
                                stagingDirectory: "/tmp", warn: { _ in }, imageStore: try ContentStore(root: store),
                                registry: RegistryClient())
        #expect(input.layerEncoding(LayerEncoding(compression: .gzip, level: 2)) == LayerEncoding(compression: .gzip, level: 2))
        input.sourceDateEpoch = 5
        #expect(input.layerEncoding(.stored) == LayerEncoding(compression: .uncompressed, sourceDateEpoch: 5))
    }

    @Test func sourceDateEpochComesFromTheFlagThenTheEnvironment() throws {
        #expect(try RunOptions.sourceDateEpoch(flag: nil, environment: [:]) == nil)
        #expect(try RunOptions.sourceDateEpoch(flag: nil, environment: ["SOURCE_DATE_EPOCH": ""]) == nil)
        #expect(try RunOptions.sourceDateEpoch(flag: nil, environment: ["SOURCE_DATE_EPOCH": "1700000000"]) == 1_700_000_000)
        #expect(try RunOptions.sourceDateEpoch(flag: "0", environment: ["SOURCE_DATE_EPOCH": "1700000000"]) == 0)
        #expect(try RunOptions.sourceDateEpoch(flag: "12", environment: ["SOURCE_DATE_EPOCH": "junk"]) == 12)
        let fromEnvironment = #expect(throws: RunOptions.SourceDateEpochError.self) {
            try RunOptions.sourceDateEpoch(flag: nil, environment: ["SOURCE_DATE_EPOCH": "-5"])
        }
        #expect(fromEnvironment?.description.hasPrefix("the SOURCE_DATE_EPOCH environment variable is `-5`: expected seconds since 1970") == true)
        for bad in ["", "1.5", "1e9", "+3", "tomorrow", "99999999999999999999"] {
            let error = #expect(throws: RunOptions.SourceDateEpochError.self) { try RunOptions.sourceDateEpoch(flag: bad, environment: [:]) }
            #expect(error?.description.hasPrefix("--source-date-epoch is `\(bad)`") == true)
        }
    }
}
