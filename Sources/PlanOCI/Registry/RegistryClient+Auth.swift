import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `Authorization` header values by registry and repository, shared by a client's requests.
actor AuthorizationCache {
    private var values: [String: String] = [:]
    private var pending: [String: Task<String, any Error>] = [:]

    func value(for key: String) -> String? { values[key] }

    /// A new value for `key` after a request sent with `used` met a challenge: the one another request
    /// got meanwhile (or is getting), else the one `obtain` gets — so requests that meet a challenge at
    /// once (a push's parallel `HEAD`s) ask the token server once. `own` tells which.
    func renew(
        _ key: String, replacing used: String?, _ obtain: @escaping @Sendable () async throws -> String
    ) async throws -> (value: String, own: Bool) {
        if let current = values[key], current != used { return (current, false) }
        if let running = pending[key] { return (try await running.value, false) }
        let task = Task { try await obtain() }
        pending[key] = task
        defer { pending[key] = nil }
        let value = try await task.value
        values[key] = value
        return (value, true)
    }
}

/// The credential found for each registry, looked up once per client: concurrent requests that all
/// meet a challenge wait for one lookup (one run of a credential helper), whose answer — a credential,
/// none, or the error — then stands for the client's lifetime.
actor CredentialCache {
    private var lookups: [String: Task<RegistryCredential?, any Error>] = [:]

    func credential(for registry: String, from credentials: RegistryCredentials) async throws -> RegistryCredential? {
        let key = RegistryCredentials.normalizeKey(registry)
        if let lookup = lookups[key] { return try await lookup.value }
        let lookup = Task { try await credentials.credential(for: registry) }
        lookups[key] = lookup
        return try await lookup.value
    }
}

/// How one attempt of ``RegistryClient/perform(_:url:reference:accept:_:)`` ended.
enum AttemptOutcome<T: Sendable>: Sendable {
    /// The handler's value.
    case done(T)
    /// HTTP 401 with its `WWW-Authenticate` header and body excerpt.
    case challenge(String?, String)
    /// A status worth retrying (description, `Retry-After` seconds).
    case retry(String, Int?)
}

extension RegistryClient {
    static func cacheKey(_ reference: ImageReference) -> String { "\(reference.registry)/\(reference.repository)" }

