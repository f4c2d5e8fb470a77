import Foundation
import NIOConcurrencyHelpers

/// Compiled regular expressions by pattern: each pattern is compiled once per process, not once per check.
final class RegexCache: Sendable {
    static let shared = RegexCache()

    private let compiled = NIOLockedValueBox<[String: NSRegularExpression]>([:])

    func regex(_ pattern: String) -> NSRegularExpression? {
        compiled.withLockedValue { compiled in
            if let regex = compiled[pattern] { return regex }
            guard let regex = try? NSRegularExpression(pattern: pattern) else { return nil }
            compiled[pattern] = regex
            return regex
        }
    }

    /// True when `pattern` matches somewhere in `text` (anchor it with ^ and $ to match all of it).
    static func matches(_ text: String, _ pattern: String) -> Bool {
        guard let regex = shared.regex(pattern) else { return false }
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}
