import PlanOCI

/// Where `--cache-from` reads and `--cache-to` writes build cache entries, and how: the one parser of
/// both options' values, in BuildKit's spelling.
///
/// - `type=registry,ref=REF`: an OCI index at `REF` in a registry (one manifest per entry).
/// - `type=local,dest=PATH` (`--cache-to`), `type=local,src=PATH` (`--cache-from`), or plan's own
///   `dir=PATH` (either): an OCI image layout in a folder.
///
/// Options: `mode=min|max` (`--cache-to`; plan exports every entry the build used either way, which is
/// BuildKit's `max`), `ignore-error=true` (`--cache-to`: a failed export is a warning), `mounts=true`
/// (`--cache-to`: also export the contents of the plan's `cache:` mounts; `--cache-from`: `mounts=false`
/// restores none) and `mounts-max-size=SIZE` (bytes, or with a `k`, `m` or `g` suffix; default 1g).
public struct CacheTransport: Hashable, Sendable, CustomStringConvertible {
    /// Where the entries are.
    public enum Location: Hashable, Sendable {
        /// An OCI image layout folder.
        case directory(String)
        /// An OCI index in a registry.
        case registry(ImageReference)
    }

    /// Which option the value is for.
    public enum Direction: String, Sendable {
        case from = "--cache-from"
        case to = "--cache-to"
    }

    public var location: Location
    /// `--cache-to`: also export the plan's `cache:` mounts. `--cache-from`: restore the mounts found
    /// (the default; `mounts=false` restores none).
    public var mounts: Bool
    /// A cache mount holding more bytes than this is not exported (a warning names it).
    public var mountsMaxSize: Int64
    /// `--cache-to`: a failed export is a warning, not an error.
    public var ignoreError: Bool

    /// 1 GiB.
    public static let defaultMountsMaxSize: Int64 = 1 << 30

    public init(location: Location, mounts: Bool = false, mountsMaxSize: Int64 = defaultMountsMaxSize, ignoreError: Bool = false) {
        self.location = location
        self.mounts = mounts
        self.mountsMaxSize = mountsMaxSize
        self.ignoreError = ignoreError
    }

    /// A bad value, naming the option.
    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    /// Parses a `--cache-from` or `--cache-to` value.
    public init(parsing text: String, direction: Direction) throws(ParseError) {
        let option = direction.rawValue
        func fail(_ why: String) -> ParseError { ParseError(description: "\(option) \(text): \(why)") }
        var fields: [String: String] = [:]
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, !pair[0].isEmpty, !pair[1].isEmpty else {
                throw fail("`\(part)` is not KEY=VALUE; expected type=registry,ref=REF, type=local,"
                           + (direction == .to ? "dest" : "src") + "=PATH or dir=PATH")
            }
            guard fields.updateValue(pair[1], forKey: pair[0]) == nil else { throw fail("`\(pair[0])=` is given twice") }
        }
        func flag(_ key: String) throws(ParseError) -> Bool? {
            guard let value = fields.removeValue(forKey: key) else { return nil }
            guard let flag = Bool(value) else { throw fail("\(key)=\(value) is not true or false") }
            return flag
        }
        let type = fields.removeValue(forKey: "type") ?? (fields["dir"] != nil ? "local" : nil)
        switch type {
        case "registry":
            guard let ref = fields.removeValue(forKey: "ref") else { throw fail("type=registry needs ref=REF (the cache's image reference)") }
            do {
                location = .registry(try ImageReference(parsing: ref))
            } catch {
                throw fail("ref=\(ref) is not an image reference: \(error)")
            }
        case "local":
            let wanted = direction == .to ? "dest" : "src"
            let other = direction == .to ? "src" : "dest"
            if fields[other] != nil {
                throw fail("\(other)= is for \(direction == .to ? "--cache-from" : "--cache-to"); \(option) type=local takes \(wanted)=PATH")
            }
            let paths = [fields.removeValue(forKey: wanted), fields.removeValue(forKey: "dir")].compactMap { $0 }
            guard paths.count == 1, let path = paths.first else {
                throw fail(paths.isEmpty ? "type=local needs \(wanted)=PATH" : "give either \(wanted)= or dir=, not both")
            }
            location = .directory(path)
        case nil:
            throw fail("expected type=registry,ref=REF, type=local,\(direction == .to ? "dest" : "src")=PATH or dir=PATH")
        case let type?:
            throw fail("type=\(type) is not a cache type plan supports (registry, local)")
        }

        mounts = direction == .from
        mountsMaxSize = Self.defaultMountsMaxSize
        ignoreError = false
        if let value = try flag("mounts") { mounts = value }
        // --cache-to: larger mounts are not exported; --cache-from: larger mount entries are not fetched.
        if let value = fields.removeValue(forKey: "mounts-max-size") {
            guard let size = Self.byteCount(value) else {
                throw fail("mounts-max-size=\(value) is not a size (bytes, or a number with k, m or g)")
            }
            mountsMaxSize = size
        }
        if direction == .to {
            if let value = fields.removeValue(forKey: "mode"), value != "min", value != "max" {
                throw fail("mode=\(value) is not min or max")
            }
            if let value = try flag("ignore-error") { ignoreError = value }
            if try flag("oci-mediatypes") == false {
                throw fail("oci-mediatypes=false: plan's cache uses OCI media types only")
            }
            for key in ["image-manifest", "compression", "compression-level", "force-compression"] where fields[key] != nil {
                throw fail(key == "image-manifest"
                    ? "image-manifest= is not supported: plan's cache is an OCI index of one manifest per entry"
                    : "\(key)= is not supported: plan's cache holds step layers as it stores them (uncompressed tar)")
            }
        }
        if let unknown = fields.keys.sorted().first {
            let known = direction == .to
                ? "type, ref, dest, dir, mode, ignore-error, mounts, mounts-max-size, oci-mediatypes"
                : "type, ref, src, dir, mounts, mounts-max-size"
            throw fail("unknown key `\(unknown)` (\(option) takes \(known))")
        }
    }

    /// `1024`, `512k`, `100m`, `1g` (binary multiples, either case) → bytes.
    static func byteCount(_ text: String) -> Int64? {
        var digits = Substring(text)
        var shift: Int64 = 0
        switch digits.last?.lowercased() {
        case "k": shift = 10
        case "m": shift = 20
        case "g": shift = 30
        default: break
        }
        if shift > 0 { digits = digits.dropLast() }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int64(digits),
              number <= Int64.max >> shift else { return nil }
        return number << shift
    }

    /// The place as messages name it: the folder, or the reference.
    public var description: String {
        switch location {
        case .directory(let path): path
        case .registry(let reference): reference.description
        }
    }
}
