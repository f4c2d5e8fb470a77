import Foundation

/// A content digest such as `sha256:9d214c…`: an algorithm and its lowercase hex encoding.
///
/// Only `sha256` and `sha512` are accepted, with exactly 64 and 128 lowercase hex digits,
/// as the OCI image specification registers them.
public struct Digest: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The algorithm, `sha256` or `sha512`.
    public let algorithm: String
    /// The encoded hash: lowercase hex.
    public let encoded: String

    /// Makes a digest from its parts, validating both.
    public init(algorithm: String, encoded: String) throws(DigestError) {
        let expected: Int
        switch algorithm {
        case "sha256": expected = 64
        case "sha512": expected = 128
        case "": throw DigestError(text: "\(algorithm):\(encoded)", reason: .missingAlgorithm)
        default: throw DigestError(text: "\(algorithm):\(encoded)", reason: .unsupportedAlgorithm(algorithm))
        }
        if let bad = encoded.unicodeScalars.firstIndex(where: { !Digest.isLowerHex($0) }) {
            let offset = encoded.unicodeScalars.distance(from: encoded.unicodeScalars.startIndex, to: bad)
            throw DigestError(
                text: "\(algorithm):\(encoded)",
                reason: .invalidHexCharacter(Character(encoded.unicodeScalars[bad]), offset: algorithm.count + 1 + offset)
            )
        }
        guard encoded.utf8.count == expected else {
            throw DigestError(
                text: "\(algorithm):\(encoded)", reason: .wrongLength(algorithm: algorithm, expected: expected, found: encoded.utf8.count))
        }
        self.algorithm = algorithm
        self.encoded = encoded
    }

    /// Parses `algorithm:hex`.
    public init(parsing text: String) throws(DigestError) {
        guard let colon = text.firstIndex(of: ":") else {
            throw DigestError(text: text, reason: .missingAlgorithm)
        }
        try self.init(algorithm: String(text[..<colon]), encoded: String(text[text.index(after: colon)...]))
    }

    /// A digest whose parts are known to be valid (computed here, not read from input).
    package init(trusted algorithm: String, hex: String) {
        self.algorithm = algorithm
        self.encoded = hex
    }

    /// `algorithm:hex`.
    public var description: String { "\(algorithm):\(encoded)" }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }

    private static func isLowerHex(_ s: Unicode.Scalar) -> Bool {
        ("0"..."9").contains(s) || ("a"..."f").contains(s)
    }
}

extension Digest: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Why a digest string is not valid.
public struct DigestError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong.
    public enum Reason: Equatable, Sendable {
        /// No `algorithm:` prefix.
        case missingAlgorithm
        /// An algorithm other than sha256 or sha512.
        case unsupportedAlgorithm(String)
        /// A character that is not lowercase hex, at this offset in the whole digest text.
        case invalidHexCharacter(Character, offset: Int)
        /// The hex part has the wrong length for its algorithm.
        case wrongLength(algorithm: String, expected: Int, found: Int)
    }

    /// The text that was parsed.
    public let text: String
    /// What is wrong with it.
    public let reason: Reason

    public init(text: String, reason: Reason) {
        self.text = text
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .missingAlgorithm:
            return "invalid digest \"\(text)\": expected ALGORITHM:HEX, e.g. sha256:<64 hex digits>"
        case .unsupportedAlgorithm(let a):
            return "invalid digest \"\(text)\": unsupported algorithm \"\(a)\" (sha256 or sha512)"
        case .invalidHexCharacter(let c, let offset):
            return "invalid digest \"\(text)\": character \"\(c)\" at offset \(offset) is not lowercase hex"
        case .wrongLength(let a, let expected, let found):
            return "invalid digest \"\(text)\": \(a) needs \(expected) hex digits, found \(found)"
        }
    }
}

extension Sequence where Element == UInt8 {
    /// The bytes as lowercase hex.
    package var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for b in self {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
