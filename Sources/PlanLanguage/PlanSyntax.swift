import PlanDiagnostics

/// One plan file as written: the located syntax tree the parser produces.
///
/// Strings are kept as written, `${NAME}` and `${{ name }}` included; expansion and checks come later.
public struct PlanSyntax: Sendable {
    /// The path of the file, as given to the parser.
    public var file: String
    /// The whole document.
    public var location: SourceLocation
    /// `version:` — the language version (1).
    public var version: Located<Int>?
    /// `name:` — names the bake group and image tags; nil: the plan file's folder name.
    public var name: Located<String>?
    /// `context:` — the build context, relative to the plan file; nil: the plan file's folder.
    public var context: Located<String>?
    /// `ignore:` — patterns excluded from the context, in `.dockerignore` syntax.
    public var ignore: [Located<String>] = []
    /// `args:` — the build arguments the plan declares.
    public var args: [ArgumentSyntax] = []
    /// `platforms:` — the platforms every target is built for, as written; nil when the key is absent
    /// (the host's platform). Located at the value, so an empty list can be reported.
    public var platforms: Located<[Located<String>]>?
    /// `include:` — fragment files merged in, relative to this file.
    public var include: [Located<String>] = []
    /// `stages:` — in the order written.
    public var stages: [StageSyntax] = []
    /// `templates:` — stage groups that `expand` entries instantiate.
    public var templates: [TemplateSyntax] = []
    /// `expand:` — template instantiations.
    public var expand: [ExpandSyntax] = []
    /// nil when the key is absent (the default: every stage no other stage depends on).
    public var targets: [Located<String>]?
    /// Warning codes or names silenced for the whole plan.
    public var allow: [Located<String>] = []

    /// An empty plan for `file`, located at `location`.
    public init(file: String, location: SourceLocation) {
        self.file = file
        self.location = location
    }
}

/// `args: NAME: default` — a build argument; a nil default means "must be given".
public struct ArgumentSyntax: Sendable {
    /// The argument's name, referred to as `${NAME}`.
    public var name: Located<String>
    /// The default value; nil (`null`) when it must be given.
    public var defaultValue: Located<String>?
}

/// A `KEY: value` pair of `env` or `labels`, in written order.
public struct KeyValueSyntax: Sendable {
    /// The variable or label name.
    public var key: Located<String>
    /// Its value, unexpanded.
    public var value: Located<String>
}

/// A stage: base, configuration, steps and the artifacts it declares.
public struct StageSyntax: Sendable {
    /// The stage's name, the key under `stages`.
    public var name: Located<String>
    /// The stage's mapping.
    public var location: SourceLocation
    /// `from:` — an image reference, `scratch`, or another stage's name.
    public var from: Located<String>?
    /// `platform:` — `os/arch[/variant]`.
    public var platform: Located<String>?
    /// `workdir:` — the working directory before the first step.
    public var workdir: Located<String>?
    /// `user:` — the user before the first step.
    public var user: Located<String>?
    /// `env:` — environment variables set before the first step.
    public var env: [KeyValueSyntax] = []
    /// `shell:` — the shell that `run` steps and shell-form commands use.
    public var shell: Located<[Located<String>]>?
    /// `steps:` — run in order.
    public var steps: [StepSyntax] = []
    /// `artifacts:` — what later stages may copy out of this one.
    public var artifacts: [ArtifactSyntax] = []
    /// `entrypoint:` of the image.
    public var entrypoint: CommandSyntax?
    /// `cmd:` of the image.
    public var cmd: CommandSyntax?
    /// `expose:` — `PORT` or `PORT/tcp|udp` entries.
    public var expose: [Located<String>] = []
    /// `labels:` of the image, in written order.
    public var labels: [KeyValueSyntax] = []
    /// `volumes:` — mount points of the image.
    public var volumes: [Located<String>] = []
    /// `stopsignal:` — the signal that stops a container of the image.
    public var stopsignal: Located<String>?
    /// `healthcheck:` of the image.
    public var healthcheck: HealthcheckSyntax?
    /// Warning codes or names silenced for this stage.
    public var allow: [Located<String>] = []

    /// A stage with nothing but its name, located at `location`.
    public init(name: Located<String>, location: SourceLocation) {
        self.name = name
        self.location = location
    }
}

/// `entrypoint` / `cmd`: a list is exec form, a string is shell form.
public enum CommandSyntax: Sendable {
    /// A list: the program and its arguments, run without a shell; located at the list.
    case exec([Located<String>], at: SourceLocation)
    /// A string, run by the stage's shell.
    case shell(Located<String>)

    /// Where the command is written.
    public var location: SourceLocation {
        switch self {
        case .exec(_, let location): location
        case .shell(let command): command.location
        }
    }

