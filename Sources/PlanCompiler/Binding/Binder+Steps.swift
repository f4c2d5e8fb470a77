import Foundation
import PlanDiagnostics
import PlanPaths
import PlanValues

/// Binds one stage: its base, each instruction in order with the configuration it sees, its final configuration.
struct StageBinding {
    let binder: Binder
    let stage: GraphStage
    let images: [ImageUse: ResolvedImage]
    /// The platform the stage is built for in this binding (its `platform:` pin, else the target platform):
    /// the platform of every image it reads.
    let platform: Platform
    /// Problems found so far.
    var diagnostics: [Diagnostic] = []
    /// The base image the stage reads, if any.
    var baseImages: [ImageUse] = []
    /// The images `copy … image:` steps read, in step order.
    var copyImages: [ImageUse] = []
    /// The configuration as the instructions so far made it.
    var state = BoundImageConfiguration()

    init(binder: Binder, stage: GraphStage, images: [ImageUse: ResolvedImage]) {
        self.binder = binder
        self.stage = stage
        self.images = images
        platform = binder.platform(of: stage)
    }

    /// The build arguments the stage declares, with their values, by name; the automatic platform arguments it
    /// uses (`TARGETARCH`, …) with the values of this binding's platforms.
    var arguments: [BoundArgument] {
        let declared = Set(binder.graph.arguments.map(\.name))
        let automatic = binder.options.automaticArguments
        let automaticUsed = stage.arguments.filter { !declared.contains($0) }.compactMap { name in
            automatic[name].map { BoundArgument(name: name, value: $0) }
        }
        return (binder.graph.arguments.filter { stage.arguments.contains($0.name) }
            .map { BoundArgument(name: $0.name, value: $0.value) } + automaticUsed)
            .sorted { $0.name < $1.name }
    }

    /// The values a step's text is expanded with: the stage's environment over its declared build arguments.
    var values: [String: String] {
        var values: [String: String] = [:]
        for argument in arguments { if let value = argument.value { values[argument.name] = value } }
        for variable in state.environment { values[variable.name] = variable.value }
        return values
    }

    func expand(_ text: String) -> String { VariableExpansion.expand(text, values) }

    var stepConfiguration: StepConfiguration {
        StepConfiguration(environment: state.environment, user: state.user, workdir: state.workdir, shell: state.shell)
    }

    mutating func bind(finalConfigurations: [String: BoundImageConfiguration]) -> BoundStage {
        let base = bindBase(finalConfigurations: finalConfigurations)
        let initial = state
        var steps: [BoundStep] = []
        for (index, instruction) in stage.instructions.enumerated() {
            if let step = bind(instruction, index: index) { steps.append(step) }
        }
        applyStageConfiguration()
        return BoundStage(
            name: stage.name, location: stage.location, base: base, dependencies: stage.dependencies, arguments: arguments,
            initialConfiguration: initial, steps: steps,
            artifacts: stage.artifacts.map { BoundArtifact(name: $0.name, path: $0.path, location: $0.location) },
            finalConfiguration: state, isTarget: binder.targetNames.contains(stage.name), platform: platform)
    }

    /// The base, and the configuration it gives: the base image's (build arguments expanded in its reference), or
    /// the base stage's final one.
    mutating func bindBase(finalConfigurations: [String: BoundImageConfiguration]) -> BoundBase {
        switch stage.base {
        case .scratch:
            return .scratch
        case .stage(let name):
            state = finalConfigurations[name] ?? BoundImageConfiguration()
            return .stage(name)
        case .image(let text):
            guard let reference = parseReference(text, values: binder.argumentValues, at: stage.location) else { return .scratch }
            let use = ImageUse(reference: reference, platform: platform)
            baseImages.append(use)
            state = images[use]?.configuration ?? BoundImageConfiguration()
            if state.workdir.isEmpty { state.workdir = "/" }
            return .image(reference)
        }
    }

