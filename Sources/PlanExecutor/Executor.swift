import Foundation
import PlanCompiler
import PlanOCI

/// How a run went, stage by stage.
public struct RunSummary: Sendable {
    public var stageSeconds: [(stage: String, seconds: Double)]
    public var failures: [ExecutionFailure]
}

/// `plan run`'s engine: builds the stages the targets need — independent ones in parallel, up to
/// `jobs` — and writes the outputs. Planning (the `BuildGraph`) is done before; this only executes.
public final class Executor: Sendable {
    let graph: BuildGraph
    let options: RunOptions
    let emit: @Sendable (ExecutionEvent) -> Void

    public init(graph: BuildGraph, options: RunOptions, events: @escaping @Sendable (ExecutionEvent) -> Void) {
        self.graph = graph
        self.options = options
        self.emit = events
    }

    /// The stages to build: the targets and what they need, in the graph's dependency order.
    var neededStages: [GraphStage] { graph.stages(building: options.targets) }

    /// What every stage of one attempt shares.
    struct RunContext {
        var images: BaseImages
        var runDirectory: String
        var cache: BuildCache
        var stacks: LayerStacks
        var views: StageViews
        var digests: SourceDigests
    }

    public func run() async throws -> RunSummary {
        // Outputs are checked before anything is built: a run never ends in "cannot write there".
        try OutputDestination.check(options.outputs, graph: graph, targets: options.targets.isEmpty ? graph.targets : options.targets,
                                    options: options)
        let cache = try BuildCache(cacheDirectory: options.cacheDirectory)
        RunDirectory.removeStale(in: cache.layout.runs)
        return try await cache.withLock(exclusive: false) {
            for source in options.cacheFrom {
                let report = try CacheTransfer(cache: cache).importLayout(from: source)
                for warning in report.warnings { emit(.warning(warning)) }
            }
            // A layer found corrupt while the build reads it is dropped; the next attempt rebuilds it.
            var attempts = 0
            while true {
                do {
                    let summary = try await attempt(cache: cache)
                    if summary.failures.isEmpty, let destination = options.cacheTo {
                        try CacheTransfer(cache: cache).exportLayout(keys: cache.keysUsed(), to: destination)
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

    private func attempt(cache: BuildCache) async throws -> RunSummary {
        let runDirectory = try RunDirectory.create(in: cache.layout.runs)
        defer { RunDirectory.remove(runDirectory) }
        let images = try BaseImages(cacheDirectory: options.cacheDirectory, insecureRegistries: options.insecureRegistries,
                                    credentials: options.registryCredentials)
        let stacks = try LayerStacks(cache: cache, runDirectory: runDirectory)
        let context = RunContext(images: images, runDirectory: runDirectory, cache: cache, stacks: stacks,
                                 views: StageViews(stacks: stacks), digests: SourceDigests(file: cache.layout.fileDigests))
        var results: [String: StageResult] = [:]
        var failures: [ExecutionFailure] = []
        var timings: [(String, Double)] = []
        try await schedule(neededStages, context: context, results: &results, failures: &failures, timings: &timings)
        if failures.isEmpty {
            try await writeOutputs(results: results, context: context)
            context.digests.save()
        }
        return RunSummary(stageSeconds: timings, failures: failures)
    }

    private func schedule(_ stages: [GraphStage], context: RunContext,
                          results: inout [String: StageResult], failures: inout [ExecutionFailure],
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
                    let runner = StageRunner(stage: stage, graph: graph, options: options, context: context, emit: emit)
                    let dependencies = results.filter { stage.dependencies.contains($0.key) }
                    running += 1
                    group.addTask {
                        let started = Date()
                        do {
                            return (stage.name, .success(try await runner.run(dependencies: dependencies)),
                                    Date().timeIntervalSince(started))
                        } catch let failure as ExecutionFailure {
                            return (stage.name, .failure(failure), Date().timeIntervalSince(started))
                        } catch let corruption as CacheCorruption {
                            return (stage.name, .failure(corruption), 0)
                        } catch is CancellationError {
                            return (stage.name, .failure(ExecutionFailure(stage: stage.name, step: "", location: nil,
                                                                          message: "stopped")), 0)
                        } catch {
                            return (stage.name, .failure(ExecutionFailure(stage: stage.name, step: "",
                                                                          location: stage.location.description,
                                                                          message: "\(error)")), Date().timeIntervalSince(started))
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
                    let failure = error as? ExecutionFailure
                        ?? ExecutionFailure(stage: name, step: "", location: nil, message: "\(error)")
                    failures.append(failure)
                    emit(.stageFailed(stage: name, message: failure.message))
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
        let targets = options.targets.isEmpty ? graph.targets : options.targets
        var built: [String: BuiltTarget] = [:]
        for name in targets {
            if let result = results[name] { built[name] = builtTarget(result, context: context) }
        }
        let cache = context.cache
        var artifacts: [BuiltArtifacts] = []
        for stage in neededStages where !stage.artifacts.isEmpty {
            guard let result = results[stage.name] else { continue }
            artifacts.append(BuiltArtifacts(stage: stage.name, artifacts: stage.artifacts.compactMap { artifact in
                guard let tree = result.artifacts[artifact.path] else { return nil }
                return BuiltArtifact(name: artifact.name, unpack: { try cache.apply(tree.digest, to: $0) })
            }))
        }
        let emit = emit
        return ExportInput(planName: graph.planName, targetNames: targets, targets: built, artifacts: artifacts,
                           force: options.force, allowSpecialFiles: options.allowSpecialFiles,
                           stagingDirectory: context.cache.layout.runs, warn: { emit(.warning($0)) })
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
        for layer in result.layers {
            layers.append(BuiltLayer(descriptor: layer.descriptor, diffID: layer.descriptor.digest, path: cache.path(of: layer.descriptor.digest),
                                     copy: { try cache.export(layer.descriptor, to: $0) }))
            history.append(ImageConfiguration.History(createdBy: "plan: " + layer.createdBy, comment: "built by plan run"))
        }
        let image = BuiltImage(platform: result.image?.configuration.platform ?? .host, configuration: result.state.containerConfiguration,
                               layers: layers, history: history)
        let views = context.views
        return BuiltTarget(name: result.name, rootFilesystem: {
            try await views.root(stage: result.name, base: result.baseRootfs, layers: result.layers)
        }, image: image)
    }
}
