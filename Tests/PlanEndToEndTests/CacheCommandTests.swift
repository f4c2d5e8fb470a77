import Foundation
@testable import PlanCLI
import PlanTestKit
import Testing

/// `plan cache du|ls|prune` on a real cache: plans built with `plan run` against the test registry
/// (scripts/test starts it), then listed, measured and pruned through the command line.
@Suite(.serialized) struct CacheCommandTests {
    static var registry: String { ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555" }

    /// One line of `plan cache ls --format json`.
    struct Entry: Decodable, Equatable {
        var key: String
        var description: String
        var bytes: Int64
        var lastUsed: String
        var record: String
        var layer: String?
    }

    /// `plan cache du --format json`.
    struct Usage: Decodable {
        struct Category: Decodable {
            var name: String
            var items: Int
            var bytes: Int64
        }
        var directory: String
        var categories: [Category]
        var total: Int64

        func bytes(_ name: String) -> Int64 { categories.first { $0.name == name }?.bytes ?? -1 }
    }

    // MARK: Helpers

    /// A scratch folder; `cleanUp` detaches anything a run left mounted in it, then removes it.
    static func scratch() throws -> String { try TestSupport.temporaryFolder() }

    static func cleanUp(_ folder: String) {
        for mountPoint in mounts(under: folder).reversed() { umount2(mountPoint, Int32(MNT_DETACH)) }
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Mount points under `folder`, read from the whole of /proc/self/mountinfo (through `cat`:
    /// Foundation reads only its first chunk).
    static func mounts(under folder: String) -> [String] {
        guard let table = try? TestSupport.run("/bin/cat", ["/proc/self/mountinfo"]).stdout else { return [] }
        return table.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { return nil }
            let point = String(fields[4])
            return point == folder || point.hasPrefix(folder + "/") ? point : nil
        }
    }

    @discardableResult
    func plan(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> TestSupport.ProcessResult {
        try TestSupport.plan(arguments)
    }

    /// Builds plans/registry into `cache` (a different greeting makes different entries for the
    /// steps that read it).
    @discardableResult
    func build(_ cache: String, greeting: String = "hello", extra: [String] = [],
               sourceLocation: SourceLocation = #_sourceLocation) throws -> TestSupport.ProcessResult {
        let result = try plan(["run", TestSupport.plans + "/registry", "--cache-dir", cache, "--insecure-registry", Self.registry,
                               "--arg", "REGISTRY=\(Self.registry)", "--arg", "GREETING=\(greeting)", "--progress", "plain"] + extra)
        #expect(result.status == 0, "plan run failed: \(result.stderr)", sourceLocation: sourceLocation)
        return result
    }

    func entries(_ cache: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [Entry] {
        let result = try plan(["cache", "ls", "--cache-dir", cache, "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)", sourceLocation: sourceLocation)
        return try JSONDecoder().decode([Entry].self, from: Data(result.stdout.utf8))
    }

    func measure(_ cache: String) throws -> Usage {
        let result = try plan(["cache", "du", "--cache-dir", cache, "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        return try JSONDecoder().decode(Usage.self, from: Data(result.stdout.utf8))
    }

    func prune(_ cache: String, _ options: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try plan(["cache", "prune", "--cache-dir", cache] + options)
        #expect(result.status == 0, "prune failed: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.isEmpty, "prune warned: \(result.stderr)", sourceLocation: sourceLocation)
        return result.stdout
    }

    /// `du -sbx PATH` (0 when it does not exist).
    static func du(_ path: String) throws -> Int64 {
        guard FileManager.default.fileExists(atPath: path) else { return 0 }
        let result = try TestSupport.run("/usr/bin/du", ["-sbx", path])
        return Int64(result.stdout.split(separator: "\t").first ?? "") ?? -1
    }

    static func fileSize(_ path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? -1
    }

    static func hex(_ digest: String) -> String { String(digest.dropFirst("sha256:".count)) }

    /// Sets the last use of an entry (the modification time of its reference), `secondsAgo` back.
    static func age(_ cache: String, _ key: String, secondsAgo: Int) throws {
        let epoch = Int(Date().timeIntervalSince1970) - secondsAgo
        let result = try TestSupport.run("/usr/bin/touch", ["-m", "-d", "@\(epoch)", cache + "/build/refs/" + key])
        #expect(result.status == 0, "\(result.stderr)")
    }

    /// Blobs in the build store that no reference leads to (as record or as the record's layer).
    static func unreferencedBlobs(_ cache: String) throws -> [String] {
        let build = cache + "/build"
        var marked = Set<String>()
        for key in (try? FileManager.default.contentsOfDirectory(atPath: build + "/refs")) ?? [] {
            let digest = try TestSupport.read(build + "/refs/" + key).trimmingCharacters(in: .whitespacesAndNewlines)
            marked.insert(hex(digest))
            let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: build + "/blobs/sha256/" + hex(digest))))
            if let layer = (record as? [String: Any])?["layer"] as? [String: Any], let layerDigest = layer["digest"] as? String {
                marked.insert(hex(layerDigest))
            }
        }
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: build + "/blobs/sha256")) ?? []
        return blobs.filter { !marked.contains($0) }.sorted()
    }

    /// What `--keep-bytes` weighs: the entries' blobs (each once) plus their unpacked layers.
    static func weight(_ entries: [Entry], cache: String) throws -> Int64 {
        var blobs = Set<String>()
        var layers = Set<String>()
        for entry in entries {
            blobs.insert(hex(entry.record))
            if let layer = entry.layer {
                blobs.insert(hex(layer))
                layers.insert(hex(layer))
            }
        }
        var total: Int64 = 0
        for blob in blobs { total += fileSize(cache + "/build/blobs/sha256/" + blob) }
        for layer in layers { total += try du(cache + "/build/unpacked/" + layer) }
        return total
    }

    // MARK: ls and du

    @Test func lsListsEveryEntryWithItsDescriptionMostRecentlyUsedFirst() throws {
        let folder = try Self.scratch()
        defer { Self.cleanUp(folder) }
        let cache = folder + "/cache"
        try build(cache)
        let first = try entries(cache)
        try build(cache, greeting: "bye")
        let listed = try entries(cache)

        let refs = try FileManager.default.contentsOfDirectory(atPath: cache + "/build/refs").sorted()
        #expect(listed.map(\.key).sorted() == refs)
        #expect(listed.count > first.count, "the second build added entries")
        #expect(Set(first.map(\.key)).isSubset(of: Set(listed.map(\.key))))
        for entry in listed {
            #expect(entry.description.hasPrefix("registry-demo/build: ") || entry.description.hasPrefix("registry-demo/app: "),
                    "\(entry.description)")
            let layerBytes = entry.layer.map { Self.fileSize(cache + "/build/blobs/sha256/" + Self.hex($0)) } ?? 0
            #expect(entry.bytes == Self.fileSize(cache + "/build/blobs/sha256/" + Self.hex(entry.record)) + layerBytes)
        }
        let descriptions = listed.map(\.description)
        #expect(descriptions.filter { $0 == "registry-demo/build: run mkdir -p \"$OUT/bin\" \"$OUT/share\"" }.count == 2, "one per greeting")
        #expect(descriptions.contains("registry-demo/build: artifact bin"))
        #expect(descriptions.contains("registry-demo/app: copy config.ini"))
        // Most recently used first: the newest entry of the second build leads, dates never increase.
        #expect(listed.map(\.lastUsed) == listed.map(\.lastUsed).sorted(by: >))

        let text = try plan(["cache", "ls", "--cache-dir", cache])
        #expect(text.status == 0)
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("KEY") == true)
        #expect(lines.count == listed.count + 1)
        for (line, entry) in zip(lines.dropFirst(), listed) {
            #expect(line.hasPrefix(String(entry.key.prefix(12)) + " "), "\(line)")
            #expect(line.contains("s ago") || line.contains("m ago"), "\(line)")
            #expect(line.hasSuffix(entry.description), "\(line)")
        }

        // A cache that does not exist lists nothing and is not created.
        #expect(try entries(folder + "/none") == [])
        #expect(!FileManager.default.fileExists(atPath: folder + "/none"))
    }

