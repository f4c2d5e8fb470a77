import ArgumentParser
import Dispatch
import Foundation
import PlanExecutor
import PlanOCI

/// `plan image …`: pull, inspect and unpack OCI images without a Docker daemon.
struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Pull, inspect, unpack, push and copy OCI images (no Docker daemon needed).",
        discussion: """
            An image is a registry reference (`alpine:3.20`, `127.0.0.1:5555/team/app@sha256:…`), an OCI \
            layout folder (`oci:PATH[:NAME]`), an OCI archive (`oci-archive:PATH[:NAME]`) or a docker \
            archive (`docker-archive:PATH[:NAME:TAG]`). Pulled images live in a content-addressed store under \
            the cache folder: --cache-dir, else $PLAN_CACHE_DIR, else $XDG_CACHE_HOME/plan, else ~/.cache/plan.

            Examples:
              plan image pull 127.0.0.1:5555/plan-test/busybox:stable \\
                  --insecure-registry 127.0.0.1:5555
              plan image inspect docker-archive:busybox.tar
              plan image inspect docker-archive:images.tar:plan-test/busybox:stable
              plan image unpack alpine:3.20 rootfs/ --platform linux/arm64
            """,
        subcommands: [ImagePullCommand.self, ImageInspectCommand.self, ImageUnpackCommand.self, ImagePushCommand.self,
                      ImageCopyCommand.self])
}

/// Options every image command shares.
struct ImageOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The platform to choose from a multi-platform image (default: this machine's).",
                               valueName: "os/arch[/variant]"))
    var platform: String?

    @Option(name: .customLong("insecure-registry"), help: ArgumentHelp(
        "Talk plain HTTP to this registry (repeatable; localhost, 127.0.0.0/8 and ::1 always are).", valueName: "host:port"))
    var insecureRegistries: [String] = []

    @Option(name: .customLong("cache-dir"), help: ArgumentHelp("Where the image store lives.", valueName: "dir"),
            completion: .directory)
    var cacheDirectory: String?

    func chosenPlatform() throws -> Platform {
        guard let platform else { return .host }
        do {
            return try Platform(parsing: platform)
        } catch {
            throw ValidationError("--platform \(platform): \(error)")
        }
    }

    var storeDirectory: String {
        CacheLayout(root: CacheLocation.directory(explicit: cacheDirectory)).images
    }

    func store() throws -> ContentStore { try Self.store(at: storeDirectory) }

    static func store(at storeDirectory: String) throws -> ContentStore {
        do {
            return try ContentStore(root: URL(fileURLWithPath: storeDirectory))
        } catch {
            throw ImageFailure("cannot open the image store at \(storeDirectory): \(error)")
        }
    }

    /// Holds the cache lock shared while the command uses the store, so that `plan cache prune --all`
    /// waits instead of removing blobs under it. Images read from files need no lock (nil).
    func sharedCacheLock(for source: (any ImageSource)? = nil) throws -> CacheLock? {
        if let source, !source.pullsIntoStore { return nil }
        do {
            return try BuildCache(cacheDirectory: CacheLocation.directory(explicit: cacheDirectory)).lock(exclusive: false)
        } catch {
            throw ImageFailure("cannot lock the cache at \(CacheLocation.directory(explicit: cacheDirectory)): \(error)")
        }
    }

    /// The image `text` names, or a usage error.
    func source(_ text: String) throws -> any ImageSource {
        do {
            return try ImageSources.parse(text)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// Loads an image; a registry image is pulled into the store first (`layers: false` fetches only
    /// the manifest and config).
    func load(_ source: any ImageSource, layers: Bool) async throws -> LoadedImage {
        let (storeDirectory, insecure) = (storeDirectory, Set(insecureRegistries))
        let request = ImageLoadRequest(platform: try chosenPlatform(), layers: layers) {
            (try Self.store(at: storeDirectory), try Self.client(insecureRegistries: insecure))
        }
        return try await source.load(request)
    }

    func client() throws -> RegistryClient { try Self.client(insecureRegistries: Set(insecureRegistries)) }

    static func client(insecureRegistries: Set<String>) throws -> RegistryClient {
        let credentials: RegistryCredentials
        do {
            credentials = try RegistryCredentials.fromDockerConfig()
        } catch {
            throw ImageFailure("\(error)")
        }
        return RegistryClient(configuration: .init(insecureRegistries: insecureRegistries, credentials: credentials))
    }
}

/// An image command's failure: printed as one `error:` line, exit 1.
struct ImageFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct ImagePullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull", abstract: "Pull an image from a registry into the store.")

    @Argument(help: ArgumentHelp("The image reference.", valueName: "ref"))
    var reference: String

    @OptionGroup var options: ImageOptions

    func run() async throws {
        guard let reference = try options.source(reference) as? RegistryImageSource else {
            throw ValidationError("`pull` takes a registry reference")
        }
        try await CommandFailure.reporting {
            let lock = try options.sharedCacheLock()
            defer { withExtendedLifetime(lock) {} }
            let store = try options.store()
            let platform = try options.chosenPlatform()
            let pulled = try await options.client().pull(reference.reference, platform: platform, into: store)
            Output.standardOutput(
                "\(pulled.pinnedReference) (\(pulled.configuration.platform), \(pulled.manifest.layers.count) layers, "
                    + "\(pulled.downloadedBlobs) blobs downloaded)\n")
        }
    }
}

