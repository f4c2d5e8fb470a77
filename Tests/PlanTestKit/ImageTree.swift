import Foundation

/// Images compared by what they hold: unpacked with `umoci`, listed with `find` and `sha256sum`. Shared by the
/// end-to-end tests (a rebuild gives the same image) and the interop tests (plan's image equals buildah's).
public enum ImageTree {
    /// An image's unpacked tree (one line per path, then one `sha256sum` line per file) and its `config` object.
    public struct Built {
        public var tree: [String]
        public var config: [String: Any]
    }

    /// Every path under `root` with its type, mode, owner and link target, then the checksum of every file.
    public static func tree(_ root: String) throws -> [String] {
        let find = try TestSupport.run("/usr/bin/find", [".", "-printf", "%p %y %m %U:%G %l\\n"], in: root)
        let sums = try TestSupport.run("/bin/sh", ["-c", "find . -type f -print0 | sort -z | xargs -0 -r sha256sum"], in: root)
        return find.stdout.split(separator: "\n").map(String.init).sorted() + sums.stdout.split(separator: "\n").map(String.init)
    }

    /// The unpacked tree and `config` object of the image in an OCI layout.
    public static func unpack(layout: String, name: String, into folder: String) throws -> Built {
        let umoci = try TestSupport.tool("umoci")
        let result = try TestSupport.run(umoci, ["unpack", "--image", "\(layout):\(name)", folder])
        guard result.status == 0 else { throw TestSupport.ToolMissing(name: "umoci unpack: \(result.stderr)") }
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: layout + "/index.json"))) as? [String: Any]
        let manifests = index?["manifests"] as? [[String: Any]] ?? []
        let digest = ((manifests.first?["digest"] as? String) ?? "").replacingOccurrences(of: "sha256:", with: "")
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: layout + "/blobs/sha256/" + digest))) as? [String: Any]
        let configDigest = (((manifest?["config"] as? [String: Any])?["digest"] as? String) ?? "").replacingOccurrences(of: "sha256:", with: "")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: layout + "/blobs/sha256/" + configDigest))) as? [String: Any]
        return Built(tree: try tree(folder + "/rootfs"), config: config?["config"] as? [String: Any] ?? [:])
    }
}
