import ArgumentParser
import Foundation
import PlanExecutor

/// `plan cache …`: how much space the cache of `plan run` takes, what it holds, and pruning it.
struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Show and prune the cache of `plan run` (build entries, base images, cache mounts).",
        discussion: """
            The cache folder is --cache-dir, else $PLAN_CACHE_DIR, else $XDG_CACHE_HOME/plan, else \
            ~/.cache/plan. Every build entry (a step's record and layer) has a last use: when it was \
            stored or last hit.

            Examples:
              plan cache du
              plan cache ls --format json
              plan cache prune --keep-bytes 2GiB --older-than 7d
              plan cache prune --all --force
            """,
        subcommands: [CacheDuCommand.self, CacheLsCommand.self, CachePruneCommand.self])
}

/// Options every cache command shares.
struct CacheOptions: ParsableArguments {
    @Option(name: .customLong("cache-dir"), help: ArgumentHelp("Where images and caches live.", valueName: "dir"),
            completion: .directory)
    var cacheDirectory: String?

    var directory: String { CacheLocation.directory(explicit: cacheDirectory) }
}

/// `text` or `json`.
enum CacheListFormat: String, CaseIterable, ExpressibleByArgument {
    case text, json
}

struct CacheDuCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "du", abstract: "Show the space the cache takes, by kind.")

    @OptionGroup var options: CacheOptions

    @Option(help: "text or json.")
    var format: CacheListFormat = .text

    struct Report: Encodable {
        struct Category: Encodable {
            var name: String
            var items: Int
            var bytes: Int64
        }
        var directory: String
        var categories: [Category]
        var total: Int64
    }

    func run() throws {
        let usage = try CommandFailure.reporting { try BuildCache.usage(cacheDirectory: options.directory) }
        switch format {
        case .json:
            let report = Report(directory: usage.directory,
                                categories: usage.categories.map { .init(name: $0.category.rawValue, items: $0.items, bytes: $0.bytes) },
                                total: usage.total)
            Output.standardOutput(try CacheFormatting.json(report))
        case .text:
            var rows = [["KIND", "ITEMS", "SIZE"]]
            for category in usage.categories {
                rows.append([category.category.rawValue, String(category.items), CacheFormatting.size(category.bytes)])
            }
            rows.append(["total", "", CacheFormatting.size(usage.total)])
            Output.standardOutput("cache: \(usage.directory)\n" + CacheFormatting.table(rows, rightAligned: [1, 2]))
        }
    }
}

struct CacheLsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List the build cache's entries, most recently used first.")

    @OptionGroup var options: CacheOptions

    @Option(help: "text or json.")
    var format: CacheListFormat = .text

    struct Entry: Encodable {
        var key: String
        var description: String
        var bytes: Int64
        var lastUsed: String
        var record: String
        var layer: String?
    }

    func run() throws {
        let listing = try CommandFailure.reporting { try BuildCache.entries(cacheDirectory: options.directory) }
        switch format {
        case .json:
            let entries = listing.entries.map {
                Entry(key: $0.key, description: $0.description, bytes: $0.bytes, lastUsed: CacheFormatting.timestamp($0.lastUsed),
                      record: $0.record.description, layer: $0.layer?.description)
            }
            Output.standardOutput(try CacheFormatting.json(entries))
        case .text:
            let now = Date()
            var rows = [["KEY", "SIZE", "LAST USED", "DESCRIPTION"]]
            for entry in listing.entries {
                rows.append([String(entry.key.prefix(12)), CacheFormatting.size(entry.bytes),
                             CacheFormatting.age(of: entry.lastUsed, now: now), entry.description])
            }
            if listing.entries.isEmpty {
                Output.standardOutput("no build cache entries in \(options.directory)\n")
            } else {
                Output.standardOutput(CacheFormatting.table(rows, rightAligned: [1, 2]))
            }
        }
        if !listing.broken.isEmpty {
            Output.standardError("warning: \(CacheFormatting.count(listing.broken.count, "broken reference")) "
                                     + "(`plan cache prune` removes them)\n")
        }
    }
}

