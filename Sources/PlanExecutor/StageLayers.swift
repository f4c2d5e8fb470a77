import Foundation
import PlanOCI

/// One step's changes in a stage's chain, as stored in the build cache.
struct StepLayer: Sendable {
    var descriptor: Descriptor
    /// The step key the layer was stored under (to drop the entry if the layer turns out corrupt).
    var key: String
    /// For the image history: `plan: stage api: run go build`.
    var createdBy: String
}

/// How root filesystems are put together from a base and layers: stacked with overlayfs when the
/// kernel lets us mount it, otherwise copied (the base, then each layer applied in turn).
final class LayerStacks: @unchecked Sendable {
    let cache: BuildCache
    let runDirectory: String
    let overlay: Bool
    private var links: [String: String] = [:]
    private let lock = NSLock()

    init(cache: BuildCache, runDirectory: String) throws {
        self.cache = cache
        self.runDirectory = runDirectory
        try FileManager.default.createDirectory(atPath: runDirectory + "/l", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: runDirectory + "/empty", withIntermediateDirectories: true)
        overlay = Self.canMountOverlay(runDirectory)
    }

    var empty: String { runDirectory + "/empty" }

    /// Without metadata-only copy-ups and directory redirects, an upper folder holds whole files and
    /// whole folders: exactly what a layer must contain.
    static let writableSettings = [("redirect_dir", "off"), ("metacopy", "off")]
    static let writableOptions = writableSettings.map { "\($0.0)=\($0.1)" }.joined(separator: ",")

    /// Tries one throwaway overlay mount.
    static func canMountOverlay(_ runDirectory: String) -> Bool {
        let probe = runDirectory + "/probe"
        for folder in ["lower", "upper", "work", "merged"] {
            try? FileManager.default.createDirectory(atPath: probe + "/" + folder, withIntermediateDirectories: true)
        }
        defer { try? FileManager.default.removeItem(atPath: probe) }
        let options = "lowerdir=\(probe)/lower,upperdir=\(probe)/upper,workdir=\(probe)/work," + writableOptions
        guard mount("overlay", probe + "/merged", "overlay", 0, options) == 0 else { return false }
        umount2(probe + "/merged", 0)
        return true
    }

    /// A short name for a lower folder (overlayfs mount options must fit in a page).
    private func shortLink(_ target: String) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let known = links[target] { return known }
        let link = runDirectory + "/l/" + String(links.count, radix: 36)
        guard symlink(target, link) == 0 || errno == EEXIST else { throw CacheError.io("symlink", link, errno) }
        links[target] = link
        return link
    }

    /// The lower folders for `layers` over `base`, topmost first.
    func lowers(base: String?, layers: [StepLayer]) throws -> [String] {
        var folders = try layers.reversed().map { try shortLink(try cache.unpacked($0.descriptor)) }
        folders.append(try shortLink(base ?? empty))
        return folders
    }

    /// Mounts `lowers` (topmost first) at `merged`, writable into `upper` when given. A stack whose
    /// options do not fit in mount(2)'s one page goes through the new mount API instead.
    func mountOverlay(lowers: [String], upper: (upper: String, work: String)?, at merged: String) throws {
        var options = "lowerdir=" + lowers.joined(separator: ":")
        if let upper { options += ",upperdir=\(upper.upper),workdir=\(upper.work)," + Self.writableOptions }
        if options.utf8.count < 4000 {
            guard mount("overlay", merged, "overlay", 0, options) == 0 else {
                throw CacheError.io("mount overlay", merged, errno)
            }
            return
        }
        guard lowers.count <= 500 else {
            throw RunFailure(.stepFailed("\(lowers.count) layers are more than overlayfs can stack (500)"), stage: nil, location: nil)
        }
        var named: [(String, String)] = []
        if let upper {
            named = [("upperdir", upper.upper), ("workdir", upper.work)] + Self.writableSettings
        }
        try OverlayMount.mount(lowers: lowers, options: named, at: merged)
    }

    static func unmount(_ path: String) {
        if umount2(path, 0) != 0 { umount2(path, Int32(MNT_DETACH)) }
    }

    /// Copy mode: `base` copied to `destination`, then each layer applied.
    func materializeCopy(base: String?, layers: [StepLayer], at destination: String) throws {
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        if let base { try StageRunner.copyTree(base, to: destination) }
        for layer in layers { try cache.apply(layer.descriptor.digest, to: destination) }
    }
}

/// A stage's working root, one step at a time: each step that runs gets a fresh writable layer over
/// the stage's layers so far, and leaves its changes as a new layer in the cache.
final class StageWorkspace: @unchecked Sendable {
    let stacks: LayerStacks
    let folder: String
    let base: String?
    /// Copy mode: the stage's private root, made on the first step that runs.
    private var copyRoot: String?

    init(stacks: LayerStacks, folder: String, base: String?) {
        self.stacks = stacks
        self.folder = folder
        self.base = base
    }

    /// Runs `body` on a root holding `layers` over the base and returns the layer of its changes
    /// (nil when it changed nothing).
    func step(_ index: Int, layers: [StepLayer], _ body: (String) async throws -> Void) async throws -> Descriptor? {
        if stacks.overlay {
            let stepFolder = folder + "/\(index)"
            let (upper, work, merged) = (stepFolder + "/upper", stepFolder + "/work", stepFolder + "/merged")
            for path in [upper, work, merged] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
            try stacks.mountOverlay(lowers: try stacks.lowers(base: base, layers: layers), upper: (upper, work), at: merged)
            do {
                try await body(merged)
            } catch {
                LayerStacks.unmount(merged)
                throw error
            }
            LayerStacks.unmount(merged)
            let layer = try stacks.cache.storeUpper(upper)
            try? FileManager.default.removeItem(atPath: stepFolder)
            return layer
        }
        let root = folder + "/root"
        if copyRoot == nil {
            try stacks.materializeCopy(base: base, layers: layers, at: root)
            copyRoot = root
        }
        let snapshot = folder + "/before"
        try? FileManager.default.removeItem(atPath: snapshot)
        try FileManager.default.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
        try StageRunner.copyTree(root, to: snapshot)
        defer { try? FileManager.default.removeItem(atPath: snapshot) }
        try await body(root)
        return try stacks.cache.storeTar { try LayerDiffer().diff(base: snapshot, changed: root, to: $0) }
    }

    /// Copy mode: a step that hit the cache after one that ran must land in the private root too.
    /// Nothing to do before the first step that runs (the root is made then) or with overlayfs.
    func applyHit(_ layer: StepLayer) throws {
        guard let copyRoot else { return }
        try stacks.cache.apply(layer.descriptor.digest, to: copyRoot)
    }
}

/// Finished stages' root filesystems, put together (read-only) the first time something needs to
/// read one: a copy from the stage, an artifact, a `local` output. The mounts go with the run folder
/// (`RunDirectory.remove`).
actor StageViews {
    let stacks: LayerStacks
    private var roots: [String: String] = [:]

    init(stacks: LayerStacks) { self.stacks = stacks }

    func root(stage: String, base: String?, layers: [StepLayer]) throws -> String {
        if let known = roots[stage] { return known }
        let path: String
        if layers.isEmpty {
            path = base ?? stacks.empty
        } else {
            path = stacks.runDirectory + "/views/" + stage
            if stacks.overlay {
                // Never empty: at least one layer and the base (or the empty folder) under it.
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                try stacks.mountOverlay(lowers: try stacks.lowers(base: base, layers: layers), upper: nil, at: path)
            } else {
                try stacks.materializeCopy(base: base, layers: layers, at: path)
            }
        }
        roots[stage] = path
        return path
    }
}
