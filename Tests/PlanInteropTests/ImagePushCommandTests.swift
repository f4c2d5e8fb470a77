import Foundation
import PlanTestKit
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `plan image push|copy` against the reference registries (open on 5555, basic auth on 5556), read back
/// with skopeo and buildah. Every push goes to a fresh repository, so no test sees another's blobs.
@Suite struct ImagePushCommandTests {
    static var registry: String { OCITestKit.registry }
    static var busybox: String { "\(registry)/plan-test/busybox:stable" }

    static func fresh(_ registry: String = Self.registry, _ tag: String = "1") -> String {
        "\(registry)/push-test/\(UUID().uuidString.lowercased()):\(tag)"
    }

    func image(_ arguments: [String], cache: String, environment: [String: String] = [:]) throws -> TestSupport.ProcessResult {
        try TestSupport.run(TestSupport.planBinary, ["image"] + arguments + ["--cache-dir", cache],
                            environment: ["NO_COLOR": "1"].merging(environment) { $1 })
    }

    /// The raw manifest (or index) a reference names, and its digest; nil when the registry has none.
    static func raw(_ reference: String, creds: String? = nil) throws -> (json: String, digest: String)? {
        let skopeo = try TestSupport.tool("skopeo")
        let result = try TestSupport.run(skopeo, ["inspect", "--tls-verify=false", "--raw"] + (creds.map { ["--creds", $0] } ?? [])
                                         + ["docker://\(reference)"])
        guard result.status == 0 else { return nil }
        let sum = try TestSupport.run("/bin/sh", ["-c", "printf %s \"$0\" | sha256sum", result.stdout])
        return (result.stdout, "sha256:" + sum.stdout.prefix(64))
    }

    static var authConfig: String {
        let auth = Data("\(OCITestKit.authUser):\(OCITestKit.authPassword)".utf8).base64EncodedString()
        return #"{"auths":{"\#(OCITestKit.authRegistry)":{"auth":"\#(auth)"}}}"#
    }

