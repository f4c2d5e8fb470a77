/// A parsed `WWW-Authenticate` challenge: `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
public struct AuthChallenge: Hashable, Sendable {
    /// The scheme, lowercased: `bearer` or `basic`.
    public var scheme: String
    /// The parameters, keys lowercased: `realm`, `service`, `scope`, `error`, ….
    public var parameters: [String: String]

    /// Parses the first challenge of a `WWW-Authenticate` header value; nil if there is none.
    public init?(header: String) {
        var s = Substring(header)
        s = s.drop { $0 == " " }
        let scheme = s.prefix { $0 != " " && $0 != "," }
        guard !scheme.isEmpty else { return nil }
        self.scheme = scheme.lowercased()
        s = s.dropFirst(scheme.count)
        var params: [String: String] = [:]
        while true {
            s = s.drop { $0 == " " || $0 == "," }
            guard !s.isEmpty else { break }
            let key = s.prefix { $0 != "=" && $0 != " " && $0 != "," }
            s = s.dropFirst(key.count)
            s = s.drop { $0 == " " }
            guard s.first == "=" else { break }  // next challenge's scheme: stop at the first challenge
            s = s.dropFirst()
            s = s.drop { $0 == " " }
            var value = ""
            if s.first == "\"" {
                s = s.dropFirst()
                var escaped = false
                while let c = s.first {
                    s = s.dropFirst()
                    if escaped { value.append(c); escaped = false; continue }
                    if c == "\\" { escaped = true; continue }
                    if c == "\"" { break }
                    value.append(c)
                }
            } else {
                let v = s.prefix { $0 != "," }
                value = v.trimmingCharacters(in: " ")
                s = s.dropFirst(v.count)
            }
            params[key.lowercased()] = value
        }
        parameters = params
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var t = self
        while t.first == set { t = t.dropFirst() }
        while t.last == set { t = t.dropLast() }
        return String(t)
    }
}
