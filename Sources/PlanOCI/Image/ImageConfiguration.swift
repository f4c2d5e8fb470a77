/// An image configuration (`application/vnd.oci.image.config.v1+json`, or Docker's
/// `application/vnd.docker.container.image.v1+json`): platform, run defaults, layer diff IDs
/// and history. Fields Docker adds (`container_config`, `docker_version`, …) are read past.
public struct ImageConfiguration: Hashable, Sendable, Codable {
    /// When the image was made, RFC 3339, kept exactly as written (none unless given).
    public var created: String?
    /// Who made it.
    public var author: String?
    /// CPU architecture, e.g. `amd64`.
    public var architecture: String
    /// Operating system, e.g. `linux`.
    public var os: String
    /// OS version (Windows).
    public var osVersion: String?
    /// OS features (Windows).
    public var osFeatures: [String]?
    /// CPU variant, e.g. `v8`.
    public var variant: String?
    /// Defaults for running a container from the image.
    public var config: ContainerConfiguration?
    /// The layers' uncompressed digests.
    public var rootfs: RootFS
    /// One entry per build step, layer-producing or not.
    public var history: [History]?

    enum CodingKeys: String, CodingKey {
        case created, author, architecture, os, variant, config, rootfs, history
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    /// Makes a configuration.
    public init(
        platform: Platform, config: ContainerConfiguration? = nil, diffIDs: [Digest] = [],
        history: [History]? = nil, created: String? = nil, author: String? = nil
    ) {
        self.architecture = platform.architecture
        self.os = platform.os
        self.variant = platform.variant
        self.osVersion = platform.osVersion
        self.osFeatures = platform.osFeatures
        self.config = config
        self.rootfs = RootFS(diffIDs: diffIDs)
        self.history = history
        self.created = created
        self.author = author
    }

    /// The platform this configuration declares.
    public var platform: Platform {
        Platform(os: os, architecture: architecture, variant: variant, osVersion: osVersion, osFeatures: osFeatures)
    }

    /// The `rootfs` object: always of type `layers`.
    public struct RootFS: Hashable, Sendable, Codable {
        /// Always `layers`.
        public var type: String
        /// The uncompressed layer digests, base first.
        public var diffIDs: [Digest]

        enum CodingKeys: String, CodingKey {
            case type
            case diffIDs = "diff_ids"
        }

        /// Makes a `layers` rootfs.
        public init(diffIDs: [Digest]) {
            self.type = "layers"
            self.diffIDs = diffIDs
        }
    }

    /// One build step in the image's history.
    public struct History: Hashable, Sendable, Codable {
        /// When the step ran, RFC 3339.
        public var created: String?
        /// The command of the step, e.g. `RUN make`.
        public var createdBy: String?
        /// Who made it.
        public var author: String?
        /// A comment.
        public var comment: String?
        /// True when the step made no layer.
        public var emptyLayer: Bool?

        enum CodingKeys: String, CodingKey {
            case created, author, comment
            case createdBy = "created_by"
            case emptyLayer = "empty_layer"
        }

        /// Makes a history entry.
        public init(created: String? = nil, createdBy: String? = nil, author: String? = nil, comment: String? = nil, emptyLayer: Bool? = nil) {
            self.created = created
            self.createdBy = createdBy
            self.author = author
            self.comment = comment
            self.emptyLayer = emptyLayer
        }
    }
}

/// The `config` object of an image configuration: defaults for a container run from the image.
public struct ContainerConfiguration: Hashable, Sendable, Codable {
    /// `user`, `uid`, `user:group`, `uid:gid`, ….
    public var user: String?
    /// Ports, `port/tcp` or `port/udp`.
    public var exposedPorts: Set<String>?
    /// `NAME=value` entries.
    public var env: [String]?
    /// The entrypoint, exec form.
    public var entrypoint: [String]?
    /// The command, exec form.
    public var cmd: [String]?
    /// Volume mount points.
    public var volumes: Set<String>?
    /// The working directory.
    public var workingDir: String?
    /// Labels.
    public var labels: [String: String]?
    /// The signal that stops the container, e.g. `SIGTERM`.
    public var stopSignal: String?
    /// Windows only: whether the command line is already escaped.
    public var argsEscaped: Bool?
    /// Docker's health check (not part of the OCI spec; Docker and podman read it).
    public var healthcheck: HealthConfiguration?