    /// Sends a request and hands a 2xx, 3xx or 404 response to `handle`; other 4xx statuses
    /// throw ``RegistryError/unexpectedStatus(_:_:_:_:)`` with the start of the body. On 401 with
    /// `WWW-Authenticate`, authenticates once (Bearer token or Basic) and sends again. Retries
    /// with backoff on 429, 408, 5xx and transient transport failures — resets, time-outs, stalls
    /// (see ``TransferWatchdog``), including failures while `handle` reads the body — within the
    /// retry policy. A refused connection, a plain-HTTP answer to TLS and other TLS failures are
    /// known at once and not retried; nor are `RegistryError`s and `ContentStoreError`s (a digest
    /// mismatch, say).
    ///
    /// A request with a body (an upload) gets it from `body`, called once per attempt inside the
    /// attempt's watchdog, so a stream can count what it sends as progress. `retry` overrides the
    /// client's policy (uploads retry at the blob, not the request). `scopes` are asked of a token
    /// server besides the challenge's (a push asks for `pull,push` at once).
    func perform<T: Sendable>(
        _ method: HTTPMethod, url: String, reference: ImageReference, accept: [MediaType],
        headers: [(String, String)] = [], body: (@Sendable () throws -> HTTPClientRequest.Body)? = nil,
        retry: RetryPolicy? = nil, scopes: [String] = [],
        _ handle: @escaping @Sendable (HTTPClientResponse) async throws -> T
    ) async throws -> T {
        let policy = retry ?? configuration.retry
        var attempt = 0
        // Whether this request got its own answer to a challenge (a second 401 is then a refusal), and
        // how many answers it tried (one shared by another request may lack a scope this one needs).
        var authenticated = false
        var renewals = 0
        let key = Self.cacheKey(reference)
        while true {
            attempt += 1
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers.add(name: "User-Agent", value: configuration.userAgent)
            if !accept.isEmpty {
                request.headers.add(name: "Accept", value: accept.map(\.rawValue).joined(separator: ", "))
            }
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            let sentAuthorization = await authCache.value(for: key)
            if let sentAuthorization {
                request.headers.add(name: "Authorization", value: sentAuthorization)
            }
            let failure: String
            var retryAfter: Int?
            do {
                let http = self.http
                let outcome: AttemptOutcome<T> = try await watchdog.run { [request] in
                    var request = request
                    if let body { request.body = try body() }
                    let response = try await http.execute(request, timeout: .hours(1))
                    let status = Int(response.status.code)
                    if status == 401 {
                        let body = await Self.excerpt(response)
                        return .challenge(response.headers.first(name: "WWW-Authenticate"), body)
                    }
                    if RetryPolicy.isRetryable(status: status) {
                        let after = response.headers.first(name: "Retry-After").flatMap { Int($0) }
                        let body = await Self.excerpt(response)
                        return .retry("HTTP \(status)" + (body.isEmpty ? "" : ": \(body)"), after)
                    }
                    if status >= 400 && status != 404 {
                        let body = await Self.excerpt(response)
                        throw RegistryError.unexpectedStatus(method.rawValue, url, status, body)
                    }
                    return .done(try await handle(response))
                }
                switch outcome {
                case .done(let value):
                    return value
                case .challenge(let header, let body):
                    if authenticated || renewals >= 3 {
                        throw RegistryError.unauthorized(reference.registry, await refusal(reference, status: 401, body: body))
                    }
                    guard let header, let challenge = AuthChallenge(header: header) else {
                        throw RegistryError.unauthorized(reference.registry, "HTTP 401 without a WWW-Authenticate challenge")
                    }
                    let renewed = try await authCache.renew(key, replacing: sentAuthorization) {
                        try await self.authorize(challenge, reference: reference, header: header, scopes: scopes)
                    }
                    authenticated = renewed.own
                    renewals += 1
                    attempt -= 1  // authenticating is not a retry
                    continue
                case .retry(let why, let after):
                    failure = why
                    retryAfter = after
                }
            } catch let error as RegistryError {
                throw error
            } catch let error as UploadInterrupted {
                throw error
            } catch let error as ContentStoreError {
                throw RegistryError.store(error)
            } catch is CancellationError where Task.isCancelled {
                throw CancellationError()
            } catch {
                // Connection refused, reset or closed mid-body, read time-out, stall, TLS, …
                switch TransportFailure.classify(error, url: url) {
                case .permanent(let known): throw known
                case .transient(let why): failure = why
                }
            }
            guard attempt < policy.maxAttempts else {
                throw RegistryError.retriesExhausted(url, attempt, failure)
            }
            try await Task.sleep(for: policy.delay(beforeRetry: attempt, retryAfterSeconds: retryAfter))
        }
    }

    /// The stall detector of this client's requests.
    var watchdog: TransferWatchdog {
        TransferWatchdog(window: configuration.stallTimeout, minimumRate: configuration.minimumTransferRate)
    }

    private func refusal(_ reference: ImageReference, status: Int, body: String) async -> String {
        let who: String
        if let c = try? await credential(for: reference.registry) {
            who = "the registry refused the credentials of user \"\(c.username)\""
                + (configuration.credentials.origin(for: reference.registry).map { " from \($0)" } ?? "")
        } else {
            who = "the registry refused anonymous access"
        }
        return "\(who) (HTTP \(status)\(body.isEmpty ? "" : ": \(body)"))"
    }

