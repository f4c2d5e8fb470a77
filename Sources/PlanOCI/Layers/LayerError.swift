/// Everything that can go wrong while reading, writing, applying or diffing a layer.
///
/// Entry names are carried where an entry is to blame, so a caller can say which member of which
/// layer was refused. No case is ever raised by a trap: hostile input always ends in one of these.
public enum LayerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A header block's checksum does not match its contents.
    case badChecksum(offset: Int64)
    /// A numeric header field (octal or base-256) could not be read, or is out of range.
    case badNumber(field: String, entry: String?)
    /// A PAX extended header or GNU long name record is malformed.
    case badExtendedHeader(String, entry: String?)
    /// A metadata record (PAX, GNU long name) is larger than the reader accepts.
    case extendedHeaderTooLarge(size: Int64)
    /// The archive ended in the middle of a header or of an entry's data.
    case truncated(entry: String?)
    /// The gzip stream is corrupt.
    case corruptGzip(String)
    /// The gzip stream ended before its trailer.
    case truncatedGzip
    /// An entry type this reader does not handle (sparse files, multi-volume, ...).
    case unsupportedEntryType(UInt8, entry: String)
    /// An entry name is empty where a name is needed, or not valid UTF-8, or holds a NUL byte.
    case invalidName(String)
    /// An entry's path (or a hard link's target) would leave the target directory through `..`.
    case pathEscapesRoot(entry: String)
    /// A path component that must be a directory is something else.
    case notADirectory(entry: String)
    /// Too many symbolic links met while resolving an entry's path inside the root.
    case tooManySymlinks(entry: String)
    /// A hard link points at something that does not exist inside the target directory.
    case hardLinkTargetMissing(entry: String, target: String)
    /// A value does not fit into the tar header being written.
    case valueTooLarge(field: String, entry: String)
    /// The number of content bytes given for an entry differs from its declared size.
    case sizeMismatch(entry: String, declared: Int64, actual: Int64)
    /// The writer was used out of order (content outside an entry, an entry after `finish`).
    case writerMisuse(String)
    /// A system call failed.
    case system(call: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case .badChecksum(let offset): return "tar header at offset \(offset) has a bad checksum"
        case .badNumber(let field, let entry): return "bad number in field \(field)\(Self.of(entry))"
        case .badExtendedHeader(let why, let entry): return "bad extended header\(Self.of(entry)): \(why)"
        case .extendedHeaderTooLarge(let size): return "extended header of \(size) bytes is too large"
        case .truncated(let entry): return "archive is truncated\(Self.of(entry))"
        case .corruptGzip(let why): return "gzip stream is corrupt: \(why)"
        case .truncatedGzip: return "gzip stream is truncated"
        case .unsupportedEntryType(let type, let entry):
            return "unsupported entry type '\(Character(Unicode.Scalar(type)))' of \(entry)"
        case .invalidName(let name): return "invalid entry name \(name)"
        case .pathEscapesRoot(let entry): return "\(entry): path leaves the target directory"
        case .notADirectory(let entry): return "\(entry): a parent is not a directory"
        case .tooManySymlinks(let entry): return "\(entry): too many levels of symbolic links"
        case .hardLinkTargetMissing(let entry, let target):
            return "\(entry): hard link target \(target) does not exist in the target directory"
        case .valueTooLarge(let field, let entry): return "\(entry): \(field) does not fit a tar header"
        case .sizeMismatch(let entry, let declared, let actual):
            return "\(entry): declared size \(declared) but \(actual) bytes given"
        case .writerMisuse(let why): return "tar writer misuse: \(why)"
        case .system(let call, let path, let errno): return "\(call)(\(path)) failed: errno \(errno)"
        }
    }

    private static func of(_ entry: String?) -> String { entry.map { " of \($0)" } ?? "" }
}
