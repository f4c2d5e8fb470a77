import Foundation
import PlanTestKit
import Testing

/// `--cache-to type=registry` and `--cache-from type=registry` against the reference registry: a second
/// machine (an empty cache folder) starts warm, corrupt or foreign entries are refused one by one,
/// `mounts=true` carries `cache:` mounts, and bad spellings and unreachable registries behave as
/// documented. Needs root and the test registry, as scripts/test provides.
@Suite(.serialized) struct RegistryCacheTests {
    static var registry: String { RunTests.registry }

    /// A fresh repository for one test, so no test sees another's blobs.
    static func freshReference(_ tag: String = "1") -> (repository: String, reference: String) {
        let repository = UUID().uuidString.lowercased() + "/cache"
        return (repository, "\(registry)/\(repository):\(tag)")
    }

    static func run(_ arguments: [String]) throws -> TestSupport.ProcessResult {
        try TestSupport.plan(["run"] + arguments + ["--insecure-registry", registry, "--progress", "plain"])
    }

    /// The digest of the image an `oci` output folder holds.
    static func imageDigest(_ layout: String) throws -> String {
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: layout + "/index.json")))
        let manifests = (index as? [String: Any])?["manifests"] as? [[String: Any]] ?? []
        return try #require(manifests.first?["digest"] as? String)
    }

    /// The cache index at `reference`, as the registry holds it (skopeo reads it raw).
    static func registryIndex(_ reference: String) throws -> [[String: Any]] {
        let skopeo = try TestSupport.tool("skopeo")
        let raw = try TestSupport.run(skopeo, ["inspect", "--raw", "--tls-verify=false", "docker://" + reference])
        #expect(raw.status == 0, "\(raw.stderr)")
        let index = try JSONSerialization.jsonObject(with: Data(raw.stdout.utf8)) as? [String: Any]
        #expect(index?["mediaType"] as? String == "application/vnd.oci.image.index.v1+json")
        return index?["manifests"] as? [[String: Any]] ?? []
    }

    /// Lines of the registry's log that say a blob of `repository` was asked for and missing (every
    /// upload starts with such a `HEAD`; the access log is off).
    static func missingBlobLines(_ repository: String) -> Int {
        OCITestKit.registryLog().split(separator: "\n").filter { $0.contains("\"/v2/\(repository)/blobs/") && $0.contains("blob unknown") }.count
    }

    /// `hit` and `miss` lines of `--explain`.
    /// A one-stage plan in `folder`: one `run` step on the test registry's busybox.
    static func writeTinyPlan(in folder: String) throws {
        try TestSupport.write("""
            version: 1
            name: tiny
            allow: [root-target]
            stages:
              tiny:
                from: \(Self.registry)/plan-test/busybox:stable
                steps:
                  - run: echo tiny > /tiny
            targets: [tiny]

            """, to: folder + "/plan.yaml")
    }

    static func explained(_ stdout: String) -> (hits: [String], misses: [String]) {
        CacheRobustnessTests.explained(stdout)
    }

    /// Exported to a registry, imported on an empty cache folder: every step hits and the image is
    /// the same, digest for digest. A second export of the same entries uploads no blob.
    @Test func aSecondMachineStartsWarmFromTheRegistry() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (repository, reference) = Self.freshReference()
        let plan = TestSupport.plans + "/registry"

        let first = try Self.run([plan, "--cache-dir", folder + "/one", "--cache-to", "type=registry,ref=\(reference)",
                                  "--output", "type=oci,dest=\(folder)/A", "--explain"])
        #expect(first.status == 0, "\(first.stderr)")
        let built = Self.explained(first.stdout).misses.count
        #expect(built > 0, "\(first.stdout)")
        // registry: `build` has 4 steps and 2 artifacts, `app` 4 steps.
        let manifests = try Self.registryIndex(reference)
        #expect(manifests.count == 10, "\(manifests)")
        #expect(manifests.allSatisfy { ($0["annotations"] as? [String: String])?["dev.plan.cache.key"]?.count == 64 })
        let uploadsBefore = Self.missingBlobLines(repository)
        #expect(uploadsBefore > 0)
        #expect(first.stderr.contains("--cache-to \(reference): 10 entries exported ("), "\(first.stderr)")

        let uploadsAfterFirst = OCITestKit.uploadRequests(repository)
        #expect(uploadsAfterFirst > 0)
        let second = try Self.run([plan, "--cache-dir", folder + "/two", "--cache-from", "type=registry,ref=\(reference)",
                                   "--output", "type=oci,dest=\(folder)/B", "--explain"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(!second.stderr.contains("warning:"), "\(second.stderr)")
        let explained = Self.explained(second.stdout)
        #expect(explained.misses.isEmpty && explained.hits.count == built, "\(second.stdout)")
        #expect(try Self.imageDigest(folder + "/A") == Self.imageDigest(folder + "/B"))
        #expect(second.stderr.contains("--cache-from \(reference): 10 entries imported"), "\(second.stderr)")

        // Unchanged: every blob is found by HEAD, nothing is sent again, the index is the same.
        let again = try Self.run([plan, "--cache-dir", folder + "/one", "--cache-to", "type=registry,ref=\(reference)"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(Self.missingBlobLines(repository) == uploadsBefore)
        #expect(try Self.registryIndex(reference).count == 10)
        #expect(again.stderr.contains("10 entries exported (0 blobs sent, 0 bytes; "), "\(again.stderr)")
        // In the registry's own access log: no upload for the cache's repository the second time.
        #expect(OCITestKit.uploadRequests(repository) == uploadsAfterFirst, "the unchanged export started no upload")

        // The BuildKit spelling of a folder works as dir= did.
        let local = try Self.run([plan, "--cache-dir", folder + "/three", "--cache-to", "type=local,dest=\(folder)/layout"])
        #expect(local.status == 0, "\(local.stderr)")
        let fromLocal = try Self.run([plan, "--cache-dir", folder + "/four", "--cache-from", "type=local,src=\(folder)/layout",
                                      "--explain"])
        #expect(fromLocal.status == 0, "\(fromLocal.stderr)")
        #expect(Self.explained(fromLocal.stdout).misses.isEmpty, "\(fromLocal.stdout)")
    }

    /// Rewrites the cache index at `REF` (argv[1]) into `REF-bad` (same repository): entry 0's key now
    /// names the manifest of entry 1 (a record of another key), and entry 2 (with a layer) gets a new
    /// record and manifest whose layer descriptor points at entry 3's layer blob with entry 2's layer
    /// size (a blob the registry has, of another digest and size). Prints the two keys.
    static let corrupt = """
        import hashlib, json, sys, urllib.request
        host, rest = sys.argv[1].split("/", 1)
        repo, tag = rest.rsplit(":", 1)
        base = "http://%s/v2/%s" % (host, repo)
        OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
        OCI_INDEX = "application/vnd.oci.image.index.v1+json"
        def get(path, accept):
            request = urllib.request.Request(base + path, headers={"Accept": accept})
            return urllib.request.urlopen(request).read()
        def put_manifest(reference, data, media_type):
            request = urllib.request.Request(base + "/manifests/" + reference, data=data, method="PUT",
                                             headers={"Content-Type": media_type})
            urllib.request.urlopen(request).read()
        def put_blob(data):
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            start = urllib.request.urlopen(urllib.request.Request(base + "/blobs/uploads/", data=b"", method="POST"))
            location = start.headers["Location"]
            if location.startswith("/"): location = "http://" + host + location
            location += ("&" if "?" in location else "?") + "digest=" + digest
            urllib.request.urlopen(urllib.request.Request(location, data=data, method="PUT",
                                                          headers={"Content-Type": "application/octet-stream"})).read()
            return digest, len(data)
        index = json.loads(get("/manifests/" + tag, OCI_INDEX))
        entries = index["manifests"]
        manifests = [json.loads(get("/manifests/" + e["digest"], OCI_MANIFEST)) for e in entries]
        with_layers = [i for i, m in enumerate(manifests) if m["layers"]]
        victim = [i for i in with_layers if i >= 2][-1]
        other = [i for i in with_layers if i != victim][0]
        # 1. entry 0's key, entry 1's manifest.
        entries[0] = dict(entries[1], annotations=entries[0]["annotations"])
        # 2. a layer descriptor with another blob's digest.
        manifest = manifests[victim]
        record = json.loads(get("/blobs/" + manifest["config"]["digest"], "*/*"))
        record["layer"]["digest"] = manifests[other]["layers"][0]["digest"]
        manifest["layers"][0]["digest"] = record["layer"]["digest"]
        manifest["config"]["digest"], manifest["config"]["size"] = put_blob(json.dumps(record, sort_keys=True).encode())
        data = json.dumps(manifest, sort_keys=True).encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        put_manifest(digest, data, OCI_MANIFEST)
        entries[victim] = dict(entries[victim], digest=digest, size=len(data))
        put_manifest(tag + "-bad", json.dumps(index, sort_keys=True).encode(), OCI_INDEX)
        print(entries[0]["annotations"]["dev.plan.cache.key"])
        print(entries[victim]["annotations"]["dev.plan.cache.key"])
        """

    /// An entry whose record names another key and one whose layer descriptor names another blob are
    /// each refused with a warning; the rest is imported and the build succeeds.
    @Test func corruptEntriesInTheRegistryAreRefusedOneByOne() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        let (_, reference) = Self.freshReference()
        let plan = TestSupport.plans + "/registry"
        let first = try Self.run([plan, "--cache-dir", folder + "/one", "--cache-to", "type=registry,ref=\(reference)"])
        #expect(first.status == 0, "\(first.stderr)")
        let corrupted = try TestSupport.run(python, ["-c", Self.corrupt, reference])
        #expect(corrupted.status == 0, "\(corrupted.stderr)")
        let keys = corrupted.stdout.split(separator: "\n").map(String.init)
        try #require(keys.count == 2 && keys.allSatisfy { $0.count == 64 }, "\(corrupted.stdout)")

        let second = try Self.run([plan, "--cache-dir", folder + "/two", "--cache-from", "type=registry,ref=\(reference)-bad",
                                   "--explain"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("entry \(keys[0]) holds the record of another key; skipped"), "\(second.stderr)")
        #expect(second.stderr.contains("entry \(keys[1]) skipped"), "\(second.stderr)")
        let warnings = second.stderr.split(separator: "\n").filter { $0.hasPrefix("warning: --cache-from") }
        #expect(warnings.count == 2, "\(second.stderr)")
        // Only what the refused entries held is built again.
        let misses = Self.explained(second.stdout).misses
        #expect(!misses.isEmpty && misses.count <= 2, "\(second.stdout)")
        // Nothing of the refused entries stayed: the next build on that cache takes the rebuilt ones.
        let third = try Self.run([plan, "--cache-dir", folder + "/two", "--explain"])
        #expect(third.status == 0 && Self.explained(third.stdout).misses.isEmpty, "\(third.stdout) \(third.stderr)")
    }

    /// `mounts=true`: a `cache:` mount filled on one machine is there on the next (an empty cache
    /// folder), but never poured into a local mount that has content; a mount over `mounts-max-size`
    /// is left out with a warning.
    @Test func cacheMountsTravelWithMountsTrue() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let seed = UUID().uuidString
        try TestSupport.write("""
            version: 1
            name: fill
            allow: [root-target]
            stages:
              fill:
                from: \(Self.registry)/plan-test/busybox:stable
                steps:
                  - run: echo \(seed) > /var/cache/demo/seed.txt && echo filled > /filled
                    cache: [/var/cache/demo]
            targets: [fill]

            """, to: folder + "/fill/plan.yaml")
        try TestSupport.write("""
            version: 1
            name: read
            allow: [root-target]
            stages:
              read:
                from: \(Self.registry)/plan-test/busybox:stable
                steps:
                  - run: mkdir -p /out && (cat /var/cache/demo/seed.txt || echo none) > /out/seen.txt && ls /var/cache/demo > /out/list.txt
                    cache: [/var/cache/demo]
                artifacts:
                  seen: /out
            targets: [read]

            """, to: folder + "/read/plan.yaml")
        let (_, reference) = Self.freshReference()
        let export = try Self.run([folder + "/fill", "--cache-dir", folder + "/one",
                                   "--cache-to", "type=registry,ref=\(reference),mounts=true"])
        #expect(export.status == 0, "\(export.stderr)")
        let manifests = try Self.registryIndex(reference)
        let mounts = manifests.compactMap { ($0["annotations"] as? [String: String])?["dev.plan.cache.mount"] }
        #expect(mounts == ["_var_cache_demo"], "\(manifests)")

        // An empty cache folder: the mount comes back, and the step reading it sees the file.
        let read = try Self.run([folder + "/read", "--cache-dir", folder + "/two", "--cache-from", "type=registry,ref=\(reference)",
                                 "--output", "type=artifacts,dest=\(folder)/seen"])
        #expect(read.status == 0, "\(read.stderr)")
        #expect(try TestSupport.read(folder + "/seen/read/seen/seen.txt") == seed + "\n")

        // A local mount with content is kept as it is: nothing is merged into it.
        try TestSupport.write("local\n", to: folder + "/three/mounts/_var_cache_demo/local.txt")
        let kept = try Self.run([folder + "/read", "--cache-dir", folder + "/three", "--cache-from", "type=registry,ref=\(reference)",
                                 "--output", "type=artifacts,dest=\(folder)/kept"])
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(try TestSupport.read(folder + "/kept/read/seen/seen.txt") == "none\n")
        #expect(try TestSupport.read(folder + "/kept/read/seen/list.txt") == "local.txt\n")

        // mounts=false on --cache-from restores none.
        let without = try Self.run([folder + "/read", "--cache-dir", folder + "/four",
                                    "--cache-from", "type=registry,ref=\(reference),mounts=false",
                                    "--output", "type=artifacts,dest=\(folder)/without"])
        #expect(without.status == 0, "\(without.stderr)")
        #expect(try TestSupport.read(folder + "/without/read/seen/seen.txt") == "none\n")

        // --cache-from is bounded too: a mount entry larger than its mounts-max-size is not fetched.
        let bounded = try Self.run([folder + "/read", "--cache-dir", folder + "/five",
                                    "--cache-from", "type=registry,ref=\(reference),mounts-max-size=8",
                                    "--output", "type=artifacts,dest=\(folder)/bounded"])
        #expect(bounded.status == 0, "\(bounded.stderr)")
        #expect(bounded.stderr.contains("cache mount _var_cache_demo not restored") && bounded.stderr.contains("larger than the limit of 8 bytes"),
                "\(bounded.stderr)")
        #expect(try TestSupport.read(folder + "/bounded/read/seen/seen.txt") == "none\n")

        // Over the limit: a warning naming the mount and its size, and no mount entry.
        let (_, small) = Self.freshReference()
        let limited = try Self.run([folder + "/fill", "--cache-dir", folder + "/one",
                                    "--cache-to", "type=registry,ref=\(small),mounts=true,mounts-max-size=8"])
        #expect(limited.status == 0, "\(limited.stderr)")
        #expect(limited.stderr.contains("warning: --cache-to: cache mount _var_cache_demo holds "), "\(limited.stderr)")
        #expect(limited.stderr.contains("more than mounts-max-size (8); not exported"), "\(limited.stderr)")
        let limitedManifests = try Self.registryIndex(small)
        #expect(!limitedManifests.isEmpty)
        #expect(limitedManifests.allSatisfy { ($0["annotations"] as? [String: String])?["dev.plan.cache.mount"] == nil })
    }

    /// The registry cache uses the run's credentials (docker config `auths`), as base image pulls do:
    /// with them the cache goes to and comes from a registry with basic auth; without, the export is
    /// an error naming the reference.
    @Test func theCacheUsesTheRunsCredentials() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.writeTinyPlan(in: folder + "/tiny")
        let token = Data("\(OCITestKit.authUser):\(OCITestKit.authPassword)".utf8).base64EncodedString()
        try TestSupport.write(#"{"auths": {"\#(OCITestKit.authRegistry)": {"auth": "\#(token)"}}}"#, to: folder + "/docker/config.json")
        let reference = "\(OCITestKit.authRegistry)/\(UUID().uuidString.lowercased())/cache:1"
        func plan(_ arguments: [String], config: String) throws -> TestSupport.ProcessResult {
            try TestSupport.run(TestSupport.planBinary, ["run"] + arguments + ["--progress", "plain"], in: TestSupport.repoRoot,
                                environment: ["NO_COLOR": "1", "DOCKER_CONFIG": config])
        }
        let denied = try plan([folder + "/tiny", "--cache-dir", folder + "/one", "--cache-to", "type=registry,ref=\(reference)"],
                              config: folder + "/nothing")
        #expect(denied.status == 1, "\(denied.stderr)")
        #expect(denied.stderr.contains("error: --cache-to \(reference): "), "\(denied.stderr)")
        let export = try plan([folder + "/tiny", "--cache-dir", folder + "/one", "--cache-to", "type=registry,ref=\(reference)"],
                              config: folder + "/docker")
        #expect(export.status == 0, "\(export.stderr)")
        let imported = try plan([folder + "/tiny", "--cache-dir", folder + "/two", "--cache-from", "type=registry,ref=\(reference)",
                                 "--explain"], config: folder + "/docker")
        #expect(imported.status == 0, "\(imported.stderr)")
        let explained = Self.explained(imported.stdout)
        #expect(explained.misses.isEmpty && explained.hits.count == 1, "\(imported.stdout)")
    }

    /// Bad spellings are usage errors naming the option; nothing at REF yet is a warning; an
    /// unreachable registry is a warning for --cache-from (the build goes on cold) and an error for
    /// --cache-to unless ignore-error=true, as in BuildKit.
    @Test func badSpellingsMissingCachesAndUnreachableRegistries() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.writeTinyPlan(in: folder + "/tiny")
        let bad: [(option: String, value: String, says: String)] = [
            ("--cache-to", "type=registry", "needs ref=REF"),
            ("--cache-from", "type=registry,ref=Not A Reference", "is not an image reference"),
            ("--cache-to", "type=registry,ref=example.com/a/b,mode=all", "mode=all is not min or max"),
            ("--cache-to", "type=registry,ref=example.com/a/b,mounts-max-size=lots", "mounts-max-size=lots is not a size"),
            ("--cache-to", "type=registry,ref=example.com/a/b,mounts=yes", "mounts=yes is not true or false"),
            ("--cache-to", "type=registry,ref=example.com/a/b,compression=zstd", "compression= is not supported"),
            ("--cache-from", "type=registry,ref=example.com/a/b,mode=max", "unknown key `mode`"),
            ("--cache-to", "type=local,src=somewhere", "src= is for --cache-from"),
            ("--cache-from", "type=local,dest=somewhere", "dest= is for --cache-to"),
            ("--cache-from", "type=gha", "type=gha is not a cache type"),
            ("--cache-to", "foo", "is not KEY=VALUE"),
        ]
        for item in bad {
            let result = try Self.run([folder + "/tiny", "--cache-dir", folder + "/unused", item.option, item.value])
            #expect(result.status == 2, "\(item.value): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains("\(item.option) \(item.value): ") && result.stderr.contains(item.says),
                    "\(item.value): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/unused"))

        // The first CI run: nothing at REF yet.
        let (_, fresh) = Self.freshReference()
        let first = try Self.run([folder + "/tiny", "--cache-dir", folder + "/one", "--cache-from", "type=registry,ref=\(fresh)"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("warning: --cache-from \(fresh): no cache there yet; starting without it"), "\(first.stderr)")

        // Nothing listens on port 1.
        let nowhere = "127.0.0.1:1/plan/cache:1"
        let from = try Self.run([folder + "/tiny", "--cache-dir", folder + "/two", "--cache-from", "type=registry,ref=\(nowhere)"])
        #expect(from.status == 0, "\(from.stderr)")
        #expect(from.stderr.contains("warning: --cache-from \(nowhere): cannot read the cache"), "\(from.stderr)")
        let to = try Self.run([folder + "/tiny", "--cache-dir", folder + "/two", "--cache-to", "type=registry,ref=\(nowhere)"])
        #expect(to.status == 1, "\(to.stderr)")
        #expect(to.stderr.contains("error: --cache-to \(nowhere): ") && to.stderr.contains("Nothing was built"), "\(to.stderr)")
        #expect(!to.stderr.contains("] started"), "found before the build: \(to.stderr)")
        let ignored = try Self.run([folder + "/tiny", "--cache-dir", folder + "/two",
                                    "--cache-to", "type=registry,ref=\(nowhere),ignore-error=true"])
        #expect(ignored.status == 0, "\(ignored.stderr)")
        #expect(ignored.stderr.contains("warning: --cache-to \(nowhere): the export failed, ignored (ignore-error=true)"),
                "\(ignored.stderr)")
    }
}
