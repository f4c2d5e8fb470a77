import Foundation

/// The scratch folder of one `plan run` attempt (`CACHE/runs/PID-RANDOM`): step roots, mounts,
/// downloads. Removed at the end; one left by a killed run is cleaned up by the next run.
enum RunDirectory {
    static func create(in runs: String) throws -> String {
        let path = runs + "/\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The sandbox's folder in the run directory `path` (`SandboxRequest.stateDirectory`).
    static func sandboxState(_ path: String) -> String { path + "/sandbox" }

    /// Unmounts everything mounted under `path`, deepest first, then removes it.
    static func remove(_ path: String) {
        // Whichever sandbox the run used: a run killed as root leaves runc containers here.
        RuncSandbox.deleteContainers(stateDirectory: sandboxState(path))
        detachMounts(under: path)
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Detaches every mount at or below `path`, deepest first.
    static func detachMounts(under path: String) {
        #if os(Linux)
        for mountPoint in mounts(under: path).reversed() { umount2(mountPoint, Int32(MNT_DETACH)) }
        #endif
    }

    /// Removes the run folders whose process is gone (killed runs leave theirs, mounts included).
    static func removeStale(in runs: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: runs) else { return }
        for name in names where writerIsGone(name.hasPrefix("image-") ? name.dropFirst("image-".count) : Substring(name)) {
            remove(runs + "/" + name)
        }
    }

    /// Whether the process whose id starts `name` (`1234-…`, as run folders and temporary files are
    /// named) is gone; false when `name` starts with no id, or with this process's.
    static func writerIsGone(_ name: Substring) -> Bool {
        guard let pid = pid_t(name.prefix { $0.isASCII && $0.isNumber }), pid > 0, pid != getpid() else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// Mount points at or below `path`, in mount order (from `/proc/self/mountinfo`, read to its end:
    /// procfs reports a size of 0, and `String(contentsOfFile:)` stops after the first 4 KiB).
    static func mounts(under path: String) -> [String] {
        guard let data = try? FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/mountinfo")).readToEnd() else { return [] }
        let text = String(decoding: data, as: UTF8.self)
        var found: [String] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { continue }
            let mountPoint = unescape(String(fields[4]))
            if mountPoint == path || mountPoint.hasPrefix(path + "/") { found.append(mountPoint) }
        }
        return found
    }

    /// mountinfo writes space, tab, newline and backslash as `\ooo`.
    static func unescape(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.first {
            if byte == UInt8(ascii: "\\"), utf8.count >= 4,
               let value = UInt8(String(decoding: utf8.dropFirst().prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(4)
            } else {
                bytes.append(byte)
                utf8 = utf8.dropFirst()
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
