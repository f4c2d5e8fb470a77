import Foundation
import PlanCompiler
import PlanDiagnostics
import PlanOCI
import PlanPaths

/// How a run went, stage by stage.
public struct RunSummary: Sendable {
    public var stageSeconds: [(stage: String, seconds: Double)]
    /// Every stage that failed (a stage stopped because another failed is ``RunFailure/Kind/cancelled``).
    public var failures: [RunFailure]
}

/// `plan run`'s engine: builds the stages of a bound plan — independent ones in parallel, up to `jobs` —
/// and writes the outputs. Everything the plan means is worked out before (`Binder`); this only executes.
public final class Executor: Sendable {
    let plan: BoundPlan
    let options: RunOptions
    /// The plan's images, already pulled for binding.
    let images: BaseImages
    let emit: @Sendable (ExecutionEvent) -> Void

    public init(plan: BoundPlan, options: RunOptions, images: BaseImages, events: @escaping @Sendable (ExecutionEvent) -> Void) {
        self.plan = plan
        self.options = options
        self.images = images
        self.emit = events
    }

    /// What every stage of one attempt shares.
    struct RunContext {
        var images: BaseImages
        var runDirectory: String
        var cache: BuildCache
        var stacks: LayerStacks
        var views: StageViews
        var digests: SourceDigests
        /// The plan's `.dockerignore` patterns, compiled once for every context copy of the run.
        var contextIgnore: IgnoreMatcher
    }

    public func run() async throws -> RunSummary {
        // Outputs are checked before anything is built: a run never ends in "cannot write there".
        try OutputDestination.check(options.outputs, plan: plan, options: options)
        // A platform this machine cannot run stops the run before anything is pulled or built (only `run`
        // steps start the platform's programs; copies need no emulator).
        let runsPrograms = plan.stages.contains { $0.steps.contains { if case .run = $0.action { true } else { false } } }
        if runsPrograms { try options.emulation.check(plan.platform) }
        try await probeRegistries()
        let cache = try BuildCache(cacheDirectory: options.cacheDirectory)
        RunDirectory.removeStale(in: cache.layout.runs)
        return try await cache.withLock(exclusive: false) {
            let transfer = CacheTransfer(cache: cache)
            let mountKeys = CacheTransfer.mountKeys(of: plan)
            for source in options.cacheFrom {
                let entries: any CacheEntrySource = switch source.location {
                case .directory(let path): LayoutEntrySource(path: path)
                case .registry(let reference): RegistryEntrySource(client: registryClient(), reference: reference)
                }
                let report = await transfer.importEntries(from: entries, label: source.description,
                                                          mountKeys: source.mounts ? Set(mountKeys) : [],
                                                          mountsMaxSize: source.mountsMaxSize)
                for warning in report.warnings { emit(.warning(warning)) }
                if report.imported > 0 || report.mountsRestored > 0 {
                    emit(.note("--cache-from \(source): \(report.imported) \(report.imported == 1 ? "entry" : "entries") imported"
                        + (report.mountsRestored > 0 ? ", \(report.mountsRestored) cache \(report.mountsRestored == 1 ? "mount" : "mounts") restored" : "")))
                }
            }
            // A layer found corrupt while the build reads it is dropped; the next attempt rebuilds it.
            var attempts = 0
            while true {
                do {
                    let summary = try await attempt(cache: cache)
                    if summary.failures.isEmpty, let destination = options.cacheTo {
                        do {
                            emit(.note(try await transfer.export(keys: cache.keysUsed(), mountKeys: mountKeys, to: destination,
                                                                 client: registryClient(), warn: { emit(.warning($0)) })))
                        } catch let corruption as CacheCorruption {
                            throw corruption
                        } catch where destination.ignoreError {
                            emit(.warning("--cache-to \(destination): the export failed, ignored (ignore-error=true): \(error)"))
                        } catch {
                            guard case .registry = destination.location else { throw error }
                            throw CacheTransfer.ExportFailure(description: "--cache-to \(destination): \(error)")
                        }
                    }
                    return summary
                } catch let corruption as CacheCorruption {
                    attempts += 1
                    emit(.warning("\(corruption); dropped, rebuilding"))
                    cache.drop(key: nil, layer: corruption.digest)
                    if attempts >= 3 { throw corruption }
                }
            }
        }
    }