    @Test func pushesLayoutsAndArchivesWithTheirDigests() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let skopeo = try TestSupport.tool("skopeo")
        let source = try #require(try Self.raw(Self.busybox))
        for (form, location) in [("oci", "oci:\(folder)/layout:bb"), ("oci-archive", "oci-archive:\(folder)/bb-oci.tar:bb"),
                                 ("docker-archive", "docker-archive:\(folder)/bb.tar")] {
            let copy = try TestSupport.run(skopeo, ["copy", "--src-tls-verify=false", "docker://\(Self.busybox)", location])
            try #require(copy.status == 0, "\(form): \(copy.stderr)")
            let destination = Self.fresh()
            let push = try image(["push", location, destination, "--digestfile", folder + "/\(form).digest"], cache: folder + "/cache")
            #expect(push.status == 0, "\(form): \(push.stderr)")
            let pushed = try #require(try Self.raw(destination), "\(form): nothing at \(destination)")
            let digestFile = try TestSupport.read(folder + "/\(form).digest")
            #expect(digestFile == pushed.digest, "\(form)")
            let name = destination.components(separatedBy: ":1")[0]
            #expect(push.stdout == "\(name)@\(pushed.digest)\n", "\(form)")
            #expect(push.stderr.contains("2 blobs sent"), "\(form): \(push.stderr)")
            if form == "docker-archive" {
                // Converted to an OCI manifest over the archive's (uncompressed) layers: the same file system.
                let ours = try TestSupport.run(skopeo, ["inspect", "--tls-verify=false", "--config", "docker://\(destination)"])
                let theirs = try TestSupport.run(skopeo, ["inspect", "--tls-verify=false", "--config", "docker://\(Self.busybox)"])
                #expect(try Self.diffIDs(ours.stdout) == (try Self.diffIDs(theirs.stdout)))
                #expect(pushed.json.contains("application/vnd.oci.image.manifest.v1+json"))
            } else {
                #expect(pushed.digest == source.digest, "\(form): an OCI source keeps its digest")
            }
            // Unchanged: a second push sends nothing.
            let again = try image(["push", location, destination], cache: folder + "/cache")
            #expect(again.status == 0 && again.stderr.contains("0 blobs sent") && again.stderr.contains("2 already present"),
                    "\(form): \(again.stderr)")
        }
    }

    static func diffIDs(_ config: String) throws -> [String] {
        struct Config: Decodable {
            struct RootFS: Decodable { var diff_ids: [String] }
            var rootfs: RootFS
        }
        return try JSONDecoder().decode(Config.self, from: Data(config.utf8)).rootfs.diff_ids
    }

    /// Within a registry every blob is mounted (the wire shows no upload); to another registry — one with
    /// basic auth, credentials from the docker config — they are streamed, and buildah pulls the result.
    @Test func copiesMountWithinARegistryAndStreamToAnother() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let proxy = try RecordingProxy(upstream: Self.registry, folder: folder)
        defer { proxy.stop() }
        let source = "\(proxy.address)/plan-test/busybox:stable"
        let destination = Self.fresh(proxy.address)
        let copy = try image(["copy", source, destination], cache: folder + "/cache")
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(copy.stderr.contains("0 blobs sent (0 B), 2 mounted"), "\(copy.stderr)")
        let requests = proxy.requests()
        #expect(requests.filter { $0.method == "POST" && $0.path.contains("mount=") && $0.status == 201 }.count == 2, "\(requests)")
        #expect(!requests.contains { ($0.method == "PUT" || $0.method == "PATCH") && $0.path.contains("/blobs/uploads/") }, "\(requests)")
        #expect(try Self.raw(destination.replacingOccurrences(of: proxy.address, with: Self.registry))?.digest
                    == (try Self.raw(Self.busybox))?.digest)

        try Self.authConfig.write(toFile: folder + "/config.json", atomically: true, encoding: .utf8)
        let remote = Self.fresh(OCITestKit.authRegistry)
        let streamed = try image(["copy", Self.busybox, remote, "--digestfile", folder + "/digest"], cache: folder + "/cache",
                                 environment: ["DOCKER_CONFIG": folder])
        #expect(streamed.status == 0, "\(streamed.stderr)")
        #expect(streamed.stderr.contains("2 blobs sent"), "\(streamed.stderr)")
        let creds = "\(OCITestKit.authUser):\(OCITestKit.authPassword)"
        #expect(try Self.raw(remote, creds: creds)?.digest == (try TestSupport.read(folder + "/digest")))
        let buildah = try TestSupport.tool("buildah")
        let pull = try TestSupport.run(buildah, ["pull", "--tls-verify=false", "--creds", creds, remote])
        #expect(pull.status == 0, "\(pull.stderr)")
        let imageID = pull.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        if pull.status == 0 { _ = try TestSupport.run(buildah, ["rmi", imageID]) }
    }

    /// `--all` copies the whole index and keeps its digest; without it only this machine's manifest is
    /// copied (skopeo's default), `--platform` another's.
    @Test func copyAllKeepsTheIndexDigestAndTheDefaultCopiesOnePlatform() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let multi = "\(Self.registry)/plan-test/multi:1"
        let index = try #require(try Self.raw(multi))
        let all = Self.fresh()
        let copyAll = try image(["copy", "--all", multi, all], cache: folder + "/cache")
        #expect(copyAll.status == 0, "\(copyAll.stderr)")
        #expect(try Self.raw(all)?.digest == index.digest)
        #expect(copyAll.stdout.hasSuffix("@\(index.digest)\n"))

        let arm = Self.fresh()
        let copyArm = try image(["copy", "--platform", "linux/arm64", multi, arm], cache: folder + "/cache")
        #expect(copyArm.status == 0, "\(copyArm.stderr)")
        let armDigest = try #require(try Self.raw(arm)).digest
        #expect(armDigest != index.digest && index.json.contains(armDigest))
        #expect(index.json.range(of: "\(armDigest)\",\"size\":[0-9]+,\"platform\":\\{\"architecture\":\"arm64\"",
                                 options: .regularExpression) != nil, "\(index.json)")

        let host = Self.fresh()
        let copyHost = try image(["copy", multi, host], cache: folder + "/cache")
        #expect(copyHost.status == 0, "\(copyHost.stderr)")
        let hostDigest = try #require(try Self.raw(host)).digest
        #expect(hostDigest != index.digest && index.json.contains(hostDigest))
    }

    /// `plan image copy SOURCE oci:PATH[:NAME]` writes a new layout (every platform with --all, the same
    /// digest as the registry's); it never writes into a folder that holds anything.
    @Test func copiesIntoANewLayoutOnly() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let skopeo = try TestSupport.tool("skopeo")
        let multi = "\(Self.registry)/plan-test/multi:1"
        let index = try #require(try Self.raw(multi))
        let copy = try image(["copy", "--all", multi, "oci:\(folder)/layout:m1"], cache: folder + "/cache")
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(copy.stdout == "oci:\(folder)/layout:m1@\(index.digest)\n", "\(copy.stdout)")
        let read = try TestSupport.run(skopeo, ["inspect", "--raw", "oci:\(folder)/layout:m1"])
        #expect(read.stdout == index.json)
        // skopeo reads every platform's image from it.
        for arch in ["amd64", "arm64"] {
            let config = try TestSupport.run(skopeo, ["inspect", "--override-arch", arch, "--config", "oci:\(folder)/layout:m1"])
            #expect(config.status == 0 && config.stdout.contains("\"architecture\": \"\(arch)\""), "\(arch): \(config.stdout) \(config.stderr)")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.contains(".plan-") }
        #expect(leftovers.isEmpty, "\(leftovers)")
        // Pushed back, a layout's index goes whole: every platform, the same digest.
        let destination = Self.fresh()
        let push = try image(["push", "oci:\(folder)/layout:m1", destination], cache: folder + "/cache")
        #expect(push.status == 0, "\(push.stderr)")
        #expect(try Self.raw(destination)?.digest == index.digest)

        let again = try image(["copy", multi, "oci:\(folder)/layout:other"], cache: folder + "/cache")
        #expect(again.status == 2)
        #expect(again.stderr.contains("is not an empty folder"), "\(again.stderr)")
        #expect(try TestSupport.run(skopeo, ["inspect", "--raw", "oci:\(folder)/layout:m1"]).stdout == index.json)
    }

    /// A pulled image is pushed by its name from the store; an index whole, the platforms the pull left
    /// out read from the registry it came from.
    @Test func pushesAStoredImageByName() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let multi = "\(Self.registry)/plan-test/multi:1"
        let pull = try image(["pull", multi, "--insecure-registry", Self.registry], cache: folder + "/cache")
        try #require(pull.status == 0, "\(pull.stderr)")
        let destination = Self.fresh()
        let push = try image(["push", multi, destination], cache: folder + "/cache")
        #expect(push.status == 0, "\(push.stderr)")
        #expect(try Self.raw(destination)?.digest == (try Self.raw(multi))?.digest)

        let missing = try image(["push", "\(Self.registry)/plan-test/busybox:stable", Self.fresh()], cache: folder + "/cache")
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("has no image named \(Self.registry)/plan-test/busybox:stable"), "\(missing.stderr)")
        #expect(missing.stderr.contains("plan image copy"), "\(missing.stderr)")
    }

    @Test func badInputIsAClearErrorAndLeavesNoManifest() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cache = folder + "/cache"
        let noSource = try image(["push", "oci:\(folder)/none", Self.fresh()], cache: cache)
        #expect(noSource.status == 1)
        #expect(noSource.stderr.contains("error: cannot push oci:\(folder)/none to "), "\(noSource.stderr)")

        for (command, destination) in [("copy", "Not A Reference"), ("copy", "oci-archive:\(folder)/out.tar"),
                                        ("push", "oci:\(folder)/out")] {
            let bad = try image([command, command == "copy" ? Self.busybox : "oci:\(folder)/none", destination], cache: cache)
            #expect(bad.status == 2, "\(destination)")
            #expect(bad.stderr.contains("`\(destination)`"), "\(bad.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/out") && !FileManager.default.fileExists(atPath: folder + "/out.tar"))
        let both = try image(["copy", "--all", "--platform", "linux/amd64", Self.busybox, Self.fresh()], cache: cache)
        #expect(both.status == 2)

        let unreachable = try image(["copy", Self.busybox, "127.0.0.1:1/push-test/x:1"], cache: cache)
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.contains("127.0.0.1:1/push-test/x:1") && unreachable.stderr.contains("refused"),
                "\(unreachable.stderr)")

        // No credential, then a wrong password: refused, naming the reference, and nothing is stored.
        let remote = Self.fresh(OCITestKit.authRegistry)
        let creds = "\(OCITestKit.authUser):\(OCITestKit.authPassword)"
        let anonymous = try image(["copy", Self.busybox, remote], cache: cache, environment: ["DOCKER_CONFIG": folder + "/empty"])
        #expect(anonymous.status == 1)
        #expect(anonymous.stderr.contains(remote) && anonymous.stderr.contains("no credentials"), "\(anonymous.stderr)")
        let wrong = Data("\(OCITestKit.authUser):wrong".utf8).base64EncodedString()
        try #"{"auths":{"\#(OCITestKit.authRegistry)":{"auth":"\#(wrong)"}}}"#.write(toFile: folder + "/config.json", atomically: true, encoding: .utf8)
        let refused = try image(["copy", Self.busybox, remote], cache: cache, environment: ["DOCKER_CONFIG": folder])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains(remote) && refused.stderr.contains("authentication"), "\(refused.stderr)")
        #expect(try Self.raw(remote, creds: creds) == nil)
    }

    /// SIGTERM during a slow push (a proxy sends request bodies at 256 KiB/s) stops it at once with exit
    /// 143 and no manifest at the tag; the re-run completes and uploads only the blobs the first one
    /// did not finish.
    @Test func aPushKilledHalfwayAndReRunSendsOnlyWhatIsMissing() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        let make = try TestSupport.run(python, ["-c", Self.randomLayout, folder + "/layout", "3", "1500000"])
        try #require(make.status == 0, "\(make.stderr)")
        let proxy = try RecordingProxy(upstream: Self.registry, bytesPerSecond: 256 << 10, folder: folder)
        defer { proxy.stop() }
        let destination = Self.fresh(proxy.address)
        let arguments = ["image", "push", "oci:\(folder)/layout:big", destination, "--cache-dir", folder + "/cache"]
        let pid = try ChildProcess.spawn(TestSupport.planBinary, arguments, environment: ProcessInfo.processInfo.environment,
                                         stdout: folder + "/stdout", stderr: folder + "/stderr")
        // Stop it once a blob is complete and the layers' uploads are under way.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, proxy.completedUploads().isEmpty, ChildProcess.isRunning(pid) { usleep(20_000) }
        usleep(300_000)
        kill(pid, SIGTERM)
        let status = ChildProcess.wait(pid)
        usleep(500_000)  // an upload whose last byte went out before the signal may still be answered
        let stderr = (try? TestSupport.read(folder + "/stderr")) ?? ""
        #expect(status == 143, "\(stderr)")
        #expect(stderr.contains("stopped by SIGTERM"), "\(stderr)")
        let first = Set(proxy.completedUploads())
        #expect(!first.isEmpty && first.count < 4, "\(first)")
        let direct = destination.replacingOccurrences(of: proxy.address, with: Self.registry)
        #expect(try Self.raw(direct) == nil, "a stopped push left a manifest")
        #expect(!proxy.requests().contains { $0.path.contains("/manifests/") })

        let before = proxy.requests().count
        let again = try TestSupport.run(TestSupport.planBinary, arguments)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("\(first.count) already present"), "\(again.stderr)")
        let second = proxy.requests()[before...].filter { $0.method == "PUT" && $0.path.contains("/blobs/uploads/") && $0.status == 201 }
            .compactMap { $0.path.components(separatedBy: "digest=").last }
        #expect(Set(second).isDisjoint(with: first), "re-sent: \(Set(second).intersection(first))")
        #expect(first.count + Set(second).count == 4, "first \(first), then \(second)")
        let pushed = try #require(try Self.raw(direct))
        #expect(again.stdout.hasSuffix("@\(pushed.digest)\n"))
    }

    /// An OCI layout `ROOT` whose image `big` has COUNT layers of SIZE random bytes each.
    static let randomLayout = """
        import hashlib, io, json, os, sys, tarfile
        root, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        os.makedirs(root + "/blobs/sha256")
        def put(data, media):
            digest = hashlib.sha256(data).hexdigest()
            open(root + "/blobs/sha256/" + digest, "wb").write(data)
            return {"mediaType": media, "digest": "sha256:" + digest, "size": len(data)}
        layers, diffs = [], []
        for i in range(count):
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
                data = os.urandom(size)
                info = tarfile.TarInfo("data/%d.bin" % i); info.size = len(data); info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
            layer = buffer.getvalue()
            diffs.append("sha256:" + hashlib.sha256(layer).hexdigest())
            layers.append(put(layer, "application/vnd.oci.image.layer.v1.tar"))
        config = put(json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                                 "rootfs": {"type": "layers", "diff_ids": diffs}}).encode(),
                     "application/vnd.oci.image.config.v1+json")
        manifest = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                   "config": config, "layers": layers}).encode(), "application/vnd.oci.image.manifest.v1+json")
        manifest["annotations"] = {"org.opencontainers.image.ref.name": "big"}
        json.dump({"schemaVersion": 2, "manifests": [manifest]}, open(root + "/index.json", "w"))
        open(root + "/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')
        """
}
