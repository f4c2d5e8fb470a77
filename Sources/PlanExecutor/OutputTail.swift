import Foundation

/// The last lines of a step's output, for failure reports.
final class OutputTail: @unchecked Sendable {
    private var buffer = Data()
    private let lock = NSLock()

    func add(_ data: Data) {
        lock.lock()
        buffer.append(data)
        if buffer.count > 16_384 { buffer = buffer.suffix(8_192) }
        lock.unlock()
    }

    var lines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: buffer, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .map(String.init).filter { !$0.isEmpty }.suffix(15).map { $0 }
    }
}
