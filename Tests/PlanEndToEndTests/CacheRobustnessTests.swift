import Foundation
import PlanTestKit
import Testing

/// The build cache of `plan run` where it is hardest: runs killed with SIGKILL at random moments, two
/// runs on one cache at once, entries with a flipped byte, and the `--cache-to`/`--cache-from`
/// hand-over. Every check compares what `plan run` writes (root filesystem, artifacts, OCI image)
/// with a reference build, trees by path, type, mode, owner, SHA-256 and link target (not mtimes).
/// Needs root and the test registry, as scripts/test provides.
@Suite(.serialized) struct CacheRobustnessTests {
    static var registry: String { RunTests.registry }
    static let plan = TestSupport.fixtures + "/cache-robustness"
    /// Steps of the fixture that change files (what `--explain` prints a line for).
    static let stepCount = 15

    enum Output: CaseIterable {
        case rootfs, artifacts, image

        var flag: String {
            switch self {
            case .rootfs: "type=local,dest="
            case .artifacts: "type=artifacts,dest="
            case .image: "type=oci,dest="
            }
        }

        var folder: String {
            switch self {
            case .rootfs: "rootfs"
            case .artifacts: "artifacts"
            case .image: "image"
            }
        }
    }

    /// `plan run` of the fixture with `ROUND=round`, writing `outputs` into folders under `destination`.
    static func arguments(cache: String, round: String, destination: String, outputs: [Output] = Output.allCases,
                          extra: [String] = []) -> [String] {
        var arguments = ["run", plan, "--cache-dir", cache, "--insecure-registry", registry, "--arg", "REGISTRY=\(registry)",
                         "--arg", "ROUND=\(round)", "--progress", "plain"]
        for output in outputs { arguments += ["--output", output.flag + destination + "/" + output.folder] }
        return arguments + extra
    }

    static func run(cache: String, round: String, destination: String, outputs: [Output] = Output.allCases,
                    extra: [String] = []) throws -> TestSupport.ProcessResult {
        try TestSupport.plan(arguments(cache: cache, round: round, destination: destination, outputs: outputs, extra: extra))
    }

    /// `plan run` started in the background, its output in `log.out` and `log.err`.
    static func start(_ arguments: [String], log: String) throws -> pid_t {
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = "1"
        return try ChildProcess.spawn(TestSupport.planBinary, arguments, environment: environment,
                                      stdout: log + ".out", stderr: log + ".err")
    }

    // MARK: Outputs

    /// What one run wrote, per output; an output that is not there is missing from the dictionary.
    struct Snapshot: Equatable {
        var trees: [String: [String]] = [:]
    }

    /// The trees of the outputs under `destination` (the image unpacked with umoci: its root
    /// filesystem's tree and its configuration).
    static func snapshot(_ destination: String, outputs: [Output] = Output.allCases) throws -> Snapshot {
        var snapshot = Snapshot()
        for output in outputs {
            let path = destination + "/" + output.folder
            guard FileManager.default.fileExists(atPath: path) else { continue }
            switch output {
            case .rootfs, .artifacts:
                snapshot.trees[output.folder] = try RunTests.tree(path)
            case .image:
                let scratch = try TestSupport.temporaryFolder()
                defer { try? FileManager.default.removeItem(atPath: scratch) }
                do {
                    let built = try RunTests.unpack(layout: path, name: "latest", into: scratch + "/unpacked")
                    let config = try JSONSerialization.data(withJSONObject: built.config, options: [.sortedKeys])
                    snapshot.trees["image"] = built.tree + ["config " + String(decoding: config, as: UTF8.self)]
                } catch {
                    snapshot.trees["image"] = ["cannot unpack: \(error)"]
                }
            }
        }
        return snapshot
    }

    /// Where two snapshots differ, for messages.
    static func difference(_ a: Snapshot, _ b: Snapshot) -> String {
        var lines: [String] = []
        for name in Set(a.trees.keys).union(b.trees.keys).sorted() {
            let (x, y) = (a.trees[name], b.trees[name])
            if x == y { continue }
            guard let x, let y else {
                lines.append("\(name): only in \(x == nil ? "the second" : "the first")")
                continue
            }
            lines.append("\(name): " + Set(x).symmetricDifference(y).sorted().prefix(20).joined(separator: "\n  "))
        }
        return lines.joined(separator: "\n")
    }

