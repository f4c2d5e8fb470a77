import CompressNIO
import NIOCore

/// Decompresses a gzip stream (one or more members) with zlib, through compress-nio.
///
/// A stream that ends before a member's trailer is `LayerError.truncatedGzip`; corrupt data, a bad
/// CRC or length is `LayerError.corruptGzip`.
public final class GzipByteSource: ByteSource {
    private let inner: ByteSource
    private let decompressor: ZlibDecompressor
    private var input: ByteBuffer
    private var output: ByteBuffer
    private var inputEnded = false
    private var finished = false
    private static let inputChunk = 1 << 18
    private static let outputChunk = 1 << 20

    /// Decompresses the gzip stream read from `inner`.
    public init(_ inner: ByteSource) throws {
        self.inner = inner
        do {
            decompressor = try ZlibDecompressor(algorithm: .gzip, windowSize: 15)
        } catch {
            throw LayerError.corruptGzip("zlib init: \(error)")
        }
        let allocator = ByteBufferAllocator()
        input = allocator.buffer(capacity: Self.inputChunk)
        output = allocator.buffer(capacity: Self.outputChunk)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while output.readableBytes == 0 {
            if finished { return 0 }
            try fill()
        }
        let n = min(buffer.count, output.readableBytes)
        output.withUnsafeReadableBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        output.moveReaderIndex(forwardBy: n)
        return n
    }

    private func refillInput() throws {
        input.discardReadBytes()
        let n = try input.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.inputChunk) { raw in
            try inner.read(into: raw)
        }
        if n == 0 { inputEnded = true }
    }

    /// Inflates into the (empty) output buffer until it holds something or the stream ends.
    private func fill() throws {
        output.clear()
        while output.readableBytes == 0 {
            if input.readableBytes == 0 && !inputEnded { try refillInput() }
            if input.readableBytes == 0 && inputEnded {
                // No more input: the member must have reached its end. Probing with no input
                // answers Z_STREAM_END (returns) when it has, Z_BUF_ERROR (throws) when not.
                do {
                    try decompressor.inflate(from: &input, to: &output)
                } catch let error as CompressNIOError where error == .inputBufferOverflow || error == .bufferOverflow {
                    if output.readableBytes > 0 { return }
                    throw LayerError.truncatedGzip
                } catch {
                    throw LayerError.corruptGzip("\(error)")
                }
                if output.readableBytes > 0 { return }
                finished = true
                return
            }
            do {
                try decompressor.inflate(from: &input, to: &output)
                if input.readableBytes > 0 {
                    // The member ended with bytes left over: another gzip member follows
                    // (concatenated gzip), or trailing garbage, which zlib then reports as corrupt.
                    try resetMember()
                }
            } catch let error as CompressNIOError where error == .bufferOverflow {
                return  // output full
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                continue  // needs more input
            } catch let error as LayerError {
                throw error
            } catch {
                throw LayerError.corruptGzip("\(error)")
            }
        }
    }

    private func resetMember() throws {
        // Trailing zero padding after the last member is tolerated (some writers pad to a block).
        let rest = input.readableBytesView
        if rest.allSatisfy({ $0 == 0 }) {
            input.moveReaderIndex(forwardBy: rest.count)
            while !inputEnded {
                try refillInput()
                guard input.readableBytesView.allSatisfy({ $0 == 0 }) else {
                    throw LayerError.corruptGzip("trailing data after gzip stream")
                }
                input.moveReaderIndex(forwardBy: input.readableBytes)
            }
            finished = true
            return
        }
        do { try decompressor.reset() } catch { throw LayerError.corruptGzip("\(error)") }
    }
}
