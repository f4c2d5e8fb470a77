import Foundation

/// Writes an output folder so that it is never half-written: built in a sibling `DEST.plan-PID-XXXXXX`
/// (made with `mkdtemp`, so nothing planted at that name is followed), then swapped in, the old one
/// moved to `DEST.plan-old-PID` for the moment of the swap. A run killed in between leaves those
/// siblings; the next write to the same destination puts an orphaned old one back (when the destination
/// is missing) or removes it, and removes orphaned half-built ones. Whether the destination may be
/// replaced at all is decided before the build (`OutputDestination.check`).
enum AtomicOutput {
    static func replace(_ destination: String, _ build: (String) throws -> Void) throws {
        let path = OutputDestination.absolute(destination)
        let name = (path as NSString).lastPathComponent
        guard path != "/", !name.isEmpty else { throw OutputError(destination: destination, reason: "an output cannot replace `/`") }
        let parent = (path as NSString).deletingLastPathComponent
        try makeFolders(parent, for: destination)
        recoverOrphans(of: path)
        let temporary = try temporaryFolder(parent + "/" + name + ".plan-\(getpid())-", for: destination)
        do {
            try build(temporary)
            publish(temporary)
            OutputDestination.mark(temporary)
            let old = path + ".plan-old-\(getpid())"
            var info = stat()
            if lstat(path, &info) == 0 {
                try move(path, to: old, for: destination)
            }
            do {
                try move(temporary, to: path, for: destination)
            } catch {
                _ = rename(old, path)
                throw error
            }
            remove(old)
        } catch {
            remove(temporary)
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
        let temporary = try temporaryFolder(path + "/.plan-\(getpid())-", for: destination)
        defer { remove(temporary) }
        try build(temporary)
        try moveEntries(of: temporary, into: path, for: destination)
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
    private static func temporaryFolder(_ prefix: String, for destination: String) throws -> String {
        var template = Array((prefix + "XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw OutputError(destination: destination, reason: "cannot create a folder beside it: \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    /// `mkdtemp` makes the folder 0700; an output the build did not give a mode gets the usual one.
    private static func publish(_ folder: String) {
        var info = stat()
        guard lstat(folder, &info) == 0, info.st_mode & 0o7777 == 0o700 else { return }
        let mask = umask(0o022)
        umask(mask)
        _ = chmod(folder, 0o777 & ~mask)
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
