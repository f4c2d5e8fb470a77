import PlanCompiler
import PlanDiagnostics
import PlanValues

/// One `add:` download, URL expanded.
public struct DownloadUse: Hashable, Sendable {
    public var url: String
    public var checksum: Digest
    public var location: SourceLocation
}

/// What a plan reads from outside, found by the bind pass (so arguments are expanded exactly as a run expands them).
public struct PlanReads: Sendable {
    /// Every image use, for every platform asked for, in stage order.
    public var images: [BoundImageRead] = []
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
            reads.images += plan.imageReads
            for stage in plan.stages {
                for step in stage.steps {
                    if case .add(let add) = step.action, seenDownloads.insert(add.url + " " + add.checksum.description).inserted {
                        reads.downloads.append(DownloadUse(url: add.url, checksum: add.checksum, location: step.location))
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
                let what = switch use.kind {
                case .base: "the base image"
                case .copy: "the copied image"
                case .mount: "the mounted image"
                }
                diagnostics.append(.error(DiagnosticCode.imageNotLocked, "\(what) "
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
