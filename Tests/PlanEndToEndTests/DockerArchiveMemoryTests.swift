import Foundation
import PlanTestKit
import Testing

/// `docker-archive:` layers are streamed (and un-gzipped on the way) into the image store, never
/// held whole in memory: a small archive whose layer inflates to 256 MiB keeps `plan`'s peak
/// resident memory far below that.
@Suite struct DockerArchiveMemoryTests {
    /// Writes a docker archive whose one layer is a gzipped tar of one 256 MiB file of zeros
    /// (about 260 KB compressed), with the right diff_id; then runs the command after it and
    /// prints its peak resident memory in KiB (the largest of the children, from getrusage).
    static let script = """
        import gzip, hashlib, io, json, os, resource, subprocess, sys, tarfile
        folder, size = sys.argv[1], 256 << 20
        class Hashing(io.RawIOBase):
            def __init__(self, out): self.out, self.hash = out, hashlib.sha256()
            def writable(self): return True
            def write(self, b): self.hash.update(b); self.out.write(b); return len(b)
        with open(os.path.join(folder, "layer.tar.gz"), "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as compressed:
                hashing = Hashing(compressed)
                with tarfile.open(fileobj=hashing, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                    info = tarfile.TarInfo("zeros")
                    info.size = size
                    class Zeros(io.RawIOBase):
                        left = size
                        def readable(self): return True
                        def readinto(self, b):
                            n = min(len(b), self.left); b[:n] = bytes(n); self.left -= n; return n
                    tar.addfile(info, Zeros())
        diff_id = "sha256:" + hashing.hash.hexdigest()
        config = json.dumps({"architecture": sys.argv[2], "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                             "config": {}}).encode()
        manifest = json.dumps([{"Config": "config.json", "RepoTags": ["bomb:1"], "Layers": ["layer.tar.gz"]}]).encode()
        with tarfile.open(os.path.join(folder, "bomb.tar"), "w") as archive:
            for name, data in [("manifest.json", manifest), ("config.json", config)]:
                info = tarfile.TarInfo(name); info.size = len(data); archive.addfile(info, io.BytesIO(data))
            archive.add(os.path.join(folder, "layer.tar.gz"), "layer.tar.gz")
        result = subprocess.run(sys.argv[3:], capture_output=True, text=True)
        sys.stderr.write(result.stdout + result.stderr)
        print(result.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, os.path.getsize(os.path.join(folder, "bomb.tar")))
        """

    @Test func aLayerThatInflatesTo256MiBIsStreamedNotHeldInMemory() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        #if arch(arm64)
        let architecture = "arm64"
        #else
        let architecture = "amd64"
        #endif
        let result = try TestSupport.run(python, ["-c", Self.script, folder, architecture, TestSupport.planBinary,
                                                  "image", "inspect", "docker-archive:\(folder)/bomb.tar",
                                                  "--cache-dir", folder + "/cache"])
        let fields = result.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        try #require(fields.count == 3, "\(result.stdout) \(result.stderr)")
        #expect(fields[0] == 0, "plan image inspect failed: \(result.stderr)")
        #expect(fields[2] < 2 << 20, "the archive is small: \(fields[2]) bytes")
        // 256 MiB inflated; the whole of plan stays well under half of that.
        #expect(fields[1] < 128 << 10, "peak RSS \(fields[1]) KiB")
    }
}
