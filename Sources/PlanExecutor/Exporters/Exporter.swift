import Foundation
import PlanCompiler
import PlanOCI
import PlanValues

/// Writes one output of a run — an image, a folder, the artifacts — from what the build produced.
///
/// Each kind of `--output` is one conforming type: ``OCIExporter`` (an OCI layout folder, or an archive
/// when the destination ends in `.tar`), ``DockerArchiveExporter``, ``LocalExporter`` (the target's root
/// filesystem), ``ArtifactsExporter`` and ``ImageExporter`` (images by name: stored, and pushed to
/// registries); ``OutputSpec/exporter`` maps the command line's spelling to one. The executor calls ``check(plan:options:)`` on every output before it builds anything, so a run
/// never ends in "cannot write there", and ``export(_:)`` once every stage is built, handing over an
/// ``ExportInput``: the built targets as values, never the executor's own state.
///
/// Adding an output — pushing the image to a registry, say — is one new conforming type: its `check`
/// refuses before the build what cannot work (a malformed reference, no credentials); its `export`
/// takes ``BuiltTarget/image`` (platform, configuration, the layers with the files holding their blobs,
/// the history) and sends it; one more `OutputSpec` case names it on the command line. An output
/// written to a path on this machine conforms to ``HostOutput`` instead, which brings the destination
/// rules of ``OutputDestination`` with it.
public protocol Exporter: Sendable {
    /// Where the output goes, as the user wrote it (`dest=`): messages name it.
    var destination: String { get }
    /// The `type=` of `--output` (`oci`, `docker`, `local`, `artifacts`), for messages.
    var typeName: String { get }
    /// Whether it writes one target (an image, a root filesystem) rather than every built stage's results.
    var needsOneTarget: Bool { get }
    /// Before the build: throws an ``OutputError`` when the output could not be written. Writes nothing.
    func check(plan: BoundPlan, options: RunOptions) throws
    /// After ``check(plan:options:)``, still before the build: what only the network can tell (a registry
    /// that cannot be reached or refuses the credentials), asked with the run's registry client. Throws an
    /// ``OutputError``. Outputs on this machine have nothing to ask (the default).
    func probe(plan: BoundPlan, registry: RegistryClient) async throws
    /// Before the build: throws an ``OutputError`` when the output cannot hold the run's platforms (a
    /// `docker load` archive holds one image). Every output takes one platform; the default takes any number.
    func check(platforms: [Platform]) throws
    /// After a successful build: writes the output.
    func export(_ input: ExportInput) async throws
}

extension Exporter {
    public func probe(plan: BoundPlan, registry: RegistryClient) async throws {}
    public func check(platforms: [Platform]) throws {}
}

/// An exporter that writes a file or folder on this machine at its ``Exporter/destination``. The rules
/// of ``OutputDestination`` apply: plan replaces only what plan wrote, checked before the build (the
/// default ``Exporter/check(plan:options:)``) and again just before writing (``recheck(_:)``).
public protocol HostOutput: Exporter {
    /// Whether the output is one archive file rather than a folder.
    var writesArchive: Bool { get }
    /// For a folder output that can write into what is there: whether it does; nil when it is always
    /// replaced whole (an image).
    var merges: Bool? { get }
    /// Whether a folder plan did not mark is still recognisably this output's own (an OCI layout).
    func isOwnFolder(_ path: String) -> Bool
}

extension HostOutput {
    public func check(plan: BoundPlan, options: RunOptions) throws {
        try OutputDestination.checkPlace(self, path: OutputDestination.resolved(destination), plan: plan, options: options)
        try OutputDestination.checkExisting(self, force: options.force)
    }

    public func isOwnFolder(_ path: String) -> Bool { false }

    /// What the destination holds may have changed while the build ran: checks it again.
    func recheck(_ input: ExportInput) throws {
        try OutputDestination.checkExisting(self, force: input.force)
    }

