import Foundation
import PlanTestKit
import Testing

/// Image outputs compress plan's layers (gzip by default for `type=oci`), once, remembered in the build
/// cache; with `SOURCE_DATE_EPOCH` two builds on two empty caches give the same manifest digest.
/// Needs root and the test registry, as scripts/test provides.
@Suite(.serialized) struct ReproducibleImageTests {
    static var registry: String { ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555" }
    static let epoch = "1700000000"
    static let epochRFC3339 = "2023-11-14T22:13:20Z"
    static let epochTar = "2023-11-14 22:13:20"

    /// Run steps that write files (with the build's clock as their times), a hard link, a symbolic link, a folder.
    static let plan = """
        version: 1
        name: repro
        args: {REGISTRY: "127.0.0.1:5555"}
        stages:
          app:
            from: ${REGISTRY}/plan-test/busybox:stable
            steps:
              - run: mkdir -p /srv/data && echo hello > /srv/data/a.txt && ln /srv/data/a.txt /srv/data/hard && ln -s a.txt /srv/data/soft
              - run: echo second > /srv/b.txt && mkdir -p /srv/empty
        targets: [app]

        """

    struct Layout {
        var path: String
        var index: Data
        var manifestDigest: String
        var manifest: [String: Any]
        var config: [String: Any]

        init(_ path: String) throws {
            self.path = path
            index = try Data(contentsOf: URL(fileURLWithPath: path + "/index.json"))
            let object = try JSONSerialization.jsonObject(with: index) as? [String: Any]
            manifestDigest = ((object?["manifests"] as? [[String: Any]])?.first?["digest"] as? String) ?? ""
            manifest = try Self.json(path, manifestDigest)
            let configDigest = ((manifest["config"] as? [String: Any])?["digest"] as? String) ?? ""
            config = try Self.json(path, configDigest)
        }

        static func json(_ layout: String, _ digest: String) throws -> [String: Any] {
            let data = try Data(contentsOf: URL(fileURLWithPath: blob(layout, digest)))
            return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        }

        static func blob(_ layout: String, _ digest: String) -> String {
            layout + "/blobs/sha256/" + digest.replacingOccurrences(of: "sha256:", with: "")
        }

        var layers: [[String: Any]] { manifest["layers"] as? [[String: Any]] ?? [] }
        var history: [[String: Any]] { config["history"] as? [[String: Any]] ?? [] }
        /// plan's history entries (one per layer it built, at the end).
        var planHistory: [[String: Any]] { history.filter { ($0["comment"] as? String) == "built by plan run" } }
        /// The layers plan built: the last ones, one per entry of plan's history.
        var planLayers: [[String: Any]] { Array(layers.suffix(planHistory.count)) }
    }

    func build(_ folder: String, cache: String, output: String, extra: [String] = [], environment: [String: String] = [:]) throws
        -> TestSupport.ProcessResult {
        try TestSupport.run(TestSupport.planBinary, ["run", folder + "/plan", "--cache-dir", cache, "--insecure-registry", Self.registry,
                                                     "--arg", "REGISTRY=\(Self.registry)", "--output", output] + extra,
                            environment: ["NO_COLOR": "1"].merging(environment) { $1 })
    }

    /// Every time GNU tar lists for a layer blob (gzip or not), UTC.
    static func layerTimes(_ blob: String) throws -> [String] {
        let listing = try TestSupport.run("/bin/sh", ["-c", "TZ=UTC tar --full-time -tvf \"$0\"", blob])
        #expect(listing.status == 0, "\(listing.stderr)")
        let pattern = try NSRegularExpression(pattern: "\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}(\\.\\d+)?")
        let text = listing.stdout
        return pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range, in: text).map { String(text[$0]) }
        }
    }

    @Test func twoBuildsOnEmptyCachesSecondsApartGiveTheSameImage() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TestSupport.write(Self.plan, to: folder + "/plan/plan.yaml")
        let first = try build(folder, cache: folder + "/cache-1", output: "type=oci,dest=\(folder)/one",
                              environment: ["SOURCE_DATE_EPOCH": Self.epoch])
        #expect(first.status == 0, "\(first.stderr)")
        Thread.sleep(forTimeInterval: 2.5)
        // The flag and the environment variable mean the same.
        let second = try build(folder, cache: folder + "/cache-2", output: "type=oci,dest=\(folder)/two",
                               extra: ["--source-date-epoch", Self.epoch])
        #expect(second.status == 0, "\(second.stderr)")
        let one = try Layout(folder + "/one")
        let two = try Layout(folder + "/two")
        #expect(one.index == two.index, "index.json differs")
        #expect(one.manifestDigest == two.manifestDigest && one.manifestDigest.hasPrefix("sha256:"))

        #expect(one.config["created"] as? String == Self.epochRFC3339)
        #expect(one.planHistory.count == 2 && one.planHistory.allSatisfy { $0["created"] as? String == Self.epochRFC3339 },
                "\(one.history)")
        #expect(one.planLayers.count == 2)
        for layer in one.planLayers {
            #expect(layer["mediaType"] as? String == "application/vnd.oci.image.layer.v1.tar+gzip")
            let blob = Layout.blob(one.path, layer["digest"] as? String ?? "")
            let gzip = try TestSupport.run("/bin/sh", ["-c", "gzip -t \"$0\"", blob])
            #expect(gzip.status == 0, "\(gzip.stderr)")
            let times = try Self.layerTimes(blob)
            #expect(!times.isEmpty && times.allSatisfy { $0 <= Self.epochTar }, "\(times)")
        }

        // Without the epoch: no `created`, as before; the base image's history is the same either way.
        let plain = try build(folder, cache: folder + "/cache-1", output: "type=oci,dest=\(folder)/plain")
        #expect(plain.status == 0, "\(plain.stderr)")
        let unclamped = try Layout(folder + "/plain")
        #expect(unclamped.config["created"] == nil)
        #expect(unclamped.planHistory.allSatisfy { $0["created"] == nil })
        let baseCount = one.history.count - one.planHistory.count
        #expect(NSArray(array: Array(unclamped.history.prefix(baseCount))).isEqual(to: Array(one.history.prefix(baseCount))))
        #expect(Array(unclamped.layers.prefix(unclamped.layers.count - 2)).map { $0["digest"] as? String }
                == Array(one.layers.prefix(one.layers.count - 2)).map { $0["digest"] as? String }, "base layers are taken as pulled")
        #expect(unclamped.manifestDigest != one.manifestDigest)
    }

    @Test func aReExportUsesTheRememberedConversion() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TestSupport.write(Self.plan, to: folder + "/plan/plan.yaml")
        let cache = folder + "/cache"
        let first = try build(folder, cache: cache, output: "type=oci,dest=\(folder)/one", extra: ["--source-date-epoch", Self.epoch])
        #expect(first.status == 0, "\(first.stderr)")
        let converted = cache + "/build/converted"
        let records = try FileManager.default.contentsOfDirectory(atPath: converted).sorted()
        #expect(records.count == 2 && records.allSatisfy { $0.hasSuffix("-gzip-6-epoch1700000000.json") }, "\(records)")
        func identity(_ path: String) throws -> [FileAttributeKey: Any] {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            return [.systemFileNumber: attributes[.systemFileNumber] as Any, .modificationDate: attributes[.modificationDate] as Any]
        }
        let before = try records.map { try identity(converted + "/" + $0) }
        let one = try Layout(folder + "/one")
        let blobsBefore = try one.planLayers.map { try identity(cache + "/build/blobs/sha256/" + (($0["digest"] as? String) ?? "").dropFirst(7)) }

        Thread.sleep(forTimeInterval: 1.1)
        let again = try build(folder, cache: cache, output: "type=oci,dest=\(folder)/two", extra: ["--source-date-epoch", Self.epoch])
        #expect(again.status == 0, "\(again.stderr)")
        let two = try Layout(folder + "/two")
        #expect(two.manifestDigest == one.manifestDigest)
        // Compressed once: neither the records nor the converted blobs were written again.
        let after = try records.map { try identity(converted + "/" + $0) }
        #expect(NSArray(array: after.map { NSDictionary(dictionary: $0) }).isEqual(to: before.map { NSDictionary(dictionary: $0) }))
        let blobsAfter = try two.planLayers.map { try identity(cache + "/build/blobs/sha256/" + (($0["digest"] as? String) ?? "").dropFirst(7)) }
        #expect(NSArray(array: blobsAfter.map { NSDictionary(dictionary: $0) }).isEqual(to: blobsBefore.map { NSDictionary(dictionary: $0) }))
        #expect(try FileManager.default.contentsOfDirectory(atPath: converted).sorted() == records)

        // A remembered conversion whose blob is gone is made again, giving the same bytes.
        let lost = cache + "/build/blobs/sha256/" + ((two.planLayers.first?["digest"] as? String) ?? "").dropFirst(7)
        try FileManager.default.removeItem(atPath: lost)
        let healed = try build(folder, cache: cache, output: "type=oci,dest=\(folder)/three", extra: ["--source-date-epoch", Self.epoch])
        #expect(healed.status == 0, "\(healed.stderr)")
        #expect(try Layout(folder + "/three").manifestDigest == one.manifestDigest)
        #expect(FileManager.default.fileExists(atPath: lost))

        // A converted blob found changed is a corrupt cache entry: warned about, dropped, converted again.
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: lost))
        try handle.seek(toOffset: 40)
        try handle.write(contentsOf: Data([0xAA, 0x55]))
        try handle.close()
        let repaired = try build(folder, cache: cache, output: "type=oci,dest=\(folder)/four", extra: ["--source-date-epoch", Self.epoch])
        #expect(repaired.status == 0, "\(repaired.stderr)")
        #expect(repaired.stderr.contains("warning: cache entry \((two.planLayers.first?["digest"] as? String) ?? "-")"), "\(repaired.stderr)")
        #expect(try Layout(folder + "/four").manifestDigest == one.manifestDigest)

        // Prune keeps the conversions of kept entries and removes them with their source.
        let keep = try TestSupport.plan(["cache", "prune", "--cache-dir", cache, "--keep-bytes", "1000000000"])
        #expect(keep.status == 0, "\(keep.stderr)")
        #expect(FileManager.default.fileExists(atPath: lost))
        #expect(try FileManager.default.contentsOfDirectory(atPath: converted).count == 2)
        let prune = try TestSupport.plan(["cache", "prune", "--cache-dir", cache, "--force"])
        #expect(prune.status == 0, "\(prune.stderr)")
        #expect(!FileManager.default.fileExists(atPath: lost))
        #expect(try FileManager.default.contentsOfDirectory(atPath: converted).isEmpty)
    }

    @Test func skopeoAndUmociReadTheGzipImageAndDockerArchivesAreClampedToo() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TestSupport.write(Self.plan, to: folder + "/plan/plan.yaml")
        let cache = folder + "/cache"
        let result = try build(folder, cache: cache, output: "type=oci,dest=\(folder)/layout,compression-level=9",
                               extra: ["--output", "type=docker,dest=\(folder)/image.tar", "--output", "type=docker,dest=\(folder)/gzip.tar,compression=gzip",
                                       "--output", "type=oci,dest=\(folder)/plain,compression=uncompressed"],
                               environment: ["SOURCE_DATE_EPOCH": Self.epoch])
        #expect(result.status == 0, "\(result.stderr)")
        let skopeo = try TestSupport.tool("skopeo")
        let inspect = try TestSupport.run(skopeo, ["inspect", "oci:\(folder)/layout:latest"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let inspected = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
        #expect(inspected?["Created"] as? String == Self.epochRFC3339, "\(inspect.stdout)")
        let built = try ImageTree.unpack(layout: folder + "/layout", name: "latest", into: folder + "/unpacked")
        #expect(built.tree.contains { $0.hasPrefix("./srv/data/soft l 777 0:0 a.txt") }, "\(built.tree)")
        #expect(try TestSupport.read(folder + "/unpacked/rootfs/srv/b.txt") == "second\n")

        // Uncompressed: the same tars (the same diff IDs), another manifest.
        let gzipped = try Layout(folder + "/layout")
        let plain = try Layout(folder + "/plain")
        #expect(plain.planLayers.allSatisfy { $0["mediaType"] as? String == "application/vnd.oci.image.layer.v1.tar" })
        #expect(NSDictionary(dictionary: plain.config).isEqual(to: gzipped.config))
        #expect(plain.manifestDigest != gzipped.manifestDigest)

        for archive in ["image.tar", "gzip.tar"] {
            let docker = try TestSupport.run(skopeo, ["inspect", "--config", "docker-archive:\(folder)/\(archive)"])
            #expect(docker.status == 0, "\(docker.stderr)")
            let config = try JSONSerialization.jsonObject(with: Data(docker.stdout.utf8)) as? [String: Any]
            #expect(config?["created"] as? String == Self.epochRFC3339, "\(archive): \(docker.stdout)")
            let members = try TestSupport.run("/bin/sh", ["-c", "tar -tf \"$0\"", folder + "/" + archive])
            #expect(members.stdout.contains(".tar.gz") == (archive == "gzip.tar"), "\(members.stdout)")
        }
        let copy = try TestSupport.run(skopeo, ["copy", "docker-archive:\(folder)/gzip.tar", "oci:\(folder)/from-docker:latest"])
        #expect(copy.status == 0, "\(copy.stderr)")
    }

    @Test func aBadEpochIsAUsageErrorNamingItsSource() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TestSupport.write(Self.plan, to: folder + "/plan/plan.yaml")
        let fromEnvironment = try build(folder, cache: folder + "/cache", output: "type=oci,dest=\(folder)/out",
                                        environment: ["SOURCE_DATE_EPOCH": "yesterday"])
        #expect(fromEnvironment.status != 0)
        #expect(fromEnvironment.stderr.contains("the SOURCE_DATE_EPOCH environment variable is `yesterday`"), "\(fromEnvironment.stderr)")
        let fromFlag = try build(folder, cache: folder + "/cache", output: "type=oci,dest=\(folder)/out", extra: ["--source-date-epoch=-1"],
                                 environment: ["SOURCE_DATE_EPOCH": "1700000000"])
        #expect(fromFlag.status != 0)
        #expect(fromFlag.stderr.contains("--source-date-epoch is `-1`"), "\(fromFlag.stderr)")
        let level = try build(folder, cache: folder + "/cache", output: "type=oci,dest=\(folder)/out,compression-level=12")
        #expect(level.status != 0)
        #expect(level.stderr.contains("compression-level=12 is not a whole number from 0 to 9"), "\(level.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/out"))
    }
}
