/// Writes a tar stream: plain ustar headers where an entry fits, a PAX extended header in front of
/// it where it does not (names over 100/255 bytes, non-ASCII names, ids, sizes or times too large
/// for octal, sub-second times).
///
/// Output is deterministic: the same entries give the same bytes (PAX header names are derived
/// from the entry name, never from a process id or a clock). `Options.fixedModificationTime`
/// replaces every entry's mtime.
///
/// Use: `append(_:)` an entry header, `writeContent(_:)` exactly `entry.size` bytes for regular
/// files, then the next `append`; `finish()` writes the end-of-archive marker and finishes the sink.
public final class TarWriter {
    /// Settings for a writer.
    public struct Options: Sendable {
        /// When set, every entry is written with this mtime (seconds since the epoch).
        public var fixedModificationTime: Int64?
        /// Creates options.
        public init(fixedModificationTime: Int64? = nil) {
            self.fixedModificationTime = fixedModificationTime
        }
    }

    private let sink: ByteSink
    private let options: Options
    private var contentLeft: Int64 = 0
    private var paddingLeft = 0
    private var current: TarEntry?
    private var finished = false
    private static let zeros = [UInt8](repeating: 0, count: TarHeader.blockSize * 2)

    /// Writes to `sink` (wrap it in a `GzipByteSink` for a compressed layer).
    public init(_ sink: ByteSink, options: Options = Options()) {
        self.sink = sink
        self.options = options
    }

    /// Starts an entry: writes its header(s). A regular file's `size` content bytes must follow.
    public func append(_ original: TarEntry) throws {
        guard !finished else { throw LayerError.writerMisuse("append after finish") }
        try closeEntry()
        var entry = original
        if let fixed = options.fixedModificationTime {
            entry.modificationTime = fixed
            entry.modificationNanoseconds = 0
        }
        if entry.kind != .regular { entry.size = 0 }
        guard !entry.path.isEmpty, !entry.path.utf8.contains(0), !entry.linkTarget.utf8.contains(0) else {
            throw LayerError.invalidName(entry.path)
        }
        let (block, pax) = try Self.header(for: entry)
        if !pax.isEmpty {
            let records = TarHeader.paxRecords(pax)
            var paxEntry = TarEntry(path: Self.paxHeaderName(entry.path), kind: .regular, mode: 0o644,
                                    modificationTime: max(0, min(entry.modificationTime, TarHeader.octalLimit(TarHeader.Field.mtime))),
                                    size: Int64(records.count))
            paxEntry.userName = ""
            var (paxBlock, _) = try Self.header(for: paxEntry)
            paxBlock[TarHeader.Field.typeFlag] = UInt8(ascii: "x")
            paxBlock.withUnsafeMutableBytes { TarHeader.putChecksum(into: $0) }
            try write(paxBlock)
            try write(records)
            try writePadding(records.count)
        }
        try write(block)
        current = entry
        contentLeft = entry.size
        paddingLeft = Self.padding(entry.size)
    }

    /// Writes content of the current regular file entry.
    public func writeContent(_ bytes: UnsafeRawBufferPointer) throws {
        guard let current else { throw LayerError.writerMisuse("content outside an entry") }
        guard Int64(bytes.count) <= contentLeft else {
            throw LayerError.sizeMismatch(entry: current.path, declared: current.size,
                                          actual: current.size - contentLeft + Int64(bytes.count))
        }
        try sink.write(bytes)
        contentLeft -= Int64(bytes.count)
    }