    @Test func duTotalsMatchTheBytesOnDisk() throws {
        let folder = try Self.scratch()
        defer { Self.cleanUp(folder) }
        let cache = folder + "/cache"
        try build(cache)
        try build(cache, greeting: "bye")
        let usage = try measure(cache)
        #expect(usage.categories.map(\.name) == ["build entries", "unpacked layers", "base images", "cache mounts", "leftover runs"])
        #expect(usage.bytes("build entries") == (try Self.du(cache + "/build")) - (try Self.du(cache + "/build/unpacked")))
        #expect(usage.bytes("unpacked layers") == (try Self.du(cache + "/build/unpacked")))
        #expect(usage.bytes("base images") == (try Self.du(cache + "/images")) + (try Self.du(cache + "/rootfs")))
        #expect(usage.bytes("cache mounts") == (try Self.du(cache + "/mounts")))
        #expect(usage.bytes("leftover runs") == (try Self.du(cache + "/runs")))
        var onDisk: Int64 = 0
        for path in ["build", "images", "rootfs", "mounts", "runs"] { onDisk += try Self.du(cache + "/" + path) }
        #expect(usage.total == onDisk)
        #expect(usage.total == usage.categories.reduce(0) { $0 + $1.bytes })
        #expect(usage.bytes("base images") > 1_000_000, "the busybox image is stored and unpacked")
        #expect(usage.categories.first { $0.name == "build entries" }?.items == (try entries(cache)).count)
        #expect(usage.categories.first { $0.name == "cache mounts" }?.items == 1, "the run step's cache: [/root/.cache]")

        let text = try plan(["cache", "du", "--cache-dir", cache])
        #expect(text.status == 0)
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("base images") && $0.hasSuffix(" MiB") }, "\(text.stdout)")
        #expect(lines.contains { $0.hasPrefix("build entries") && $0.hasSuffix(" KiB") }, "\(text.stdout)")
        #expect(lines.last?.hasPrefix("total") == true)
        #expect(lines.last?.hasSuffix(CacheFormatting.size(usage.total)) == true, "\(text.stdout)")

        let empty = try measure(folder + "/none")
        #expect(empty.total == 0)
        #expect(!FileManager.default.fileExists(atPath: folder + "/none"))
    }

    // MARK: prune

    @Test func keepBytesRemovesTheLeastRecentlyUsedFirst() throws {
        let folder = try Self.scratch()
        defer { Self.cleanUp(folder) }
        let cache = folder + "/cache"
        try build(cache)
        try build(cache, greeting: "bye")
        // A known order of last use: by key, each an hour older than the one before.
        let keys = try entries(cache).map(\.key).sorted()
        for (index, key) in keys.enumerated() { try Self.age(cache, key, secondsAgo: 3600 * (index + 1)) }
        let byRecency = try entries(cache)
        #expect(byRecency.map(\.key) == keys, "most recently used first")
        // Keep exactly what the newest half weighs: the older half goes, oldest first.
        let keep = keys.count / 2
        let budget = try Self.weight(Array(byRecency.prefix(keep)), cache: cache)
        #expect(try Self.weight(Array(byRecency.prefix(keep + 1)), cache: cache) > budget)
        let output = try prune(cache, ["--keep-bytes", String(budget)])

        let left = try entries(cache)
        #expect(left.map(\.key) == Array(keys.prefix(keep)), "\(output)")
        let removed = Array(byRecency.dropFirst(keep).reversed())
        #expect(output.contains("removed \(removed.count) entries, least recently used first:"), "\(output)")
        // Listed oldest first.
        let listedKeys = output.split(separator: "\n").dropFirst().prefix(removed.count)
            .map { $0.trimmingCharacters(in: .whitespaces).prefix(12) }.map(String.init)
        #expect(listedKeys == removed.map { String($0.key.prefix(12)) }, "\(output)")
        #expect(try Self.weight(left, cache: cache) <= budget)
        #expect(try Self.unreferencedBlobs(cache) == [])
        for layer in try FileManager.default.contentsOfDirectory(atPath: cache + "/build/unpacked") {
            #expect(FileManager.default.fileExists(atPath: cache + "/build/blobs/sha256/" + layer), "unpacked \(layer) has no blob")
        }

        // A budget the cache already meets removes nothing.
        let again = try prune(cache, ["--keep-bytes", "1GiB"])
        #expect(again.hasPrefix("removed no entries"), "\(again)")
        #expect(try entries(cache).map(\.key) == Array(keys.prefix(keep)))
        // Base images and cache mounts stay.
        #expect(try Self.du(cache + "/rootfs") > 1_000_000)
        #expect(FileManager.default.fileExists(atPath: cache + "/mounts"))
    }

    @Test func olderThanRemovesOnlyEntriesUnusedForLonger() throws {
        let folder = try Self.scratch()
        defer { Self.cleanUp(folder) }
        let cache = folder + "/cache"
        try build(cache)
        let all = try entries(cache).map(\.key).sorted()
        let old = all.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        for key in old { try Self.age(cache, key, secondsAgo: 3 * 3600) }
        for key in all where !old.contains(key) { try Self.age(cache, key, secondsAgo: 3600) }

        let untouched = try prune(cache, ["--older-than", "4h"])
        #expect(untouched.hasPrefix("removed no entries"), "\(untouched)")
        #expect(try entries(cache).count == all.count)

        let output = try prune(cache, ["--older-than", "2h"])
        #expect(try entries(cache).map(\.key).sorted() == all.filter { !old.contains($0) }, "\(output)")
        #expect(output.contains("removed \(old.count) entries"), "\(output)")
        #expect(try Self.unreferencedBlobs(cache) == [])

        // Both options: everything older than 30 minutes goes, whatever the budget.
        let both = try prune(cache, ["--older-than", "30m", "--keep-bytes", "10G"])
        #expect(try entries(cache) == [], "\(both)")
    }

    @Test func aBarePruneEmptiesTheBuildCacheAndTheNextRunRebuildsEveryStepThenHits() throws {
        let folder = try Self.scratch()
        defer { Self.cleanUp(folder) }
        let cache = folder + "/cache"
        let first = try build(cache, extra: ["--explain"])
        let steps = first.stdout.split(separator: "\n").filter { $0.hasPrefix("hit ") || $0.hasPrefix("miss ") }
        #expect(!steps.isEmpty && steps.allSatisfy { $0.hasPrefix("miss ") }, "\(first.stdout)")

        // What killed runs and broken entries leave behind.
        let buildFolder = cache + "/build"
        let orphan = Data("an orphan blob".utf8)
        let orphanHex = try TestSupport.run("/bin/sh", ["-c", "printf '%s' 'an orphan blob' | sha256sum"]).stdout.prefix(64)
        _ = FileManager.default.createFile(atPath: buildFolder + "/blobs/sha256/" + orphanHex, contents: orphan)
        _ = FileManager.default.createFile(atPath: buildFolder + "/tmp/.tmp-1-abc", contents: Data("half a blob".utf8))
        _ = FileManager.default.createFile(atPath: buildFolder + "/refs/" + String(repeating: "ab", count: 32) + ".tmp-1-2", contents: Data())
        try FileManager.default.createDirectory(atPath: buildFolder + "/unpacked/.tmp-1-2/usr", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: buildFolder + "/unpacked/" + String(repeating: "cd", count: 32) + "/etc",
                                                withIntermediateDirectories: true)
        let dangling = String(repeating: "ef", count: 32)
        try TestSupport.write("sha256:" + String(repeating: "0", count: 64), to: buildFolder + "/refs/" + dangling)
        // The run folder of a killed run, with a mount still in it.
        var deadPID: pid_t = 4_000_000
        while kill(deadPID, 0) == 0 || errno != ESRCH { deadPID += 1 }
        let killedRun = cache + "/runs/\(deadPID)-1"
        try FileManager.default.createDirectory(atPath: killedRun + "/views/stage", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: killedRun + "/scratch", contents: Data("scratch".utf8))
        #expect(mount("tmpfs", killedRun + "/views/stage", "tmpfs", 0, "size=1m") == 0)
        _ = FileManager.default.createFile(atPath: killedRun + "/views/stage/file", contents: Data("in the mount".utf8))
        let listing = try plan(["cache", "ls", "--cache-dir", cache])
        #expect(listing.stderr.contains("1 broken reference"), "\(listing.stderr)")

        // Removing everything is never silent: without a terminal to ask on, it needs --force.
        let refused = try TestSupport.plan(["cache", "prune", "--cache-dir", cache], input: Data())
        #expect(refused.status == 2)
        // Every step, the 2 artifacts and the dangling reference.
        #expect(refused.stderr.contains("would remove every build entry (\(steps.count + 3) entries, "), "\(refused.stderr)")
        #expect(refused.stderr.contains("nothing was removed") && refused.stderr.contains("--force"), "\(refused.stderr)")
        #expect(try entries(cache).count == steps.count + 2)

        let output = try prune(cache, ["--force"])
        #expect(output.contains("removed \(steps.count + 2) entries"), "every step and the 2 artifacts: \(output)")
        #expect(output.contains("1 broken reference"), "\(output)")
        #expect(output.contains("freed "), "\(output)")
        #expect(output.contains("leftover run folder"), "\(output)")
        #expect(!FileManager.default.fileExists(atPath: killedRun))
        #expect(Self.mounts(under: cache) == [])
        #expect(try entries(cache) == [])
        for sub in ["refs", "blobs/sha256", "tmp", "unpacked"] {
            #expect(try FileManager.default.contentsOfDirectory(atPath: buildFolder + "/" + sub) == [], "\(sub) is not empty")
        }
        let usage = try measure(cache)
        #expect(usage.categories.first { $0.name == "build entries" }?.items == 0)
        #expect(usage.categories.first { $0.name == "unpacked layers" }?.items == 0)
        #expect(usage.bytes("base images") > 1_000_000, "a bare prune keeps base images")

        let rebuilt = try build(cache, extra: ["--explain"])
        let again = rebuilt.stdout.split(separator: "\n").filter { $0.hasPrefix("hit ") || $0.hasPrefix("miss ") }
        #expect(again.count == steps.count && again.allSatisfy { $0.hasPrefix("miss ") }, "\(rebuilt.stdout)")
        let hit = try build(cache, extra: ["--explain"])
        let hits = hit.stdout.split(separator: "\n").filter { $0.hasPrefix("hit ") || $0.hasPrefix("miss ") }
        #expect(hits.count == steps.count && hits.allSatisfy { $0.hasPrefix("hit ") }, "\(hit.stdout)")
    }

    @Test func pruneAllAlsoRemovesBaseImagesAndCacheMounts() throws {
        let folder = try Self.scratch()
        defer { Self.cleanUp(folder) }
        let cache = folder + "/cache"
        try build(cache)
        let before = try measure(cache)
        let refused = try TestSupport.plan(["cache", "prune", "--cache-dir", cache, "--all", "--keep-bytes", "1G"], input: Data())
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("would remove everything: every build entry"), "\(refused.stderr)")
        #expect(try measure(cache).total == before.total)
        let output = try prune(cache, ["--all", "--force"])
        #expect(output.contains("removed base images ("), "\(output)")
        for path in ["images", "rootfs", "mounts"] {
            #expect(!FileManager.default.fileExists(atPath: cache + "/" + path), "\(path) is still there")
        }
        let after = try measure(cache)
        #expect(after.total < 50_000, "left: \(after.categories.map { "\($0.name) \($0.bytes)" })")
        #expect(after.total < before.total / 10)
        #expect(output.contains("freed "), "\(output)")
        // The next run pulls again.
        let rebuilt = try build(cache, extra: ["--explain"])
        #expect(!rebuilt.stdout.contains("hit "), "\(rebuilt.stdout)")
    }

    @Test func aPruneWaitsForARunningBuild() throws {
        let folder = try Self.scratch()
        defer { Self.cleanUp(folder) }
        let cache = folder + "/cache"
        try TestSupport.write("""
            version: 1
            name: slow
            stages:
              slow:
                from: \(Self.registry)/plan-test/busybox:stable
                steps:
                  - run: sleep 3 && echo slept > /slept
            targets: [slow]
            """, to: folder + "/slow/plan.yaml")
        let log = folder + "/run.log"
        let pid = try ChildProcess.spawn(TestSupport.planBinary, [
            "run", folder + "/slow", "--cache-dir", cache, "--insecure-registry", Self.registry, "--progress", "plain",
            "--output", "type=local,dest=\(folder)/out",
        ], environment: ProcessInfo.processInfo.environment, stdout: log + ".out", stderr: log)
        // Wait until the step runs (the build holds the cache lock), then prune.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, ChildProcess.isRunning(pid),
              !((try? TestSupport.read(log))?.contains("[slow] run sleep 3") ?? false) {
            usleep(20_000)
        }
        let started = Date()
        let output = try prune(cache, ["--force"])
        let waited = Date().timeIntervalSince(started)
        let status = ChildProcess.wait(pid)
        let runLog = (try? TestSupport.read(log)) ?? ""
        #expect(status == 0, "the build broke: \(runLog)")
        #expect(try TestSupport.read(folder + "/out/slept") == "slept\n")
        #expect(waited > 1.5, "the prune did not wait for the build (\(waited) s): \(runLog)")
        // The prune ran after the build: it removed what the build stored.
        #expect(output.contains("slow/slow: run sleep 3 && echo slept > /slept"), "\(output)")
        #expect(try entries(cache) == [])
        #expect(try Self.unreferencedBlobs(cache) == [])
    }

    // MARK: values

    @Test func sizesAndDurationsParse() throws {
        #expect(try CacheArguments.bytes("1000") == 1000)
        #expect(try CacheArguments.bytes("0") == 0)
        #expect(try CacheArguments.bytes("500MB") == 500_000_000)
        #expect(try CacheArguments.bytes("500mb") == 500_000_000)
        #expect(try CacheArguments.bytes("2GiB") == 2 * 1_073_741_824)
        #expect(try CacheArguments.bytes("2gib") == 2 * 1_073_741_824)
        #expect(try CacheArguments.bytes("1.5G") == 1_500_000_000)
        #expect(try CacheArguments.bytes("10 KiB") == 10_240)
        #expect(try CacheArguments.bytes("3k") == 3000)
        #expect(try CacheArguments.bytes("1TB") == 1_000_000_000_000)
        #expect(try CacheArguments.bytes("512B") == 512)
        for bad in ["", "MB", "-1", "1.2.3", "5XB", "1e3", "1,5G", "ten", "2 GiB extra", "99999999999TB"] {
            #expect(throws: (any Error).self, "\(bad)") { try CacheArguments.bytes(bad) }
        }
        #expect(try CacheArguments.duration("30s") == 30)
        #expect(try CacheArguments.duration("90m") == 5400)
        #expect(try CacheArguments.duration("12h") == 43_200)
        #expect(try CacheArguments.duration("7d") == 604_800)
        #expect(try CacheArguments.duration("2w") == 1_209_600)
        #expect(try CacheArguments.duration("1.5H") == 5400)
        for bad in ["", "30", "1x", "-5m", "m", "1 month", "5mo"] {
            #expect(throws: (any Error).self, "\(bad)") { try CacheArguments.duration(bad) }
        }
        #expect(CacheFormatting.size(0) == "0 B")
        #expect(CacheFormatting.size(1023) == "1023 B")
        #expect(CacheFormatting.size(12_897_485) == "12.3 MiB")
        #expect(CacheFormatting.size(2 * 1_073_741_824) == "2.0 GiB")
        let now = Date()
        #expect(CacheFormatting.age(of: now.addingTimeInterval(-5), now: now) == "5s ago")
        #expect(CacheFormatting.age(of: now.addingTimeInterval(-200), now: now) == "3m ago")
        #expect(CacheFormatting.age(of: now.addingTimeInterval(-7200), now: now) == "2h ago")
        #expect(CacheFormatting.age(of: now.addingTimeInterval(-3 * 86400), now: now) == "3d ago")

        // Through the command line: a bad value is a usage error (exit 2) that says what is expected.
        let folder = try Self.scratch()
        defer { Self.cleanUp(folder) }
        let badSize = try plan(["cache", "prune", "--cache-dir", folder, "--keep-bytes", "5XB"])
        #expect(badSize.status == 2)
        #expect(badSize.stderr.contains("--keep-bytes 5XB: expected a size such as 1000, 500MB, 2GiB or 1.5G"), "\(badSize.stderr)")
        let badAge = try plan(["cache", "prune", "--cache-dir", folder, "--older-than", "7"])
        #expect(badAge.status == 2)
        #expect(badAge.stderr.contains("--older-than 7: expected a duration such as 30s, 90m, 12h, 7d or 2w"), "\(badAge.stderr)")
        let badFormat = try plan(["cache", "ls", "--cache-dir", folder, "--format", "yaml"])
        #expect(badFormat.status == 2)
        let good = try plan(["cache", "prune", "--cache-dir", folder + "/cache", "--keep-bytes", "1.5G", "--older-than", "2w"])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.hasPrefix("removed no entries"), "\(good.stdout)")
        // A file where the cache folder should be is an error, not a crash.
        _ = FileManager.default.createFile(atPath: folder + "/file", contents: Data())
        let notAFolder = try plan(["cache", "du", "--cache-dir", folder + "/file"])
        #expect(notAFolder.status == 1)
        #expect(notAFolder.stderr.contains("is not a folder"), "\(notAFolder.stderr)")
    }
}