    /// `text` expanded with `values` and parsed; nil (and a diagnostic) when it is no image reference.
    mutating func parseReference(_ text: String, values: [String: String], at location: SourceLocation) -> ImageReference? {
        let expanded = VariableExpansion.expand(text, values)
        do {
            return try ImageReference(parsing: expanded)
        } catch {
            diagnostics.append(.error(
                .malformedImageReference, "`\(expanded)` is not a valid image reference: \(error)", at: location,
                notes: expanded == text ? [] : [.init("`\(text)` with its build arguments expanded")],
                help: "write an image like `alpine:3.20`; check the values given with --arg"))
            return nil
        }
    }

    /// An octal mode, expanded; nil (and a diagnostic) when it is not octal.
    mutating func parseMode(_ text: String, at location: SourceLocation) -> UInt32? {
        let expanded = expand(text)
        guard let mode = UInt32(expanded, radix: 8), mode <= 0o7777 else {
            diagnostics.append(.error(.malformedChmod, "`\(expanded)` is not an octal mode", at: location,
                                      notes: expanded == text ? [] : [.init("`\(text)` with its variables expanded")]))
            return nil
        }
        return mode
    }

    /// One instruction, bound with the configuration the instructions before it made; nil when it does not bind.
    mutating func bind(_ instruction: GraphInstruction, index: Int) -> BoundStep? {
        func step(_ location: SourceLocation, _ description: String, _ action: BoundAction) -> BoundStep {
            BoundStep(index: index, location: location, description: description, action: action, configuration: stepConfiguration)
        }
        switch instruction {
        case .env(let pairs, let location):
            for pair in pairs { state.setEnvironment(pair.name, expand(pair.value)) }
            return step(location, "env " + pairs.map(\.name).joined(separator: " "), .configure)
        case .user(let user, let location):
            state.user = expand(user)
            return step(location, "user \(state.user)", .configure)
        case .shell(let words, let location):
            state.shell = words
            return step(location, "shell " + words.joined(separator: " "), .configure)
        case .workdir(let path, let location):
            state.workdir = PosixPath.resolve(expand(path), against: state.workdir).path
            return step(location, "workdir \(state.workdir)", .workdir)
        case .run(let run):
            return step(run.location, "run " + run.summary, .run(bind(run)))
        case .copy(let copy):
            let sources = copy.sources.map(expand)
            var description = "copy " + sources.joined(separator: " ")
            if case .stage(let name) = copy.source { description = "copy \(name):" + sources.joined(separator: " ") }
            guard let bound = bind(copy, sources: sources) else { return nil }
            return step(copy.location, description, .copy(bound))
        case .add(let add):
            guard let bound = bind(add) else { return nil }
            return step(add.location, "add \(bound.url)", .add(bound))
        }
    }

    mutating func bind(_ run: GraphRun) -> BoundRun {
        let mounts = bind(run.mounts, at: run.location)
        return BoundRun(
            script: run.script, network: NetworkMode(rawValue: run.network ?? "default") ?? .default,
            cacheMounts: run.cache.map { cache in
                BoundCacheMount(target: PosixPath.resolve(expand(cache.target), against: state.workdir).path, id: cache.id,
                                sharing: CacheSharing(rawValue: cache.sharing ?? "shared") ?? .shared)
            },
            secrets: run.secrets.map { secret in
                BoundSecret(id: secret.id, env: secret.env,
                            target: secret.target ?? (secret.env == nil ? "/run/secrets/\(secret.id)" : nil),
                            required: secret.required == true)
            },
            mounts: mounts)
    }

