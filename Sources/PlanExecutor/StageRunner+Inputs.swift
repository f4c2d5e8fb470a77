import Foundation
import PlanCompiler
import PlanOCI
import PlanPaths
import PlanValues

/// The cache inputs of each kind of step: what BuildKit would key on, normalised.
extension StageRunner {
    /// A step that changes files, with its cache inputs.
    struct Step {
        var description: String
        var inputs: StepInputs
    }

    /// Applies `instruction` to `state` where it only changes configuration (`env`, `user`, `shell`;
    /// `workdir` too, which also makes a folder) and returns nil for the pure ones; otherwise
    /// returns the step's description and inputs.
    func inputs(for instruction: GraphInstruction, state: inout StageState, parent: String,
                dependencies: [String: StageResult]) async throws -> Step? {
        let values = state.envDictionary.merging(argumentValues) { env, _ in env }
        switch instruction {
        case .env(let pairs, _):
            for pair in pairs {
                state.setEnv(pair.name, VariableExpansion.expand(pair.value, state.envDictionary.merging(argumentValues) { env, _ in env }))
            }
            return nil
        case .user(let user, _):
            state.user = VariableExpansion.expand(user, values)
            return nil
        case .shell(let words, _):
            state.shell = words
            return nil
        case .workdir(let path, _):
            state.workdir = PosixPath.resolve(VariableExpansion.expand(path, values), against: state.workdir).path
            return Step(description: "workdir \(state.workdir)",
                        inputs: StepInputs(parent: parent, items: [("step", "workdir \(state.workdir)")]))
        case .run(let run):
            return Step(description: "run " + run.summary,
                        inputs: StepInputs(parent: parent, items: runInputs(run, state: state)))
        case .copy(let copy):
            let (description, items) = try await copyInputs(copy, state: state, values: values, dependencies: dependencies)
            return Step(description: description, inputs: StepInputs(parent: parent, items: items))
        case .add(let add):
            let url = VariableExpansion.expand(add.url, values)
            let items: [(String, String)] = [
                ("step", "add \(url) → \(VariableExpansion.expand(add.destination, values))"),
                ("checksum", add.checksum), ("chown", add.chown.map { VariableExpansion.expand($0, values) } ?? ""),
                ("chmod", add.chmod ?? ""), ("workdir", state.workdir),
            ]
            return Step(description: "add \(url)", inputs: StepInputs(parent: parent, items: items))
        }
    }

    /// The configuration as named inputs, as a `run` step's inputs name them: what an `env`, `user`
    /// or `shell` instruction folds into the key chain, and what the next step's inputs carry.
    static func configItems(_ state: StageState) -> [(String, String)] {
        state.env.map { ("env \($0.name)", $0.value) } + [("user", state.user), ("shell", state.shell.joined(separator: " "))]
    }

    /// A run step sees its command, shell, environment, the stage's build arguments, user, workdir,
    /// network and mounts. Secrets count by id and place, never by value.
    func runInputs(_ run: GraphRun, state: StageState) -> [(String, String)] {
        var items: [(String, String)] = [("step", "run " + run.script), ("shell", state.shell.joined(separator: " "))]
        items += state.env.map { ("env \($0.name)", $0.value) }
        items += argumentValues.sorted { $0.key < $1.key }.map { ("arg \($0.key)", $0.value) }
        items += [("user", state.user), ("workdir", state.workdir), ("network", run.network ?? "default")]
        for cache in run.cache {
            items.append(("cache \(PosixPath.resolve(cache.target, against: state.workdir).path)",
                          "id=\(cache.id ?? "") sharing=\(cache.sharing ?? "shared")"))
        }
        for secret in run.secrets {
            let given = options.secrets[secret.id] != nil ? "given" : "absent"
            items.append(("secret \(secret.id)", "env=\(secret.env ?? "") target=\(secret.target ?? "") \(given)"))
        }
        return items
    }

    /// A copy is keyed on what it reads: every file from the context (content, mode, owner, link
    /// target); an artifact's stored tree; an image's manifest digest.
    func copyInputs(_ copy: GraphCopy, state: StageState, values: [String: String],
                    dependencies: [String: StageResult]) async throws -> (String, [(String, String)]) {
        let sources = copy.sources.map { VariableExpansion.expand($0, values) }
        let destination = VariableExpansion.expand(copy.destination, values)
        var description = "copy " + sources.joined(separator: " ")
        if case .stage(let name) = copy.source { description = "copy \(name):" + sources.joined(separator: " ") }
        var items: [(String, String)] = [
            ("step", "\(description) → \(destination)"), ("workdir", state.workdir),
            ("chown", copy.chown.map { VariableExpansion.expand($0, values) } ?? ""), ("chmod", copy.chmod ?? ""),
            ("exclude", copy.exclude.joined(separator: "\n")),
        ]
        switch copy.source {
        case .context:
            let resolved = try await copySources(copy, values: values, description: description, dependencies: dependencies)
            items += try context.digests.inputs(resolved.sources, isExcluded: resolved.isExcluded)
        case .stage(let name):
            guard let result = dependencies[name] else { throw failure("stage `\(name)` did not finish") }
            let declared = graph.stage(named: name)?.artifacts ?? []
            var covered: [(String, String)] = []
            for source in sources {
                let path = PosixPath.normalize(source).path
                guard !PosixPath.hasGlob(path),
                      let artifact = declared.first(where: { path == $0.path || path.hasPrefix($0.path + "/") }),
                      let tree = result.artifacts[artifact.path]
                else { break }
                covered.append(("artifact \(name).\(artifact.name)", tree.digest.description))
                covered.append(("path \(path)", ""))
            }
            if covered.count == sources.count * 2 {
                items += covered
            } else {
                // Not (only) whole declared artifacts: read what the copy reads.
                let resolved = try await copySources(copy, values: values, description: description, dependencies: dependencies)
                items += try context.digests.inputs(resolved.sources, isExcluded: resolved.isExcluded)
            }
        case .image(let reference):
            let expanded = VariableExpansion.expand(reference, values)
            do {
                items.append(("image", "\(expanded) \(try await context.images.image(expanded).manifestDigest)"))
            } catch {
                throw failure("cannot get image `\(expanded)`: \(error)", step: description, location: copy.location)
            }
            items += sources.map { ("path \($0)", "") }
        }
        return (description, items)
    }
}
