import Foundation
import NIOConcurrencyHelpers
import PlanOCI

/// How root filesystems are put together from a base and layers: stacked with overlayfs when the
/// kernel lets us mount it, otherwise copied (the base, then each layer applied in turn).
final class LayerStacks: Sendable {
    let cache: BuildCache
    let runDirectory: String
    let overlay: Bool
    /// Lower folder → its short link under `l/`.
    private let links = NIOLockedValueBox<[String: String]>([:])

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

    /// Tries one throwaway overlay mount (never on a system without overlayfs: copy mode there).
    static func canMountOverlay(_ runDirectory: String) -> Bool {
        #if !os(Linux)
        return false
        #else
        let probe = runDirectory + "/probe"
        for folder in ["lower", "upper", "work", "merged"] {
            try? FileManager.default.createDirectory(atPath: probe + "/" + folder, withIntermediateDirectories: true)
        }
        defer { try? FileManager.default.removeItem(atPath: probe) }
        let options = "lowerdir=\(probe)/lower,upperdir=\(probe)/upper,workdir=\(probe)/work," + writableOptions
        guard mount("overlay", probe + "/merged", "overlay", 0, options) == 0 else { return false }
        umount2(probe + "/merged", 0)
        return true
        #endif
    }

    /// A short name for a lower folder (overlayfs mount options must fit in a page).
    private func shortLink(_ target: String) throws -> String {
        try links.withLockedValue { links in
            if let known = links[target] { return known }
            let link = runDirectory + "/l/" + String(links.count, radix: 36)
            guard symlink(target, link) == 0 || errno == EEXIST else { throw CacheError.io("symlink", link, errno) }
            links[target] = link
            return link
        }
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
            #if os(Linux)
            guard mount("overlay", merged, "overlay", 0, options) == 0 else {
                throw CacheError.io("mount overlay", merged, errno)
            }
            return
            #else
            throw CacheError.io("mount overlay", merged, ENOSYS)  // not reached: `overlay` is false here
            #endif
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
        #if os(Linux)
        if umount2(path, 0) != 0 { umount2(path, Int32(MNT_DETACH)) }
        #endif
    }

    /// Copy mode: `base` copied to `destination`, then each layer applied.
    func materializeCopy(base: String?, layers: [StepLayer], at destination: String) throws {
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        if let base { try StageRunner.copyTree(base, to: destination) }
        for layer in layers { try cache.apply(layer.descriptor.digest, to: destination) }
    }
}