struct ImageInspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show an image's manifest digest, platform, configuration and layers as JSON; for an image index, its platforms.")

    @Argument(help: ArgumentHelp("A reference, oci:PATH, oci-archive:PATH or docker-archive:PATH.", valueName: "image"))
    var image: String

    @OptionGroup var options: ImageOptions

    struct Report: Encodable {
        struct Layer: Encodable {
            var digest: String
            var mediaType: String
            var size: Int64
        }
        /// The image index the image was chosen from, and every platform it offers.
        struct Index: Encodable {
            var digest: String
            var mediaType: String
            var platforms: [String]
        }
        var name: String
        var digest: String
        var mediaType: String
        var platform: String
        var index: Index?
        var config: ContainerConfiguration?
        var layers: [Layer]
        var diffIDs: [String]
    }

    func run() async throws {
        let source = try options.source(image)
        try await CommandFailure.reporting {
            let lock = try options.sharedCacheLock(for: source)
            defer { withExtendedLifetime(lock) {} }
            // A name the store holds (pulled, or stored by `plan run --output type=image`) is read from there.
            let stored = try (source as? RegistryImageSource).flatMap {
                try LoadedImage(storedAs: $0.reference, in: options.store(), platform: options.chosenPlatform())
            }
            let loaded = if let stored { stored } else { try await options.load(source, layers: false) }
            defer { loaded.cleanUp() }
            let report = Report(
                name: loaded.name, digest: loaded.descriptor.digest.description,
                mediaType: loaded.descriptor.mediaType.rawValue, platform: loaded.configuration.platform.description,
                index: loaded.index.map {
                    Report.Index(digest: $0.descriptor.digest.description, mediaType: $0.descriptor.mediaType.rawValue,
                                 platforms: $0.platforms.map(\.description))
                },
                config: loaded.configuration.config,
                layers: loaded.manifest.layers.map {
                    Report.Layer(digest: $0.digest.description, mediaType: $0.mediaType.rawValue, size: $0.size)
                },
                diffIDs: loaded.configuration.rootfs.diffIDs.map(\.description))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            Output.standardOutput(String(decoding: try encoder.encode(report), as: UTF8.self) + "\n")
        }
    }
}