struct CachePruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove build cache entries, least recently used first, and what only they used.",
        discussion: """
            Removes every entry unused for longer than --older-than, then entries least recently used \
            first until those left take at most --keep-bytes (their blobs and unpacked layers); with \
            neither option, every entry. Then removes blobs no entry refers to, unpacked layers whose \
            blob is gone, and what killed runs left. Waits for running builds. --all also removes base \
            images and cache mounts.

            Removing everything (neither option, or --all) asks first on a terminal; elsewhere it needs \
            --force, and without it removes nothing and says what it would remove.

            --keep-bytes: 1000, 500MB, 2GiB, 1.5G (K, M, G, T and KB… are powers of 1000; KiB… of 1024)
            --older-than: 30s, 90m, 12h, 7d, 2w
            """)

    @OptionGroup var options: CacheOptions

    @Option(name: .customLong("keep-bytes"), help: ArgumentHelp(
        "Remove least recently used entries until the rest take at most this much.", valueName: "size"))
    var keepBytes: String?

    @Option(name: .customLong("older-than"), help: ArgumentHelp(
        "Remove entries unused for longer than this.", valueName: "duration"))
    var olderThan: String?

    @Flag(help: "Also remove base images and cache mounts.")
    var all = false

    @Flag(name: [.short, .long], help: "Do not ask before removing every entry (neither option, or --all).")
    var force = false

    func validate() throws {
        if let keepBytes { _ = try CacheArguments.bytes(keepBytes) }
        if let olderThan { _ = try CacheArguments.duration(olderThan) }
    }

    func run() async throws {
        if !force, all || (keepBytes == nil && olderThan == nil), try !confirmed() {
            return
        }
        let pruneOptions = PruneOptions(keepBytes: try keepBytes.map(CacheArguments.bytes),
                                        olderThan: try olderThan.map(CacheArguments.duration), all: all)
        let report = try await CommandFailure.reporting {
            try await BuildCache.prune(cacheDirectory: options.directory, options: pruneOptions)
        }
        Output.standardOutput(CacheFormatting.prune(report, now: pruneOptions.now))
        for warning in report.warnings { Output.standardError("warning: \(warning)\n") }
    }
}

extension CachePruneCommand {
    /// Whether a prune that removes everything may go ahead: asked on a terminal (as `docker builder
    /// prune` asks); elsewhere an error that says what it would remove (exit 2).
    func confirmed() throws -> Bool {
        let directory = options.directory
        let usage = try CommandFailure.reporting { try BuildCache.usage(cacheDirectory: directory) }
        let entries = usage.categories.first { $0.category == .buildEntries }
        // Nothing a user could miss: no entry (the sweep of leftovers still runs), or an empty cache.
        if (!all && (entries?.items ?? 0) == 0) || usage.total == 0 { return true }
        var what = "every build entry (\(CacheFormatting.count(entries?.items ?? 0, "entry")), "
            + "\(CacheFormatting.size(entries?.bytes ?? 0)))"
        if all {
            what = "everything: \(what), base images and cache mounts (\(CacheFormatting.size(usage.total)) in all)"
        }
        guard isatty(STDIN_FILENO) == 1, isatty(STDERR_FILENO) == 1 else {
            Output.standardError("""
                error: plan cache prune \(all ? "--all" : "with neither --keep-bytes nor --older-than") would remove \
                \(what) from \(directory); nothing was removed
                help: add --force (-f) to remove it\(all ? "" : ", or keep the recent part with --keep-bytes SIZE or --older-than DURATION")

                """)
            throw ExitCode(2)
        }
        Output.standardError("WARNING! This will remove \(what) from \(directory).\nAre you sure you want to continue? [y/N] ")
        let answer = (readLine() ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        guard answer == "y" || answer == "yes" else {
            Output.standardError("nothing removed\n")
            return false
        }
        return true
    }
}

/// Parsing `--keep-bytes` and `--older-than`.
enum CacheArguments {
    /// `1000`, `500MB`, `2GiB`, `1.5G`, `10 kb`: a number (decimals allowed) and an optional unit, case
    /// ignored. `K`, `M`, `G`, `T` and `KB`… `TB` are powers of 1000; `KiB`… `TiB` powers of 1024;
    /// `B` is bytes. Fractions of a byte are dropped.
    static func bytes(_ text: String) throws -> Int64 {
        let units: [String: Double] = [
            "": 1, "b": 1,
            "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
            "kib": 1024, "mib": 1_048_576, "gib": 1_073_741_824, "tib": 1_099_511_627_776,
        ]
        let invalid = ValidationError(
            "--keep-bytes \(text): expected a size such as 1000, 500MB, 2GiB or 1.5G "
                + "(units B, K/KB, M/MB, G/GB, T/TB = powers of 1000; KiB, MiB, GiB, TiB = powers of 1024)")
        guard let (number, unit) = split(text), let multiplier = units[unit] else { throw invalid }
        let value = number * multiplier
        guard value.isFinite, value >= 0, value < 9.2e18 else { throw invalid }
        return Int64(value.rounded(.down))
    }

