import PlanDiagnostics
import PlanLanguage
import PlanPaths

extension Checker {
    // MARK: Names

    mutating func indexStages() {
        for syntax in plan.stages {
            var facts = StageFacts(syntax: syntax)
            let name = syntax.name
            if !Self.matches(name.value, Self.stageNamePattern) {
                var help = "stage names are lowercase letters, digits, `_` and `-`, starting with a letter"
                if name.value.contains(".") { help += "; a dot separates a stage from an artifact, as in `build.bin`" }
                let fixed = Self.suggestedStageName(name.value)
                if let fixed { help += " (for example `\(fixed)`)" }
                error(.badStageName, "`\(name.value)` is not a valid stage name", at: name.location, help: help)
                facts.isValid = false
            }
            if let first = stageIndex[name.value] {
                error(.duplicateStage, "stage `\(name.value)` is defined twice", at: name.location,
                      notes: [.init("first defined here", at: stages[first].syntax.name.location)],
                      help: "rename one of them")
                facts.isValid = false
            }
            facts.allow = allowedCodes(syntax.allow)
            if stageIndex[name.value] == nil { stageIndex[name.value] = stages.count }
            stages.append(facts)
        }
    }

    static func suggestedStageName(_ name: String) -> String? {
        var result = ""
        for scalar in name.lowercased().unicodeScalars {
            if (scalar >= "a" && scalar <= "z") || (scalar >= "0" && scalar <= "9") || scalar == "_" || scalar == "-" {
                result.unicodeScalars.append(scalar)
            } else {
                result += "-"
            }
        }
        while let first = result.first, !first.isLetter { result.removeFirst() }
        return result.isEmpty || result == name ? nil : result
    }

    var stageNames: [String] { stages.map(\.name) }

    /// The index of a referenced stage, or an error naming the closest stage.
    mutating func lookupStage(_ name: Located<String>, from index: Int, what: String,
                              imageHint: Bool = false) -> Int? {
        if let target = stageIndex[name.value] { return target }
        var help = Suggestion.didYouMean(name.value, in: stageNames)
        if help == nil, imageHint, name.value.contains(":") || name.value.contains("/") {
            help = "to copy out of an image, write `image: \(name.value)` instead of `from:`"
        }
        error(.unknownStage, "\(what) names stage `\(name.value)`, which does not exist", at: name.location,
              help: help ?? "stages of this plan: " + stageNames.joined(separator: ", "))
        return nil
    }

    /// Splits `STAGE.NAME[/SUBPATH]`.
    static func splitArtifactReference(_ text: String) -> (stage: String, artifact: String, subpath: String?)? {
        guard let dot = text.firstIndex(of: ".") else { return nil }
        let stage = String(text[..<dot])
        let rest = text[text.index(after: dot)...]
        let artifact: String
        var subpath: String? = nil
        if let slash = rest.firstIndex(of: "/") {
            artifact = String(rest[..<slash])
            let sub = String(rest[rest.index(after: slash)...])
            subpath = sub.isEmpty ? nil : sub
        } else {
            artifact = String(rest)
        }
        guard !stage.isEmpty, !artifact.isEmpty else { return nil }
        return (stage, artifact, subpath)
    }

    // MARK: Bases and dependencies

    mutating func resolveBasesAndDependencies() {
        for index in stages.indices {
            let syntax = stages[index].syntax
            var dependencies: [(Int, SourceLocation)] = []
            func depend(_ target: Int, _ location: SourceLocation) {
                if !dependencies.contains(where: { $0.0 == target }) { dependencies.append((target, location)) }
            }
            if let from = syntax.from {
                let text = from.value
                if text == "scratch" {
                    stages[index].base = .scratch
                } else if let target = stageIndex[text] {
                    stages[index].base = .stage(text)
                    depend(target, from.location)
                } else {
                    checkVariables(in: from, scope: .global, stage: nil)
                    let looksLikeStage = Self.matches(text, Self.stageNamePattern)
                    if looksLikeStage, let close = Suggestion.closest(to: text, in: stageNames) {
                        error(.unknownStage, "`from: \(text)` names no stage of this plan", at: from.location,
                              help: "did you mean stage `\(close)`? (For an image called `\(text)`, give it a tag, like `\(text):1.0`.)")
                    } else {
                        checkImageReference(from, help: "write an image like `alpine:3.20`, `scratch`, or a stage name",
                                            isUnset: isUnsetBeforeStages)
                    }
                    stages[index].base = .image(text)
                }
            }
            for step in syntax.steps {
                switch step.action {
                case .copy(let copy):
                    if case .stage(let name) = copy.source,
                       let target = lookupStage(name, from: index, what: "this copy", imageHint: true)
                    {
                        depend(target, name.location)
                    }
                case .artifact(let artifact):
                    let reference = artifact.reference
                    guard let parts = Self.splitArtifactReference(reference.value) else { continue }
                    let located = Located(parts.stage, at: reference.location(ofOffset: 0, length: parts.stage.count))
                    if let target = lookupStage(located, from: index, what: "`artifact: \(reference.value)`") {
                        depend(target, reference.location)
                    }
                case .run(let run):
                    for mount in run.mounts {
                        if let name = mount.from, let target = lookupStage(name, from: index, what: "this mount", imageHint: true) {
                            depend(target, name.location)
                        }
                    }
                default: break
                }
            }
            stages[index].dependencies = dependencies.map { (index: $0.0, location: $0.1) }
        }
    }

