import PlanDiagnostics

/// One plan file as written: the located syntax tree the parser produces.
///
/// Strings are kept as written, `${NAME}` and `${{ name }}` included; expansion and checks come later.
public struct PlanSyntax: Sendable {
    public var file: String
    public var location: SourceLocation
    public var version: Located<Int>?
    public var name: Located<String>?
    public var context: Located<String>?
    public var ignore: [Located<String>] = []
    public var args: [ArgumentSyntax] = []
    public var include: [Located<String>] = []
    public var stages: [StageSyntax] = []
    public var templates: [TemplateSyntax] = []
    public var expand: [ExpandSyntax] = []
    /// nil when the key is absent (the default: every stage no other stage depends on).
    public var targets: [Located<String>]?
    /// Warning codes or names silenced for the whole plan.
    public var allow: [Located<String>] = []

    public init(file: String, location: SourceLocation) {
        self.file = file
        self.location = location
    }
}

/// `args: NAME: default` — a build argument; a nil default means "must be given".
public struct ArgumentSyntax: Sendable {
    public var name: Located<String>
    public var defaultValue: Located<String>?
}

/// A `KEY: value` pair of `env` or `labels`, in written order.
public struct KeyValueSyntax: Sendable {
    public var key: Located<String>
    public var value: Located<String>
}

/// A stage: base, configuration, steps and the artifacts it declares.
public struct StageSyntax: Sendable {
    public var name: Located<String>
    public var location: SourceLocation
    public var from: Located<String>?
    public var platform: Located<String>?
    public var workdir: Located<String>?
    public var user: Located<String>?
    public var env: [KeyValueSyntax] = []
    public var shell: Located<[Located<String>]>?
    public var steps: [StepSyntax] = []
    public var artifacts: [ArtifactSyntax] = []
    public var entrypoint: CommandSyntax?
    public var cmd: CommandSyntax?
    public var expose: [Located<String>] = []
    public var labels: [KeyValueSyntax] = []
    public var volumes: [Located<String>] = []
    public var stopsignal: Located<String>?
    public var healthcheck: HealthcheckSyntax?
    public var allow: [Located<String>] = []

    public init(name: Located<String>, location: SourceLocation) {
        self.name = name
        self.location = location
    }
}

/// `entrypoint` / `cmd`: a list is exec form, a string is shell form.
public enum CommandSyntax: Sendable {
    case exec([Located<String>], at: SourceLocation)
    case shell(Located<String>)

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

public struct HealthcheckSyntax: Sendable {
    public var location: SourceLocation
    public var cmd: CommandSyntax?
    public var interval: Located<String>?
    public var timeout: Located<String>?
    public var startPeriod: Located<String>?
    public var startInterval: Located<String>?
    public var retries: Located<Int>?
    /// `healthcheck: none` — disable a health check inherited from the base image.
    public var disabled = false
}

/// `artifacts: NAME: PATH` or `NAME: {path, description}`.
public struct ArtifactSyntax: Sendable {
    public var name: Located<String>
    public var path: Located<String>
    public var description: Located<String>?
}

/// One step: exactly one action, with its options.
public struct StepSyntax: Sendable {
    public var location: SourceLocation
    public var action: StepAction

    public init(location: SourceLocation, action: StepAction) {
        self.location = location
        self.action = action
    }
}

public enum StepAction: Sendable {
    case run(RunStepSyntax)
    case copy(CopyStepSyntax)
    case artifact(ArtifactStepSyntax)
    case add(AddStepSyntax)
    case workdir(Located<String>)
    case env([KeyValueSyntax])
    case user(Located<String>)

    /// The action keys a step may have, exactly one of them.
    public static let keys = ["run", "copy", "artifact", "add", "workdir", "env", "user"]
}

public struct RunStepSyntax: Sendable {
    public var command: Located<String>
    public var cache: [CacheMountSyntax] = []
    public var secrets: [SecretMountSyntax] = []
    public var network: Located<String>?
}

/// `cache: PATH` or `{target, id, sharing}`.
public struct CacheMountSyntax: Sendable {
    public var location: SourceLocation
    public var target: Located<String>
    public var id: Located<String>?
    public var sharing: Located<String>?
}

/// `secrets: ID` or `{id, env, target, required}`.
public struct SecretMountSyntax: Sendable {
    public var location: SourceLocation
    public var id: Located<String>
    public var env: Located<String>?
    public var target: Located<String>?
    public var required: Located<Bool>?
}

/// Where a `copy` reads from.
public enum CopySourceSyntax: Sendable {
    case context
    case stage(Located<String>)
    case image(Located<String>)
}

public struct CopyStepSyntax: Sendable {
    public var paths: [Located<String>]
    public var source: CopySourceSyntax = .context
    public var to: Located<String>?
    public var chown: Located<String>?
    public var chmod: Located<String>?
    public var exclude: [Located<String>] = []
    public var link: Located<Bool>?
}

public struct ArtifactStepSyntax: Sendable {
    public var reference: Located<String>
    public var to: Located<String>?
    public var chown: Located<String>?
    public var chmod: Located<String>?
    public var link: Located<Bool>?
}

public struct AddStepSyntax: Sendable {
    public var url: Located<String>
    public var checksum: Located<String>?
    public var to: Located<String>?
    public var chown: Located<String>?
    public var chmod: Located<String>?
}

/// `templates: NAME: {params, stages}` — expanded by `expand` entries.
public struct TemplateSyntax: Sendable {
    public var name: Located<String>
    public var location: SourceLocation
    /// Parameter names with their defaults (nil: the instance must give it).
    public var params: [(name: Located<String>, defaultValue: Located<String>?)] = []
    public var stages: [StageSyntax] = []
}

/// One `expand` entry: a template and the values to instantiate it with.
public struct ExpandSyntax: Sendable {
    public enum Values: Sendable {
        case list([Located<String>])
        case dirs(Located<String>)
    }

    public var location: SourceLocation
    public var template: Located<String>
    public var forEach: [(name: Located<String>, values: Values)] = []
    public var with: [KeyValueSyntax] = []
}
