import Foundation
import PlanCompiler
import PlanOCI
import PlanPaths
import PlanValues

/// The cache inputs of each kind of step: what BuildKit would key on, normalised. The names and values
/// are what `--explain` shows and what earlier builds stored: they stay the same strings.
extension StageRunner {
    /// A step that changes files, with its cache inputs and — for a copy whose key read them — its sources.
    struct PreparedStep {
        var inputs: StepInputs
        /// What a copy reads, listed once for its key and its work (nil: listed when it runs).
        var sources: CopySources?
    }

    /// The inputs of a step that changes files; nil for a configuration step (`env`, `user`, `shell`),
    /// whose change the next step's configuration carries.
    func prepare(_ step: BoundStep, parent: String, dependencies: [String: StageResult]) async throws -> PreparedStep? {
        let workdir = step.configuration.workdir
        switch step.action {
        case .configure:
            return nil
        case .workdir:
            return PreparedStep(inputs: StepInputs(parent: parent, items: [("step", "workdir \(workdir)")]))
        case .run(let run):
            let mounts = try await mountInputs(run, step: step, dependencies: dependencies)
            return PreparedStep(inputs: StepInputs(parent: parent, items: runInputs(run, step: step) + mounts))
        case .copy(let copy):
            let (items, sources) = try await copyInputs(copy, step: step, dependencies: dependencies)
            return PreparedStep(inputs: StepInputs(parent: parent, items: items), sources: sources)
        case .add(let add):
            let items: [(String, String)] = [
                ("step", "add \(add.url) → \(add.destination)"),
                ("checksum", add.checksum.description), ("chown", add.chown ?? ""),
                // Docker's default mode is no input of its own: it is what an `add` without `chmod` gets.
                ("chmod", add.chmod == 0o600 ? "" : Self.octal(add.chmod)), ("workdir", workdir),
            ]
            return PreparedStep(inputs: StepInputs(parent: parent, items: items))
        }
    }

    /// A mode as plans write it: four octal digits.
    static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// The configuration as named inputs, as a `run` step's inputs name them: what an `env`, `user`
    /// or `shell` instruction folds into the key chain, and what the next step's inputs carry.
    static func configItems(_ configuration: StepConfiguration) -> [(String, String)] {
        configuration.environment.map { ("env \($0.name)", $0.value) }
            + [("user", configuration.user), ("shell", configuration.shell.joined(separator: " "))]
    }

    /// A run step sees its command, shell, environment, the stage's build arguments, user, workdir,
    /// network and mounts. Secrets count by id and place, never by value.
    func runInputs(_ run: BoundRun, step: BoundStep) -> [(String, String)] {
        let configuration = step.configuration
        var items: [(String, String)] = [("step", "run " + run.script), ("shell", configuration.shell.joined(separator: " "))]
        items += configuration.environment.map { ("env \($0.name)", $0.value) }
        items += argumentValues.map { ("arg \($0.name)", $0.value) }
        items += [("user", configuration.user), ("workdir", configuration.workdir), ("network", run.network.rawValue)]
        for cache in run.cacheMounts {
            items.append(("cache \(cache.target)", "id=\(cache.id ?? "") sharing=\(cache.sharing.rawValue)"))
        }
        for secret in run.secrets {
            let given = options.secrets[secret.id] != nil ? "given" : "absent"
            items.append(("secret \(secret.id)", "env=\(secret.env ?? "") target=\(secret.target ?? "") \(given)"))
        }
        return items
    }

    /// A copy is keyed on what it reads: every file from the context (content, mode, owner, link
    /// target); an artifact's stored tree; an image's manifest digest. The sources it lists for that
    /// are returned, for the copy to read the same list.
    func copyInputs(_ copy: BoundCopy, step: BoundStep,
                    dependencies: [String: StageResult]) async throws -> ([(String, String)], CopySources?) {
        var items: [(String, String)] = [
            ("step", "\(step.description) → \(copy.destination)"), ("workdir", step.configuration.workdir),
            ("chown", copy.chown ?? ""), ("chmod", copy.chmod.map(Self.octal) ?? ""),
            ("exclude", copy.exclude.joined(separator: "\n")),
        ]
        switch copy.source {
        case .context:
            let resolved = try await copySources(copy, step: step, dependencies: dependencies)
            items += try context.digests.inputs(resolved.sources, isExcluded: resolved.isExcluded)
            return (items, resolved)
        case .stage(let name):
            guard let result = dependencies[name] else { throw failure("stage `\(name)` did not finish") }
            let declared = plan.stage(named: name)?.artifacts ?? []
            var covered: [(String, String)] = []
            for source in copy.sources {
                let path = PosixPath.normalize(source).path
                guard !PosixPath.hasGlob(path),
                      let artifact = declared.first(where: { path == $0.path || path.hasPrefix($0.path + "/") }),
                      let tree = result.artifacts[artifact.path]
                else { break }
                covered.append(("artifact \(name).\(artifact.name)", tree.digest.description))
                covered.append(("path \(path)", ""))
            }
            if covered.count == copy.sources.count * 2 {
                return (items + covered, nil)
            }
            // Not (only) whole declared artifacts: read what the copy reads.
            let resolved = try await copySources(copy, step: step, dependencies: dependencies)
            items += try context.digests.inputs(resolved.sources, isExcluded: resolved.isExcluded)
            return (items, resolved)
        case .image(let reference):
            let digest = try await imageDigest(reference, step: step)
            items.append(("image", "\(reference) \(digest)"))
            items += copy.sources.map { ("path \($0)", "") }
            return (items, nil)
        }
    }

    /// The manifest digest of `reference` for the stage's platform, as bound (else pulled now): what a step
    /// reading the image keys on. A failed pull is the step's located failure.
    func imageDigest(_ reference: ImageReference, step: BoundStep) async throws -> Digest {
        if let bound = plan.image(reference, platform: stage.platform)?.manifestDigest { return bound }
        do {
            return try await context.images.image(reference, platform: stage.platform).manifestDigest
        } catch {
            throw RunFailure(.imagePull(reference: reference.description, reason: "\(error)"), stage: name,
                             location: step.location, step: step.description)
        }
    }
}
