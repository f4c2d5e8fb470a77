#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a tar writer sends its bytes: a file, a gzip stream, or memory.
public protocol ByteSink: AnyObject {
    /// Writes all of `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Flushes and ends the stream (a gzip trailer, for example). Called once, by `TarWriter.finish`.
    func finish() throws
}

/// Writes to a file with buffered `write(2)` calls.
public final class FileByteSink: ByteSink {
    private let fd: Int32
    private let ownsDescriptor: Bool
    private let path: String
    private var buffer: [UInt8] = []
    private static let bufferSize = 1 << 20

    /// Creates (or truncates) `path` with mode 0644; `exclusive`: creates a new file, failing when
    /// anything (a planted symbolic link, say) is at `path` already.
    public init(path: String, exclusive: Bool = false) throws {
        let flags = exclusive ? O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC : O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else { throw LayerError.system(call: "open", path: path, errno: errno) }
        self.fd = fd
        self.ownsDescriptor = true
        self.path = path
        buffer.reserveCapacity(Self.bufferSize)
    }

    /// Writes to an open descriptor that the caller keeps owning; `path` names it in errors.
    public init(fileDescriptor: Int32, path: String? = nil) {
        self.fd = fileDescriptor
        self.ownsDescriptor = false
        self.path = path ?? "fd \(fileDescriptor)"
        buffer.reserveCapacity(Self.bufferSize)
    }

    deinit { if ownsDescriptor { close(fd) } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count > Self.bufferSize { try flush() }
        if bytes.count >= Self.bufferSize {
            try writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    public func finish() throws { try flush() }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        try PosixIO.writeAll(fd, bytes, path: path)
    }
}

/// Collects the bytes in memory.
public final class MemoryByteSink: ByteSink {
    /// Everything written so far.
    public private(set) var bytes: [UInt8] = []

    /// Creates an empty sink.
    public init() {}

    public func write(_ bytes: UnsafeRawBufferPointer) throws { self.bytes.append(contentsOf: bytes) }
    public func finish() throws {}
}

/// Small POSIX helpers shared by the layer code.
enum PosixIO {
    /// `write(2)` until everything is written, retrying on EINTR.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        guard var base = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = Glibc.write(fd, base, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw LayerError.system(call: "write", path: path, errno: errno)
            }
            left -= n
            base += n
        }
    }
}
