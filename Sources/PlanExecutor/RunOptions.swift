import Foundation
import PlanOCI

/// Where `plan run` puts its results (`--output`, repeatable).
public enum OutputSpec: Hashable, Sendable {
    /// An OCI image: a layout folder, or an archive when `dest` ends in `.tar`.
    case oci(destination: String)
    /// A `docker load` archive.
    case docker(destination: String)
    /// The target's root filesystem; `merge`: write into an existing folder, over its files, keeping
    /// the others (BuildKit's local exporter).
    case local(destination: String, merge: Bool = false)
    /// The declared artifacts of the built stages, as `DEST/STAGE/ARTIFACT`; `merge` as for `local`.
    case artifacts(destination: String, merge: Bool = false)

    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Parses `type=oci,dest=image.tar` (and `merge=true` for `local` and `artifacts`).
    public init(parsing text: String) throws {
        var fields: [String: String] = [:]
        for part in text.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, !pair[1].isEmpty else {
                throw ParseError(description: "`\(part)` in --output \(text) is not KEY=VALUE")
            }
            fields[pair[0]] = pair[1]
        }
        guard let type = fields.removeValue(forKey: "type"), let destination = fields.removeValue(forKey: "dest") else {
            throw ParseError(description: "--output \(text) needs type= and dest=")
        }
        var merge = false
        if let value = fields.removeValue(forKey: "merge") {
            guard type == "local" || type == "artifacts" else {
                throw ParseError(description: "--output \(text): merge= is for type=local and type=artifacts (an image is replaced whole)")
            }
            guard let flag = Bool(value) else {
                throw ParseError(description: "--output \(text): merge=\(value) is not true or false")
            }
            merge = flag
        }
        if let unknown = fields.keys.sorted().first {
            throw ParseError(description: "--output \(text): unknown key `\(unknown)`")
        }
        switch type {
        case "oci": self = .oci(destination: destination)
        case "docker": self = .docker(destination: destination)
        case "local": self = .local(destination: destination, merge: merge)
        case "artifacts": self = .artifacts(destination: destination, merge: merge)
        default:
            throw ParseError(description: "--output type `\(type)` is not one of oci, docker, local, artifacts")
        }
    }

    /// The `dest=` path as written.
    public var destination: String {
        switch self {
        case .oci(let destination), .docker(let destination), .local(let destination, _), .artifacts(let destination, _):
            destination
        }
    }

    /// `oci`, `docker`, `local` or `artifacts`.
    public var typeName: String {
        switch self {
        case .oci: "oci"
        case .docker: "docker"
        case .local: "local"
        case .artifacts: "artifacts"
        }
    }
}

/// Everything `plan run` takes besides the bound plan (which says the targets).
public struct RunOptions: Sendable {
    /// Secret id → a file holding its value.
    public var secrets: [String: String] = [:]
    public var jobs: Int = ProcessInfo.processInfo.activeProcessorCount
    public var outputs: [OutputSpec] = []
    public var insecureRegistries: Set<String> = []
    /// Let independent stages finish after a failure.
    public var keepGoing = false
    /// Base images, their unpacked root filesystems and cache mounts live here.
    public var cacheDirectory: String
    /// Build every step, taking nothing from the cache (results are still stored).
    public var noCache = false
    /// Stages whose steps are all built, not taken from the cache.
    public var noCacheStages: Set<String> = []
    /// Where to import cache entries from before building (`--cache-from`: a layout folder or a registry).
    public var cacheFrom: [CacheTransport] = []
    /// Where to export the entries this build used (`--cache-to`: a layout folder or a registry).
    public var cacheTo: CacheTransport?
    /// Replace whatever is at an output's destination (`--force`); otherwise only what plan wrote.
    public var force = false
    /// Let device nodes, fifos, sockets and setuid/setgid bits reach host outputs (`--allow special-files`).
    public var allowSpecialFiles = false
    /// What `run` steps run in, chosen by the caller (`RuncSandbox` as root, `BubblewrapSandbox` without);
    /// nil: a plan's first `run` step fails.
    public var sandbox: (any Sandbox)?
    /// Credentials for the registries of base images and image copies (the CLI reads Docker's `config.json`).
    public var registryCredentials: RegistryCredentials = .none
    /// `SOURCE_DATE_EPOCH` (`--source-date-epoch`): images get this `created` time and file times in the
    /// layers plan built are clamped to it, so the same plan gives the same image digest anywhere.
    public var sourceDateEpoch: Int64?

    public init(cacheDirectory: String) {
        self.cacheDirectory = cacheDirectory
    }
}

/// What happens during a run, for progress displays.
public enum ExecutionEvent: Sendable {
    case stageStarted(stage: String)
    case stepStarted(stage: String, step: Int, description: String)
    case output(stage: String, step: Int, data: Data)
    case stageFinished(stage: String, seconds: Double)
    case stageFailed(stage: String, message: String)
    /// A step was taken from the cache (`hit`) or built; `reason` says why it was built.
    case cache(stage: String, step: Int, description: String, hit: Bool, reason: String?)
    /// Something the user should know that does not stop the run (a corrupt cache entry dropped).
    case warning(String)
}
