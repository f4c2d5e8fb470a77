import Foundation

/// An image in an OCI layout folder, `oci:PATH[:NAME]` (skopeo's spelling): the entry annotated with
/// NAME, or the only one. Read in place.
public struct OCILayoutImageSource: ImageSource, Hashable {
    static let prefix = "oci:"

    public var path: String
    /// The `org.opencontainers.image.ref.name` to choose; nil: the layout's only image.
    public var name: String?

    public init(path: String, name: String? = nil) {
        self.path = path
        self.name = name
    }

    public var pullsIntoStore: Bool { false }
    public var description: String { Self.prefix + path + (name.map { ":" + $0 } ?? "") }

    public func load(_ request: ImageLoadRequest) async throws -> LoadedImage {
        let layout = try OCILayout.open(at: URL(fileURLWithPath: path))
        return try LoadedImage(in: layout, name: name, platform: request.platform, label: Self.prefix + path)
    }
}
