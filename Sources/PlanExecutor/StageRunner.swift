import Foundation
import PlanCompiler
import PlanDiagnostics
import PlanOCI
import PlanProcess
import PlanPaths
import PlanValues

/// What a finished stage leaves for the stages after it and for the outputs.
struct StageResult: Sendable {
    var name: String
    /// The base image's root filesystem under the chain's layers (nil for `scratch`).
    var baseRootfs: String?
    /// The layers of the chain, bottom first: the parent stages' steps, then this stage's.
    var layers: [StepLayer]
    var state: StageState
    /// The base image at the bottom of the stage's chain, if any.
    var image: BaseImage?
    /// The stages of the chain, bottom first, ending with this one.
    var chain: [String]
    /// The key of the stage's last step: everything the stage's result depends on.
    var key: String
    /// Declared artifact path → its tree, stored in the cache.
    var artifacts: [String: Descriptor]
}

/// Builds one stage: its base, then each instruction in order — skipping every step whose key the
/// cache knows — then the artifact check.
struct StageRunner {
    let stage: GraphStage
    let graph: BuildGraph
    let options: RunOptions
    /// The stores, folders and views every stage of the attempt shares.
    let context: Executor.RunContext
    let emit: @Sendable (ExecutionEvent) -> Void

    func failure(_ message: String, step: String = "", location: SourceLocation? = nil,
                 output: [String] = []) -> ExecutionFailure {
        ExecutionFailure(stage: stage.name, step: step, location: location?.description ?? stage.location.description,
                         message: message, lastOutput: output)
    }

    /// The values of build arguments the stage declares.
    var argumentValues: [String: String] {
        var values: [String: String] = [:]
        for argument in graph.arguments where stage.arguments.contains(argument.name) {
            if let value = argument.value { values[argument.name] = value }
        }
        return values
    }

    /// Whether this stage may take steps from the cache.
    var usesCache: Bool { !options.noCache && !options.noCacheStages.contains(stage.name) }

    func run(dependencies: [String: StageResult]) async throws -> StageResult {
        var state = StageState()
        var image: BaseImage?
        var chain = [stage.name]
        var layers: [StepLayer] = []
        var baseRootfs: String?
        var key: String
        // The base, and the configuration set since the last step: the key chain holds them, and the
        // next step's inputs name them too, so `--explain` says which changed.
        var carried: [(String, String)] = []
        switch stage.base {
        case .scratch:
            carried = [("base", "scratch")]
            key = StepInputs(parent: "", items: carried).key
        case .image(let text):
            let expanded = VariableExpansion.expand(text, Dictionary(graph.arguments.compactMap { a in a.value.map { (a.name, $0) } },
                                                                   uniquingKeysWith: { $1 }))
            do {
                image = try await context.images.image(expanded)
            } catch {
                throw failure("cannot get base image `\(expanded)`: \(error)")
            }
            state = StageState(image: image?.configuration.config)
            baseRootfs = image?.rootfs
            carried = [("base", image.map { "image \($0.manifestDigest)" } ?? expanded)]
            key = StepInputs(parent: "", items: carried).key
        case .stage(let parentName):
            guard let parent = dependencies[parentName] else { throw failure("stage `\(parentName)` did not finish") }
            state = parent.state
            image = parent.image
            chain = parent.chain + [stage.name]
            layers = parent.layers
            baseRootfs = parent.baseRootfs
            key = parent.key
        }

        emit(.stageStarted(stage: stage.name))
        let started = Date()
        let workspace = StageWorkspace(stacks: context.stacks, folder: context.runDirectory + "/stages/" + stage.name, base: baseRootfs)
        for (index, instruction) in stage.instructions.enumerated() {
            try Task.checkCancellation()
            guard var step = try await inputs(for: instruction, state: &state, parent: key, dependencies: dependencies) else {
                let configuration = Self.configItems(state)
                key = StepInputs(parent: key, items: configuration).key
                carried = carried.filter { $0.0 == "base" } + configuration
                continue
            }
            if !carried.isEmpty {
                let own = Set(step.inputs.items.map(\.name))
                step.inputs = StepInputs(parent: step.inputs.parent, items: carried.filter { !own.contains($0.0) }
                                             + step.inputs.items.map { ($0.name, $0.value) })
                carried = []
            }
            let position = historyPosition(index)
            key = step.inputs.key
            if usesCache, let record = context.cache.record(for: step.inputs.key, warn: { emit(.warning($0)) }) {
                emit(.cache(stage: stage.name, step: index, description: step.description, hit: true, reason: nil))
                if context.cache.lastKey(at: position) != step.inputs.key { context.cache.remember(step.inputs, at: position) }
                if let descriptor = record.layer {
                    let layer = StepLayer(descriptor: descriptor, key: step.inputs.key, createdBy: "\(stage.name): \(step.description)")
                    try workspace.applyHit(layer)
                    layers.append(layer)
                }
                continue
            }
            let reason = !usesCache ? (options.noCache ? "--no-cache" : "--no-cache-filter \(stage.name)")
                : context.cache.lastInputs(at: position).map { step.inputs.difference(from: $0) } ?? "not built before"
            emit(.cache(stage: stage.name, step: index, description: step.description, hit: false, reason: reason))
            let stageLayers = layers
            let descriptor = try await workspace.step(index, layers: stageLayers) { root in
                try await execute(instruction, index: index, description: step.description, state: state, root: root,
                                  dependencies: dependencies)
            }
            try context.cache.put(CacheRecord(key: step.inputs.key, description: "\(graph.planName)/\(stage.name): \(step.description)",
                                      layer: descriptor))
            context.cache.remember(step.inputs, at: position)
            if let descriptor {
                layers.append(StepLayer(descriptor: descriptor, key: step.inputs.key, createdBy: "\(stage.name): \(step.description)"))
            }
        }
        let artifacts = try await storeArtifacts(key: key, base: baseRootfs, layers: layers)
        applyConfiguration(&state)
        emit(.stageFinished(stage: stage.name, seconds: Date().timeIntervalSince(started)))
        return StageResult(name: stage.name, baseRootfs: baseRootfs, layers: layers, state: state, image: image,
                           chain: chain, key: key, artifacts: artifacts)
    }

