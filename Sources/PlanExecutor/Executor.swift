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
    var neededStages: [GraphStage] {
        let wanted = options.targets.isEmpty ? graph.targets : options.targets
        var needed = Set(wanted)
        for stage in graph.stages.reversed() where needed.contains(stage.name) {
            needed.formUnion(stage.dependencies)
        }
        return graph.stages.filter { needed.contains($0.name) }
    }

    public func run() async throws -> RunSummary {
        let runDirectory = options.cacheDirectory + "/runs/\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        let images = try BaseImages(cacheDirectory: options.cacheDirectory, insecureRegistries: options.insecureRegistries)
        let stages = neededStages
        var results: [String: StageResult] = [:]
        var failures: [ExecutionFailure] = []
        var timings: [(String, Double)] = []
        defer {
            for stage in stages.reversed() { umount2(runDirectory + "/stages/" + stage.name + "/rootfs", Int32(MNT_DETACH)) }
            try? FileManager.default.removeItem(atPath: runDirectory)
        }
        try await schedule(stages, images: images, runDirectory: runDirectory, results: &results, failures: &failures,
                           timings: &timings)
        if failures.isEmpty {
            try await writeOutputs(results: results)
        }
        return RunSummary(stageSeconds: timings, failures: failures)
    }

    private func schedule(_ stages: [GraphStage], images: BaseImages, runDirectory: String,
                          results: inout [String: StageResult], failures: inout [ExecutionFailure],
                          timings: inout [(String, Double)]) async throws {
        var pending = stages
        var blocked = Set<String>()
        let jobs = max(1, options.jobs)
        try await withThrowingTaskGroup(of: (String, Result<StageResult, ExecutionFailure>, Double).self) { group in
            var running = 0
            func startReady() {
                while running < jobs,
                      let index = pending.firstIndex(where: { stage in stage.dependencies.allSatisfy { results[$0] != nil } })
                {
                    let stage = pending.remove(at: index)
                    let runner = StageRunner(stage: stage, graph: graph, options: options, images: images,
                                             runDirectory: runDirectory, emit: emit)
                    let dependencies = results.filter { stage.dependencies.contains($0.key) }
                    running += 1
                    group.addTask {
                        let started = Date()
                        do {
                            return (stage.name, .success(try await runner.run(dependencies: dependencies)),
                                    Date().timeIntervalSince(started))
                        } catch let failure as ExecutionFailure {
                            return (stage.name, .failure(failure), Date().timeIntervalSince(started))
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
                case .failure(let failure):
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

    private func writeOutputs(results: [String: StageResult]) async throws {
        let targets = options.targets.isEmpty ? graph.targets : options.targets
        for output in options.outputs {
            switch output {
            case .local(let destination):
                let target = try single(targets, for: "type=local")
                guard let result = results[target] else { continue }
                try replaceAtomically(destination) { temporary in
                    try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
                    try StageRunner.copyTree(result.rootfs, to: temporary)
                }
            case .artifacts(let destination):
                try replaceAtomically(destination) { temporary in
                    for stage in neededStages where !stage.artifacts.isEmpty {
                        guard let result = results[stage.name] else { continue }
                        for artifact in stage.artifacts {
                            let folder = temporary + "/" + stage.name
                            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                            let source = ContainedPath.resolve(artifact.path, in: result.rootfs)
                            try FileCopier().copy([(source, ".")], to: "/" + stage.name + "/" + artifact.name, in: temporary)
                        }
                    }
                }
            case .oci(let destination), .docker(let destination):
                let target = try single(targets, for: "an image output")
                guard let result = results[target] else { continue }
                try writeImage(result, results: results, output: output, destination: destination)
            }
        }
    }

    private func single(_ targets: [String], for what: String) throws -> String {
        guard targets.count == 1, let target = targets.first else {
            throw ExecutionFailure(stage: targets.joined(separator: ", "), step: "", location: nil,
                                   message: "\(what) needs exactly one target; choose one with --target")
        }
        return target
    }

    /// Builds into a temporary sibling, then renames over `destination`: nothing half-written is ever there.
    private func replaceAtomically(_ destination: String, _ build: (String) throws -> Void) throws {
        let temporary = destination + ".plan-\(getpid())"
        try? FileManager.default.removeItem(atPath: temporary)
        do {
            try build(temporary)
            let old = destination + ".plan-old-\(getpid())"
            if FileManager.default.fileExists(atPath: destination) { try FileManager.default.moveItem(atPath: destination, toPath: old) }
            try FileManager.default.moveItem(atPath: temporary, toPath: destination)
            try? FileManager.default.removeItem(atPath: old)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    /// The target's image: the base image's layers, then one layer per stage of its chain.
    private func writeImage(_ result: StageResult, results: [String: StageResult], output: OutputSpec,
                            destination: String) throws {
        let staging = options.cacheDirectory + "/runs/image-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let layout = try OCILayout.create(at: URL(fileURLWithPath: staging))
        var layers: [ImageLayer] = []
        var history: [PlanOCI.ImageConfiguration.History] = []
        if let image = result.image {
            for ((descriptor, diffID), path) in zip(zip(image.manifest.layers, image.configuration.rootfs.diffIDs), image.layerPaths) {
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                try layout.putBlob(data)
                layers.append(ImageLayer(descriptor: descriptor, diffID: diffID))
            }
            history = image.configuration.history ?? []
        }
        for name in result.chain {
            guard let stage = results[name] else { continue }
            let sink = MemoryByteSink()
            let writer = TarWriter(sink)
            if let upper = stage.upper {
                try LayerDiffer().overlayUpper(upper, to: writer)
            } else if let base = stage.baseRootfs {
                try LayerDiffer().diff(base: base, changed: stage.rootfs, to: writer)
            } else {
                try LayerDiffer().writeDirectory(stage.rootfs, to: writer)
            }
            try writer.finish()
            let data = Data(sink.bytes)
            let digest = try layout.putBlob(data)
            layers.append(ImageLayer(descriptor: Descriptor(mediaType: .ociLayer, digest: digest, size: Int64(data.count)),
                                     diffID: digest))
            history.append(PlanOCI.ImageConfiguration.History(createdBy: "plan: stage \(name)", comment: "built by plan run"))
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
                try replaceAtomically(destination) { temporary in
                    let target = try OCILayout.create(at: URL(fileURLWithPath: temporary))
                    try target.copyImage(written.manifestDescriptor, from: layout, name: "latest")
                }
            }
        }
    }
}