    /// Writes a host folder output: replaced whole, or merged into what is there; special files are
    /// left out unless allowed (images keep them: there they are legitimate).
    func writeFolder(_ input: ExportInput, merge: Bool, _ build: (String) throws -> Void) throws {
        let destination = destination
        let write = { (temporary: String) throws in
            try build(temporary)
            guard !input.allowSpecialFiles else { return }
            let report = try SpecialFiles.strip(temporary)
            if !report.isEmpty { input.warn(report.warning(for: "--output dest=\(destination)")) }
        }
        if merge {
            try AtomicOutput.merge(destination, write)
        } else {
            try AtomicOutput.replace(destination, write)
        }
    }

    /// An archive goes into a folder that may not exist yet, like a folder output.
    func makeParentFolder() throws {
        let parent = (OutputDestination.absolute(destination) as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
    }
}

extension OutputSpec {
    /// The exporter that writes this output.
    public var exporter: any Exporter {
        switch self {
        case .oci(let destination, let compression): OCIExporter(destination: destination, compression: compression)
        case .docker(let destination, let compression): DockerArchiveExporter(destination: destination, compression: compression)
        case .local(let destination, let merge): LocalExporter(destination: destination, merge: merge)
        case .artifacts(let destination, let merge): ArtifactsExporter(destination: destination, merge: merge)
        case .image(let output): ImageExporter(output: output)
        }
    }
}

/// What a successful run built, as exporters see it.
public struct ExportInput: Sendable {
    /// The plan's name: images are tagged `PLAN/TARGET:latest`.
    public var planName: String
    /// The targets the run was asked for (`--target`, else the plan's), in order.
    public var targetNames: [String]
    /// The built targets, by name.
    public var targets: [String: BuiltTarget]
    /// The built stages that declare artifacts, in build order.
    public var artifacts: [BuiltArtifacts]
    /// Replace whatever is at a destination (`--force`).
    public var force: Bool
    /// Let device nodes, fifos, sockets and setuid/setgid bits reach host folders.
    public var allowSpecialFiles: Bool
    /// A folder on the build cache's file system, for staging an image.
    public var stagingDirectory: String
    /// Reports what does not stop the export (special files left out).
    public var warn: @Sendable (String) -> Void
    /// Reports progress and results (pushes, images written) to the run's events.
    public var emit: @Sendable (ExecutionEvent) -> Void = { _ in }
    /// plan's image store (the one `plan image` reads), where named images are stored.
    public var imageStore: ContentStore
    /// The run's registry client: the one that pulled the base images, so pushes mount their layers.
    public var registry: RegistryClient
    /// `SOURCE_DATE_EPOCH` of the run: every image output clamps the file times of plan's layers to
    /// it and takes it as `created` (``BuiltImage/withLayout(stagingIn:encoding:_:)``).
    public var sourceDateEpoch: Int64? = nil
    /// What was built for each target platform, in the order asked; `targets` and `artifacts` are the first's.
    /// Empty when the input was made without it (one platform).
    public var builds: [PlatformBuild] = []

    /// Whether the run built several platforms: image outputs write an index, folder outputs one
    /// sub-folder per platform.
    public var isMultiPlatform: Bool { builds.count > 1 }

    /// The target `name`'s image for each platform, in the order asked; nil when a platform did not build it.
    func images(of name: String) -> [BuiltImage]? {
        let images = builds.compactMap { $0.targets[name]?.image }
        return images.count == builds.count ? images : nil
    }

    /// `compression` (`compression=`, `compression-level=` of an output) with the run's epoch: how an
    /// image output writes plan's layers.
    public func layerEncoding(_ compression: LayerEncoding) -> LayerEncoding {
        var encoding = compression
        encoding.sourceDateEpoch = sourceDateEpoch
        return encoding
    }

    /// The one target an output of one target writes (nil when it was not built); `what` names the
    /// output in the failure when the run has several targets.
    func singleTarget(for what: String) throws -> BuiltTarget? {
        guard targetNames.count == 1, let name = targetNames.first else {
            throw RunFailure(.stepFailed("\(what) needs exactly one target (the run builds \(targetNames.joined(separator: ", "))); "
                                 + "choose one with --target"), stage: nil, location: nil)
        }
        return targets[name]
    }
}

/// What a run built for one target platform.
public struct PlatformBuild: Sendable {
    public var platform: Platform
    /// The built targets, by name.
    public var targets: [String: BuiltTarget]
    /// The built stages that declare artifacts, in build order.
    public var artifacts: [BuiltArtifacts]

