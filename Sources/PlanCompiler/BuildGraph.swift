import PlanDiagnostics

/// The one checked intermediate form of a plan, consumed by every back end (Dockerfile, bake, executor),
/// so they cannot disagree about what a plan means.
///
/// Paths are resolved, copies are split into instructions with explicit destinations, stages are in
/// dependency order (the author's order where free), and every item keeps its source location.
public struct BuildGraph: Sendable {
    public var planName: String
    public var planFile: String
    /// The plan file and every file it includes: a change to any of them changes the build.
    public var planFiles: [String] = []
    /// The build context folder, as a path from the current directory.
    public var contextPath: String
    public var arguments: [BuildArgument]
    /// `.dockerignore` patterns, as written.
    public var ignore: [String]
    public var stages: [GraphStage]
    /// The stages to produce as images.
    public var targets: [String]

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
    public var name: String
    public var value: String?
    public var location: SourceLocation?
}

public struct GraphStage: Sendable {
    public enum Base: Hashable, Sendable {
        case scratch
        /// An image reference, build arguments unexpanded.
        case image(String)
        /// Another stage of the plan, whose result this stage continues.
        case stage(String)
    }

    public var name: String
    public var location: SourceLocation
    public var base: Base
    public var platform: String?
    /// Configuration and steps, in the order they apply.
    public var instructions: [GraphInstruction]
    public var config: StageConfiguration
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

public enum GraphInstruction: Sendable {
    case workdir(String, SourceLocation)
    case env([(name: String, value: String)], SourceLocation)
    case user(String, SourceLocation)
    case shell([String], SourceLocation)
    case run(GraphRun)
    case copy(GraphCopy)
    case add(GraphAdd)
}

public struct GraphRun: Sendable {
    public var command: String
    public var cache: [CacheMount]
    public var secrets: [SecretMount]
    /// `none` or `host`; nil for the default network.
    public var network: String?
    public var location: SourceLocation

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

public struct CacheMount: Hashable, Sendable {
    public var target: String
    public var id: String?
    /// `shared`, `private` or `locked`.
    public var sharing: String?
}

public struct SecretMount: Hashable, Sendable {
    public var id: String
    public var env: String?
    public var target: String?
    public var required: Bool?
}

/// One copy instruction with an explicit destination (Docker's rules apply to it as written).
public struct GraphCopy: Sendable {
    public enum Source: Hashable, Sendable {
        case context
        case stage(String)
        case image(String)
    }

    public var source: Source
    /// Paths relative to the context root, or absolute paths in the source stage or image.
    public var sources: [String]
    public var destination: String
    public var chown: String?
    public var chmod: String?
    public var exclude: [String]
    /// Copy into an independent layer (`COPY --link`) where the dialect supports it.
    public var link: Bool
    public var location: SourceLocation
    /// For copies from a stage: the declared artifact the copy reads.
    public var artifact: String? = nil
}

public struct GraphAdd: Sendable {
    public var url: String
    public var checksum: String
    public var destination: String
    public var chown: String?
    public var chmod: String?
    public var location: SourceLocation
}

/// `entrypoint`/`cmd`: exec form or shell form.
public enum GraphCommand: Hashable, Sendable {
    case exec([String])
    case shell(String)
}

public struct Healthcheck: Hashable, Sendable {
    /// nil disables a health check inherited from the base image.
    public var command: GraphCommand?
    public var interval: String?
    public var timeout: String?
    public var startPeriod: String?
    public var startInterval: String?
    public var retries: Int?
    public var location: SourceLocation
    /// Where `start_interval` is written, for the dialect that cannot express it.
    public var startIntervalLocation: SourceLocation? = nil
}

/// The image configuration a stage sets beyond its steps.
public struct StageConfiguration: Sendable {
    public var entrypoint: GraphCommand?
    public var cmd: GraphCommand?
    public var expose: [String] = []
    public var labels: [(key: String, value: String)] = []
    public var volumes: [String] = []
    public var stopSignal: String?
    public var healthcheck: Healthcheck?
}

public struct GraphArtifact: Hashable, Sendable {
    public var name: String
    /// Absolute and normalised.
    public var path: String
    public var description: String?
    public var location: SourceLocation
}
