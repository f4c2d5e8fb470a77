import struct Crypto.SHA256
import Foundation
import PlanOCI

/// Everything a step's result depends on, as named values in a fixed order, and the cache key they
/// make: SHA-256 over the parent step's key and the inputs. Secret values, modification times and
/// host paths are never inputs; secret ids and mount targets are.
public struct StepInputs: Codable, Sendable, Equatable {
    public struct Item: Codable, Sendable, Equatable {
        /// `step`, `env NAME`, `arg NAME`, `file PATH`, `artifact STAGE.NAME`, `base`, ...
        public var name: String
        public var value: String
    }

    /// The key of the step before (or of the stage's base).
    public var parent: String
    public var items: [Item]
    public var key: String

    public init(parent: String, items: [(String, String)]) {
        self.parent = parent
        self.items = items.map { Item(name: $0.0, value: $0.1) }
        var hasher = SHA256()
        func add(_ text: String) { hasher.update(data: Data(text.utf8)) }
        add("plan-cache-v1\u{0}\(parent)\n")
        for item in self.items {
            // Lengths first: no choice of names and values can make two lists hash alike.
            add("\(item.name.utf8.count):\(item.name)\(item.value.utf8.count):\(item.value)\n")
        }
        key = PlanOCI.Digest.sha256(hasher.finalize()).encoded
    }

    /// The key of something derived from this step (an artifact of the stage it ends, say).
    static func derivedKey(_ key: String, _ what: String) -> String {
        StepInputs(parent: key, items: [("derived", what)]).key
    }

    /// Why this step's key differs from `old`'s: its first own input that changed, appeared or went
    /// away, else the step before it.
    public func difference(from old: StepInputs) -> String {
        let oldValues = Dictionary(old.items.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        let newNames = Set(items.map(\.name))
        for item in items {
            guard let before = oldValues[item.name] else { return "\(Self.subject(item.name)) added" }
            if before != item.value {
                switch item.name {
                case "step", "base": return "\(Self.subject(item.name)) changed: \(Self.change(before, item.value))"
                default:
                    if item.name.hasPrefix("file ") || item.name.hasPrefix("dir ") || item.name.hasPrefix("link ")
                        || item.name.hasPrefix("artifact ") {
                        return "\(Self.subject(item.name)) changed"
                    }
                    return "\(Self.subject(item.name)) changed: \(Self.change(before, item.value))"
                }
            }
        }
        if let gone = old.items.first(where: { !newNames.contains($0.name) }) { return "\(Self.subject(gone.name)) removed" }
        if parent != old.parent { return "an earlier step changed" }
        return "the entry was removed from the cache"
    }

    /// `file services/api/main.go` → `services/api/main.go`; `env PATH` → `env PATH`.
    static func subject(_ name: String) -> String {
        for prefix in ["file ", "dir ", "link "] where name.hasPrefix(prefix) { return String(name.dropFirst(prefix.count)) }
        switch name {
        case "step": return "the step"
        case "base": return "the base"
        default: return name
        }
    }

    /// `before` → `after`, shown where they differ: the first line that differs, and in a long line
    /// from a little before the first character that differs.
    static func change(_ before: String, _ after: String) -> String {
        let old = before.split(separator: "\n", omittingEmptySubsequences: false)
        let new = after.split(separator: "\n", omittingEmptySubsequences: false)
        let line = zip(old, new).prefix { $0 == $1 }.count
        var a = line < old.count ? old[line] : "", b = line < new.count ? new[line] : ""
        let common = zip(a, b).prefix { $0 == $1 }.count
        if common > 40 {
            a = "..." + a.dropFirst(common - 20)
            b = "..." + b.dropFirst(common - 20)
        }
        return "\(short(String(a))) → \(short(String(b)))"
    }

    static func short(_ value: String) -> String {
        let line = value.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? value
        let text = line.count > 60 ? String(line.prefix(57)) + "..." : line
        return "`\(text)`"
    }
}
