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

/// `plan run`'s engine: builds the stage instances of a bound build — independent ones in parallel, up to
/// `jobs`, an instance shared by several platforms once — and writes the outputs. Everything the plan means is
/// worked out before (`Binder`, `BoundBuild`); this only executes.
public final class Executor: Sendable {
    let build: BoundBuild
    /// The first platform's plan: what every platform's plan says alike (context, plan file, targets).
    var plan: BoundPlan { build.plans[0] }
    let options: RunOptions
    /// The plan's images, already pulled for binding.
    let images: BaseImages
    let emit: @Sendable (ExecutionEvent) -> Void

    /// Builds `build`, which holds at least one plan.
    public init(build: BoundBuild, options: RunOptions, images: BaseImages, events: @escaping @Sendable (ExecutionEvent) -> Void) {
        precondition(!build.plans.isEmpty, "a build binds the plan for at least one platform")
        self.build = build
        self.options = options
        self.images = images
        self.emit = events
    }

    /// Builds one platform's plan.
    public convenience init(plan: BoundPlan, options: RunOptions, images: BaseImages,
                            events: @escaping @Sendable (ExecutionEvent) -> Void) {
        self.init(build: BoundBuild(plans: [plan]), options: options, images: images, events: events)
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
        try OutputDestination.check(options.outputs, plan: plan, options: options, platforms: build.platforms)
        // A platform this machine cannot run stops the run before anything is pulled or built (only `run`
        // steps start the platform's programs; copies need no emulator).
        try options.emulation.check(Self.platformsRunningPrograms(build))
        try await probeRegistries()
        let cache = try BuildCache(cacheDirectory: options.cacheDirectory)
        RunDirectory.removeStale(in: cache.layout.runs)
        return try await cache.withLock(exclusive: false) {
            let transfer = CacheTransfer(cache: cache)
            let mountKeys = Set(build.plans.flatMap(CacheTransfer.mountKeys)).sorted()
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

    /// The distinct platforms whose programs the build starts (those of instances with `run` steps), in
    /// build order: each needs to run here, natively or emulated.
    static func platformsRunningPrograms(_ build: BoundBuild) -> [Platform] {
        var platforms: [Platform] = []
        for instance in build.instances
        where instance.stage.steps.contains(where: { if case .run = $0.action { true } else { false } }) {
            if !platforms.contains(instance.stage.platform) { platforms.append(instance.stage.platform) }
        }
        return platforms
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
        try await schedule(build.instances, context: context, results: &results, failures: &failures, timings: &timings)
        if failures.isEmpty {
            try await writeOutputs(results: results, context: context)
            context.digests.save()
        }
        return RunSummary(stageSeconds: timings, failures: failures)
    }

    /// Builds `instances` (in dependency order), results keyed by instance name.
    private func schedule(_ instances: [StageInstance], context: RunContext,
                          results: inout [String: StageResult], failures: inout [RunFailure],
                          timings: inout [(String, Double)]) async throws {
        var pending = instances
        var blocked = Set<String>()
        let jobs = max(1, options.jobs)
        let build = build
        try await withThrowingTaskGroup(of: (String, Result<StageResult, any Error>, Double).self) { group in
            var running = 0
            func startReady() {
                while running < jobs,
                      let index = pending.firstIndex(where: { instance in instance.dependencies.values.allSatisfy { results[$0] != nil } })
                {
                    let instance = pending.remove(at: index)
                    let stage = instance.stage
                    let name = instance.name
                    let runner = StageRunner(stage: stage, name: name, plan: build.plans[instance.plans[0]], options: options,
                                             context: context, emit: emit)
                    // The runner reads its dependencies by stage name.
                    var dependencies: [String: StageResult] = [:]
                    for (stageName, instanceName) in instance.dependencies { dependencies[stageName] = results[instanceName] }
                    running += 1
                    group.addTask {
                        let started = Date()
                        do {
                            return (name, .success(try await runner.run(dependencies: dependencies)),
                                    Date().timeIntervalSince(started))
                        } catch var failure as RunFailure {
                            // A failure below the stage's steps (a layer stack) is the stage's.
                            if failure.stage == nil {
                                failure.stage = name
                                failure.location = failure.location ?? stage.location
                            }
                            return (name, .failure(failure), Date().timeIntervalSince(started))
                        } catch let corruption as CacheCorruption {
                            return (name, .failure(corruption), 0)
                        } catch is CancellationError {
                            return (name, .failure(RunFailure(.cancelled, stage: name, location: stage.location)), 0)
                        } catch {
                            return (name, .failure(RunFailure(.stepFailed("\(error)"), stage: name, location: stage.location)),
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
                            for instance in pending where instance.dependencies.values.contains(where: blocked.contains) {
                                blocked.insert(instance.name)
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

    /// What the run built, as values the exporters read: for each platform, the targets (root filesystem,
    /// image) and the stored artifacts of the stages built; the first platform's also as `targets` and `artifacts`.
    private func exportInput(results: [String: StageResult], context: RunContext) -> ExportInput {
        let targets = plan.targets
        let cache = context.cache
        var builds: [PlatformBuild] = []
        for (position, platformPlan) in build.plans.enumerated() {
            var built: [String: BuiltTarget] = [:]
            for name in targets {
                if let instance = build.instanceNames[position][name], let result = results[instance] {
                    // A target pinned to a platform (`platform: linux/arm64`) is an image of that platform, as in BuildKit.
                    let platform = platformPlan.stage(named: name)?.platform ?? platformPlan.platform
                    built[name] = builtTarget(result, name: name, platform: platform, context: context)
                }
            }
            var artifacts: [BuiltArtifacts] = []
            for stage in platformPlan.stages where !stage.artifacts.isEmpty {
                guard let instance = build.instanceNames[position][stage.name], let result = results[instance] else { continue }
                artifacts.append(BuiltArtifacts(stage: stage.name, artifacts: stage.artifacts.compactMap { artifact in
                    guard let tree = result.artifacts[artifact.path] else { return nil }
                    return BuiltArtifact(name: artifact.name, unpack: { try cache.apply(tree.digest, to: $0) })
                }))
            }
            builds.append(PlatformBuild(platform: platformPlan.platform, targets: built, artifacts: artifacts))
        }
        let emit = emit
        return ExportInput(planName: plan.planName, targetNames: targets, targets: builds[0].targets, artifacts: builds[0].artifacts,
                           force: options.force, allowSpecialFiles: options.allowSpecialFiles,
                           stagingDirectory: context.cache.layout.runs, warn: { emit(.warning($0)) }, emit: emit,
                           imageStore: context.images.store, registry: context.images.client,
                           sourceDateEpoch: options.sourceDateEpoch, builds: builds)
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
    private func builtTarget(_ result: StageResult, name: String, platform: Platform, context: RunContext) -> BuiltTarget {
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
        let image = BuiltImage(platform: result.image?.configuration.platform ?? platform, configuration: result.configuration.containerConfiguration,
                               layers: layers, history: history, baseHistoryCount: baseHistoryCount)
        let views = context.views
        return BuiltTarget(name: name, rootFilesystem: {
            try await views.root(stage: result.name, base: result.baseRootfs, layers: result.layers)
        }, image: image)
    }
}
