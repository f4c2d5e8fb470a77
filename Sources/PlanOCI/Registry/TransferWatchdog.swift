import Foundation
import NIOConcurrencyHelpers

/// Bytes received by the request of the current task, counted by the code that reads response
/// bodies and checked by ``TransferWatchdog``.
final class TransferProgress: Sendable {
    @TaskLocal static var current: TransferProgress?

    private let bytes = NIOLockedValueBox<Int64>(0)

    func received(_ count: Int) {
        bytes.withLockedValue { $0 += Int64(count) }
    }

    /// The bytes received since the last call.
    func take() -> Int64 {
        bytes.withLockedValue { bytes in
            defer { bytes = 0 }
            return bytes
        }
    }
}

/// A request that stalled: fewer bytes than required arrived within one window.
struct TransferStalled: Error, CustomStringConvertible {
    var received: Int64
    var required: Int64
    var window: Duration

    var description: String {
        "stalled: \(received) bytes in \(window.components.seconds) s (at least \(required) required)"
    }
}

/// Abandons work whose transfer stalls: a registry that trickles a byte every 20 s would
/// otherwise hold a pull for ever, since each byte resets the HTTP client's read timeout.
struct TransferWatchdog {
    /// The window over which progress is measured.
    var window: Duration
    /// Bytes per second below which the transfer is stalled.
    var minimumRate: Int

    var requiredPerWindow: Int64 {
        let seconds = Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18
        return max(1, Int64(Double(max(0, minimumRate)) * seconds))
    }

    /// Runs `body` with a fresh ``TransferProgress`` as the current one; throws
    /// ``TransferStalled`` (cancelling `body`) when a window passes with too few bytes.
    func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let progress = TransferProgress()
        let window = self.window
        let required = requiredPerWindow
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await TransferProgress.$current.withValue(progress) { try await body() }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: window)
                    let received = progress.take()
                    if received < required { throw TransferStalled(received: received, required: required, window: window) }
                }
            }
            defer { group.cancelAll() }
            // Only the body returns a value; the watchdog ends by throwing.
            while let result = try await group.next() {
                if let value = result { return value }
            }
            throw CancellationError()
        }
    }
}
