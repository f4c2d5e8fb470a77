/// Reads a tar stream entry by entry: ustar, PAX (local headers applied, global headers read and
/// ignored), GNU long names and long links, v7.
///
/// Reading is streaming with a fixed buffer: an entry's content is handed out in chunks by
/// `readContent(_:)`, and whatever a caller does not read is skipped by the next `next()`. Every
/// header is validated (checksum, numbers, sizes); input that lies ends in a `LayerError`, never a
/// trap and never a read past the stream.
///
/// ```swift
/// let reader = TarReader(try LayerSource.open(path: "layer.tar.gz"))
/// while let entry = try reader.next() {
///     try reader.readContent { chunk in ... }
/// }
/// ```
public final class TarReader {
    private let source: ByteSource
    private var buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var sourceEnded = false
    /// Bytes consumed from the stream so far (for error offsets).
    private var offset: Int64 = 0
    /// Content bytes of the current entry not yet read, and the padding after them.
    private var contentLeft: Int64 = 0
    private var paddingLeft: Int64 = 0
    private var currentName: String?
    private var atEnd = false

    /// Largest PAX header or GNU long name accepted.
    public static let maximumMetadataSize: Int64 = 1 << 20

    /// Reads tar from `source` (use `LayerSource` for gzip detection).
    public init(_ source: ByteSource, bufferSize: Int = 1 << 20) {
        self.source = source
        let size = max(bufferSize, TarHeader.blockSize * 4)
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Makes sure at least `count` bytes are buffered; returns false if the stream ends first.
    private func ensure(_ count: Int) throws -> Bool {
        if end - start >= count { return true }
        if start > 0 {
            let live = end - start
            if live > 0, let base = buffer.baseAddress { base.copyMemory(from: base + start, byteCount: live) }
            start = 0
            end = live
        }
        while end - start < count && !sourceEnded {
            let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
            if n == 0 { sourceEnded = true } else { end += n }
        }
        return end - start >= count
    }

    /// Refills when empty; returns the number of buffered bytes (0 at the end of the stream).
    private func available() throws -> Int {
        if end == start {
            start = 0
            end = 0
            while end == 0 && !sourceEnded {
                let n = try source.read(into: buffer)
                if n == 0 { sourceEnded = true } else { end = n }
            }
        }
        return end - start
    }

    private func consume(_ count: Int) {
        start += count
        offset += Int64(count)
    }

    /// Skips `count` bytes of the stream.
    private func skip(_ count: Int64) throws {
        var left = count
        while left > 0 {
            let n = try available()
            guard n > 0 else { throw LayerError.truncated(entry: currentName) }
            let step = Int(min(Int64(n), left))
            consume(step)
            left -= Int64(step)
        }
    }

    /// Hands the rest of the current entry's content to `body` in chunks (views into the reader's
    /// buffer, valid only during the call).
    public func readContent(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        while contentLeft > 0 {
            let n = try available()
            guard n > 0 else { throw LayerError.truncated(entry: currentName) }
            let step = Int(min(Int64(n), contentLeft))
            try body(UnsafeRawBufferPointer(rebasing: buffer[start..<(start + step)]))
            consume(step)
            contentLeft -= Int64(step)
        }
    }

    /// Copies up to `target.count` bytes of the current entry's content into `target`; 0 at the
    /// end of the content (pull-style, for ``TarContentSource``).
    public func readContent(into target: UnsafeMutableRawBufferPointer) throws -> Int {
        guard contentLeft > 0, let destination = target.baseAddress, target.count > 0 else { return 0 }
        let n = try available()
        guard n > 0 else { throw LayerError.truncated(entry: currentName) }
        let step = Int(min(Int64(min(n, target.count)), contentLeft))
        if let base = buffer.baseAddress { destination.copyMemory(from: base + start, byteCount: step) }
        consume(step)
        contentLeft -= Int64(step)
        return step
    }

    /// The content left in the current entry, in bytes.
    public var contentRemaining: Int64 { contentLeft }

    /// Reads the rest of the current entry's content into memory.
    public func readAllContent() throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Int(min(contentLeft, 1 << 24)))
        try readContent { out.append(contentsOf: $0) }
        return out
    }

    private func finishEntry() throws {
        try skip(contentLeft)
        contentLeft = 0
        try skip(paddingLeft)
        paddingLeft = 0
    }

    private static func padding(_ size: Int64) -> Int64 {
        let rest = size % Int64(TarHeader.blockSize)
        return rest == 0 ? 0 : Int64(TarHeader.blockSize) - rest
    }

    /// Reads a metadata entry's body (PAX records, GNU long name) of `size` bytes.
    private func readMetadata(size: Int64) throws -> [UInt8] {
        guard size <= Self.maximumMetadataSize else { throw LayerError.extendedHeaderTooLarge(size: size) }
        contentLeft = size
        paddingLeft = Self.padding(size)
        let data = try readAllContent()
        try finishEntry()
        return data
    }

    /// Advances to the next entry; `nil` at the end of the archive.
    public func next() throws -> TarEntry? {
        if atEnd { return nil }
        try finishEntry()
        currentName = nil
        var extended = ExtendedHeaders()
        while true {
            let blockOffset = offset
            guard try ensure(TarHeader.blockSize) else {
                // A stream that simply stops after whole entries (no end marker) is accepted as
                // GNU tar accepts it, unless an extended header announced an entry that never came.
                if end == start && extended.isEmpty {
                    atEnd = true
                    return nil
                }
                throw LayerError.truncated(entry: currentName)
            }
            let block = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + TarHeader.blockSize)])
            if TarHeader.isZero(block) {
                guard extended.isEmpty else {
                    throw LayerError.truncated(entry: currentName)
                }
                consume(TarHeader.blockSize)
                atEnd = true
                try drain()
                return nil
            }
            guard TarHeader.checksumMatches(block) else { throw LayerError.badChecksum(offset: blockOffset) }
            let format = TarHeader.format(block)
            let rawName = TarHeader.bytes(block, TarHeader.Field.name)
            let prefix = format == .ustar ? TarHeader.bytes(block, TarHeader.Field.prefix) : []
            let headerName = prefix.isEmpty ? rawName : prefix + [UInt8(ascii: "/")] + rawName
            currentName = String(decoding: extended.longName ?? headerName, as: UTF8.self)
            let typeFlag = block[TarHeader.Field.typeFlag]
            let size = try number(block, "size", TarHeader.Field.size)
            guard size >= 0 else { throw LayerError.badNumber(field: "size", entry: currentName) }

            if ExtendedHeaders.isExtendedHeader(typeFlag) {
                consume(TarHeader.blockSize)
                try extended.add(typeFlag, try readMetadata(size: size), entry: currentName)
                continue
            }
            return try entry(header: block, format: format, typeFlag: typeFlag, headerName: headerName,
                             size: size, extended: extended)
        }
    }

    /// What extended headers (PAX `x`, GNU long names `L` and long links `K`) said about the entry
    /// that follows them.
    private struct ExtendedHeaders {
        var pax: [(String, [UInt8])] = []
        var longName: [UInt8]?
        var longLink: [UInt8]?

        var isEmpty: Bool { pax.isEmpty && longName == nil && longLink == nil }

        static func isExtendedHeader(_ typeFlag: UInt8) -> Bool {
            switch typeFlag {
            case UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K"): return true
            default: return false
            }
        }

        /// Takes in one extended header's body; a global PAX header (`g`) is checked and ignored.
        mutating func add(_ typeFlag: UInt8, _ data: [UInt8], entry: String?) throws {
            switch typeFlag {
            case UInt8(ascii: "x"): pax += try TarHeader.parsePaxRecords(data, entry: entry)
            case UInt8(ascii: "g"): _ = try TarHeader.parsePaxRecords(data, entry: entry)
            case UInt8(ascii: "L"): longName = TarReader.trimNul(data)
            default: longLink = TarReader.trimNul(data)
            }
        }
    }

    /// A numeric header field; a bad one is a `badNumber` error naming the field.
    private func number(_ block: UnsafeRawBufferPointer, _ field: String, _ range: Range<Int>) throws -> Int64 {
        do { return try TarHeader.parseNumber(block, range) } catch {
            throw LayerError.badNumber(field: field, entry: currentName)
        }
    }

    /// The entry a (non-extended) header block describes, with what extended headers said applied;
    /// leaves the reader at the entry's content.
    private func entry(header block: UnsafeRawBufferPointer, format: TarHeader.Format, typeFlag: UInt8,
                       headerName: [UInt8], size headerSize: Int64, extended: ExtendedHeaders) throws -> TarEntry {
        var nameBytes = extended.longName ?? headerName
        let kind = try entryKind(typeFlag, name: nameBytes)
        var linkBytes = extended.longLink ?? TarHeader.bytes(block, TarHeader.Field.linkName)
        var entry = try headerFields(block, format: format, kind: kind)
        var size = headerSize
        try applyPax(extended.pax, to: &entry, name: &nameBytes, link: &linkBytes, size: &size)
        guard let path = String(validating: nameBytes, as: UTF8.self), !path.isEmpty, !nameBytes.contains(0) else {
            throw LayerError.invalidName(String(decoding: nameBytes, as: UTF8.self))
        }
        guard let link = String(validating: linkBytes, as: UTF8.self), !linkBytes.contains(0) else {
            throw LayerError.invalidName(path + " -> " + String(decoding: linkBytes, as: UTF8.self))
        }
        entry.path = path
        entry.linkTarget = link
        currentName = path
        // Only regular files carry content; for the other kinds a size is data to skip.
        consume(TarHeader.blockSize)
        contentLeft = size
        paddingLeft = Self.padding(size)
        entry.size = kind == .regular ? size : 0
        if kind != .regular { try finishEntry() }
        if (kind == .symlink || kind == .hardLink) && link.isEmpty {
            throw LayerError.invalidName("\(path): empty link target")
        }
        return entry
    }

    /// The kind a type flag stands for.
    private func entryKind(_ typeFlag: UInt8, name: [UInt8]) throws -> TarEntryKind {
        switch typeFlag {
        // v7 archives mark directories by a trailing slash on a regular entry.
        case 0 where name.last == UInt8(ascii: "/"): return .directory
        case UInt8(ascii: "0"), 0, UInt8(ascii: "7"): return .regular
        case UInt8(ascii: "1"): return .hardLink
        case UInt8(ascii: "2"): return .symlink
        case UInt8(ascii: "3"): return .characterDevice
        case UInt8(ascii: "4"): return .blockDevice
        case UInt8(ascii: "5"): return .directory
        case UInt8(ascii: "6"): return .fifo
        default: throw LayerError.unsupportedEntryType(typeFlag, entry: currentName ?? "")
        }
    }

    /// The metadata a header block holds: mode, owner, time, and for ustar and GNU the owner's
    /// names and device numbers.
    private func headerFields(_ block: UnsafeRawBufferPointer, format: TarHeader.Format,
                              kind: TarEntryKind) throws -> TarEntry {
        var entry = TarEntry(path: "", kind: kind)
        entry.mode = UInt32(truncatingIfNeeded: try number(block, "mode", TarHeader.Field.mode) & 0o7777)
        entry.uid = try number(block, "uid", TarHeader.Field.uid)
        entry.gid = try number(block, "gid", TarHeader.Field.gid)
        entry.modificationTime = try number(block, "mtime", TarHeader.Field.mtime)
        if format != .v7 {
            entry.userName = String(decoding: TarHeader.bytes(block, TarHeader.Field.userName), as: UTF8.self)
            entry.groupName = String(decoding: TarHeader.bytes(block, TarHeader.Field.groupName), as: UTF8.self)
            if kind == .characterDevice || kind == .blockDevice {
                let major = try number(block, "devmajor", TarHeader.Field.deviceMajor)
                let minor = try number(block, "devminor", TarHeader.Field.deviceMinor)
                guard let mj = UInt32(exactly: major), let mn = UInt32(exactly: minor) else {
                    throw LayerError.badNumber(field: "devmajor/devminor", entry: currentName)
                }
                entry.deviceMajor = mj
                entry.deviceMinor = mn
            }
        }
        return entry
    }

    /// Applies PAX records, which override the header's fields.
    private func applyPax(_ pax: [(String, [UInt8])], to entry: inout TarEntry, name nameBytes: inout [UInt8],
                          link linkBytes: inout [UInt8], size: inout Int64) throws {
        for (key, value) in pax {
            let text = String(decoding: value, as: UTF8.self)
            switch key {
            case "path": nameBytes = value
            case "linkpath": linkBytes = value
            case "size": size = try Self.paxInteger(text, key, currentName)
            case "uid": entry.uid = try Self.paxInteger(text, key, currentName)
            case "gid": entry.gid = try Self.paxInteger(text, key, currentName)
            case "uname": entry.userName = text
            case "gname": entry.groupName = text
            case "mtime":
                (entry.modificationTime, entry.modificationNanoseconds) = try Self.paxTime(text, currentName)
            default:
                if key.hasPrefix("SCHILY.xattr.") {
                    entry.extendedAttributes[String(key.dropFirst("SCHILY.xattr.".count))] = value
                }
            }
        }
    }

    /// After the end marker: read the rest of the stream so that a compressed stream's trailer
    /// (and its checksum) is verified.
    private func drain() throws {
        start = end
        while try available() > 0 { start = end }
    }

    private static func trimNul(_ bytes: [UInt8]) -> [UInt8] {
        if let nul = bytes.firstIndex(of: 0) { return Array(bytes[..<nul]) }
        return bytes
    }

    private static func paxInteger(_ text: String, _ key: String, _ entry: String?) throws -> Int64 {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let value = Int64(text)
        else { throw LayerError.badExtendedHeader("bad \(key) \(text)", entry: entry) }
        return value
    }

    private static func paxTime(_ text: String, _ entry: String?) throws -> (Int64, UInt32) {
        var body = Substring(text)
        var negative = false
        if body.hasPrefix("-") { negative = true; body = body.dropFirst() }
        let parts = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let secondsText = parts.first, !secondsText.isEmpty,
              secondsText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let seconds = Int64(secondsText)
        else { throw LayerError.badExtendedHeader("bad mtime \(text)", entry: entry) }
        var nanos: UInt32 = 0
        if parts.count == 2 {
            let fraction = parts[1]
            guard fraction.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                throw LayerError.badExtendedHeader("bad mtime \(text)", entry: entry)
            }
            let digits = String((fraction + "000000000").prefix(9))
            nanos = UInt32(digits) ?? 0
        }
        if negative {
            // -1.25 is 1.25 s before the epoch: seconds -2, nanoseconds 0.75e9.
            if nanos > 0 { return (-seconds - 1, 1_000_000_000 - nanos) }
            return (-seconds, 0)
        }
        return (seconds, nanos)
    }
}

/// The content of a tar reader's current entry as a ``ByteSource``, so that a member of an
/// archive can be streamed (and un-gzipped) without being held in memory.
public final class TarContentSource: ByteSource {
    private let reader: TarReader

    /// Reads the current entry of `reader`, until its end.
    public init(_ reader: TarReader) { self.reader = reader }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try reader.readContent(into: buffer)
    }
}
