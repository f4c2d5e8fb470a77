import Foundation
import PlanOCI

// `plan cache du|ls|prune`: what the cache holds, how much space each kind takes, and removing
// entries least recently used first. Nothing here prints or exits; problems come back as
// `CacheMaintenanceError` or as warnings in a report.

/// One entry of the build cache: a step key and the record it leads to.
public struct BuildCacheEntry: Sendable, Equatable {
    /// The step key (64 hex digits), the name of `refs/KEY`.
    public var key: String
    /// What produced it: `plan/stage: run make`, `plan/stage: artifact bin`.
    public var description: String
    /// The digest of the record blob.
    public var record: Digest
    /// The digest of the layer (or artifact tree) blob; nil when the step changed no file.
    public var layer: Digest?
    /// The size of the record blob plus the size of the layer blob.
    public var bytes: Int64
    /// The modification time of `refs/KEY`: set when the entry is stored and on every hit.
    public var lastUsed: Date

    public init(key: String, description: String, record: Digest, layer: Digest?, bytes: Int64, lastUsed: Date) {
        self.key = key
        self.description = description
        self.record = record
        self.layer = layer
        self.bytes = bytes
        self.lastUsed = lastUsed
    }
}

/// A reference that leads to no usable record (unreadable, dangling, corrupt, or its layer is
/// missing). A lookup would drop it and rebuild; `prune` removes it.
public struct BrokenCacheReference: Sendable, Equatable {
    public var key: String
    /// Why it is unusable.
    public var reason: String
}

/// The build cache's entries, most recently used first (ties by key), and its broken references.
public struct BuildCacheListing: Sendable, Equatable {
    public var entries: [BuildCacheEntry]
    /// Sorted by key.
    public var broken: [BrokenCacheReference]
}

/// The kinds of data in a cache folder, in the order `plan cache du` shows them.
public enum CacheCategory: String, CaseIterable, Sendable {
    /// `build/` except `unpacked/`: blobs (records, layers, artifact trees), references, `--explain`
    /// history, temporary files.
    case buildEntries = "build entries"
    /// `build/unpacked/`: layers unpacked as overlayfs folders.
    case unpackedLayers = "unpacked layers"
    /// `images/` (the image store) and `rootfs/` (unpacked base images).
    case baseImages = "base images"
    /// `mounts/`: the folders behind `cache:` mounts of `run` steps.
    case cacheMounts = "cache mounts"
    /// `runs/`: scratch folders of runs (running ones, or left by killed ones).
    case leftoverRuns = "leftover runs"

    /// The folders whose bytes make up the category.
    func folders(in layout: CacheLayout) -> [String] {
        switch self {
        case .buildEntries: [layout.build]
        case .unpackedLayers: [layout.unpackedLayers]
        case .baseImages: [layout.images, layout.rootfs]
        case .cacheMounts: [layout.mounts]
        case .leftoverRuns: [layout.runs]
        }
    }
}

/// The space one kind of data takes.
public struct CacheCategoryUsage: Sendable, Equatable {
    public var category: CacheCategory
    /// Apparent size, as `du -sbx` counts it: every file, folder and symbolic link (hard links once),
    /// the category's folders included, nothing on another file system (mounts of running builds).
    public var bytes: Int64
    /// Entries, unpacked layers, image references, mount folders or run folders.
    public var items: Int
}

/// The space a cache folder takes, by kind.
public struct CacheUsage: Sendable, Equatable {
    public var directory: String
    /// One per `CacheCategory`, in `CacheCategory.allCases` order.
    public var categories: [CacheCategoryUsage]
    /// The sum of the categories' bytes.
    public var total: Int64 { categories.reduce(0) { $0 + $1.bytes } }
}

/// What `prune` removes.
public struct PruneOptions: Sendable, Equatable {
    /// Remove entries least recently used first until the entries left take at most this many bytes
    /// (their blobs, each counted once, plus their unpacked layers).
    public var keepBytes: Int64?
    /// Remove every entry unused for longer than this many seconds.
    public var olderThan: TimeInterval?
    /// Also remove base images (`images/`, `rootfs/`) and cache mounts (`mounts/`).
    public var all: Bool
    /// The time `olderThan` counts back from.
    public var now: Date

