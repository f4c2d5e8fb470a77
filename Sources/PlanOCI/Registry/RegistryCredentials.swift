import Foundation

/// A user name and password for a registry (basic auth, or a Bearer token request), or an identity
/// token (an OAuth2 refresh token, as `docker login` stores for some registries: `identitytoken` in
/// `config.json`, or a credential helper's answer with the user name `<token>`).
public struct RegistryCredential: Hashable, Sendable {
    /// The user name.
    public var username: String
    /// The password or access token.
    public var password: String
    /// An identity token: exchanged at the registry's token server for an access token (OAuth2
    /// `grant_type=refresh_token`), never sent to the registry itself. Only Bearer registries take it.
    public var identityToken: String?

    /// Makes a credential.
    public init(username: String, password: String, identityToken: String? = nil) {
        self.username = username
        self.password = password
        self.identityToken = identityToken
    }

    /// A credential that is an identity token.
    public static func identityToken(_ token: String, username: String = "<token>") -> RegistryCredential {
        RegistryCredential(username: username, password: "", identityToken: token)
    }

    /// `Basic base64(user:password)`.
    var basicAuthorization: String {
        "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }
}

/// Registry credentials as Docker keeps them in `config.json`:
/// - `auths`, keyed by registry host (`127.0.0.1:5556`, `ghcr.io`, or `https://index.docker.io/v1/` for
///   Docker Hub), each with an `auth` field holding base64 `user:password` (or `username` and `password`);
/// - `credHelpers`, registry host → helper `NAME`, and `credsStore`, the helper of every other registry:
///   the program `docker-credential-NAME` on `PATH`, run as `docker-credential-NAME get` with the server
///   URL on stdin (the docker-credential-helpers protocol).
///
/// Docker's order (docs/reference/commandline/login.md, cli/config/configfile): a registry named in
/// `credHelpers` gets its credential from that helper; else, when `credsStore` is set, from that
/// helper — `auths` entries are then not read; else from `auths`. A helper that answers "credentials
/// not found in native keychain" means no credential (anonymous access).
public struct RegistryCredentials: Sendable {
    /// Credentials of `auths` by normalised registry host (`docker.io` for Docker Hub).
    public private(set) var byRegistry: [String: RegistryCredential]
    /// The file they were read from, if any.
    public let source: String?
    /// `credsStore`: the helper (`NAME` of `docker-credential-NAME`) of every registry not in
    /// ``credentialHelpers``; nil when not set.
    public var credentialStore: String?
    /// `credHelpers`: helper names by normalised registry host.
    public var credentialHelpers: [String: String]
    /// The environment helpers run with; its `PATH` is where they are looked for.
    public var helperEnvironment: [String: String]
    /// How long a helper may take before it is killed and its registry's lookup fails.
    public var helperTimeout: Duration

    /// No credentials.
    public static let none = RegistryCredentials(byRegistry: [:], source: nil)

    /// Credentials given directly, keyed by registry as in an ``ImageReference`` (`docker.io`, `host:port`),
    /// and optionally credential helpers (`credentialHelpers` keyed the same way) run with `helperEnvironment`.
    public init(
        byRegistry: [String: RegistryCredential], source: String? = nil, credentialStore: String? = nil,
        credentialHelpers: [String: String] = [:], helperEnvironment: [String: String] = ProcessInfo.processInfo.environment,
        helperTimeout: Duration = .seconds(30)
    ) {
        self.byRegistry = Dictionary(byRegistry.map { (Self.normalizeKey($0.key), $0.value) }, uniquingKeysWith: { first, _ in first })
        self.source = source
        self.credentialStore = credentialStore.flatMap { $0.isEmpty ? nil : $0 }
        self.credentialHelpers = Dictionary(
            credentialHelpers.map { (Self.normalizeKey($0.key), $0.value) }, uniquingKeysWith: { first, _ in first })
        self.helperEnvironment = helperEnvironment
        self.helperTimeout = helperTimeout
    }

