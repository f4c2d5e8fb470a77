/// How often and how long to retry a registry request that failed with 429, a 5xx status or a
/// dropped connection: exponential backoff from ``initialDelay``, doubling, capped at
/// ``maximumDelay`` (a `Retry-After` header of whole seconds is honoured up to that cap).
public struct RetryPolicy: Hashable, Sendable {
    /// Attempts in all, the first included (1 = no retries).
    public var maxAttempts: Int
    /// The delay before the first retry.
    public var initialDelay: Duration
    /// The longest delay between two attempts.
    public var maximumDelay: Duration

    /// Makes a policy.
    public init(maxAttempts: Int = 5, initialDelay: Duration = .milliseconds(250), maximumDelay: Duration = .seconds(8)) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    /// Five attempts, 0.25 s, 0.5 s, 1 s, 2 s apart.
    public static let `default` = RetryPolicy()
    /// One attempt.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The delay before retry number `retry` (1-based).
    func delay(beforeRetry retry: Int, retryAfterSeconds: Int?) -> Duration {
        if let s = retryAfterSeconds, s >= 0 { return min(.seconds(s), maximumDelay) }
        var d = initialDelay
        for _ in 1..<max(1, retry) {
            d = d * 2
            if d >= maximumDelay { return maximumDelay }
        }
        return min(d, maximumDelay)
    }

    /// Whether an HTTP status is worth retrying.
    static func isRetryable(status: Int) -> Bool {
        status == 429 || status == 408 || (500...599).contains(status) && status != 501 && status != 505
    }
}