    /// Where `--explain` finds what step `index` of this stage had last time.
    func historyPosition(_ index: Int) -> String {
        let plan = graph.planFile.hasPrefix("/") ? graph.planFile
            : FileManager.default.currentDirectoryPath + "/" + graph.planFile
        return StepInputs(parent: "", items: [("plan", PosixPath.normalize(plan).path), ("stage", stage.name),
                                              ("step", String(index))]).key
    }

    /// Each declared artifact's tree, from the cache when the stage's key has it (and the stage may
    /// use the cache: a rebuilt stage's artifacts are what it made this time); otherwise checked
    /// (the stage must have produced it) and stored.
    func storeArtifacts(key: String, base: String?, layers: [StepLayer]) async throws -> [String: Descriptor] {
        var artifacts: [String: Descriptor] = [:]
        for artifact in stage.artifacts {
            let artifactKey = StepInputs.derivedKey(key, "artifact " + artifact.path)
            if usesCache, let record = context.cache.record(for: artifactKey, warn: { emit(.warning($0)) }), let tree = record.layer {
                artifacts[artifact.path] = tree
                continue
            }
            let root = try await context.views.root(stage: stage.name, base: base, layers: layers)
            // Resolved inside the stage's root: a link on the way never leads to a host folder.
            let path: String
            do {
                path = try RootedDirectory(root).hostPath(artifact.path, followLast: false)
            } catch {
                throw failure("stage '\(stage.name)' declares artifact '\(artifact.name)' at \(artifact.path), "
                                  + "but the stage did not produce it (\(error.reason))", location: artifact.location)
            }
            var info = stat()
            if lstat(path, &info) != 0 {
                throw failure("stage '\(stage.name)' declares artifact '\(artifact.name)' at \(artifact.path), "
                                  + "but the stage did not produce it; " + Self.whatIsThere(instead: artifact.path, in: root),
                              location: artifact.location)
            }
            // Named `artifact` with times zeroed: the same tree is the same blob, whichever stage made it.
            guard let tree = try context.cache.storeTar(fixedModificationTime: 0, { try LayerDiffer().writeTree(path, as: "artifact", to: $0) })
            else { throw failure("cannot store artifact '\(artifact.name)'", location: artifact.location) }
            try context.cache.put(CacheRecord(key: artifactKey, description: "\(graph.planName)/\(stage.name): artifact \(artifact.name)",
                                      layer: tree))
            artifacts[artifact.path] = tree
        }
        return artifacts
    }

