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
    /// The configuration the stage's image gets.
    var configuration: BoundImageConfiguration
    /// The base image at the bottom of the stage's chain, if any.
    var image: BaseImage?
    /// The stages of the chain, bottom first, ending with this one.
    var chain: [String]
    /// The key of the stage's last step: everything the stage's result depends on.
    var key: String
    /// Declared artifact path → its tree, stored in the cache.
    var artifacts: [String: Descriptor]
}

/// Builds one bound stage: its base, then each step in order — skipping every step whose key the
/// cache knows — then the artifact check. The steps say what they do and with which configuration;
/// what is left to the run is what only the stage's file system or the host knows (users, secrets'
/// values, the context's files).
struct StageRunner {
    let stage: BoundStage
    /// The instance's name (``StageInstance/name``): what events and failures say; the stage's name in a
    /// one-platform run.
    let name: String
    /// The plan of a platform that uses the stage (plan-wide facts: context, plan file, images).
    let plan: BoundPlan
    let options: RunOptions
    /// The stores, folders and views every stage of the attempt shares.
    let context: Executor.RunContext
    let emit: @Sendable (ExecutionEvent) -> Void

    /// A failure of this stage; located at the stage unless a place is given.
    func failure(_ reason: String, step: String? = nil, location: SourceLocation? = nil,
                 output: [String] = []) -> RunFailure {
        RunFailure(.stepFailed(reason), stage: name, location: location ?? stage.location, step: step, lastOutput: output)
    }

    /// The build arguments the stage declares that have values, sorted by name.
    var argumentValues: [(name: String, value: String)] {
        stage.arguments.compactMap { argument in argument.value.map { (argument.name, $0) } }.sorted { $0.name < $1.name }
    }

    /// Whether this stage may take steps from the cache.
    var usesCache: Bool { !options.noCache && !options.noCacheStages.contains(stage.name) }

    /// The stage's chain as it grows: what it starts from, the layers so far and the key of the last step.
    struct Chain {
        /// The base image at the bottom, if any.
        var image: BaseImage?
        /// The stages of the chain, bottom first, ending with this one.
        var stages: [String]
        var layers: [StepLayer] = []
        var baseRootfs: String?
        var key: String
        /// The base, and the configuration set since the last step: the key chain holds them, and the
        /// next step's inputs name them too, so `--explain` says which changed.
        var carried: [(String, String)] = []
    }

    func run(dependencies: [String: StageResult]) async throws -> StageResult {
        var chain = try await base(dependencies: dependencies)
        emit(.stageStarted(stage: name))
        let started = Date()
        let workspace = StageWorkspace(stacks: context.stacks, folder: context.runDirectory + "/stages/" + Self.folderName(name), base: chain.baseRootfs)
        for step in stage.steps {
            try Task.checkCancellation()
            try await build(step, chain: &chain, workspace: workspace, dependencies: dependencies)
        }
        let artifacts = try await storeArtifacts(key: chain.key, base: chain.baseRootfs, layers: chain.layers)
        emit(.stageFinished(stage: name, seconds: Date().timeIntervalSince(started)))
        return StageResult(name: name, baseRootfs: chain.baseRootfs, layers: chain.layers, configuration: stage.finalConfiguration,
                           image: chain.image, chain: chain.stages, key: chain.key, artifacts: artifacts)
    }

    /// What the stage starts from: nothing, a base image (unpacked), or another stage's chain.
    func base(dependencies: [String: StageResult]) async throws -> Chain {
        switch stage.base {
        case .scratch:
            // Nothing in the key would otherwise tell platforms apart (a base image's manifest digest does).
            let carried = [("base", "scratch \(stage.platform.normalized)")]
            return Chain(stages: [stage.name], key: StepInputs(parent: "", items: carried).key, carried: carried)
        case .image(let reference):
            let image: BaseImage
            do {
                image = try await context.images.image(reference, platform: stage.platform)
            } catch {
                throw RunFailure(.imagePull(reference: reference.description, reason: "\(error)"), stage: name,
                                 location: stage.location)
            }
            let carried = [("base", "image \(image.manifestDigest)")]
            return Chain(image: image, stages: [stage.name], baseRootfs: image.rootfs, key: StepInputs(parent: "", items: carried).key,
                         carried: carried)
        case .stage(let parentName):
            guard let parent = dependencies[parentName] else { throw failure("stage `\(parentName)` did not finish") }
            return Chain(image: parent.image, stages: parent.chain + [stage.name], layers: parent.layers, baseRootfs: parent.baseRootfs,
                         key: parent.key)
        }
    }

