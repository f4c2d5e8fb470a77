/// How a layer is compressed when it leaves plan (`compression=` of an output, BuildKit's name).
public enum LayerCompression: String, Sendable, Hashable, CaseIterable {
    /// gzip, the default for registries and OCI outputs: every registry and runtime reads it.
    case gzip
    /// Plain tar, as the build cache stores layers.
    case uncompressed
}

/// How the layers plan built are written into an image: their compression and, for reproducible
/// images, the time every file time is clamped to (`SOURCE_DATE_EPOCH`). Base image layers are
/// taken as pulled.
public struct LayerEncoding: Sendable, Hashable {
    public var compression: LayerCompression
    /// The gzip level, 0–9 (`compression-level=`); nil: zlib's default, 6.
    public var level: Int?
    /// Seconds since 1970: file times later than this are set to it, and the image's `created` is it.
    public var sourceDateEpoch: Int64?

    public init(compression: LayerCompression = .gzip, level: Int? = nil, sourceDateEpoch: Int64? = nil) {
        self.compression = compression
        self.level = level
        self.sourceDateEpoch = sourceDateEpoch
    }

    /// Layers as the cache stores them: plain tar, file times as built.
    public static let stored = LayerEncoding(compression: .uncompressed)
}