    // MARK: Order and cycles

    /// Stage indices in dependency order, the author's order where free. Reports each cycle once.
    mutating func dependencyOrder() -> [Int] {
        let count = stages.count
        var indegree = [Int](repeating: 0, count: count)
        var dependents = [[Int]](repeating: [], count: count)
        for index in 0..<count {
            for dependency in stages[index].dependencies {
                indegree[index] += 1
                dependents[dependency.index].append(index)
            }
        }
        var ready = MinHeap<Int>()
        for index in 0..<count where indegree[index] == 0 { ready.push(index) }
        var order: [Int] = []
        order.reserveCapacity(count)
        while let next = ready.pop() {
            order.append(next)
            for dependent in dependents[next] {
                indegree[dependent] -= 1
                if indegree[dependent] == 0 { ready.push(dependent) }
            }
        }
        if order.count < count {
            let placed = Set(order)
            let remaining = (0..<count).filter { !placed.contains($0) }
            reportCycles(among: Set(remaining))
            order += remaining
        }
        return order
    }

    /// Finds one cycle per strongly connected group of unplaced stages and reports it with every edge.
    mutating func reportCycles(among remaining: Set<Int>) {
        var reported = Set<Int>()
        for start in remaining.sorted() where !reported.contains(start) {
            // Walk dependencies inside `remaining` until a stage repeats: that closes a cycle.
            var path: [Int] = []
            var position: [Int: Int] = [:]
            var current = start
            while position[current] == nil {
                position[current] = path.count
                path.append(current)
                guard let next = stages[current].dependencies.first(where: { remaining.contains($0.index) }) else {
                    break
                }
                current = next.index
            }
            guard let cycleStart = position[current], !reported.contains(current) else { continue }
            let cycle = Array(path[cycleStart...])
            if cycle.contains(where: { reported.contains($0) }) { continue }
            reported.formUnion(cycle)
            let names = (cycle + [cycle[0]]).map { stages[$0].name }
            var notes: [Diagnostic.Note] = []
            for (offset, member) in cycle.enumerated() {
                let next = cycle[(offset + 1) % cycle.count]
                if let edge = stages[member].dependencies.first(where: { $0.index == next }) {
                    notes.append(.init("`\(stages[member].name)` depends on `\(stages[next].name)` here", at: edge.location))
                }
            }
            let first = stages[cycle[0]]
            let location = first.dependencies.first { $0.index == cycle[1 % cycle.count] }?.location
                ?? first.syntax.name.location
            error(.dependencyCycle, "stages depend on each other: " + names.joined(separator: " → "), at: location,
                  notes: notes, help: "a stage can only use stages that do not use it; break one of these links")
        }
    }

    // MARK: Configuration (workdir, env, user)

    /// Resolves `path` against `current` the way WORKDIR does; nil when the result cannot be known.
    func resolveWorkdir(_ path: String, current: String?) -> String? {
        let concrete = Interpolation.substituteArguments(in: path, knownArgumentValues)
        if concrete.contains("$") { return nil }
        if PosixPath.isAbsolute(concrete) { return PosixPath.normalize(concrete).path }
        guard let current else { return nil }
        return PosixPath.resolve(concrete, against: current).path
    }

    mutating func resolveConfiguration(in order: [Int]) {
        var done = Set<Int>()
        for index in order {
            let syntax = stages[index].syntax
            var workdir: String? = nil
            var user: String? = nil
            var env = Set<String>()
            if case .scratch = stages[index].base { workdir = "/" }
            if case .stage(let baseName) = stages[index].base, let base = stageIndex[baseName], done.contains(base) {
                workdir = stages[base].finalWorkdir
                user = stages[base].finalUser
                env = stages[base].envNames
            }
            env.formUnion(syntax.env.map(\.key.value))
            if let value = syntax.workdir?.value {
                workdir = resolveWorkdir(value, current: workdir)
                if workdir == nil { stages[index].hasUnknownWorkdir = true }
            }
            if let value = syntax.user?.value { user = value }
            stages[index].initialWorkdir = workdir
            stages[index].initialEnvNames = env
            for step in syntax.steps {
                switch step.action {
                case .workdir(let value):
                    workdir = resolveWorkdir(value.value, current: workdir)
                    if workdir == nil { stages[index].hasUnknownWorkdir = true }
                case .user(let value): user = value.value
                case .env(let pairs): env.formUnion(pairs.map(\.key.value))
                default: break
                }
            }
            stages[index].finalWorkdir = workdir
            stages[index].finalUser = user
            stages[index].envNames = env
            done.insert(index)
        }
    }

