import Foundation

/// The tar form of an OCI image layout (`oci-archive:` in skopeo's words): the same `oci-layout`,
/// `index.json` and `blobs/` as the directory form, in one deterministic tar file.
public enum OCIArchive {
    /// Writes `descriptor` (a manifest or an index) and every blob it references, read from `source`,
    /// as an OCI archive at `path` (atomically), naming it `name` in `index.json`.
    public static func write(_ descriptor: Descriptor, name: String?, from source: some BlobSource, to path: String) throws {
        // A folder made by mkdtemp: nothing planted at a guessable name is followed.
        var template = Array((path + ".plan-\(getpid())-layout-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ImageError.layout(path, "cannot create a staging folder beside it: \(String(cString: strerror(errno)))")
        }
        let staging = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let layout = try OCILayout.create(at: URL(fileURLWithPath: staging))
        try layout.copyImage(descriptor, from: source, name: name)
        try write(layout: layout, to: path)
    }

    /// Writes an existing layout directory as an archive.
    public static func write(layout: OCILayout, to path: String) throws {
        var files: [(name: String, bytes: [UInt8])] = []
        for name in ["oci-layout", "index.json"] {
            guard let data = FileManager.default.contents(atPath: layout.root.appendingPathComponent(name).path) else {
                throw ImageError.layout(layout.root.path, "cannot read \(name)")
            }
            files.append((name, [UInt8](data)))
        }
        for digest in try layout.blobDigests() {
            files.append(("blobs/\(digest.algorithm)/\(digest.encoded)", [UInt8](try layout.blob(digest))))
        }
        try ArchiveWriter.write(files, to: path)
    }

    /// Unpacks an OCI archive into the folder `directory` and opens it as a layout. Only the layout's own
    /// files are accepted, and every blob is checked against its digest.
    public static func extract(_ path: String, to directory: URL) throws -> OCILayout {
        let archive = try ArchiveFiles.read(path)
        guard archive["oci-layout"] != nil, archive["index.json"] != nil else {
            throw ImageError.layout(path, "not an OCI archive: no oci-layout or index.json")
        }
        let layout = try OCILayout.create(at: directory)
        for name in archive.names {
            guard let bytes = archive[name] else { continue }
            switch name {
            case "oci-layout":
                try POSIXFile.writeAtomically(Data(bytes), to: directory.appendingPathComponent(name).path)
            case "index.json":
                continue
            default:
                let parts = name.split(separator: "/")
                guard parts.count == 3, parts[0] == "blobs",
                      let digest = try? Digest(algorithm: String(parts[1]), encoded: String(parts[2]))
                else { throw ImageError.invalid("archive \(path)", "unexpected file `\(name)` in an OCI archive") }
                let written = try layout.putBlob(Data(bytes))
                guard written == digest else {
                    throw ImageError.invalid("archive \(path)", "blob `\(name)` does not match its digest (it is \(written))")
                }
            }
        }
        if let index = archive["index.json"] {
            try POSIXFile.writeAtomically(Data(index), to: directory.appendingPathComponent("index.json").path)
        }
        return try OCILayout.open(at: directory)
    }
}
