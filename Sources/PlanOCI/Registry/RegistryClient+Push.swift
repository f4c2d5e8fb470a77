import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

/// Which repositories of which registry are known to hold a blob (pulled from there, or pushed or
/// mounted there by this client): a push mounts from one of them instead of uploading.
actor BlobLocations {
    private var repositories: [String: [Digest: Set<String>]] = [:]

    func record(_ digests: [Digest], registry: String, repository: String) {
        for digest in digests { repositories[registry, default: [:]][digest, default: []].insert(repository) }
    }

    /// A repository of `registry` other than `repository` holding `digest` (the first by name).
    func source(of digest: Digest, registry: String, besides repository: String) -> String? {
        repositories[registry]?[digest]?.subtracting([repository]).sorted().first
    }
}

/// An upload that broke off (a dropped connection, a stall, a 5xx, a session the registry no longer
/// knows): a chunked upload first resumes from where the registry says it is; otherwise the blob is
/// pushed again from a new upload session, after the registry is asked whether it has it after all.
struct UploadInterrupted: Error, CustomStringConvertible {
    var url: String
    var why: String

    var description: String { why }
}

/// An open upload session: the URL for its next request (registries may change it after each one),
/// and the smallest chunk the registry takes (`OCI-Chunk-Min-Length`, 0 if it names none).
struct UploadSession: Sendable {
    var location: String
    var minimumChunk: Int64
}

extension RegistryClient {
    /// How a blob reached the registry.
    public enum BlobPushOutcome: Sendable, Equatable {
        /// The registry had it.
        case present
        /// Mounted from another repository of the registry.
        case mounted(from: String)
        /// Sent.
        case uploaded(bytes: Int64)
    }

    /// Pushes an image: every blob the registry lacks (``Configuration/maxConcurrentUploads`` at a
    /// time; `HEAD` first, mounted from another repository of the registry when one is known to hold
    /// it, else uploaded — in one request up to ``Configuration/uploadChunkSize``, in `PATCH` chunks
    /// beyond), then the manifests an index lists (by digest), then the top document under the
    /// reference's tag — or its digest when it names no tag (a digest it names must be the image's).
    ///
    /// Nothing but blobs is stored until every blob is there, so a failed or cancelled push leaves no
    /// manifest naming missing content, and a re-run sends only what is missing. Transient faults
    /// (5xx, 429, dropped connections, stalls) are retried within ``Configuration/retry``; a chunked
    /// upload resumes where the registry says it is. A Bearer token is asked for with `pull,push` scope.
    ///
    /// - Throws: ``RegistryError/unauthorized(_:_:)`` or ``RegistryError/credentialsRequired(_:_:)``
    ///   naming the registry; ``RegistryError/pushRejected(_:_:_:_:)`` naming the reference and what
    ///   the registry said (`MANIFEST_BLOB_UNKNOWN`, `DENIED`, …); ``RegistryError/retriesExhausted(_:_:_:)``;
    ///   `CancellationError` when the task is cancelled (no manifest is pushed after that).
    public func push(
        _ image: PushableImage, to reference: ImageReference, events: @escaping @Sendable (PushEvent) -> Void = { _ in }
    ) async throws -> PushResult {
        if let digest = reference.digest, digest != image.root.descriptor.digest {
            throw RegistryError.pushRejected(
                "the push", reference.description, 0,
                "the reference names digest \(digest) but the image's is \(image.root.descriptor.digest)")
        }
        var result = PushResult(reference: reference, descriptor: image.root.descriptor, uploaded: 0, mounted: 0, present: 0, bytesSent: 0)
        let width = max(1, configuration.maxConcurrentUploads)
        try await withThrowingTaskGroup(of: BlobPushOutcome.self) { group in
            var next = 0
            func addNext() {
                let blob = image.blobs[next]
                next += 1
                group.addTask { try await self.pushBlob(blob.descriptor, content: blob.content, to: reference, events: events) }
            }
            while next < image.blobs.count && next < width { addNext() }
            while let outcome = try await group.next() {
                switch outcome {
                case .present: result.present += 1
                case .mounted: result.mounted += 1
                case .uploaded(let bytes):
                    result.uploaded += 1
                    result.bytesSent += bytes
                }
                if next < image.blobs.count { addNext() }
            }
        }
        // A push cancelled while its last blob went out stores no manifest.
        try Task.checkCancellation()
        for manifest in image.manifests {
            try await pushManifest(manifest, to: reference, as: manifest.descriptor.digest.description, events: events)
        }
        try await pushManifest(
            image.root, to: reference, as: reference.tag ?? reference.digest?.description ?? "latest", events: events)
        return result
    }

