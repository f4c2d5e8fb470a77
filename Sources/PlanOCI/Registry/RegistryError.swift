import Foundation

/// Errors of registry access and pulls.
public enum RegistryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The registry said 401 even after authenticating (registry, detail).
    case unauthorized(String, String)
    /// The registry wants credentials and none are configured for it (registry, scheme).
    case credentialsRequired(String, String)
    /// The token endpoint refused or answered badly (realm URL, detail).
    case tokenRequestFailed(String, String)
    /// An authentication challenge this client does not understand.
    case unsupportedChallenge(String)
    /// The registry does not have it (what, URL).
    case notFound(String, String)
    /// The registry answered with an unexpected status (method, URL, status, body excerpt).
    case unexpectedStatus(String, String, Int, String)
    /// Still failing after the retry budget was used (URL, attempts, last failure).
    case retriesExhausted(String, Int, String)
    /// The connection failed (URL, error).
    case transport(String, String)
    /// Content whose digest is not what was asked for (what, expected, actual); nothing was stored.
    case digestMismatch(String, Digest, Digest)
    /// A manifest or index with an unexpected or unsupported media type (media type, URL).
    case unsupportedMediaType(String, String)
    /// No manifest for the platform in the image index (reference, wanted, available).
    case noMatchingPlatform(String, Platform, [Platform])
    /// A document could not be decoded (what, why).
    case invalidDocument(String, String)
    /// Registry credentials could not be had (the `config.json` path, or the credential helper
    /// `docker-credential-NAME`; why).
    case credentials(String, String)
    /// The local content store failed.
    case store(ContentStoreError)
    /// A response was larger than allowed (URL or what, limit).
    case tooLarge(String, Int)
    /// Nothing listens at the registry's address (host:port, URL).
    case connectionRefused(String, String)
    /// A registry spoken to over HTTPS answered in plain HTTP (host:port).
    case plainHTTP(String)
    /// The TLS handshake with the registry failed for another reason (host:port, why).
    case tlsFailed(String, String)
    /// The registry refused to take what was pushed (what, reference, HTTP status, what the registry said).
    case pushRejected(String, String, Int, String)

    public var description: String {
        switch self {
        case .unauthorized(let r, let d): return "authentication to \(r) failed: \(d)"
        case .credentialsRequired(let r, let s):
            return "\(r) requires \(s) authentication and no credentials for it were found "
                + "(docker config.json: auths, credHelpers, credsStore)"
        case .tokenRequestFailed(let realm, let d): return "token request to \(realm) failed: \(d)"
        case .unsupportedChallenge(let c): return "unsupported WWW-Authenticate challenge: \(c)"
        case .notFound(let what, let url): return "\(what) not found (\(url))"
        case .unexpectedStatus(let m, let url, let s, let body):
            return "\(m) \(url): HTTP \(s)" + (body.isEmpty ? "" : ": \(Self.registrySays(body))")
        case .retriesExhausted(let url, let n, let last): return "\(url): giving up after \(n) attempts; last: \(last)"
        case .transport(let url, let e): return "\(url): \(e)"
        case .digestMismatch(let what, let e, let a):
            return "\(what): digest mismatch: expected \(e), got \(a); nothing was stored"
        case .unsupportedMediaType(let t, let url): return "unsupported media type \"\(t)\" from \(url)"
        case .noMatchingPlatform(let ref, let want, let have):
            let list = have.isEmpty ? "none" : have.map(\.description).joined(separator: ", ")
            return "\(ref): no manifest for platform \(want) (the index has: \(list))"
        case .invalidDocument(let what, let why): return "invalid \(what): \(why)"
        case .credentials(let path, let why): return "cannot use registry credentials from \(path): \(why)"
        case .store(let e): return e.description
        case .tooLarge(let url, let limit): return "\(url): larger than the limit of \(limit) bytes; refused"
        case .connectionRefused(let host, let url):
            return "\(url): connection to \(host) refused: nothing listens there (is the registry running, and is the port right?)"
        case .plainHTTP(let host):
            return "\(host) answered plain HTTP to a TLS handshake; it is an insecure registry: "
                + "pass --insecure-registry \(host) to talk plain HTTP to it"
        case .tlsFailed(let host, let why):
            return "TLS handshake with \(host) failed: \(why)"
        case .pushRejected(let what, let reference, let status, let body):
            return "\(reference): the registry refused \(what) (HTTP \(status)"
                + (body.isEmpty ? ")" : "): \(Self.registrySays(body))")
        }
    }

    /// A registry's error body in words: the `errors` of the distribution spec (`DENIED: requested
    /// access to the resource is denied`, with a `detail` that is a string or an object of strings),
    /// else the body as sent.
    static func registrySays(_ body: String) -> String {
        guard let errors = errorDocument(body), !errors.isEmpty else { return body }
        return errors.map { entry in
            let words = [entry.code, entry.message].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            return entry.detail.map { words + " (\($0))" } ?? words
        }.joined(separator: "; ")
    }

    /// One error of a registry's error document.
    struct RegistryErrorEntry: Decodable {
        var code: String?
        var message: String?
        var detail: String?

        enum CodingKeys: String, CodingKey { case code, message, detail }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            code = try? container.decodeIfPresent(String.self, forKey: .code)
            message = try? container.decodeIfPresent(String.self, forKey: .message)
            if let text = try? container.decodeIfPresent(String.self, forKey: .detail), !text.isEmpty {
                detail = text
            } else if let object = try? container.decodeIfPresent([String: String].self, forKey: .detail), !object.isEmpty {
                detail = object.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            }
        }
    }

    /// The `errors` of a body that is the spec's error document, else nil.
    static func errorDocument(_ body: String) -> [RegistryErrorEntry]? {
        struct Body: Decodable { var errors: [RegistryErrorEntry]? }
        return (try? JSONDecoder().decode(Body.self, from: Data(body.utf8)))?.errors
    }
}
