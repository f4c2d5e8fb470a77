import Foundation
import PlanDiagnostics

/// Parses plan files strictly into `PlanSyntax`: unknown keys, wrong types and missing required keys
/// are located errors with a did-you-mean, and every error of the file is reported in one run.
public struct PlanParser: Sendable {
    /// Reads the YAML under the plan syntax; its limits bound what a plan file may hold.
    public var yaml = YAMLReader()

    /// A parser with the default YAML limits.
    public init() {}

    /// The parsed plan (nil when the YAML itself could not be read) and the diagnostics found.
    public struct Result: Sendable {
        /// The plan's syntax tree; nil when the YAML could not be read.
        public var plan: PlanSyntax?
        /// Every problem found, YAML and plan syntax alike, in the order met.
        public var diagnostics: [Diagnostic]
    }

    /// The keys a plan file may hold at its top level.
    public static let topLevelKeys = [
        "version", "name", "context", "ignore", "args", "platforms", "include", "stages", "templates", "expand", "targets",
        "allow",
    ]
    /// The keys a stage may hold.
    public static let stageKeys = [
        "from", "platform", "workdir", "user", "env", "shell", "steps", "artifacts", "entrypoint", "cmd", "expose",
        "labels", "volumes", "stopsignal", "healthcheck", "allow",
    ]
    static let optionKeys: [String: [String]] = [
        "run": ["cache", "secrets", "network", "mounts"],
        "copy": ["from", "image", "to", "chown", "chmod", "exclude", "link"],
        "artifact": ["to", "chown", "chmod", "link"],
        "add": ["checksum", "to", "chown", "chmod"],
        "workdir": [], "env": [], "user": [],
    ]
    static let healthcheckKeys = ["cmd", "interval", "timeout", "start_period", "start_interval", "retries"]

    /// Keys an included fragment may hold: what is merged into the including plan.
    public static let fragmentKeys = ["version", "args", "include", "stages", "templates", "expand"]

    /// Parses a whole plan, or (`fragment`) a file named by `include`.
    public func parse(_ data: Data, file: String, fragment: Bool = false) -> Result {
        let read = yaml.read(data, file: file)
        guard let root = read.root else { return Result(plan: nil, diagnostics: read.diagnostics) }
        var reader = SyntaxReader(diagnostics: read.diagnostics)
        let plan = Self.plan(root, file: file, fragment: fragment, reader: &reader)
        return Result(plan: plan, diagnostics: reader.diagnostics)
    }

    /// Reads a plan file from disk; a missing or unreadable file is a located error.
    public func parseFile(atPath path: String, fragment: Bool = false) -> (result: Result, text: String?) {
        // A device or socket is never read: /dev/zero would never end, and "permission denied" would be wrong.
        var info = stat()
        if stat(path, &info) == 0, let kind = Self.specialFileKind(info.st_mode) {
            return (Result(plan: nil, diagnostics: [
                .error(.unreadableFile, "cannot read plan `\(path)`: it is \(kind), not a file", at: nil,
                       help: "give the path of a plan file, such as plans/site/plan.yaml")
            ]), nil)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            let reason = !exists ? "no such file" : (isDirectory.boolValue ? "it is a folder" : "permission denied")
            return (Result(plan: nil, diagnostics: [
                .error(.unreadableFile, "cannot read plan `\(path)`: \(reason)", at: nil,
                       help: exists ? nil : "give the path of a plan file, such as plans/site/plan.yaml")
            ]), nil)
        }
        return (parse(data, file: path, fragment: fragment), String(data: data, encoding: .utf8))
    }