    enum CodingKeys: String, CodingKey {
        case user = "User"
        case exposedPorts = "ExposedPorts"
        case env = "Env"
        case entrypoint = "Entrypoint"
        case cmd = "Cmd"
        case volumes = "Volumes"
        case workingDir = "WorkingDir"
        case labels = "Labels"
        case stopSignal = "StopSignal"
        case argsEscaped = "ArgsEscaped"
        case healthcheck = "Healthcheck"
    }

    /// Makes a container configuration.
    public init(
        user: String? = nil, exposedPorts: Set<String>? = nil, env: [String]? = nil, entrypoint: [String]? = nil,
        cmd: [String]? = nil, volumes: Set<String>? = nil, workingDir: String? = nil, labels: [String: String]? = nil,
        stopSignal: String? = nil
    ) {
        self.user = user
        self.exposedPorts = exposedPorts
        self.env = env
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.volumes = volumes
        self.workingDir = workingDir
        self.labels = labels
        self.stopSignal = stopSignal
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        user = try c.decodeIfPresent(String.self, forKey: .user)
        exposedPorts = try c.decodeIfPresent([String: EmptyObject].self, forKey: .exposedPorts).map { Set($0.keys) }
        env = try c.decodeIfPresent([String].self, forKey: .env)
        entrypoint = try c.decodeIfPresent([String].self, forKey: .entrypoint)
        cmd = try c.decodeIfPresent([String].self, forKey: .cmd)
        volumes = try c.decodeIfPresent([String: EmptyObject].self, forKey: .volumes).map { Set($0.keys) }
        workingDir = try c.decodeIfPresent(String.self, forKey: .workingDir)
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels)
        stopSignal = try c.decodeIfPresent(String.self, forKey: .stopSignal)
        argsEscaped = try c.decodeIfPresent(Bool.self, forKey: .argsEscaped)
        healthcheck = try c.decodeIfPresent(HealthConfiguration.self, forKey: .healthcheck)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(user, forKey: .user)
        try c.encodeIfPresent(exposedPorts.map { Dictionary(uniqueKeysWithValues: $0.map { ($0, EmptyObject()) }) }, forKey: .exposedPorts)
        try c.encodeIfPresent(env, forKey: .env)
        try c.encodeIfPresent(entrypoint, forKey: .entrypoint)
        try c.encodeIfPresent(cmd, forKey: .cmd)
        try c.encodeIfPresent(volumes.map { Dictionary(uniqueKeysWithValues: $0.map { ($0, EmptyObject()) }) }, forKey: .volumes)
        try c.encodeIfPresent(workingDir, forKey: .workingDir)
        try c.encodeIfPresent(labels, forKey: .labels)
        try c.encodeIfPresent(stopSignal, forKey: .stopSignal)
        try c.encodeIfPresent(argsEscaped, forKey: .argsEscaped)
        try c.encodeIfPresent(healthcheck, forKey: .healthcheck)
    }
}

/// A container health check as Docker stores it: `Test` is `["CMD", …]`, `["CMD-SHELL", "…"]` or
/// `["NONE"]`; durations are nanoseconds.
public struct HealthConfiguration: Hashable, Sendable, Codable {
    public var test: [String]
    public var interval: Int64?
    public var timeout: Int64?
    public var startPeriod: Int64?
    public var startInterval: Int64?
    public var retries: Int?

    enum CodingKeys: String, CodingKey {
        case test = "Test"
        case interval = "Interval"
        case timeout = "Timeout"
        case startPeriod = "StartPeriod"
        case startInterval = "StartInterval"
        case retries = "Retries"
    }

    public init(test: [String], interval: Int64? = nil, timeout: Int64? = nil, startPeriod: Int64? = nil,
                startInterval: Int64? = nil, retries: Int? = nil) {
        self.test = test
        self.interval = interval
        self.timeout = timeout
        self.startPeriod = startPeriod
        self.startInterval = startInterval
        self.retries = retries
    }
}

/// The JSON value `{}`, as used for the members of `ExposedPorts` and `Volumes`.
struct EmptyObject: Hashable, Sendable, Codable {
    init() {}
    init(from decoder: any Decoder) throws {}
    func encode(to encoder: any Encoder) throws {
        _ = encoder.container(keyedBy: NoKeys.self)
    }
    private enum NoKeys: CodingKey {}
}