    /// Without `keepBytes` and `olderThan`, every build entry is removed.
    public init(keepBytes: Int64? = nil, olderThan: TimeInterval? = nil, all: Bool = false, now: Date = Date()) {
        self.keepBytes = keepBytes
        self.olderThan = olderThan
        self.all = all
        self.now = now
    }
}

/// What `prune` did.
public struct PruneReport: Sendable, Equatable {
    /// The entries removed, least recently used first.
    public var removed: [BuildCacheEntry] = []
    /// Broken references removed (see `BrokenCacheReference`), sorted by key.
    public var broken: [BrokenCacheReference] = []
    /// Entries left.
    public var kept = 0
    /// What the entries left take: their blobs (each once) and their unpacked layers.
    public var keptBytes: Int64 = 0
    /// Blobs no remaining record referred to.
    public var blobsRemoved = 0
    /// Unpacked folders whose layer blob is gone.
    public var unpackedRemoved = 0
    /// Temporary files and folders left by killed runs.
    public var temporaryRemoved = 0
    /// Scratch folders of runs whose process is gone.
    public var runsRemoved = 0
    /// With `all`: whether base images and cache mounts were removed.
    public var removedImagesAndMounts = false
    /// Bytes freed per kind, one per `CacheCategory`, in `allCases` order (`items`: files and folders
    /// removed).
    public var freed: [CacheCategoryUsage] = CacheCategory.allCases.map { CacheCategoryUsage(category: $0, bytes: 0, items: 0) }
    /// What could not be removed (path: reason), in the order met.
    public var warnings: [String] = []

    /// Every byte freed.
    public var bytesFreed: Int64 { freed.reduce(0) { $0 + $1.bytes } }

    mutating func free(_ bytes: Int64, _ category: CacheCategory) {
        guard let index = freed.firstIndex(where: { $0.category == category }) else { return }
        freed[index].bytes += max(0, bytes)
        freed[index].items += 1
    }
}

/// Why the cache could not be read or pruned.
public enum CacheMaintenanceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The cache path exists but is not a folder.
    case notAFolder(String)
    /// A folder of the cache could not be read (operation, path, system message).
    case io(String, String, String)
    /// The build cache could not be opened or locked (path, why).
    case cannotOpen(String, String)

    public var description: String {
        switch self {
        case .notAFolder(let path): "\(path) is not a folder"
        case .io(let operation, let path, let why): "\(operation) \(path): \(why)"
        case .cannotOpen(let path, let why): "cannot open the build cache at \(path): \(why)"
        }
    }
}

extension BuildCache {
    // MARK: Listing

    /// The entries of the build cache in `cacheDirectory` (its `build/` folder), most recently used
    /// first. A cache that does not exist yet has none; nothing is created.
    public static func entries(cacheDirectory: String) throws(CacheMaintenanceError) -> BuildCacheListing {
        guard try folderExists(cacheDirectory) else { return BuildCacheListing(entries: [], broken: []) }
        return try scan(CacheLayout(root: cacheDirectory))
    }

    /// The space each kind of data takes in `cacheDirectory`. Nothing is created or locked: while a
    /// build runs the numbers move.
    public static func usage(cacheDirectory: String) throws(CacheMaintenanceError) -> CacheUsage {
        guard try folderExists(cacheDirectory) else {
            return CacheUsage(directory: cacheDirectory,
                              categories: CacheCategory.allCases.map { CacheCategoryUsage(category: $0, bytes: 0, items: 0) })
        }
        let layout = CacheLayout(root: cacheDirectory)
        var categories: [CacheCategoryUsage] = []
        for category in CacheCategory.allCases {
            var bytes = category.folders(in: layout).reduce(Int64(0)) { $0 + DiskUsage.bytes($1) }
            let items: Int
            switch category {
            case .buildEntries:
                bytes -= DiskUsage.bytes(layout.unpackedLayers)
                items = names(in: layout.buildReferences).filter(isKey).count
            case .unpackedLayers:
                items = names(in: layout.unpackedLayers).filter(isKey).count
            case .baseImages:
                // The image store's references (`images/refs.json`), read without opening the store
                // (which would create its folders).
                let references = FileManager.default.contents(atPath: layout.imageReferences)
                    .flatMap { try? JSONDecoder().decode([String: Digest].self, from: $0) }
                items = references?.count ?? 0
            case .cacheMounts:
                items = names(in: layout.mounts).count
            case .leftoverRuns:
                items = names(in: layout.runs).count
            }
            categories.append(CacheCategoryUsage(category: category, bytes: max(0, bytes), items: items))
        }
        return CacheUsage(directory: cacheDirectory, categories: categories)
    }

