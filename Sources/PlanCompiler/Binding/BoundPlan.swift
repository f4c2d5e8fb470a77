import PlanDiagnostics
import PlanValues

/// A plan ready to execute: the `BuildGraph` with every meaning worked out once, before a step runs.
///
/// The bind pass (`Binder`) makes it from the checked graph once `--arg` values, the targets, the platform and
/// the base images' configurations are known. Nothing in it needs parsing or expanding again: build arguments
/// and variables are expanded, paths resolved against the working directory, durations are nanoseconds, modes are
/// numbers, image references are parsed, and each step carries the configuration (environment, user, working
/// directory, shell) it runs with. The executor reads only this; the Dockerfile and bake writers keep the
/// symbolic graph, because they must keep `${ARG}`s.
///
/// It is `Codable` (`plan compile --emit bound-plan` prints it as JSON) and deterministic: the same inputs give the
/// same bytes.
public struct BoundPlan: Codable, Sendable, Equatable {
    /// The plan's `name`.
    public var planName: String
    /// The plan file as the user named it.
    public var planFile: String
    /// The plan file and every file it includes or reads (the context's `.dockerignore`).
    public var planFiles: [String]
    /// The build context folder.
    public var contextDirectory: String
    /// `.dockerignore` patterns for the context, as written (the context's file first, then the plan's `ignore`).
    public var ignore: [String]
    /// The platform the build produces.
    public var platform: Platform
    /// Every build argument with its effective value (`--arg` applied), by name.
    public var arguments: [BoundArgument]
    /// The stages the run builds: the targets and everything they need, in dependency order.
    public var stages: [BoundStage]
    /// The stages to produce (the run's `--target`s, else the plan's targets), in the order given.
    public var targets: [String]
    /// Every image the build reads (bases and `copy … image:` sources), once per platform it is read for, sorted by
    /// reference and platform.
    public var images: [BoundImage]

    public init(planName: String, planFile: String, planFiles: [String], contextDirectory: String, ignore: [String],
                platform: Platform, arguments: [BoundArgument], stages: [BoundStage], targets: [String], images: [BoundImage]) {
        self.planName = planName
        self.planFile = planFile
        self.planFiles = planFiles
        self.contextDirectory = contextDirectory
        self.ignore = ignore
        self.platform = platform
        self.arguments = arguments
        self.stages = stages
        self.targets = targets
        self.images = images
    }

    /// The stage called `name`, if the run builds it.
    public func stage(named name: String) -> BoundStage? { stages.first { $0.name == name } }

    /// What binding learnt about `reference` read for `platform`, if the build reads it.
    public func image(_ reference: ImageReference, platform: Platform) -> BoundImage? {
        let platform = platform.normalized
        return images.first { $0.reference == reference && $0.platform == platform }
    }
}

/// A build argument and its value; nil when it has none (allowed only where nothing uses it).
public struct BoundArgument: Codable, Sendable, Hashable {
    public var name: String
    public var value: String?

    public init(name: String, value: String?) {
        self.name = name
        self.value = value
    }
}

/// An image the build reads, and what binding learnt about it from its registry or store.
public struct BoundImage: Codable, Sendable, Equatable {
    public var reference: ImageReference
    /// The platform it is read for (normalised): the reading stage's.
    public var platform: Platform
    /// The digest of the platform's manifest; nil when binding ran without resolving images (`plan compile --emit`).
    public var manifestDigest: Digest?
    /// The image's configuration; nil when not resolved.
    public var configuration: BoundImageConfiguration?

    public init(reference: ImageReference, platform: Platform, manifestDigest: Digest?, configuration: BoundImageConfiguration?) {
        self.reference = reference
        self.platform = platform.normalized
        self.manifestDigest = manifestDigest
        self.configuration = configuration
    }
}

/// What a stage starts from.
public enum BoundBase: Codable, Sendable, Equatable {
    /// An empty file system.
    case scratch
    /// A base image (see `BoundPlan.images` for its digest and configuration).
    case image(ImageReference)
    /// Another stage of the plan, whose result this stage continues.
    case stage(String)
}