struct ImageUnpackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unpack",
        abstract: "Unpack an image's layers into a folder, safely: nothing is written outside it.")

    @Argument(help: ArgumentHelp("A reference, oci:PATH, oci-archive:PATH or docker-archive:PATH.", valueName: "image"))
    var image: String

    @Argument(help: ArgumentHelp("An empty or new folder.", valueName: "dir"), completion: .directory)
    var directory: String

    @OptionGroup var options: ImageOptions

    @Option(name: .customLong("allow"), help: ArgumentHelp(
        "Allow an entitlement: special-files keeps device nodes, fifos, sockets and setuid/setgid bits.",
        valueName: "entitlement"))
    var allow: [String] = []

    func validate() throws {
        for entitlement in allow where entitlement != SpecialFiles.entitlement {
            throw ValidationError("--allow \(entitlement): the only entitlement is \(SpecialFiles.entitlement)")
        }
    }

    func run() async throws {
        let source = try options.source(image)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ValidationError("`\(directory)` is not a folder") }
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            guard contents.isEmpty else { throw ValidationError("`\(directory)` is not empty") }
        }
        try await CommandFailure.reporting {
            let lock = try options.sharedCacheLock(for: source)
            defer { withExtendedLifetime(lock) {} }
            let loaded = try await options.load(source, layers: true)
            defer { loaded.cleanUp() }
            // Layers go into a folder beside DIR, renamed onto it when complete: a failed, interrupted
            // or terminated unpack (SIGINT, SIGTERM, SIGHUP) leaves no half-unpacked DIR.
            let staging = UnpackStaging(destination: directory)
            let signals = staging.removeOnStopSignals(cleanUp: loaded.cleanUp)
            defer { signals.forEach { $0.cancel() } }
            try staging.create()
            var warnings: [String] = []
            do {
                for layer in loaded.manifest.layers {
                    let report = try LayerApplier().apply(layerAt: loaded.blobPath(layer.digest), to: staging.path)
                    warnings += report.warnings
                }
                try staging.publish()
            } catch {
                // A stop signal removes the folder under the unpacking thread, which then fails: the
                // signal's handler is about to exit with its status, not this error's.
                staging.waitIfStopping()
                staging.remove()
                throw error
            }
            if !allow.contains(SpecialFiles.entitlement) {
                let special = try SpecialFiles.strip(directory)
                if !special.isEmpty { warnings.append(special.warning(for: directory)) }
            }
            for warning in warnings { Output.standardError("warning: \(warning)\n") }
            Output.standardOutput("\(loaded.name): \(loaded.manifest.layers.count) layers unpacked into \(directory)\n")
        }
    }
}

/// The folder `plan image unpack` fills before renaming it onto its destination (an empty folder or
/// none), so that the destination appears complete or not at all.
struct UnpackStaging {
    let destination: String
    let path: String
    /// Set by the stop signal's handler before it removes the folder.
    let stopping = InterruptFlag()

    init(destination: String) {
        var trimmed = destination
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.destination = trimmed
        let url = URL(fileURLWithPath: trimmed)
        path = url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".plan-unpack-\(getpid())"
    }

    func create() throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: path)
        guard mkdir(path, 0o755) == 0 else {
            throw ImageFailure("cannot create \(path) to unpack into: \(String(cString: strerror(errno)))")
        }
    }

    /// Renames the filled folder onto the destination (rename(2) replaces an empty folder).
    func publish() throws {
        guard rename(path, destination) == 0 else {
            throw ImageFailure("cannot move the unpacked image to \(destination): \(String(cString: strerror(errno)))")
        }
    }

    /// Removes the folder. A signal arrives while the unpacking thread still writes into it, so
    /// removal repeats until the folder itself is gone: nothing can be created in a removed folder.
    func remove() {
        var info = stat()
        for _ in 0..<1000 where lstat(path, &info) == 0 {
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    /// Waits for the process to end when a stop signal is being handled.
    func waitIfStopping() {
        while stopping.isSet { sleep(1) }
    }

    /// SIGINT, SIGTERM and SIGHUP remove the folder and exit 128 + the signal.
    func removeOnStopSignals(cleanUp: @escaping @Sendable () -> Void) -> [DispatchSourceSignal] {
        [SIGINT, SIGTERM, SIGHUP].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            let staging = self
            source.setEventHandler {
                staging.stopping.set(number)
                staging.remove()
                cleanUp()
                Foundation.exit(128 + number)
            }
            source.resume()
            return source
        }
    }
}
