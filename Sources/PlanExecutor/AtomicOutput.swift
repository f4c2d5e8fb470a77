import Foundation
import PlanOCI

/// Writes an output folder so that it is never half-written: built in a sibling `DEST.plan-PID-XXXXXX`
/// (PlanOCI's `AtomicFolder`: made with `mkdtemp`, so nothing planted at that name is followed), then
/// swapped in, the old one moved to `DEST.plan-old-PID` for the moment of the swap. A run killed in
/// between leaves those siblings; the next write to the same destination puts an orphaned old one back
/// (when the destination is missing) or removes it, and removes orphaned half-built ones. Whether the
/// destination may be replaced at all is decided before the build (`OutputDestination.check`).
enum AtomicOutput {
    static func replace(_ destination: String, _ build: (String) throws -> Void) throws {
        let path = OutputDestination.absolute(destination)
        let name = (path as NSString).lastPathComponent
        guard path != "/", !name.isEmpty else { throw OutputError(destination: destination, reason: "an output cannot replace `/`") }
        let parent = (path as NSString).deletingLastPathComponent
        try makeFolders(parent, for: destination)
        recoverOrphans(of: path)
        let folder = try temporaryFolder(parent + "/" + name + ".plan-\(getpid())-", for: destination)
        do {
            try build(folder.path)
            OutputDestination.mark(folder.path)
            do throws(AtomicFileError) {
                try folder.commit(to: path, settingAsideAt: path + ".plan-old-\(getpid())")
            } catch {
                throw outputError(error, for: destination)
            }
        } catch {
            folder.discard()
            throw error
        }
    }

    /// Writes into an existing folder as BuildKit's local exporter does: every file of the output is
    /// written over what is there, everything else is kept. Built first in a hidden `mkdtemp` folder
    /// inside the destination (the same file system), then moved into place entry by entry.
    static func merge(_ destination: String, _ build: (String) throws -> Void) throws {
        let path = OutputDestination.absolute(destination)
        try makeFolders(path, for: destination)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        where name.hasPrefix(".plan-") && isWriterSuffix(name.dropFirst(".plan-".count), old: false)
            && RunDirectory.writerIsGone(name.dropFirst(".plan-".count)) {
            remove(path + "/" + name)
        }
        let folder = try temporaryFolder(path + "/.plan-\(getpid())-", for: destination)
        defer { folder.discard() }
        try build(folder.path)
        try moveEntries(of: folder.path, into: path, for: destination)
    }

    private static func moveEntries(of source: String, into target: String, for destination: String) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: source).sorted() {
            let from = source + "/" + name, to = target + "/" + name
            var new = stat(), existing = stat()
            guard lstat(from, &new) == 0 else { continue }
            if lstat(to, &existing) == 0 {
                if (new.st_mode & S_IFMT) == S_IFDIR, (existing.st_mode & S_IFMT) == S_IFDIR {
                    try moveEntries(of: from, into: to, for: destination)
                    _ = chmod(to, new.st_mode & 0o7777)
                    continue
                }
                remove(to)
            }
            try move(from, to: to, for: destination)
        }
    }

    /// A fresh folder `PREFIX` + six random characters, mode 0700, that did not exist before.
    private static func temporaryFolder(_ prefix: String, for destination: String) throws -> AtomicFolder {
        do throws(AtomicFileError) {
            return try AtomicFolder(prefix: prefix)
        } catch {
            throw outputError(error, for: destination)
        }
    }

    private static func outputError(_ error: AtomicFileError, for destination: String) -> OutputError {
        if case .rename(let target) = error.step {
            return OutputError(destination: destination, reason: "cannot move `\(error.path)` to `\(target)`: \(error.reason)")
        }
        return OutputError(destination: destination, reason: "cannot create a folder beside it: \(error.reason)")
    }

    private static func makeFolders(_ path: String, for destination: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw OutputError(destination: destination, reason: "cannot create the folder `\(path)`")
        }
    }

    private static func move(_ from: String, to: String, for destination: String) throws {
        guard rename(from, to) == 0 else {
            throw OutputError(destination: destination,
                              reason: "cannot move `\(from)` to `\(to)`: \(String(cString: strerror(errno)))")
        }
    }

    private static func remove(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// `PID` (an old folder, or a temporary one of earlier versions) or `PID-XXXXXX` (a `mkdtemp`
    /// folder): only names of that shape are plan's, never a user's `out.plan-notes`.
    static func isWriterSuffix(_ text: Substring, old: Bool) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard let pid = parts.first, !pid.isEmpty, pid.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        if parts.count == 1 { return true }
        return !old && parts.count == 2 && parts[1].count == 6 && parts[1].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
    }

    /// Cleans up after writers of `destination` (an absolute path) that died mid-way.
    static func recoverOrphans(of destination: String) {
        let path = OutputDestination.absolute(destination)
        let folder = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        guard !name.isEmpty, let siblings = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        let prefix = folder == "/" ? "/" : folder + "/"
        for sibling in siblings.sorted() where sibling.hasPrefix(name + ".plan-") {
            for (marker, isOld) in [(".plan-old-", true), (".plan-", false)] where sibling.hasPrefix(name + marker) {
                let writer = sibling.dropFirst(name.count + marker.count)
                guard isWriterSuffix(writer, old: isOld), RunDirectory.writerIsGone(writer) else { break }
                var info = stat()
                if isOld, lstat(path, &info) != 0 {
                    _ = rename(prefix + sibling, path)
                } else {
                    remove(prefix + sibling)
                }
                break
            }
        }
    }
}