    /// Every string of the command, for variable checks.
    public var strings: [Located<String>] {
        switch self {
        case .exec(let items, _): items
        case .shell(let command): [command]
        }
    }
}

/// `healthcheck: {cmd, interval, timeout, start_period, start_interval, retries}`, or `none`.
public struct HealthcheckSyntax: Sendable {
    /// The `healthcheck` mapping (or `none`).
    public var location: SourceLocation
    /// `cmd:` — the check command.
    public var cmd: CommandSyntax?
    /// `interval:` — a duration (`30s`), unchecked.
    public var interval: Located<String>?
    /// `timeout:` — a duration, unchecked.
    public var timeout: Located<String>?
    /// `start_period:` — a duration, unchecked.
    public var startPeriod: Located<String>?
    /// `start_interval:` — a duration, unchecked.
    public var startInterval: Located<String>?
    /// `retries:` — failures in a row before the container counts as unhealthy.
    public var retries: Located<Int>?
    /// `healthcheck: none` — disable a health check inherited from the base image.
    public var disabled = false
}

/// `artifacts: NAME: PATH` or `NAME: {path, description}`.
public struct ArtifactSyntax: Sendable {
    /// The artifact's name, as in `STAGE.NAME`.
    public var name: Located<String>
    /// Absolute, or relative to the stage's final workdir.
    public var path: Located<String>
    /// What the artifact holds, for people.
    public var description: Located<String>?
}

/// One step: exactly one action, with its options.
public struct StepSyntax: Sendable {
    /// The step's action key.
    public var location: SourceLocation
    /// What the step does.
    public var action: StepAction

    /// A step doing `action`, located at its action key.
    public init(location: SourceLocation, action: StepAction) {
        self.location = location
        self.action = action
    }
}

/// A step's one action and its options.
public enum StepAction: Sendable {
    /// `run:` — a shell command.
    case run(RunStepSyntax)
    /// `copy:` — files from the context, a stage or an image.
    case copy(CopyStepSyntax)
    /// `artifact:` — a declared artifact of another stage.
    case artifact(ArtifactStepSyntax)
    /// `add:` — a downloaded file.
    case add(AddStepSyntax)
    /// `workdir:` — the working directory from here on.
    case workdir(Located<String>)
    /// `env:` — environment variables from here on.
    case env([KeyValueSyntax])
    /// `user:` — the user from here on.
    case user(Located<String>)

    /// The action keys a step may have, exactly one of them.
    public static let keys = ["run", "copy", "artifact", "add", "workdir", "env", "user"]
}

/// `run: COMMAND` with `cache`, `secrets`, `mounts` and `network`.
public struct RunStepSyntax: Sendable {
    /// The shell command; a multi-line string is one script.
    public var command: Located<String>
    /// `cache:` — folders kept between builds.
    public var cache: [CacheMountSyntax] = []
    /// `secrets:` — build secrets the command may read.
    public var secrets: [SecretMountSyntax] = []
    /// `network:` — `default`, `none` or `host`.
    public var network: Located<String>?
    /// `mounts:` — bind, tmpfs and ssh mounts (BuildKit's `RUN --mount`).
    public var mounts: [MountSyntax] = []

    public init(command: Located<String>, cache: [CacheMountSyntax] = [], secrets: [SecretMountSyntax] = [],
                network: Located<String>? = nil, mounts: [MountSyntax] = []) {
        self.command = command
        self.cache = cache
        self.secrets = secrets
        self.network = network
        self.mounts = mounts
    }
}

/// One entry of `mounts:`, as BuildKit's `RUN --mount=type=…` takes it. Which keys a type takes is the
/// checker's to say (E0115), so that every key is kept with its place.
public struct MountSyntax: Sendable {
    /// The mount's mapping.
    public var location: SourceLocation
    /// `bind` (nil: BuildKit's default, bind), `tmpfs` or `ssh`.
    public var type: Located<String>?
    /// Where it is mounted: absolute or relative to the workdir.
    public var target: Located<String>?
    /// bind: the path bound, in the context or in the stage or image.
    public var source: Located<String>?
    /// bind: the stage read (its declared artifacts).
    public var from: Located<String>?
    /// bind: the image read.
    public var image: Located<String>?
    /// bind: writable (writes are discarded).
    public var rw: Located<Bool>?
    /// tmpfs: the size limit, bytes or with a unit (`64m`).
    public var size: Located<String>?
    /// ssh: the agent's id, given to `--ssh ID=…`.
    public var id: Located<String>?
    /// ssh: fail when the agent is not given.
    public var required: Located<Bool>?
    /// ssh: the socket's mode, octal.
    public var mode: Located<String>?
    /// ssh: the socket's owner.
    public var uid: Located<String>?
    /// ssh: the socket's group.
    public var gid: Located<String>?