    /// What the nearest existing folder above a missing artifact holds (`/out holds: app-linux, bin/`),
    /// so that a misnamed or misplaced artifact shows where it went.
    static func whatIsThere(instead path: String, in root: String) -> String {
        guard let rooted = try? RootedDirectory(root) else { return "the stage's file system cannot be read" }
        var folder = PosixPath.normalize(path).path
        while folder != "/" {
            folder = (folder as NSString).deletingLastPathComponent
            if folder.isEmpty { folder = "/" }
            // Listed inside the stage's root: a link on the way is never followed onto the host.
            guard rooted.isDirectory(folder), let listed = try? rooted.list(folder) else { continue }
            let names = listed.sorted().map { name -> String in
                let mode = rooted.status(folder + "/" + name).map { $0.st_mode & S_IFMT }
                return mode == S_IFDIR ? name + "/" : name
            }
            if names.isEmpty { return "\(folder) is empty" }
            let shown = names.prefix(20).joined(separator: ", ")
            return "\(folder) holds: " + shown + (names.count > 20 ? " and \(names.count - 20) more" : "")
        }
        return "the stage's file system is empty"
    }

    static func copyTree(_ source: String, to destination: String) throws {
        let pid = try Spawn.start("/bin/cp", ["-a", source + "/.", destination + "/"],
                                  environment: ["PATH": "/usr/bin:/bin"], stdout: .discard, stderr: .discard)
        guard Spawn.wait(pid) == 0 else {
            throw ExecutionFailure(stage: "", step: "", location: nil, message: "cannot copy \(source) to \(destination)")
        }
    }

    /// Image configuration the stage sets beyond its steps; an entrypoint without a cmd resets the
    /// inherited cmd, as in Docker.
    func applyConfiguration(_ state: inout StageState) {
        let config = stage.config
        let values = state.envDictionary.merging(argumentValues) { env, _ in env }
        func words(_ command: GraphCommand) -> [String] {
            switch command {
            case .exec(let items): items
            case .shell(let text): state.shell + [text]
            }
        }
        if let entrypoint = config.entrypoint {
            state.entrypoint = words(entrypoint)
            if config.cmd == nil { state.cmd = nil }
        }
        if let cmd = config.cmd { state.cmd = words(cmd) }
        for port in config.expose {
            let expanded = VariableExpansion.expand(port, values)
            state.exposedPorts.insert(expanded.contains("/") ? expanded : expanded + "/tcp")
        }
        for label in config.labels { state.labels[VariableExpansion.expand(label.key, values)] = VariableExpansion.expand(label.value, values) }
        for volume in config.volumes { state.volumes.insert(VariableExpansion.expand(volume, values)) }
        if let signal = config.stopSignal { state.stopSignal = VariableExpansion.expand(signal, values) }
        if let check = config.healthcheck {
            let test: [String]
            switch check.command {
            case .exec(let items)?: test = ["CMD"] + items
            case .shell(let text)?: test = ["CMD-SHELL", text]
            case nil: test = ["NONE"]
            }
            state.healthcheck = HealthConfiguration(
                test: test, interval: check.interval.flatMap(GoDuration.nanoseconds), timeout: check.timeout.flatMap(GoDuration.nanoseconds),
                startPeriod: check.startPeriod.flatMap(GoDuration.nanoseconds),
                startInterval: check.startInterval.flatMap(GoDuration.nanoseconds), retries: check.retries)
        }
    }

    // MARK: Instructions

    /// Does a step's work on `root` (the state already reflects instructions before it).
    func execute(_ instruction: GraphInstruction, index: Int, description: String, state: StageState, root: String,
                 dependencies: [String: StageResult]) async throws {
        switch instruction {
        case .env, .user, .shell:
            return
        case .workdir(_, let location):
            emit(.stepStarted(stage: stage.name, step: index, description: description))
            do {
                try RootedDirectory(root).makeDirectories(state.workdir)
            } catch {
                throw failure("cannot create the workdir \(state.workdir): \(error)", location: location)
            }
        case .run(let run):
            try await runStep(run, index: index, state: state, root: root)
        case .copy(let copy):
            try await copyStep(copy, index: index, description: description, state: state, root: root, dependencies: dependencies)
        case .add(let add):
            try await addStep(add, index: index, state: state, root: root)
        }
    }

