import PlanCompiler
import PlanDiagnostics
import PlanValues

/// One place a plan reads an image: a stage's `from:` or a `copy … image:` step, at one platform.
public struct ImageRead: Hashable, Sendable {
    /// The reference, build arguments expanded, normalised.
    public var reference: ImageReference
    /// The platform the image is read for (the stage's).
    public var platform: Platform
    /// The `from:` (the stage) or the `copy` step that names it.
    public var location: SourceLocation
    /// True for a `copy … image:` source, false for a base.
    public var isCopySource: Bool
}

/// One `add:` download, URL expanded.
public struct DownloadUse: Hashable, Sendable {
    public var url: String
    public var checksum: Digest
    public var location: SourceLocation
}

/// What a plan reads from outside, found by the bind pass (so arguments are expanded exactly as a run expands them).
public struct PlanReads: Sendable {
    /// Every image use, for every platform asked for, in stage order.
    public var images: [ImageRead] = []
    /// Every download.
    public var downloads: [DownloadUse] = []

    /// What `graph` reads when `targets` (empty: every stage) are built for each of `platforms`.
    public static func of(_ graph: BuildGraph, targets: [String] = [], platforms: [Platform]) throws(BindFailure) -> PlanReads {
        var reads = PlanReads()
        var seenDownloads = Set<String>()
        let stages = targets.isEmpty ? graph.stages.map(\.name) : targets
        for platform in platforms {
            let binder = Binder(graph: graph, options: BindOptions(targets: stages, platform: platform))
            let plan = try binder.bind(images: [:])
            for stage in plan.stages {
                let stagePlatform = stage.platform
                if case .image(let reference) = stage.base {
                    reads.images.append(ImageRead(reference: reference, platform: stagePlatform, location: stage.location, isCopySource: false))
                }
                for step in stage.steps {
                    switch step.action {
                    case .copy(let copy):
                        if case .image(let reference) = copy.source {
                            reads.images.append(ImageRead(reference: reference, platform: stagePlatform, location: step.location, isCopySource: true))
                        }
                    case .add(let add):
                        if seenDownloads.insert(add.url + " " + add.checksum.description).inserted {
                            reads.downloads.append(DownloadUse(url: add.url, checksum: add.checksum, location: step.location))
                        }
                    default: break
                    }
                }
            }
        }
        return reads
    }

    /// Each distinct image with the platforms it is read for, sorted by reference, platforms in first-use order.
    public var platformsByImage: [(reference: ImageReference, platforms: [Platform])] {
        var order: [ImageReference] = []
        var platforms: [ImageReference: [Platform]] = [:]
        for use in images {
            if platforms[use.reference] == nil { order.append(use.reference) }
            var list = platforms[use.reference, default: []]
            if !list.contains(where: { LockFile.key($0) == LockFile.key(use.platform) }) { list.append(use.platform) }
            platforms[use.reference] = list
        }
        return order.sorted { $0.description < $1.description }.map { ($0, platforms[$0] ?? []) }
    }

    /// Located errors for each use the lock does not pin (image, or its platform) and each download it does not
    /// pin with the same checksum; one per image and platform, at its first use.
    public func problems(with lock: LockFile, lockPath: String) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        var reported = Set<String>()
        for use in images {
            let key = use.reference.description + " " + LockFile.key(use.platform)
            guard !reported.contains(key) else { continue }
            guard let locked = lock.image(use.reference) else {
                reported.insert(key)
                diagnostics.append(.error(DiagnosticCode.imageNotLocked, "\(use.isCopySource ? "the copied image" : "the base image") "
                    + "`\(use.reference)` is not in \(lockPath)", at: use.location, help: "run `plan lock` to pin it"))
                continue
            }
            if locked.manifest(for: use.platform) == nil {
                reported.insert(key)
                diagnostics.append(.error(DiagnosticCode.imageNotLocked, "\(lockPath) pins `\(use.reference)` for "
                    + (locked.platforms.keys.sorted().joined(separator: ", ")) + " but not for \(LockFile.key(use.platform))",
                    at: use.location, help: "run `plan lock --platform \(LockFile.key(use.platform))` (or list it in `platforms:`)"))
            }
        }
        for download in downloads {
            switch lock.downloads[download.url] {
            case nil:
                diagnostics.append(.error(DiagnosticCode.downloadNotLocked, "the download `\(download.url)` is not in \(lockPath)",
                                          at: download.location, help: "run `plan lock` to pin it"))
            case let checksum? where checksum != download.checksum:
                diagnostics.append(.error(DiagnosticCode.downloadNotLocked, "\(lockPath) pins `\(download.url)` at \(checksum), "
                    + "the plan says \(download.checksum)", at: download.location, help: "run `plan lock --update` after changing a checksum"))
            default: break
            }
        }
        return diagnostics
    }
}
