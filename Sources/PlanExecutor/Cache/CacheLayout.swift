/// Where everything lives in a cache folder (`--cache-dir`, `PLAN_CACHE_DIR`, or `~/.cache/plan`):
/// the one place that names its folders and files. Each property is a path under `root`; nothing is
/// created or checked here.
///
/// ```
/// CACHE/
///   images/             pulled base images (a ContentStore: blobs/sha256/, refs.json, tmp/)
///   rootfs/DIGEST/      base images unpacked, by manifest digest
///   mounts/KEY/         the folders behind `cache:` mounts of `run` steps
///   runs/PID-RANDOM/    scratch folders of runs in progress (or left by killed ones)
///   build/              the build cache (BuildCache)
///     blobs/sha256/     records, layers and artifact trees, by digest
///     tmp/              blobs being written
///     refs/KEY          a step key's record digest; its modification time is the entry's last use
///     unpacked/DIGEST/  layers unpacked for overlayfs
///     history/          the inputs each step had the last time it was built (`--explain`)
///     converted/        layers re-encoded for image outputs (gzip, clamped times): SOURCE-ENCODING.json
///                       records pointing at blobs in blobs/sha256/
///     lock              held shared by runs, exclusively by `plan cache prune`
///     file-digests.json content digests of context files, by identity, from the last run
/// ```
public struct CacheLayout: Sendable, Hashable {
    /// The cache folder.
    public let root: String

    public init(root: String) {
        self.root = root
    }

    /// `images/`: the content store of pulled base images.
    public var images: String { root + "/images" }
    /// `images/refs.json`: the image store's references (reference → manifest or index digest).
    public var imageReferences: String { images + "/refs.json" }
    /// `images/tmp/`: image blobs being written.
    public var imageTemporary: String { images + "/tmp" }
    /// `rootfs/`: base images unpacked into root filesystems, one folder per manifest digest.
    public var rootfs: String { root + "/rootfs" }
    /// `mounts/`: the folders behind `cache:` mounts of `run` steps.
    public var mounts: String { root + "/mounts" }
    /// The name under `mounts/` of the folder behind a `cache:` mount called `id` (its `id`, else its
    /// target): every character but letters and digits becomes `_`.
    public static func mountKey(_ id: String) -> String {
        String(id.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }
    /// `runs/`: scratch folders of runs (running ones, or left by killed ones).
    public var runs: String { root + "/runs" }

    /// `build/`: the build cache.
    public var build: String { root + "/build" }
    /// `build/blobs/sha256/`: records, layers and artifact trees, each named by its SHA-256.
    public var buildBlobs: String { build + "/blobs/sha256" }
    /// `build/tmp/`: build cache blobs being written.
    public var buildTemporary: String { build + "/tmp" }
    /// `build/refs/`: one file per step key, holding the digest of its record.
    public var buildReferences: String { build + "/refs" }
    /// `build/unpacked/`: layers unpacked as overlayfs folders, by digest.
    public var unpackedLayers: String { build + "/unpacked" }
    /// `build/history/`: the inputs each step of each plan had the last time it was built.
    public var buildHistory: String { build + "/history" }
    /// `build/converted/`: one small record per stored layer and encoding (`SOURCEHEX-ENCODING.json`),
    /// naming the re-encoded blob (in `build/blobs/sha256/`) and its diff ID.
    public var convertedLayers: String { build + "/converted" }
    /// `build/lock`: runs hold it shared, `plan cache prune` exclusively.
    public var buildLock: String { build + "/lock" }
    /// `build/file-digests.json`: content digests of the files copies read, remembered across runs.
    public var fileDigests: String { build + "/file-digests.json" }
}
