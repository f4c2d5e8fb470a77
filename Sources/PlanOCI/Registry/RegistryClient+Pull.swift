import Foundation

extension RegistryClient {
    /// Pulls an image into `store`: resolves the reference (an index or manifest list → the
    /// manifest for `platform`), then fetches the config and layers that the store lacks, each
    /// verified before it becomes visible (layers a few at a time), and records the reference in
    /// the store.
    ///
    /// Requests: by tag, one manifest `HEAD` (then a `GET` only if the store lacks that
    /// digest); by digest, none for documents already stored; blobs only when missing. So a
    /// second pull of a stored image sends no blob request.
    public func pull(_ reference: ImageReference, platform: Platform = .host, into store: ContentStore) async throws -> PulledImage {
        try await pull(reference, platform: platform, into: store, layers: true)
    }

    /// Fetches what describes an image — the manifest and config for `platform` — but no layer, as
    /// `plan image inspect` needs. The reference is not recorded, since the image is not complete.
    public func pullConfiguration(_ reference: ImageReference, platform: Platform = .host,
                                  into store: ContentStore) async throws -> PulledImage {
        try await pull(reference, platform: platform, into: store, layers: false)
    }

    func pull(_ reference: ImageReference, platform: Platform, into store: ContentStore, layers: Bool) async throws -> PulledImage {
        let top = try await resolve(reference, into: store)
        var index: ImageIndex?
        var manifestDescriptor = top.descriptor
        var data = top.data
        var depth = 0
        while manifestDescriptor.mediaType.isIndex {
            depth += 1
            guard depth <= 4 else { throw RegistryError.invalidDocument("image index \(reference)", "indexes nested more than 4 deep") }
            let decoded = try Self.decode(ImageIndex.self, data, what: "image index \(reference)@\(manifestDescriptor.digest)")
            if index == nil { index = decoded }
            guard let chosen = decoded.manifest(for: platform) else {
                throw RegistryError.noMatchingPlatform(reference.description, platform, decoded.platforms)
            }
            let child = try await document(reference, chosen.digest, into: store)
            manifestDescriptor = Descriptor(
                mediaType: child.mediaType, digest: chosen.digest, size: Int64(child.data.count), platform: chosen.platform)
            data = child.data
        }
        guard manifestDescriptor.mediaType.isManifest else {
            throw RegistryError.unsupportedMediaType(manifestDescriptor.mediaType.rawValue, manifestURL(reference, manifestDescriptor.digest.description))
        }
        let manifest = try Self.decode(Manifest.self, data, what: "manifest \(reference)@\(manifestDescriptor.digest)")

        // The config is read whole into memory: bounded like manifests, before any byte is fetched.
        guard manifest.config.size <= Int64(configuration.maxDocumentSize) else {
            throw RegistryError.tooLarge(
                "image config \(manifest.config.digest) of \(reference) (\(manifest.config.size) bytes announced)",
                configuration.maxDocumentSize)
        }
        var downloaded = 0
        if try await fetchBlob(manifest.config, of: reference, into: store) { downloaded += 1 }
        let configData: Data
        do throws(ContentStoreError) {
            configData = try store.data(for: manifest.config.digest)
        } catch {
            throw RegistryError.store(error)
        }
        let configuration = try Self.decode(ImageConfiguration.self, configData, what: "image config \(manifest.config.digest)")
        if index == nil, !platform.matches(configuration.platform) {
            // A single-platform image for another platform: say so rather than run it wrongly.
            throw RegistryError.noMatchingPlatform(reference.description, platform, [configuration.platform])
        }
        if layers {
            downloaded += try await fetchBlobs(manifest.layers, of: reference, into: store)
            await locations.record([manifest.config.digest] + manifest.layers.map(\.digest),
                                   registry: reference.registry, repository: reference.repository)
            do throws(ContentStoreError) {
                try store.setReference(reference, to: top.descriptor.digest)
            } catch {
                throw RegistryError.store(error)
            }
        }
        return PulledImage(
            reference: reference, resolvedDescriptor: top.descriptor, index: index, manifestDescriptor: manifestDescriptor,
            manifest: manifest, configuration: configuration, downloadedBlobs: downloaded)
    }

    /// Fetches the blobs the store lacks, at most ``Configuration/maxConcurrentDownloads`` at a
    /// time; the first failure cancels the rest. Returns how many were downloaded.
    func fetchBlobs(_ blobs: [Descriptor], of reference: ImageReference, into store: ContentStore) async throws -> Int {
        let missing = blobs.filter { !store.contains($0.digest) }
        let width = max(1, configuration.maxConcurrentDownloads)
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            var next = 0
            var downloaded = 0
            while next < missing.count && next < width {
                let blob = missing[next]
                group.addTask { try await self.fetchBlob(blob, of: reference, into: store) }
                next += 1
            }
            while let fetched = try await group.next() {
                if fetched { downloaded += 1 }
                if next < missing.count {
                    let blob = missing[next]
                    group.addTask { try await self.fetchBlob(blob, of: reference, into: store) }
                    next += 1
                }
            }
            return downloaded
        }
    }

    /// The top-level document a reference names, from the store when it has it.
    func resolve(_ reference: ImageReference, into store: ContentStore) async throws -> (descriptor: Descriptor, data: Data) {
        if let digest = reference.digest {
            let doc = try await document(reference, digest, into: store)
            return (Descriptor(mediaType: doc.mediaType, digest: digest, size: Int64(doc.data.count)), doc.data)
        }
        if let head = try await headManifest(reference), store.contains(head.digest) {
            let doc = try await document(reference, head.digest, into: store)
            return (Descriptor(mediaType: doc.mediaType, digest: head.digest, size: Int64(doc.data.count)), doc.data)
        }
        let fetched = try await fetchManifest(reference)
        do throws(ContentStoreError) {
            try store.write(fetched.data, expecting: fetched.digest)
        } catch {
            throw RegistryError.store(error)
        }
        return (fetched.descriptor, fetched.data)
    }

    /// A manifest or index by digest: from the store, or fetched (verified) and stored.
    func document(_ reference: ImageReference, _ digest: Digest, into store: ContentStore) async throws -> (mediaType: MediaType, data: Data) {
        if store.contains(digest) {
            let data: Data
            do throws(ContentStoreError) {
                data = try store.data(for: digest, verify: true)
            } catch {
                throw RegistryError.store(error)
            }
            if let type = Self.sniffMediaType(data), type.isIndex || type.isManifest { return (type, data) }
            throw RegistryError.invalidDocument("stored manifest \(digest)", "neither a manifest nor an index")
        }
        let fetched = try await fetchManifest(reference, digest.description)
        do throws(ContentStoreError) {
            try store.write(fetched.data, expecting: digest)
        } catch {
            throw RegistryError.store(error)
        }
        return (fetched.mediaType, fetched.data)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw RegistryError.invalidDocument(what, CanonicalJSON.describe(error))
        }
    }
}