    /// One step: a configuration step only extends the key chain; a step that changes files is taken
    /// from the cache when its key is there, else carried out and stored.
    func build(_ step: BoundStep, chain: inout Chain, workspace: StageWorkspace, dependencies: [String: StageResult]) async throws {
        guard var prepared = try await prepare(step, parent: chain.key, dependencies: dependencies) else {
            let configuration = Self.configItems(step.configuration)
            chain.key = StepInputs(parent: chain.key, items: configuration).key
            chain.carried = chain.carried.filter { $0.0 == "base" } + configuration
            return
        }
        if !chain.carried.isEmpty {
            let own = Set(prepared.inputs.items.map(\.name))
            prepared.inputs = StepInputs(parent: prepared.inputs.parent, items: chain.carried.filter { !own.contains($0.0) }
                                             + prepared.inputs.items.map { ($0.name, $0.value) })
            chain.carried = []
        }
        let inputs = prepared.inputs
        let position = historyPosition(step.index)
        let createdBy = "\(stage.name): \(step.description)"
        chain.key = inputs.key
        if usesCache, let record = context.cache.record(for: inputs.key, warn: { emit(.warning($0)) }) {
            emit(.cache(stage: name, step: step.index, description: step.description, hit: true, reason: nil))
            if context.cache.lastKey(at: position) != inputs.key { context.cache.remember(inputs, at: position) }
            if let descriptor = record.layer {
                let layer = StepLayer(descriptor: descriptor, key: inputs.key, createdBy: createdBy)
                try workspace.applyHit(layer)
                chain.layers.append(layer)
            }
            return
        }
        let reason = !usesCache ? (options.noCache ? "--no-cache" : "--no-cache-filter \(stage.name)")
            : context.cache.lastInputs(at: position).map { inputs.difference(from: $0) } ?? "not built before"
        emit(.cache(stage: name, step: step.index, description: step.description, hit: false, reason: reason))
        let stageLayers = chain.layers
        let sources = prepared.sources
        let descriptor = try await workspace.step(step.index, layers: stageLayers) { root in
            try await execute(step, sources: sources, root: root, dependencies: dependencies)
        }
        try context.cache.put(CacheRecord(key: inputs.key, description: "\(plan.planName)/\(createdBy)", layer: descriptor))
        context.cache.remember(inputs, at: position)
        if let descriptor {
            chain.layers.append(StepLayer(descriptor: descriptor, key: inputs.key, createdBy: createdBy))
        }
    }

    /// Where `--explain` finds what step `index` of this stage had last time.
    func historyPosition(_ index: Int) -> String {
        let file = plan.planFile.hasPrefix("/") ? plan.planFile
            : FileManager.default.currentDirectoryPath + "/" + plan.planFile
        return StepInputs(parent: "", items: [("plan", PosixPath.normalize(file).path), ("stage", name),
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
            let root = try await context.views.root(stage: name, base: base, layers: layers)
            // Resolved inside the stage's root: a link on the way never leads to a host folder.
            let path: String
            do {
                path = try RootedDirectory(root).hostPath(artifact.path, followLast: false)
            } catch {
                throw missing(artifact, found: error.reason)
            }
            var info = stat()
            if lstat(path, &info) != 0 {
                throw missing(artifact, found: Self.whatIsThere(instead: artifact.path, in: root))
            }
            // Named `artifact` with times zeroed: the same tree is the same blob, whichever stage made it.
            guard let tree = try context.cache.storeTar(fixedModificationTime: 0, { try LayerDiffer().writeTree(path, as: "artifact", to: $0) })
            else { throw failure("cannot store artifact `\(artifact.name)`", location: artifact.location) }
            try context.cache.put(CacheRecord(key: artifactKey, description: "\(plan.planName)/\(name): artifact \(artifact.name)",
                                      layer: tree))
            artifacts[artifact.path] = tree
        }
        return artifacts
    }

    func missing(_ artifact: BoundArtifact, found: String) -> RunFailure {
        RunFailure(.missingArtifact(name: artifact.name, path: artifact.path, found: found), stage: name,
                   location: artifact.location)
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
            throw RunFailure(.stepFailed("cannot copy \(source) to \(destination)"), stage: nil, location: nil)
        }
    }

    // MARK: Steps

    /// Does a step's work on `root`; `sources` are a copy's sources when its key already resolved them.
    func execute(_ step: BoundStep, sources: CopySources?, root: String, dependencies: [String: StageResult]) async throws {
        let index = step.index
        let description = step.description
        switch step.action {
        case .configure:
            return
        case .workdir:
            emit(.stepStarted(stage: name, step: index, description: description))
            let workdir = step.configuration.workdir
            do {
                try RootedDirectory(root).makeDirectories(workdir)
            } catch {
                throw failure("cannot create the workdir \(workdir): \(error)", location: step.location)
            }
        case .run(let run):
            try await runStep(run, step: step, root: root, dependencies: dependencies)
        case .copy(let copy):
            try await copyStep(copy, step: step, sources: sources, root: root, dependencies: dependencies)
        case .add(let add):
            try await addStep(add, step: step, root: root)
        }
    }