    // MARK: Artifacts

    mutating func resolveArtifacts() {
        for index in stages.indices {
            let syntax = stages[index].syntax
            for artifact in syntax.artifacts {
                let name = artifact.name
                if !Self.matches(name.value, Self.stageNamePattern) {
                    error(.badName, "`\(name.value)` is not a valid artifact name", at: name.location,
                          help: "artifact names are lowercase letters, digits, `_` and `-`, starting with a letter")
                }
                let path = artifact.path
                if path.value.isEmpty {
                    error(.malformedPath, "artifact `\(name.value)` has an empty path", at: path.location)
                    continue
                }
                if path.value.contains("$") {
                    error(.malformedPath, "artifact paths are fixed when the plan is compiled; `\(path.value)` uses a variable",
                          at: path.location, help: "write the path out; artifacts are checked before anything is built")
                    continue
                }
                guard let resolved = PosixPath.resolve(path.value, workdir: stages[index].finalWorkdir) else {
                    error(.relativeArtifactWithoutWorkdir,
                          "artifact `\(name.value)` has the relative path `\(path.value)`, but stage `\(stages[index].name)` has no workdir",
                          at: path.location,
                          help: "write an absolute path, or set `workdir:` on the stage so the path has a base")
                    continue
                }
                if resolved.climbsOut {
                    error(.pathClimbsOut, "artifact path `\(path.value)` climbs above the root with `..`", at: path.location)
                    continue
                }
                if resolved.path == "/" {
                    error(.malformedPath, "artifact `\(name.value)` is the whole file system", at: path.location,
                          help: "declare the folder or file that later stages need, like /out/app")
                    continue
                }
                stages[index].artifacts.append(GraphArtifact(
                    name: name.value, path: resolved.path, description: artifact.description?.value, location: name.location))
            }
        }
    }

    /// The artifacts of a stage as a readable list for notes.
    func artifactNotes(_ index: Int) -> [Diagnostic.Note] {
        let facts = stages[index]
        if facts.artifacts.isEmpty {
            return [.init("stage `\(facts.name)` declares no artifacts", at: facts.syntax.name.location)]
        }
        return facts.artifacts.map {
            .init("stage `\(facts.name)` declares artifact `\($0.name)` at \($0.path)", at: $0.location)
        }
    }

    // MARK: Targets

    mutating func resolveTargets() -> [String] {
        var targets: [String] = []
        if let explicit = plan.targets {
            for target in explicit {
                if stageIndex[target.value] != nil {
                    if !targets.contains(target.value) { targets.append(target.value) }
                } else {
                    error(.targetNotAStage, "target `\(target.value)` is not a stage", at: target.location,
                          help: Suggestion.didYouMean(target.value, in: stageNames)
                            ?? "targets name stages: " + stageNames.joined(separator: ", "))
                }
            }
        } else {
            var used = Set<Int>()
            for facts in stages { used.formUnion(facts.dependencies.map(\.index)) }
            targets = stages.indices.filter { !used.contains($0) && stages[$0].isValid }.map { stages[$0].name }
        }
        for requested in options.targets where stageIndex[requested] == nil {
            error(.targetNotAStage, "`--target \(requested)` names no stage of this plan", at: nil,
                  help: Suggestion.didYouMean(requested, in: stageNames)
                    ?? "stages of this plan: " + stageNames.joined(separator: ", "))
        }
        return targets
    }

    /// Indices of the stages reachable from `names` through dependencies.
    func closure(of names: [String]) -> Set<Int> {
        var seen = Set<Int>()
        var work = names.compactMap { stageIndex[$0] }
        while let next = work.popLast() {
            guard seen.insert(next).inserted else { continue }
            work += stages[next].dependencies.map(\.index)
        }
        return seen
    }
}

/// A small binary min-heap, for the stable topological order.
struct MinHeap<Element: Comparable> {
    private var items: [Element] = []

    mutating func push(_ element: Element) {
        items.append(element)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < items.count, items[left] < items[smallest] { smallest = left }
                if right < items.count, items[right] < items[smallest] { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first
    }
}