    /// Before the build: the registries the outputs push to, and a `--cache-to` registry whose failure
    /// would fail the run, can be reached and take the run's credentials.
    private func probeRegistries() async throws {
        for output in options.outputs { try await output.exporter.probe(plan: plan, registry: images.client) }
        if let destination = options.cacheTo, !destination.ignoreError, case .registry(let reference) = destination.location {
            do {
                try await images.client.probe(reference)
            } catch let error as CancellationError {
                throw error
            } catch {
                throw CacheTransfer.ExportFailure(description: "--cache-to \(destination): \(error). Nothing was built")
            }
        }
    }

    /// The client for `--cache-from` and `--cache-to` registries: the one that pulled the base images (the run's
    /// credentials and insecure registries; cache layers it knows are mounted, not sent).
    private func registryClient() -> RegistryClient { images.client }

    private func attempt(cache: BuildCache) async throws -> RunSummary {
        let runDirectory = try RunDirectory.create(in: cache.layout.runs)
        defer { RunDirectory.remove(runDirectory) }
        let stacks = try LayerStacks(cache: cache, runDirectory: runDirectory)
        let context = RunContext(images: images, runDirectory: runDirectory, cache: cache, stacks: stacks,
                                 views: StageViews(stacks: stacks), digests: SourceDigests(file: cache.layout.fileDigests),
                                 contextIgnore: IgnoreMatcher(plan.ignore))
        var results: [String: StageResult] = [:]
        var failures: [RunFailure] = []
        var timings: [(String, Double)] = []
        try await schedule(plan.stages, context: context, results: &results, failures: &failures, timings: &timings)
        if failures.isEmpty {
            try await writeOutputs(results: results, context: context)
            context.digests.save()
        }
        return RunSummary(stageSeconds: timings, failures: failures)
    }

    private func schedule(_ stages: [BoundStage], context: RunContext,
                          results: inout [String: StageResult], failures: inout [RunFailure],
                          timings: inout [(String, Double)]) async throws {
        var pending = stages
        var blocked = Set<String>()
        let jobs = max(1, options.jobs)
        try await withThrowingTaskGroup(of: (String, Result<StageResult, any Error>, Double).self) { group in
            var running = 0
            func startReady() {
                while running < jobs,
                      let index = pending.firstIndex(where: { stage in stage.dependencies.allSatisfy { results[$0] != nil } })
                {
                    let stage = pending.remove(at: index)
                    let runner = StageRunner(stage: stage, plan: plan, options: options, context: context, emit: emit)
                    let dependencies = results.filter { stage.dependencies.contains($0.key) }
                    running += 1
                    group.addTask {
                        let started = Date()
                        do {
                            return (stage.name, .success(try await runner.run(dependencies: dependencies)),
                                    Date().timeIntervalSince(started))
                        } catch var failure as RunFailure {
                            // A failure below the stage's steps (a layer stack) is the stage's.
                            if failure.stage == nil {
                                failure.stage = stage.name
                                failure.location = failure.location ?? stage.location
                            }
                            return (stage.name, .failure(failure), Date().timeIntervalSince(started))
                        } catch let corruption as CacheCorruption {
                            return (stage.name, .failure(corruption), 0)
                        } catch is CancellationError {
                            return (stage.name, .failure(RunFailure(.cancelled, stage: stage.name, location: stage.location)), 0)
                        } catch {
                            return (stage.name, .failure(RunFailure(.stepFailed("\(error)"), stage: stage.name, location: stage.location)),
                                    Date().timeIntervalSince(started))
                        }
                    }
                }
            }
            startReady()
            while let (name, outcome, seconds) = try await group.next() {
                running -= 1
                switch outcome {
                case .success(let result):
                    results[name] = result
                    timings.append((name, seconds))
                case .failure(let corruption as CacheCorruption):
                    group.cancelAll()
                    throw corruption
                case .failure(let error):
                    let failure = error as? RunFailure ?? RunFailure(.stepFailed("\(error)"), stage: name, location: nil)
                    failures.append(failure)
                    emit(.stageFailed(stage: name, message: failure.reason))
                    blocked.insert(name)
                    if !options.keepGoing {
                        group.cancelAll()
                        pending.removeAll()
                    } else {
                        // Everything that needs the failed stage cannot run; the rest goes on.
                        var changed = true
                        while changed {
                            changed = false
                            for stage in pending where stage.dependencies.contains(where: blocked.contains) {
                                blocked.insert(stage.name)
                                changed = true
                            }
                            pending.removeAll { blocked.contains($0.name) }
                        }
                    }
                }
                startReady()
            }
        }
    }