    func runStep(_ run: BoundRun, step: BoundStep, root: String, dependencies: [String: StageResult]) async throws {
        let index = step.index
        let description = step.description
        let location = step.location
        let configuration = step.configuration
        emit(.stepStarted(stage: name, step: index, description: description))
        let user: ResolvedUser
        do {
            user = try UserDatabase(root: root).resolve(configuration.user)
        } catch {
            throw failure("\(error)", step: description, location: location)
        }
        var environment = configuration.environment.map { ($0.name, $0.value) }
        for (name, value) in argumentValues where !environment.contains(where: { $0.0 == name }) {
            environment.append((name, value))
        }
        if !environment.contains(where: { $0.0 == "PATH" }) { environment.append(("PATH", Self.defaultPath)) }
        if !environment.contains(where: { $0.0 == "HOME" }) { environment.append(("HOME", user.home)) }

        var mounts: [SandboxMount] = []
        for cache in run.cacheMounts {
            let host = context.cache.layout.mounts + "/" + CacheLayout.mountKey(cache.id ?? cache.target)
            try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
            mounts.append(SandboxMount(source: host, target: cache.target, readOnly: false))
        }
        for secret in run.secrets {
            guard let source = options.secrets[secret.id] else {
                if secret.required {
                    throw failure("secret `\(secret.id)` is required but was not given (--secret id=\(secret.id),src=FILE)",
                                  step: description, location: location)
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
        let bound = try await mountsOfStep(run, step: step, dependencies: dependencies)
        defer { bound.remove() }
        mounts += bound.mounts
        if let socket = bound.sshAuthSocket, !environment.contains(where: { $0.0 == "SSH_AUTH_SOCK" }) {
            environment.append(("SSH_AUTH_SOCK", socket))
        }
        let tail = OutputTail()
        let stageName = name
        let emit = self.emit
        let request = SandboxRequest(
            rootfs: root, arguments: configuration.shell + [run.script],
            environment: environment.map { "\($0.0)=\($0.1)" }, workingDirectory: configuration.workdir,
            user: user, network: SandboxNetwork(rawValue: run.network.rawValue) ?? .default, mounts: mounts,
            stateDirectory: RunDirectory.sandboxState(context.runDirectory))
        let onOutput: @Sendable (Data) -> Void = { data in
            tail.add(data)
            emit(.output(stage: stageName, step: index, data: data))
        }
        guard let sandbox = options.sandbox else {
            throw failure("no sandbox to run steps in (RunOptions.sandbox)", step: description, location: location)
        }
        if let limitation = sandbox.limitation(of: request), SandboxNotice.once(limitation) { emit(.warning(limitation)) }
        let status = try await sandbox.run(request, output: onOutput)
        if status == 126, isFirstRun(index), !options.emulation.runsNatively(stage.platform) {
            // 126 from the first command of a foreign platform: the emulator itself could not run it.
            let platform = stage.platform.normalized
            let handler = (try? options.emulation.check(platform)).flatMap { $0 }
            let emulator = handler.map { "\($0.name), \($0.interpreter)" } ?? EmulationProblem.qemuName(of: platform.architecture)
            throw RunFailure(.stepFailed("`run` exited with status 126: the emulator for \(platform) failed (\(emulator)); "
                                             + EmulationProblem.hint(for: platform, lead: "to set it up again")),
                             stage: name, location: location, step: run.script, lastOutput: tail.lines)
        }
        if status != 0 {
            throw RunFailure(.stepExited(status: status), stage: name, location: location, step: run.script,
                             lastOutput: tail.lines)
        }
    }

    /// Whether the step at `index` is the stage's first `run` step (the first to start a program of the stage's platform).
    func isFirstRun(_ index: Int) -> Bool {
        stage.steps.first { if case .run = $0.action { true } else { false } }?.index == index
    }

    /// A folder name for an instance name (`linux/arm64 app` → `linux_arm64-app`).
    static func folderName(_ name: String) -> String {
        String(name.map { $0 == "/" ? "_" : $0 == " " || $0 == "," ? "-" : $0 })
    }

    /// The `PATH` a step gets when neither the image nor the plan sets one (Docker's).
    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    func copyStep(_ copy: BoundCopy, step: BoundStep, sources: CopySources?, root: String,
                  dependencies: [String: StageResult]) async throws {
        emit(.stepStarted(stage: name, step: step.index, description: step.description))
        var copier = FileCopier()
        do {
            if let chown = copy.chown {
                let owner = try UserDatabase(root: root).resolve(chown)
                copier.owner = (owner.uid, owner.gid)
            }
        } catch {
            throw failure("\(error)", step: step.description, location: step.location)
        }
        if let chmod = copy.chmod { copier.mode = mode_t(chmod) }
        let resolved: CopySources
        if let sources {
            resolved = sources
        } else {
            resolved = try await copySources(copy, step: step, dependencies: dependencies)
        }
        copier.isExcluded = resolved.isExcluded
        do {
            try copier.copy(resolved.sources, to: copy.resolvedDestination, in: root)
        } catch {
            throw failure("\(error)", step: step.description, location: step.location)
        }
    }

    /// What a copy reads: host paths (with the path each is reported as) and what to leave out of folders.
    struct CopySources: Sendable {
        var sources: [(host: String, relative: String)]
        var isExcluded: @Sendable (String) -> Bool
    }

    /// Lists what a copy reads, once per step: the cache key and the copy itself use the same list.
    func copySources(_ copy: BoundCopy, step: BoundStep, dependencies: [String: StageResult]) async throws -> CopySources {
        let description = step.description
        let sourceRoot: String
        var isExcluded: @Sendable (String) -> Bool = { _ in false }
        switch copy.source {
        case .context:
            sourceRoot = plan.contextDirectory
            let ignore = context.contextIgnore
            let exclude = IgnoreMatcher(copy.exclude)
            isExcluded = { ignore.isExcluded($0) || exclude.isExcluded($0) }
        case .stage(let name):
            guard let result = dependencies[name] else { throw failure("stage `\(name)` did not finish") }
            sourceRoot = try await context.views.root(stage: result.name, base: result.baseRootfs, layers: result.layers)
        case .image(let reference):
            do {
                sourceRoot = try await context.images.image(reference, platform: stage.platform).rootfs
            } catch {
                throw RunFailure(.imagePull(reference: reference.description, reason: "\(error)"), stage: name,
                                 location: step.location, step: description)
            }
        }
        // The context is read beneath itself (a path through a link out of it is an error; a link
        // named as the source arrives as a link); a stage's or image's tree inside itself.
        let isContext = copy.source == .context
        let rooted: RootedDirectory
        do {
            rooted = try RootedDirectory(sourceRoot, scope: isContext ? .beneath : .inRoot)
        } catch {
            throw failure("cannot open \(sourceRoot): \(error.reason)", step: description, location: step.location)
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
                              step: description, location: step.location)
            }
        }
        var sources: [(host: String, relative: String)] = []
        for pattern in copy.sources {
            let relative = String(pattern.drop(while: { $0 == "/" }))
            if PosixPath.hasGlob(relative) {
                // Folders are listed through the rooted folder too: a glob never lists a host folder.
                let matches: [String]
                do {
                    matches = try rooted.glob(relative)
                } catch {
                    throw failure(error.code == EXDEV ? "`\(relative)` leaves \(isContext ? "the build context" : "its root filesystem") through a symbolic link"
                                      : "cannot expand `\(relative)`: \(error.reason)", step: description, location: step.location)
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
                                  step: description, location: step.location)
                }
                sources.append((host, relative))
            }
        }
        if case .context = copy.source {
            sources.removeAll { $0.relative != "." && context.contextIgnore.isExcluded($0.relative) }
        }
        guard !sources.isEmpty else {
            throw failure("nothing to copy for `\(copy.sources.joined(separator: " "))`", step: description, location: step.location)
        }
        return CopySources(sources: sources, isExcluded: isExcluded)
    }

