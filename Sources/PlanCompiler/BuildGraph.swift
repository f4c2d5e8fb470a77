import PlanDiagnostics
import PlanValues

/// The one checked intermediate form of a plan, consumed by every back end (Dockerfile, bake, executor),
/// so they cannot disagree about what a plan means.
///
/// Paths are resolved, copies are split into instructions with explicit destinations, stages are in
/// dependency order (the author's order where free), and every item keeps its source location.
public struct BuildGraph: Sendable {
    /// The plan's name: names the bake group and image tags.
    public var planName: String
    /// The plan file read.
    public var planFile: String
    /// The plan file and every file it includes: a change to any of them changes the build.
    public var planFiles: [String] = []
    /// The build context folder, as a path from the current directory.
    public var contextPath: String
    /// Every build argument the plan declares.
    public var arguments: [BuildArgument]
    /// `.dockerignore` patterns, as written.
    public var ignore: [String]
    /// In dependency order: a stage comes after every stage it needs.
    public var stages: [GraphStage]
    /// The stages to produce as images.
    public var targets: [String]
    /// The platforms every target is built for: `--platform`, else the plan's `platforms:`, else the host's
    /// platform; parsed and normalised, duplicates removed, in the order given. Never empty in a checked graph.
    public var platforms: [Platform] = [Platform.host]
    /// Whether `platforms` was written (in the plan or with `--platform`) rather than defaulted to the host's:
    /// only then do bake targets carry `platforms`.
    public var platformsGiven: Bool = false

    /// The stage called `name`, if any.
    public func stage(named name: String) -> GraphStage? { stages.first { $0.name == name } }

    /// The stages that building `targets` (the plan's targets when empty) needs — the targets and
    /// every stage they depend on, bases included — in the graph's dependency order.
    public func stages(building targets: [String]) -> [GraphStage] {
        var needed = Set(targets.isEmpty ? self.targets : targets)
        for stage in stages.reversed() where needed.contains(stage.name) {
            needed.formUnion(stage.dependencies)
        }
        return stages.filter { needed.contains($0.name) }
    }
}

/// A build argument with its effective default (`--arg` applied); nil means "must be given at build time".
public struct BuildArgument: Hashable, Sendable {
    /// The argument's name, as `${NAME}` refers to it.
    public var name: String
    /// The effective default.
    public var value: String?
    /// Where the plan declares it.
    public var location: SourceLocation?
}

/// One checked stage: its base, its instructions in order, its image configuration and artifacts.
public struct GraphStage: Sendable {
    /// What a stage starts from.
    public enum Base: Hashable, Sendable {
        /// An empty root filesystem.
        case scratch
        /// An image reference, build arguments unexpanded.
        case image(String)
        /// Another stage of the plan, whose result this stage continues.
        case stage(String)
    }

    /// The stage's name, unique in the plan.
    public var name: String
    /// Where the stage is defined.
    public var location: SourceLocation
    /// What the stage starts from.
    public var base: Base
    /// The `os/arch[/variant]` the stage asks for; nil: the build host's.
    public var platform: String?
    /// Configuration and steps, in the order they apply.
    public var instructions: [GraphInstruction]
    /// What the stage sets in its image beyond its steps: entrypoint, cmd, ports, labels, …
    public var config: StageConfiguration
    /// What later stages may copy out of this one, in declaration order.
    public var artifacts: [GraphArtifact]
    /// Build arguments the stage's own instructions refer to (they must be declared inside the stage).
    public var arguments: [String]
    /// Stages this one needs, in first-use order.
    public var dependencies: [String]
    /// The working directory after the last step, when known.
    public var finalWorkdir: String?
    /// The user after the last step, when set by the plan.
    public var finalUser: String?
}

/// One thing a stage does, in order: a change of configuration or a step.
public enum GraphInstruction: Sendable {
    /// The working directory from here on.
    case workdir(String, SourceLocation)
    /// Environment variables set from here on, in order.
    case env([(name: String, value: String)], SourceLocation)
    /// The user from here on.
    case user(String, SourceLocation)
    /// The shell that `run` and shell-form commands use from here on.
    case shell([String], SourceLocation)
    /// A shell command.
    case run(GraphRun)
    /// A copy from the context, a stage or an image.
    case copy(GraphCopy)
    /// A checked download.
    case add(GraphAdd)
}

/// A `run` step: a shell command with its mounts and network.
public struct GraphRun: Sendable {
    /// The command as written; see `script`.
    public var command: String
    /// Folders kept between builds.
    public var cache: [CacheMount]
    /// Build secrets the command may read.
    public var secrets: [SecretMount]
    /// `none` or `host`; nil for the default network.
    public var network: String?
    /// Where the step is written.
    public var location: SourceLocation
    /// Bind, tmpfs and ssh mounts (`mounts:`), in the order written.
    public var mounts: [GraphMount] = []

    /// The command as both back ends run it: trailing line breaks and spaces are not part of it.
    public var script: String {
        var text = Substring(command)
        while text.last == "\n" || text.last == "\r" || text.last == " " { text = text.dropLast() }
        return String(text)
    }

    /// The line that says what the step does, for progress and `--explain`: the first that is not
    /// blank, a comment or a `set -…` preamble (the first line when all are).
    public var summary: String {
        let lines = script.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        return lines.first { !$0.isEmpty && !$0.hasPrefix("#") && !$0.hasPrefix("set -") } ?? lines.first ?? ""
    }

    /// True when the command spans several lines (a script, not a one-liner).
    public var isMultiline: Bool { script.contains("\n") }
}

