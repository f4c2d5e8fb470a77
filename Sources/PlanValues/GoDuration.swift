/// Durations in Go's spelling (`30s`, `1m30s`, `500ms`), as Docker's HEALTHCHECK options take them.
public enum GoDuration {
    /// `text` in nanoseconds; nil when it is not a Go duration.
    public static func nanoseconds(_ text: String) -> Int64? {
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) && !(($0.0 == "m") && rest.hasPrefix("ms")) }) else {
                return nil
            }
            total += value * unit.1
            rest = rest.dropFirst(unit.0.count)
        }
        return Int64(total)
    }
}