    /// `HEAD` a blob: whether the repository has it.
    public func blobExists(_ digest: Digest, in reference: ImageReference) async throws -> Bool {
        try await blobExists(digest, in: reference, scopes: [])
    }

    func blobExists(_ digest: Digest, in reference: ImageReference, scopes: [String]) async throws -> Bool {
        let url = blobURL(reference, digest)
        return try await perform(.HEAD, url: url, reference: reference, accept: [], scopes: scopes) { response in
            response.status.code != 404
        }
    }

    /// Pushes one blob unless the repository has it: mounted when another repository of the registry is
    /// known to hold it (or `content` names one), else uploaded (streamed). An upload that breaks off
    /// resumes or starts again within the retry policy, after asking again whether the registry has it.
    /// Local content is checked (size; digest of `.data`) before anything is sent.
    @discardableResult
    public func pushBlob(
        _ descriptor: Descriptor, content: BlobContent, to reference: ImageReference,
        events: @escaping @Sendable (PushEvent) -> Void = { _ in }
    ) async throws -> BlobPushOutcome {
        let policy = configuration.retry
        var attempt = 0
        while true {
            attempt += 1
            do {
                let outcome = try await pushBlobOnce(descriptor, content: content, to: reference, events: events)
                await locations.record([descriptor.digest], registry: reference.registry, repository: reference.repository)
                return outcome
            } catch let interrupted as UploadInterrupted {
                guard attempt < policy.maxAttempts else {
                    throw RegistryError.retriesExhausted(interrupted.url, attempt, interrupted.why)
                }
                try await Task.sleep(for: policy.delay(beforeRetry: attempt, retryAfterSeconds: nil))
            }
        }
    }

    /// Token scopes a push asks for at once, so that the first token serves the whole push (Docker
    /// asks the same): `pull,push` on the repository, `pull` on a repository mounted from.
    static func pushScopes(_ reference: ImageReference, mountingFrom source: String? = nil) -> [String] {
        var scopes = ["repository:\(reference.repository):pull,push"]
        if let source, source != reference.repository { scopes.append("repository:\(source):pull") }
        return scopes
    }

    /// The largest blob sent in one request, and the size of the chunks of larger ones: the
    /// configuration's, at least 64 KiB.
    var uploadChunkBytes: Int64 { Int64(max(1 << 16, configuration.uploadChunkSize)) }

