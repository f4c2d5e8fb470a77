import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import PlanCompiler
import PlanDiagnostics
import PlanOCI
import PlanProcess

/// What a finished stage leaves for the stages after it and for the outputs.
struct StageResult: Sendable {
    var name: String
    /// The stage's root filesystem as its steps left it.
    var rootfs: String
    /// The root filesystem it started from, for diffing in copy mode.
    var baseRootfs: String?
    /// In overlay mode: the stage's own changes, and the read-only layers under them.
    var upper: String?
    var lowers: [String]
    var state: StageState
    /// The base image at the bottom of the stage's chain, if any.
    var image: BaseImage?
    /// The stages of the chain, bottom first, ending with this one.
    var chain: [String]
}

/// Builds one stage: its root filesystem, then each instruction in order, then the artifact check.
struct StageRunner {
    let stage: GraphStage
    let graph: BuildGraph
    let options: RunOptions
    let images: BaseImages
    let runDirectory: String
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

    func run(dependencies: [String: StageResult]) async throws -> StageResult {
        let folder = runDirectory + "/stages/" + stage.name
        let merged = folder + "/rootfs"
        try FileManager.default.createDirectory(atPath: merged, withIntermediateDirectories: true)

        var state = StageState()
        var lowers: [String] = []
        var baseRootfs: String?
        var image: BaseImage?
        var chain = [stage.name]
        switch stage.base {
        case .scratch:
            let empty = runDirectory + "/empty"
            try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
            lowers = [empty]
            baseRootfs = empty
        case .image(let text):
            let expanded = VariableExpansion.expand(text, Dictionary(graph.arguments.compactMap { a in a.value.map { (a.name, $0) } },
                                                                   uniquingKeysWith: { $1 }))
            do {
                image = try await images.image(expanded)
            } catch {
                throw failure("cannot get base image `\(expanded)`: \(error)")
            }
            state = StageState(image: image?.configuration.config)
            lowers = [image?.rootfs ?? ""]
            baseRootfs = image?.rootfs
        case .stage(let parentName):
            guard let parent = dependencies[parentName] else { throw failure("stage `\(parentName)` did not finish") }
            state = parent.state
            image = parent.image
            chain = parent.chain + [stage.name]
            lowers = parent.upper.map { [$0] + parent.lowers } ?? [parent.rootfs]
            baseRootfs = parent.rootfs
        }
        // Overlay when the kernel allows it; otherwise a copy of the base.
        var upper: String? = folder + "/upper"
        let work = folder + "/work"
        try FileManager.default.createDirectory(atPath: folder + "/upper", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let overlayOptions = "lowerdir=\(lowers.joined(separator: ":")),upperdir=\(folder)/upper,workdir=\(work)"
        if mount("overlay", merged, "overlay", 0, overlayOptions) != 0 {
            upper = nil
            lowers = []
            if let base = baseRootfs { try Self.copyTree(base, to: merged) }
        }

        emit(.stageStarted(stage: stage.name))
        let started = Date()
        for (index, instruction) in stage.instructions.enumerated() {
            try Task.checkCancellation()
            try await apply(instruction, index: index, state: &state, root: merged, dependencies: dependencies)
        }
        for artifact in stage.artifacts {
            var info = stat()
            let path = ContainedPath.resolve(artifact.path, in: merged, followLast: false)
            if lstat(path, &info) != 0 {
                throw failure("stage '\(stage.name)' declares artifact '\(artifact.name)' at \(artifact.path), "
                                  + "but the stage did not produce it", location: artifact.location)
            }
        }
        applyConfiguration(&state)
        emit(.stageFinished(stage: stage.name, seconds: Date().timeIntervalSince(started)))
        return StageResult(name: stage.name, rootfs: merged, baseRootfs: baseRootfs, upper: upper, lowers: lowers,
                           state: state, image: image, chain: chain)
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
                test: test, interval: check.interval.flatMap(Self.nanoseconds), timeout: check.timeout.flatMap(Self.nanoseconds),
                startPeriod: check.startPeriod.flatMap(Self.nanoseconds),
                startInterval: check.startInterval.flatMap(Self.nanoseconds), retries: check.retries)
        }
    }

    /// A Go duration (`1m30s`, `500ms`) in nanoseconds.
    static func nanoseconds(_ text: String) -> Int64? {
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
        var rest = Substring(text)
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) && !(($0.0 == "m") && rest.hasPrefix("ms")) }) else {
                return nil
            }
            total += value * unit.1
            rest = rest.dropFirst(unit.0.count)
        }
        return Int64(total)
    }

    // MARK: Instructions

    func apply(_ instruction: GraphInstruction, index: Int, state: inout StageState, root: String,
               dependencies: [String: StageResult]) async throws {
        let values = state.envDictionary.merging(argumentValues) { env, _ in env }
        switch instruction {
        case .env(let pairs, _):
            for pair in pairs {
                state.setEnv(pair.name, VariableExpansion.expand(pair.value, state.envDictionary.merging(argumentValues) { env, _ in env }))
            }
        case .workdir(let path, let location):
            let expanded = VariableExpansion.expand(path, values)
            state.workdir = PosixPath.resolve(expanded, against: state.workdir).path
            let host = ContainedPath.resolve(state.workdir, in: root)
            do {
                try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
            } catch {
                throw failure("cannot create the workdir \(state.workdir): \(error)", location: location)
            }
        case .user(let user, _):
            state.user = VariableExpansion.expand(user, values)
        case .shell(let words, _):
            state.shell = words
        case .run(let run):
            try await runStep(run, index: index, state: state, root: root)
        case .copy(let copy):
            try await copyStep(copy, state: state, root: root, dependencies: dependencies)
        case .add(let add):
            try await addStep(add, state: state, root: root)
        }
    }

    func runStep(_ run: GraphRun, index: Int, state: StageState, root: String) async throws {
        let description = "run " + (run.command.split(separator: "\n").first.map(String.init) ?? "")
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
            let host = options.cacheDirectory + "/mounts/" + String(key)
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
            user: user, network: run.network != "none", mounts: mounts)
        let onOutput: @Sendable (Data) -> Void = { data in
            tail.add(data)
            emit(.output(stage: stageName, step: index, data: data))
        }
        let status: Int32
        if getuid() == 0 {
            status = try await NamespaceSandbox().run(request, output: onOutput)
        } else if let bubblewrap = BubblewrapSandbox.find() {
            status = try await bubblewrap.run(request, output: onOutput)
        } else {
            throw failure("running steps without root needs bubblewrap (bwrap)", step: description, location: run.location)
        }
        if status != 0 {
            throw failure("`run` exited with status \(status)", step: run.command, location: run.location, output: tail.lines)
        }
    }

    func copyStep(_ copy: GraphCopy, state: StageState, root: String, dependencies: [String: StageResult]) async throws {
        let values = state.envDictionary.merging(argumentValues) { env, _ in env }
        let description = "copy " + copy.sources.joined(separator: " ")
        emit(.stepStarted(stage: stage.name, step: 0, description: description))
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
        let sourceRoot: String
        switch copy.source {
        case .context:
            sourceRoot = options.contextDirectory
            let ignore = IgnoreMatcher(graph.ignore)
            let exclude = IgnoreMatcher(copy.exclude)
            copier.isExcluded = { ignore.isExcluded($0) || exclude.isExcluded($0) }
        case .stage(let name):
            guard let result = dependencies[name] else { throw failure("stage `\(name)` did not finish") }
            sourceRoot = result.rootfs
        case .image(let reference):
            let expanded = VariableExpansion.expand(reference, values)
            do {
                sourceRoot = try await images.image(expanded).rootfs
            } catch {
                throw failure("cannot get image `\(expanded)`: \(error)", step: description, location: copy.location)
            }
        }
        var sources: [(host: String, relative: String)] = []
        for pattern in copy.sources {
            let expanded = VariableExpansion.expand(pattern, values)
            let relative = String(expanded.drop(while: { $0 == "/" }))
            if PosixPath.hasGlob(relative) {
                for match in FileGlob.matches(sourceRoot + "/" + relative) {
                    sources.append((match, String(match.dropFirst(sourceRoot.count + 1))))
                }
            } else {
                let host = copy.source == .context
                    ? PosixPath.normalize(sourceRoot + "/" + relative).path
                    : ContainedPath.resolve(relative, in: sourceRoot)
                sources.append((host, relative.isEmpty ? "." : relative))
            }
        }
        if case .context = copy.source {
            let ignore = IgnoreMatcher(graph.ignore)
            sources.removeAll { $0.relative != "." && ignore.isExcluded($0.relative) }
        }
        guard !sources.isEmpty else { throw failure("nothing to copy for `\(copy.sources.joined(separator: " "))`", step: description) }
        let destination = PosixPath.isAbsolute(copy.destination) ? copy.destination
            : state.workdir + "/" + copy.destination
        do {
            try copier.copy(sources, to: VariableExpansion.expand(destination, values)
                                + (copy.destination.hasSuffix("/") ? "/" : ""), in: root)
        } catch {
            throw failure("\(error)", step: description, location: copy.location)
        }
    }

    /// `add`: downloads the URL, checks it against its checksum, and writes it like Docker's ADD
    /// (mode 0600 unless `chmod` says otherwise; a destination ending in `/` takes the URL's file name).
    func addStep(_ add: GraphAdd, state: StageState, root: String) async throws {
        let values = state.envDictionary.merging(argumentValues) { env, _ in env }
        let text = VariableExpansion.expand(add.url, values)
        let description = "add \(text)"
        emit(.stepStarted(stage: stage.name, step: 0, description: description))
        guard let url = URL(string: text) else { throw failure("`\(text)` is not a URL", step: description, location: add.location) }
        let data: Data
        do {
            let (body, response) = try await URLSession.shared.data(from: url)
            if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
                throw failure("downloading \(text) answered HTTP \(http.statusCode)", step: description, location: add.location)
            }
            data = body
        } catch let error as ExecutionFailure {
            throw error
        } catch {
            throw failure("cannot download \(text): \(error.localizedDescription)", step: description, location: add.location)
        }
        let digest = Digest.sha256(of: data).description
        guard digest == add.checksum else {
            throw failure("\(text) has checksum \(digest), not \(add.checksum) as the plan says", step: description,
                          location: add.location)
        }
        var destination = VariableExpansion.expand(add.destination, values)
        if destination.hasSuffix("/") { destination += url.lastPathComponent }
        if !PosixPath.isAbsolute(destination) { destination = state.workdir + "/" + destination }
        let staging = runDirectory + "/downloads/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: (staging as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        guard FileManager.default.createFile(atPath: staging, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw failure("cannot store the download of \(text)", step: description, location: add.location)
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

/// The last lines of a step's output, for failure reports.
final class OutputTail: @unchecked Sendable {
    private var buffer = Data()
    private let lock = NSLock()

    func add(_ data: Data) {
        lock.lock()
        buffer.append(data)
        if buffer.count > 16_384 { buffer = buffer.suffix(8_192) }
        lock.unlock()
    }

    var lines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: buffer, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .map(String.init).filter { !$0.isEmpty }.suffix(15).map { $0 }
    }
}
