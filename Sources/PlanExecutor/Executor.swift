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
        let images = try BaseImages(cacheDirectory: options.cacheDirectory, insecureRegistries: options.insecureRegistries)
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

    private func writeOutputs(results: [String: StageResult], context: RunContext) async throws {
        let targets = options.targets.isEmpty ? graph.targets : options.targets
        for output in options.outputs {
            do {
                try await writeOutput(output, targets: targets, results: results, context: context)
            } catch let error as OutputError {
                throw error
            } catch let error as CocoaError {
                // Foundation's own text says "(null)" at times: say what failed in words.
                let reason = (error.underlying as? POSIXError).map { String(cString: strerror($0.code.rawValue)) } ?? "it could not be written"
                throw OutputError(destination: output.destination, reason: "cannot write `\(error.filePath ?? output.destination)`: \(reason)")
            }
        }
    }

    private func writeOutput(_ output: OutputSpec, targets: [String], results: [String: StageResult], context: RunContext) async throws {
        // What the destination holds may have changed while the build ran.
        try OutputDestination.checkExisting(output, force: options.force)
        switch output {
        case .local(let destination, let merge):
            let target = try single(targets, for: "type=local")
            guard let result = results[target] else { return }
            let root = try await context.views.root(stage: target, base: result.baseRootfs, layers: result.layers)
            try writeFolder(destination, merge: merge) { temporary in
                try StageRunner.copyTree(root, to: temporary)
            }
        case .artifacts(let destination, let merge):
            try writeFolder(destination, merge: merge) { temporary in
                for stage in neededStages where !stage.artifacts.isEmpty {
                    guard let result = results[stage.name] else { continue }
                    let folder = temporary + "/" + stage.name
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                    for artifact in stage.artifacts {
                        guard let tree = result.artifacts[artifact.path] else { continue }
                        // The stored tree holds one entry, `artifact`: unpack it, then give it its name.
                        let unpacking = folder + "/.unpacking"
                        try FileManager.default.createDirectory(atPath: unpacking, withIntermediateDirectories: true)
                        try context.cache.apply(tree.digest, to: unpacking)
                        try FileManager.default.moveItem(atPath: unpacking + "/artifact", toPath: folder + "/" + artifact.name)
                        try FileManager.default.removeItem(atPath: unpacking)
                    }
                }
            }
        case .oci(let destination), .docker(let destination):
            let target = try single(targets, for: "an image output")
            guard let result = results[target] else { return }
            if output.writesArchive {
                // An archive goes into a folder that may not exist yet, like a folder output.
                let parent = (OutputDestination.absolute(destination) as NSString).deletingLastPathComponent
                try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            }
            try writeImage(result, cache: context.cache, output: output, destination: destination)
        }
    }

    /// Writes a host folder output: replaced whole, or merged into what is there; special files are
    /// left out unless allowed (images keep them: there they are legitimate).
    private func writeFolder(_ destination: String, merge: Bool, _ build: (String) throws -> Void) throws {
        let write = { (temporary: String) throws in
            try build(temporary)
            guard !self.options.allowSpecialFiles else { return }
            let report = try SpecialFiles.strip(temporary)
            if !report.isEmpty { self.emit(.warning(report.warning(for: "--output dest=\(destination)"))) }
        }
        if merge {
            try AtomicOutput.merge(destination, write)
        } else {
            try AtomicOutput.replace(destination, write)
        }
    }

    private func single(_ targets: [String], for what: String) throws -> String {
        guard targets.count == 1, let target = targets.first else {
            throw ExecutionFailure(stage: targets.joined(separator: ", "), step: "", location: nil,
                                   message: "\(what) needs exactly one target; choose one with --target")
        }
        return target
    }

    /// The target's image: the base image's layers, then the layer of every step of its chain that
    /// changed files, straight from the build cache.
    private func writeImage(_ result: StageResult, cache: BuildCache, output: OutputSpec, destination: String) throws {
        let staging = options.cacheDirectory + "/runs/image-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let layout = try OCILayout.create(at: URL(fileURLWithPath: staging))
        var layers: [ImageLayer] = []
        var history: [PlanOCI.ImageConfiguration.History] = []
        if let image = result.image {
            for ((descriptor, diffID), path) in zip(zip(image.manifest.layers, image.configuration.rootfs.diffIDs), image.layerPaths) {
                try layout.importBlob(fromFile: path, digest: descriptor.digest, size: descriptor.size)
                layers.append(ImageLayer(descriptor: descriptor, diffID: diffID))
            }
            history = image.configuration.history ?? []
        }
        for layer in result.layers {
            try cache.export(layer.descriptor, to: layout)
            layers.append(ImageLayer(descriptor: layer.descriptor, diffID: layer.descriptor.digest))
            history.append(PlanOCI.ImageConfiguration.History(createdBy: "plan: " + layer.createdBy, comment: "built by plan run"))
        }
        let platform = result.image?.configuration.platform ?? .host
        let written = try ImageWriter(platform: platform, config: result.state.containerConfiguration, layers: layers,
                                      history: history).write(to: layout)
        switch output {
        case .docker:
            try DockerArchive.write(manifest: written.manifestDescriptor, from: layout,
                                    repoTags: ["\(graph.planName)/\(result.name):latest"], to: destination)
        default:
            if destination.hasSuffix(".tar") {
                try OCIArchive.write(written.manifestDescriptor, name: "\(graph.planName)/\(result.name):latest",
                                     from: layout, to: destination)
            } else {
                try AtomicOutput.replace(destination) { temporary in
                    let target = try OCILayout.create(at: URL(fileURLWithPath: temporary))
                    try target.copyImage(written.manifestDescriptor, from: layout, name: "latest")
                }
            }
        }
    }
}