    // MARK: Pruning

    /// Removes build cache entries, then everything they alone used, holding the cache lock
    /// exclusively: a prune waits for running builds (they hold it shared), and a build started
    /// during a prune waits for it, so nothing a build uses is removed under it.
    ///
    /// 1. Broken references are removed.
    /// 2. Entries are removed: every one unused for longer than `olderThan`; then, least recently used
    ///    first (ties by key), until the entries left take at most `keepBytes` (their record and layer
    ///    blobs, each blob counted once, plus their unpacked layers). With neither option, every entry.
    /// 3. Sweep: blobs that no remaining record is or refers to (a layer converted for an image
    ///    output, remembered in `converted/`, is kept with its source layer); unpacked folders whose layer blob is
    ///    gone; temporary files (`tmp/`, `.tmp-*`); run folders of processes that are gone; temporary
    ///    base image files of processes that are gone. The `--explain` history stays.
    /// 4. With `all`: `images/`, `rootfs/` and `mounts/` entirely.
    ///
    /// A cache folder that does not exist is left alone (an empty report).
    public static func prune(cacheDirectory: String, options: PruneOptions) async throws(CacheMaintenanceError) -> PruneReport {
        guard try folderExists(cacheDirectory) else { return PruneReport() }
        let cache: BuildCache
        do {
            cache = try BuildCache(cacheDirectory: cacheDirectory)
        } catch {
            throw .cannotOpen(CacheLayout(root: cacheDirectory).build, "\(error)")
        }
        let result: Result<PruneReport, CacheMaintenanceError>
        do {
            result = try await cache.withLock(exclusive: true) { cache.pruneHoldingLock(options: options) }
        } catch {
            throw .cannotOpen(cache.layout.buildLock, "\(error)")
        }
        return try result.get()
    }

    /// Entries to remove, least recently used first: see `prune`.
    static func selectForRemoval(_ entries: [BuildCacheEntry], options: PruneOptions,
                                 blobSizes: [Digest: Int64], unpackedSizes: [Digest: Int64]) -> (removed: [BuildCacheEntry], keptBytes: Int64) {
        let byAge = entries.sorted { ($0.lastUsed, $0.key) < ($1.lastUsed, $1.key) }
        guard options.keepBytes != nil || options.olderThan != nil else { return (byAge, 0) }
        var removing = Set<String>()
        if let olderThan = options.olderThan {
            let cutoff = options.now.addingTimeInterval(-olderThan)
            for entry in byAge where entry.lastUsed < cutoff { removing.insert(entry.key) }
        }
        // What the entries left take: each blob once, each unpacked layer once.
        var blobUses: [Digest: Int] = [:]
        var layerUses: [Digest: Int] = [:]
        var total: Int64 = 0
        func use(_ entry: BuildCacheEntry, _ delta: Int) {
            for digest in [entry.record] + (entry.layer.map { [$0] } ?? []) {
                let before = blobUses[digest, default: 0]
                blobUses[digest] = before + delta
                if before == 0 && delta > 0 || before + delta == 0 && delta < 0 { total += Int64(delta) * blobSizes[digest, default: 0] }
            }
            if let layer = entry.layer {
                let before = layerUses[layer, default: 0]
                layerUses[layer] = before + delta
                if before == 0 && delta > 0 || before + delta == 0 && delta < 0 { total += Int64(delta) * unpackedSizes[layer, default: 0] }
            }
        }
        for entry in byAge where !removing.contains(entry.key) { use(entry, 1) }
        if let keepBytes = options.keepBytes {
            for entry in byAge where total > keepBytes && !removing.contains(entry.key) {
                removing.insert(entry.key)
                use(entry, -1)
            }
        }
        return (byAge.filter { removing.contains($0.key) }, total)
    }