    /// `add`: downloads the URL, checks it against its checksum, and writes it like Docker's ADD (the
    /// destination and the mode, 0600 unless the plan says otherwise, come bound).
    func addStep(_ add: BoundAdd, step: BoundStep, root: String) async throws {
        let index = step.index
        let location = step.location
        let text = add.url
        let description = step.description
        emit(.stepStarted(stage: name, step: index, description: description))
        guard URL(string: text) != nil else { throw failure("`\(text)` is not a URL", step: description, location: location) }
        let staging = context.runDirectory + "/downloads/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: (staging as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        do {
            try await HTTPDownload(url: text, checksum: add.checksum).write(to: staging)
        } catch HTTPDownloadError.checksumMismatch(_, let expected, let actual) {
            throw failure("\(text) has checksum \(actual), not \(expected) as the plan says", step: description, location: location)
        } catch let error as HTTPDownloadError {
            throw failure("\(error)", step: description, location: location)
        }
        var copier = FileCopier()
        do {
            if let chown = add.chown {
                let owner = try UserDatabase(root: root).resolve(chown)
                copier.owner = (owner.uid, owner.gid)
            }
            copier.mode = mode_t(add.chmod)
            try copier.copy([(staging, ".")], to: add.resolvedDestination, in: root)
        } catch {
            throw failure("\(error)", step: description, location: location)
        }
    }

}
