import Foundation
import PlanTestKit
import Testing

/// `--cache-from` entries that unpacking would refuse are never stored: kept, they would fail every
/// later build that hits their key, until `plan cache prune`. Needs root and the test registry.
@Suite(.serialized) struct CacheImportTests {
    static var registry: String { RunTests.registry }

    /// Rewrites the first entry with a layer of a `--cache-to` layout so that its layer holds
    /// `../escaped` (every digest and size along the way updated: only the name is wrong). Prints
    /// the entry's key.
    static let poison = """
        import hashlib, io, json, os, sys, tarfile
        root = sys.argv[1]
        def path(digest): return os.path.join(root, "blobs", "sha256", digest.split(":")[1])
        def put(data):
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            open(path(digest), "wb").write(data)
            return digest, len(data)
        index = json.load(open(os.path.join(root, "index.json")))
        for descriptor in index["manifests"]:
            manifest = json.load(open(path(descriptor["digest"])))
            record = json.load(open(path(manifest["config"]["digest"])))
            if not record.get("layer"): continue
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
                info = tarfile.TarInfo("../escaped")
                info.size = 3
                tar.addfile(info, io.BytesIO(b"hi\\n"))
            digest, size = put(buffer.getvalue())
            record["layer"]["digest"], record["layer"]["size"] = digest, size
            manifest["layers"][0]["digest"], manifest["layers"][0]["size"] = digest, size
            manifest["config"]["digest"], manifest["config"]["size"] = put(json.dumps(record, sort_keys=True).encode())
            descriptor["digest"], descriptor["size"] = put(json.dumps(manifest, sort_keys=True).encode())
            json.dump(index, open(os.path.join(root, "index.json"), "w"))
            print(record["key"])
            break
        """

    /// An imported entry whose layer climbs out with `..` is skipped with a warning, its step is
    /// built, and neither this build nor the next one on the same cache fails because of it.
    @Test func anImportedLayerThatClimbsOutIsNeverStored() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        let common = [TestSupport.plans + "/registry", "--insecure-registry", Self.registry, "--progress", "plain",
                      "--target", "build"]
        let export = try TestSupport.plan(["run"] + common + ["--cache-dir", folder + "/one", "--cache-to", "dir=\(folder)/layout"])
        #expect(export.status == 0, "\(export.stderr)")
        let poisoned = try TestSupport.run(python, ["-c", Self.poison, folder + "/layout"])
        let key = poisoned.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(poisoned.status == 0 && key.count == 64, "\(poisoned.stdout) \(poisoned.stderr)")

        let first = try TestSupport.plan(["run"] + common + ["--cache-dir", folder + "/two", "--cache-from", "dir=\(folder)/layout"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("entry \(key) skipped"), "\(first.stderr)")
        #expect(first.stderr.contains("../escaped: path leaves the target directory"), "\(first.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/two/build/escaped"))
        let second = try TestSupport.plan(["run"] + common + ["--cache-dir", folder + "/two"])
        #expect(second.status == 0, "\(second.stderr)")
    }
}
