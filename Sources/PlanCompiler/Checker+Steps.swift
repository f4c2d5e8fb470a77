import Foundation
import PlanDiagnostics
import PlanLanguage
import PlanPaths

extension Checker {
    /// Per-stage state while walking the steps.
    struct StepState {
        var workdir: String?
        var env: Set<String>
        /// Where the whole context was copied, if it was (for the layer-cache warning).
        var wholeContextCopy: SourceLocation?
    }

    mutating func buildInstructions(for index: Int) {
        let syntax = stages[index].syntax
        var state = StepState(workdir: stages[index].initialWorkdir, env: stages[index].initialEnvNames)
        var instructions: [GraphInstruction] = []

        // Stage-level configuration, applied before the first step.
        if let shell = syntax.shell {
            instructions.append(.shell(shell.value.map(\.value), shell.location))
        }
        if !syntax.env.isEmpty {
            instructions.append(.env(envPairs(syntax.env, stage: index, env: state.env), syntax.env[0].key.location))
        }
        if let workdir = syntax.workdir {
            checkVariables(in: workdir, scope: .stage(env: state.env), stage: index)
            instructions.append(.workdir(checkedAbsoluteOrRelative(workdir, what: "workdir"), workdir.location))
        }
        if let user = syntax.user {
            checkUser(user, stage: index, env: state.env)
            instructions.append(.user(user.value, user.location))
        }
        if let platform = syntax.platform {
            // A variable other than the automatic platform arguments is E0614 alone, not also E0401.
            if checkPlatformVariables(platform) { checkVariables(in: platform, scope: .global, stage: nil) }
            checkFormat(platform, ValueFormats.platformProblem, .malformedPlatform, "platform")
        }

        for step in syntax.steps {
            switch step.action {
            case .run(let run):
                if let instruction = runInstruction(run, step: step, stage: index, state: &state) {
                    instructions.append(.run(instruction))
                }
            case .copy(let copy):
                let copies = copyInstructions(copy, step: step, stage: index, state: &state)
                checkRelativeDestination(copies.map(\.destination), step: step, stage: index, state: state)
                instructions += copies.map { .copy($0) }
            case .artifact(let artifact):
                if let copy = artifactInstruction(artifact, step: step, stage: index, state: state) {
                    checkRelativeDestination([copy.destination], step: step, stage: index, state: state)
                    instructions.append(.copy(copy))
                }
            case .add(let add):
                if let instruction = addInstruction(add, step: step, stage: index, state: state) {
                    checkRelativeDestination([instruction.destination], step: step, stage: index, state: state)
                    instructions.append(.add(instruction))
                }
            case .workdir(let workdir):
                checkVariables(in: workdir, scope: .stage(env: state.env), stage: index)
                state.workdir = resolveWorkdir(workdir.value, current: state.workdir)
                instructions.append(.workdir(checkedAbsoluteOrRelative(workdir, what: "workdir"), step.location))
            case .env(let pairs):
                let resolved = envPairs(pairs, stage: index, env: state.env)
                state.env.formUnion(pairs.map(\.key.value))
                instructions.append(.env(resolved, step.location))
            case .user(let user):
                checkUser(user, stage: index, env: state.env)
                instructions.append(.user(user.value, step.location))
            }
        }
        stages[index].instructions = instructions
    }

    /// A relative destination lands wherever the base image's working directory happens to be.
    mutating func checkRelativeDestination(_ destinations: [String], step: StepSyntax, stage: Int, state: StepState) {
        guard state.workdir == nil, !stages[stage].hasUnknownWorkdir,
              let relative = destinations.first(where: { !PosixPath.isAbsolute($0) && !$0.hasPrefix("$") })
        else { return }
        warn(.relativeDestinationWithoutWorkdir,
             "this copies to `\(relative)`, but stage `\(stages[stage].name)` sets no workdir, so the base image decides where that is",
             at: step.location, stage: stage,
             help: "set `workdir:` on the stage, or give an absolute `to:`")
    }

