import NIOConcurrencyHelpers

/// The first stopping signal a run received (SIGINT, SIGTERM or SIGHUP), if any.
final class InterruptFlag: Sendable {
    private let value = NIOLockedValueBox<Int32?>(nil)
    func set(_ signal: Int32) { value.withLockedValue { if $0 == nil { $0 = signal } } }
    var signal: Int32? { value.withLockedValue { $0 } }
    var isSet: Bool { signal != nil }
}