    private func pruneHoldingLock(options: PruneOptions) -> Result<PruneReport, CacheMaintenanceError> {
        var report = PruneReport()
        let listing: BuildCacheListing
        do {
            listing = try Self.scan(layout)
        } catch {
            return .failure(error)
        }
        let blobs = layout.buildBlobs

        // 1. Broken references.
        for broken in listing.broken {
            if remove(layout.buildReferences + "/" + broken.key, .buildEntries, into: &report) { report.broken.append(broken) }
        }

        // 2. Entries.
        let kept = removeEntries(listing.entries, options: options, blobs: blobs, into: &report)

        // 3. Sweep: mark what the remaining records are and refer to, remove the rest.
        sweepBuildFolder(keeping: kept, blobs: blobs, into: &report)
        removeLeftoverRuns(into: &report)

        // 4. Base images and cache mounts; otherwise only what killed runs left in them.
        if options.all {
            removeImagesAndMounts(into: &report)
        } else {
            removeTemporaryImageFiles(into: &report)
        }
        return .success(report)
    }

    /// Removes the entries `selectForRemoval` picks; returns the entries left.
    private func removeEntries(_ entries: [BuildCacheEntry], options: PruneOptions, blobs: String,
                               into report: inout PruneReport) -> [BuildCacheEntry] {
        var blobSizes: [Digest: Int64] = [:]
        var unpackedSizes: [Digest: Int64] = [:]
        for entry in entries {
            for digest in [entry.record] + (entry.layer.map { [$0] } ?? []) where blobSizes[digest] == nil {
                blobSizes[digest] = POSIXFileSize.of(blobs + "/" + digest.encoded) ?? 0
            }
            if let layer = entry.layer, unpackedSizes[layer] == nil {
                unpackedSizes[layer] = DiskUsage.bytes(layout.unpackedLayers + "/" + layer.encoded)
            }
        }
        let (removing, keptBytes) = Self.selectForRemoval(entries, options: options, blobSizes: blobSizes,
                                                          unpackedSizes: unpackedSizes)
        var removedKeys = Set<String>()
        for entry in removing where remove(layout.buildReferences + "/" + entry.key, .buildEntries, into: &report) {
            report.removed.append(entry)
            removedKeys.insert(entry.key)
        }
        let kept = entries.filter { !removedKeys.contains($0.key) }
        report.kept = kept.count
        report.keptBytes = keptBytes
        return kept
    }

    /// Removes blobs that no kept record is or refers to, temporary files, and unpacked folders whose
    /// layer blob is gone.
    private func sweepBuildFolder(keeping kept: [BuildCacheEntry], blobs: String, into report: inout PruneReport) {
        var marked = Set<String>()
        for entry in kept {
            marked.insert(entry.record.encoded)
            if let layer = entry.layer { marked.insert(layer.encoded) }
        }
        // Layers converted for image outputs live as long as the layer they were made from.
        marked.formUnion(keptConversions(sources: marked) { remove($0, .buildEntries, into: &report) })
        for name in Self.names(in: blobs) {
            if Self.isKey(name) {
                guard !marked.contains(name) else { continue }
                if remove(blobs + "/" + name, .buildEntries, into: &report) { report.blobsRemoved += 1 }
            } else if name.hasPrefix(".tmp-") {
                if remove(blobs + "/" + name, .buildEntries, into: &report) { report.temporaryRemoved += 1 }
            }
        }
        for name in Self.names(in: layout.buildTemporary) where remove(layout.buildTemporary + "/" + name, .buildEntries, into: &report) {
            report.temporaryRemoved += 1
        }
        for folder in [layout.buildReferences, layout.buildHistory] {
            for name in Self.names(in: folder) where name.contains(".tmp-") && remove(folder + "/" + name, .buildEntries, into: &report) {
                report.temporaryRemoved += 1
            }
        }
        for name in Self.names(in: layout.unpackedLayers) {
            let path = layout.unpackedLayers + "/" + name
            if name.hasPrefix(".tmp-") {
                if remove(path, .unpackedLayers, into: &report) { report.temporaryRemoved += 1 }
            } else if Self.isKey(name), access(blobs + "/" + name, F_OK) != 0 {
                if remove(path, .unpackedLayers, into: &report) { report.unpackedRemoved += 1 }
            }
        }
    }

