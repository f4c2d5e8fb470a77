import Foundation
import PlanDiagnostics
import PlanLanguage
import PlanPaths

extension Checker {
    /// Image configuration: ports, volumes, labels, stop signal, health check, entrypoint and cmd.
    mutating func checkStageConfiguration() {
        for index in stages.indices {
            let syntax = stages[index].syntax
            let env = stages[index].envNames
            var config = StageConfiguration()
            for port in syntax.expose {
                checkVariables(in: port, scope: .stage(env: env), stage: index)
                checkFormat(port, ValueFormats.portProblem, .malformedPort, "port",
                            help: "write PORT or PORT/PROTOCOL, like 8080 or 53/udp")
                config.expose.append(port.value)
            }
            for volume in syntax.volumes {
                checkVariables(in: volume, scope: .stage(env: env), stage: index)
                if !volume.value.contains("$"), !PosixPath.isAbsolute(volume.value) {
                    error(.malformedPath, "volume `\(volume.value)` must be an absolute path", at: volume.location)
                }
                config.volumes.append(volume.value)
            }
            for label in syntax.labels {
                checkVariables(in: label.value, scope: .stage(env: env), stage: index)
                checkNoLineBreak(label.value, what: "the value of label `\(label.key.value)`")
                config.labels.append((label.key.value, label.value.value))
            }
            if let signal = syntax.stopsignal {
                checkVariables(in: signal, scope: .stage(env: env), stage: index)
                checkFormat(signal, ValueFormats.signalProblem, .malformedSignal, "stop signal")
                config.stopSignal = signal.value
            }
            config.entrypoint = command(syntax.entrypoint, stage: index, env: env)
            config.cmd = command(syntax.cmd, stage: index, env: env)
            if let check = syntax.healthcheck {
                var healthcheck = Healthcheck(location: check.location)
                if !check.disabled {
                    healthcheck.command = command(check.cmd, stage: index, env: env)
                    for (value, field) in [(check.interval, "interval"), (check.timeout, "timeout"),
                                           (check.startPeriod, "start_period"), (check.startInterval, "start_interval")] {
                        if let value { checkFormat(value, ValueFormats.durationProblem, .malformedDuration, field) }
                    }
                    if let retries = check.retries, retries.value < 0 {
                        error(.invalidValue, "`retries` must be 0 or more", at: retries.location)
                    }
                    healthcheck.interval = check.interval?.value
                    healthcheck.timeout = check.timeout?.value
                    healthcheck.startPeriod = check.startPeriod?.value
                    healthcheck.startInterval = check.startInterval?.value
                    healthcheck.startIntervalLocation = check.startInterval?.location
                    healthcheck.retries = check.retries?.value
                }
                config.healthcheck = healthcheck
            }
            stages[index].config = config
        }
    }

    mutating func command(_ syntax: CommandSyntax?, stage: Int, env: Set<String>) -> GraphCommand? {
        guard let syntax else { return nil }
        for string in syntax.strings { checkVariables(in: string, scope: .runtime(env: env), stage: stage) }
        switch syntax {
        case .exec(let items, _): return .exec(items.map(\.value))
        case .shell(let command): return .shell(command.value)
        }
    }

    // MARK: Warnings

    static let secretPattern = "(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?|ACCESS_?KEY)"

    mutating func checkSecretLooking(name: Located<String>, kind: String, stage: Int?) {
        let upper = name.value.uppercased()
        guard Self.matches(upper, Self.secretPattern), !Self.matches(upper, "_(FILE|PATH|DIR|ID|URL)$") else { return }
        warn(.secretLookingName, "\(kind) `\(name.value)` looks like it holds a secret", at: name.location, stage: stage,
             help: "values of \(kind == "argument" ? "build arguments" : "environment variables") are kept in the image "
                + "and its history; pass secrets with `secrets:` on the `run` step that needs them")
    }

