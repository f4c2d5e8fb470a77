/// The 512-byte tar header block: field layout, numbers, checksums and PAX records.
///
/// Reading is strict: numbers must be octal (optionally space/NUL padded) or GNU base-256, and the
/// checksum must match. Writing produces POSIX ustar blocks; values that do not fit are reported to
/// the caller, which moves them into a PAX extended header.
public enum TarHeader {
    /// Size of a tar block.
    public static let blockSize = 512

    /// Byte ranges of the ustar header fields.
    enum Field {
        static let name = 0..<100
        static let mode = 100..<108
        static let uid = 108..<116
        static let gid = 116..<124
        static let size = 124..<136
        static let mtime = 136..<148
        static let checksum = 148..<156
        static let typeFlag = 156
        static let linkName = 157..<257
        static let magic = 257..<263
        static let version = 263..<265
        static let userName = 265..<297
        static let groupName = 297..<329
        static let deviceMajor = 329..<337
        static let deviceMinor = 337..<345
        static let prefix = 345..<500
    }

    /// The flavour of a header block, from its magic field.
    enum Format: Equatable {
        case v7, ustar, gnu
    }

    /// True when every byte of the block is zero (an end-of-archive marker).
    static func isZero(_ block: UnsafeRawBufferPointer) -> Bool {
        for byte in block where byte != 0 { return false }
        return true
    }

    /// Verifies the checksum: the unsigned (or, for old writers, signed) sum of the block with the
    /// checksum field counted as spaces.
    static func checksumMatches(_ block: UnsafeRawBufferPointer) -> Bool {
        guard let stored = try? parseOctal(block, Field.checksum) else { return false }
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for i in 0..<blockSize {
            let byte = Field.checksum.contains(i) ? UInt8(ascii: " ") : block[i]
            unsigned += Int64(byte)
            signed += Int64(Int8(bitPattern: byte))
        }
        return stored == unsigned || stored == signed
    }

    static func format(_ block: UnsafeRawBufferPointer) -> Format {
        let magic = Array(block[Field.magic])
        let version = Array(block[Field.version])
        if magic == Array("ustar\0".utf8) { return .ustar }
        if magic == Array("ustar ".utf8) && version == [UInt8(ascii: " "), 0] { return .gnu }
        return .v7
    }

    /// A NUL-terminated (or field-filling) byte string.
    static func bytes(_ block: UnsafeRawBufferPointer, _ range: Range<Int>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        for i in range {
            let byte = block[i]
            if byte == 0 { break }
            out.append(byte)
        }
        return out
    }

    /// A numeric field: octal digits padded by spaces or NULs, or GNU base-256 (high bit set).
    /// Throws `nil`-field errors as `LayerError.badNumber` through the caller.
    static func parseNumber(_ block: UnsafeRawBufferPointer, _ range: Range<Int>) throws -> Int64 {
        let first = block[range.lowerBound]
        if first & 0x80 != 0 {
            // Base-256, big endian two's complement; the first byte's top bit is the marker.
            let negative = first & 0x40 != 0
            var value: Int64 = 0
            var started = false
            for (offset, i) in range.enumerated() {
                var byte = block[i]
                if offset == 0 { byte &= 0x7f; if negative { byte |= 0x80 } }
                if negative { byte = ~byte }
                if !started && byte == 0 { continue }
                started = true
                guard value <= (Int64.max >> 8) else { throw NumberError() }
                value = value << 8 | Int64(byte)
            }
            return negative ? -(value + 1) : value
        }
        return try parseOctal(block, range)
    }

    struct NumberError: Error {}

