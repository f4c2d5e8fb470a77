import PlanCompiler
import PlanDiagnostics
import PlanLanguage
import PlanOCI

/// What `plan run` checks between compiling and building: facts the plan alone does not settle (the host's
/// platform, the secrets and stage names passed on the command line). Each problem is one sentence that
/// names the stage, the place in the plan and what to do.
struct RunPreflight {
    let graph: BuildGraph
    /// `--target`, or empty for the plan's targets.
    let targets: [String]
    var host: Platform = .host

    /// The stages the run builds: the targets and what they need.
    var neededStages: [GraphStage] { graph.stages(building: targets) }

    /// Every problem found, in stage order; empty when the build may start.
    func problems(secretIDs: Set<String>, noCacheStages: [String]) -> [String] {
        var found: [String] = []
        for stage in neededStages {
            if let problem = platformProblem(stage) { found.append(problem) }
            var reported = Set<String>()
            for case .run(let run) in stage.instructions {
                for secret in run.secrets where secret.required == true && !secretIDs.contains(secret.id) {
                    guard reported.insert(secret.id).inserted else { continue }
                    found.append("\(run.location): stage `\(stage.name)` needs secret `\(secret.id)` (`required: true`), "
                                 + "but no --secret id=\(secret.id),src=FILE (or env=VARIABLE) was passed")
                }
            }
        }
        let names = graph.stages.map(\.name)
        for name in noCacheStages where !names.contains(name) {
            found.append("--no-cache-filter \(name): the plan has no stage `\(name)`; "
                         + (Suggestion.didYouMean(name, in: names) ?? "stages: " + names.joined(separator: ", ")))
        }
        return found
    }

    /// A stage `platform:` other than the host's: the executor builds only for the host, and building anything
    /// else under that name would be a wrong result that passes silently.
    func platformProblem(_ stage: GraphStage) -> String? {
        guard let written = stage.platform else { return nil }
        var values: [String: String] = [:]
        for argument in graph.arguments { if let value = argument.value { values[argument.name] = value } }
        for prefix in ["TARGET", "BUILD"] {
            values[prefix + "PLATFORM"] = host.description
            values[prefix + "OS"] = host.os
            values[prefix + "ARCH"] = host.architecture
            values[prefix + "VARIANT"] = host.variant ?? ""
        }
        let text = Interpolation.substituteArguments(in: written, values)
        let location = "\(stage.location)"
        guard let platform = try? Platform(parsing: text) else {
            return "\(location): stage `\(stage.name)`: platform `\(text)` is not os/arch[/variant]"
        }
        if platform.matches(host) && host.matches(platform) { return nil }
        return "\(location): stage `\(stage.name)` is for platform \(platform), but plan run builds only for this "
            + "machine's platform, \(host); remove `platform:` to build for \(host), or compile the plan "
            + "(`plan compile`) and build it with a multi-platform builder"
    }
}