    /// How a file that is not a plan file is named (`a character device`), or nil for a file, folder or pipe.
    static func specialFileKind(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: nil
        }
    }

    // MARK: Top level

    static func plan(_ root: YAMLNode, file: String, fragment: Bool, reader: inout SyntaxReader) -> PlanSyntax? {
        guard case .mapping(let mapping) = root else {
            reader.wrongType(root, expected: "a mapping of keys such as `version` and `stages`", what: "a plan",
                             help: "a plan starts with `version: 1` and a `stages:` mapping")
            return nil
        }
        var plan = PlanSyntax(file: file, location: mapping.location)
        var fragmentHints: [String: String] = [:]
        for key in topLevelKeys where !fragmentKeys.contains(key) {
            fragmentHints[key] = "an included file contributes only " + Suggestion.list(fragmentKeys)
                + "; set `\(key)` in the plan that includes it"
        }
        reader.checkKeys(mapping, allowed: fragment ? fragmentKeys : topLevelKeys,
                         in: fragment ? "an included file" : "the plan", hints: fragment ? fragmentHints : [
            "stage": "did you mean `stages`?",
            "from": "`from` belongs to a stage: put it under `stages: NAME:`",
            "steps": "`steps` belong to a stage: put them under `stages: NAME:`",
        ])
        for entry in mapping.entries {
            let value = entry.value
            switch entry.key.text {
            case "version":
                if let version = reader.int(value, what: "`version`") {
                    if version.value != 1 {
                        reader.error(.unsupportedVersion, "plan language version \(version.value) is not supported",
                                     at: version.location, help: "this plan understands `version: 1`")
                    }
                    plan.version = version
                }
            case "name": plan.name = reader.string(value, what: "`name`")
            case "context": plan.context = reader.string(value, what: "`context`")
            case "ignore": plan.ignore = reader.stringList(value, what: "`ignore`") ?? []
            case "args": plan.args = arguments(value, reader: &reader)
            case "platforms":
                // An empty list is kept: the checker reports it with its own code.
                if let list = reader.stringList(value, what: "`platforms`") { plan.platforms = Located(list, at: value.location) }
            case "include": plan.include = reader.stringList(value, what: "`include`") ?? []
            case "stages": plan.stages = stages(value, what: "`stages`", reader: &reader)
            case "templates": plan.templates = templates(value, reader: &reader)
            case "expand": plan.expand = expansions(value, reader: &reader)
            case "targets": plan.targets = reader.stringList(value, what: "`targets`") ?? []
            case "allow": plan.allow = reader.stringList(value, what: "`allow`") ?? []
            default: break
            }
        }
        if fragment {
            return plan
        }
        if mapping["version"] == nil {
            reader.error(.missingKey, "the plan has no `version`", at: mapping.location,
                         help: "add `version: 1` as the first line")
        }
        if mapping["stages"] == nil && mapping["expand"] == nil && mapping["include"] == nil {
            reader.error(.missingKey, "the plan has no `stages`", at: mapping.location,
                         help: "add a `stages:` mapping of stage names to stages")
        }
        return plan
    }

    static func arguments(_ node: YAMLNode, reader: inout SyntaxReader) -> [ArgumentSyntax] {
        guard let mapping = reader.mapping(node, what: "`args`", help: "write `args:` as `NAME: default`") else {
            return []
        }
        return mapping.entries.compactMap { entry in
            let name = Located(entry.key.text, at: entry.key.location)
            if case .scalar(let scalar) = entry.value {
                let value = scalar.isNull ? nil : Located(scalar.text, at: scalar.location)
                return ArgumentSyntax(name: name, defaultValue: value)
            }
            reader.wrongType(entry.value, expected: "a string, or null for \"must be given\"",
                             what: "the default of argument `\(entry.key.text)`")
            return nil
        }
    }

    // MARK: Stages

    static func stages(_ node: YAMLNode, what: String, reader: inout SyntaxReader) -> [StageSyntax] {
        guard let mapping = reader.mapping(node, what: what, help: "write stages as `NAME:` followed by the stage's keys")
        else { return [] }
        return mapping.entries.compactMap { entry in
            stage(name: Located(entry.key.text, at: entry.key.location), entry.value, reader: &reader)
        }
    }

    static func stage(name: Located<String>, _ node: YAMLNode, reader: inout SyntaxReader) -> StageSyntax? {
        let what = "stage `\(name.value)`"
        guard let mapping = reader.mapping(node, what: what) else { return nil }
        var stage = StageSyntax(name: name, location: name.location)
        var hints: [String: String] = [:]
        for key in StepAction.keys where !stageKeys.contains(key) {
            hints[key] = "`\(key)` is a step: put it under `steps:` as `- \(key): …`"
        }
        hints["artifact"] = "did you mean `artifacts`? (To copy an artifact, use a step `- artifact: STAGE.NAME`.)"
        for action in ["copy", "run", "artifact", "add"] {
            for option in optionKeys[action] ?? [] where !stageKeys.contains(option) && hints[option] == nil {
                let example = action == "run" ? "- run: make" : action == "copy" ? "- copy: src/" : "- \(action): …"
                hints[option] = "`\(option)` belongs to a step: indent it under the step, level with its action "
                    + "(`\(example)` then `  \(option): …` on the next line)"
            }
        }
        hints["arg"] = "build arguments are declared at the top level, under `args:`"
        hints["args"] = hints["arg"]
        reader.checkKeys(mapping, allowed: stageKeys, in: what, hints: hints)
        for entry in mapping.entries {
            let value = entry.value
            let key = entry.key.text
            switch key {
            case "from": stage.from = reader.string(value, what: "`from` of \(what)")
            case "platform": stage.platform = reader.string(value, what: "`platform` of \(what)")
            case "workdir": stage.workdir = reader.string(value, what: "`workdir` of \(what)")
            case "user": stage.user = reader.string(value, what: "`user` of \(what)")
            case "env": stage.env = reader.stringMap(value, what: "`env` of \(what)") ?? []
            case "shell": stage.shell = reader.strictStringList(value, what: "`shell` of \(what)")
            case "steps":
                guard case .sequence(let sequence) = value else {
                    reader.wrongType(value, expected: "a list of steps", what: "`steps` of \(what)",
                                     help: "write each step on its own line starting with `- `, like `- run: make`")
                    continue
                }
                stage.steps = sequence.items.compactMap { step($0, reader: &reader) }
            case "artifacts": stage.artifacts = artifacts(value, what: what, reader: &reader)
            case "entrypoint": stage.entrypoint = command(value, what: "`entrypoint` of \(what)", reader: &reader)
            case "cmd": stage.cmd = command(value, what: "`cmd` of \(what)", reader: &reader)
            case "expose": stage.expose = reader.stringList(value, what: "`expose` of \(what)") ?? []
            case "labels": stage.labels = reader.stringMap(value, what: "`labels` of \(what)") ?? []
            case "volumes": stage.volumes = reader.stringList(value, what: "`volumes` of \(what)") ?? []
            case "stopsignal": stage.stopsignal = reader.string(value, what: "`stopsignal` of \(what)")
            case "healthcheck": stage.healthcheck = healthcheck(value, what: what, reader: &reader)
            case "allow": stage.allow = reader.stringList(value, what: "`allow` of \(what)") ?? []
            default: break
            }
        }
        if stage.from == nil, mapping["from"] == nil {
            reader.error(.missingKey, "\(what) has no `from`", at: name.location,
                         help: "add `from: IMAGE` (like `alpine:3.20`), `from: scratch`, or `from: STAGE`")
        }
        return stage
    }

    static func command(_ node: YAMLNode, what: String, reader: inout SyntaxReader) -> CommandSyntax? {
        if case .sequence = node {
            guard let list = reader.strictStringList(node, what: what) else { return nil }
            return .exec(list.value, at: list.location)
        }
        return reader.string(node, what: what).map { .shell($0) }
    }

    static func healthcheck(_ node: YAMLNode, what: String, reader: inout SyntaxReader) -> HealthcheckSyntax? {
        if case .scalar(let scalar) = node, scalar.text == "none" {
            var check = HealthcheckSyntax(location: scalar.location)
            check.disabled = true
            return check
        }
        guard let mapping = reader.mapping(node, what: "`healthcheck` of \(what)",
                                           help: "write `healthcheck: {cmd: …, interval: 30s}`, or `none`")
        else { return nil }
        reader.checkKeys(mapping, allowed: healthcheckKeys, in: "`healthcheck` of \(what)")
        var check = HealthcheckSyntax(location: mapping.location)
        for entry in mapping.entries {
            let field = "`\(entry.key.text)` of the healthcheck"
            switch entry.key.text {
            case "cmd": check.cmd = command(entry.value, what: field, reader: &reader)
            case "interval": check.interval = reader.string(entry.value, what: field)
            case "timeout": check.timeout = reader.string(entry.value, what: field)
            case "start_period": check.startPeriod = reader.string(entry.value, what: field)
            case "start_interval": check.startInterval = reader.string(entry.value, what: field)
            case "retries": check.retries = reader.int(entry.value, what: field)
            default: break
            }
        }
        if mapping["cmd"] == nil {
            reader.error(.missingKey, "the healthcheck of \(what) has no `cmd`", at: mapping.location,
                         help: "add `cmd: [\"curl\", \"-f\", \"http://localhost/\"]`, or write `healthcheck: none`")
        }
        return check
    }

    static func artifacts(_ node: YAMLNode, what: String, reader: inout SyntaxReader) -> [ArtifactSyntax] {
        guard let mapping = reader.mapping(node, what: "`artifacts` of \(what)",
                                           help: "write artifacts as `NAME: PATH`")
        else { return [] }
        var result: [ArtifactSyntax] = []
        for entry in mapping.entries {
            let name = Located(entry.key.text, at: entry.key.location)
            let field = "artifact `\(entry.key.text)` of \(what)"
            if case .mapping(let object) = entry.value {
                reader.checkKeys(object, allowed: ["path", "description"], in: field)
                let description = object["description"].flatMap { reader.string($0, what: "`description` of \(field)") }
                guard let pathNode = object["path"] else {
                    reader.error(.missingKey, "\(field) has no `path`", at: object.location,
                                 help: "add `path: /out/app` (absolute, or relative to the stage's workdir)")
                    continue
                }
                if let path = reader.string(pathNode, what: "`path` of \(field)") {
                    result.append(ArtifactSyntax(name: name, path: path, description: description))
                }
            } else if let path = reader.string(entry.value, what: field) {
                result.append(ArtifactSyntax(name: name, path: path, description: nil))
            }
        }
        return result
    }

    // MARK: Steps

    static func step(_ node: YAMLNode, reader: inout SyntaxReader) -> StepSyntax? {
        guard case .mapping(let mapping) = node else {
            var help = "a step is a mapping with one action key, like `- run: make`"
            if case .scalar(let scalar) = node, !scalar.isNull { help = "did you mean `- run: \(scalar.text)`?" }
            reader.wrongType(node, expected: "a mapping with one action key", what: "a step", help: help)
            return nil
        }
        guard let action = stepAction(mapping, reader: &reader) else { return nil }
        let kind = action.key.text
        checkStepKeys(mapping, kind: kind, reader: &reader)
        let location = action.key.location

        switch kind {
        case "run":
            return runStep(action.value, options: mapping, reader: &reader).map { StepSyntax(location: location, action: .run($0)) }
        case "copy":
            return copyStep(action.value, options: mapping, reader: &reader).map { StepSyntax(location: location, action: .copy($0)) }
        case "artifact":
            return artifactStep(action.value, options: mapping, reader: &reader)
                .map { StepSyntax(location: location, action: .artifact($0)) }
        case "add":
            return addStep(action.value, options: mapping, at: location, reader: &reader)
                .map { StepSyntax(location: location, action: .add($0)) }
        case "workdir":
            return reader.string(action.value, what: "`workdir`").map { StepSyntax(location: location, action: .workdir($0)) }
        case "user":
            return reader.string(action.value, what: "`user`").map { StepSyntax(location: location, action: .user($0)) }
        default:
            return reader.stringMap(action.value, what: "`env`").map { StepSyntax(location: location, action: .env($0)) }
        }
    }

    /// The step's one action key (`run`, `copy`, …) and its value; an error when it has none or several.
    private static func stepAction(_ mapping: YAMLMapping, reader: inout SyntaxReader) -> YAMLMapping.Entry? {
        let actions = mapping.entries.filter { StepAction.keys.contains($0.key.text) }
        guard let action = actions.first else {
            let unknown = mapping.entries.map(\.key.text)
            let guess = unknown.lazy.compactMap { Suggestion.closest(to: $0, in: StepAction.keys) }.first
            reader.error(
                .stepWithoutAction, "this step has no action", at: mapping.location,
                notes: unknown.isEmpty ? [] : [.init("it has only " + Suggestion.list(unknown))],
                help: guess.map { "did you mean `\($0)`?" }
                    ?? "give it exactly one of " + Suggestion.list(StepAction.keys))
            return nil
        }
        if actions.count > 1 {
            let names = actions.map(\.key.text)
            reader.error(
                .stepWithTwoActions, "this step has \(actions.count) actions: " + Suggestion.list(names),
                at: actions[1].key.location, notes: [.init("first action here", at: action.key.location)],
                help: "split it into separate steps, one action each")
            return nil
        }
        return action
    }

    /// Reports keys a `kind` step does not take, naming the step kind an option belongs to.
    private static func checkStepKeys(_ mapping: YAMLMapping, kind: String, reader: inout SyntaxReader) {
        let allowed = [kind] + (optionKeys[kind] ?? [])
        reader.checkKeys(mapping, allowed: allowed, in: "a `\(kind)` step", hints: optionHints[kind] ?? hints(forStepKind: kind))
    }

    /// For each step kind with options, what to say about another kind's option written on it: worked out
    /// once, not for every step (a 3,000-stage plan has tens of thousands of steps).
    private static let optionHints: [String: [String: String]] = Dictionary(
        uniqueKeysWithValues: optionKeys.keys.map { ($0, hints(forStepKind: $0)) })

    private static func hints(forStepKind kind: String) -> [String: String] {
        let allowed = [kind] + (optionKeys[kind] ?? [])
        var hints: [String: String] = [:]
        for (otherKind, options) in optionKeys.sorted(by: { $0.key < $1.key }) where otherKind != kind {
            for option in options where !allowed.contains(option) {
                hints[option] = "`\(option)` is an option of `\(otherKind)` steps, not of `\(kind)` steps"
            }
        }
        return hints
    }

    /// `run: COMMAND` with its options.
    private static func runStep(_ value: YAMLNode, options: YAMLMapping, reader: inout SyntaxReader) -> RunStepSyntax? {
        guard let command = reader.string(value, what: "`run`") else { return nil }
        var run = RunStepSyntax(command: command)
        if let cache = options["cache"] { run.cache = cacheMounts(cache, reader: &reader) }
        if let secrets = options["secrets"] { run.secrets = secretMounts(secrets, reader: &reader) }
        run.network = options["network"].flatMap { reader.string($0, what: "`network`") }
        if let mounts = options["mounts"] { run.mounts = self.mounts(mounts, reader: &reader) }
        return run
    }

    /// `copy: [PATH]` with its options: from the context, a stage (`from`) or an image (`image`).
    private static func copyStep(_ value: YAMLNode, options: YAMLMapping, reader: inout SyntaxReader) -> CopyStepSyntax? {
        guard let paths = reader.stringList(value, what: "`copy`", allowEmpty: false) else { return nil }
        var copy = CopyStepSyntax(paths: paths)
        let from = options["from"].flatMap { reader.string($0, what: "`from`") }
        let image = options["image"].flatMap { reader.string($0, what: "`image`") }
        if let from, let image {
            reader.error(.conflictingKeys, "a copy reads either from a stage (`from`) or from an image (`image`), not both",
                         at: image.location, notes: [.init("`from` given here", at: from.location)],
                         help: "keep `from: STAGE` to copy a stage's artifact, or `image: REF` to copy out of an image")
            return nil
        }
        if let from { copy.source = .stage(from) } else if let image { copy.source = .image(image) }
        copy.to = options["to"].flatMap { reader.string($0, what: "`to`") }
        copy.chown = options["chown"].flatMap { reader.string($0, what: "`chown`") }
        copy.chmod = options["chmod"].flatMap { reader.string($0, what: "`chmod`") }
        copy.exclude = options["exclude"].flatMap { reader.stringList($0, what: "`exclude`") } ?? []
        copy.link = options["link"].flatMap { reader.bool($0, what: "`link`") }
        return copy
    }

    /// `artifact: STAGE.NAME` with its options.
    private static func artifactStep(_ value: YAMLNode, options: YAMLMapping, reader: inout SyntaxReader) -> ArtifactStepSyntax? {
        guard let reference = reader.string(value, what: "`artifact`") else { return nil }
        var step = ArtifactStepSyntax(reference: reference)
        step.to = options["to"].flatMap { reader.string($0, what: "`to`") }
        step.chown = options["chown"].flatMap { reader.string($0, what: "`chown`") }
        step.chmod = options["chmod"].flatMap { reader.string($0, what: "`chmod`") }
        step.link = options["link"].flatMap { reader.bool($0, what: "`link`") }
        return step
    }

    /// `add: URL` with its options; a missing `checksum` is an error (reported at `location`), the step
    /// is still returned.
    private static func addStep(_ value: YAMLNode, options: YAMLMapping, at location: SourceLocation,
                                reader: inout SyntaxReader) -> AddStepSyntax? {
        guard let url = reader.string(value, what: "`add`") else { return nil }
        var add = AddStepSyntax(url: url)
        add.checksum = options["checksum"].flatMap { reader.string($0, what: "`checksum`") }
        add.to = options["to"].flatMap { reader.string($0, what: "`to`") }
        add.chown = options["chown"].flatMap { reader.string($0, what: "`chown`") }
        add.chmod = options["chmod"].flatMap { reader.string($0, what: "`chmod`") }
        if options["checksum"] == nil {
            reader.error(.missingKey, "an `add` step needs a `checksum`", at: location,
                         help: "add `checksum: sha256:…` with the file's SHA-256, so a changed download fails the build")
        }
        return add
    }

    static func cacheMounts(_ node: YAMLNode, reader: inout SyntaxReader) -> [CacheMountSyntax] {
        reader.items(node).compactMap { item in
            if case .mapping(let mapping) = item {
                reader.checkKeys(mapping, allowed: ["target", "id", "sharing"], in: "a cache mount")
                guard let targetNode = mapping["target"] else {
                    reader.error(.missingKey, "a cache mount needs a `target`", at: mapping.location,
                                 help: "add `target: /root/.cache` (the folder to keep between builds)")
                    return nil
                }
                guard let target = reader.string(targetNode, what: "`target` of the cache mount") else { return nil }
                return CacheMountSyntax(
                    location: mapping.location, target: target,
                    id: mapping["id"].flatMap { reader.string($0, what: "`id` of the cache mount") },
                    sharing: mapping["sharing"].flatMap { reader.string($0, what: "`sharing` of the cache mount") })
            }
            guard let target = reader.string(item, what: "a cache mount") else { return nil }
            return CacheMountSyntax(location: target.location, target: target, id: nil, sharing: nil)
        }
    }

    static func secretMounts(_ node: YAMLNode, reader: inout SyntaxReader) -> [SecretMountSyntax] {
        reader.items(node).compactMap { item in
            if case .mapping(let mapping) = item {
                reader.checkKeys(mapping, allowed: ["id", "env", "target", "required"], in: "a secret")
                guard let idNode = mapping["id"] else {
                    reader.error(.missingKey, "a secret needs an `id`", at: mapping.location,
                                 help: "add `id: NAME`, the name given to `--secret id=NAME,…` at build time")
                    return nil
                }
                guard let id = reader.string(idNode, what: "`id` of the secret") else { return nil }
                return SecretMountSyntax(
                    location: mapping.location, id: id,
                    env: mapping["env"].flatMap { reader.string($0, what: "`env` of the secret") },
                    target: mapping["target"].flatMap { reader.string($0, what: "`target` of the secret") },
                    required: mapping["required"].flatMap { reader.bool($0, what: "`required` of the secret") })
            }
            guard let id = reader.string(item, what: "a secret") else { return nil }
            return SecretMountSyntax(location: id.location, id: id, env: nil, target: nil, required: nil)
        }
    }

    /// `mounts:` — one mapping or a list of them; a key written for another type is the checker's (E0115).
    static func mounts(_ node: YAMLNode, reader: inout SyntaxReader) -> [MountSyntax] {
        reader.items(node).compactMap { item in
            guard let mapping = reader.mapping(item, what: "a mount",
                                               help: "write a mount as `{type: bind, source: PATH, target: PATH}`")
            else { return nil }
            reader.checkKeys(mapping, allowed: MountSyntax.keys, in: "a mount")
            var mount = MountSyntax(location: mapping.location)
            func text(_ key: String) -> Located<String>? {
                mapping[key].flatMap { reader.string($0, what: "`\(key)` of the mount") }
            }
            mount.type = text("type")
            mount.target = text("target")
            mount.source = text("source")
            mount.from = text("from")
            mount.image = text("image")
            mount.rw = mapping["rw"].flatMap { reader.bool($0, what: "`rw` of the mount") }
            mount.size = text("size")
            mount.id = text("id")
            mount.required = mapping["required"].flatMap { reader.bool($0, what: "`required` of the mount") }
            mount.mode = text("mode")
            mount.uid = text("uid")
            mount.gid = text("gid")
            if let from = mount.from, let image = mount.image {
                reader.error(.conflictingKeys, "a bind mount reads either a stage (`from`) or an image (`image`), not both",
                             at: image.location, notes: [.init("`from` given here", at: from.location)],
                             help: "keep `from: STAGE` to bind a stage's artifact, or `image: REF` to bind a path of an image")
                return nil
            }
            return mount
        }
    }

    // MARK: Templates

    static func templates(_ node: YAMLNode, reader: inout SyntaxReader) -> [TemplateSyntax] {
        guard let mapping = reader.mapping(node, what: "`templates`") else { return [] }
        return mapping.entries.compactMap { entry in
            let name = Located(entry.key.text, at: entry.key.location)
            let what = "template `\(entry.key.text)`"
            guard let body = reader.mapping(entry.value, what: what) else { return nil }
            reader.checkKeys(body, allowed: ["params", "stages"], in: what)
            var template = TemplateSyntax(name: name, location: name.location)
            if let params = body["params"] {
                if case .mapping(let defaults) = params {
                    for param in defaults.entries {
                        let value: Located<String>?
                        if case .scalar(let scalar) = param.value, scalar.isNull {
                            value = nil
                        } else {
                            value = reader.string(param.value, what: "the default of parameter `\(param.key.text)`")
                        }
                        template.params.append((Located(param.key.text, at: param.key.location), value))
                    }
                } else {
                    for param in reader.stringList(params, what: "`params` of \(what)") ?? [] {
                        template.params.append((param, nil))
                    }
                }
            }
            if let stages = body["stages"] {
                template.stages = self.stages(stages, what: "`stages` of \(what)", reader: &reader)
            } else {
                reader.error(.missingKey, "\(what) has no `stages`", at: name.location,
                             help: "add the `stages:` the template stands for")
            }
            return template
        }
    }

    static func expansions(_ node: YAMLNode, reader: inout SyntaxReader) -> [ExpandSyntax] {
        reader.items(node).compactMap { item in
            guard let mapping = reader.mapping(item, what: "an `expand` entry",
                                               help: "write `- template: NAME` with `for:` or `with:`")
            else { return nil }
            reader.checkKeys(mapping, allowed: ["template", "for", "with"], in: "an `expand` entry")
            guard let templateNode = mapping["template"] else {
                reader.error(.missingKey, "this `expand` entry names no `template`", at: mapping.location)
                return nil
            }
            guard let template = reader.string(templateNode, what: "`template`") else { return nil }
            var expansion = ExpandSyntax(location: mapping.location, template: template)
            if let forNode = mapping["for"], let forMapping = reader.mapping(forNode, what: "`for`") {
                for entry in forMapping.entries {
                    let name = Located(entry.key.text, at: entry.key.location)
                    if case .mapping(let object) = entry.value {
                        reader.checkKeys(object, allowed: ["dirs"], in: "the values of `\(entry.key.text)`")
                        if let dirs = object["dirs"].flatMap({ reader.string($0, what: "`dirs`") }) {
                            expansion.forEach.append((name, .dirs(dirs)))
                        } else if object["dirs"] == nil {
                            reader.error(.missingKey, "give the values of `\(entry.key.text)` as a list or as `{dirs: GLOB}`",
                                         at: object.location)
                        }
                    } else if let values = reader.stringList(entry.value, what: "the values of `\(entry.key.text)`") {
                        expansion.forEach.append((name, .list(values)))
                    }
                }
            }
            if let with = mapping["with"] {
                expansion.with = reader.stringMap(with, what: "`with`") ?? []
            }
            return expansion
        }
    }
}
