import PlanDiagnostics
import PlanOCI
import PlanValues

/// Resolves what a plan reads into a ``LockFile``: each distinct image's tag once (one manifest `GET`), then each
/// platform's manifest from its index (one `GET` per image and platform, none for a single-manifest image), all
/// in parallel, through the same ``RegistryClient`` (credentials, `--insecure-registry`) and store a pull uses.
public struct Locker: Sendable {
    /// The registry client.
    public let client: RegistryClient
    /// Where manifests and configurations go (a later `plan run --locked` finds them there by digest).
    public let store: ContentStore

    public init(client: RegistryClient, store: ContentStore) {
        self.client = client
        self.store = store
    }

    /// An image that could not be resolved, with where the plan first names it.
    public struct Failure: Error, Sendable {
        public var reference: ImageReference
        public var reason: String
        public var location: SourceLocation?
    }

    /// The lock of `reads` for the plan `plan` (file `planFile`, relative to the lock). Images `keep` accepts
    /// keep their entry in `previous` (platforms no longer built dropped; a platform it lacks is read from the
    /// locked index, so the others keep their digests); all others are resolved at the registry. Throws every
    /// failure, located.
    public func lock(_ reads: PlanReads, plan: String, planFile: String, previous: LockFile?,
                     keep: @Sendable (ImageReference) -> Bool) async throws(LockFailure) -> LockFile {
        var lock = LockFile(plan: plan, planFile: planFile)
        var toResolve: [(reference: ImageReference, platforms: [Platform], lockedAt: Digest?)] = []
        for (reference, platforms) in reads.platformsByImage {
            guard keep(reference), let old = previous?.image(reference) else {
                toResolve.append((reference, platforms, nil))
                continue
            }
            if platforms.allSatisfy({ old.manifest(for: $0) != nil }) {
                let wanted = Set(platforms.map(LockFile.key))
                lock.images[reference.description] = LockedImage(digest: old.digest, platforms: old.platforms.filter { wanted.contains($0.key) })
            } else {
                toResolve.append((reference, platforms, old.digest))
            }
        }
        var failures: [Failure] = []
        await withTaskGroup(of: (ImageReference, Result<LockedImage, any Error>).self) { group in
            for item in toResolve {
                group.addTask {
                    do {
                        return (item.reference, .success(try await self.resolve(item.reference, at: item.lockedAt, platforms: item.platforms)))
                    } catch {
                        return (item.reference, .failure(error))
                    }
                }
            }
            for await (reference, outcome) in group {
                switch outcome {
                case .success(let image): lock.images[reference.description] = image
                case .failure(let error):
                    failures.append(Failure(reference: reference, reason: "\(error)",
                                            location: reads.images.first { $0.reference == reference }?.location))
                }
            }
        }
        if !failures.isEmpty {
            throw LockFailure(failures: failures.sorted { $0.reference.description < $1.reference.description })
        }
        for download in reads.downloads where lock.downloads[download.url] == nil {
            lock.downloads[download.url] = download.checksum
        }
        return lock
    }

    /// One image: its tag (or digest; `at`: that index or manifest instead) resolved by one manifest `GET`, then
    /// each platform's manifest chosen from the index and fetched by digest, with its configuration (which says
    /// the platform of a single-manifest image).
    public func resolve(_ reference: ImageReference, at digest: Digest? = nil, platforms: [Platform]) async throws -> LockedImage {
        let top = try await client.fetchManifest(reference, digest?.description)
        do throws(ContentStoreError) {
            try store.write(top.data, expecting: top.digest)
        } catch {
            throw RegistryError.store(error)
        }
        let pinned = reference.with(tag: reference.tag, digest: top.digest)
        let manifests = try await withThrowingTaskGroup(of: (String, Digest).self) { group in
            for platform in platforms {
                group.addTask {
                    let image = try await self.client.pullConfiguration(pinned, platform: platform, into: self.store)
                    return (LockFile.key(platform), image.manifestDescriptor.digest)
                }
            }
            var result: [String: Digest] = [:]
            for try await (key, digest) in group { result[key] = digest }
            return result
        }
        return LockedImage(digest: top.digest, platforms: manifests)
    }
}