    private func pushBlobOnce(
        _ descriptor: Descriptor, content: BlobContent, to reference: ImageReference, events: @escaping @Sendable (PushEvent) -> Void
    ) async throws -> BlobPushOutcome {
        switch content {
        case .data(let data):
            let actual = Digest.sha256(of: data)
            guard actual == descriptor.digest, Int64(data.count) == descriptor.size else {
                throw RegistryError.digestMismatch("blob to push", descriptor.digest, actual)
            }
        case .file(let path):
            let size = POSIXFile.size(path)
            guard size == descriptor.size else {
                throw RegistryError.store(.sizeMismatch(expected: descriptor.size, actual: size ?? -1, digest: descriptor.digest))
            }
        case .registry:
            break
        }
        var mountFrom = await locations.source(of: descriptor.digest, registry: reference.registry, besides: reference.repository)
        if case .registry(let source) = content, source.registry == reference.registry, source.repository != reference.repository {
            mountFrom = source.repository
        }
        let scopes = Self.pushScopes(reference, mountingFrom: mountFrom)
        let present: Bool
        do {
            present = try await blobExists(descriptor.digest, in: reference, scopes: scopes)
        } catch RegistryError.unexpectedStatus(_, _, let status, let body) {
            // 403 DENIED, 400 NAME_INVALID, …: said of the reference pushed to.
            throw RegistryError.pushRejected("access to blob \(descriptor.digest)", reference.description, status, body)
        }
        if present {
            events(.blobPresent(descriptor))
            return .present
        }
        var session: UploadSession
        switch try await startUpload(to: reference, mounting: mountFrom.map { (descriptor.digest, $0) }, scopes: scopes) {
        case .mounted(let from):
            events(.blobMounted(descriptor, from: from))
            return .mounted(from: from)
        case .session(let started):
            session = started
        }
        events(.blobSending(descriptor))
        do {
            switch content {
            case .data(let data):
                try await finishUpload(session.location, descriptor: descriptor, reference: reference, scopes: scopes,
                                       body: { .bytes(ByteBuffer(bytes: data)) })
            case .file(let path):
                if descriptor.size <= uploadChunkBytes {
                    let size = descriptor.size
                    try await finishUpload(session.location, descriptor: descriptor, reference: reference, scopes: scopes, body: {
                        .stream(FileChunks(path: path, offset: 0, length: size, counted: Self.counter(descriptor.digest, events)),
                                length: .known(size))
                    })
                } else {
                    try await uploadChunks(&session, path: path, descriptor: descriptor, reference: reference, scopes: scopes, events: events)
                }
            case .registry(let source):
                try await streamBlob(descriptor, from: source, session: session.location, to: reference, scopes: scopes, events: events)
            }
        } catch {
            // The spec asks clients to release a session they give up; a cancelled task sends nothing more.
            if !Task.isCancelled { await abandonUpload(session.location, reference: reference, scopes: scopes) }
            throw error
        }
        events(.blobSent(descriptor))
        return .uploaded(bytes: descriptor.size)
    }

    /// Counts bytes sent as the stall watchdog's progress and as push events.
    static func counter(_ digest: Digest, _ events: @escaping @Sendable (PushEvent) -> Void) -> @Sendable (Int) -> Void {
        let progress = TransferProgress.current
        return { count in
            progress?.received(count)
            events(.bytesSent(digest, count))
        }
    }

    enum UploadStart {
        /// The registry mounted the blob from the repository named.
        case mounted(from: String)
        case session(UploadSession)
    }

    /// `POST …/blobs/uploads/` (with `?mount=&from=` when a mount is worth trying): a new upload
    /// session, or `.mounted` when the registry mounted the blob (201). A mount the token may not
    /// make (no pull access to the source) falls back to a plain upload.
    func startUpload(to reference: ImageReference, mounting mount: (Digest, String)?, scopes: [String]) async throws -> UploadStart {
        var url = "\(baseURL(reference))/blobs/uploads/"
        if let (digest, from) = mount {
            url += "?mount=\(digest)&from=\(from.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? from)"
        }
        do {
            return try await uploadRequest(.POST, url: url, reference: reference, scopes: scopes, body: { .bytes(ByteBuffer()) }) { response in
                if response.status.code == 201, let mount { return .mounted(from: mount.1) }
                guard response.status.code == 202, let location = response.headers.first(name: "Location") else {
                    throw RegistryError.pushRejected(
                        "to start an upload", reference.description, Int(response.status.code), "no upload session (Location) in the answer")
                }
                let minimum = response.headers.first(name: "OCI-Chunk-Min-Length").flatMap { Int64($0) } ?? 0
                return .session(UploadSession(location: self.absolute(location, for: reference), minimumChunk: max(0, minimum)))
            }
        } catch RegistryError.unauthorized where mount != nil {
            return try await startUpload(to: reference, mounting: nil, scopes: Self.pushScopes(reference))
        }
    }

    /// The last request of an upload: `PUT SESSION&digest=…` with the rest of the bytes (all of them
    /// for a monolithic upload, none after chunks). The registry checks the digest.
    func finishUpload(
        _ session: String, descriptor: Descriptor, reference: ImageReference, scopes: [String],
        body: @escaping @Sendable () throws -> HTTPClientRequest.Body
    ) async throws {
        let url = session + (session.contains("?") ? "&" : "?") + "digest=\(descriptor.digest)"
        try await uploadRequest(.PUT, url: url, reference: reference, scopes: scopes,
                                headers: [("Content-Type", "application/octet-stream")], body: body) { response in
            guard response.status.code == 201 || response.status.code == 204 || response.status.code == 200 else {
                throw RegistryError.pushRejected("blob \(descriptor.digest)", reference.description, Int(response.status.code), "")
            }
        }
    }