    /// `mounts:` with variables expanded and targets resolved against the workdir; an ssh mount without a
    /// target gets BuildKit's `/run/buildkit/ssh_agent.N`, N counting the step's ssh mounts.
    mutating func bind(_ mounts: [GraphMount], at location: SourceLocation) -> [BoundMount] {
        var bound: [BoundMount] = []
        var sshCount = 0
        for mount in mounts {
            switch mount {
            case .bind(let bind):
                let source: BoundCopySource
                switch bind.source {
                case .context: source = .context
                case .stage(let name): source = .stage(name)
                case .image(let text):
                    guard let reference = parseReference(text, values: values, at: location) else { continue }
                    copyImages.append(ImageUse(reference: reference, platform: platform))
                    source = .image(reference)
                }
                bound.append(.bind(BoundBindMount(
                    source: source, path: expand(bind.path),
                    target: PosixPath.resolve(expand(bind.target), against: state.workdir).path,
                    readWrite: bind.readWrite, artifact: bind.artifact)))
            case .tmpfs(let target, let size):
                bound.append(.tmpfs(BoundTmpfsMount(target: PosixPath.resolve(expand(target), against: state.workdir).path,
                                                    size: size)))
            case .ssh(let ssh):
                let target = ssh.target.map { PosixPath.resolve(expand($0), against: state.workdir).path }
                    ?? "/run/buildkit/ssh_agent.\(sshCount)"
                sshCount += 1
                bound.append(.ssh(BoundSSHMount(
                    id: expand(ssh.id), target: target, required: ssh.required == true,
                    mode: ssh.mode.flatMap { UInt32($0, radix: 8) } ?? 0o600,
                    uid: ssh.uid.flatMap { UInt32($0) } ?? 0, gid: ssh.gid.flatMap { UInt32($0) } ?? 0)))
            }
        }
        return bound
    }

    mutating func bind(_ copy: GraphCopy, sources: [String]) -> BoundCopy? {
        let source: BoundCopySource
        switch copy.source {
        case .context: source = .context
        case .stage(let name): source = .stage(name)
        case .image(let text):
            guard let reference = parseReference(text, values: values, at: copy.location) else { return nil }
            copyImages.append(ImageUse(reference: reference, platform: platform))
            source = .image(reference)
        }
        var mode: UInt32?
        if let chmod = copy.chmod {
            guard let parsed = parseMode(chmod, at: copy.location) else { return nil }
            mode = parsed
        }
        let destination = expand(copy.destination)
        return BoundCopy(
            source: source, sources: sources, destination: destination,
            resolvedDestination: Self.resolve(destination, against: state.workdir), chown: copy.chown.map(expand),
            chmod: mode, exclude: copy.exclude.map(expand), link: copy.link, artifact: copy.artifact)
    }

    /// `destination` against `workdir`, normalised, a trailing `/` (a folder to copy into) kept.
    static func resolve(_ destination: String, against workdir: String) -> String {
        let path = PosixPath.resolve(destination, against: workdir).path
        return destination.hasSuffix("/") && !path.hasSuffix("/") ? path + "/" : path
    }

    mutating func bind(_ add: GraphAdd) -> BoundAdd? {
        let url = expand(add.url)
        let checksum: Digest
        do {
            checksum = try Digest(parsing: add.checksum)
        } catch {
            diagnostics.append(.error(.malformedChecksum, "`\(add.checksum)` is not a checksum: \(error)", at: add.location))
            return nil
        }
        var mode: UInt32 = 0o600
        if let chmod = add.chmod {
            guard let parsed = parseMode(chmod, at: add.location) else { return nil }
            mode = parsed
        }
        let destination = expand(add.destination)
        var file = destination
        if destination.hasSuffix("/") {
            guard let parsed = URL(string: url) else {
                diagnostics.append(.error(.malformedURL, "`\(url)` is not a URL", at: add.location,
                                          notes: url == add.url ? [] : [.init("`\(add.url)` with its variables expanded")]))
                return nil
            }
            file += parsed.lastPathComponent
        }
        return BoundAdd(url: url, checksum: checksum, destination: destination,
                        resolvedDestination: PosixPath.resolve(file, against: state.workdir).path,
                        chown: add.chown.map(expand), chmod: mode)
    }
}