    public init(location: SourceLocation) {
        self.location = location
    }

    /// The keys a mount may have.
    public static let keys = ["type", "target", "source", "from", "image", "rw", "size", "id", "required", "mode", "uid", "gid"]
}

/// `cache: PATH` or `{target, id, sharing}`.
public struct CacheMountSyntax: Sendable {
    /// The mount as written (a string or a mapping).
    public var location: SourceLocation
    /// The folder kept between builds.
    public var target: Located<String>
    /// Names the cache, so that stages can share one.
    public var id: Located<String>?
    /// `shared`, `private` or `locked`; nil: shared.
    public var sharing: Located<String>?
}

/// `secrets: ID` or `{id, env, target, required}`.
public struct SecretMountSyntax: Sendable {
    /// The secret as written (a string or a mapping).
    public var location: SourceLocation
    /// The name given to `--secret id=ID,…` at build time.
    public var id: Located<String>
    /// The environment variable that exposes the secret, instead of a file.
    public var env: Located<String>?
    /// The absolute path of the secret file; nil: `/run/secrets/ID`.
    public var target: Located<String>?
    /// Whether the build fails when the secret is not given.
    public var required: Located<Bool>?
}

/// Where a `copy` reads from.
public enum CopySourceSyntax: Sendable {
    /// The build context (neither `from` nor `image`).
    case context
    /// `from: STAGE` — another stage's artifacts.
    case stage(Located<String>)
    /// `image: REF` — an external image.
    case image(Located<String>)
}

/// `copy: PATHS` with its options.
public struct CopyStepSyntax: Sendable {
    /// The paths copied: in the context, or absolute in the source stage or image.
    public var paths: [Located<String>]
    /// Where the paths are read.
    public var source: CopySourceSyntax = .context
    /// `to:` — the destination, absolute or relative to the workdir.
    public var to: Located<String>?
    /// `chown:` — the owner of the copied files (`USER[:GROUP]`).
    public var chown: Located<String>?
    /// `chmod:` — the mode of the copied files.
    public var chmod: Located<String>?
    /// `exclude:` — patterns left out of the copy.
    public var exclude: [Located<String>] = []
    /// `link:` — copy into an independent layer (`COPY --link`); nil: the default for the source.
    public var link: Located<Bool>?
}

/// `artifact: STAGE.NAME[/SUBPATH]` with its options.
public struct ArtifactStepSyntax: Sendable {
    /// `STAGE.NAME[/SUBPATH]`, as written.
    public var reference: Located<String>
    /// `to:` — the destination; nil: the artifact's own path.
    public var to: Located<String>?
    /// `chown:` — the owner of the copied files (`USER[:GROUP]`).
    public var chown: Located<String>?
    /// `chmod:` — the mode of the copied files.
    public var chmod: Located<String>?
    /// `link:` — copy into an independent layer (`COPY --link`); nil: the default.
    public var link: Located<Bool>?
}

/// `add: URL` with its options.
public struct AddStepSyntax: Sendable {
    /// The http(s) URL downloaded.
    public var url: Located<String>
    /// `checksum:` — `sha256:HEX`, the file's expected digest.
    public var checksum: Located<String>?
    /// `to:` — the destination, absolute or relative to the workdir.
    public var to: Located<String>?
    /// `chown:` — the owner of the file (`USER[:GROUP]`).
    public var chown: Located<String>?
    /// `chmod:` — the mode of the file.
    public var chmod: Located<String>?
}

/// `templates: NAME: {params, stages}` — expanded by `expand` entries.
public struct TemplateSyntax: Sendable {
    /// The template's name, as `expand` entries give it.
    public var name: Located<String>
    /// The template's mapping.
    public var location: SourceLocation
    /// Parameter names with their defaults (nil: the instance must give it).
    public var params: [(name: Located<String>, defaultValue: Located<String>?)] = []
    /// The stages each instance adds, names and values holding `${{ param }}`.
    public var stages: [StageSyntax] = []
}

/// One `expand` entry: a template and the values to instantiate it with.
public struct ExpandSyntax: Sendable {
    /// The values a `for` parameter takes.
    public enum Values: Sendable {
        /// An explicit list.
        case list([Located<String>])
        /// `{dirs: GLOB}`: the last component of each context folder the glob matches.
        case dirs(Located<String>)
    }

    /// The entry's mapping.
    public var location: SourceLocation
    /// `template:` — the template instantiated.
    public var template: Located<String>
    /// `for:` — parameters and their values; several give their cross product, the first varying slowest.
    public var forEach: [(name: Located<String>, values: Values)] = []
    /// `with:` — fixed parameter values for every instance.
    public var with: [KeyValueSyntax] = []
}
