import Foundation

/// Writes an output folder so that it is never half-written: built in a sibling `DEST.plan-PID`, then
/// swapped in, the old one moved to `DEST.plan-old-PID` for the moment of the swap. A run killed
/// in between leaves those siblings; the next write to the same destination puts an orphaned old
/// one back (when the destination is missing) or removes it, and removes orphaned half-built ones.
enum AtomicOutput {
    static func replace(_ destination: String, _ build: (String) throws -> Void) throws {
        recoverOrphans(of: destination)
        let fm = FileManager.default
        let temporary = destination + ".plan-\(getpid())"
        try? fm.removeItem(atPath: temporary)
        do {
            try build(temporary)
            let old = destination + ".plan-old-\(getpid())"
            if fm.fileExists(atPath: destination) { try fm.moveItem(atPath: destination, toPath: old) }
            try fm.moveItem(atPath: temporary, toPath: destination)
            try? fm.removeItem(atPath: old)
        } catch {
            try? fm.removeItem(atPath: temporary)
            throw error
        }
    }

    /// Cleans up after writers of `destination` that died mid-way.
    static func recoverOrphans(of destination: String) {
        let fm = FileManager.default
        let folder = (destination as NSString).deletingLastPathComponent
        let name = (destination as NSString).lastPathComponent
        guard let siblings = try? fm.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder) else { return }
        let prefix = folder.isEmpty ? "" : folder + "/"
        for sibling in siblings.sorted() {
            for (marker, isOld) in [(".plan-old-", true), (".plan-", false)] {
                let writer = sibling.dropFirst(name.count + marker.count)
                guard sibling.hasPrefix(name + marker), writer.allSatisfy(\.isNumber), RunDirectory.writerIsGone(writer)
                else { continue }
                if isOld, !fm.fileExists(atPath: destination) {
                    try? fm.moveItem(atPath: prefix + sibling, toPath: destination)
                } else {
                    try? fm.removeItem(atPath: prefix + sibling)
                }
                break
            }
        }
    }
}
