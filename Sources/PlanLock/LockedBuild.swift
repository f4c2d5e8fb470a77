import Foundation
import PlanCompiler
import PlanDiagnostics
import PlanValues

/// What `--locked` does with a lock: finds and checks it against the plan, and gives the pins a run pulls by and
/// the graph a locked Dockerfile is written from.
public enum LockedBuild {
    /// `plan.lock` in the folder of `planFile`.
    public static func path(besidePlan planFile: String) -> String {
        let folder = (planFile as NSString).deletingLastPathComponent
        return folder.isEmpty ? LockFile.fileName : folder + "/" + LockFile.fileName
    }

    /// The plan file's name as a lock at `lockPath` records it: relative to the lock's folder when inside it.
    public static func planFileName(_ planFile: String, lockPath: String) -> String {
        func absolute(_ path: String) -> String {
            URL(fileURLWithPath: path).standardizedFileURL.path
        }
        let folder = absolute((lockPath as NSString).deletingLastPathComponent.isEmpty ? "." : (lockPath as NSString).deletingLastPathComponent)
        let plan = absolute(planFile)
        return plan.hasPrefix(folder + "/") ? String(plan.dropFirst(folder.count + 1)) : plan
    }

    /// What loading a lock for a plan found.
    public struct Loaded: Sendable {
        /// The lock, when it reads and belongs to the plan.
        public var lock: LockFile?
        /// Its problems, located in the lock file.
        public var diagnostics: [Diagnostic]
        /// The lock's text, for rendering its diagnostics; nil when it could not be read.
        public var source: SourceFile?
        /// True when no file is there.
        public var isMissing: Bool
    }

    /// Reads the lock at `path` and checks that it is `graph`'s: a lock of another plan is a located error.
    public static func load(_ path: String, for graph: BuildGraph) -> Loaded {
        guard let data = FileManager.default.contents(atPath: path) else {
            return Loaded(lock: nil, diagnostics: [], source: nil, isMissing: true)
        }
        let source = SourceFile(path: path, text: String(decoding: data, as: UTF8.self))
        let read = LockFile.read(data, file: path)
        guard let lock = read.lock else { return Loaded(lock: nil, diagnostics: read.diagnostics, source: source, isMissing: false) }
        let planFile = planFileName(graph.planFile, lockPath: path)
        if lock.plan != graph.planName || lock.planFile != planFile {
            let diagnostic = Diagnostic.error(
                DiagnosticCode.lockOfAnotherPlan, "\(path) is the lock of plan `\(lock.plan)` (\(lock.planFile)), not of `\(graph.planName)` (\(planFile))",
                at: read.planLocation ?? .startOf(path),
                help: "run `plan lock \(graph.planFile)` to write this plan's lock (or give the right one with --lock-file)")
            return Loaded(lock: nil, diagnostics: [diagnostic], source: source, isMissing: false)
        }
        return Loaded(lock: lock, diagnostics: [], source: source, isMissing: false)
    }

    /// The text a locked Dockerfile writes for an image written `text` that reads `reference`: `text@digest`
    /// (`node:18-alpine@sha256:…`), the normalised reference when `text` names build arguments, and `text` itself
    /// when it already pins a digest.
    public static func pinnedText(_ text: String, reference: ImageReference, digest: Digest) -> String {
        if reference.digest != nil { return text }
        if text.contains("$") { return reference.description + "@" + digest.description }
        return text + "@" + digest.description
    }

    /// Where a graph names an image: the place and which of its images (a step's mounts can name several).
    struct ImageSlot: Hashable {
        var location: SourceLocation
        var kind: BoundImageRead.Kind
    }

    /// `graph` with every base image, `copy … image:` source and bind mount of an image pinned to the lock's index
    /// digest, for every platform it builds; located errors for an image the lock lacks or one whose name depends
    /// on the platform.
    public static func pinnedGraph(_ graph: BuildGraph, lock: LockFile, lockPath: String) -> (graph: BuildGraph?, diagnostics: [Diagnostic]) {
        var pins: [ImageSlot: ImageReference] = [:]
        var diagnostics: [Diagnostic] = []
        var reads = PlanReads()
        do throws(BindFailure) {
            reads = try PlanReads.of(graph, platforms: graph.platforms)
        } catch {
            return (nil, error.diagnostics)
        }
        diagnostics += reads.problems(with: lock, lockPath: lockPath)
        for use in reads.images {
            let slot = ImageSlot(location: use.location, kind: use.kind)
            if let known = pins[slot], known != use.reference {
                diagnostics.append(.error(DiagnosticCode.lockedImageVariesByPlatform,
                    "this image is `\(known)` for one platform and `\(use.reference)` for another; a locked Dockerfile pins one digest per image",
                    at: use.location, help: "name one image for every platform (an index), or compile one platform with --platform"))
            }
            pins[slot] = use.reference
        }
        guard !diagnostics.contains(where: { $0.severity == .error }) else { return (nil, DiagnosticList(diagnostics).sorted) }
        func pinned(_ text: String, at location: SourceLocation, _ kind: BoundImageRead.Kind) -> String {
            guard let reference = pins[ImageSlot(location: location, kind: kind)], let image = lock.image(reference) else { return text }
            return pinnedText(text, reference: reference, digest: image.digest)
        }
        var result = graph
        for index in result.stages.indices {
            let stage = result.stages[index]
            if case .image(let text) = stage.base { result.stages[index].base = .image(pinned(text, at: stage.location, .base)) }
            for step in stage.instructions.indices {
                switch stage.instructions[step] {
                case .copy(var copy):
                    guard case .image(let text) = copy.source else { continue }
                    copy.source = .image(pinned(text, at: copy.location, .copy))
                    result.stages[index].instructions[step] = .copy(copy)
                case .run(var run):
                    for (mountIndex, mount) in run.mounts.enumerated() {
                        guard case .bind(var bind) = mount, case .image(let text) = bind.source else { continue }
                        bind.source = .image(pinned(text, at: run.location, .mount(mountIndex)))
                        run.mounts[mountIndex] = .bind(bind)
                    }
                    result.stages[index].instructions[step] = .run(run)
                default: break
                }
            }
        }
        return (result, [])
    }
}