    /// A large blob in `PATCH` chunks of ``uploadChunkBytes`` (or the registry's minimum, if larger),
    /// each streamed from the file, then the closing `PUT`. A chunk that breaks off (dropped, 5xx, 416)
    /// is followed by a `GET` of the session, and the upload goes on from the offset the registry
    /// reports (the spec's `Range: 0-END`), within the retry policy; a registry that cannot say starts
    /// the blob again.
    func uploadChunks(
        _ session: inout UploadSession, path: String, descriptor: Descriptor, reference: ImageReference, scopes: [String],
        events: @escaping @Sendable (PushEvent) -> Void
    ) async throws {
        let chunk = max(uploadChunkBytes, session.minimumChunk)
        let policy = configuration.retry
        var offset: Int64 = 0
        var resumes = 0
        while offset < descriptor.size {
            let length = min(chunk, descriptor.size - offset)
            do {
                let accepted = try await patchChunk(
                    session.location, path: path, start: offset, length: length, descriptor: descriptor, reference: reference,
                    scopes: scopes, events: events)
                session.location = accepted.location
                offset = accepted.offset
            } catch let interrupted as UploadInterrupted {
                resumes += 1
                guard resumes < policy.maxAttempts else { throw interrupted }
                try await Task.sleep(for: policy.delay(beforeRetry: resumes, retryAfterSeconds: nil))
                guard let status = try? await uploadStatus(session.location, reference: reference, scopes: scopes),
                      status.offset <= descriptor.size
                else { throw interrupted }
                session.location = status.location
                offset = status.offset
            }
        }
        try await finishUpload(session.location, descriptor: descriptor, reference: reference, scopes: scopes,
                               body: { .bytes(ByteBuffer()) })
    }

    /// One `PATCH` of bytes `start..<start+length` of the file: the session's next URL and the offset
    /// the registry has reached (from its `Range`; the chunk's end if it sends none).
    func patchChunk(
        _ location: String, path: String, start: Int64, length: Int64, descriptor: Descriptor, reference: ImageReference,
        scopes: [String], events: @escaping @Sendable (PushEvent) -> Void
    ) async throws -> (location: String, offset: Int64) {
        do {
            return try await uploadRequest(
                .PATCH, url: location, reference: reference, scopes: scopes,
                headers: [("Content-Type", "application/octet-stream"), ("Content-Range", "\(start)-\(start + length - 1)")],
                body: {
                    .stream(FileChunks(path: path, offset: start, length: length, counted: Self.counter(descriptor.digest, events)),
                            length: .known(length))
                }
            ) { response in
                guard response.status.code == 202 || response.status.code == 204 else {
                    throw RegistryError.pushRejected(
                        "a chunk of blob \(descriptor.digest)", reference.description, Int(response.status.code), "")
                }
                let next = response.headers.first(name: "Location").map { self.absolute($0, for: reference) } ?? location
                let reached = response.headers.first(name: "Range").flatMap(Self.uploadOffset) ?? start + length
                guard reached > start, reached <= start + length else {
                    throw UploadInterrupted(
                        url: location, why: "after bytes \(start)-\(start + length - 1) the registry reports Range \(response.headers.first(name: "Range") ?? "")")
                }
                return (next, reached)
            }
        } catch RegistryError.pushRejected(_, _, 416, let said) {
            throw UploadInterrupted(url: location, why: "HTTP 416: the registry is elsewhere in the upload" + (said.isEmpty ? "" : " (\(said))"))
        }
    }

