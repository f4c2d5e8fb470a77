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

/// An upload that broke off (a dropped connection, a stall, a 5xx): the blob is pushed again from the start
/// of its upload session, after the registry is asked whether it has it after all.
struct UploadInterrupted: Error {
    var url: String
    var why: String
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

    /// Pushes an image: every blob the registry lacks (a few at a time; `HEAD` first, mounted from
    /// another repository of the registry when one is known to hold it, else uploaded — in one request
    /// up to ``Configuration/uploadChunkSize``, in chunks beyond), then the manifests an index lists,
    /// then the top document under the reference's tag (or digest). Nothing but blobs is stored until
    /// every blob is there, so an interrupted push leaves no manifest naming missing content; a re-run
    /// sends only what is missing.
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
        for manifest in image.manifests {
            try await pushManifest(manifest, to: reference, as: manifest.descriptor.digest.description, events: events)
        }
        try await pushManifest(image.root, to: reference, as: reference.digest?.description ?? reference.tag ?? "latest", events: events)
        return result
    }

    /// `HEAD` a blob: whether the repository has it.
    public func blobExists(_ digest: Digest, in reference: ImageReference) async throws -> Bool {
        let url = blobURL(reference, digest)
        return try await perform(.HEAD, url: url, reference: reference, accept: []) { response in
            response.status.code != 404
        }
    }

    /// Pushes one blob unless the repository has it: mounted when another repository of the registry is
    /// known to hold it, else uploaded (streamed). An upload that breaks off is started again within the
    /// retry policy, after asking again whether the registry has the blob.
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

    private func pushBlobOnce(
        _ descriptor: Descriptor, content: BlobContent, to reference: ImageReference, events: @escaping @Sendable (PushEvent) -> Void
    ) async throws -> BlobPushOutcome {
        if try await blobExists(descriptor.digest, in: reference) {
            events(.blobPresent(descriptor))
            return .present
        }
        var mountFrom = await locations.source(of: descriptor.digest, registry: reference.registry, besides: reference.repository)
        if case .registry(let source) = content, source.registry == reference.registry, source.repository != reference.repository {
            mountFrom = source.repository
        }
        let session: String
        switch try await startUpload(to: reference, mounting: mountFrom.map { (descriptor.digest, $0) }) {
        case .mounted:
            events(.blobMounted(descriptor, from: mountFrom ?? ""))
            return .mounted(from: mountFrom ?? "")
        case .session(let location):
            session = location
        }
        events(.blobSending(descriptor))
        switch content {
        case .data(let data):
            guard Digest.sha256(of: data) == descriptor.digest, Int64(data.count) == descriptor.size else {
                throw RegistryError.digestMismatch("blob to push", descriptor.digest, Digest.sha256(of: data))
            }
            try await finishUpload(session, descriptor: descriptor, reference: reference,
                                   body: { .bytes(ByteBuffer(bytes: data)) })
        case .file(let path):
            guard let size = POSIXFile.size(path), size == descriptor.size else {
                throw RegistryError.store(.sizeMismatch(expected: descriptor.size, actual: POSIXFile.size(path) ?? -1, digest: descriptor.digest))
            }
            if size <= Int64(configuration.uploadChunkSize) {
                try await finishUpload(session, descriptor: descriptor, reference: reference, body: {
                    .stream(FileChunks(path: path, offset: 0, length: size, counted: Self.counter(descriptor.digest, events)),
                            length: .known(size))
                })
            } else {
                try await uploadChunks(session, path: path, descriptor: descriptor, reference: reference, events: events)
            }
        case .registry(let source):
            try await streamBlob(descriptor, from: source, session: session, to: reference, events: events)
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
        case mounted
        case session(String)
    }

    /// `POST …/blobs/uploads/` (with `?mount=&from=` when a mount is worth trying): a new upload
    /// session's URL, or `.mounted` when the registry mounted the blob (201).
    func startUpload(to reference: ImageReference, mounting mount: (Digest, String)?) async throws -> UploadStart {
        var url = "\(baseURL(reference))/blobs/uploads/"
        if let (digest, from) = mount {
            url += "?mount=\(digest)&from=\(from.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? from)"
        }
        return try await uploadRequest(.POST, url: url, reference: reference, body: { .bytes(ByteBuffer()) }) { response in
            if response.status.code == 201, mount != nil { return .mounted }
            guard response.status.code == 202, let location = response.headers.first(name: "Location") else {
                throw RegistryError.pushRejected(
                    "to start an upload", reference.description, Int(response.status.code), "no upload session (Location) in the answer")
            }
            return .session(self.absolute(location, for: reference))
        }
    }

    /// The last request of an upload: `PUT SESSION&digest=…` with the rest of the bytes (all of them
    /// for a monolithic upload, none after chunks).
    func finishUpload(
        _ session: String, descriptor: Descriptor, reference: ImageReference,
        body: @escaping @Sendable () throws -> HTTPClientRequest.Body
    ) async throws {
        let url = session + (session.contains("?") ? "&" : "?") + "digest=\(descriptor.digest)"
        try await uploadRequest(.PUT, url: url, reference: reference, headers: [("Content-Type", "application/octet-stream")],
                                body: body) { response in
            guard response.status.code == 201 || response.status.code == 204 || response.status.code == 200 else {
                throw RegistryError.pushRejected("blob \(descriptor.digest)", reference.description, Int(response.status.code), "")
            }
        }
    }

    /// A large blob in `PATCH` chunks of ``Configuration/uploadChunkSize``, each streamed from the file,
    /// then the closing `PUT`.
    func uploadChunks(
        _ session: String, path: String, descriptor: Descriptor, reference: ImageReference,
        events: @escaping @Sendable (PushEvent) -> Void
    ) async throws {
        var location = session
        var offset: Int64 = 0
        let chunk = Int64(max(1 << 16, configuration.uploadChunkSize))
        while offset < descriptor.size {
            let length = min(chunk, descriptor.size - offset)
            let start = offset
            location = try await uploadRequest(
                .PATCH, url: location, reference: reference,
                headers: [("Content-Type", "application/octet-stream"), ("Content-Range", "\(start)-\(start + length - 1)")],
                body: {
                    .stream(FileChunks(path: path, offset: start, length: length, counted: Self.counter(descriptor.digest, events)),
                            length: .known(length))
                }
            ) { response in
                guard response.status.code == 202 || response.status.code == 204, let next = response.headers.first(name: "Location") else {
                    throw RegistryError.pushRejected(
                        "a chunk of blob \(descriptor.digest)", reference.description, Int(response.status.code), "no Location in the answer")
                }
                return self.absolute(next, for: reference)
            }
            offset += length
        }
        try await finishUpload(location, descriptor: descriptor, reference: reference, body: { .bytes(ByteBuffer()) })
    }

    /// A blob of another repository (another registry, or one that refused the mount) streamed from its
    /// `GET` into the upload's `PUT`.
    func streamBlob(
        _ descriptor: Descriptor, from source: ImageReference, session: String, to reference: ImageReference,
        events: @escaping @Sendable (PushEvent) -> Void
    ) async throws {
        let url = blobURL(source, descriptor.digest)
        do {
            try await perform(.GET, url: url, reference: source, accept: [], retry: RetryPolicy.none) { response in
                try Self.check(response, method: "GET", url: url, what: "blob \(descriptor.digest) of \(source.name)")
                let received = TransferProgress.current
                let body = response.body
                try await self.finishUpload(session, descriptor: descriptor, reference: reference, body: {
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

    /// One request of an upload session, sent once: a transient failure is an ``UploadInterrupted``
    /// (the blob's upload starts again), a refusal names the reference and what the registry said.
    @discardableResult
    func uploadRequest<T: Sendable>(
        _ method: HTTPMethod, url: String, reference: ImageReference, headers: [(String, String)] = [],
        body: @escaping @Sendable () throws -> HTTPClientRequest.Body,
        _ handle: @escaping @Sendable (HTTPClientResponse) async throws -> T
    ) async throws -> T {
        do {
            return try await perform(method, url: url, reference: reference, accept: [], headers: headers, body: body, retry: RetryPolicy.none) { response in
                if response.status.code == 404 {
                    let said = await Self.excerpt(response)
                    throw RegistryError.pushRejected("the upload (\(method.rawValue))", reference.description, 404, said)
                }
                return try await handle(response)
            }
        } catch RegistryError.retriesExhausted(let url, _, let why) {
            throw UploadInterrupted(url: url, why: why)
        } catch RegistryError.unexpectedStatus(_, _, let status, let body) {
            throw RegistryError.pushRejected("the upload (\(method.rawValue))", reference.description, status, body)
        }
    }

    /// `PUT …/manifests/TAG-OR-DIGEST` with the document's exact bytes.
    func pushManifest(
        _ document: PushDocument, to reference: ImageReference, as tagOrDigest: String, events: @escaping @Sendable (PushEvent) -> Void
    ) async throws {
        let url = manifestURL(reference, tagOrDigest)
        let type = Self.sniffMediaType(document.data) ?? document.descriptor.mediaType
        let what = type.isIndex ? "image index \(document.descriptor.digest)" : "manifest \(document.descriptor.digest)"
        let data = document.data
        do {
            try await perform(.PUT, url: url, reference: reference, accept: [], headers: [("Content-Type", type.rawValue)],
                              body: { .bytes(ByteBuffer(bytes: data)) }) { response in
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