    /// The credential this client uses for a registry (`docker.io`, `host:port`), if any: from
    /// ``Configuration/credentials``, looked up once per registry — a credential helper runs at most
    /// once per client, and only for a registry that asks for authentication.
    public func credential(for registry: String) async throws -> RegistryCredential? {
        try await credentialCache.credential(for: registry, from: configuration.credentials)
    }

    /// The `Authorization` value that answers a challenge.
    func authorize(_ challenge: AuthChallenge, reference: ImageReference, header: String, scopes: [String]) async throws -> String {
        let credential = try await credential(for: reference.registry)
        switch challenge.scheme {
        case "basic":
            guard let credential else { throw RegistryError.credentialsRequired(reference.registry, "Basic") }
            guard credential.identityToken == nil else {
                throw RegistryError.unauthorized(reference.registry, "the credential is an identity token (from "
                    + (configuration.credentials.origin(for: reference.registry) ?? "the configuration")
                    + "), which only a token (Bearer) registry takes, and this registry asks for Basic authentication")
            }
            return credential.basicAuthorization
        case "bearer":
            guard let realm = challenge.parameters["realm"], !realm.isEmpty else {
                throw RegistryError.unsupportedChallenge(header)
            }
            let token = try await fetchToken(
                realm: realm, service: challenge.parameters["service"],
                scopes: Self.tokenScopes(challenge: challenge.parameters["scope"], extra: scopes, repository: reference.repository),
                credential: credential, reference: reference)
            return "Bearer \(token)"
        default:
            throw RegistryError.unsupportedChallenge(header)
        }
    }

    /// The scopes of a token request, one `scope` parameter each: the challenge's (space-separated;
    /// `repository:REPO:pull` when it names none) and `extra`, the actions of one resource merged and
    /// sorted (`repository:a/b:pull,push`), resources in the order first named.
    static func tokenScopes(challenge: String?, extra: [String], repository: String) -> [String] {
        let named = challenge.map { $0.split(separator: " ").map(String.init) } ?? ["repository:\(repository):pull"]
        var order: [String] = []
        var actions: [String: Set<String>] = [:]
        for scope in named + extra where !scope.isEmpty {
            guard let colon = scope.lastIndex(of: ":"), scope.firstIndex(of: ":") != colon else {
                // Not TYPE:NAME:ACTIONS: passed on as it is.
                if actions[scope] == nil { order.append(scope); actions[scope] = [] }
                continue
            }
            let resource = String(scope[..<colon])
            if actions[resource] == nil { order.append(resource) }
            actions[resource, default: []].formUnion(scope[scope.index(after: colon)...].split(separator: ",").map(String.init))
        }
        return order.map { resource in
            let list = actions[resource, default: []].sorted()
            return list.isEmpty ? resource : "\(resource):\(list.joined(separator: ","))"
        }
    }