    /// `GET` an upload session (spec: 204 with `Location` and `Range: 0-END`): where the upload stands,
    /// or nil when the registry does not say.
    func uploadStatus(_ location: String, reference: ImageReference, scopes: [String]) async throws -> (location: String, offset: Int64)? {
        try await perform(.GET, url: location, reference: reference, accept: [], retry: RetryPolicy.none, scopes: scopes) { response in
            guard (200..<300).contains(Int(response.status.code)), let range = response.headers.first(name: "Range"),
                  let offset = Self.uploadOffset(range)
            else { return nil }
            let next = response.headers.first(name: "Location").map { self.absolute($0, for: reference) } ?? location
            return (next, offset)
        }
    }

    /// The next byte an upload wants, from a `Range` header of the upload protocol: `0-END` (inclusive;
    /// `bytes=0-END` from older registries) → END + 1. `0-0` is read as nothing received: the reference
    /// registry says so for an empty session, and chunks are never 1 byte long.
    static func uploadOffset(_ header: String) -> Int64? {
        var text = Substring(header.trimmingCharacters(in: .whitespaces))
        if text.hasPrefix("bytes=") { text = text.dropFirst(6) }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let first = Int64(parts[0]), let last = Int64(parts[1]), first == 0, last >= 0 else { return nil }
        return last == 0 ? 0 : last + 1
    }

    /// Cancels an upload session (`DELETE` its URL), best effort: a failure is ignored.
    func abandonUpload(_ location: String, reference: ImageReference, scopes: [String]) async {
        _ = try? await perform(.DELETE, url: location, reference: reference, accept: [], retry: RetryPolicy.none, scopes: scopes) { _ in () }
    }

    /// A blob of another repository (another registry, or one that refused the mount) streamed from its
    /// `GET` into the upload's `PUT`.
    func streamBlob(
        _ descriptor: Descriptor, from source: ImageReference, session: String, to reference: ImageReference, scopes: [String],
        events: @escaping @Sendable (PushEvent) -> Void
    ) async throws {
        let url = blobURL(source, descriptor.digest)
        do {
            try await perform(.GET, url: url, reference: source, accept: [], retry: RetryPolicy.none) { response in
                try Self.check(response, method: "GET", url: url, what: "blob \(descriptor.digest) of \(source.name)")
                let received = TransferProgress.current
                let body = response.body
                try await self.finishUpload(session, descriptor: descriptor, reference: reference, scopes: scopes, body: {
                    let sent = Self.counter(descriptor.digest, events)
                    return .stream(body.map { buffer in
                        received?.received(buffer.readableBytes)
                        sent(buffer.readableBytes)
                        return buffer
                    }, length: .known(descriptor.size))
                })
            }
        } catch RegistryError.retriesExhausted(let url, _, let why) {
            throw UploadInterrupted(url: url, why: why)
        }
    }

    /// One request of an upload session, sent once: a transient failure, or a 404 for a `PATCH` or
    /// `PUT` (the session expired: the spec says start again), is an ``UploadInterrupted``; a
    /// refusal names the reference and what the registry said.
    @discardableResult
    func uploadRequest<T: Sendable>(
        _ method: HTTPMethod, url: String, reference: ImageReference, scopes: [String], headers: [(String, String)] = [],
        body: @escaping @Sendable () throws -> HTTPClientRequest.Body,
        _ handle: @escaping @Sendable (HTTPClientResponse) async throws -> T
    ) async throws -> T {
        do {
            return try await perform(
                method, url: url, reference: reference, accept: [], headers: headers, body: body, retry: RetryPolicy.none, scopes: scopes
            ) { response in
                if response.status.code == 404 {
                    let said = await Self.excerpt(response)
                    if method == .POST {
                        throw RegistryError.pushRejected("the upload (\(method.rawValue))", reference.description, 404, said)
                    }
                    throw UploadInterrupted(url: url, why: "the registry no longer knows the upload session (HTTP 404\(said.isEmpty ? "" : ": \(said)"))")
                }
                return try await handle(response)
            }
        } catch RegistryError.retriesExhausted(let url, _, let why) {
            throw UploadInterrupted(url: url, why: why)
        } catch RegistryError.unexpectedStatus(_, _, let status, let body) {
            throw RegistryError.pushRejected("the upload (\(method.rawValue))", reference.description, status, body)
        }
    }