    // MARK: Configuration steps

    mutating func envPairs(_ pairs: [KeyValueSyntax], stage: Int, env: Set<String>) -> [(name: String, value: String)] {
        var known = env
        return pairs.map { pair in
            if !Self.matches(pair.key.value, Self.variableNamePattern) {
                error(.badName, "`\(pair.key.value)` is not a valid environment variable name", at: pair.key.location,
                      help: "use letters, digits and `_`, not starting with a digit")
            }
            checkVariables(in: pair.value, scope: .stage(env: known), stage: stage)
            checkNoLineBreak(pair.value, what: "the value of environment variable `\(pair.key.value)`")
            checkSecretLooking(name: pair.key, kind: "environment variable", stage: stage)
            known.insert(pair.key.value)
            return (pair.key.value, pair.value.value)
        }
    }

    /// Dockerfile line continuations join lines, so ENV and LABEL cannot hold a line break in any dialect.
    mutating func checkNoLineBreak(_ value: Located<String>, what: String) {
        guard let offset = value.value.unicodeScalars.firstIndex(where: { $0 == "\n" || $0 == "\r" }) else { return }
        let distance = value.value.unicodeScalars.distance(from: value.value.unicodeScalars.startIndex, to: offset)
        error(.lineBreakInValue, "\(what) holds a line break, which no Dockerfile can carry",
              at: value.location(ofOffset: distance, length: 1),
              help: "write it on one line (YAML `>-` folds the lines into one and drops the last line break); "
                + "for text that needs its lines, copy a file into the image instead")
    }

    mutating func checkUser(_ user: Located<String>, stage: Int, env: Set<String>) {
        checkVariables(in: user, scope: .stage(env: env), stage: stage)
        if !user.value.contains("$") { checkFormat(user, ValueFormats.userProblem, .malformedUser, "user") }
    }

    /// Checks a path for `..` above the root and returns it normalised, keeping a trailing slash.
    mutating func checkedAbsoluteOrRelative(_ path: Located<String>, what: String) -> String {
        let value = path.value
        if value.isEmpty {
            error(.malformedPath, "`\(what)` is empty", at: path.location)
            return value
        }
        guard PosixPath.isAbsolute(value), !value.contains("$") else { return value }
        let normalized = PosixPath.normalize(value)
        if normalized.climbsOut {
            error(.pathClimbsOut, "`\(value)` climbs above the root with `..`", at: path.location)
        }
        return normalized.path + (value.hasSuffix("/") && normalized.path != "/" ? "/" : "")
    }

    mutating func checkFormat(_ value: Located<String>, _ problem: (String) -> String?, _ code: DiagnosticCode,
                              _ what: String, help: String? = nil) {
        guard !value.value.contains("$"), let message = problem(value.value) else { return }
        error(code, "malformed \(what) `\(value.value)`: \(message)", at: value.location, help: help)
    }

    // MARK: run

    static let installPattern = try? NSRegularExpression(pattern:
        "\\b(npm (ci|install|i)|yarn( install)?|pnpm (install|i)|pip3? install|poetry install|pipenv install|"
        + "bundle install|composer install|go mod download|cargo (build|fetch)|mvn |gradle |dotnet restore|mix deps\\.get)")
    static let cdPattern = try? NSRegularExpression(pattern: "(^|[;&|(]|\\n)\\s*(cd)(\\s|$)")

    mutating func runInstruction(_ run: RunStepSyntax, step: StepSyntax, stage: Int, state: inout StepState) -> GraphRun? {
        let command = run.command
        if command.value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            error(.invalidValue, "`run` has an empty command", at: command.location,
                  help: "give the shell command to run, or remove the step")
            return nil
        }
        if case .scratch = stages[stage].base {
            error(.runInScratch, "stage `\(stages[stage].name)` starts from `scratch`, which has no shell to run this",
                  at: command.location,
                  help: "run it in a stage from an image with a shell (like `alpine:3.20`) and copy the result here as an artifact")
        }
        // A secret exposed as an environment variable is a variable of the script, not an argument to declare.
        var secretVariables = run.secrets.compactMap { $0.env?.value }
        // So is SSH_AUTH_SOCK of a step with an ssh mount: the builder sets it to the first one's socket.
        if run.mounts.contains(where: { $0.type?.value == "ssh" }) { secretVariables.append("SSH_AUTH_SOCK") }
        checkVariables(in: command, scope: .script(env: state.env.union(secretVariables)), stage: stage)
        let range = NSRange(command.value.startIndex..., in: command.value)

