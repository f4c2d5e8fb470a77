import Foundation
import NIOCore

/// What a failed connection means: some faults are known at once and retrying them only makes
/// the user wait (a closed port, a plain-HTTP registry spoken to over TLS, a certificate that
/// does not verify); the others (resets, timeouts, stalls) are transient and worth a retry.
enum TransportFailure {
    /// A fault worth retrying, described in words.
    case transient(String)
    /// A fault that retrying cannot fix.
    case permanent(RegistryError)

    /// Classifies an error of the HTTP client for a request to `url`.
    static func classify(_ error: any Error, url: String) -> TransportFailure {
        let host = hostAndPort(url)
        if let stalled = error as? TransferStalled { return .transient(stalled.description) }
        if let io = error as? IOError, io.errnoCode == ECONNREFUSED { return .permanent(.connectionRefused(host, url)) }
        // NIOPosix's connection errors and NIOSSL's BoringSSL errors are not visible to this
        // module as types; their descriptions are stable enough to tell the cases apart.
        let text = String(reflecting: error)
        if text.contains("Connection refused") || text.contains("errno: \(ECONNREFUSED))") {
            return .permanent(.connectionRefused(host, url))
        }
        // BoringSSL's words for "the first bytes were not a TLS record": a plain HTTP answer.
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("HTTP_REQUEST") || text.contains("HTTPS_PROXY_REQUEST") {
            return .permanent(.plainHTTP(host))
        }
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate") && text.contains("handshake") {
            return .permanent(.tlsFailed(host, "the registry's certificate does not verify (\(shortened(text)))"))
        }
        if text.contains("handshakeFailed") {
            return .permanent(.tlsFailed(host, shortened(text)))
        }
        return .transient(shortened(text))
    }

    /// `host:port` of a URL (the port made explicit), for messages.
    static func hostAndPort(_ url: String) -> String {
        guard let components = URLComponents(string: url), let host = components.host else { return url }
        let port = components.port ?? (components.scheme == "http" ? 80 : 443)
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// An error's description without the source paths BoringSSL puts into it.
    static func shortened(_ text: String) -> String {
        var result = text
        while let at = result.range(of: " at /"), let end = result[at.upperBound...].firstIndex(where: { $0 == "]" || $0 == ")" }) {
            result.removeSubrange(at.lowerBound..<end)
        }
        return result.count > 300 ? String(result.prefix(300)) + "…" : result
    }
}