    /// The sub-folder a folder output writes this platform into when a run builds several: BuildKit's
    /// `platform-split` name (`linux_amd64`, `linux_arm64`, `linux_arm_v7`).
    public var folderName: String {
        AutomaticArguments.buildKitSpelling(platform).description.replacingOccurrences(of: "/", with: "_")
    }
}

/// One built target.
public struct BuiltTarget: Sendable {
    public var name: String
    /// Its root filesystem, put together (read-only) the first time it is asked for.
    public var rootFilesystem: @Sendable () async throws -> String
    /// Its image.
    public var image: BuiltImage
}

/// A target's image: the base image's layers, then a layer for every step of its chain that changed
/// files, with the configuration the plan gives it.
public struct BuiltImage: Sendable {
    public var platform: Platform
    public var configuration: ContainerConfiguration
    /// Bottom first.
    public var layers: [BuiltLayer]
    /// The base image's history, then one entry per built layer.
    public var history: [PlanOCI.ImageConfiguration.History]
    /// How many entries at the start of `history` are the base image's (taken as pulled).
    public var baseHistoryCount = 0

    /// Writes the image into a new OCI layout staged in `folder`, gives `body` the layout and the image
    /// manifest's descriptor, then removes the layout. Every image output goes through here.
    ///
    /// `encoding` applies to the layers plan built (base image layers are taken as pulled): they are
    /// compressed and their file times clamped (``LayerConversion``, remembered in the build cache);
    /// with a `sourceDateEpoch` the configuration's `created` and that of plan's history entries is
    /// the epoch. `.stored` writes plan's layers as stored (plain tar) and no `created`.
    func withLayout<T>(stagingIn folder: String, encoding: LayerEncoding = .stored,
                       _ body: (OCILayout, Descriptor) throws -> T) throws -> T {
        let image = try encoded(encoding)
        let staging = folder + "/image-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let layout = try OCILayout.create(at: URL(fileURLWithPath: staging))
        for layer in image.layers { try layer.copy(layout) }
        let written = try image.writer(encoding).write(to: layout)
        return try body(layout, written.manifestDescriptor)
    }

    /// Writes the image into plan's image store — the same documents as
    /// ``withLayout(stagingIn:encoding:_:)``, so the same digest — and returns it ready to push from the
    /// store's files. No layout is staged: a blob the store has is not copied again, so storing an
    /// unchanged image writes only what is new. A layer plan built that fails its digest on the way in is
    /// a ``CacheCorruption`` (the run rebuilds it).
    func store(in store: ContentStore, encoding: LayerEncoding) throws -> PushableImage {
        let image = try encoded(encoding)
        var blobs: [PushBlob] = []
        for layer in image.layers {
            let digest = layer.descriptor.digest
            do {
                try store.importBlob(fromFile: layer.path, digest: digest, size: layer.descriptor.size)
            } catch let error as ContentStoreError {
                guard layer.isBuilt else { throw error }
                throw CacheCorruption(digest: digest, path: layer.path)
            }
            blobs.append(PushBlob(descriptor: layer.descriptor, content: .file(store.path(for: digest).path)))
        }
        let written = try image.writer(encoding).write(to: store)
        let config = written.configDescriptor
        blobs.insert(PushBlob(descriptor: config, content: .file(store.path(for: config.digest).path)), at: 0)
        let manifest = written.manifestDescriptor
        let data = try store.data(for: manifest.digest)
        return PushableImage(root: PushDocument(descriptor: manifest, data: data), blobs: blobs)
    }