    func runStep(_ run: GraphRun, index: Int, state: StageState, root: String) async throws {
        let description = "run " + run.summary
        emit(.stepStarted(stage: stage.name, step: index, description: description))
        let user: ResolvedUser
        do {
            user = try UserDatabase(root: root).resolve(state.user)
        } catch {
            throw failure("\(error)", step: description, location: run.location)
        }
        var environment = state.env
        for (name, value) in argumentValues.sorted(by: { $0.key < $1.key }) where !environment.contains(where: { $0.name == name }) {
            environment.append((name, value))
        }
        if !environment.contains(where: { $0.name == "PATH" }) { environment.append(("PATH", StageState.defaultPath)) }
        if !environment.contains(where: { $0.name == "HOME" }) { environment.append(("HOME", user.home)) }

        var mounts: [SandboxMount] = []
        for cache in run.cache {
            let key = (cache.id ?? cache.target).map { $0.isLetter || $0.isNumber ? $0 : "_" }
            let host = context.cache.layout.mounts + "/" + String(key)
            try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
            mounts.append(SandboxMount(source: host, target: PosixPath.resolve(cache.target, against: state.workdir).path,
                                       readOnly: false))
        }
        for secret in run.secrets {
            guard let source = options.secrets[secret.id] else {
                if secret.required == true {
                    throw failure("secret `\(secret.id)` is required but was not given (--secret id=\(secret.id),src=FILE)",
                                  step: description, location: run.location)
                }
                continue
            }
            if let name = secret.env {
                let value = (try? String(contentsOfFile: source, encoding: .utf8)) ?? ""
                environment.append((name, value))
            }
            if secret.env == nil || secret.target != nil {
                mounts.append(SandboxMount(source: source, target: secret.target ?? "/run/secrets/\(secret.id)", readOnly: true))
            }
        }
        let tail = OutputTail()
        let stageName = stage.name
        let emit = self.emit
        let request = SandboxRequest(
            rootfs: root, arguments: state.shell + [run.script],
            environment: environment.map { "\($0.name)=\($0.value)" }, workingDirectory: state.workdir,
            user: user, network: SandboxNetwork(rawValue: run.network ?? "default") ?? .default, mounts: mounts,
            stateDirectory: RunDirectory.sandboxState(context.runDirectory))
        let onOutput: @Sendable (Data) -> Void = { data in
            tail.add(data)
            emit(.output(stage: stageName, step: index, data: data))
        }
        guard let sandbox = options.sandbox else {
            throw failure("no sandbox to run steps in (RunOptions.sandbox)", step: description, location: run.location)
        }
        if let limitation = sandbox.limitation(of: request), SandboxNotice.once(limitation) { emit(.warning(limitation)) }
        let status = try await sandbox.run(request, output: onOutput)
        if status != 0 {
            throw failure("`run` exited with status \(status)", step: run.command, location: run.location, output: tail.lines)
        }
    }

    func copyStep(_ copy: GraphCopy, index: Int, description: String, state: StageState, root: String,
                  dependencies: [String: StageResult]) async throws {
        let values = state.envDictionary.merging(argumentValues) { env, _ in env }
        emit(.stepStarted(stage: stage.name, step: index, description: description))
        var copier = FileCopier()
        do {
            if let chown = copy.chown {
                let owner = try UserDatabase(root: root).resolve(VariableExpansion.expand(chown, values))
                copier.owner = (owner.uid, owner.gid)
            }
        } catch {
            throw failure("\(error)", step: description, location: copy.location)
        }
        if let chmod = copy.chmod, let mode = mode_t(chmod, radix: 8) { copier.mode = mode }
        let resolved = try await copySources(copy, values: values, description: description, dependencies: dependencies)
        copier.isExcluded = resolved.isExcluded
        let destination = PosixPath.isAbsolute(copy.destination) ? copy.destination
            : state.workdir + "/" + copy.destination
        do {
            try copier.copy(resolved.sources, to: VariableExpansion.expand(destination, values)
                                + (copy.destination.hasSuffix("/") ? "/" : ""), in: root)
        } catch {
            throw failure("\(error)", step: description, location: copy.location)
        }
    }

