import struct Crypto.SHA256
import Foundation
import NIOConcurrencyHelpers
import PlanOCI

/// Turns the files a copy reads into cache inputs: for every file, folder and link under the
/// sources (exclusions applied exactly as `FileCopier` applies them), its relative path with its
/// type, mode, owner and content digest or link target. Modification times are left out, so a
/// fresh checkout of the same files hits the cache.
///
/// Content digests are remembered by device, inode, size, modification and change time — in memory
/// for the run, so a file several stages copy is read once, and across runs in `file-digests.json`,
/// so an unchanged file is not read again at all (as git's index does). The change time cannot be
/// set by a program, so a rewritten file never matches its old entry; a file changed within the
/// last two seconds is not remembered across runs, in case it is still being written.
final class SourceDigests: Sendable {
    private struct Digests {
        /// By file identity (device, inode, size, times): remembered from the last run or read in this one.
        var known: [String: String] = [:]
        /// Digests this run used, to be remembered for the next.
        var used: [String: String] = [:]
    }

    private let digests: NIOLockedValueBox<Digests>
    private let file: String?

    /// Digests remembered in `file` (nil: only for this run).
    init(file: String? = nil) {
        self.file = file
        var digests = Digests()
        if let file, let data = FileManager.default.contents(atPath: file),
           let stored = try? JSONDecoder().decode([String: String].self, from: data) {
            digests.known = stored
        }
        self.digests = NIOLockedValueBox(digests)
    }

    /// Writes the digests this run used (and only those, so the file does not grow forever).
    func save() {
        guard let file else { return }
        let entries = digests.withLockedValue { $0.used }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(entries) else { return }
        try? BuildCache.writeAtomically(data, to: file)
    }

    /// Inputs for `sources` (host path and the path to report it as).
    func inputs(_ sources: [(host: String, relative: String)], isExcluded: (String) -> Bool) throws -> [(String, String)] {
        var items: [(String, String)] = []
        for source in sources {
            try walk(source.host, relative: source.relative, top: true, isExcluded: isExcluded, into: &items)
        }
        return items
    }

    private func walk(_ path: String, relative: String, top: Bool, isExcluded: (String) -> Bool,
                      into items: inout [(String, String)]) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if top { items.append(("missing " + relative, "")) }
            return
        }
        let owner = "\(String(info.st_mode & 0o7777, radix: 8)) \(info.st_uid):\(info.st_gid)"
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            items.append(("dir " + relative, owner))
            let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
            for name in names {
                // `copy: services/api/` reads `services/api/main.go`, not `services/api//main.go`.
                let child = relative == "." || relative.isEmpty ? name : (relative.hasSuffix("/") ? relative : relative + "/") + name
                if isExcluded(child) { continue }
                try walk(path + "/" + name, relative: child, top: false, isExcluded: isExcluded, into: &items)
            }
        case S_IFLNK:
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? ""
            items.append(("link " + relative, "\(owner) → \(target)"))
        case S_IFREG:
            items.append(("file " + relative, "\(owner) \(try contentDigest(path, info))"))
        default:
            break  // devices, fifos and sockets are not copied
        }
    }

    private func contentDigest(_ path: String, _ info: stat) throws -> String {
        let identity = "\(info.st_dev):\(info.st_ino):\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec):"
            + "\(info.st_ctim.tv_sec).\(info.st_ctim.tv_nsec)"
        let remembered = digests.withLockedValue { $0.known[identity] }
        let digest = try remembered ?? Self.sha256(file: path)
        let settled = max(info.st_mtim.tv_sec, info.st_ctim.tv_sec) < time(nil) - 2
        digests.withLockedValue { digests in
            digests.known[identity] = digest
            if settled { digests.used[identity] = digest }
        }
        return digest
    }

    /// The SHA-256 of a file's bytes, read in 1 MiB chunks.
    static func sha256(file path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw CacheError.io("open", path, errno) }
        defer { close(fd) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw CacheError.io("read", path, errno)
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        return PlanOCI.Digest.sha256(hasher.finalize()).description
    }
}
