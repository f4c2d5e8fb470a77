import struct Crypto.SHA256
import Foundation
import Testing
@testable import PlanOCI

/// Helpers for the layer tests: temp dirs, real tools (a missing tool fails the test), tree snapshots.
enum LayerTestSupport {
    struct ToolMissing: Error, CustomStringConvertible {
        var name: String
        var description: String { "required tool `\(name)` is missing; run the tests with scripts/test, which installs it" }
    }

    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    /// Absolute path of a tool on PATH, or a thrown `ToolMissing` (never a skip).
    static func tool(_ name: String) throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ToolMissing(name: name)
    }

    /// Runs a tool; throws when it exits non-zero (unless `check` is false). Returns (status, stdout, stderr).
    @discardableResult
    static func run(_ name: String, _ arguments: [String], in directory: String? = nil, check: Bool = true) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: name.hasPrefix("/") ? name : try tool(name))
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let result = (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
        if check && result.0 != 0 {
            throw Failed(description: "\(name) \(arguments) exited \(result.0): \(result.2)")
        }
        return result
    }

    /// A fresh temporary directory; removed by the caller with `remove`.
    static func tempDirectory() throws -> String {
        let path = "/tmp/plan-layers-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }

    static func remove(_ path: String) {
        _ = try? run("rm", ["-rf", path], check: false)
    }

    static func write(_ path: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func read(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// One file in a tree snapshot.
    struct Node: Equatable, CustomStringConvertible {
        var type: String
        var mode: UInt32
        var uid: UInt32
        var gid: UInt32
        var content: String
        var mtime: Int
        var description: String { "\(type) \(String(mode, radix: 8)) \(uid):\(gid) \(content) @\(mtime)" }
    }

    /// Every object under `root` (not following links): type, mode, owner, content hash or link
    /// target or device number, and mtime in seconds (directories' mtimes only with `directoryTimes`).
    static func snapshot(_ root: String, directoryTimes: Bool = false) throws -> [String: Node] {
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
                    node.content = SHA256.hash(data: try read(childFull)).map { String(format: "%02x", $0) }.joined()
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
    static func differences(_ a: [String: Node], _ b: [String: Node]) -> [String] {
        var lines: [String] = []
        for key in Set(a.keys).union(b.keys).sorted() where a[key] != b[key] {
            lines.append("\(key): \(a[key].map(\.description) ?? "missing") vs \(b[key].map(\.description) ?? "missing")")
        }
        return lines
    }

    /// Inode and link count of a path, for hard link checks.
    static func inode(_ path: String) -> (UInt, UInt)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return (UInt(info.st_ino), UInt(info.st_nlink))
    }

    /// Writes entries with our writer into memory.
    static func layer(_ entries: [(TarEntry, [UInt8])], gzip: Bool = false) throws -> [UInt8] {
        let memory = MemoryByteSink()
        let writer = TarWriter(gzip ? try GzipByteSink(memory) : memory)
        for (entry, content) in entries { try writer.append(entry, content: content) }
        try writer.finish()
        return memory.bytes
    }

    /// Reads every entry and its content with our reader.
    static func readAll(_ bytes: [UInt8]) throws -> [(TarEntry, [UInt8])] {
        let reader = TarReader(try LayerSource.memory(bytes))
        var out: [(TarEntry, [UInt8])] = []
        while let entry = try reader.next() { out.append((entry, try reader.readAllContent())) }
        return out
    }

    /// The `plan-layer-bench` executable built next to the tests.
    static func benchBinary() throws -> String {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = folder.appendingPathComponent("plan-layer-bench").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder.deleteLastPathComponent()
        }
        let fallback = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/debug/plan-layer-bench").path
        guard FileManager.default.isExecutableFile(atPath: fallback) else { throw ToolMissing(name: "plan-layer-bench (swift build)") }
        return fallback
    }
}
