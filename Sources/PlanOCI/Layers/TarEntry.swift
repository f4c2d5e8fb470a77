/// The kind of filesystem object a tar entry stands for.
public enum TarEntryKind: Sendable, Equatable, Hashable {
    case regular
    case directory
    case symlink
    case hardLink
    case characterDevice
    case blockDevice
    case fifo

    /// The ustar type flag byte for this kind.
    public var typeFlag: UInt8 {
        switch self {
        case .regular: return UInt8(ascii: "0")
        case .hardLink: return UInt8(ascii: "1")
        case .symlink: return UInt8(ascii: "2")
        case .characterDevice: return UInt8(ascii: "3")
        case .blockDevice: return UInt8(ascii: "4")
        case .directory: return UInt8(ascii: "5")
        case .fifo: return UInt8(ascii: "6")
        }
    }
}

/// One member of a tar archive, with every extended (PAX, GNU) header already folded in.
public struct TarEntry: Sendable, Equatable {
    /// The member's path as stored (no normalisation; `./a`, `/a` and `a` stay distinct here).
    public var path: String
    public var kind: TarEntryKind
    /// Permission bits including setuid, setgid and sticky (the low 12 bits).
    public var mode: UInt32
    public var uid: Int64
    public var gid: Int64
    public var userName: String
    public var groupName: String
    /// Modification time, seconds since the epoch.
    public var modificationTime: Int64
    /// Sub-second part of the modification time (only PAX headers carry it).
    public var modificationNanoseconds: UInt32
    /// Content size in bytes; zero for everything but regular files.
    public var size: Int64
    /// Target of a symbolic link, or the path of the member a hard link points at.
    public var linkTarget: String
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    /// Extended attributes from PAX `SCHILY.xattr.` records.
    public var extendedAttributes: [String: [UInt8]]

    /// Creates an entry; only `path` and `kind` are required.
    public init(
        path: String, kind: TarEntryKind, mode: UInt32 = 0o644, uid: Int64 = 0, gid: Int64 = 0,
        userName: String = "", groupName: String = "", modificationTime: Int64 = 0,
        modificationNanoseconds: UInt32 = 0, size: Int64 = 0, linkTarget: String = "",
        deviceMajor: UInt32 = 0, deviceMinor: UInt32 = 0, extendedAttributes: [String: [UInt8]] = [:]
    ) {
        self.path = path
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.userName = userName
        self.groupName = groupName
        self.modificationTime = modificationTime
        self.modificationNanoseconds = modificationNanoseconds
        self.size = size
        self.linkTarget = linkTarget
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.extendedAttributes = extendedAttributes
    }
}