/// `plan lock` could not resolve some images.
public struct LockFailure: Error, Sendable {
    public var failures: [Locker.Failure]

    /// Each failure as a located error.
    public var diagnostics: [Diagnostic] {
        failures.map { failure in
            Diagnostic.error(.imagePullFailed, "cannot resolve `\(failure.reference)`: \(failure.reason)", at: failure.location)
        }
    }
}

/// How a lock differs from what the registry and the plan say now: what `plan lock --check` reports.
public enum LockDifference: Hashable, Sendable, CustomStringConvertible {
    /// The plan reads an image the lock does not have.
    case missingImage(String)
    /// The lock has an image the plan no longer reads.
    case extraImage(String)
    /// The image's tag now names another index or manifest.
    case changedImage(String, locked: Digest, current: Digest)
    /// A platform the plan builds that the lock's entry lacks.
    case missingPlatform(String, platform: String)
    /// A platform the lock's entry has that the plan no longer builds.
    case extraPlatform(String, platform: String)
    /// A platform's manifest changed.
    case changedPlatform(String, platform: String, locked: Digest, current: Digest)
    /// A download the lock lacks, has without the plan, or pins with another checksum.
    case missingDownload(String)
    case extraDownload(String)
    case changedDownload(String, locked: Digest, current: Digest)
    /// The lock names another plan or plan file.
    case otherPlan(locked: String, current: String)

    public var description: String {
        switch self {
        case .missingImage(let name): "missing: \(name) (the plan reads it; the lock does not pin it)"
        case .extraImage(let name): "extra: \(name) (the lock pins it; the plan no longer reads it)"
        case .changedImage(let name, let locked, let current): "changed: \(name): locked \(locked), the registry now has \(current)"
        case .missingPlatform(let name, let platform): "missing: \(name) for \(platform)"
        case .extraPlatform(let name, let platform): "extra: \(name) for \(platform) (no longer built)"
        case .changedPlatform(let name, let platform, let locked, let current):
            "changed: \(name) for \(platform): locked \(locked), the registry now has \(current)"
        case .missingDownload(let url): "missing: download \(url)"
        case .extraDownload(let url): "extra: download \(url) (the plan no longer downloads it)"
        case .changedDownload(let url, let locked, let current): "changed: download \(url): locked \(locked), the plan says \(current)"
        case .otherPlan(let locked, let current): "the lock is for \(locked), this plan is \(current)"
        }
    }

    /// Every difference between `locked` and `current`, sorted by entry.
    public static func between(_ locked: LockFile, _ current: LockFile) -> [LockDifference] {
        var differences: [LockDifference] = []
        if locked.plan != current.plan || locked.planFile != current.planFile {
            differences.append(.otherPlan(locked: "`\(locked.plan)` (\(locked.planFile))", current: "`\(current.plan)` (\(current.planFile))"))
        }
        for name in Set(locked.images.keys).union(current.images.keys).sorted() {
            switch (locked.images[name], current.images[name]) {
            case (nil, _?): differences.append(.missingImage(name))
            case (_?, nil): differences.append(.extraImage(name))
            case (let old?, let new?):
                if old.digest != new.digest { differences.append(.changedImage(name, locked: old.digest, current: new.digest)) }
                for platform in Set(old.platforms.keys).union(new.platforms.keys).sorted() {
                    switch (old.platforms[platform], new.platforms[platform]) {
                    case (nil, _?): differences.append(.missingPlatform(name, platform: platform))
                    case (_?, nil): differences.append(.extraPlatform(name, platform: platform))
                    case (let a?, let b?) where a != b:
                        differences.append(.changedPlatform(name, platform: platform, locked: a, current: b))
                    default: break
                    }
                }
            case (nil, nil): break
            }
        }
        for url in Set(locked.downloads.keys).union(current.downloads.keys).sorted() {
            switch (locked.downloads[url], current.downloads[url]) {
            case (nil, _?): differences.append(.missingDownload(url))
            case (_?, nil): differences.append(.extraDownload(url))
            case (let a?, let b?) where a != b: differences.append(.changedDownload(url, locked: a, current: b))
            default: break
            }
        }
        return differences
    }
}