    /// Removes the scratch folders of runs whose process is gone.
    private func removeLeftoverRuns(into report: inout PruneReport) {
        let runs = layout.runs
        for name in Self.names(in: runs) where RunDirectory.writerIsGone(name.hasPrefix("image-") ? name.dropFirst(6) : Substring(name)) {
            // A killed run leaves its mounts (step roots, stage views): detach them first.
            let path = runs + "/" + name
            RunDirectory.detachMounts(under: path)
            if remove(path, .leftoverRuns, into: &report) { report.runsRemoved += 1 }
        }
    }

    /// With `all`: removes base images (`images/`, `rootfs/`) and cache mounts (`mounts/`) entirely.
    private func removeImagesAndMounts(into report: inout PruneReport) {
        report.removedImagesAndMounts = true
        for (path, category) in [(layout.images, CacheCategory.baseImages), (layout.rootfs, .baseImages), (layout.mounts, .cacheMounts)] {
            if access(path, F_OK) == 0 { _ = remove(path, category, into: &report) }
        }
    }

    /// Removes the temporary base image files of processes that are gone.
    private func removeTemporaryImageFiles(into report: inout PruneReport) {
        for name in Self.names(in: layout.imageTemporary) where RunDirectory.writerIsGone(name.dropFirst(".tmp-".count)) {
            if remove(layout.imageTemporary + "/" + name, .baseImages, into: &report) { report.temporaryRemoved += 1 }
        }
        for name in Self.names(in: layout.rootfs) {
            guard let range = name.range(of: ".tmp-"), RunDirectory.writerIsGone(name[range.upperBound...]) else { continue }
            if remove(layout.rootfs + "/" + name, .baseImages, into: &report) { report.temporaryRemoved += 1 }
        }
    }

    /// Removes a file or folder, counting what it took under `category`; a failure becomes a warning.
    private func remove(_ path: String, _ category: CacheCategory, into report: inout PruneReport) -> Bool {
        let before = DiskUsage.bytes(path)
        let failure = DiskUsage.removeTree(path)
        let after = failure == nil ? 0 : DiskUsage.bytes(path)
        report.free(before - after, category)
        if let failure { report.warnings.append("cannot remove \(path): \(failure)") }
        return failure == nil
    }

    // MARK: Reading

