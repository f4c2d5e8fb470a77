import CompressNIO
import NIOCore

/// Compresses everything written into a gzip stream (zlib through compress-nio).
///
/// Output is deterministic: zlib writes a gzip header with no name, no comment and a zero mtime;
/// its OS byte, which zlib sets by the platform it was built for (3 on Linux, 19 on macOS), is set to
/// 3 (Unix) here, so the same input at the same level gives the same bytes on every platform with
/// the same deflate implementation. The extra-flags byte follows the level (2 for 9, 4 for 1).
public final class GzipByteSink: ByteSink {
    private let inner: ByteSink
    private let compressor: ZlibCompressor
    private var input: ByteBuffer
    private var output: ByteBuffer
    private var headerFixed = false
    /// The gzip header's OS byte plan writes: 3, Unix.
    static let operatingSystem: UInt8 = 3
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
            if !headerFixed && output.readableBytes >= 10 {
                // The 10-byte header comes whole in the first output; byte 9 is the OS (no CRC covers it).
                output.setInteger(Self.operatingSystem, at: output.readerIndex + 9)
                headerFixed = true
            }
            if output.readableBytes > 0 {
                try output.withUnsafeReadableBytes { try inner.write($0) }
            }
            if done || (flush == .no && input.readableBytes == 0) { break }
        }
        input.discardReadBytes()
    }
}
