import Foundation

/// The regular files of a small tar archive (an image archive's JSON and blobs), by normalised path.
///
/// Only plain names are accepted: no absolute paths and no `..`. Symbolic links are kept as aliases
/// between files of the archive (skopeo's docker archives link `ID/layer.tar` to `HEX.tar`); a link
/// that leaves the archive resolves to nothing. Devices and other kinds are refused.
struct ArchiveFiles {
    private(set) var files: [String: [UInt8]] = [:]
    private(set) var links: [String: String] = [:]
    /// Every regular file, kept in ``files`` or not.
    private(set) var members: Set<String> = []

    /// Reads the archive at `path`, keeping the content of the members `keep` accepts (each at
    /// most `limit` bytes: a larger one is refused) and only the names of the others.
    static func read(_ path: String, keep: (String) -> Bool = { _ in true }, limit: Int64 = .max) throws -> ArchiveFiles {
        let reader = TarReader(try LayerSource.open(path: path))
        var result = ArchiveFiles()
        while let entry = try reader.next() {
            let name = try normalised(entry.path, archive: path)
            switch entry.kind {
            case .directory:
                continue
            case .regular:
                if result.members.contains(name) || result.links[name] != nil {
                    throw ImageError.invalid("archive \(path)", "`\(name)` appears twice")
                }
                result.members.insert(name)
                if keep(name) {
                    guard entry.size <= limit else {
                        throw ImageError.invalid("archive \(path)", "`\(name)` is larger than \(limit) bytes")
                    }
                    result.files[name] = try reader.readAllContent()
                }
            case .symlink:
                if result.members.contains(name) || result.links[name] != nil {
                    throw ImageError.invalid("archive \(path)", "`\(name)` appears twice")
                }
                result.links[name] = entry.linkTarget
            default:
                throw ImageError.invalid("archive \(path)", "`\(name)` is not a regular file or folder")
            }
        }
        return result
    }

    static func normalised(_ raw: String, archive: String) throws -> String {
        var parts: [Substring] = []
        for part in raw.split(separator: "/", omittingEmptySubsequences: true) where part != "." {
            guard part != ".." else { throw ImageError.invalid("archive \(archive)", "`\(raw)` climbs out with `..`") }
            parts.append(part)
        }
        guard !raw.hasPrefix("/"), !parts.isEmpty else {
            throw ImageError.invalid("archive \(archive)", "`\(raw)` is not a relative file name")
        }
        return parts.joined(separator: "/")
    }

    subscript(name: String) -> [UInt8]? {
        resolve(name).flatMap { files[$0] }
    }

    /// The regular member a name stands for, links between members followed (a few hops at
    /// most; a link may not climb out); nil when there is none.
    func resolve(_ name: String) -> String? {
        guard var current = try? Self.normalised(name, archive: "") else { return nil }
        for _ in 0..<8 {
            if members.contains(current) { return current }
            guard let target = links[current] else { return nil }
            let folder = current.split(separator: "/").dropLast().joined(separator: "/")
            var parts: [Substring] = target.hasPrefix("/") ? [] : folder.split(separator: "/")
            for part in target.split(separator: "/") where part != "." {
                if part == ".." {
                    guard !parts.isEmpty else { return nil }
                    parts.removeLast()
                } else {
                    parts.append(part)
                }
            }
            current = parts.joined(separator: "/")
        }
        return nil
    }

    /// Names of the archive's files and links, sorted.
    var names: [String] { (Array(members) + Array(links.keys)).sorted() }
}

/// Writes a deterministic tar of named byte strings: sorted, owned by 0:0, time 0, mode 0644
/// (folders 0755), the way image archives should be so the same image gives the same archive.
struct ArchiveWriter {
    static func write(_ files: [(name: String, bytes: [UInt8])], to path: String) throws {
        // A new file (O_EXCL|O_NOFOLLOW) with a name nobody can guess: whoever can write DEST's folder
        // cannot make this write go through a link of theirs.
        let temporary = path + ".plan-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 36)).tmp"
        let archive: AtomicFile
        do throws(AtomicFileError) {
            archive = try AtomicFile(temporaryPath: temporary)
        } catch {
            throw LayerError.system(call: "open", path: temporary, errno: error.code)
        }
        let sink = FileByteSink(fileDescriptor: archive.fileDescriptor, path: temporary)
        let writer = TarWriter(sink, options: TarWriter.Options(fixedModificationTime: 0))
        var folders = Set<String>()
        for file in files.sorted(by: { $0.name < $1.name }) {
            let components = file.name.split(separator: "/")
            for depth in 1..<max(1, components.count) {
                let folder = components.prefix(depth).joined(separator: "/") + "/"
                if folders.insert(folder).inserted {
                    try writer.append(TarEntry(path: folder, kind: .directory, mode: 0o755), content: [])
                }
            }
            try writer.append(TarEntry(path: file.name, kind: .regular, mode: 0o644, size: Int64(file.bytes.count)),
                              content: file.bytes)
        }
        try writer.finish()
        try sink.finish()
        // Dropped uncommitted (a throw above), the temporary file is removed.
        do throws(AtomicFileError) {
            try archive.commit(to: path)
        } catch {
            throw ImageError.layout(path, "cannot rename the archive into place: \(error.reason)")
        }
    }
}
