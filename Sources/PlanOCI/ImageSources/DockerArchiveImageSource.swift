import Foundation

/// An image in a `docker save` archive, `docker-archive:PATH[:NAME:TAG]` (skopeo's spelling): the image
/// the archive tags NAME:TAG, or its only one. Read into a temporary layout that the result's
/// `cleanUp` removes.
public struct DockerArchiveImageSource: ImageSource, Hashable {
    static let prefix = "docker-archive:"

    public var path: String
    /// The docker reference the archive tags the image with (`busybox:1`); nil: the only image.
    public var tag: String?

    public init(path: String, tag: String? = nil) {
        self.path = path
        self.tag = tag
    }

    /// Reads `docker-archive:PATH[:NAME:TAG]`.
    init(parsing text: String) throws(ImageSourceError) {
        let (path, reference) = Self.split(text.dropFirst(Self.prefix.count))
        guard !path.isEmpty else { throw .noPath(text) }
        if let reference, reference.isEmpty || reference.hasPrefix("@") {
            throw .notADockerArchiveReference(text)
        }
        self.init(path: path, tag: reference)
    }

    public var pullsIntoStore: Bool { false }
    public var description: String { Self.prefix + path + (tag.map { ":" + $0 } ?? "") }

    public func load(_ request: ImageLoadRequest) async throws -> LoadedImage {
        let staging = NSTemporaryDirectory() + "plan-docker-archive-" + UUID().uuidString
        do {
            let layout = try OCILayout.create(at: URL(fileURLWithPath: staging))
            let descriptor = try DockerArchive.read(path, tag: tag, into: layout)
            try layout.add(descriptor, name: nil)
            var image = try LoadedImage(in: layout, name: nil, platform: request.platform, label: Self.prefix + path)
            image.cleanUp = { try? FileManager.default.removeItem(atPath: staging) }
            return image
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }

    /// `PATH[:NAME:TAG]`, as skopeo spells it: the reference after the path is a docker reference
    /// (`busybox:1`, `127.0.0.1:5555/team/app:2`), so it may hold colons and slashes. The path ends at
    /// the first colon, as in skopeo, unless a longer prefix names an existing file (a path holding a colon).
    static func split(_ rest: Substring) -> (path: String, reference: String?) {
        func isFile(_ path: some StringProtocol) -> Bool {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: String(path), isDirectory: &isDirectory) && !isDirectory.boolValue
        }
        if isFile(rest) { return (String(rest), nil) }
        let colons = rest.indices.filter { rest[$0] == ":" && $0 != rest.startIndex }
        let colon = colons.last { isFile(rest[..<$0]) } ?? colons.first
        guard let colon else { return (String(rest), nil) }
        return (String(rest[..<colon]), String(rest[rest.index(after: colon)...]))
    }
}
