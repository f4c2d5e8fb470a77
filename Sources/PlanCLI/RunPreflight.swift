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
    /// The platforms the run builds for (`--platform`, else the plan's, else the host's), in the order asked.
    var platforms: [Platform] = [.host]
    /// Checks that this machine runs the platform's programs (natively or emulated).
    var emulation = Emulation()
    var host: Platform { emulation.host }

    /// The stages the run builds: the targets and what they need.
    var neededStages: [GraphStage] { graph.stages(building: targets) }

    /// The distinct platforms whose programs the run starts: those its stages with `run` steps are built for
    /// (a stage's pin, else each target platform), in order. Only `run` steps start the platform's programs;
    /// a build of copies needs no emulator.
    var platformsRunningPrograms: [Platform] {
        var found: [Platform] = []
        for target in platforms {
            // The binder's rule (a pin, through `from:` chains), not a second one.
            let binder = Binder(graph: graph, options: BindOptions(targets: targets, platform: target, buildPlatform: host))
            for stage in neededStages where stage.instructions.contains(where: { if case .run = $0 { true } else { false } }) {
                let platform = binder.platform(of: stage).normalized
                if !found.contains(platform) { found.append(platform) }
            }
        }
        return found
    }

    /// Every problem found, in stage order; empty when the build may start.
    func problems(secretIDs: Set<String>, noCacheStages: [String], sshIDs: Set<String> = []) -> [String] {
        var found: [String] = []
        // One problem per platform this machine cannot run, each with its package and command.
        for platform in platformsRunningPrograms {
            do {
                try emulation.check(platform)
            } catch {
                found.append(error.description)
            }
        }
        for stage in neededStages {
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
}
