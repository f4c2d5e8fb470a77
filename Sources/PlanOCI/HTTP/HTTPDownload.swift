import AsyncHTTPClient
import struct Crypto.SHA256
import Foundation
import NIOCore

/// Why a download failed.
public enum HTTPDownloadError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The text is not an `http` or `https` URL.
    case invalidURL(String)
    /// The server answered with a status other than 2xx (url, status).
    case status(String, Int)
    /// Nothing listens at the URL's host and port (url, host:port).
    case connectionRefused(String, String)
    /// The body is longer than the limit (url, limit in bytes).
    case tooLarge(String, Int64)
    /// The body's digest is not the expected one (url, expected, actual).
    case checksumMismatch(String, expected: Digest, actual: Digest)
    /// The expected digest is not a SHA-256 one.
    case unsupportedChecksum(Digest)
    /// The connection failed or stalled (url, why).
    case transport(String, String)
    /// The file cannot be written (path, why).
    case file(String, String)

    public var description: String {
        switch self {
        case .invalidURL(let text): "`\(text)` is not an http or https URL"
        case .status(let url, let status): "downloading \(url) answered HTTP \(status)"
        case .connectionRefused(let url, let host): "cannot download \(url): connection to \(host) refused (nothing listens there)"
        case .tooLarge(let url, let limit): "cannot download \(url): larger than the limit of \(limit) bytes"
        case .checksumMismatch(let url, let expected, let actual): "\(url) has checksum \(actual), not \(expected)"
        case .unsupportedChecksum(let digest): "checksum \(digest): only sha256 is supported"
        case .transport(let url, let why): "cannot download \(url): \(why)"
        case .file(let path, let why): "cannot write the download to \(path): \(why)"
        }
    }
}

/// One file fetched over HTTP(S) with the HTTP client the registry client uses: streamed to disk (never
/// held whole in memory), its SHA-256 computed as bytes arrive and checked at the end, its size bounded,
/// up to 5 redirects followed, a transfer that stalls abandoned.
public struct HTTPDownload: Sendable {
    /// The URL, `http` or `https`.
    public var url: String
    /// What the body must hash to (`sha256:…`).
    public var checksum: Digest
    /// The longest body accepted; a longer one (announced or arriving) is refused.
    public var maximumSize: Int64
    /// A transfer is abandoned when a window this long passes with less than ``minimumTransferRate``
    /// bytes per second received.
    public var stallTimeout: Duration = .seconds(30)
    /// Bytes per second, averaged over ``stallTimeout``, below which a transfer has stalled.
    public var minimumTransferRate = 1024
    let http: HTTPClient

    /// 8 GiB: larger than any file a build step downloads, small enough to stop a server that never ends.
    public static let defaultMaximumSize: Int64 = 8 << 30

    /// A download of `url` that must hash to `checksum`. Without `httpClient` it uses the process's shared
    /// client (the registry client's); a client passed in stays the caller's to shut down.
    public init(url: String, checksum: Digest, maximumSize: Int64 = HTTPDownload.defaultMaximumSize, httpClient: HTTPClient? = nil) {
        self.url = url
        self.checksum = checksum
        self.maximumSize = maximumSize
        http = httpClient ?? RegistryClient.sharedHTTPClient
    }

    /// Writes the body to a new file at `path` (mode 0600; an existing file is an error) and returns its
    /// size. On any failure the file is removed. Throws ``HTTPDownloadError``, or `CancellationError`
    /// when the task is cancelled.
    @discardableResult
    public func write(to path: String) async throws -> Int64 {
        guard let components = URLComponents(string: url), components.host?.isEmpty == false,
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https"
        else { throw HTTPDownloadError.invalidURL(url) }
        guard checksum.algorithm == "sha256" else {
            throw HTTPDownloadError.unsupportedChecksum(checksum)
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw HTTPDownloadError.file(path, String(cString: strerror(errno))) }
        var succeeded = false
        defer {
            close(fd)
            if !succeeded { unlink(path) }
        }
        let (url, limit, expected, http) = (url, maximumSize, checksum, http)
        let watchdog = TransferWatchdog(window: stallTimeout, minimumRate: minimumTransferRate)
        let size: Int64
        do {
            size = try await watchdog.run {
                var request = HTTPClientRequest(url: url)
                request.headers.add(name: "User-Agent", value: "plan/1")
                let response = try await http.execute(request, timeout: .hours(24))
                guard (200..<300).contains(Int(response.status.code)) else {
                    throw HTTPDownloadError.status(url, Int(response.status.code))
                }
                if let announced = response.headers.first(name: "Content-Length").flatMap({ Int64($0) }), announced > limit {
                    throw HTTPDownloadError.tooLarge(url, limit)
                }
                var hasher = SHA256()
                var received: Int64 = 0
                for try await buffer in response.body {
                    TransferProgress.current?.received(buffer.readableBytes)
                    received += Int64(buffer.readableBytes)
                    if received > limit { throw HTTPDownloadError.tooLarge(url, limit) }
                    try buffer.withUnsafeReadableBytes { bytes in
                        hasher.update(bufferPointer: bytes)
                        try Self.writeAll(fd, bytes, path: path)
                    }
                }
                let actual = Digest.sha256(hasher.finalize())
                guard actual == expected else { throw HTTPDownloadError.checksumMismatch(url, expected: expected, actual: actual) }
                return received
            }
        } catch let error as HTTPDownloadError {
            throw error
        } catch let error as CancellationError {
            throw error
        } catch {
            if Task.isCancelled { throw CancellationError() }
            switch TransportFailure.classify(error, url: url) {
            case .permanent(.connectionRefused(let host, _)): throw HTTPDownloadError.connectionRefused(url, host)
            case .permanent(let failure): throw HTTPDownloadError.transport(url, failure.description)
            case .transient(let why): throw HTTPDownloadError.transport(url, why)
            }
        }
        succeeded = true
        return size
    }

    /// Writes every byte of `bytes` to `fd`.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(HTTPDownloadError) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = Foundation.write(fd, base + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw .file(path, String(cString: strerror(errno)))
            }
            offset += written
        }
    }
}