    /// Asks a token server for a Bearer token (GET realm?service=…&scope=…&scope=…), anonymously or with
    /// basic credentials; retries like any other request.
    func fetchToken(
        realm: String, service: String?, scopes: [String], credential: RegistryCredential?, reference: ImageReference
    ) async throws -> String {
        guard var components = URLComponents(string: realm), components.scheme == "https" || components.scheme == "http" else {
            throw RegistryError.tokenRequestFailed(realm, "realm is not an http(s) URL")
        }
        var items = components.queryItems ?? []
        if let service { items.append(URLQueryItem(name: "service", value: service)) }
        items += scopes.map { URLQueryItem(name: "scope", value: $0) }
        components.queryItems = items
        guard let queryURL = components.string else { throw RegistryError.tokenRequestFailed(realm, "cannot build the token URL") }
        // An identity token is a refresh token: exchanged by an OAuth2 POST to the realm (as Docker does),
        // never sent as a password.
        let form = credential?.identityToken.map { token in
            // OAuth2 takes the scopes as one space-separated field (a token server reads only the first `scope`).
            Self.formEncoded([("grant_type", "refresh_token"), ("service", service ?? ""), ("client_id", "plan"),
                              ("scope", scopes.joined(separator: " ")), ("refresh_token", token)])
        }
        let url = form == nil ? queryURL : realm
        let policy = configuration.retry
        var attempt = 0
        while true {
            attempt += 1
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "User-Agent", value: configuration.userAgent)
            if let form {
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                request.body = .bytes(ByteBuffer(string: form))
            } else if let credential {
                request.headers.add(name: "Authorization", value: credential.basicAuthorization)
            }
            let failure: String
            do {
                let http = self.http
                let limit = configuration.maxDocumentSize
                let result: Result<String, RegistryError> = try await watchdog.run { [request] in
                    let response = try await http.execute(request, timeout: .minutes(2))
                    let status = Int(response.status.code)
                    if status == 200 {
                        let data = try await Self.collect(response, limit: limit, url: url)
                        struct TokenResponse: Decodable {
                            var token: String?
                            var access_token: String?
                        }
                        guard let decoded = try? JSONDecoder().decode(TokenResponse.self, from: data),
                              let token = decoded.token ?? decoded.access_token, !token.isEmpty
                        else {
                            throw RegistryError.tokenRequestFailed(realm, "the response has no token")
                        }
                        return .success(token)
                    }
                    let body = await Self.excerpt(response)
                    if status == 401 || status == 403 {
                        let who = credential.map { $0.identityToken != nil ? "identity token refused" : "credentials of user \"\($0.username)\" refused" }
                            ?? "anonymous token refused"
                        throw RegistryError.unauthorized(
                            reference.registry, "\(who) by \(realm) (HTTP \(status)\(body.isEmpty ? "" : ": \(body)"))")
                    }
                    guard RetryPolicy.isRetryable(status: status) else {
                        throw RegistryError.tokenRequestFailed(realm, "HTTP \(status)\(body.isEmpty ? "" : ": \(body)")")
                    }
                    return .failure(.tokenRequestFailed(realm, "HTTP \(status)"))
                }
                switch result {
                case .success(let token): return token
                case .failure(let error): failure = error.description
                }
            } catch let error as RegistryError {
                throw error
            } catch is CancellationError where Task.isCancelled {
                throw CancellationError()
            } catch {
                switch TransportFailure.classify(error, url: url) {
                case .permanent(let known): throw known
                case .transient(let why): failure = why
                }
            }
            guard attempt < policy.maxAttempts else { throw RegistryError.retriesExhausted(url, attempt, failure) }
            try await Task.sleep(for: policy.delay(beforeRetry: attempt, retryAfterSeconds: nil))
        }
    }

    /// `application/x-www-form-urlencoded`: every byte but letters, digits and `-._~` percent-encoded.
    static func formEncoded(_ fields: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
        allowed.insert(charactersIn: "-._~")
        return fields.map { key, value in
            "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
        }.joined(separator: "&")
    }

    /// Reads (and so releases) a response body, keeping its start for error messages; stops after
    /// 64 KiB.
    static func excerpt(_ response: HTTPClientResponse) async -> String {
        var data = Data()
        do {
            // The start is enough: an error body that never ends must not hold the request.
            for try await buffer in response.body {
                TransferProgress.current?.received(buffer.readableBytes)
                buffer.withUnsafeReadableBytes { data.append(contentsOf: $0) }
                if data.count >= 64 << 10 { break }
            }
        } catch {}
        // The spec's error document in words (`MANIFEST_BLOB_UNKNOWN: blob unknown to registry (sha256:…)`),
        // whole: a registry lists every missing blob, and the raw JSON would be cut off mid-way.
        let whole = String(decoding: data, as: UTF8.self)
        let said = RegistryError.registrySays(whole)
        if said != whole {
            return said.count > 600 ? String(said.prefix(600)) + "…" : said
        }
        let text = String(decoding: data.prefix(300), as: UTF8.self)
        return text.split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces)
    }
}
