import Foundation
import PlanOCI

/// `type=oci`: the target's image as an OCI layout folder, or as an OCI archive when the destination
/// ends in `.tar`; tagged `latest` in a layout, `PLAN/TARGET:latest` in an archive. plan's layers are
/// gzip-compressed unless `compression=uncompressed`. A run for several platforms writes an OCI image
/// index there, one manifest per platform, each descriptor with its `platform`.
public struct OCIExporter: HostOutput {
    public var destination: String
    /// How plan's layers are compressed (`compression=`, `compression-level=`); the run adds its epoch.
    public var compression: LayerEncoding

    public init(destination: String, compression: LayerEncoding = OutputSpec.defaultOCICompression) {
        self.destination = destination
        self.compression = compression
    }

    public var typeName: String { "oci" }
    public var needsOneTarget: Bool { true }
    public var writesArchive: Bool { destination.hasSuffix(".tar") }
    public var merges: Bool? { nil }

    /// plan's image layouts hold one image and nothing but the layout's files; a layout of several
    /// (skopeo's, say) is not replaced.
    public func isOwnFolder(_ path: String) -> Bool {
        let entries = Set((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
        guard entries.contains("oci-layout"), entries.isSubset(of: ["oci-layout", "index.json", "blobs", "ingest"]) else { return false }
        guard let data = FileManager.default.contents(atPath: path + "/index.json"),
              let index = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return false }
        return ((index["manifests"] as? [Any]) ?? []).count <= 1
    }

    public func export(_ input: ExportInput) async throws {
        try recheck(input)
        guard let target = try input.singleTarget(for: "an image output") else { return }
        if writesArchive { try makeParentFolder() }
        if input.isMultiPlatform {
            guard let images = input.images(of: target.name) else { return }
            try BuiltImage.withIndexLayout(images, stagingIn: input.stagingDirectory, encoding: input.layerEncoding(compression)) { layout, index, _ in
                try write(index, from: layout, name: "\(input.planName)/\(target.name):latest")
                // buildx's metadata of a multi-platform image: the index, without a config digest of its own.
                input.emit(.imageExported(ExportedImage(target: target.name, names: [], manifest: index, configDigest: nil)))
            }
            return
        }
        try target.image.withLayout(stagingIn: input.stagingDirectory, encoding: input.layerEncoding(compression)) { layout, manifest in
            try write(manifest, from: layout, name: "\(input.planName)/\(target.name):latest")
            let config = try JSONDecoder().decode(Manifest.self, from: layout.blob(manifest.digest)).config.digest
            input.emit(.imageExported(ExportedImage(target: target.name, names: [], manifest: manifest, configDigest: config)))
        }
    }

    /// Writes the image (a manifest or an index) staged in `layout` at the destination: an archive naming it
    /// `archiveName`, or a layout naming it `latest`.
    private func write(_ descriptor: Descriptor, from layout: OCILayout, name archiveName: String) throws {
        if writesArchive {
            try OCIArchive.write(descriptor, name: archiveName, from: layout, to: destination)
        } else {
            try AtomicOutput.replace(destination) { temporary in
                let output = try OCILayout.create(at: URL(fileURLWithPath: temporary))
                try output.copyImage(descriptor, from: layout, name: "latest")
            }
        }
    }
}