    /// `PUT …/manifests/TAG-OR-DIGEST` with the document's exact bytes, its media type as `Content-Type`.
    func pushManifest(
        _ document: PushDocument, to reference: ImageReference, as tagOrDigest: String, events: @escaping @Sendable (PushEvent) -> Void
    ) async throws {
        let url = manifestURL(reference, tagOrDigest)
        let type = Self.sniffMediaType(document.data) ?? document.descriptor.mediaType
        let what = type.isIndex ? "image index \(document.descriptor.digest)" : "manifest \(document.descriptor.digest)"
        let data = document.data
        do {
            try await perform(.PUT, url: url, reference: reference, accept: [], headers: [("Content-Type", type.rawValue)],
                              body: { .bytes(ByteBuffer(bytes: data)) }, scopes: Self.pushScopes(reference)) { response in
                if response.status.code == 404 {
                    throw RegistryError.pushRejected(what, reference.description, 404, await Self.excerpt(response))
                }
                if let header = response.headers.first(name: "Docker-Content-Digest"), let stored = try? Digest(parsing: header),
                   stored.algorithm == document.descriptor.digest.algorithm, stored != document.descriptor.digest {
                    throw RegistryError.digestMismatch("\(what) as \(reference.name) stored it", document.descriptor.digest, stored)
                }
            }
        } catch RegistryError.unexpectedStatus(_, _, let status, let body) {
            throw RegistryError.pushRejected(what, reference.description, status, body)
        }
        events(.manifestPushed(document.descriptor, reference: "\(reference.name)\(tagOrDigest.contains(":") ? "@" : ":")\(tagOrDigest)"))
    }

    /// An upload session's `Location` as an absolute URL (registries may send a path).
    func absolute(_ location: String, for reference: ImageReference) -> String {
        if location.hasPrefix("http://") || location.hasPrefix("https://") { return location }
        return "\(scheme(for: reference))://\(reference.apiHost)" + (location.hasPrefix("/") ? "" : "/") + location
    }
}

/// A range of a file as a request body, read a MiB at a time with `pread`: a layer is never held whole in
/// memory. A file shorter than announced fails the request.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    let offset: Int64
    let length: Int64
    let counted: @Sendable (Int) -> Void

    func makeAsyncIterator() -> Iterator { Iterator(self) }

    final class Iterator: AsyncIteratorProtocol {
        private let chunks: FileChunks
        private var fd: Int32 = -1
        private var position: Int64
        private var remaining: Int64

        init(_ chunks: FileChunks) {
            self.chunks = chunks
            position = chunks.offset
            remaining = chunks.length
        }

        deinit { if fd >= 0 { close(fd) } }

        func next() async throws -> ByteBuffer? {
            guard remaining > 0 else { return nil }
            if fd < 0 {
                fd = open(chunks.path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw LayerError.system(call: "open", path: chunks.path, errno: errno) }
            }
            let wanted = Int(Swift.min(remaining, 1 << 20))
            var buffer = ByteBufferAllocator().buffer(capacity: wanted)
            let fd = fd
            let position = position
            let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { pointer -> Int in
                var n: Int
                repeat { n = pread(fd, pointer.baseAddress, wanted, off_t(position)) } while n < 0 && errno == EINTR
                return Swift.max(n, 0)
            }
            guard read > 0 else { throw LayerError.system(call: "pread", path: chunks.path, errno: errno == 0 ? EIO : errno) }
            self.position += Int64(read)
            remaining -= Int64(read)
            chunks.counted(read)
            return buffer
        }
    }
}

extension RegistryClient {
    /// Before a long build: whether the registry of `reference` can be reached and takes this client's
    /// credentials for the repository (a `HEAD` of the tag; a tag that is not there yet is fine). Throws
    /// what a push would meet first: a refused connection, no or wrong credentials, a TLS problem. A
    /// registry that lets a user read but not write is only found by the push itself.
    public func probe(_ reference: ImageReference) async throws {
        do {
            _ = try await headManifest(reference)
        } catch RegistryError.notFound {
            // Reached, and the credentials taken: the tag is just not there yet.
        }
    }
}
