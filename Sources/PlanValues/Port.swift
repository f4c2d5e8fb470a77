/// A port or range a container listens on, as `EXPOSE` takes it: `80`, `80/tcp`, `53/udp`, `8000-8010/sctp`.
public struct Port: Hashable, Sendable, CustomStringConvertible {
    /// The transport protocol; `tcp` when none is written.
    public enum Transport: String, Hashable, Sendable, CaseIterable {
        case tcp, udp, sctp
    }

    /// The first port of the range (the port itself for a single one).
    public let first: Int
    /// The last port of the range, equal to ``first`` for a single port.
    public let last: Int
    public let transport: Transport

    /// Parses `PORT[-PORT][/PROTOCOL]`, ports in 1…65535, the protocol `tcp`, `udp` or `sctp`.
    public init(parsing text: String) throws(PortError) {
        func fail(_ reason: PortError.Reason) -> PortError { PortError(text: text, reason: reason) }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw fail(.malformed) }
        var transport = Transport.tcp
        if parts.count == 2 {
            guard let known = Transport(rawValue: String(parts[1])) else { throw fail(.unknownProtocol(String(parts[1]))) }
            transport = known
        }
        let range = parts[0].split(separator: "-", omittingEmptySubsequences: false)
        guard range.count <= 2 else { throw fail(.malformedRange) }
        var numbers: [Int] = []
        for part in range {
            guard part.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(part), (1...65535).contains(number) else {
                throw fail(.invalidNumber(String(part)))
            }
            numbers.append(number)
        }
        let first = numbers[0]
        let last = numbers.count == 2 ? numbers[1] : first
        guard first <= last else { throw fail(.backwards(first, last)) }
        self.first = first
        self.last = last
        self.transport = transport
    }

    /// `80/tcp` or `8000-8010/udp`: the protocol always written.
    public var description: String {
        (first == last ? "\(first)" : "\(first)-\(last)") + "/" + transport.rawValue
    }
}

/// Why a text is not a port.
public struct PortError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// More than one `/`.
        case malformed
        /// More than one `-`.
        case malformedRange
        /// A protocol other than tcp, udp and sctp.
        case unknownProtocol(String)
        /// Not a number in 1…65535.
        case invalidNumber(String)
        /// `LOW-HIGH` with LOW above HIGH.
        case backwards(Int, Int)
    }

    public let text: String
    public let reason: Reason

    /// What is wrong, without the text.
    public var problem: String {
        switch reason {
        case .malformed: return "a port is PORT or PORT/PROTOCOL"
        case .malformedRange: return "a port range is LOW-HIGH"
        case .unknownProtocol(let name): return "the protocol must be tcp, udp or sctp, not `\(name)`"
        case .invalidNumber(let part): return "`\(part)` is not a port number between 1 and 65535"
        case .backwards(let low, let high): return "the range \(low)-\(high) runs backwards"
        }
    }

    public var description: String { "invalid port \"\(text)\": \(problem)" }
}
