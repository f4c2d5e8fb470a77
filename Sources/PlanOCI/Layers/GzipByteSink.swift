import CompressNIO
import NIOCore

/// Compresses everything written into a gzip stream (zlib through compress-nio).
///
/// Output is deterministic: zlib writes a gzip header with no name and a zero mtime.
public final class GzipByteSink: ByteSink {
    private let inner: ByteSink
    private let compressor: ZlibCompressor
    private var input: ByteBuffer
    private var output: ByteBuffer
    private static let chunk = 1 << 18

    /// Compresses into `inner` at `level` (zlib's default, 6, unless told).
    public init(_ inner: ByteSink, level: ZlibConfiguration.CompressionLevel = .defaultCompressionLevel) throws {
        self.inner = inner
        do {
            compressor = try ZlibCompressor(algorithm: .gzip, configuration: .init(compressionLevel: level))
        } catch {
            throw LayerError.corruptGzip("zlib init: \(error)")
        }
        input = ByteBufferAllocator().buffer(capacity: Self.chunk)
        output = ByteBufferAllocator().buffer(capacity: Self.chunk)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        input.writeBytes(bytes)
        if input.readableBytes >= Self.chunk { try drain(flush: .no) }
    }

    public func finish() throws {
        try drain(flush: .finish)
        try inner.finish()
    }

    private func drain(flush: CompressNIOFlush) throws {
        while true {
            output.clear()
            output.reserveCapacity(Self.chunk)
            var done = false
            do {
                try compressor.deflate(from: &input, to: &output, flush: flush)
                done = flush == .finish || input.readableBytes == 0
            } catch let error as CompressNIOError where error == .bufferOverflow {
                done = false
            } catch {
                throw LayerError.corruptGzip("deflate: \(error)")
            }
            if output.readableBytes > 0 {
                try output.withUnsafeReadableBytes { try inner.write($0) }
            }
            if done || (flush == .no && input.readableBytes == 0) { break }
        }
        input.discardReadBytes()
    }
}
