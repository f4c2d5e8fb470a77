import Foundation
import PlanTestKit
import Testing

@testable import PlanOCI

/// The content store shared with a second process: a `python3` writer that follows the store's protocol.
@Suite("Content store")
struct ContentStoreTests {
    /// A second process that writes blobs and references the way the store does (temp file in
    /// tmp/, fsync, rename; refs.json rewritten under flock(refs.lock)).
    static let pythonWriter = #"""
        import fcntl, hashlib, json, os, sys
        root, blob_path, prefix, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
        data = open(blob_path, "rb").read()
        hexd = hashlib.sha256(data).hexdigest()
        for i in range(20):
            tmp = os.path.join(root, "tmp", f".py-{os.getpid()}-{i}")
            with open(tmp, "wb") as f:
                f.write(data); f.flush(); os.fsync(f.fileno())
            os.rename(tmp, os.path.join(root, "blobs", "sha256", hexd))
        for i in range(n):
            with open(os.path.join(root, "refs.lock"), "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                path = os.path.join(root, "refs.json")
                refs = json.load(open(path)) if os.path.exists(path) else {}
                refs[f"example.com/{prefix}:{i}"] = "sha256:" + hexd
                tmp = os.path.join(root, f".refs-{os.getpid()}")
                with open(tmp, "w") as f:
                    json.dump(refs, f, sort_keys=True); f.flush(); os.fsync(f.fileno())
                os.rename(tmp, path)
        print(hexd)
        """#

    @Test("two tasks and a second process write the same blob and references at once")
    func concurrentWriters() async throws {
        let dir = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(dir) }
        let store = try ContentStore(root: dir)
        var bytes = Data(count: 8 << 20)
        for i in 0..<bytes.count where i % 4093 == 0 { bytes[i] = UInt8(i % 251) }
        let data = bytes
        let digest = Digest.sha256(of: data)
        let blobFile = dir.appendingPathComponent("source.bin")
        try data.write(to: blobFile)
        let script = dir.appendingPathComponent("writer.py")
        try Self.pythonWriter.write(to: script, atomically: true, encoding: .utf8)
        let python = try OCITestKit.tool("python3")
        let root = dir.standardizedFileURL.path

        let refCount = 30
        let outFile = dir.appendingPathComponent("python.out")
        let pid = try ChildProcess.spawn(
            python, [script.path, root, blobFile.path, "py", String(refCount)], environment: OCITestKit.environment,
            stdout: outFile.path, stderr: nil)

        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<2 {
                group.addTask {
                    for i in 0..<10 {
                        let w = try store.writer(expecting: digest, size: Int64(data.count))
                        for chunk in stride(from: 0, to: data.count, by: 1 << 20) {
                            try w.write(data[chunk..<min(chunk + (1 << 20), data.count)])
                        }
                        #expect(try w.commit() == digest)
                        try store.setReference(try ImageReference(parsing: "example.com/task\(t):\(i)"), to: digest)
                        for j in 0..<2 {
                            try store.setReference(try ImageReference(parsing: "example.com/task\(t)x\(j):\(i)"), to: digest)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(ChildProcess.wait(pid) == 0)
        let pythonOut = try Data(contentsOf: outFile)
        #expect(String(decoding: pythonOut, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == digest.encoded)

        #expect(store.digests() == [digest])
        #expect(try store.data(for: digest, verify: true).count == data.count)
        #expect(store.temporaryFiles().isEmpty)
        let refs = try store.references()
        // No update was lost: 2 tasks × 10 × 3 references, and the other process's 30.
        #expect(refs.count == 2 * 10 * 3 + refCount)
        #expect(Set(refs.values) == [digest])
    }
}
