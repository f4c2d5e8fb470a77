#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A stream of bytes a tar reader consumes: a file, a gzip stream, or memory.
public protocol ByteSource: AnyObject {
    /// Reads up to `buffer.count` bytes; returns 0 only at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Reads a file descriptor with plain `read(2)`.
public final class FileByteSource: ByteSource {
    private let fd: Int32
    private let ownsDescriptor: Bool
    private let path: String

    /// Opens `path` for reading; the descriptor is closed when the source goes away.
    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LayerError.system(call: "open", path: path, errno: errno) }
        self.fd = fd
        self.ownsDescriptor = true
        self.path = path
    }

    /// Reads from an open descriptor, which the caller keeps owning.
    public init(fileDescriptor: Int32) {
        self.fd = fileDescriptor
        self.ownsDescriptor = false
        self.path = "fd \(fileDescriptor)"
    }

    deinit { if ownsDescriptor { close(fd) } }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = Glibc.read(fd, base, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw LayerError.system(call: "read", path: path, errno: errno)
        }
    }
}

/// Serves bytes from memory.
public final class MemoryByteSource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0

    /// Serves `bytes` from the start.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - offset)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { all in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: all[offset..<(offset + n)]))
        }
        offset += n
        return n
    }
}

/// Opening layer files whatever their compression.
public enum LayerSource {
    /// Opens a layer file, decompressing it when it starts with the gzip magic bytes (1f 8b).
    public static func open(path: String) throws -> ByteSource {
        let file = try FileByteSource(path: path)
        let peek = PeekingByteSource(file)
        return try wrap(peek)
    }

    /// Wraps `bytes`, decompressing them when they start with the gzip magic bytes.
    public static func memory(_ bytes: [UInt8]) throws -> ByteSource {
        try wrap(PeekingByteSource(MemoryByteSource(bytes)))
    }

    private static func wrap(_ peek: PeekingByteSource) throws -> ByteSource {
        let head = try peek.peek(2)
        if head == [0x1f, 0x8b] { return try GzipByteSource(peek) }
        return peek
    }
}

/// A source that can look at its first bytes without consuming them.
final class PeekingByteSource: ByteSource {
    private let inner: ByteSource
    private var pending: [UInt8] = []

    init(_ inner: ByteSource) { self.inner = inner }

    func peek(_ count: Int) throws -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: count)
        while pending.count < count {
            let n = try chunk.withUnsafeMutableBytes { try inner.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<(count - pending.count)])) }
            if n == 0 { break }
            pending.append(contentsOf: chunk[0..<n])
        }
        return pending
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if !pending.isEmpty {
            let n = min(buffer.count, pending.count)
            pending.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            pending.removeFirst(n)
            return n
        }
        return try inner.read(into: buffer)
    }
}