    /// Writes the images (one per platform) into a new OCI layout staged in `folder` with an OCI image index
    /// listing their manifests, each descriptor with its `platform`; gives `body` the layout, the index's
    /// descriptor and the manifests' descriptors, then removes the layout.
    static func withIndexLayout<T>(_ images: [BuiltImage], stagingIn folder: String, encoding: LayerEncoding = .stored,
                                   _ body: (OCILayout, Descriptor, [Descriptor]) throws -> T) throws -> T {
        let staging = folder + "/index-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let layout = try OCILayout.create(at: URL(fileURLWithPath: staging))
        var manifests: [Descriptor] = []
        for image in images {
            let encoded = try image.encoded(encoding)
            for layer in encoded.layers where !layout.hasBlob(layer.descriptor.digest) { try layer.copy(layout) }
            manifests.append(try encoded.writer(encoding).write(to: layout).manifestDescriptor)
        }
        let index = try layout.putIndex(ImageIndex(manifests: manifests))
        return try body(layout, index, manifests)
    }

    /// Writes the images (one per platform) into plan's image store with an OCI image index listing them,
    /// and returns the index ready to push (``store(in:encoding:)`` for each image).
    static func storeIndex(_ images: [BuiltImage], in store: ContentStore, encoding: LayerEncoding) throws -> PushableImage {
        var manifests: [PushDocument] = []
        var blobs: [PushBlob] = []
        for image in images {
            let pushable = try image.store(in: store, encoding: encoding)
            manifests.append(pushable.root)
            blobs += pushable.blobs
        }
        let index = try store.putIndex(ImageIndex(manifests: manifests.map(\.descriptor)))
        return PushableImage(root: PushDocument(descriptor: index, data: try store.data(for: index.digest)),
                             manifests: manifests, blobs: blobs)
    }

    /// The writer of this image's configuration and manifest; with an epoch, `created` is it.
    private func writer(_ encoding: LayerEncoding) -> ImageWriter {
        let created = encoding.sourceDateEpoch.map { Date(timeIntervalSince1970: TimeInterval($0)) }
        return ImageWriter(platform: platform, config: configuration,
                           layers: layers.map { ImageLayer(descriptor: $0.descriptor, diffID: $0.diffID) },
                           history: history, created: created)
    }

    /// The image with plan's layers encoded as `encoding` and, with an epoch, plan's history entries
    /// created at it.
    func encoded(_ encoding: LayerEncoding) throws -> BuiltImage {
        var image = self
        image.layers = try layers.map { layer in try layer.encode.map { try $0(encoding) } ?? layer }
        if let epoch = encoding.sourceDateEpoch {
            let created = ImageWriter.timestamp(Date(timeIntervalSince1970: TimeInterval(epoch)))
            for index in image.history.indices where index >= baseHistoryCount { image.history[index].created = created }
        }
        return image
    }
}

/// One layer of a built image.
public struct BuiltLayer: Sendable {
    public var descriptor: Descriptor
    /// The digest of the uncompressed layer.
    public var diffID: Digest
    /// The file holding the layer's blob.
    public var path: String
    /// Copies the blob into a layout, checking it (a built layer found changed is a cache corruption,
    /// which makes the run rebuild it).
    var copy: @Sendable (OCILayout) throws -> Void
    /// For a layer plan built: the layer encoded for an image output (converted once, remembered in
    /// the build cache). Nil for a base image's layer, which is taken as pulled.
    var encode: (@Sendable (LayerEncoding) throws -> BuiltLayer)? = nil
    /// Whether plan built it (a layer of the build cache, or one encoded from it) rather than pulled it.
    var isBuilt = false
}

/// The artifacts of one built stage.
public struct BuiltArtifacts: Sendable {
    public var stage: String
    /// Those the build stored, in the plan's order.
    public var artifacts: [BuiltArtifact]
}

/// One stored artifact: a file or folder.
public struct BuiltArtifact: Sendable {
    /// Its name in the plan's `artifacts:`.
    public var name: String
    /// Unpacks the stored tree, which holds one entry named `artifact`, into a folder.
    var unpack: @Sendable (String) throws -> Void

    /// Writes the artifact at `path`, whose folder exists.
    func write(to path: String) throws {
        let unpacking = (path as NSString).deletingLastPathComponent + "/.unpacking"
        try FileManager.default.createDirectory(atPath: unpacking, withIntermediateDirectories: true)
        try unpack(unpacking)
        try FileManager.default.moveItem(atPath: unpacking + "/artifact", toPath: path)
        try FileManager.default.removeItem(atPath: unpacking)
    }
}