    mutating func checkWarnings(targets: [String]) {
        let reachable = closure(of: targets)
        let targetSet = Set(targets)
        // With a misspelt target, reachability would only repeat that error.
        let targetsInvalid = (plan.targets ?? []).contains { stageIndex[$0.value] == nil }
        for index in stages.indices where stages[index].isValid {
            let facts = stages[index]
            let isTarget = targetSet.contains(facts.name)

            if !reachable.contains(index), !targetsInvalid {
                warn(.unreachableStage, "no target needs stage `\(facts.name)`", at: facts.syntax.name.location,
                     stage: index, help: "add it to `targets`, use it from a target, or remove it")
            }
            // Artifacts of targets can still be exported, so only non-targets' unused artifacts are suspect.
            if !isTarget {
                for artifact in facts.artifacts where !facts.usedArtifacts.contains(artifact.name) {
                    warn(.unusedArtifact, "no stage uses artifact `\(facts.name).\(artifact.name)`", at: artifact.location,
                         stage: index, help: "copy it with `- artifact: \(facts.name).\(artifact.name)`, or remove it")
                }
            }
            if case .image(let reference) = facts.base, let from = facts.syntax.from {
                let concrete = Interpolation.substituteArguments(in: reference, knownArgumentValues,
                                                                 isUnset: isUnsetBeforeStages)
                if !concrete.contains("$") { checkPinned(concrete, written: reference, at: from.location, stage: index) }
                checkDigestWithSeveralPlatforms(concrete, written: reference, at: from.location, stage: index)
            }
            checkForeignPlatformCopies(into: index)
            for step in facts.syntax.steps {
                if case .copy(let copy) = step.action, case .image(let image) = copy.source {
                    let concrete = Interpolation.substituteArguments(in: image.value, knownArgumentValues)
                    if !concrete.contains("$") { checkPinned(concrete, written: image.value, at: image.location, stage: index) }
                }
                if case .run(let run) = step.action {
                    for image in run.mounts.compactMap(\.image) {
                        let concrete = Interpolation.substituteArguments(in: image.value, knownArgumentValues)
                        if !concrete.contains("$") { checkPinned(concrete, written: image.value, at: image.location, stage: index) }
                    }
                }
            }
            if isTarget {
                let user = effectiveUser(index)
                if user == nil || Self.matches(user ?? "", "^(root|0)(:.*)?$") {
                    let why = user == nil ? "no stage it builds on sets `user`" : "it sets `user: \(user ?? "")`"
                    warn(.rootTarget, "target `\(facts.name)` runs as root: \(why)", at: facts.syntax.name.location,
                         stage: index,
                         help: "set `user:` to an unprivileged user, like `user: \"65532:65532\"`, or allow it with `allow: [root-target]`")
                }
            }
        }
    }

    func effectiveUser(_ index: Int) -> String? { stages[index].finalUser }

    mutating func checkPinned(_ reference: String, written: String, at location: SourceLocation, stage: Int) {
        if reference.contains("@") { return }
        // With arguments or defaults put in, say what the reference became.
        let shown = reference == written ? "`\(written)`" : "`\(written)` (`\(reference)`)"
        let last = reference.split(separator: "/").last ?? ""
        if let colon = last.lastIndex(of: ":") {
            if last[last.index(after: colon)...] == "latest" {
                warn(.unpinnedImage, "image \(shown) uses the `latest` tag, which changes under you", at: location,
                     stage: stage, help: "pin a version tag, like `alpine:3.20`, or a digest")
            }
        } else {
            warn(.unpinnedImage, "image \(shown) has no tag, so it means `latest`, which changes under you",
                 at: location, stage: stage, help: "pin a version tag, like `\(written):1.2`, or a digest")
        }
    }

    // MARK: The graph

    func graph(order: [Int], targets: [String]) -> BuildGraph {
        let selected: Set<Int>? = options.targets.isEmpty ? nil : closure(of: options.targets)
        let stagesOut: [GraphStage] = order.compactMap { index in
            if let selected, !selected.contains(index) { return nil }
            let facts = stages[index]
            return GraphStage(
                name: facts.name, location: facts.syntax.name.location, base: facts.base ?? .scratch,
                platform: facts.syntax.platform?.value, instructions: facts.instructions, config: facts.config,
                artifacts: facts.artifacts, arguments: facts.usedArguments,
                dependencies: facts.dependencies.map { stages[$0.index].name }, finalWorkdir: facts.finalWorkdir,
                finalUser: facts.finalUser)
        }
        let arguments = argumentOrder.map { name in
            BuildArgument(name: name, value: self.arguments[name] ?? nil,
                          location: plan.args.first { $0.name.value == name }?.name.location)
        }
        return BuildGraph(
            planName: plan.name?.value ?? defaultPlanName, planFile: plan.file, contextPath: contextPath,
            arguments: arguments, ignore: plan.ignore.map(\.value), stages: stagesOut,
            targets: options.targets.isEmpty ? targets : options.targets, platforms: platforms,
            platformsGiven: options.platforms != nil || plan.platforms != nil)
    }

    /// The plan's folder name, made fit for image names.
    var defaultPlanName: String {
        let folder = PosixPath.basename(PosixPath.normalize(planDirectory == "." ? FileManager.default.currentDirectoryPath : planDirectory).path)
        return Self.suggestedStageName(folder) ?? folder.lowercased()
    }
}
