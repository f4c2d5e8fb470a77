/// Durations in Go's spelling (`30s`, `1m30s`, `500ms`, `1.5h`, `-2s`, `0`), as Docker's HEALTHCHECK options
/// take them; read exactly as Go's `time.ParseDuration` reads them.
public enum GoDuration {
    /// `text` in nanoseconds; nil when it is not a Go duration.
    public static func nanoseconds(_ text: String) -> Int64? {
        try? parse(text)
    }

    /// The units Go knows, longest spelling first where one is a prefix of another.
    static let units: [(String, UInt64)] = [
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("μs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
        ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

    /// `text` in nanoseconds, as `time.ParseDuration` reads it: `[-+]` then one or more `number unit`
    /// (a decimal number, with an optional fraction), or `0` alone.
    public static func parse(_ text: String) throws(DurationError) -> Int64 {
        var rest = Substring(text)
        func fail(_ reason: DurationError.Reason) -> DurationError { DurationError(text: text, reason: reason) }
        var negative = false
        if let sign = rest.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" { return 0 }
        guard !rest.isEmpty else { throw fail(.empty) }
        var total: UInt64 = 0
        while !rest.isEmpty {
            let whole = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(whole.count)
            var fraction: Substring = ""
            if rest.first == "." {
                rest = rest.dropFirst()
                fraction = rest.prefix { $0.isASCII && $0.isNumber }
                rest = rest.dropFirst(fraction.count)
            }
            guard !(whole.isEmpty && fraction.isEmpty) else { throw fail(.invalidNumber) }
            let unitText = rest.prefix { !($0 == "." || ($0.isASCII && $0.isNumber)) }
            guard !unitText.isEmpty else { throw fail(.missingUnit) }
            guard let unit = units.first(where: { $0.0 == unitText })?.1 else { throw fail(.unknownUnit(String(unitText))) }
            rest = rest.dropFirst(unitText.count)
            var value: UInt64 = 0
            for digit in whole {
                let (times, o1) = value.multipliedReportingOverflow(by: 10)
                let (plus, o2) = times.addingReportingOverflow(UInt64(digit.asciiValue ?? 48) - 48)
                guard !o1, !o2, plus <= 1 << 63 else { throw fail(.overflow) }
                value = plus
            }
            let (scaled, o3) = value.multipliedReportingOverflow(by: unit)
            guard !o3, scaled <= 1 << 63 else { throw fail(.overflow) }
            // The fraction, as Go adds it: digits beyond what fits are dropped, the rest scaled by the unit.
            var f: UInt64 = 0
            var scale: Double = 1
            for digit in fraction {
                guard f <= (UInt64.max - 9) / 10 / 10 else { break }
                f = f * 10 + UInt64(digit.asciiValue ?? 48) - 48
                scale *= 10
            }
            let fractional = UInt64(Double(f) * (Double(unit) / scale))
            let (sum1, o4) = scaled.addingReportingOverflow(fractional)
            let (sum2, o5) = total.addingReportingOverflow(sum1)
            guard !o4, !o5, sum2 <= 1 << 63 else { throw fail(.overflow) }
            total = sum2
        }
        if negative { return total == 1 << 63 ? Int64.min : -Int64(total) }
        guard total < 1 << 63 else { throw fail(.overflow) }
        return Int64(total)
    }

    /// A HEALTHCHECK option (`interval`, `timeout`, `start_period`, `start_interval`) as Docker reads it: a Go
    /// duration that is not negative and is either 0 (the default) or at least 1ms.
    public static func healthcheck(_ text: String) throws(DurationError) -> Int64 {
        let value = try parse(text)
        guard value >= 0 else { throw DurationError(text: text, reason: .negative) }
        guard value == 0 || value >= 1_000_000 else { throw DurationError(text: text, reason: .belowMinimum) }
        return value
    }
}

/// Why a text is not a Go duration (or not one Docker takes).
public struct DurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        case empty
        /// A number expected (`s`, `.s`).
        case invalidNumber
        /// `30` without a unit.
        case missingUnit
        /// A unit Go does not know (`seconds`, `d`).
        case unknownUnit(String)
        /// More than about 292 years.
        case overflow
        /// Negative, where Docker wants none.
        case negative
        /// Above 0 but below 1ms, which Docker refuses.
        case belowMinimum
    }

    public let text: String
    public let reason: Reason

    /// What is wrong, without the text.
    public var problem: String {
        switch reason {
        case .empty, .invalidNumber, .missingUnit, .unknownUnit:
            return "a duration is a number with a unit, like 30s, 1m30s or 500ms"
        case .overflow: return "the duration is too long"
        case .negative: return "a duration cannot be negative"
        case .belowMinimum: return "a duration must be 0 or at least 1ms"
        }
    }

    public var description: String { "invalid duration \"\(text)\": \(problem)" }
}
