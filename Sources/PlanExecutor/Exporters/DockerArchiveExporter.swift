import Foundation
import PlanCompiler
import PlanOCI
import PlanValues

/// `type=docker`: the target's image as a `docker load` archive, tagged `PLAN/TARGET:latest`. Layers are
/// uncompressed unless `compression=gzip`.
public struct DockerArchiveExporter: HostOutput {
    public var destination: String
    /// How plan's layers are compressed (`compression=`, `compression-level=`); the run adds its epoch.
    public var compression: LayerEncoding

    public init(destination: String, compression: LayerEncoding = .stored) {
        self.destination = destination
        self.compression = compression
    }

    public var typeName: String { "docker" }
    public var needsOneTarget: Bool { true }
    public var writesArchive: Bool { true }
    public var merges: Bool? { nil }

    /// `docker load` takes one image per name: one platform.
    public func check(platforms: [Platform]) throws {
        guard platforms.count > 1 else { return }
        throw OutputError(destination: destination, reason: "type=docker holds one platform (`docker load` takes one image), but the run "
            + "builds \(platforms.count) (\(platforms.map { AutomaticArguments.buildKitSpelling($0).description }.joined(separator: ", "))); "
            + "choose one with --platform, or write an image index with type=oci. Nothing was built")
    }

    public func export(_ input: ExportInput) async throws {
        try recheck(input)
        guard let target = try input.singleTarget(for: "an image output") else { return }
        try makeParentFolder()
        try target.image.withLayout(stagingIn: input.stagingDirectory, encoding: input.layerEncoding(compression)) { layout, manifest in
            try DockerArchive.write(manifest: manifest, from: layout, repoTags: ["\(input.planName)/\(target.name):latest"],
                                    to: destination, keepCompressed: compression.compression == .gzip)
        }
    }
}