/// A cache mount of a `run` step: a folder kept between builds.
public struct CacheMount: Hashable, Sendable {
    /// The folder mounted.
    public var target: String
    /// Names the cache, so that stages can share one.
    public var id: String?
    /// `shared`, `private` or `locked`.
    public var sharing: String?
}

/// A bind, tmpfs or ssh mount of a `run` step (`mounts:`; BuildKit's `RUN --mount`).
public enum GraphMount: Sendable {
    case bind(GraphBindMount)
    /// A fresh in-memory folder at `target`, at most `size` bytes (nil: the sandbox's default).
    case tmpfs(target: String, size: UInt64?)
    case ssh(GraphSSHMount)
}

/// A path of the context, of a stage's declared artifacts or of an image, bound for one `run` step.
public struct GraphBindMount: Sendable {
    /// The context, a stage or an image (reference unexpanded).
    public var source: GraphCopy.Source
    /// Relative to the context root (`.` for all of it), or absolute in the stage or image (`/` for all of it).
    public var path: String
    /// Where it is mounted: absolute, or relative to the workdir.
    public var target: String
    /// Writable; writes are discarded after the step.
    public var readWrite: Bool
    /// For a stage: the declared artifact the path lies in.
    public var artifact: String?
}

/// The ssh agent socket of a `run` step.
public struct GraphSSHMount: Sendable {
    /// The agent's id, as `--ssh ID=…` gives it (`default` when not written).
    public var id: String
    /// Where the socket is; nil: `/run/buildkit/ssh_agent.N` (N: its place among the step's ssh mounts).
    public var target: String?
    /// As written: `true` fails the build when the agent is not given.
    public var required: Bool?
    /// As written: the socket's mode (octal), owner and group.
    public var mode: String?
    public var uid: String?
    public var gid: String?
}

/// A build secret of a `run` step.
public struct SecretMount: Hashable, Sendable {
    /// The name given to `--secret id=ID,…` at build time.
    public var id: String
    /// The environment variable that exposes the secret, instead of a file.
    public var env: String?
    /// The absolute path of the secret file; nil: `/run/secrets/ID`.
    public var target: String?
    /// `true`: the build fails when the secret is not given.
    public var required: Bool?
}

/// One copy instruction with an explicit destination (Docker's rules apply to it as written).
public struct GraphCopy: Sendable {
    /// Where a copy reads.
    public enum Source: Hashable, Sendable {
        /// The build context.
        case context
        /// Another stage of the plan, by name.
        case stage(String)
        /// An external image reference, build arguments unexpanded.
        case image(String)
    }

    /// Where the copy reads.
    public var source: Source
    /// Paths relative to the context root, or absolute paths in the source stage or image.
    public var sources: [String]
    /// Where the copy writes, as `COPY` reads it: relative to the workdir, a trailing `/` naming a folder.
    public var destination: String
    /// The owner of the copied files (`USER[:GROUP]`).
    public var chown: String?
    /// The mode of the copied files.
    public var chmod: String?
    /// Patterns left out of the copy.
    public var exclude: [String]
    /// Copy into an independent layer (`COPY --link`) where the dialect supports it.
    public var link: Bool
    /// Where the step is written.
    public var location: SourceLocation
    /// For copies from a stage: the declared artifact the copy reads.
    public var artifact: String? = nil
}

/// An `add` step: a file downloaded and checked against its digest.
public struct GraphAdd: Sendable {
    /// The http(s) URL.
    public var url: String
    /// `sha256:HEX`, the file's expected digest.
    public var checksum: String
    /// Where the file is written, as `ADD` reads it: relative to the workdir, a trailing `/` naming a folder.
    public var destination: String
    /// The owner of the file (`USER[:GROUP]`).
    public var chown: String?
    /// The mode of the file.
    public var chmod: String?
    /// Where the step is written.
    public var location: SourceLocation
}

/// `entrypoint`/`cmd`: exec form or shell form.
public enum GraphCommand: Hashable, Sendable {
    /// The program and its arguments, run without a shell.
    case exec([String])
    /// A command run by the stage's shell.
    case shell(String)
}

/// The image's health check.
public struct Healthcheck: Hashable, Sendable {
    /// nil disables a health check inherited from the base image.
    public var command: GraphCommand?
    /// Time between checks, a duration as written (`30s`).
    public var interval: String?
    /// How long one check may take, a duration as written.
    public var timeout: String?
    /// Start-up time during which failures do not count, a duration as written.
    public var startPeriod: String?
    /// Time between checks during the start period, a duration as written.
    public var startInterval: String?
    /// Failures in a row before the container counts as unhealthy.
    public var retries: Int?
    /// Where `healthcheck` is written.
    public var location: SourceLocation
    /// Where `start_interval` is written, for the dialect that cannot express it.
    public var startIntervalLocation: SourceLocation? = nil
}

/// The image configuration a stage sets beyond its steps.
public struct StageConfiguration: Sendable {
    /// The program the container runs.
    public var entrypoint: GraphCommand?
    /// The default arguments, or the default command without an entrypoint.
    public var cmd: GraphCommand?
    /// Ports, `PORT` or `PORT/tcp|udp`.
    public var expose: [String] = []
    /// Labels, in written order.
    public var labels: [(key: String, value: String)] = []
    /// Mount points of the image.
    public var volumes: [String] = []
    /// The signal that stops a container of the image.
    public var stopSignal: String?
    /// nil: the base image's health check, if any.
    public var healthcheck: Healthcheck?
}

/// An artifact a stage declares: a path later stages may copy.
public struct GraphArtifact: Hashable, Sendable {
    /// The name, as in `STAGE.NAME`.
    public var name: String
    /// Absolute and normalised.
    public var path: String
    /// What the artifact holds, for people.
    public var description: String?
    /// Where the artifact is declared.
    public var location: SourceLocation
}
