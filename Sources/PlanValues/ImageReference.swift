/// A parsed, normalised image reference, as Docker reads one:
/// `busybox` → `docker.io/library/busybox:latest`,
/// `127.0.0.1:5555/plan-test/busybox:stable`,
/// `ghcr.io/o/r@sha256:…`, `localhost/app:1`, `name:tag@sha256:…`.
///
/// The first path component is a registry when it contains `.` or `:`, is `localhost`, or
/// has uppercase letters; otherwise the registry is `docker.io`, where a single-component
/// name gets the `library/` prefix. `index.docker.io` is spelled `docker.io`. Without a tag
/// or digest the tag is `latest`.
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
    /// The registry, normalised: `docker.io`, `ghcr.io`, `127.0.0.1:5555`, `localhost`.
    public let registry: String
    /// The repository path inside the registry: `library/busybox`, `plan-test/busybox`.
    public let repository: String
    /// The tag; `latest` when neither a tag nor a digest was given; nil for a digest-only reference.
    public let tag: String?
    /// The digest, when the reference pins one.
    public let digest: Digest?

    /// Docker Hub's canonical registry name.
    public static let dockerHub = "docker.io"

    /// Makes a reference from parts that are already valid and normalised.
    public init(registry: String, repository: String, tag: String? = nil, digest: Digest? = nil) {
        self.registry = registry
        self.repository = repository
        self.tag = (tag == nil && digest == nil) ? "latest" : tag
        self.digest = digest
    }

    /// The normalised reference: `registry/repository[:tag][@digest]`.
    public var description: String {
        var s = "\(registry)/\(repository)"
        if let tag { s += ":\(tag)" }
        if let digest { s += "@\(digest)" }
        return s
    }

    /// `registry/repository`, without tag or digest.
    public var name: String { "\(registry)/\(repository)" }

    /// The tag or digest to ask the registry for: the digest when there is one (it wins over a tag).
    public var manifestReference: String { digest?.description ?? tag ?? "latest" }

    /// The host (and port) to send registry API requests to: `registry-1.docker.io` for Docker Hub.
    public var apiHost: String { registry == Self.dockerHub ? "registry-1.docker.io" : registry }

    /// The same repository at another tag or digest.
    public func with(tag: String? = nil, digest: Digest? = nil) -> ImageReference {
        ImageReference(registry: registry, repository: repository, tag: tag, digest: digest)
    }

    /// Parses and normalises a reference; throws an error that says what is wrong and where.
    public init(parsing text: String) throws(ImageReferenceError) {
        let chars = Array(text)
        func fail(_ offset: Int, _ reason: ImageReferenceError.Reason) -> ImageReferenceError {
            ImageReferenceError(reference: text, offset: offset, reason: reason)
        }
        guard !chars.isEmpty else { throw fail(0, .empty) }
        if let i = chars.firstIndex(where: { $0.isWhitespace || $0.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f } }) {
            throw fail(i, .invalidCharacter(chars[i]))
        }

        // name [":" tag] ["@" digest]
        var nameEnd = chars.count
        var digest: Digest?
        if let at = chars.firstIndex(of: "@") {
            let digestText = String(chars[(at + 1)...])
            do {
                digest = try Digest(parsing: digestText)
            } catch {
                throw fail(at + 1, .invalidDigest(error))
            }
            nameEnd = at
        }
        var tag: String?
        let lastSlash = chars[..<nameEnd].lastIndex(of: "/") ?? -1
        if let colon = chars[..<nameEnd].lastIndex(of: ":"), colon > lastSlash {
            let tagChars = chars[(colon + 1)..<nameEnd]
            try Self.validateTag(tagChars, at: colon + 1, fail: fail)
            tag = String(tagChars)
            nameEnd = colon
        }
        guard nameEnd > 0 else { throw fail(0, .missingName) }
        let nameChars = Array(chars[..<nameEnd])

        // Split off the registry the way Docker's splitDockerDomain does.
        var registry = Self.dockerHub
        var pathStart = 0
        if let slash = nameChars.firstIndex(of: "/") {
            let first = String(nameChars[..<slash])
            if first.contains(".") || first.contains(":") || first == "localhost" || first.lowercased() != first {
                try Self.validateRegistry(Array(first), fail: fail)
                registry = first == "index.docker.io" ? Self.dockerHub : first
                pathStart = slash + 1
            }
        }
        let pathChars = Array(nameChars[pathStart...])
        guard !pathChars.isEmpty else { throw fail(pathStart, .missingName) }
        try Self.validatePath(pathChars, at: pathStart, fail: fail)
        var repository = String(pathChars)
        if registry == Self.dockerHub && !repository.contains("/") {
            repository = "library/" + repository
        }
        let fullName = registry + "/" + repository
        guard fullName.count <= 255 else { throw fail(0, .nameTooLong(fullName.count)) }
        if pathStart == 0 && tag == nil && digest == nil && pathChars.count == 64
            && pathChars.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) {
            throw fail(0, .hexadecimalName)
        }
        self.init(registry: registry, repository: repository, tag: tag, digest: digest)
    }

    private static func validateTag(
        _ tag: ArraySlice<Character>, at start: Int, fail: (Int, ImageReferenceError.Reason) -> ImageReferenceError
    ) throws(ImageReferenceError) {
        guard let first = tag.first else { throw fail(start, .emptyTag) }
        guard tag.count <= 128 else { throw fail(start, .tagTooLong(tag.count)) }
        func word(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || c == "_") }
        guard word(first) else { throw fail(start, .invalidTagCharacter(first)) }
        for (i, c) in tag.enumerated() where !(word(c) || c == "." || c == "-") {
            throw fail(start + i, .invalidTagCharacter(c))
        }
    }

    private static func validateRegistry(
        _ host: [Character], fail: (Int, ImageReferenceError.Reason) -> ImageReferenceError
    ) throws(ImageReferenceError) {
        var hostEnd = host.count
        if host.first == "[" {  // [IPv6]:port
            guard let close = host.firstIndex(of: "]") else { throw fail(0, .invalidRegistry("unclosed \"[\" in IPv6 address")) }
            for (i, c) in host[1..<close].enumerated() where !(c.isHexDigit || c == ":") {
                throw fail(1 + i, .invalidRegistry("\"\(c)\" in an IPv6 address"))
            }
            hostEnd = close + 1
            if hostEnd < host.count && host[hostEnd] != ":" {
                throw fail(hostEnd, .invalidRegistry("expected \":PORT\" after \"]\""))
            }
        } else if let colon = host.firstIndex(of: ":") {
            hostEnd = colon
        }
        if host.first != "[" {
            guard hostEnd > 0 else { throw fail(0, .invalidRegistry("empty host name")) }
            var componentStart = 0
            for i in 0...hostEnd {
                if i == hostEnd || host[i] == "." {
                    let component = host[componentStart..<i]
                    guard let f = component.first, let l = component.last else {
                        throw fail(i, .invalidRegistry("empty component in host name"))
                    }
                    if f == "-" || l == "-" {
                        throw fail(f == "-" ? componentStart : i - 1, .invalidRegistry("a host name component cannot start or end with \"-\""))
                    }
                    componentStart = i + 1
                } else if !(host[i].isASCII && (host[i].isLetter || host[i].isNumber || host[i] == "-")) {
                    throw fail(i, .invalidRegistry("\"\(host[i])\" is not allowed in a host name"))
                }
            }
        }
        if hostEnd < host.count {  // ":port"
            let port = host[(hostEnd + 1)...]
            guard !port.isEmpty else { throw fail(hostEnd + 1, .invalidPort("")) }
            if let bad = port.firstIndex(where: { !($0.isASCII && $0.isNumber) }) {
                throw fail(bad, .invalidPort(String(port)))
            }
            guard let n = Int(String(port)), (1...65535).contains(n) else { throw fail(hostEnd + 1, .invalidPort(String(port))) }
        }
    }

    /// path-component ('/' path-component)*, path-component = [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*
    private static func validatePath(
        _ path: [Character], at start: Int, fail: (Int, ImageReferenceError.Reason) -> ImageReferenceError
    ) throws(ImageReferenceError) {
        func alnum(_ c: Character) -> Bool { c.isASCII && (c.isNumber || (c.isLetter && c.isLowercase)) }
        var i = 0
        var componentStart = 0
        while i <= path.count {
            if i == path.count || path[i] == "/" {
                if i == componentStart { throw fail(start + i, .emptyPathComponent) }
                let component = path[componentStart..<i]
                if let at = component.firstIndex(where: { $0.isLetter && $0.isUppercase }) {
                    throw fail(start + at, .uppercaseRepository)
                }
                if let f = component.first, !alnum(f) {
                    throw fail(start + componentStart, .invalidPathComponent(String(component), "must start with a lowercase letter or digit"))
                }
                if let l = component.last, !alnum(l) {
                    throw fail(start + i - 1, .invalidPathComponent(String(component), "must end with a lowercase letter or digit"))
                }
                // separators: ".", "_", "__", or one or more "-"
                var j = componentStart
                while j < i {
                    if alnum(path[j]) { j += 1; continue }
                    let sepStart = j
                    while j < i && !alnum(path[j]) { j += 1 }
                    let sep = String(path[sepStart..<j])
                    let ok = sep == "." || sep == "_" || sep == "__" || sep.allSatisfy { $0 == "-" }
                    if !ok {
                        if let at = path[sepStart..<j].firstIndex(where: { $0 != "." && $0 != "_" && $0 != "-" }) {
                            let bad = path[at]
                            throw fail(start + at, bad.isLetter && bad.isUppercase ? .uppercaseRepository : .invalidCharacter(bad))
                        }
                        throw fail(start + sepStart, .invalidPathComponent(String(component), "separator \"\(sep)\" is not allowed (use \".\", \"_\", \"__\" or dashes)"))
                    }
                }
                componentStart = i + 1
            }
            i += 1
        }
    }
}

