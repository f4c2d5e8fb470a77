import PlanCompiler
import PlanDiagnostics

/// The Dockerfile flavour to write.
public enum Dialect: String, CaseIterable, Sendable {
    /// Docker's BuildKit: heredocs, `COPY --link`, `COPY --exclude`, `RUN --network`, secrets as env.
    case buildkit
    /// Older builders still shipped by stable distributions (buildah 1.28, podman 4.3): no heredocs
    /// (multi-line scripts become exec form), no `--link`, and located errors for what cannot be expressed.
    case portable

    /// The graph's features this dialect cannot express, each a located error naming the feature.
    public func unsupportedFeatures(in graph: BuildGraph) -> [Diagnostic] {
        guard self == .portable else { return [] }
        var found: [Diagnostic] = []
        func report(_ feature: String, _ location: SourceLocation, help: String) {
            found.append(.error(.unsupportedByDialect, "the portable dialect cannot express \(feature)", at: location,
                                help: help + "; or compile with `--dialect buildkit`"))
        }
        for stage in graph.stages {
            for instruction in stage.instructions {
                switch instruction {
                case .copy(let copy) where !copy.exclude.isEmpty:
                    report("`exclude` on a copy (COPY --exclude)", copy.location,
                           help: "list the paths to copy instead, or exclude them for every copy with `ignore`")
                case .run(let run):
                    if let network = run.network {
                        report("`network: \(network)` (RUN --network)", run.location,
                               help: "remove `network` from the step")
                    }
                    for secret in run.secrets where secret.env != nil {
                        report("a secret exposed as an environment variable (`env` of secret `\(secret.id)`)",
                               run.location, help: "mount it as a file with `target:` and read it from there")
                    }
                case .add(let add):
                    report("a checked download (ADD --checksum)", add.location,
                           help: "download it in a `run` step and check it with sha256sum")
                default:
                    break
                }
            }
            if let check = stage.config.healthcheck, check.startInterval != nil {
                report("`start_interval` of a healthcheck", check.startIntervalLocation ?? check.location, help: "remove `start_interval`")
            }
        }
        return found + Self.portableSubstitutionProblems(in: graph)
    }
}
