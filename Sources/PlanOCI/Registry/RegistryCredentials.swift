import Foundation

/// A user name and password for a registry (basic auth, or a Bearer token request).
public struct RegistryCredential: Hashable, Sendable {
    /// The user name.
    public var username: String
    /// The password or access token.
    public var password: String

    /// Makes a credential.
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// `Basic base64(user:password)`.
    var basicAuthorization: String {
        "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }
}

/// Registry credentials as Docker keeps them: the `auths` of `config.json`, keyed by registry
/// host (`127.0.0.1:5556`, `ghcr.io`, or `https://index.docker.io/v1/` for Docker Hub), each with
/// an `auth` field holding base64 `user:password` (or `username` and `password` fields).
/// Credential helpers (`credsStore`, `credHelpers`) are not run.
public struct RegistryCredentials: Sendable {
    /// Credentials by normalised registry host (`docker.io` for Docker Hub).
    public private(set) var byRegistry: [String: RegistryCredential]
    /// The file they were read from, if any.
    public let source: String?

    /// No credentials.
    public static let none = RegistryCredentials(byRegistry: [:], source: nil)

    /// Credentials given directly, keyed by registry as in an ``ImageReference`` (`docker.io`, `host:port`).
    public init(byRegistry: [String: RegistryCredential], source: String? = nil) {
        self.byRegistry = byRegistry
        self.source = source
    }

    /// Reads `$DOCKER_CONFIG/config.json` when `DOCKER_CONFIG` is set, else `~/.docker/config.json`;
    /// a missing file means no credentials, an unreadable one is an error.
    public static func fromDockerConfig(environment: [String: String] = ProcessInfo.processInfo.environment) throws(RegistryError) -> RegistryCredentials {
        let path: String
        if let dir = environment["DOCKER_CONFIG"], !dir.isEmpty {
            path = (dir as NSString).appendingPathComponent("config.json")
        } else {
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
            path = (home as NSString).appendingPathComponent(".docker/config.json")
        }
        guard FileManager.default.fileExists(atPath: path) else { return RegistryCredentials(byRegistry: [:], source: path) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .credentials(path, "cannot read the file")
        }
        return try parse(data, source: path)
    }

    /// Parses the JSON of a Docker `config.json`.
    public static func parse(_ data: Data, source: String) throws(RegistryError) -> RegistryCredentials {
        struct Entry: Decodable {
            var auth: String?
            var username: String?
            var password: String?
        }
        struct Config: Decodable { var auths: [String: Entry]? }
        let config: Config
        do {
            config = try JSONDecoder().decode(Config.self, from: data)
        } catch {
            throw .credentials(source, CanonicalJSON.describe(error))
        }
        var result: [String: RegistryCredential] = [:]
        for (key, entry) in (config.auths ?? [:]).sorted(by: { $0.key < $1.key }) {
            let registry = normalizeKey(key)
            if let auth = entry.auth, !auth.isEmpty {
                guard let decoded = Data(base64Encoded: auth, options: .ignoreUnknownCharacters),
                      let text = String(data: decoded, encoding: .utf8),
                      let colon = text.firstIndex(of: ":")
                else {
                    throw .credentials(source, "auths[\"\(key)\"].auth is not base64 of \"user:password\"")
                }
                result[registry] = RegistryCredential(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
            } else if let u = entry.username, let p = entry.password {
                result[registry] = RegistryCredential(username: u, password: p)
            }
        }
        return RegistryCredentials(byRegistry: result, source: source)
    }

    /// A Docker `auths` key as a registry name: scheme and path dropped, Docker Hub's many
    /// spellings (`https://index.docker.io/v1/`, `index.docker.io`, `registry-1.docker.io`) → `docker.io`.
    static func normalizeKey(_ key: String) -> String {
        var k = key
        for scheme in ["https://", "http://"] where k.hasPrefix(scheme) { k.removeFirst(scheme.count) }
        if let slash = k.firstIndex(of: "/") { k = String(k[..<slash]) }
        k = k.lowercased()
        if k == "index.docker.io" || k == "registry-1.docker.io" || k == "registry.hub.docker.com" { return ImageReference.dockerHub }
        return k
    }

    /// The credential for a registry (`docker.io`, `host:port`), if any.
    public func credential(for registry: String) -> RegistryCredential? {
        byRegistry[Self.normalizeKey(registry)]
    }
}
