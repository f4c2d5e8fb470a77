import Testing

@testable import PlanOCI

@Suite("Image references")
struct ImageReferenceTests {
    static let hex = String(repeating: "ab", count: 32)

    /// input → (registry, repository, tag, digest, normalised text)
    static let valid: [(String, String, String, String?, String?, String)] = [
        ("busybox", "docker.io", "library/busybox", "latest", nil, "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", nil, "docker.io/library/busybox:1.36"),
        ("library/busybox", "docker.io", "library/busybox", "latest", nil, "docker.io/library/busybox:latest"),
        ("docker.io/busybox", "docker.io", "library/busybox", "latest", nil, "docker.io/library/busybox:latest"),
        ("index.docker.io/busybox", "docker.io", "library/busybox", "latest", nil, "docker.io/library/busybox:latest"),
        ("index.docker.io/user/app:v1", "docker.io", "user/app", "v1", nil, "docker.io/user/app:v1"),
        ("user/app", "docker.io", "user/app", "latest", nil, "docker.io/user/app:latest"),
        ("ghcr.io/owner/repo/sub:tag_1.0-rc", "ghcr.io", "owner/repo/sub", "tag_1.0-rc", nil, "ghcr.io/owner/repo/sub:tag_1.0-rc"),
        ("127.0.0.1:5555/plan-test/busybox:stable", "127.0.0.1:5555", "plan-test/busybox", "stable", nil, "127.0.0.1:5555/plan-test/busybox:stable"),
        ("localhost/app", "localhost", "app", "latest", nil, "localhost/app:latest"),
        ("localhost:5000/a/b:c", "localhost:5000", "a/b", "c", nil, "localhost:5000/a/b:c"),
        ("registry.example.com:443/x", "registry.example.com:443", "x", "latest", nil, "registry.example.com:443/x:latest"),
        ("[::1]:5000/app:1", "[::1]:5000", "app", "1", nil, "[::1]:5000/app:1"),
        ("a/b_c__d-e--f.g", "docker.io", "a/b_c__d-e--f.g", "latest", nil, "docker.io/a/b_c__d-e--f.g:latest"),
        ("busybox@sha256:\(hex)", "docker.io", "library/busybox", nil, "sha256:\(hex)", "docker.io/library/busybox@sha256:\(hex)"),
        ("busybox:1.36@sha256:\(hex)", "docker.io", "library/busybox", "1.36", "sha256:\(hex)", "docker.io/library/busybox:1.36@sha256:\(hex)"),
        ("h:1/p@sha256:\(hex)", "h:1", "p", nil, "sha256:\(hex)", "h:1/p@sha256:\(hex)"),
        ("UPPER.example/lower", "UPPER.example", "lower", "latest", nil, "UPPER.example/lower:latest"),
        ("x:" + String(repeating: "t", count: 128), "docker.io", "library/x", String(repeating: "t", count: 128), nil,
         "docker.io/library/x:" + String(repeating: "t", count: 128)),
    ]

    @Test("valid references normalise like Docker", arguments: 0..<valid.count)
    func validReference(_ i: Int) throws {
        let (input, registry, repository, tag, digest, text) = Self.valid[i]
        let ref = try ImageReference(parsing: input)
        #expect(ref.registry == registry, "\(input)")
        #expect(ref.repository == repository, "\(input)")
        #expect(ref.tag == tag, "\(input)")
        #expect(ref.digest?.description == digest, "\(input)")
        #expect(ref.description == text, "\(input)")
        // The normalised form parses back to the same reference.
        #expect(try ImageReference(parsing: ref.description) == ref)
    }