/// Why an image reference is not valid, and where in it.
public struct ImageReferenceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong.
    public enum Reason: Equatable, Sendable {
        /// The reference is empty.
        case empty
        /// There is a tag or digest but no name before it.
        case missingName
        /// A character that may not appear there.
        case invalidCharacter(Character)
        /// Uppercase letters in the repository path.
        case uppercaseRepository
        /// `a//b` or a trailing `/`.
        case emptyPathComponent
        /// A path component that breaks the grammar (component, why).
        case invalidPathComponent(String, String)
        /// `name:` with nothing after the colon.
        case emptyTag
        /// A tag longer than 128 characters.
        case tagTooLong(Int)
        /// A character not allowed in a tag (`[A-Za-z0-9_.-]`, not starting with `.` or `-`).
        case invalidTagCharacter(Character)
        /// The digest after `@` is invalid.
        case invalidDigest(DigestError)
        /// The registry host is invalid (why).
        case invalidRegistry(String)
        /// The registry port is not a number in 1…65535.
        case invalidPort(String)
        /// The name is longer than 255 characters.
        case nameTooLong(Int)
        /// A bare 64-hex-digit name, which Docker reserves for image IDs.
        case hexadecimalName
    }

    /// The reference text that was parsed.
    public let reference: String
    /// The 0-based character offset in ``reference`` where the problem is.
    public let offset: Int
    /// What is wrong.
    public let reason: Reason

    public var description: String {
        "invalid image reference \"\(reference)\" at column \(offset + 1): \(problem)"
    }

    /// What is wrong, without the reference and the column.
    public var problem: String {
        let what: String
        switch reason {
        case .empty: what = "the reference is empty"
        case .missingName: what = "missing image name"
        case .invalidCharacter(let c): what = "character \(Self.quote(c)) is not allowed here"
        case .uppercaseRepository: what = "repository name must be lowercase"
        case .emptyPathComponent: what = "empty path component (\"//\" or a trailing \"/\")"
        case .invalidPathComponent(let c, let why): what = "path component \"\(c)\" \(why)"
        case .emptyTag: what = "empty tag after \":\""
        case .tagTooLong(let n): what = "tag is \(n) characters long; at most 128 are allowed"
        case .invalidTagCharacter(let c):
            what = "character \(Self.quote(c)) is not allowed in a tag (letters, digits, \"_\", \".\", \"-\"; not first \".\" or \"-\")"
        case .invalidDigest(let e): what = e.description
        case .invalidRegistry(let why): what = "invalid registry: \(why)"
        case .invalidPort(let p): what = "invalid registry port \"\(p)\" (1-65535)"
        case .nameTooLong(let n): what = "name is \(n) characters long; at most 255 are allowed"
        case .hexadecimalName: what = "a 64-digit hexadecimal name is reserved for image IDs"
        }
        return what
    }

    private static func quote(_ c: Character) -> String {
        c.isASCII && !c.isWhitespace ? "\"\(c)\"" : "U+" + String(c.unicodeScalars.first.map { $0.value } ?? 0, radix: 16, uppercase: true)
    }
}