    /// `30s`, `90m`, `12h`, `7d`, `2w` (decimals allowed, case ignored): seconds, minutes, hours, days
    /// or weeks. The unit is required.
    static func duration(_ text: String) throws -> TimeInterval {
        let units: [String: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        let invalid = ValidationError(
            "--older-than \(text): expected a duration such as 30s, 90m, 12h, 7d or 2w "
                + "(s seconds, m minutes, h hours, d days, w weeks)")
        guard let (number, unit) = split(text), let multiplier = units[unit] else { throw invalid }
        let value = number * multiplier
        guard value.isFinite, value >= 0, value < 1e15 else { throw invalid }
        return value
    }

    /// `1.5 GiB` → (1.5, "gib"): digits with at most one point, optional spaces, letters.
    private static func split(_ text: String) -> (Double, String)? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard !digits.isEmpty, digits.filter({ $0 == "." }).count <= 1, digits.contains(where: \.isNumber),
              let number = Double(digits) else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        guard unit.allSatisfy({ $0.isASCII && $0.isLetter }) else { return nil }
        return (number, unit)
    }
}

/// Sizes, ages and tables for people; JSON for tools.
enum CacheFormatting {
    /// `512 B`, `12.3 KiB`, `1.0 GiB`.
    static func size(_ bytes: Int64) -> String {
        guard bytes >= 1024 else { return "\(bytes) B" }
        var value = Double(bytes)
        var unit = "B"
        for next in ["KiB", "MiB", "GiB", "TiB", "PiB"] where value >= 1024 {
            value /= 1024
            unit = next
        }
        return String(format: "%.1f", value) + " " + unit
    }

    /// `5s ago`, `3m ago`, `4h ago`, `12d ago` (whole units, rounded down).
    static func age(of date: Date, now: Date) -> String {
        let seconds = max(0, Int(now.timeIntervalSince(date)))
        switch seconds {
        case ..<60: return "\(seconds)s ago"
        case ..<3600: return "\(seconds / 60)m ago"
        case ..<86400: return "\(seconds / 3600)h ago"
        default: return "\(seconds / 86400)d ago"
        }
    }

    /// ISO 8601 in UTC with milliseconds: `2024-05-01T12:00:00.123Z`.
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// `1 entry`, `2 entries`.
    static func count(_ number: Int, _ noun: String) -> String {
        if number == 1 { return "1 \(noun)" }
        return "\(number) " + (noun.hasSuffix("y") ? noun.dropLast() + "ies" : noun + "s")
    }

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    /// Columns separated by two spaces, padded to the widest cell; the last column is not padded.
    static func table(_ rows: [[String]], rightAligned: Set<Int> = []) -> String {
        let columns = rows.map(\.count).max() ?? 0
        var widths = Array(repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { row in
            row.enumerated().map { index, cell in
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                if rightAligned.contains(index) { return padding + cell }
                return index == row.count - 1 ? cell : cell + padding
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }.joined(separator: "\n") + "\n"
    }

    /// What `prune` removed, for people.
    static func prune(_ report: PruneReport, now: Date) -> String {
        var text = ""
        if report.removed.isEmpty {
            text += "removed no entries\n"
        } else {
            text += "removed \(count(report.removed.count, "entry")), least recently used first:\n"
            var rows: [[String]] = []
            for entry in report.removed {
                rows.append(["  " + entry.key.prefix(12), size(entry.bytes), age(of: entry.lastUsed, now: now), entry.description])
            }
            text += table(rows, rightAligned: [1, 2])
        }
        var swept: [String] = []
        if !report.broken.isEmpty { swept.append(count(report.broken.count, "broken reference")) }
        if report.blobsRemoved > 0 { swept.append(count(report.blobsRemoved, "unreferenced blob")) }
        if report.unpackedRemoved > 0 { swept.append(count(report.unpackedRemoved, "unpacked layer")) }
        if report.temporaryRemoved > 0 { swept.append(count(report.temporaryRemoved, "temporary file")) }
        if report.runsRemoved > 0 { swept.append(count(report.runsRemoved, "leftover run folder")) }
        if !swept.isEmpty { text += "removed " + swept.joined(separator: ", ") + "\n" }
        if report.removedImagesAndMounts {
            let images = report.freed.first { $0.category == .baseImages }?.bytes ?? 0
            let mounts = report.freed.first { $0.category == .cacheMounts }?.bytes ?? 0
            text += "removed base images (\(size(images))) and cache mounts (\(size(mounts)))\n"
        }
        text += "freed \(size(report.bytesFreed)); kept \(count(report.kept, "entry")) (\(size(report.keptBytes)))\n"
        return text
    }
}