    static func parseOctal(_ block: UnsafeRawBufferPointer, _ range: Range<Int>) throws -> Int64 {
        var i = range.lowerBound
        // Leading spaces (and NULs, written by some old tars) are padding.
        while i < range.upperBound && (block[i] == UInt8(ascii: " ") || block[i] == 0) { i += 1 }
        var value: Int64 = 0
        var digits = 0
        while i < range.upperBound {
            let byte = block[i]
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "7") else { break }
            guard value <= (Int64.max >> 3) else { throw NumberError() }
            value = value << 3 | Int64(byte - UInt8(ascii: "0"))
            digits += 1
            i += 1
        }
        // Only spaces and NULs may follow the digits.
        while i < range.upperBound {
            guard block[i] == UInt8(ascii: " ") || block[i] == 0 else { throw NumberError() }
            i += 1
        }
        return value
    }

    /// Writes `value` as zero-padded octal with a terminating NUL; returns false if it does not fit.
    static func putOctal(_ value: Int64, into block: UnsafeMutableRawBufferPointer, _ range: Range<Int>) -> Bool {
        let width = range.count - 1
        guard value >= 0 else { return false }
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width)
        var rest = value
        var i = width - 1
        while rest > 0 {
            guard i >= 0 else { return false }
            digits[i] = UInt8(ascii: "0") + UInt8(rest & 7)
            rest >>= 3
            i -= 1
        }
        for (offset, digit) in digits.enumerated() { block[range.lowerBound + offset] = digit }
        block[range.upperBound - 1] = 0
        return true
    }

    /// Largest value a field of `width` bytes holds in octal with a terminating NUL.
    static func octalLimit(_ range: Range<Int>) -> Int64 { (Int64(1) << (3 * Int64(range.count - 1))) - 1 }

    /// Copies `bytes` into the field (truncating); the rest stays zero.
    static func putBytes(_ bytes: some Collection<UInt8>, into block: UnsafeMutableRawBufferPointer, _ range: Range<Int>) {
        for (offset, byte) in bytes.prefix(range.count).enumerated() { block[range.lowerBound + offset] = byte }
    }

    /// Fills in the checksum field of a finished block.
    static func putChecksum(into block: UnsafeMutableRawBufferPointer) {
        for i in Field.checksum { block[i] = UInt8(ascii: " ") }
        var sum: Int64 = 0
        for byte in block { sum += Int64(byte) }
        _ = putOctal(sum, into: block, Field.checksum.lowerBound..<(Field.checksum.upperBound - 1))
        block[Field.checksum.upperBound - 1] = UInt8(ascii: " ")
    }

    /// Encodes PAX records (`"<len> <key>=<value>\n"`, the length counting itself), sorted by key.
    static func paxRecords(_ records: [(String, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        for (key, value) in records.sorted(by: { $0.0 < $1.0 }) {
            let body = 1 + key.utf8.count + 1 + value.count + 1   // " key=value\n"
            var length = body + 1
            while body + String(length).utf8.count != length { length = body + String(length).utf8.count }
            out.append(contentsOf: String(length).utf8)
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: key.utf8)
            out.append(UInt8(ascii: "="))
            out.append(contentsOf: value)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// Decodes PAX records strictly: every length must be exact and every record end in a newline.
    static func parsePaxRecords(_ data: [UInt8], entry: String?) throws -> [(String, [UInt8])] {
        var records: [(String, [UInt8])] = []
        var i = 0
        while i < data.count {
            // Trailing NUL padding is tolerated.
            if data[i] == 0 { break }
            var length = 0
            var j = i
            while j < data.count && data[j] >= UInt8(ascii: "0") && data[j] <= UInt8(ascii: "9") {
                guard length < 1 << 40 else { throw LayerError.badExtendedHeader("record length", entry: entry) }
                length = length * 10 + Int(data[j] - UInt8(ascii: "0"))
                j += 1
            }
            guard j > i, j < data.count, data[j] == UInt8(ascii: " "), length > j - i + 1,
                  i + length <= data.count, data[i + length - 1] == UInt8(ascii: "\n")
            else { throw LayerError.badExtendedHeader("malformed record at \(i)", entry: entry) }
            let record = data[(j + 1)..<(i + length - 1)]
            guard let equals = record.firstIndex(of: UInt8(ascii: "=")) else {
                throw LayerError.badExtendedHeader("record without '='", entry: entry)
            }
            guard let key = String(validating: record[record.startIndex..<equals], as: UTF8.self), !key.isEmpty else {
                throw LayerError.badExtendedHeader("bad key", entry: entry)
            }
            records.append((key, Array(record[(equals + 1)...])))
            i += length
        }
        return records
    }
}