    /// A reference build on a cache of its own.
    static func reference(in folder: String, outputs: [Output] = Output.allCases,
                          sourceLocation: SourceLocation = #_sourceLocation) throws -> Snapshot {
        let result = try run(cache: folder + "/reference-cache", round: "reference", destination: folder + "/reference",
                             outputs: outputs)
        #expect(result.status == 0, "reference build: \(result.stderr)", sourceLocation: sourceLocation)
        let snapshot = try Self.snapshot(folder + "/reference", outputs: outputs)
        #expect(snapshot.trees.count == outputs.count, sourceLocation: sourceLocation)
        #expect(snapshot.trees["image"]?.contains { $0.hasPrefix("./app/big ") } ?? true, "\(snapshot)",
                sourceLocation: sourceLocation)
        return snapshot
    }

    // MARK: Explain

    /// `hit` and `miss` lines of `--explain`.
    static func explained(_ stdout: String) -> (hits: [String], misses: [String]) {
        let lines = stdout.split(separator: "\n").map(String.init)
        return (lines.filter { $0.hasPrefix("hit  [") }, lines.filter { $0.hasPrefix("miss [") })
    }

    // MARK: Processes and mounts

    /// A file of /proc, read to its end (procfs reports a size of 0, and Foundation's readers by
    /// path stop after the first 4 KiB).
    static func readProc(_ path: String) -> Data {
        (try? FileHandle(forReadingFrom: URL(fileURLWithPath: path)).readToEnd()) ?? Data()
    }

    /// Processes (other than this one) whose command line mentions `path`: a sandbox has its root,
    /// under the cache's run folder, in its `unshare` command line.
    static func processes(mentioning path: String) -> [String] {
        let me = String(getpid())
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var found: [String] = []
        for name in names where name.allSatisfy(\.isNumber) && name != me {
            let data = readProc("/proc/\(name)/cmdline")
            guard !data.isEmpty else { continue }
            let line = String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
            if line.contains(path) { found.append("\(name): \(line.prefix(300))") }
        }
        return found
    }

    /// Waits up to `seconds` for the processes mentioning `path` to be gone; those still there.
    static func waitForNoProcesses(mentioning path: String, seconds: Double = 5) -> [String] {
        let deadline = Date().addingTimeInterval(seconds)
        var found = processes(mentioning: path)
        while !found.isEmpty, Date() < deadline {
            usleep(50_000)
            found = processes(mentioning: path)
        }
        return found
    }

    /// Lines of this process's mountinfo (plan mounts in the same namespace) that mention `path`.
    static func mounts(mentioning path: String) -> [String] {
        let text = String(decoding: readProc("/proc/self/mountinfo"), as: UTF8.self)
        return text.split(separator: "\n").map(String.init).filter { $0.contains(path) }
    }

    static func runFolders(_ cache: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: cache + "/runs")) ?? []
    }

    /// Removes a test folder, detaching whatever a failed run left mounted in it first.
    static func remove(_ folder: String) {
        let text = String(decoding: readProc("/proc/self/mountinfo"), as: UTF8.self)
        let points = text.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            return fields.count > 4 && fields[4].hasPrefix(folder) ? String(fields[4]) : nil
        }
        for point in points.reversed() { umount2(point, Int32(MNT_DETACH)) }
        try? FileManager.default.removeItem(atPath: folder)
    }

    // MARK: Cache entries

    struct Entry {
        var key: String
        var description: String
        var record: String
        var layer: String?
        var layerSize: Int
    }

    /// Every entry of a cache: refs/KEY → record blob → its layer.
    static func entries(_ cache: String) throws -> [Entry] {
        let build = cache + "/build"
        var entries: [Entry] = []
        for key in try FileManager.default.contentsOfDirectory(atPath: build + "/refs").sorted() where key.count == 64 {
            let digest = try TestSupport.read(build + "/refs/" + key).trimmingCharacters(in: .whitespacesAndNewlines)
            let record = build + "/blobs/sha256/" + digest.replacingOccurrences(of: "sha256:", with: "")
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: record))) as? [String: Any] ?? [:]
            let layer = json["layer"] as? [String: Any]
            entries.append(Entry(key: key, description: json["description"] as? String ?? "", record: record,
                                 layer: (layer?["digest"] as? String).map { build + "/blobs/sha256/" + $0.replacingOccurrences(of: "sha256:", with: "") },
                                 layerSize: (layer?["size"] as? NSNumber)?.intValue ?? 0))
        }
        return entries
    }

    /// Flips the bits of one byte in the middle of a file (the size stays the same).
    static func flipByte(_ path: String) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        let offset = size / 2
        try handle.seek(toOffset: offset)
        let byte = try handle.read(upToCount: 1) ?? Data([0])
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: Data([byte[0] ^ 0xFF]))
    }

    // MARK: 1. SIGKILL

    /// 20 times: a run of a new round (its steps miss) on one shared cache is killed with SIGKILL at a
    /// random moment of the build (stratified over the build time), then the same round is run
    /// again: it succeeds with the reference output. Outputs are there whole or not at all, no
    /// sandbox outlives plan, and at the end nothing stays mounted and no run folder is left.
    @Test(.timeLimit(.minutes(4))) func sigkillAtRandomMomentsThenARerunGivesTheReference() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { Self.remove(folder) }
        let seed = ProcessInfo.processInfo.environment["PLAN_TEST_KILL_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 0...UInt64.max)
        print("CacheRobustnessTests: SIGKILL seed \(seed) (PLAN_TEST_KILL_SEED=\(seed) repeats these kill moments)")
        var random = SeededGenerator(seed: seed)  // BadInputTests' SplitMix64: replayable kill moments
        let reference = try Self.reference(in: folder)

        // How long a round takes: a new ROUND on a cache that has the base image.
        let measured = Date()
        let timing = try Self.run(cache: folder + "/reference-cache", round: "timing", destination: folder + "/timing")
        #expect(timing.status == 0, "\(timing.stderr)")
        let span = max(Date().timeIntervalSince(measured), 0.5)

        let cache = folder + "/cache"
        let destination = folder + "/out"
        let rounds = 20
        var slots = Array(0..<rounds)
        slots.shuffle(using: &random)
        var killedWhileRunning = 0
        for (round, slot) in slots.enumerated() {
            let delay = span * (Double(slot) + Double.random(in: 0..<1, using: &random)) / Double(rounds)
            let context = "seed \(seed), round \(round), SIGKILL after \(Int(delay * 1000)) ms"
            let log = folder + "/round-\(round)"
            let pid = try Self.start(Self.arguments(cache: cache, round: "\(round)", destination: destination), log: log)
            usleep(UInt32(delay * 1_000_000))
            kill(pid, SIGKILL)
            let status = ChildProcess.wait(pid)
            if status == 128 + SIGKILL {
                killedWhileRunning += 1
            } else {
                #expect(status == 0, "\(context): the run ended before the kill with \(status): \((try? TestSupport.read(log + ".err")) ?? "")")
            }
            let survivors = Self.waitForNoProcesses(mentioning: cache)
            #expect(survivors.isEmpty, "\(context): processes outlived plan:\n\(survivors.joined(separator: "\n"))")

            // Each output is the previous round's (the reference) or not there: never half-written.
            let left = try Self.snapshot(destination)
            for (name, tree) in left.trees {
                #expect(tree == reference.trees[name], "\(context): \(name) is half-written:\n\(Self.difference(left, reference))")
            }

            let rerun = try Self.run(cache: cache, round: "\(round)", destination: destination, extra: ["--explain"])
            #expect(rerun.status == 0, "\(context): the run after the kill failed:\n\(rerun.stderr)")
            let built = try Self.snapshot(destination)
            #expect(built == reference, "\(context): the output differs from the reference:\n\(Self.difference(built, reference))")
            // The run after the kill cleaned up the killed run's folder and mounts, and its own.
            #expect(Self.runFolders(cache).isEmpty, "\(context): run folders left: \(Self.runFolders(cache))")
            let mounted = Self.mounts(mentioning: cache)
            #expect(mounted.isEmpty, "\(context): still mounted:\n\(mounted.joined(separator: "\n"))")
            let explained = Self.explained(rerun.stdout)
            print("CacheRobustnessTests: round \(round): SIGKILL after \(Int(delay * 1000)) ms "
                  + (status == 128 + SIGKILL ? "(running)" : "(already done)")
                  + "; the next run: \(explained.hits.count) hits, \(explained.misses.count) misses, status \(rerun.status)")
            if rerun.status != 0 || built != reference { break }
        }
        // Most kills land while plan runs (the moments cover the build time of a round).
        #expect(killedWhileRunning >= rounds / 2, "only \(killedWhileRunning) of \(rounds) kills found plan running")
        let survivors = Self.processes(mentioning: folder)
        #expect(survivors.isEmpty, "processes outlived plan:\n\(survivors.joined(separator: "\n"))")
        let mounts = Self.mounts(mentioning: folder)
        #expect(mounts.isEmpty, "still mounted:\n\(mounts.joined(separator: "\n"))")
        #expect(Self.runFolders(cache).isEmpty, "run folders left: \(Self.runFolders(cache))")
    }

    // MARK: 2. Concurrent runs

    /// Two runs on one cache at once, cold and then warm: both succeed with the reference output.
    @Test func twoConcurrentRunsOnOneCacheBothSucceedWithTheSameOutput() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { Self.remove(folder) }
        let reference = try Self.reference(in: folder)
        let cache = folder + "/cache"
        for phase in ["cold", "warm"] {
            let runs = try ["a", "b"].map { name in
                try Self.start(Self.arguments(cache: cache, round: "concurrent", destination: folder + "/\(phase)-\(name)",
                                              extra: ["--explain"]), log: folder + "/\(phase)-\(name)")
            }
            let statuses = runs.map { ChildProcess.wait($0) }
            for (name, status) in zip(["a", "b"], statuses) {
                let log = folder + "/\(phase)-\(name)"
                #expect(status == 0, "\(phase) run \(name): \((try? TestSupport.read(log + ".err")) ?? "")")
                let built = try Self.snapshot(folder + "/\(phase)-\(name)")
                #expect(built == reference, "\(phase) run \(name):\n\(Self.difference(built, reference))")
                if phase == "warm" {
                    let explained = Self.explained(try TestSupport.read(log + ".out"))
                    #expect(explained.misses.isEmpty && explained.hits.count == Self.stepCount,
                            "warm run \(name): \(explained.misses)")
                }
            }
        }
        #expect(Self.runFolders(cache).isEmpty, "\(Self.runFolders(cache))")
        #expect(Self.mounts(mentioning: folder).isEmpty)
    }

    // MARK: 3. Flipped bytes

    /// A flipped byte in a layer of the image, in a record, and in an artifact's tree: the run warns
    /// that the entry is corrupt, rebuilds it, succeeds with the reference output, and the run after
    /// it takes every step from the cache again.
    @Test func aFlippedByteInALayerARecordOrAnArtifactIsWarnedAboutAndRebuilt() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { Self.remove(folder) }
        let outputs: [Output] = [.image, .artifacts]
        let cache = folder + "/cache"
        let built = try Self.run(cache: cache, round: "corrupt", destination: folder + "/reference", outputs: outputs)
        #expect(built.status == 0, "\(built.stderr)")
        let reference = try Self.snapshot(folder + "/reference", outputs: outputs)
        let entries = try Self.entries(cache)
        #expect(entries.count >= Self.stepCount)

        // The largest layer of the target (the step writing /app/big); a record of the target's
        // chain; the tree of artifact tools.data.
        let layer = try #require(entries.filter { $0.description.hasPrefix("robust/app: run") }.max { $0.layerSize < $1.layerSize })
        let record = try #require(entries.first { $0.description == "robust/app: copy config/" })
        let artifact = try #require(entries.first { $0.description == "robust/tools: artifact data" })
        let cases: [(String, String, String)] = [
            ("layer", try #require(layer.layer), (try #require(layer.layer) as NSString).lastPathComponent),
            ("record", record.record, record.key),
            ("artifact tree", try #require(artifact.layer), (try #require(artifact.layer) as NSString).lastPathComponent),
        ]
        for (what, path, name) in cases {
            try Self.flipByte(path)
            let result = try Self.run(cache: cache, round: "corrupt", destination: folder + "/\(what)", outputs: outputs)
            #expect(result.status == 0, "\(what): \(result.stderr)")
            let warnings = result.stderr.split(separator: "\n").filter { $0.hasPrefix("warning:") }
            #expect(warnings.contains { $0.contains("corrupt") && $0.contains(name) }, "\(what): no warning names \(name):\n\(result.stderr)")
            let snapshot = try Self.snapshot(folder + "/\(what)", outputs: outputs)
            #expect(snapshot == reference, "\(what):\n\(Self.difference(snapshot, reference))")

            let again = try Self.run(cache: cache, round: "corrupt", destination: folder + "/\(what)-again", outputs: outputs,
                                     extra: ["--explain"])
            #expect(again.status == 0, "\(what), the run after: \(again.stderr)")
            let explained = Self.explained(again.stdout)
            #expect(explained.misses.isEmpty && explained.hits.count == Self.stepCount,
                    "\(what), the run after: \(explained.misses)\n\(again.stdout)")
            #expect(!again.stderr.contains("warning:"), "\(what), the run after: \(again.stderr)")
            let after = try Self.snapshot(folder + "/\(what)-again", outputs: outputs)
            #expect(after == reference, "\(what), the run after:\n\(Self.difference(after, reference))")
        }
        #expect(Self.runFolders(cache).isEmpty, "\(Self.runFolders(cache))")
    }

    // MARK: 4. --cache-to / --cache-from

    /// Checks an OCI image layout of cache entries with python: `oci-layout`, `index.json`, every
    /// manifest, config and layer present with its size and SHA-256, records keyed as annotated.
    /// Prints the number of entries.
    static let layoutCheck = """
        import hashlib, json, os, sys
        root = sys.argv[1]
        def blob(descriptor):
            algorithm, hex = descriptor["digest"].split(":")
            assert algorithm == "sha256", descriptor
            data = open(os.path.join(root, "blobs", algorithm, hex), "rb").read()
            assert hashlib.sha256(data).hexdigest() == hex, "digest mismatch: " + hex
            assert len(data) == descriptor["size"], "size mismatch: " + hex
            return data
        assert json.load(open(os.path.join(root, "oci-layout")))["imageLayoutVersion"] == "1.0.0"
        index = json.load(open(os.path.join(root, "index.json")))
        assert index["schemaVersion"] == 2, index
        keys = set()
        for descriptor in index["manifests"]:
            assert descriptor["mediaType"] == "application/vnd.oci.image.manifest.v1+json", descriptor
            key = descriptor["annotations"]["dev.plan.cache.key"]
            assert len(key) == 64 and key not in keys, key
            keys.add(key)
            manifest = json.loads(blob(descriptor))
            assert manifest["schemaVersion"] == 2 and manifest["mediaType"] == descriptor["mediaType"], manifest
            assert manifest["artifactType"] == "application/vnd.plan.cache.v1", manifest
            assert manifest["annotations"]["dev.plan.cache.key"] == key, manifest
            assert manifest["config"]["mediaType"] == "application/vnd.plan.cache.record.v1+json", manifest
            record = json.loads(blob(manifest["config"]))
            assert record["key"] == key, record
            assert len(manifest["layers"]) == (1 if record.get("layer") else 0), manifest
            for layer in manifest["layers"]:
                assert layer["digest"] == record["layer"]["digest"], manifest
                blob(layer)
        print(len(keys))
        """
    /// `--cache-to` exports what this build used, not everything `--cache-from` brought in: an import
    /// must not grow from one CI generation to the next.
    @Test func anExportHoldsOnlyWhatTheBuildUsed() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let common = [TestSupport.plans + "/registry", "--insecure-registry", Self.registry, "--progress", "plain"]
        let everything = try TestSupport.plan(["run"] + common + ["--cache-dir", folder + "/one", "--cache-to", "dir=\(folder)/all"])
        #expect(everything.status == 0, "\(everything.stderr)")
        let partial = try TestSupport.plan(["run"] + common + [
            "--target", "build", "--cache-dir", folder + "/two", "--cache-from", "dir=\(folder)/all",
            "--cache-to", "dir=\(folder)/build", "--explain",
        ])
        #expect(partial.status == 0, "\(partial.stderr)")
        #expect(!partial.stdout.contains("miss "), "\(partial.stdout)")
        func entries(_ layout: String) throws -> Int {
            let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: layout + "/index.json")))
            return ((index as? [String: Any])?["manifests"] as? [Any])?.count ?? -1
        }
        // registry: `build` has 4 steps and 2 artifacts, `app` 4 steps.
        #expect(try entries(folder + "/all") == 10)
        #expect(try entries(folder + "/build") == 6)
    }


    /// `--cache-to` writes a valid OCI layout; a fresh cache given it with `--cache-from` takes every
    /// step from it; a missing folder and a corrupted blob are warnings; bad syntax is a usage error.
    @Test func cacheToAndCacheFromHandTheCacheToAFreshCache() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { Self.remove(folder) }
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        let reference = try Self.reference(in: folder)
        let exported = folder + "/exported"
        let export = try Self.run(cache: folder + "/reference-cache", round: "reference", destination: folder + "/export",
                                  extra: ["--cache-to", "dir=" + exported])
        #expect(export.status == 0, "\(export.stderr)")
        let check = try TestSupport.run(python, ["-c", Self.layoutCheck, exported])
        #expect(check.status == 0, "the layout at --cache-to is not valid: \(check.stderr)")
        // Every step and every artifact (tools: bin, data; base: lib; app: app).
        #expect(Int(check.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) == Self.stepCount + 4, "\(check.stdout)")

        // A fresh cache, from the layout: every step hits, the output is the reference.
        let imported = try Self.run(cache: folder + "/fresh-cache", round: "reference", destination: folder + "/imported",
                                    extra: ["--cache-from", "dir=" + exported, "--explain"])
        #expect(imported.status == 0, "\(imported.stderr)")
        let explained = Self.explained(imported.stdout)
        #expect(explained.misses.isEmpty && explained.hits.count == Self.stepCount, "\(imported.stdout)")
        #expect(!imported.stderr.contains("warning:"), "\(imported.stderr)")
        let snapshot = try Self.snapshot(folder + "/imported")
        #expect(snapshot == reference, "\(Self.difference(snapshot, reference))")

        // A folder that is not there: a warning, and the build goes on without it.
        let missing = try Self.run(cache: folder + "/missing-cache", round: "reference", destination: folder + "/missing",
                                   outputs: [.rootfs], extra: ["--cache-from", "dir=" + folder + "/nowhere"])
        #expect(missing.status == 0, "\(missing.stderr)")
        #expect(missing.stderr.contains("warning: --cache-from \(folder)/nowhere"), "\(missing.stderr)")
        #expect(try Self.snapshot(folder + "/missing", outputs: [.rootfs]).trees["rootfs"] == reference.trees["rootfs"])

        // A corrupted layer in the layout: that entry is skipped with a warning, its step is built,
        // every other step hits.
        let broken = folder + "/broken"
        #expect(try TestSupport.run("/bin/cp", ["-a", exported, broken]).status == 0)
        let entries = try Self.entries(folder + "/reference-cache")
        let victim = try #require(entries.first { $0.description == "robust/app: copy config/" })
        let victimLayer = try #require(victim.layer)
        try Self.flipByte(broken + "/blobs/sha256/" + (victimLayer as NSString).lastPathComponent)
        let partly = try Self.run(cache: folder + "/partly-cache", round: "reference", destination: folder + "/partly",
                                  extra: ["--cache-from", "dir=" + broken, "--explain"])
        #expect(partly.status == 0, "\(partly.stderr)")
        #expect(partly.stderr.contains("warning: --cache-from \(broken): entry \(victim.key) skipped"), "\(partly.stderr)")
        #expect(partly.stderr.contains("corrupt"), "\(partly.stderr)")
        let partlyExplained = Self.explained(partly.stdout)
        #expect(partlyExplained.misses.count == 1 && partlyExplained.misses.first?.contains("copy config/") == true,
                "\(partly.stdout)")
        let partlySnapshot = try Self.snapshot(folder + "/partly")
        #expect(partlySnapshot == reference, "\(Self.difference(partlySnapshot, reference))")

        // Bad syntax is a usage error.
        for bad in [["--cache-to", "foo"], ["--cache-from", "foo"], ["--cache-to", "type=s3,ref=x"]] {
            let result = try TestSupport.plan(["run", Self.plan, "--cache-dir", folder + "/unused"] + bad)
            #expect(result.status == 2, "\(bad): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains("\(bad[0]) \(bad[1]): "), "\(bad): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/unused"))
    }
}
