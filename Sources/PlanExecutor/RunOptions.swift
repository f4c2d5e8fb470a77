import Foundation
import PlanOCI

/// Where `plan run` puts its results (`--output`, repeatable).
public enum OutputSpec: Hashable, Sendable {
    /// An OCI image: a layout folder, or an archive when `dest` ends in `.tar`; plan's layers gzip-compressed
    /// unless `compression=uncompressed` (the run adds its `sourceDateEpoch`).
    case oci(destination: String, compression: LayerEncoding = OutputSpec.defaultOCICompression)
    /// A `docker load` archive; layers uncompressed unless `compression=gzip`.
    case docker(destination: String, compression: LayerEncoding = .stored)
    /// The target's root filesystem; `merge`: write into an existing folder, over its files, keeping
    /// the others (BuildKit's local exporter).
    case local(destination: String, merge: Bool = false)
    /// The declared artifacts of the built stages, as `DEST/STAGE/ARTIFACT`; `merge` as for `local`.
    case artifacts(destination: String, merge: Bool = false)
    /// Images by name: stored in plan's image store, pushed when asked (`type=image`, `type=registry`, `--push`).
    case image(ImageOutput)

    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Parses `type=oci,dest=image.tar` (and `merge=true` for `local` and `artifacts`, `compression=`
    /// and `compression-level=` for `oci` and `docker`), and `type=image|registry,name=REF…` (see ``ImageOutput``).
    public init(parsing text: String) throws {
        let pairs = try Self.fields(of: text)
        if let type = pairs.last(where: { $0.key == "type" })?.value, type == "image" || type == "registry" {
            self = .image(try ImageOutput(fields: pairs, text: text))
            return
        }
        var fields: [String: String] = [:]
        for (key, value) in pairs { fields[key] = value }
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
        var compression = LayerEncoding.stored
        if type == "oci" || type == "docker" {
            compression = try Self.layerCompression(from: &fields, default: type == "oci" ? .gzip : .uncompressed, output: text)
        }
        if let unknown = fields.keys.sorted().first {
            throw ParseError(description: "--output \(text): unknown key `\(unknown)`")
        }
        switch type {
        case "oci": self = .oci(destination: destination, compression: compression)
        case "docker": self = .docker(destination: destination, compression: compression)
        case "local": self = .local(destination: destination, merge: merge)
        case "artifacts": self = .artifacts(destination: destination, merge: merge)
        default:
            throw ParseError(description: "--output type `\(type)` is not one of oci, docker, local, artifacts, image, registry")
        }
    }

    /// How `type=oci` writes plan's layers unless told: gzip at zlib's default level.
    public static let defaultOCICompression = LayerEncoding(compression: .gzip)

    /// Takes BuildKit's `compression=gzip|uncompressed` and `compression-level=0…9` out of an
    /// output's `fields` (so what is left can be checked for unknown keys) as a ``LayerEncoding``
    /// without an epoch (the run's `sourceDateEpoch` is added at export: ``ExportInput/layerEncoding(_:)``).
    /// `output` is the `--output` text, for messages. A level needs gzip.
    public static func layerCompression(from fields: inout [String: String], default compression: LayerCompression,
                                        output: String) throws(ParseError) -> LayerEncoding {
        var encoding = LayerEncoding(compression: compression)
        if let value = fields.removeValue(forKey: "compression") {
            guard let chosen = LayerCompression(rawValue: value) else {
                throw ParseError(description: "--output \(output): compression=\(value) is not one of "
                                 + LayerCompression.allCases.map(\.rawValue).joined(separator: ", "))
            }
            encoding.compression = chosen
        }
        if let value = fields.removeValue(forKey: "compression-level") {
            guard value.utf8.allSatisfy({ (48...57).contains($0) }), let level = Int(value), (0...9).contains(level) else {
                throw ParseError(description: "--output \(output): compression-level=\(value) is not a whole number from 0 to 9")
            }
            guard encoding.compression == .gzip else {
                throw ParseError(description: "--output \(output): compression-level= is for compression=gzip (the layers are uncompressed)")
            }
            encoding.level = level
        }
        return encoding
    }

    /// The `dest=` path as written.
    public var destination: String {
        switch self {
        case .oci(let destination, _), .docker(let destination, _), .local(let destination, _), .artifacts(let destination, _):
            destination
        case .image(let output): output.spelling
        }
    }

    /// `oci`, `docker`, `local` or `artifacts`.
    public var typeName: String {
        switch self {
        case .oci: "oci"
        case .docker: "docker"
        case .local: "local"
        case .artifacts: "artifacts"
        case .image(let output): output.push ? "registry" : "image"
        }
    }
}

/// Everything `plan run` takes besides the bound plan (which says the targets).
public struct RunOptions: Sendable {
    /// Secret id → a file holding its value.
    public var secrets: [String: String] = [:]
    /// ssh agent id → the agent's socket (`--ssh ID=SOCKET`), for `mounts:` of type ssh.
    public var sshAgents: [String: String] = [:]
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

    /// How steps of a platform the machine does not run natively are run: the binfmt_misc folder checked
    /// for an emulator before building.
    public var emulation = Emulation()

    public init(cacheDirectory: String) {
        self.cacheDirectory = cacheDirectory
    }
}

extension RunOptions {
    /// A `SOURCE_DATE_EPOCH` that is not a number of seconds.
    public struct SourceDateEpochError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The run's `SOURCE_DATE_EPOCH`: `--source-date-epoch` (`flag`) when given, else the environment's
    /// `SOURCE_DATE_EPOCH` (empty counts as unset); nil when neither. A value that is not a
    /// non-negative whole number of seconds is an error naming where it came from.
    public static func sourceDateEpoch(flag: String?, environment: [String: String]) throws -> Int64? {
        let (text, origin): (String, String)
        if let flag {
            (text, origin) = (flag, "--source-date-epoch")
        } else if let variable = environment["SOURCE_DATE_EPOCH"], !variable.isEmpty {
            (text, origin) = (variable, "the SOURCE_DATE_EPOCH environment variable")
        } else {
            return nil
        }
        guard !text.isEmpty, text.utf8.allSatisfy({ (48...57).contains($0) }), let seconds = Int64(text),
              seconds <= 253_402_300_799 else {
            throw SourceDateEpochError(description: "\(origin) is `\(text)`: expected seconds since 1970 (a whole number, 0 or more, "
                                       + "before the year 10000)")
        }
        return seconds
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
    /// What happened besides the stages, in a line (the cache brought in from, or sent to, `--cache-from`/`--cache-to`).
    case note(String)
    /// A push of `target`'s image to `reference` went one step further (a blob, bytes, the manifest).
    case push(target: String, reference: String, event: PushEvent)
    /// A target's image was written by an output: stored or pushed under names, or into a file.
    case imageExported(ExportedImage)
}
