import Foundation
import Testing
import PlanOCI

/// Helpers for the layer tests: temp dirs, real tools (a missing tool fails the test), tree snapshots.
public enum LayerTestSupport {
    public struct Failed: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs a tool (a name is looked up with `TestSupport.tool`); throws when it exits non-zero (unless
    /// `check` is false). Returns (status, stdout, stderr).
    @discardableResult
    public static func run(_ name: String, _ arguments: [String], in directory: String? = nil, check: Bool = true) throws -> (Int32, String, String) {
        let process = try TestSupport.run(name.hasPrefix("/") ? name : try TestSupport.tool(name), arguments, in: directory)
        let result = (process.status, process.stdout, process.stderr)
        if check && result.0 != 0 {
            throw Failed(description: "\(name) \(arguments) exited \(result.0): \(result.2)")
        }
        return result
    }

    /// A fresh temporary directory; removed by the caller with `remove`.
    public static func tempDirectory() throws -> String {
        let path = "/tmp/plan-layers-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }

    public static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    public static func write(_ path: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    public static func read(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// One file in a tree snapshot.
    public struct Node: Equatable, CustomStringConvertible {
        public var type: String
        public var mode: UInt32
        public var uid: UInt32
        public var gid: UInt32
        public var content: String
        public var mtime: Int
        public var description: String { "\(type) \(String(mode, radix: 8)) \(uid):\(gid) \(content) @\(mtime)" }
    }

    /// Every object under `root` (not following links): type, mode, owner, content hash or link
    /// target or device number, and mtime in seconds (directories' mtimes only with `directoryTimes`).
    public static func snapshot(_ root: String, directoryTimes: Bool = false) throws -> [String: Node] {
        var result: [String: Node] = [:]
        func walk(_ rel: String) throws {
            let full = rel.isEmpty ? root : root + "/" + rel
            for name in try FileManager.default.contentsOfDirectory(atPath: full).sorted() {
                let childRel = rel.isEmpty ? name : rel + "/" + name
                let childFull = root + "/" + childRel
                var info = stat()
                guard lstat(childFull, &info) == 0 else { throw Failed(description: "lstat \(childFull)") }
                var node = Node(type: "?", mode: UInt32(info.st_mode) & 0o7777, uid: info.st_uid, gid: info.st_gid,
                                content: "", mtime: Int(info.st_mtim.tv_sec))
                switch info.st_mode & S_IFMT {
                case S_IFREG:
                    node.type = "file"
                    node.content = Digest.sha256(of: try read(childFull)).encoded
                case S_IFDIR:
                    node.type = "dir"
                    if !directoryTimes { node.mtime = 0 }
                case S_IFLNK:
                    node.type = "symlink"
                    node.content = try FileManager.default.destinationOfSymbolicLink(atPath: childFull)
                    node.mode = 0
                case S_IFCHR: node.type = "char"; node.content = "\(info.st_rdev)"
                case S_IFBLK: node.type = "block"; node.content = "\(info.st_rdev)"
                case S_IFIFO: node.type = "fifo"
                default: node.type = "other"
                }
                result[childRel] = node
                if node.type == "dir" { try walk(childRel) }
            }
        }
        try walk("")
        return result
    }

    /// Differences between two snapshots, as readable lines (empty when equal).
    public static func differences(_ a: [String: Node], _ b: [String: Node]) -> [String] {
        var lines: [String] = []
        for key in Set(a.keys).union(b.keys).sorted() where a[key] != b[key] {
            lines.append("\(key): \(a[key].map(\.description) ?? "missing") vs \(b[key].map(\.description) ?? "missing")")
        }
        return lines
    }

    /// Inode and link count of a path, for hard link checks.
    public static func inode(_ path: String) -> (UInt, UInt)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return (UInt(info.st_ino), UInt(info.st_nlink))
    }

    /// Writes entries with our writer into memory.
    public static func layer(_ entries: [(TarEntry, [UInt8])], gzip: Bool = false) throws -> [UInt8] {
        let memory = MemoryByteSink()
        let writer = TarWriter(gzip ? try GzipByteSink(memory) : memory)
        for (entry, content) in entries { try writer.append(entry, content: content) }
        try writer.finish()
        return memory.bytes
    }

    /// Reads every entry and its content with our reader.
    public static func readAll(_ bytes: [UInt8]) throws -> [(TarEntry, [UInt8])] {
        let reader = TarReader(try LayerSource.memory(bytes))
        var out: [(TarEntry, [UInt8])] = []
        while let entry = try reader.next() { out.append((entry, try reader.readAllContent())) }
        return out
    }

    /// The `plan-layer-bench` executable built next to the tests.
    public static func benchBinary() throws -> String {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = folder.appendingPathComponent("plan-layer-bench").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder.deleteLastPathComponent()
        }
        let fallback = TestSupport.repoRoot + "/.build/debug/plan-layer-bench"
        guard FileManager.default.isExecutableFile(atPath: fallback) else { throw TestSupport.ToolMissing(name: "plan-layer-bench (swift build)") }
        return fallback
    }

    /// A folder for a hostile layer test: `target` to apply into, beside a `canary` folder that must stay intact.
    public struct Sandbox {
        public let tmp: String
        public var target: String { tmp + "/target" }
        public var canary: String { tmp + "/canary" }

        public init() throws {
            tmp = try LayerTestSupport.tempDirectory()
            try FileManager.default.createDirectory(atPath: tmp + "/target", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: tmp + "/canary", withIntermediateDirectories: true)
            try LayerTestSupport.write(tmp + "/canary/passwd", Array("canary\n".utf8))
        }

        /// Nothing outside the target: TMP holds exactly target and canary, the canary is intact,
        /// and no /etc/plan-canary-* or /tmp/etc appeared.
        public func checkOutsideUntouched(sourceLocation: SourceLocation = #_sourceLocation) throws {
            let top = try FileManager.default.contentsOfDirectory(atPath: tmp).sorted()
            #expect(top == ["canary", "target"], sourceLocation: sourceLocation)
            let canaryTree = try LayerTestSupport.snapshot(canary)
            #expect(Array(canaryTree.keys) == ["passwd"], sourceLocation: sourceLocation)
            #expect(try LayerTestSupport.read(canary + "/passwd") == Array("canary\n".utf8), sourceLocation: sourceLocation)
            let etc = try FileManager.default.contentsOfDirectory(atPath: "/etc")
            #expect(!etc.contains { $0.hasPrefix("plan-canary") }, sourceLocation: sourceLocation)
            #expect(!FileManager.default.fileExists(atPath: "/tmp/etc/plan-canary-x"), sourceLocation: sourceLocation)
        }

        public func remove() { LayerTestSupport.remove(tmp) }
    }
}