    // MARK: Outputs

    /// Hands what the run built to each output's exporter.
    private func writeOutputs(results: [String: StageResult], context: RunContext) async throws {
        let input = exportInput(results: results, context: context)
        for output in options.outputs {
            let exporter = output.exporter
            do {
                try await exporter.export(input)
            } catch let error as OutputError {
                throw error
            } catch let error as CocoaError {
                // Foundation's own text says "(null)" at times: say what failed in words.
                let reason = (error.underlying as? POSIXError).map { String(cString: strerror($0.code.rawValue)) } ?? "it could not be written"
                throw OutputError(destination: exporter.destination,
                                  reason: "cannot write `\(error.filePath ?? exporter.destination)`: \(reason)")
            }
        }
    }

    /// What the run built, as values the exporters read: the targets (root filesystem, image) and the
    /// stored artifacts of the stages built.
    private func exportInput(results: [String: StageResult], context: RunContext) -> ExportInput {
        let targets = plan.targets
        var built: [String: BuiltTarget] = [:]
        for name in targets {
            if let result = results[name] { built[name] = builtTarget(result, context: context) }
        }
        let cache = context.cache
        var artifacts: [BuiltArtifacts] = []
        for stage in plan.stages where !stage.artifacts.isEmpty {
            guard let result = results[stage.name] else { continue }
            artifacts.append(BuiltArtifacts(stage: stage.name, artifacts: stage.artifacts.compactMap { artifact in
                guard let tree = result.artifacts[artifact.path] else { return nil }
                return BuiltArtifact(name: artifact.name, unpack: { try cache.apply(tree.digest, to: $0) })
            }))
        }
        let emit = emit
        return ExportInput(planName: plan.planName, targetNames: targets, targets: built, artifacts: artifacts,
                           force: options.force, allowSpecialFiles: options.allowSpecialFiles,
                           stagingDirectory: context.cache.layout.runs, warn: { emit(.warning($0)) }, emit: emit,
                           imageStore: context.images.store, registry: context.images.client,
                           sourceDateEpoch: options.sourceDateEpoch)
    }

    /// A layer of the build cache as an image layer; encoded for an output, it is the converted blob.
    private static func storedLayer(_ descriptor: Descriptor, cache: BuildCache) -> BuiltLayer {
        BuiltLayer(descriptor: descriptor, diffID: descriptor.digest, path: cache.path(of: descriptor.digest),
                   copy: { try cache.export(descriptor, to: $0) },
                   encode: { encoding in
                       let converted = try cache.encodedLayer(descriptor, encoding: encoding)
                       return BuiltLayer(descriptor: converted.descriptor, diffID: converted.diffID,
                                         path: cache.path(of: converted.descriptor.digest),
                                         copy: { try cache.export(converted.descriptor, to: $0) }, isBuilt: true)
                   }, isBuilt: true)
    }

    /// A target's root filesystem and image: the base image's layers, then the layer of every step of
    /// its chain that changed files, straight from the build cache.
    private func builtTarget(_ result: StageResult, context: RunContext) -> BuiltTarget {
        let cache = context.cache
        var layers: [BuiltLayer] = []
        var history: [ImageConfiguration.History] = []
        if let image = result.image {
            for ((descriptor, diffID), path) in zip(zip(image.manifest.layers, image.configuration.rootfs.diffIDs), image.layerPaths) {
                layers.append(BuiltLayer(descriptor: descriptor, diffID: diffID, path: path, copy: { layout in
                    try layout.importBlob(fromFile: path, digest: descriptor.digest, size: descriptor.size)
                }))
            }
            history = image.configuration.history ?? []
        }
        let baseHistoryCount = history.count
        for layer in result.layers {
            layers.append(Self.storedLayer(layer.descriptor, cache: cache))
            history.append(ImageConfiguration.History(createdBy: "plan: " + layer.createdBy, comment: "built by plan run"))
        }
        let image = BuiltImage(platform: result.image?.configuration.platform ?? plan.platform, configuration: result.configuration.containerConfiguration,
                               layers: layers, history: history, baseHistoryCount: baseHistoryCount)
        let views = context.views
        return BuiltTarget(name: result.name, rootFilesystem: {
            try await views.root(stage: result.name, base: result.baseRootfs, layers: result.layers)
        }, image: image)
    }
}