    /// input → (0-based offset, reason)
    static let invalid: [(String, Int, ImageReferenceError.Reason)] = [
        ("", 0, .empty),
        (":tag", 0, .missingName),
        ("Busybox", 0, .uppercaseRepository),
        ("library/busyBox", 12, .uppercaseRepository),
        ("busy box", 4, .invalidCharacter(" ")),
        ("a//b", 2, .emptyPathComponent),
        ("a/", 2, .emptyPathComponent),
        ("-a", 0, .invalidPathComponent("-a", "must start with a lowercase letter or digit")),
        ("a-", 1, .invalidPathComponent("a-", "must end with a lowercase letter or digit")),
        ("a..b", 1, .invalidPathComponent("a..b", "separator \"..\" is not allowed (use \".\", \"_\", \"__\" or dashes)")),
        ("a___b", 1, .invalidPathComponent("a___b", "separator \"___\" is not allowed (use \".\", \"_\", \"__\" or dashes)")),
        ("a/b$c", 3, .invalidCharacter("$")),
        ("busybox:", 8, .emptyTag),
        ("busybox:-x", 8, .invalidTagCharacter("-")),
        ("busybox:a+b", 9, .invalidTagCharacter("+")),
        ("busybox:" + String(repeating: "t", count: 129), 8, .tagTooLong(129)),
        ("busybox@sha256:abc", 8, .invalidDigest(DigestError(text: "sha256:abc", reason: .wrongLength(algorithm: "sha256", expected: 64, found: 3)))),
        ("busybox@md5:\(hex)", 8, .invalidDigest(DigestError(text: "md5:\(hex)", reason: .unsupportedAlgorithm("md5")))),
        ("busybox@sha256:" + String(repeating: "AB", count: 32), 8,
         .invalidDigest(DigestError(text: "sha256:" + String(repeating: "AB", count: 32), reason: .invalidHexCharacter("A", offset: 7)))),
        ("busybox@", 8, .invalidDigest(DigestError(text: "", reason: .missingAlgorithm))),
        ("host:99999/app", 5, .invalidPort("99999")),
        ("host:12a/app", 7, .invalidPort("12a")),
        ("host:/app", 5, .invalidPort("")),
        ("-bad.host/app", 0, .invalidRegistry("a host name component cannot start or end with \"-\"")),
        ("bad_host.io/app", 3, .invalidRegistry("\"_\" is not allowed in a host name")),
        ("a..io/app", 2, .invalidRegistry("empty component in host name")),
        (String(repeating: "ab", count: 32), 0, .hexadecimalName),
        ("r.io/" + String(repeating: "a", count: 260), 0, .nameTooLong(265)),
    ]

    @Test("invalid references say what is wrong and where", arguments: 0..<invalid.count)
    func invalidReference(_ i: Int) {
        let (input, offset, reason) = Self.invalid[i]
        #expect {
            try ImageReference(parsing: input)
        } throws: { error in
            guard let e = error as? ImageReferenceError else { return false }
            #expect(e.reason == reason, "\(input): \(e)")
            #expect(e.offset == offset, "\(input): \(e)")
            #expect(e.description.contains("column \(offset + 1)"))
            return e.reference == input
        }
    }

    @Test("error text names the reference, the column and the problem")
    func errorText() {
        let e = #expect(throws: ImageReferenceError.self) { try ImageReference(parsing: "127.0.0.1:5555/Plan/app") }
        #expect(e?.description == "invalid image reference \"127.0.0.1:5555/Plan/app\" at column 16: repository name must be lowercase")
    }

    @Test("digest validation")
    func digests() throws {
        let d = try Digest(parsing: "sha256:\(Self.hex)")
        #expect(d.algorithm == "sha256" && d.encoded == Self.hex)
        #expect(Digest.sha256(of: Array("abc".utf8)).description == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(throws: DigestError.self) { try Digest(parsing: "sha256") }
        #expect(throws: DigestError.self) { try Digest(parsing: "sha512:\(Self.hex)") }
        #expect(try Digest(parsing: "sha512:" + Self.hex + Self.hex).algorithm == "sha512")
    }

    @Test("manifest reference prefers the digest; apiHost maps Docker Hub")
    func requestParts() throws {
        let r = try ImageReference(parsing: "busybox:1@sha256:\(Self.hex)")
        #expect(r.manifestReference == "sha256:\(Self.hex)")
        #expect(r.apiHost == "registry-1.docker.io")
        #expect(try ImageReference(parsing: "127.0.0.1:5555/a").apiHost == "127.0.0.1:5555")
    }
}
