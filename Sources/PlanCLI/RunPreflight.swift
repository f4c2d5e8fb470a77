import PlanCompiler
import PlanDiagnostics
import PlanLanguage
import PlanExecutor
import PlanOCI
import PlanValues

/// What `plan run` checks between compiling and building: facts the plan alone does not settle (the platform
/// built for and whether this machine can run its programs, the secrets, ssh agents and stage names passed on the command line). Each problem is one sentence that
/// names the stage, the place in the plan and what to do.
struct RunPreflight {
    let graph: BuildGraph
    /// `--target`, or empty for the plan's targets.
    let targets: [String]
    /// The platform the run builds for (`--platform`, default the host's).
    var platform: Platform = .host
    /// Checks that this machine runs the platform's programs (natively or emulated).
    var emulation = Emulation()
    var host: Platform { emulation.host }

    /// The stages the run builds: the targets and what they need.
    var neededStages: [GraphStage] { graph.stages(building: targets) }

    /// Every problem found, in stage order; empty when the build may start.
    func problems(secretIDs: Set<String>, noCacheStages: [String], sshIDs: Set<String> = []) -> [String] {
        var found: [String] = []
        // Only `run` steps start the platform's programs; a build of copies needs no emulator.
        let runsPrograms = neededStages.contains { $0.instructions.contains { if case .run = $0 { true } else { false } } }
        do {
            if runsPrograms { try emulation.check(platform) }
        } catch {
            found.append(error.description)
        }
        for stage in neededStages {
            if let problem = platformProblem(stage) { found.append(problem) }
            var reported = Set<String>()
            for case .run(let run) in stage.instructions {
                for secret in run.secrets where secret.required == true && !secretIDs.contains(secret.id) {
                    guard reported.insert(secret.id).inserted else { continue }
                    found.append("\(run.location): stage `\(stage.name)` needs secret `\(secret.id)` (`required: true`), "
                                 + "but no --secret id=\(secret.id),src=FILE (or env=VARIABLE) was passed")
                }
                for case .ssh(let ssh) in run.mounts where ssh.required == true && !sshIDs.contains(ssh.id) {
                    guard reported.insert("ssh " + ssh.id).inserted else { continue }
                    found.append("\(run.location): stage `\(stage.name)` needs ssh agent `\(ssh.id)` (`required: true`), "
                                 + "but no --ssh \(ssh.id) (or --ssh \(ssh.id)=SOCKET) was passed")
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

    /// A stage `platform:` other than the run's: one run builds one platform, and a stage built for another one
    /// under that name would be a wrong result that passes silently. `TARGET*` are the run's platform, `BUILD*`
    /// the host's, as in BuildKit.
    func platformProblem(_ stage: GraphStage) -> String? {
        guard let written = stage.platform else { return nil }
        var values: [String: String] = [:]
        for argument in graph.arguments { if let value = argument.value { values[argument.name] = value } }
        for (prefix, value) in [("TARGET", platform.normalized), ("BUILD", host.normalized)] {
            values[prefix + "PLATFORM"] = value.description
            values[prefix + "OS"] = value.os
            values[prefix + "ARCH"] = value.architecture
            values[prefix + "VARIANT"] = value.variant ?? ""
        }
        let text = Interpolation.substituteArguments(in: written, values)
        let location = "\(stage.location)"
        guard let stagePlatform = try? Platform(parsing: text) else {
            return "\(location): stage `\(stage.name)`: platform `\(text)` is not os/arch[/variant]"
        }
        if stagePlatform.matches(platform) && platform.matches(stagePlatform) { return nil }
        return "\(location): stage `\(stage.name)` is for platform \(stagePlatform), but this run builds for \(platform.normalized) "
            + "and plan run builds one platform per run; remove `platform:` or pass --platform \(stagePlatform)"
    }
}