    /// Writes content of the current regular file entry.
    public func writeContent(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeContent($0) }
    }

    /// Appends a whole entry with its content in one call.
    public func append(_ entry: TarEntry, content: [UInt8]) throws {
        var entry = entry
        if entry.kind == .regular { entry.size = Int64(content.count) }
        try append(entry)
        if entry.kind == .regular { try writeContent(content) }
    }

    /// Ends the archive with two zero blocks and finishes the sink.
    public func finish() throws {
        guard !finished else { return }
        try closeEntry()
        try write(Self.zeros)
        finished = true
        try sink.finish()
    }

    private func closeEntry() throws {
        guard let entry = current else { return }
        guard contentLeft == 0 else {
            throw LayerError.sizeMismatch(entry: entry.path, declared: entry.size, actual: entry.size - contentLeft)
        }
        try writePadding(Int(entry.size))
        current = nil
    }

    private func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try sink.write($0) } }

    private func writePadding(_ size: Int) throws {
        let pad = Self.padding(Int64(size))
        if pad > 0 { try Self.zeros.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[0..<pad])) } }
    }

    private static func padding(_ size: Int64) -> Int {
        let rest = Int(size % Int64(TarHeader.blockSize))
        return rest == 0 ? 0 : TarHeader.blockSize - rest
    }

    /// A deterministic name for the PAX header of `path`: `<dir>/PaxHeaders/<base>`, cut to fit.
    static func paxHeaderName(_ path: String) -> String {
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        let parts = trimmed.split(separator: "/", omittingEmptySubsequences: false)
        let base = parts.last.map(String.init) ?? trimmed
        let dir = parts.dropLast().joined(separator: "/")
        func ascii(_ s: String) -> String { String(s.unicodeScalars.map { $0.isASCII ? Character($0) : "_" }) }
        // ASCII, within the 100-byte name field; when too long, the directory goes and the base is cut.
        let full = ascii((dir.isEmpty ? "" : dir + "/") + "PaxHeaders/" + base)
        if full.utf8.count <= 99 { return full }
        return "PaxHeaders/" + String(ascii(base).suffix(88))
    }

    private static func isASCII(_ s: String) -> Bool { s.utf8.allSatisfy { $0 < 0x80 } }

    /// Builds the ustar block for `entry` and the PAX records it needs for what does not fit.
    static func header(for entry: TarEntry) throws -> ([UInt8], [(String, [UInt8])]) {
        var pax: [(String, [UInt8])] = []
        var block = [UInt8](repeating: 0, count: TarHeader.blockSize)
        var name = Array(entry.path.utf8)
        if entry.kind == .directory && name.last != UInt8(ascii: "/") { name.append(UInt8(ascii: "/")) }
        let link = Array(entry.linkTarget.utf8)
        let F = TarHeader.Field.self

        // Name: fits as is, or split into prefix + name at a slash, or goes to PAX.
        var namePart = name
        var prefixPart: [UInt8] = []
        if !isASCII(entry.path) {
            pax.append(("path", name))
            namePart = Array(asciiFallback(name).suffix(100))
        } else if name.count > 100 {
            var split: Int?
            for i in stride(from: min(name.count - 1, 155), through: 1, by: -1) where name[i] == UInt8(ascii: "/") {
                if name.count - i - 1 <= 100 && name.count - i - 1 > 0 { split = i; break }
            }
            if let split {
                prefixPart = Array(name[..<split])
                namePart = Array(name[(split + 1)...])
            } else {
                pax.append(("path", name))
                namePart = Array(name.suffix(100))
            }
        }
        if link.count > 100 || !isASCII(entry.linkTarget) {
            pax.append(("linkpath", link))
        }
        func numeric(_ key: String, _ value: Int64, _ range: Range<Int>) {
            if value >= 0 && value <= TarHeader.octalLimit(range) { return }
            pax.append((key, Array(String(value).utf8)))
        }
        numeric("uid", entry.uid, F.uid)
        numeric("gid", entry.gid, F.gid)
        numeric("size", entry.size, F.size)
        if entry.modificationNanoseconds != 0 || entry.modificationTime < 0
            || entry.modificationTime > TarHeader.octalLimit(F.mtime) {
            pax.append(("mtime", Array(paxTime(entry.modificationTime, entry.modificationNanoseconds).utf8)))
        }
        if !isASCII(entry.userName) || entry.userName.utf8.count > 32 { pax.append(("uname", Array(entry.userName.utf8))) }
        if !isASCII(entry.groupName) || entry.groupName.utf8.count > 32 { pax.append(("gname", Array(entry.groupName.utf8))) }
        for (key, value) in entry.extendedAttributes { pax.append(("SCHILY.xattr." + key, value)) }

        func clamp(_ value: Int64, _ range: Range<Int>) -> Int64 { max(0, min(value, TarHeader.octalLimit(range))) }
        block.withUnsafeMutableBytes { raw in
            TarHeader.putBytes(namePart, into: raw, F.name)
            _ = TarHeader.putOctal(Int64(entry.mode & 0o7777), into: raw, F.mode)
            _ = TarHeader.putOctal(clamp(entry.uid, F.uid), into: raw, F.uid)
            _ = TarHeader.putOctal(clamp(entry.gid, F.gid), into: raw, F.gid)
            _ = TarHeader.putOctal(clamp(entry.size, F.size), into: raw, F.size)
            _ = TarHeader.putOctal(clamp(entry.modificationTime, F.mtime), into: raw, F.mtime)
            raw[F.typeFlag] = entry.kind.typeFlag
            TarHeader.putBytes(link.count > 100 || !isASCII(entry.linkTarget) ? Array(asciiFallback(link).prefix(100)) : link,
                               into: raw, F.linkName)
            TarHeader.putBytes(Array("ustar\0".utf8), into: raw, F.magic)
            TarHeader.putBytes(Array("00".utf8), into: raw, F.version)
            TarHeader.putBytes(Array(asciiFallback(Array(entry.userName.utf8)).prefix(31)), into: raw, F.userName)
            TarHeader.putBytes(Array(asciiFallback(Array(entry.groupName.utf8)).prefix(31)), into: raw, F.groupName)
            _ = TarHeader.putOctal(Int64(entry.deviceMajor), into: raw, F.deviceMajor)
            _ = TarHeader.putOctal(Int64(entry.deviceMinor), into: raw, F.deviceMinor)
            TarHeader.putBytes(prefixPart, into: raw, F.prefix)
        }
        guard TarHeader.octalLimit(F.deviceMajor) >= Int64(entry.deviceMajor),
              TarHeader.octalLimit(F.deviceMinor) >= Int64(entry.deviceMinor)
        else { throw LayerError.valueTooLarge(field: "device number", entry: entry.path) }
        block.withUnsafeMutableBytes { TarHeader.putChecksum(into: $0) }
        return (block, pax)
    }

    private static func asciiFallback(_ bytes: [UInt8]) -> [UInt8] {
        bytes.map { $0 < 0x80 ? $0 : UInt8(ascii: "_") }
    }

    private static func paxTime(_ seconds: Int64, _ nanos: UInt32) -> String {
        if nanos == 0 { return String(seconds) }
        var s = seconds
        var n = Int64(nanos)
        var sign = ""
        if s < 0 { sign = "-"; s = -s - 1; n = 1_000_000_000 - n }
        var fraction = String(n)
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(sign)\(s).\(fraction)"
    }
}