    /// Reads `$DOCKER_CONFIG/config.json` when `DOCKER_CONFIG` is set, else `~/.docker/config.json`;
    /// a missing file means no credentials, an unreadable one is an error. Credential helpers are
    /// looked for on, and run with, `environment` (its `PATH`).
    public static func fromDockerConfig(environment: [String: String] = ProcessInfo.processInfo.environment) throws(RegistryError) -> RegistryCredentials {
        let path: String
        if let dir = environment["DOCKER_CONFIG"], !dir.isEmpty {
            path = (dir as NSString).appendingPathComponent("config.json")
        } else {
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
            path = (home as NSString).appendingPathComponent(".docker/config.json")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            return RegistryCredentials(byRegistry: [:], source: path, helperEnvironment: environment)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .credentials(path, "cannot read the file")
        }
        return try parse(data, source: path, environment: environment)
    }

    /// Parses the JSON of a Docker `config.json`: `auths`, `credHelpers`, `credsStore`. Helpers are not
    /// run here (only when a registry asks for authentication).
    public static func parse(
        _ data: Data, source: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(RegistryError) -> RegistryCredentials {
        struct Entry: Decodable {
            var auth: String?
            var username: String?
            var password: String?
            var identitytoken: String?
        }
        struct Config: Decodable {
            var auths: [String: Entry]?
            var credHelpers: [String: String]?
            var credsStore: String?
        }
        let config: Config
        do {
            config = try JSONDecoder().decode(Config.self, from: data)
        } catch {
            throw .credentials(source, CanonicalJSON.describe(error))
        }
        var result: [String: RegistryCredential] = [:]
        for (key, entry) in (config.auths ?? [:]).sorted(by: { $0.key < $1.key }) {
            let registry = normalizeKey(key)
            if let token = entry.identitytoken, !token.isEmpty {
                // `docker login` to an OAuth2 registry keeps the refresh token here (and the user in `auth`).
                var username = "<token>"
                if let auth = entry.auth, let decoded = Data(base64Encoded: auth, options: .ignoreUnknownCharacters),
                   let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":") {
                    username = String(text[..<colon])
                }
                result[registry] = .identityToken(token, username: username)
            } else if let auth = entry.auth, !auth.isEmpty {
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
        var helpers: [String: String] = [:]
        for (key, helper) in (config.credHelpers ?? [:]).sorted(by: { $0.key < $1.key }) where helpers[normalizeKey(key)] == nil {
            helpers[normalizeKey(key)] = helper
        }
        return RegistryCredentials(
            byRegistry: result, source: source, credentialStore: config.credsStore, credentialHelpers: helpers,
            helperEnvironment: environment)
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

    /// The helper (`NAME` of `docker-credential-NAME`) that holds the credential of a registry, in
    /// Docker's order: its `credHelpers` entry, else `credsStore`; nil when `auths` does.
    public func helper(for registry: String) -> String? {
        credentialHelpers[Self.normalizeKey(registry)] ?? credentialStore
    }

    /// Where the credential of a registry comes from, for messages: `docker-credential-NAME`, or the
    /// config file.
    public func origin(for registry: String) -> String? {
        helper(for: registry).map { CredentialHelper.program($0) } ?? source
    }

    /// The credential for a registry (`docker.io`, `host:port`), if any, in Docker's order (see the
    /// type): a helper's answer (the helper runs on every call — ``RegistryClient`` asks once per
    /// registry), else the `auths` entry.
    /// - Throws: ``RegistryError/credentials(_:_:)`` naming the helper when it is missing, fails, times
    ///   out or prints something other than the protocol's JSON.
    public func credential(for registry: String) async throws(RegistryError) -> RegistryCredential? {
        guard let helper = helper(for: registry) else { return byRegistry[Self.normalizeKey(registry)] }
        return try await CredentialHelper.get(
            helper, serverURL: CredentialHelper.serverURL(for: registry), environment: helperEnvironment, timeout: helperTimeout)
    }
}
