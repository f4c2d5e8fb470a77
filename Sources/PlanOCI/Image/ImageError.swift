/// Errors of reading and writing image JSON documents and layouts.
public enum ImageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A value could not be encoded (type, reason).
    case encoding(String, String)
    /// A document could not be decoded (what, where and why).
    case decoding(String, String)
    /// A manifest or index had a media type this module cannot use.
    case unsupportedMediaType(String)
    /// A document is valid JSON but not a valid image document (what, why).
    case invalid(String, String)
    /// An OCI image layout could not be read or written (path, why).
    case layout(String, String)
    /// No manifest in the index matches the platform (wanted, available).
    case noMatchingPlatform(Platform, [Platform])
    /// A name is not in an OCI layout's index (name, layout path).
    case notFound(String, String)
    /// No image of a docker archive carries the tag (tag, archive path, the tags it has).
    case tagNotInArchive(String, String, [String])

    public var description: String {
        switch self {
        case .encoding(let type, let why): return "cannot encode \(type): \(why)"
        case .decoding(let what, let why): return "cannot decode \(what): \(why)"
        case .unsupportedMediaType(let t): return "unsupported media type \"\(t)\""
        case .invalid(let what, let why): return "invalid \(what): \(why)"
        case .layout(let path, let why): return "OCI image layout \(path): \(why)"
        case .noMatchingPlatform(let want, let have):
            let list = have.isEmpty ? "none" : have.map(\.description).joined(separator: ", ")
            return "no manifest for platform \(want) in the image index (it has: \(list))"
        case .notFound(let name, let path): return "no image named \"\(name)\" in OCI image layout \(path)"
        case .tagNotInArchive(let tag, let path, let tags):
            return "no image tagged \"\(tag)\" in docker archive \(path) (its tags: "
                + (tags.isEmpty ? "none" : tags.joined(separator: ", ")) + ")"
        }
    }
}