/// One stage, bound.
public struct BoundStage: Codable, Sendable, Equatable {
    public var name: String
    public var location: SourceLocation
    public var base: BoundBase
    /// Stages this one needs (its base stage and the stages it copies from), in first-use order.
    public var dependencies: [String]
    /// The build arguments the stage declares, with their values: steps see them and cache keys name them.
    public var arguments: [BoundArgument]
    /// The configuration the stage starts with: its base image's, its base stage's final one, or empty.
    public var initialConfiguration: BoundImageConfiguration
    /// Configuration and file-changing steps, in order; `index` is the position among the stage's instructions.
    public var steps: [BoundStep]
    /// The artifacts the stage declares.
    public var artifacts: [BoundArtifact]
    /// The image configuration after the last step with the stage's own configuration (`entrypoint`, `cmd`,
    /// `expose`, `labels`, `volumes`, `stopsignal`, `healthcheck`) applied: what the stage's image gets.
    public var finalConfiguration: BoundImageConfiguration
    /// True when the run produces this stage (a target).
    public var isTarget: Bool
    /// The platform the stage is built for in this binding (normalised): its `platform:` pin, else the target
    /// platform. Its base image is this platform's, its `run` steps start this platform's programs.
    public var platform: Platform

    public init(name: String, location: SourceLocation, base: BoundBase, dependencies: [String], arguments: [BoundArgument],
                initialConfiguration: BoundImageConfiguration, steps: [BoundStep], artifacts: [BoundArtifact],
                finalConfiguration: BoundImageConfiguration, isTarget: Bool, platform: Platform) {
        self.name = name
        self.location = location
        self.base = base
        self.dependencies = dependencies
        self.arguments = arguments
        self.initialConfiguration = initialConfiguration
        self.steps = steps
        self.artifacts = artifacts
        self.finalConfiguration = finalConfiguration
        self.isTarget = isTarget
        self.platform = platform.normalized
    }
}

/// A declared artifact: a name and an absolute, normalised path in the stage.
public struct BoundArtifact: Codable, Sendable, Hashable {
    public var name: String
    public var path: String
    public var location: SourceLocation

    public init(name: String, path: String, location: SourceLocation) {
        self.name = name
        self.path = path
        self.location = location
    }
}

/// The configuration a step runs with: what `env`, `user`, `shell` and `workdir` instructions before it (and the
/// base) made it. For a configuration step, the configuration after it.
public struct StepConfiguration: Codable, Sendable, Equatable {
    /// Environment variables in the order they were first set (as the image's `Env` keeps them).
    public var environment: [EnvironmentVariable]
    /// The user as written (`name`, `uid`, `uid:gid`); empty for the image's default (root).
    public var user: String
    /// Absolute.
    public var workdir: String
    /// The shell `run` commands go through, e.g. `["/bin/sh", "-c"]`.
    public var shell: [String]

    public init(environment: [EnvironmentVariable], user: String, workdir: String, shell: [String]) {
        self.environment = environment
        self.user = user
        self.workdir = workdir
        self.shell = shell
    }
}

/// `NAME=value`.
public struct EnvironmentVariable: Codable, Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// One instruction of a stage, bound.
public struct BoundStep: Codable, Sendable, Equatable {
    /// The position among the stage's instructions (what `--explain` remembers a step by).
    public var index: Int
    public var location: SourceLocation
    /// What the step does, for progress, history and `--explain` (`run make build`, `copy src/ → /app/`).
    public var description: String
    public var action: BoundAction
    /// The configuration the step runs with (for `.configure`: the configuration after it).
    public var configuration: StepConfiguration

    public init(index: Int, location: SourceLocation, description: String, action: BoundAction, configuration: StepConfiguration) {
        self.index = index
        self.location = location
        self.description = description
        self.action = action
        self.configuration = configuration
    }
}

/// What a step does.
public enum BoundAction: Codable, Sendable, Equatable {
    /// Changes only configuration (`env`, `user`, `shell`): no files, no layer; the change is in the step's
    /// configuration.
    case configure
    /// Makes the working directory (the step's `configuration.workdir`).
    case workdir
    case run(BoundRun)
    case copy(BoundCopy)
    case add(BoundAdd)
}

/// How a `run` step reaches the network.
public enum NetworkMode: String, Codable, Sendable, CaseIterable {
    /// Its own network namespace with outbound access (slirp4netns), as BuildKit's default.
    case `default`
    /// Loopback only.
    case none
    /// The host's network.
    case host
}

/// How concurrent builds share a cache mount (BuildKit's `sharing=`).
public enum CacheSharing: String, Codable, Sendable, CaseIterable {
    case shared
    case `private`
    case locked
}

