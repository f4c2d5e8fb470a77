import Foundation
import PlanTestKit
import Testing

/// `plan image pull|inspect|unpack` against the reference registry, skopeo and umoci.
@Suite struct ImageCommandTests {
    static var registry: String { ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555" }
    static var busybox: String { "\(registry)/plan-test/busybox:stable" }

    func image(_ arguments: [String], cache: String) throws -> TestSupport.ProcessResult {
        try TestSupport.plan(["image"] + arguments + ["--insecure-registry", Self.registry, "--cache-dir", cache])
    }

    @Test func pullStoresTheImageAndASecondPullDownloadsNothing() throws {
        let cache = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let first = try image(["pull", Self.busybox], cache: cache)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.hasPrefix("\(Self.registry)/plan-test/busybox@sha256:"))
        #expect(!first.stdout.contains(" 0 blobs downloaded"))
        let second = try image(["pull", Self.busybox], cache: cache)
        #expect(second.stdout.contains(" 0 blobs downloaded"), "\(second.stdout)")
    }

    struct Report: Decodable {
        struct Config: Decodable {
            var Cmd: [String]?
            var Env: [String]?
        }
        var digest: String
        var platform: String
        var config: Config?
        struct Layer: Decodable {
            var digest: String
            var mediaType: String
            var size: Int
        }
        var layers: [Layer]
        var diffIDs: [String]
    }

    @Test func inspectReadsRegistriesLayoutsAndArchivesAlike() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let skopeo = try TestSupport.tool("skopeo")
        let remote = try image(["inspect", Self.busybox], cache: folder + "/cache")
        #expect(remote.status == 0, "\(remote.stderr)")
        let report = try JSONDecoder().decode(Report.self, from: Data(remote.stdout.utf8))
        #expect(report.config?.Cmd == ["sh"])
        #expect(report.platform.hasPrefix("linux/"))
        // inspect fetched no layer blob
        let blobs = try FileManager.default.contentsOfDirectory(atPath: folder + "/cache/images/blobs/sha256")
        #expect(blobs.count == 2, "manifest and config only: \(blobs)")

