import ArgumentParser
import PlanCompiler
import PlanDiagnostics
import PlanExecutor
import PlanLock
import PlanValues

/// `--locked [--lock-file FILE]`, shared by `plan run` and `plan compile` (build from the lock only) and
/// `plan check` (check, offline, that the lock pins everything the plan reads).
struct LockOptions: ParsableArguments {
    @Flag(help: "Use only the plan's lock (plan.lock beside it, written by `plan lock`): images by digest, no tag asked of a registry.")
    var locked = false

    @Option(name: .customLong("lock-file"), help: ArgumentHelp("With --locked: the lock to use instead of plan.lock beside the plan.",
                                                               valueName: "file"), completion: .file())
    var lockFile: String?

    func validate() throws {
        if lockFile != nil, !locked { throw ValidationError("--lock-file goes with --locked") }
    }

    /// The plan's lock, checked to be its own; a missing or broken lock is reported (located) and exits 1.
    func load(for graph: BuildGraph, sources: SourceMap, options: PlanOptions) throws -> (lock: LockFile, path: String) {
        let path = lockFile ?? LockedBuild.path(besidePlan: graph.planFile)
        let loaded = LockedBuild.load(path, for: graph)
        if loaded.isMissing { try missingLock(path, for: graph) }
        guard let lock = loaded.lock else {
            report(loaded.diagnostics, loaded.source, sources: sources, options: options)
            throw ExitCode(1)
        }
        return (lock, path)
    }

    /// Says that there is no lock at `path` and exits 1.
    private func missingLock(_ path: String, for graph: BuildGraph) throws -> Never {
        Output.standardError("error: --locked: there is no lock file at \(path)\n"
            + "help: run `plan lock \(graph.planFile)` to write it (and commit it beside the plan)\n")
        throw ExitCode(1)
    }

    /// What `plan check --locked` finds, offline: the lock's own problems (E1101, E1102, located in it), else each
    /// image, platform (every one `graph` builds) and download of any stage the lock does not pin (E1103, E1104).
    /// A missing lock is reported and exits 1.
    func problems(for graph: BuildGraph) throws -> (diagnostics: [Diagnostic], source: SourceFile?) {
        let path = lockFile ?? LockedBuild.path(besidePlan: graph.planFile)
        let loaded = LockedBuild.load(path, for: graph)
        if loaded.isMissing { try missingLock(path, for: graph) }
        guard let lock = loaded.lock else { return (loaded.diagnostics, loaded.source) }
        do throws(BindFailure) {
            let reads = try PlanReads.of(graph, platforms: graph.platforms)
            return (reads.problems(with: lock, lockPath: path), loaded.source)
        } catch {
            return (error.diagnostics, loaded.source)
        }
    }

    /// The manifests a locked run pulls by digest: those of the images building `targets` for `platform` reads.
    func pins(for graph: BuildGraph, targets: [String], platforms: [Platform], sources: SourceMap, options: PlanOptions) throws -> ImagePins {
        let (lock, path) = try load(for: graph, sources: sources, options: options)
        let reads: PlanReads
        do throws(BindFailure) {
            reads = try PlanReads.of(graph, targets: targets.isEmpty ? graph.targets : targets, platforms: platforms)
        } catch {
            report(error.diagnostics, nil, sources: sources, options: options)
            throw ExitCode(1)
        }
        let problems = reads.problems(with: lock, lockPath: path)
        if !problems.isEmpty {
            report(problems, nil, sources: sources, options: options)
            throw ExitCode(1)
        }
        var pins = ImagePins()
        for use in reads.images {
            if let digest = lock.image(use.reference)?.manifest(for: use.platform) {
                pins.pin(use.reference, platform: use.platform, to: digest)
            }
        }
        return pins
    }

    /// `graph` with its images pinned to the lock's digests, for a locked Dockerfile.
    func pinnedGraph(_ graph: BuildGraph, sources: SourceMap, options: PlanOptions) throws -> BuildGraph {
        let (lock, path) = try load(for: graph, sources: sources, options: options)
        let pinned = LockedBuild.pinnedGraph(graph, lock: lock, lockPath: path)
        guard let result = pinned.graph else {
            report(pinned.diagnostics, nil, sources: sources, options: options)
            throw ExitCode(1)
        }
        return result
    }

    func report(_ diagnostics: [Diagnostic], _ source: SourceFile?, sources: SourceMap, options: PlanOptions) {
        var all = sources
        if let source { all.add(source) }
        Output.report(diagnostics, sources: all, options: options, jsonToStandardOutput: false)
    }
}