public struct BoundRun: Codable, Sendable, Equatable {
    /// The command without trailing line breaks and spaces, as the shell gets it.
    public var script: String
    public var network: NetworkMode
    public var cacheMounts: [BoundCacheMount]
    public var secrets: [BoundSecret]
    /// Bind, tmpfs and ssh mounts (`mounts:`), in the order written; absent from the JSON when there are none.
    public var mounts: [BoundMount]

    public init(script: String, network: NetworkMode, cacheMounts: [BoundCacheMount], secrets: [BoundSecret],
                mounts: [BoundMount] = []) {
        self.script = script
        self.network = network
        self.cacheMounts = cacheMounts
        self.secrets = secrets
        self.mounts = mounts
    }

    enum CodingKeys: String, CodingKey {
        case script, network, cacheMounts, secrets, mounts
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        script = try container.decode(String.self, forKey: .script)
        network = try container.decode(NetworkMode.self, forKey: .network)
        cacheMounts = try container.decode([BoundCacheMount].self, forKey: .cacheMounts)
        secrets = try container.decode([BoundSecret].self, forKey: .secrets)
        mounts = try container.decodeIfPresent([BoundMount].self, forKey: .mounts) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(script, forKey: .script)
        try container.encode(network, forKey: .network)
        try container.encode(cacheMounts, forKey: .cacheMounts)
        try container.encode(secrets, forKey: .secrets)
        if !mounts.isEmpty { try container.encode(mounts, forKey: .mounts) }
    }
}

/// A bind, tmpfs or ssh mount of a `run` step.
public enum BoundMount: Codable, Sendable, Equatable {
    case bind(BoundBindMount)
    case tmpfs(BoundTmpfsMount)
    case ssh(BoundSSHMount)

    /// Absolute path in the step's file system.
    public var target: String {
        switch self {
        case .bind(let bind): bind.target
        case .tmpfs(let tmpfs): tmpfs.target
        case .ssh(let ssh): ssh.target
        }
    }
}

/// A path of the context, of a stage or of an image, mounted for one step; the step's cache key holds its content.
public struct BoundBindMount: Codable, Sendable, Equatable {
    public var source: BoundCopySource
    /// Relative to the context root (`.` for all of it), or absolute in the stage or image.
    public var path: String
    public var target: String
    /// Writable, with writes discarded after the step; read-only otherwise.
    public var readWrite: Bool
    /// For a stage: the declared artifact the path lies in.
    public var artifact: String?

    public init(source: BoundCopySource, path: String, target: String, readWrite: Bool, artifact: String?) {
        self.source = source
        self.path = path
        self.target = target
        self.readWrite = readWrite
        self.artifact = artifact
    }
}

public struct BoundTmpfsMount: Codable, Sendable, Equatable {
    public var target: String
    /// The size limit in bytes; nil: the sandbox's default.
    public var size: UInt64?

    public init(target: String, size: UInt64?) {
        self.target = target
        self.size = size
    }
}

/// The ssh agent socket given by `plan run --ssh ID=…`, as BuildKit mounts it.
public struct BoundSSHMount: Codable, Sendable, Equatable {
    public var id: String
    /// The socket's path (BuildKit's default: `/run/buildkit/ssh_agent.N`).
    public var target: String
    public var required: Bool
    /// The socket's mode (BuildKit's default 0600), owner and group (0).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32

    public init(id: String, target: String, required: Bool, mode: UInt32, uid: UInt32, gid: UInt32) {
        self.id = id
        self.target = target
        self.required = required
        self.mode = mode
        self.uid = uid
        self.gid = gid
    }
}

public struct BoundCacheMount: Codable, Sendable, Hashable {
    /// Absolute path in the step's file system.
    public var target: String
    /// The cache's id; nil: the target names it.
    public var id: String?
    public var sharing: CacheSharing

    public init(target: String, id: String?, sharing: CacheSharing) {
        self.target = target
        self.id = id
        self.sharing = sharing
    }
}

public struct BoundSecret: Codable, Sendable, Hashable {
    public var id: String
    /// The environment variable that gets the value, if any.
    public var env: String?
    /// The file it is mounted at, if any (without `env`, `/run/secrets/ID`).
    public var target: String?
    public var required: Bool

    public init(id: String, env: String?, target: String?, required: Bool) {
        self.id = id
        self.env = env
        self.target = target
        self.required = required
    }
}

/// Where a copy reads from.
public enum BoundCopySource: Codable, Sendable, Equatable {
    case context
    /// A stage of the plan (its result).
    case stage(String)
    case image(ImageReference)
}