        for (form, location) in [("oci", "oci:\(folder)/layout:bb"), ("docker-archive", "docker-archive:\(folder)/bb.tar"),
                                 ("oci-archive", "oci-archive:\(folder)/bb-oci.tar:bb")] {
            let copy = try TestSupport.run(skopeo, ["copy", "--src-tls-verify=false", "docker://\(Self.busybox)", location])
            #expect(copy.status == 0, "\(form): \(copy.stderr)")
            let local = try image(["inspect", location], cache: folder + "/cache")
            #expect(local.status == 0, "\(form): \(local.stderr)")
            let localReport = try JSONDecoder().decode(Report.self, from: Data(local.stdout.utf8))
            #expect(localReport.diffIDs == report.diffIDs, "\(form)")
            #expect(localReport.config?.Cmd == ["sh"], "\(form)")
        }
    }

    /// An image chosen from an index says so, with every platform the index offers (what skopeo's raw
    /// index lists); a single-platform image has no `index`.
    @Test func inspectListsTheIndexPlatforms() throws {
        struct IndexReport: Decodable {
            struct Index: Decodable {
                var digest: String
                var platforms: [String]
            }
            var platform: String
            var index: Index?
        }
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let skopeo = try TestSupport.tool("skopeo")
        let multi = "\(Self.registry)/plan-test/multi:1"
        let raw = try TestSupport.run(skopeo, ["inspect", "--tls-verify=false", "--raw", "docker://\(multi)"])
        #expect(raw.status == 0, "\(raw.stderr)")
        let index = try JSONSerialization.jsonObject(with: Data(raw.stdout.utf8)) as? [String: Any]
        let expected = ((index?["manifests"] as? [[String: Any]]) ?? []).compactMap { entry -> String? in
            guard let platform = entry["platform"] as? [String: Any], let os = platform["os"] as? String,
                  let arch = platform["architecture"] as? String else { return nil }
            return [os, arch, platform["variant"] as? String].compactMap { $0 }.joined(separator: "/")
        }
        #expect(expected.count == 2, "\(raw.stdout)")
        let copy = try TestSupport.run(skopeo, ["copy", "--all", "--src-tls-verify=false", "docker://\(multi)", "oci:\(folder)/multi:m"])
        #expect(copy.status == 0, "\(copy.stderr)")
        for source in [multi, "oci:\(folder)/multi:m"] {
            for platform in ["linux/amd64", "linux/arm64"] {
                let result = try image(["inspect", source, "--platform", platform], cache: folder + "/cache")
                #expect(result.status == 0, "\(source) \(platform): \(result.stderr)")
                let report = try JSONDecoder().decode(IndexReport.self, from: Data(result.stdout.utf8))
                #expect(report.platform.hasPrefix(platform), "\(source): \(result.stdout)")
                #expect(report.index?.platforms == expected, "\(source): \(result.stdout)")
                #expect(report.index?.digest.hasPrefix("sha256:") == true)
            }
        }
        let single = try image(["inspect", Self.busybox], cache: folder + "/cache")
        #expect(try JSONDecoder().decode(IndexReport.self, from: Data(single.stdout.utf8)).index == nil, "\(single.stdout)")
    }

    @Test func aDockerArchiveIsNamedByTheTagAfterItsPathAsSkopeoSpellsIt() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let skopeo = try TestSupport.tool("skopeo")
        let copy = try TestSupport.run(skopeo, ["copy", "--src-tls-verify=false", "docker://\(Self.busybox)",
                                                "docker-archive:\(folder)/bb.tar:plan-test/busybox:stable"])
        #expect(copy.status == 0, "\(copy.stderr)")
        for location in ["docker-archive:\(folder)/bb.tar:plan-test/busybox:stable",
                         "docker-archive:\(folder)/bb.tar:docker.io/plan-test/busybox:stable",
                         "docker-archive:\(folder)/bb.tar"] {
            let inspect = try image(["inspect", location], cache: folder + "/cache")
            #expect(inspect.status == 0, "\(location): \(inspect.stderr)")
            #expect(inspect.stdout.contains("\"Cmd\""), "\(location): \(inspect.stdout)")
        }
        let wrong = try image(["inspect", "docker-archive:\(folder)/bb.tar:plan-test/busybox:other"], cache: folder + "/cache")
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("no image tagged \"plan-test/busybox:other\" in docker archive \(folder)/bb.tar (its tags: "),
                "\(wrong.stderr)")
        // A path holding a colon still opens.
        try FileManager.default.copyItem(atPath: folder + "/bb.tar", toPath: folder + "/b:b.tar")
        let colon = try image(["inspect", "docker-archive:\(folder)/b:b.tar:plan-test/busybox:stable"], cache: folder + "/cache")
        #expect(colon.status == 0, "\(colon.stderr)")
    }

    /// SIGTERM (or Ctrl-C) during `plan image unpack` leaves no half-unpacked folder: the layers go into
    /// a folder beside the destination, renamed onto it when complete.
    @Test func aTerminatedUnpackLeavesNoHalfUnpackedFolder() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        // An OCI layout whose one layer holds 20000 small files: long enough to unpack to be stopped midway.
        let files = 20000
        let make = try TestSupport.run(python, ["-c", """
            import hashlib, io, json, os, sys, tarfile
            root, count = sys.argv[1], int(sys.argv[2])
            os.makedirs(root + "/blobs/sha256")
            def put(data):
                digest = hashlib.sha256(data).hexdigest()
                open(root + "/blobs/sha256/" + digest, "wb").write(data)
                return {"digest": "sha256:" + digest, "size": len(data)}
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for i in range(count):
                    data = (b"file %d\\n" % i) * 20
                    info = tarfile.TarInfo("data/%03d/f%d" % (i % 100, i)); info.size = len(data); info.mode = 0o644
                    tar.addfile(info, io.BytesIO(data))
            layer = buffer.getvalue()
            diff = "sha256:" + hashlib.sha256(layer).hexdigest()
            config = put(json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                                     "rootfs": {"type": "layers", "diff_ids": [diff]}}).encode())
            config["mediaType"] = "application/vnd.oci.image.config.v1+json"
            layerDescriptor = put(layer); layerDescriptor["mediaType"] = "application/vnd.oci.image.layer.v1.tar"
            manifest = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                       "config": config, "layers": [layerDescriptor]}).encode())
            manifest["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
            manifest["annotations"] = {"org.opencontainers.image.ref.name": "big"}
            manifest["platform"] = {"architecture": "amd64", "os": "linux"}
            json.dump({"schemaVersion": 2, "manifests": [manifest]}, open(root + "/index.json", "w"))
            open(root + "/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')
            """, folder + "/layout", String(files)])
        #expect(make.status == 0, "\(make.stderr)")
        let destination = folder + "/out/rootfs"
        let pid = try ChildProcess.spawn(TestSupport.planBinary, [
            "image", "unpack", "oci:\(folder)/layout:big", destination, "--platform", "linux/amd64",
            "--cache-dir", folder + "/cache",
        ], environment: ProcessInfo.processInfo.environment, stdout: folder + "/stdout", stderr: folder + "/stderr")
        // Stop it once it has begun writing (the destination or a folder beside it exists).
        var status: Int32? = nil
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/out")) ?? []
            if !names.isEmpty { break }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid {
                status = raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
                break
            }
            usleep(2000)
        }
        if status == nil {
            kill(pid, SIGTERM)
            status = ChildProcess.wait(pid)
        }
        let stderr = (try? TestSupport.read(folder + "/stderr")) ?? ""
        let left = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/out")) ?? []
        if status == 0 {
            // It finished before the signal: then the folder is whole.
            let count = try TestSupport.run("/bin/sh", ["-c", "find '\(destination)/data' -type f | wc -l"])
            #expect(count.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == String(files))
            #expect(left == ["rootfs"])
        } else {
            #expect(status == 143, "\(stderr)")
            #expect(left.isEmpty, "a terminated unpack left: \(left)")
        }
    }

    @Test func unpackMatchesUmoci() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let unpack = try image(["unpack", Self.busybox, folder + "/ours"], cache: folder + "/cache")
        #expect(unpack.status == 0, "\(unpack.stderr)")
        let skopeo = try TestSupport.tool("skopeo")
        let umoci = try TestSupport.tool("umoci")
        #expect(try TestSupport.run(skopeo, ["copy", "--src-tls-verify=false", "docker://\(Self.busybox)",
                                             "oci:\(folder)/layout:bb"]).status == 0)
        let reference = try TestSupport.run(umoci, ["unpack", "--image", "\(folder)/layout:bb", folder + "/bundle"])
        #expect(reference.status == 0, "\(reference.stderr)")
        #expect(try Self.tree(folder + "/ours") == (try Self.tree(folder + "/bundle/rootfs")))

        let again = try image(["unpack", Self.busybox, folder + "/ours"], cache: folder + "/cache")
        #expect(again.status == 2)
        #expect(again.stderr.contains("is not empty"))
    }

    @Test func badInputIsAClearError() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let bad = try image(["inspect", "Not A Reference"], cache: folder)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("is not an image reference"))
        let missing = try image(["inspect", "docker-archive:\(folder)/none.tar"], cache: folder)
        #expect(missing.status == 1)
        #expect(missing.stderr.hasPrefix("error: "))
        let unknown = try image(["pull", "\(Self.registry)/plan-test/no-such-image:1"], cache: folder)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.hasPrefix("error: "))
    }

    /// Every path with its type, mode, owner, size, link target and content hash.
    static func tree(_ root: String) throws -> [String] {
        let find = try TestSupport.run("/usr/bin/find", [".", "-printf", "%p %y %m %U:%G %s %l\\n"], in: root)
        let lines = find.stdout.split(separator: "\n").map(String.init).map { line -> String in
            // Folder sizes depend on the file system, not the image.
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count >= 5, parts[1] == "d" else { return line }
            return parts.enumerated().map { $0.offset == 4 ? "-" : String($0.element) }.joined(separator: " ")
        }
        let sums = try TestSupport.run("/bin/sh", ["-c", "find . -type f -print0 | sort -z | xargs -0 -r sha256sum"], in: root)
        return lines.sorted() + sums.stdout.split(separator: "\n").map(String.init)
    }
}
