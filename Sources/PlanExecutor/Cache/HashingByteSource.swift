import struct Crypto.SHA256
import Foundation
import PlanOCI

/// Passes a stream through while computing its SHA-256.
final class HashingByteSource: ByteSource {
    private let source: ByteSource
    private var hasher = SHA256()

    init(_ source: ByteSource) { self.source = source }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = try source.read(into: buffer)
        if count > 0 { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<count])) }
        return count
    }

    /// Reads what the consumer left (a tar's trailing padding) and returns the digest of everything.
    func finish() throws -> PlanOCI.Digest {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { chunk.deallocate() }
        while try read(into: chunk) > 0 {}
        return PlanOCI.Digest.sha256(hasher.finalize())
    }
}