public struct BoundCopy: Codable, Sendable, Equatable {
    public var source: BoundCopySource
    /// Source paths, expanded: relative to the context root, or absolute in the source stage or image (globs kept).
    public var sources: [String]
    /// The destination as written, expanded (relative to `configuration.workdir` unless absolute; a trailing `/`
    /// means "into this folder").
    public var destination: String
    /// The destination resolved against the working directory, with its trailing `/` kept.
    public var resolvedDestination: String
    /// `user`, `user:group`, `uid:gid` as written, expanded; resolved against the stage's `/etc/passwd` when it runs.
    public var chown: String?
    /// The mode to give, from octal `chmod`.
    public var chmod: UInt32?
    /// Patterns to leave out (`exclude`), expanded.
    public var exclude: [String]
    /// Copy into an independent layer (`COPY --link`).
    public var link: Bool
    /// For a copy from a stage: the declared artifact it reads.
    public var artifact: String?

    public init(source: BoundCopySource, sources: [String], destination: String, resolvedDestination: String, chown: String?,
                chmod: UInt32?, exclude: [String], link: Bool, artifact: String?) {
        self.source = source
        self.sources = sources
        self.destination = destination
        self.resolvedDestination = resolvedDestination
        self.chown = chown
        self.chmod = chmod
        self.exclude = exclude
        self.link = link
        self.artifact = artifact
    }
}

public struct BoundAdd: Codable, Sendable, Equatable {
    /// The URL, expanded.
    public var url: String
    /// What the download must hash to.
    public var checksum: Digest
    /// The destination as written, expanded.
    public var destination: String
    /// The absolute file path the download is written to (a destination ending in `/` takes the URL's file name).
    public var resolvedDestination: String
    public var chown: String?
    /// The mode to give; Docker's ADD default 0600 when the plan says none.
    public var chmod: UInt32

    public init(url: String, checksum: Digest, destination: String, resolvedDestination: String, chown: String?, chmod: UInt32) {
        self.url = url
        self.checksum = checksum
        self.destination = destination
        self.resolvedDestination = resolvedDestination
        self.chown = chown
        self.chmod = chmod
    }
}

/// An image configuration as plan builds it (the OCI `config` object's fields plan sets), with every value expanded.
public struct BoundImageConfiguration: Codable, Sendable, Equatable {
    public var environment: [EnvironmentVariable]
    /// Absolute; `/` when the image sets none.
    public var workdir: String
    /// Empty: root.
    public var user: String
    /// The shell `run` steps use (not part of an OCI image; carried from a base stage).
    public var shell: [String]
    public var entrypoint: [String]?
    public var cmd: [String]?
    /// `80/tcp`, sorted.
    public var exposedPorts: [String]
    /// Sorted by key.
    public var labels: [Label]
    /// Sorted.
    public var volumes: [String]
    public var stopSignal: String?
    public var healthcheck: BoundHealthcheck?

    public init(environment: [EnvironmentVariable] = [], workdir: String = "/", user: String = "", shell: [String] = ["/bin/sh", "-c"],
                entrypoint: [String]? = nil, cmd: [String]? = nil, exposedPorts: [String] = [], labels: [Label] = [],
                volumes: [String] = [], stopSignal: String? = nil, healthcheck: BoundHealthcheck? = nil) {
        self.environment = environment
        self.workdir = workdir
        self.user = user
        self.shell = shell
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.exposedPorts = exposedPorts
        self.labels = labels
        self.volumes = volumes
        self.stopSignal = stopSignal
        self.healthcheck = healthcheck
    }

    /// An image label.
    public struct Label: Codable, Sendable, Hashable {
        public var key: String
        public var value: String

        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }
}

/// A health check as the image configuration holds it: the test in Docker's form (`["CMD", …]`,
/// `["CMD-SHELL", "…"]`, `["NONE"]`), durations in nanoseconds.
public struct BoundHealthcheck: Codable, Sendable, Equatable {
    public var test: [String]
    public var interval: Int64?
    public var timeout: Int64?
    public var startPeriod: Int64?
    public var startInterval: Int64?
    public var retries: Int?

    public init(test: [String], interval: Int64?, timeout: Int64?, startPeriod: Int64?, startInterval: Int64?, retries: Int?) {
        self.test = test
        self.interval = interval
        self.timeout = timeout
        self.startPeriod = startPeriod
        self.startInterval = startInterval
        self.retries = retries
    }
}
