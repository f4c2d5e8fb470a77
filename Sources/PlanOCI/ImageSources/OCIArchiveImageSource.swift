import Foundation

/// An image in an OCI archive (a layout as a tar), `oci-archive:PATH[:NAME]`: extracted into a
/// temporary folder that the result's `cleanUp` removes.
public struct OCIArchiveImageSource: ImageSource, Hashable {
    static let prefix = "oci-archive:"

    public var path: String
    /// The `org.opencontainers.image.ref.name` to choose; nil: the archive's only image.
    public var name: String?

    public init(path: String, name: String? = nil) {
        self.path = path
        self.name = name
    }

    public var pullsIntoStore: Bool { false }
    public var description: String { Self.prefix + path + (name.map { ":" + $0 } ?? "") }

    public func load(_ request: ImageLoadRequest) async throws -> LoadedImage {
        let staging = NSTemporaryDirectory() + "plan-oci-archive-" + UUID().uuidString
        do {
            let layout = try OCIArchive.extract(path, to: URL(fileURLWithPath: staging))
            var image = try LoadedImage(in: layout, name: name, platform: request.platform, label: Self.prefix + path)
            image.cleanUp = { try? FileManager.default.removeItem(atPath: staging) }
            return image
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }
}
