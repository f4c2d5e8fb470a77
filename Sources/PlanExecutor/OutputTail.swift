import Foundation
import NIOConcurrencyHelpers

/// The last lines of a step's output, for failure reports.
final class OutputTail: Sendable {
    private let buffer = NIOLockedValueBox(Data())

    func add(_ data: Data) {
        buffer.withLockedValue { buffer in
            buffer.append(data)
            if buffer.count > 16_384 { buffer = buffer.suffix(8_192) }
        }
    }

    var lines: [String] {
        let buffer = buffer.withLockedValue { $0 }
        return String(decoding: buffer, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .map(String.init).filter { !$0.isEmpty }.suffix(15).map { $0 }
    }
}