    /// What a copy reads: host paths (with the path each is reported as) and what to leave out of folders.
    func copySources(_ copy: GraphCopy, values: [String: String], description: String,
                     dependencies: [String: StageResult]) async throws
        -> (sources: [(host: String, relative: String)], isExcluded: @Sendable (String) -> Bool)
    {
        let sourceRoot: String
        var isExcluded: @Sendable (String) -> Bool = { _ in false }
        switch copy.source {
        case .context:
            sourceRoot = options.contextDirectory
            let ignore = IgnoreMatcher(graph.ignore)
            let exclude = IgnoreMatcher(copy.exclude)
            isExcluded = { ignore.isExcluded($0) || exclude.isExcluded($0) }
        case .stage(let name):
            guard let result = dependencies[name] else { throw failure("stage `\(name)` did not finish") }
            sourceRoot = try await context.views.root(stage: name, base: result.baseRootfs, layers: result.layers)
        case .image(let reference):
            let expanded = VariableExpansion.expand(reference, values)
            do {
                sourceRoot = try await context.images.image(expanded).rootfs
            } catch {
                throw failure("cannot get image `\(expanded)`: \(error)", step: description, location: copy.location)
            }
        }
        // The context is read beneath itself (a path through a link out of it is an error; a link
        // named as the source arrives as a link); a stage's or image's tree inside itself.
        let isContext = copy.source == .context
        let rooted: RootedDirectory
        do {
            rooted = try RootedDirectory(sourceRoot, scope: isContext ? .beneath : .inRoot)
        } catch {
            throw failure("cannot open \(sourceRoot): \(error.reason)", step: description, location: copy.location)
        }
        func hostPath(_ relative: String) throws -> String? {
            do {
                return try rooted.hostPath(relative, followLast: !isContext)
            } catch where error.code == ENOENT || error.code == ENOTDIR {
                return nil
            } catch {
                let place = isContext ? "the build context" : "its root filesystem"
                throw failure(error.code == EXDEV ? "`\(relative)` leaves \(place) through a symbolic link"
                                  : "cannot read `\(relative)` in \(place): \(error.reason)",
                              step: description, location: copy.location)
            }
        }
        var sources: [(host: String, relative: String)] = []
        for pattern in copy.sources {
            let expanded = VariableExpansion.expand(pattern, values)
            let relative = String(expanded.drop(while: { $0 == "/" }))
            if PosixPath.hasGlob(relative) {
                // Folders are listed through the rooted folder too: a glob never lists a host folder.
                let matches: [String]
                do {
                    matches = try rooted.glob(relative)
                } catch {
                    throw failure(error.code == EXDEV ? "`\(relative)` leaves \(isContext ? "the build context" : "its root filesystem") through a symbolic link"
                                      : "cannot expand `\(relative)`: \(error.reason)", step: description, location: copy.location)
                }
                for match in matches {
                    if let host = try hostPath(match) { sources.append((host, match)) }
                }
            } else if PosixPath.normalize(relative).path.isEmpty || PosixPath.normalize(relative).path == "." {
                sources.append((sourceRoot, "."))
            } else {
                // Never a host path through a link: a source missing inside the tree is an error here.
                guard let host = try hostPath(relative) else {
                    throw failure("cannot copy `\(relative)`: no such file in \(isContext ? "the build context" : "its root filesystem")",
                                  step: description, location: copy.location)
                }
                sources.append((host, relative))
            }
        }
        if case .context = copy.source {
            let ignore = IgnoreMatcher(graph.ignore)
            sources.removeAll { $0.relative != "." && ignore.isExcluded($0.relative) }
        }
        guard !sources.isEmpty else { throw failure("nothing to copy for `\(copy.sources.joined(separator: " "))`", step: description) }
        return (sources, isExcluded)
    }

    /// `add`: downloads the URL, checks it against its checksum, and writes it like Docker's ADD
    /// (mode 0600 unless `chmod` says otherwise; a destination ending in `/` takes the URL's file name).
    func addStep(_ add: GraphAdd, index: Int, state: StageState, root: String) async throws {
        let values = state.envDictionary.merging(argumentValues) { env, _ in env }
        let text = VariableExpansion.expand(add.url, values)
        let description = "add \(text)"
        emit(.stepStarted(stage: stage.name, step: index, description: description))
        guard let url = URL(string: text) else { throw failure("`\(text)` is not a URL", step: description, location: add.location) }
        var destination = VariableExpansion.expand(add.destination, values)
        if destination.hasSuffix("/") { destination += url.lastPathComponent }
        if !PosixPath.isAbsolute(destination) { destination = state.workdir + "/" + destination }
        let staging = context.runDirectory + "/downloads/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: (staging as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        do {
            try await HTTPDownload(url: text, checksum: try Digest(parsing: add.checksum)).write(to: staging)
        } catch HTTPDownloadError.checksumMismatch(_, let expected, let actual) {
            throw failure("\(text) has checksum \(actual), not \(expected) as the plan says", step: description, location: add.location)
        } catch let error as HTTPDownloadError {
            throw failure("\(error)", step: description, location: add.location)
        } catch let error as DigestError {
            throw failure("checksum \(add.checksum): \(error)", step: description, location: add.location)
        }
        var copier = FileCopier()
        do {
            if let chown = add.chown {
                let owner = try UserDatabase(root: root).resolve(VariableExpansion.expand(chown, values))
                copier.owner = (owner.uid, owner.gid)
            }
            copier.mode = add.chmod.flatMap { mode_t($0, radix: 8) } ?? 0o600
            try copier.copy([(staging, ".")], to: destination, in: root)
        } catch {
            throw failure("\(error)", step: description, location: add.location)
        }
    }

}
