import Foundation

/// The first stopping signal a run received (SIGINT, SIGTERM or SIGHUP), if any.
final class InterruptFlag: @unchecked Sendable {
    private var value: Int32?
    private let lock = NSLock()
    func set(_ signal: Int32) { lock.lock(); if value == nil { value = signal }; lock.unlock() }
    var signal: Int32? { lock.lock(); defer { lock.unlock() }; return value }
    var isSet: Bool { signal != nil }
}