    /// Reads every reference under `build/refs`, checking each record against its digest and
    /// each layer's size, without changing anything.
    static func scan(_ layout: CacheLayout) throws(CacheMaintenanceError) -> BuildCacheListing {
        let refs = layout.buildReferences
        let blobs = layout.buildBlobs
        let keys: [String]
        do {
            keys = try FileManager.default.contentsOfDirectory(atPath: refs).filter(isKey).sorted()
        } catch {
            if access(refs, F_OK) != 0 { return BuildCacheListing(entries: [], broken: []) }
            throw .io("list", refs, (error as NSError).localizedDescription)
        }
        var entries: [BuildCacheEntry] = []
        var broken: [BrokenCacheReference] = []
        for key in keys {
            let path = refs + "/" + key
            var info = stat()
            // Gone since listed (a concurrent lookup dropped it): not an entry any more.
            guard lstat(path, &info) == 0, let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            let lastUsed = Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
            guard let digest = try? Digest(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines)),
                  digest.algorithm == "sha256" else {
                broken.append(BrokenCacheReference(key: key, reason: "unreadable reference"))
                continue
            }
            guard let data = FileManager.default.contents(atPath: blobs + "/" + digest.encoded) else {
                broken.append(BrokenCacheReference(key: key, reason: "record \(digest) is missing"))
                continue
            }
            guard Digest.sha256(of: data) == digest, let record = try? JSONDecoder().decode(CacheRecord.self, from: data),
                  record.key == key else {
                broken.append(BrokenCacheReference(key: key, reason: "record \(digest) is corrupt"))
                continue
            }
            var bytes = Int64(data.count)
            if let layer = record.layer {
                guard layer.digest.algorithm == "sha256", let size = POSIXFileSize.of(blobs + "/" + layer.digest.encoded),
                      size == layer.size else {
                    broken.append(BrokenCacheReference(key: key, reason: "layer \(layer.digest) is missing or has the wrong size"))
                    continue
                }
                bytes += size
            }
            entries.append(BuildCacheEntry(key: key, description: record.description, record: digest,
                                           layer: record.layer?.digest, bytes: bytes, lastUsed: lastUsed))
        }
        entries.sort { ($0.lastUsed, $1.key) > ($1.lastUsed, $0.key) }
        return BuildCacheListing(entries: entries, broken: broken)
    }

    /// Whether `path` is a folder; false when it does not exist; an error when it is something else.
    static func folderExists(_ path: String) throws(CacheMaintenanceError) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw .notAFolder(path) }
        return true
    }

    /// The names in a folder, sorted; none when it cannot be read.
    static func names(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    /// 64 lower-case hex digits: a step key or a SHA-256 digest's hex part.
    static func isKey(_ name: String) -> Bool {
        name.utf8.count == 64 && name.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

/// The size of a regular file.
enum POSIXFileSize {
    static func of(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }
}

/// Sizes and removal of trees, without following symbolic links or crossing into other file systems.
enum DiskUsage {
    private struct Inode: Hashable {
        var device: UInt64
        var number: UInt64
    }

    /// The apparent size of `path` and everything below it, as `du -sbx` counts it: the size of every
    /// file, folder and symbolic link, hard-linked files once, nothing on another file system. 0 when
    /// `path` does not exist.
    static func bytes(_ path: String) -> Int64 {
        var info = stat()
        guard lstat(path, &info) == 0 else { return 0 }
        var seen = Set<Inode>()
        return bytes(path, info, device: info.st_dev, seen: &seen)
    }

    private static func bytes(_ path: String, _ info: stat, device: dev_t, seen: inout Set<Inode>) -> Int64 {
        if (info.st_mode & S_IFMT) != S_IFDIR {
            if info.st_nlink > 1, !seen.insert(Inode(device: UInt64(info.st_dev), number: UInt64(info.st_ino))).inserted {
                return 0
            }
            return Int64(info.st_size)
        }
        var total = Int64(info.st_size)
        for name in children(path) {
            let child = path + "/" + name
            var childInfo = stat()
            guard lstat(child, &childInfo) == 0, childInfo.st_dev == device else { continue }
            total += bytes(child, childInfo, device: device, seen: &seen)
        }
        return total
    }

    /// The names in a folder (not `.` and `..`), read with `readdir`.
    static func children(_ path: String) -> [String] { DirectoryListing.names(atPath: path) }

    /// Removes `path` and everything below it, making folders writable first (layers and images hold
    /// read-only folders); never follows symbolic links and never enters another file system. Nil on
    /// success (or when `path` does not exist), else why not.
    static func removeTree(_ path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return errno == ENOENT ? nil : String(cString: strerror(errno)) }
        return removeTree(path, info, device: info.st_dev)
    }

    private static func removeTree(_ path: String, _ info: stat, device: dev_t) -> String? {
        if (info.st_mode & S_IFMT) != S_IFDIR {
            return unlink(path) == 0 || errno == ENOENT ? nil : String(cString: strerror(errno))
        }
        guard info.st_dev == device else { return "a mount point of another file system" }
        if info.st_mode & 0o700 != 0o700 { chmod(path, (info.st_mode & 0o7777) | 0o700) }
        var failure: String?
        for name in children(path) {
            let child = path + "/" + name
            var childInfo = stat()
            guard lstat(child, &childInfo) == 0 else { continue }
            if let problem = removeTree(child, childInfo, device: device) { failure = failure ?? "\(child): \(problem)" }
        }
        if let failure { return failure }
        return rmdir(path) == 0 || errno == ENOENT ? nil : String(cString: strerror(errno))
    }
}