        if let regex = Self.cdPattern, let match = regex.firstMatch(in: command.value, range: range),
           let cdRange = Range(match.range(at: 2), in: command.value)
        {
            let offset = command.value.unicodeScalars.distance(
                from: command.value.unicodeScalars.startIndex, to: cdRange.lowerBound.samePosition(in: command.value.unicodeScalars) ?? command.value.unicodeScalars.startIndex)
            warn(.cdInRun, "`cd` inside `run` only lasts for this step", at: command.location(ofOffset: offset, length: 2),
                 stage: stage, help: "set the folder with `workdir:` (on the stage or as a step); later steps then start there too")
        }
        if let copied = state.wholeContextCopy, let regex = Self.installPattern,
           let match = regex.firstMatch(in: command.value, range: range),
           let installRange = Range(match.range, in: command.value)
        {
            let install = String(command.value[installRange]).trimmingCharacters(in: .whitespaces)
            warn(.wholeContextBeforeInstall,
                 "the whole context is copied before `\(install)`, so any change to any file reinstalls dependencies",
                 at: copied, stage: stage, notes: [.init("dependencies are installed here", at: command.location)],
                 help: "copy the dependency manifests first (like package.json and its lock file), install, then copy the rest")
            state.wholeContextCopy = nil
        }

        var cache: [CacheMount] = []
        for mount in run.cache {
            checkVariables(in: mount.target, scope: .stage(env: state.env), stage: stage)
            let target = checkedAbsoluteOrRelative(mount.target, what: "cache target")
            if let sharing = mount.sharing, !["shared", "private", "locked"].contains(sharing.value) {
                error(.invalidValue, "cache sharing `\(sharing.value)` is not one of shared, private, locked",
                      at: sharing.location,
                      help: Suggestion.didYouMean(sharing.value, in: ["shared", "private", "locked"]))
            }
            if let id = mount.id, !Self.matches(id.value, "^[A-Za-z0-9_.-]+$") {
                error(.badName, "cache id `\(id.value)` may hold only letters, digits, `_`, `.` and `-`", at: id.location)
            }
            cache.append(CacheMount(target: target, id: mount.id?.value, sharing: mount.sharing?.value))
        }
        var secrets: [SecretMount] = []
        for secret in run.secrets {
            if !Self.matches(secret.id.value, "^[A-Za-z0-9_.-]+$") {
                error(.badName, "secret id `\(secret.id.value)` may hold only letters, digits, `_`, `.` and `-`",
                      at: secret.id.location)
            }
            if let env = secret.env, !Self.matches(env.value, Self.variableNamePattern) {
                error(.badName, "`\(env.value)` is not a valid environment variable name", at: env.location)
            }
            if let target = secret.target, !PosixPath.isAbsolute(target.value) {
                error(.malformedPath, "a secret's `target` must be an absolute path", at: target.location,
                      help: "for example `/run/secrets/\(secret.id.value)`")
            } else if let target = secret.target, PosixPath.normalize(target.value).climbsOut {
                error(.pathClimbsOut, "`\(target.value)` climbs above the root with `..`", at: target.location,
                      help: "for example `/run/secrets/\(secret.id.value)`")
            }
            secrets.append(SecretMount(id: secret.id.value, env: secret.env?.value, target: secret.target?.value,
                                       required: secret.required?.value))
        }
        var network: String? = nil
        if let value = run.network {
            let allowed = ["default", "none", "host"]
            if !allowed.contains(value.value) {
                error(.invalidValue, "network `\(value.value)` is not one of default, none, host", at: value.location,
                      help: Suggestion.didYouMean(value.value, in: allowed))
            } else if value.value != "default" {
                network = value.value
            }
            if value.value == "host" {
                warn(.networkHost, "this step uses the host's network: it reaches the host's loopback services",
                     at: value.location, stage: stage,
                     help: "drop `network: host` for a network of the step's own, or allow it with `allow: [network-host]`")
            }
        }
        let mounts = mountInstructions(run, stage: stage, state: state)
        checkMountTargets(run, mounts: mounts, state: state)
        return GraphRun(command: command.value, cache: cache, secrets: secrets, network: network, location: step.location,
                        mounts: mounts)
    }

    // MARK: copy

    mutating func copyOptions(chown: Located<String>?, chmod: Located<String>?, stage: Int, env: Set<String>) {
        if let chown {
            checkVariables(in: chown, scope: .stage(env: env), stage: stage)
            checkFormat(chown, ValueFormats.userProblem, .malformedUser, "chown")
        }
        if let chmod {
            checkVariables(in: chmod, scope: .stage(env: env), stage: stage)
            checkFormat(chmod, ValueFormats.chmodProblem, .malformedChmod, "chmod")
        }
    }

    /// The destination as written (checked, normalised, a trailing slash kept or added when needed).
    mutating func destination(_ to: Located<String>, stage: Int, state: StepState, forceDirectory: Bool) -> String {
        checkVariables(in: to, scope: .stage(env: state.env), stage: stage)
        var result = checkedAbsoluteOrRelative(to, what: "to")
        if !PosixPath.isAbsolute(result), !result.contains("$") {
            // A relative destination may climb the workdir, but never above the root.
            if let workdir = state.workdir, PosixPath.resolve(result, against: workdir).climbsOut {
                error(.pathClimbsOut, "`\(to.value)` climbs above the root with `..`", at: to.location)
            }
            let normalized = PosixPath.normalize(result)
            let keepSlash = result.hasSuffix("/")
            if normalized.climbsOut {
                // Normalising would drop the leading `..`: resolve it against the workdir instead (as the
                // builder does), or keep it as written when the workdir is not known.
                if let workdir = state.workdir {
                    let resolved = PosixPath.resolve(result, against: workdir).path
                    result = resolved + (keepSlash && resolved != "/" ? "/" : "")
                }
            } else {
                result = normalized.path == "." ? "./" : normalized.path + (keepSlash ? "/" : "")
            }
        }
        if forceDirectory, !result.hasSuffix("/") { result += "/" }
        return result
    }

    func linkDefault(_ explicit: Located<Bool>?, chown: String?, fromOtherRoot: Bool) -> Bool {
        if let explicit { return explicit.value }
        // --link cannot resolve user names against the destination's /etc/passwd.
        if let chown, !Self.matches(chown, "^[0-9]+(:[0-9]+)?$") { return false }
        return fromOtherRoot
    }

    mutating func copyInstructions(_ copy: CopyStepSyntax, step: StepSyntax, stage: Int,
                                   state: inout StepState) -> [GraphCopy] {
        copyOptions(chown: copy.chown, chmod: copy.chmod, stage: stage, env: state.env)
        for pattern in copy.exclude {
            checkVariables(in: pattern, scope: .stage(env: state.env), stage: stage)
        }
        let base = GraphCopy(source: .context, sources: [], destination: "", chown: copy.chown?.value,
                             chmod: copy.chmod?.value, exclude: copy.exclude.map(\.value), link: false,
                             location: step.location)
        switch copy.source {
        case .context:
            return contextCopies(copy, base: base, stage: stage, state: &state)
        case .stage(let name):
            guard let source = stageIndex[name.value] else { return [] }
            var item = base
            item.source = .stage(name.value)
            item.link = linkDefault(copy.link, chown: copy.chown?.value, fromOtherRoot: true)
            return stageCopies(copy, from: source, base: item, stage: stage, state: state)
        case .image(let reference):
            checkVariables(in: reference, scope: .stage(env: state.env), stage: stage)
            let env = state.env
            checkImageReference(reference, isUnset: { [arguments] name in
                arguments[name] == nil && !env.contains(name) && !Self.platformArguments.contains(name)
                    && !Self.ambientVariables.contains(name)
            })
            var item = base
            item.source = .image(reference.value)
            item.link = linkDefault(copy.link, chown: copy.chown?.value, fromOtherRoot: true)
            var sources: [String] = []
            for path in copy.paths {
                checkVariables(in: path, scope: .stage(env: state.env), stage: stage)
                let resolved = PosixPath.resolve(path.value, against: "/")
                if resolved.climbsOut {
                    error(.pathClimbsOut, "`\(path.value)` climbs above the image's root with `..`", at: path.location)
                }
                sources.append(path.value.contains("$") ? path.value : resolved.path)
            }
            if let to = copy.to {
                item.sources = sources
                item.destination = destination(to, stage: stage, state: state, forceDirectory: sources.count > 1)
                return [item]
            }
            return sources.map { source in
                var single = item
                single.sources = [source]
                single.destination = source
                return single
            }
        }
    }

    /// Context copies: each path must exist in the context and not be ignored. Without `to`, each path keeps
    /// its relative place under the workdir: files are grouped by folder, folders copied one by one.
    mutating func contextCopies(_ copy: CopyStepSyntax, base: GraphCopy, stage: Int,
                                state: inout StepState) -> [GraphCopy] {
        var item = base
        item.link = copy.link?.value ?? false
        var sources: [(path: String, isDirectory: Bool, location: SourceLocation)] = []
        for path in copy.paths {
            checkVariables(in: path, scope: .stage(env: state.env), stage: stage)
            var relative = path.value
            while relative.hasPrefix("/") { relative.removeFirst() }
            let normalized = PosixPath.normalize(relative)
            if normalized.climbsOut {
                error(.pathClimbsOut, "`\(path.value)` climbs out of the build context with `..`", at: path.location,
                      help: "the build can only read files inside the context; move the file in, or widen `context:`")
                continue
            }
            let isWhole = normalized.path == "." || normalized.path == "*"
            if isWhole, state.wholeContextCopy == nil { state.wholeContextCopy = path.location }
            let isDirectory = checkContextPath(path, normalized: normalized.path)
            let writtenAsDirectory = path.value.hasSuffix("/") || normalized.path == "."
            sources.append((normalized.path, isDirectory || writtenAsDirectory, path.location))
        }
        if let to = copy.to {
            item.sources = sources.map { $0.isDirectory && $0.path != "." ? $0.path + "/" : $0.path }
            let many = sources.count > 1 || sources.contains { PosixPath.hasGlob($0.path) }
            item.destination = destination(to, stage: stage, state: state, forceDirectory: many)
            return item.sources.isEmpty ? [] : [item]
        }
        // Without `to`: keep each path's place relative to the workdir.
        var result: [GraphCopy] = []
        var fileGroups: [String: Int] = [:]
        for source in sources {
            if source.isDirectory {
                var single = item
                single.sources = [source.path == "." ? "." : source.path + "/"]
                single.destination = source.path == "." ? "./" : source.path + "/"
                result.append(single)
                continue
            }
            let prefix = PosixPath.staticPrefix(source.path)
            let folder = PosixPath.hasGlob(source.path)
                ? (prefix.isEmpty ? "." : PosixPath.dirname(prefix + "/x"))
                : PosixPath.dirname(source.path)
            let destination = folder == "." ? "./" : folder + "/"
            if let group = fileGroups[destination] {
                result[group].sources.append(source.path)
            } else {
                var single = item
                single.sources = [source.path]
                single.destination = destination
                fileGroups[destination] = result.count
                result.append(single)
            }
        }
        return result
    }

    /// Checks that a context path exists and is not ignored; returns whether it is a folder.
    mutating func checkContextPath(_ path: Located<String>, normalized: String) -> Bool {
        guard contextExists else { return false }
        let concrete = Interpolation.substituteArguments(in: normalized, knownArgumentValues)
        if concrete.contains("$") { return false }
        let full = contextPath + "/" + concrete
        if PosixPath.hasGlob(concrete) {
            let matches = FileGlob.matches(full).map { String($0.dropFirst(contextPath.count + 1)) }
            if matches.isEmpty {
                error(.contextPathMissing, "no file in the build context matches `\(path.value)`", at: path.location,
                      help: "the context is `\(contextPath)`")
                return false
            }
            for match in matches {
                guard let leaving = Self.linkLeaving(contextPath, match) else { continue }
                reportLeaving(path, link: leaving)
                return false
            }
            let kept = matches.filter { !ignore.isExcluded($0) }
            if kept.isEmpty, let first = matches.first, let pattern = ignore.excludingPattern(for: first) {
                reportIgnored(path, pattern: pattern)
            }
            return false
        }
        if let leaving = Self.linkLeaving(contextPath, concrete) {
            reportLeaving(path, link: leaving)
            return false
        }
        var isDirectory: ObjCBool = false
        guard concrete == "." || FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory) else {
            let parent = PosixPath.dirname(concrete)
            let siblings = (try? FileManager.default.contentsOfDirectory(atPath: contextPath + "/" + parent)) ?? []
            let guess = Suggestion.closest(to: PosixPath.basename(concrete), in: siblings.sorted())
            error(.contextPathMissing, "`\(path.value)` does not exist in the build context", at: path.location,
                  help: guess.map { "did you mean `\(parent == "." ? $0 : parent + "/" + $0)`?" }
                    ?? "the context is `\(contextPath)`; paths in `copy` are relative to it")
            return false
        }
        if let pattern = ignore.excludingPattern(for: concrete) {
            reportIgnored(path, pattern: pattern)
        }
        return concrete == "." || isDirectory.boolValue
    }

    /// The folder on the way to `relative` (its last component excluded: a link named as the source
    /// is copied as a link) that is a symbolic link leading outside the context, if any.
    static func linkLeaving(_ context: String, _ relative: String) -> String? {
        guard let root = realpath(context, nil) else { return nil }
        let rootPath = String(cString: root)
        free(root)
        let parts = relative.split(separator: "/").map(String.init).filter { $0 != "." }
        var walked: [String] = []
        for part in parts.dropLast() {
            walked.append(part)
            let path = context + "/" + walked.joined(separator: "/")
            var info = stat()
            guard lstat(path, &info) == 0 else { return nil }
            guard info.st_mode & S_IFMT == S_IFLNK else { continue }
            guard let target = realpath(path, nil) else { return walked.joined(separator: "/") }
            let resolved = String(cString: target)
            free(target)
            if resolved != rootPath, !resolved.hasPrefix(rootPath == "/" ? "/" : rootPath + "/") {
                return walked.joined(separator: "/")
            }
        }
        return nil
    }

    mutating func reportLeaving(_ path: Located<String>, link: String) {
        error(.contextPathLeaves, "`\(path.value)` leaves the build context through the symbolic link `\(link)`",
              at: path.location,
              help: "copy what the link points to into the context, or name the link itself to copy it as a link")
    }

    mutating func reportIgnored(_ path: Located<String>, pattern: IgnoreMatcher.Pattern) {
        let written = plan.ignore.first { $0.value.trimmingCharacters(in: .whitespaces).hasSuffix(pattern.text) }
        error(.contextPathIgnored, "`\(path.value)` is excluded from the build context by `ignore`", at: path.location,
              notes: [.init("excluded by the pattern `\(pattern.text)`", at: written?.location)],
              help: "remove the pattern from `ignore`, or add `!\(path.value)` after it to keep this path")
    }


    // MARK: copy from a stage

    mutating func stageCopies(_ copy: CopyStepSyntax, from source: Int, base: GraphCopy, stage: Int,
                              state: StepState) -> [GraphCopy] {
        var resolved: [(absolute: String, relative: String?)] = []
        var artifactNames: [String] = []
        for path in copy.paths {
            guard let checked = artifactPath(path, in: source, what: "copied") else { continue }
            artifactNames.append(checked.artifact)
            resolved.append((checked.absolute, PosixPath.isAbsolute(path.value) ? nil : path.value))
        }
        var base = base
        base.artifact = Set(artifactNames).count == 1 ? artifactNames.first : nil
        if let to = copy.to {
            var item = base
            item.sources = resolved.map(\.absolute)
            let many = resolved.count > 1 || resolved.contains { PosixPath.hasGlob($0.absolute) }
            item.destination = destination(to, stage: stage, state: state, forceDirectory: many)
            return item.sources.isEmpty ? [] : [item]
        }
        return resolved.enumerated().map { index, path in
            var item = base
            item.artifact = artifactNames.indices.contains(index) ? artifactNames[index] : nil
            item.sources = [path.absolute]
            item.destination = path.relative.map { PosixPath.normalize($0).path } ?? path.absolute
            if PosixPath.hasGlob(path.absolute) {
                let folder = PosixPath.normalize(PosixPath.staticPrefix(item.destination)).path
                item.destination = folder.hasSuffix("/") ? folder : folder + "/"
            }
            return item
        }
    }

    /// A path read from stage `source` (by a copy or a bind mount): resolved against its final workdir, and
    /// inside an artifact it declares (E0301 otherwise, with the artifacts as notes); the artifact is marked used.
    mutating func artifactPath(_ path: Located<String>, in source: Int, what: String) -> (absolute: String, artifact: String)? {
        let sourceFacts = stages[source]
        if path.value.contains("$") {
            error(.malformedPath, "paths \(what) from a stage are fixed when the plan is compiled; `\(path.value)` uses a variable",
                  at: path.location, help: "write the path out, so it can be checked against the stage's artifacts")
            return nil
        }
        guard let absolute = PosixPath.resolve(path.value, workdir: sourceFacts.finalWorkdir) else {
            error(.relativePathWithoutWorkdir,
                  "`\(path.value)` is relative, but stage `\(sourceFacts.name)` has no workdir to resolve it against",
                  at: path.location, help: "write the absolute path inside stage `\(sourceFacts.name)`")
            return nil
        }
        if absolute.climbsOut {
            error(.pathClimbsOut, "`\(path.value)` climbs above the root of stage `\(sourceFacts.name)` with `..`",
                  at: path.location)
            return nil
        }
        let checked = PosixPath.hasGlob(absolute.path)
            ? PosixPath.normalize(PosixPath.staticPrefix(absolute.path)).path : absolute.path
        if let artifact = sourceFacts.artifacts.first(where: { PosixPath.isInside(checked, $0.path) }) {
            stages[source].usedArtifacts.insert(artifact.name)
            return (absolute.path, artifact.name)
        }
        var help = "declare it in stage `\(sourceFacts.name)`: `artifacts: {NAME: \(absolute.path)}`"
        if what == "bound" {
            if let first = sourceFacts.artifacts.first { help = "bind a declared artifact (`source: \(first.path)`), or " + help }
        } else if let inner = sourceFacts.artifacts.first(where: { PosixPath.isInside($0.path, checked) }) {
            help = "copy the artifact inside it instead: `- artifact: \(sourceFacts.name).\(inner.name)`, "
                + "or declare `\(absolute.path)` as an artifact of `\(sourceFacts.name)`"
        } else if let first = sourceFacts.artifacts.first {
            help = "copy a declared artifact (`- artifact: \(sourceFacts.name).\(first.name)`), " + help
        }
        let asWritten = path.value.count > 1 && path.value.hasSuffix("/") ? String(path.value.dropLast()) : path.value
        let shown = asWritten == absolute.path ? "`\(path.value)`" : "`\(path.value)` (\(absolute.path))"
        error(.copyOutsideArtifacts,
              "\(shown) is not inside any artifact that stage `\(sourceFacts.name)` declares",
              at: path.location, notes: artifactNotes(source), help: help)
        return nil
    }

    // MARK: artifact

    mutating func artifactInstruction(_ step: ArtifactStepSyntax, step syntaxStep: StepSyntax, stage: Int,
                                      state: StepState) -> GraphCopy? {
        let reference = step.reference
        copyOptions(chown: step.chown, chmod: step.chmod, stage: stage, env: state.env)
        guard let parts = Self.splitArtifactReference(reference.value) else {
            error(.malformedArtifactReference, "`\(reference.value)` is not an artifact reference", at: reference.location,
                  help: "write STAGE.NAME, like `build.bin`, optionally followed by /SUBPATH")
            return nil
        }
        guard let source = stageIndex[parts.stage] else { return nil }  // reported with the dependencies
        let facts = stages[source]
        let nameOffset = parts.stage.count + 1
        guard let artifact = facts.artifacts.first(where: { $0.name == parts.artifact }) else {
            let declared = facts.artifacts.map(\.name)
            let named = facts.syntax.artifacts.contains { $0.name.value == parts.artifact }
            if !named {
                error(.unknownArtifact, "stage `\(parts.stage)` declares no artifact `\(parts.artifact)`",
                      at: reference.location(ofOffset: nameOffset, length: parts.artifact.count),
                      notes: artifactNotes(source),
                      help: Suggestion.closest(to: parts.artifact, in: declared).map { "did you mean `\(parts.stage).\($0)`?" }
                        ?? (declared.isEmpty ? "declare it under `artifacts:` of stage `\(parts.stage)`"
                            : "stage `\(parts.stage)` declares " + Suggestion.list(declared)))
            }
            return nil
        }
        stages[source].usedArtifacts.insert(artifact.name)
        var path = artifact.path
        if let subpath = parts.subpath {
            let resolved = PosixPath.normalize(subpath)
            if resolved.climbsOut || PosixPath.isAbsolute(subpath) {
                error(.pathClimbsOut, "the subpath `\(subpath)` climbs out of artifact `\(parts.stage).\(parts.artifact)`",
                      at: reference.location, help: "a subpath names something inside the artifact, like `build.site/css`")
                return nil
            }
            if resolved.path != "." { path += "/" + resolved.path }
        }
        let target = step.to.map { destination($0, stage: stage, state: state, forceDirectory: false) } ?? path
        return GraphCopy(
            source: .stage(parts.stage), sources: [path], destination: target, chown: step.chown?.value,
            chmod: step.chmod?.value, exclude: [],
            link: linkDefault(step.link, chown: step.chown?.value, fromOtherRoot: true), location: syntaxStep.location,
            artifact: artifact.name)
    }

    // MARK: add

    mutating func addInstruction(_ add: AddStepSyntax, step: StepSyntax, stage: Int, state: StepState) -> GraphAdd? {
        checkVariables(in: add.url, scope: .stage(env: state.env), stage: stage)
        let concrete = Interpolation.substituteArguments(in: add.url.value, knownArgumentValues)
        if !concrete.contains("$"), let problem = ValueFormats.urlProblem(concrete) {
            error(.malformedURL, "`\(add.url.value)` is not a download URL: \(problem)", at: add.url.location)
        }
        if let checksum = add.checksum {
            checkFormat(checksum, ValueFormats.checksumProblem, .malformedChecksum, "checksum",
                        help: "compute it with `sha256sum FILE`")
        }
        copyOptions(chown: add.chown, chmod: add.chmod, stage: stage, env: state.env)
        let target = add.to.map { destination($0, stage: stage, state: state, forceDirectory: false) } ?? "./"
        guard let checksum = add.checksum else { return nil }
        return GraphAdd(url: add.url.value, checksum: checksum.value, destination: target, chown: add.chown?.value,
                        chmod: add.chmod?.value, location: step.location)
    }
}
