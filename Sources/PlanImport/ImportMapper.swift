import PlanDiagnostics

/// A value in the plan being written.
indirect enum PlanValue {
    /// A string, written plain, quoted, or as a literal block.
    case string(String)
    /// A list of strings, `[a, b]` when short.
    case list([String])
    /// Text written as is (`true`, `{target: /x, id: y}`).
    case raw(String)
    /// A list whose items are written as is, one per line.
    case rawList([String])
    /// A mapping, in order.
    case map([(String, PlanValue)])
}

/// One `key: value` of a stage or step, with the comments written above it.
struct PlanField {
    var key: String
    var value: PlanValue
    var comments: [String] = []
}

/// A step: its action first, then its options. No fields: comments only (an instruction kept as a comment).
struct PlanStep {
    var fields: [PlanField]
    var comments: [String]
}

struct PlanStage {
    var dockerName: String
    var name: String
    var comments: [String]
    var from: String
    var platform: String?
    var shell: PlanField?
    var env: [PlanField] = []
    var workdir: PlanField?
    var user: PlanField?
    var steps: [PlanStep] = []
    var artifacts: [(name: String, path: String)] = []
    var entrypoint: PlanField?
    var cmd: PlanField?
    var expose: [String] = []
    var exposeComments: [String] = []
    var volumes: [String] = []
    var volumeComments: [String] = []
    var labels: [PlanField] = []
    var stopsignal: PlanField?
    var healthcheck: PlanField?
    /// Variables a `${NAME}` may name here (its env, inherited env, its args).
    var known: Set<String> = []
    /// Arguments declared in this stage (`ARG NAME`): the builder expands `$NAME` of these.
    var declaredArgs: Set<String> = []

    /// Whether configuration may still go into the stage keys (applied before the first step, in the order
    /// shell, env, workdir, user).
    var configRank: Int { user != nil ? 3 : workdir != nil ? 2 : !env.isEmpty ? 1 : 0 }
    var hasRealSteps: Bool { steps.contains { !$0.fields.isEmpty } }
}

struct ImportMapper {
    let file: Dockerfile
    let options: ImportOptions
    var diagnostics: [Diagnostic] = []
    var headerComments: [String] = []
    var args: [PlanField] = []
    var argDefaults: [String: String] = [:]
    /// Arguments some `ARG` declares without a default (empty in the plan, unset to BuildKit).
    var withoutDefault: Set<String> = []
    var stages: [PlanStage] = []
    /// The first stage of each Dockerfile name, and the plan names taken: lookups stay O(1) with thousands of stages.
    var firstStage: [String: Int] = [:]
    var planNames: Set<String> = []
    var trailing: [String] = []

    static let predefined: Set<String> = [
        "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
        "PATH", "HOME", "HOSTNAME", "TERM", "LANG", "LC_ALL", "USER", "PWD", "SHELL", "TMPDIR", "HTTP_PROXY", "HTTPS_PROXY",
        "FTP_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy",
    ]

    static let platformArguments: Set<String> = [
        "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
    ]

    init(file: Dockerfile, options: ImportOptions) {
        self.file = file
        self.options = options
    }

    var escape: Character { file.escape }

    func unquote(_ s: String) -> String { DockerfileWords.unquote(s, escape: escape) }

    mutating func warn(_ code: DiagnosticCode, _ message: String, at location: SourceLocation, help: String? = nil) {
        diagnostics.append(.warning(code, message, at: location, help: help))
    }

    mutating func error(_ message: String, at location: SourceLocation) {
        diagnostics.append(.error(DiagnosticCode.dockerfileSyntax, message, at: location))
    }

    /// The instruction's lines as YAML comments, for what plan cannot express.
    func keptLines(_ instruction: DockerfileInstruction) -> [String] {
        instruction.sourceLines.map { " " + $0 }
    }

    /// Keeps an instruction as a comment with a located warning.
    mutating func keepAsComment(_ instruction: DockerfileInstruction, _ message: String, help: String? = nil) {
        warn(DiagnosticCode.noPlanForm, message, at: instruction.location, help: help ?? "the instruction is kept as a comment in the plan")
        let lines = instruction.comments + keptLines(instruction)
        if stages.isEmpty {
            headerComments += lines
        } else {
            stages[stages.count - 1].steps.append(PlanStep(fields: [], comments: lines))
        }
    }

    // MARK: - Mapping

    mutating func map() {
        for directive in file.directives {
            if directive.isKnown {
                if directive.name != "escape" { headerComments.append(" \(directive.name)=\(directive.value)") }
            } else {
                warn(
                    DiagnosticCode.noPlanForm, "parser directive `\(directive.name)` has no plan form", at: directive.location,
                    help: "BuildKit knows only `syntax`, `escape` and `check`; the line is kept as a comment")
                headerComments.append(" \(directive.name)=\(directive.value)")
            }
        }
        for instruction in file.instructions {
            mapInstruction(instruction)
        }
        shareArtifactFolders()
        trailing = file.trailingComments
        if stages.isEmpty, let first = file.instructions.first {
            error("the Dockerfile has no FROM: no build stage", at: first.location)
        }
        for target in options.targets where stageIndex(target) == nil {
            diagnostics.append(
                .error(
                    DiagnosticCode.dockerfileSyntax, "target stage \"\(target)\" could not be found", at: nil,
                    help: "stages: " + stages.map(\.dockerName).joined(separator: ", ")))
        }
    }

    mutating func mapInstruction(_ instruction: DockerfileInstruction) {
        if instruction.keyword == "FROM" {
            mapFrom(instruction)
            return
        }
        if stages.isEmpty {
            guard instruction.keyword == "ARG" else {
                error("no build stage in current context: \(instruction.keyword) before the first FROM", at: instruction.location)
                return
            }
            mapArg(instruction, global: true)
            return
        }
        if !["CMD", "ENTRYPOINT", "HEALTHCHECK", "ONBUILD", "MAINTAINER"].contains(instruction.keyword) {
            warnUnsetSensitive(instruction.text, at: instruction.location)  // run-time commands see no arguments
        }
        switch instruction.keyword {
        case "ARG": mapArg(instruction, global: false)
        case "RUN": mapRun(instruction)
        case "COPY": mapCopy(instruction, isAdd: false)
        case "ADD": mapAdd(instruction)
        case "WORKDIR", "USER": mapWorkdirOrUser(instruction)
        case "ENV": mapEnv(instruction)
        case "LABEL": mapLabel(instruction)
        case "EXPOSE":
            let words = DockerfileWords.split(instruction.text, escape: escape).map(unquote)
            stages[stages.count - 1].expose += words
            stages[stages.count - 1].exposeComments += instruction.comments
        case "VOLUME":
            let words: [String]
            switch instruction.arguments {
            case .exec(let list): words = list
            case .shell(let text): words = DockerfileWords.split(text, escape: escape).map(unquote)
            }
            stages[stages.count - 1].volumes += words
            stages[stages.count - 1].volumeComments += instruction.comments
        case "STOPSIGNAL":
            stages[stages.count - 1].stopsignal = PlanField(
                key: "stopsignal", value: .string(unquote(instruction.text)), comments: instruction.comments)
        case "CMD", "ENTRYPOINT": mapCommand(instruction)
        case "HEALTHCHECK": mapHealthcheck(instruction)
        case "SHELL": mapShell(instruction)
        case "MAINTAINER":
            keepAsComment(instruction, "MAINTAINER has no plan form (it sets the image's author, not a label)",
                help: "use a label such as org.opencontainers.image.authors; the line is kept as a comment")
        case "ONBUILD":
            keepAsComment(instruction, "ONBUILD has no plan form: plan images carry no triggers")
        default:
            keepAsComment(instruction, "\(instruction.keyword) has no plan form")
        }
    }

    // MARK: FROM and ARG

    func stageIndex(_ reference: String) -> Int? {
        let lower = reference.lowercased()
        if let index = firstStage[lower] { return index }
        if let number = Int(reference), number >= 0, number < stages.count { return number }
        return nil
    }

    static func planName(_ name: String) -> String {
        var out = ""
        for c in name.lowercased() {
            if c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == "-") { out.append(c) } else { out.append("-") }
        }
        if let first = out.first, !(first.isASCII && first.isLetter) { out = "s" + out }
        return out.isEmpty ? "stage" : out
    }

    mutating func mapFrom(_ instruction: DockerfileInstruction) {
        let words = instruction.text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard words.count == 1 || (words.count == 3 && words[1].lowercased() == "as") else {
            error("FROM requires either one or three arguments", at: instruction.location)
            return
        }
        for flag in instruction.flags where flag.name != "platform" {
            warn(DiagnosticCode.lossyImport, "FROM flag --\(flag.name) is not imported", at: flag.location)
        }
        let image = unquote(words[0])  // BuildKit expands the word: `debian:"${A}-${B}"` has no quotes left
        let dockerName = words.count == 3 ? words[2].lowercased() : String(stages.count)
        if words.count == 3, firstStage[dockerName] != nil {
            // BuildKit lints this (DuplicateStageName); references name the first.
            warn(DiagnosticCode.lossyImport, "duplicate stage name \"\(dockerName)\"; this stage is renamed, references name the first", at: instruction.location)
        }
        var name = words.count == 3 ? Self.planName(dockerName) : "stage-\(stages.count)"
        if planNames.contains(name) {
            var counter = 2
            while planNames.contains("\(name)-\(counter)") { counter += 1 }
            name = "\(name)-\(counter)"
        }
        var stage = PlanStage(dockerName: dockerName, name: name, comments: instruction.comments, from: image)
        stage.known = Set(args.map(\.key)).union(Self.predefined)
        warnUnsetSensitive(image, at: instruction.location)
        if let base = firstStage[image.lowercased()] ?? stageNamedByArguments(image, at: instruction.location, what: "FROM") {
            stage.from = stages[base].name
            stage.known.formUnion(stages[base].known)
        }
        if let flag = instruction.flags.last(where: { $0.name == "platform" }) {
            stage.platform = platformValue(unquote(flag.value ?? ""), at: flag.location)
        }
        if firstStage[dockerName] == nil { firstStage[dockerName] = stages.count }
        planNames.insert(name)
        stages.append(stage)
    }

    mutating func mapArg(_ instruction: DockerfileInstruction, global: Bool) {
        let words = DockerfileWords.split(instruction.text, escape: escape)
        if words.isEmpty {
            error("ARG requires at least one argument", at: instruction.location)
            return
        }
        var comments = instruction.comments
        for word in words {
            let parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            let value = parts.count > 1 ? unquote(String(parts[1])) : nil
            // `ARG A=1 # note` declares `#` and `note` too; nothing can refer to those.
            guard let first = name.unicodeScalars.first, first == "_" || (first.properties.isAlphabetic && first.isASCII),
                name.unicodeScalars.allSatisfy({ $0.isASCII && ($0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0)) })
            else {
                warn(DiagnosticCode.lossyImport, "ARG declares `\(name)`, which no `$` can refer to (a comment after ARG?); left out", at: instruction.location)
                continue
            }
            if !stages.isEmpty {
                stages[stages.count - 1].known.insert(name)
                stages[stages.count - 1].declaredArgs.insert(name)
            }
            // Platform arguments are predefined in plan: no declaration needed.
            if Self.platformArguments.contains(name), value == nil { continue }
            if let existing = argDefaults[name] {
                if let value, value != existing {
                    warn(
                        DiagnosticCode.lossyImport,
                        "ARG \(name) has the default \"\(value)\" here and \"\(existing)\" before; a plan argument has one default",
                        at: instruction.location, help: "the plan keeps the first default")
                }
                if !comments.isEmpty, !stages.isEmpty {
                    stages[stages.count - 1].steps.append(PlanStep(fields: [], comments: comments))
                }
                comments = []
                continue
            }
            argDefaults[name] = value ?? ""
            if value == nil { withoutDefault.insert(name) }
            var fieldComments = comments
            if value == nil { fieldComments.append(" ARG \(name) has no default in the Dockerfile (empty here)") }
            args.append(PlanField(key: name, value: .string(value ?? ""), comments: fieldComments))
            comments = []
            if !global {
                for index in stages.indices { stages[index].known.insert(name) }
            }
        }
    }

    // MARK: Configuration

    /// `${NAME}` of a name not known here becomes `$NAME` (unchecked by plan, the same to every shell and
    /// builder) where no name character follows; `$NAME` of an argument the stage declares becomes
    /// `${NAME}`, so that the plan declares it in the stage as the Dockerfile did.
    func relax(_ text: String, known: Set<String>, brace: Set<String> = []) -> String {
        guard text.contains("$") else { return text }
        let chars = Array(text)
        var out = ""
        var i = 0
        while i < chars.count {
            if chars[i] == "$", i + 1 < chars.count, chars[i + 1] == "{", i == 0 || (chars[i - 1] != "\\" && chars[i - 1] != "$") {
                var j = i + 2
                while j < chars.count, chars[j].isASCII, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { j += 1 }
                let name = String(chars[(i + 2)..<j])
                if j < chars.count, chars[j] == "}", !name.isEmpty, !(name.first?.isNumber ?? true), !known.contains(name) {
                    let next = j + 1 < chars.count ? chars[j + 1] : " "
                    if !(next.isASCII && (next.isLetter || next.isNumber || next == "_")) {
                        out += "$" + name
                        i = j + 1
                        continue
                    }
                }
            } else if chars[i] == "$", !brace.isEmpty, i + 1 < chars.count, i == 0 || (chars[i - 1] != "\\" && chars[i - 1] != "$") {
                var j = i + 1
                while j < chars.count, chars[j].isASCII, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { j += 1 }
                let name = String(chars[(i + 1)..<j])
                if brace.contains(name) {
                    out += "${" + name + "}"
                    i = j
                    continue
                }
            }
            out.append(chars[i])
            i += 1
        }
        return out
    }

    mutating func mapWorkdirOrUser(_ instruction: DockerfileInstruction) {
        let key = instruction.keyword.lowercased()
        let index = stages.count - 1
        let value = relax(unquote(instruction.text.trimmingBlanks()), known: stages[index].known, brace: stages[index].declaredArgs)
        let rank = key == "workdir" ? 2 : 3
        let stage = stages[index]
        if !stage.hasRealSteps, stage.configRank < rank {
            let field = PlanField(key: key, value: .string(value), comments: instruction.comments)
            if key == "workdir" { stages[index].workdir = field } else { stages[index].user = field }
            return
        }
        stages[index].steps.append(PlanStep(fields: [PlanField(key: key, value: .string(value))], comments: instruction.comments))
    }

    func keyValues(_ instruction: DockerfileInstruction) -> [(String, String)] {
        let words = DockerfileWords.split(instruction.text, escape: escape)
        guard let first = words.first else { return [] }
        if !first.contains("=") {
            let text = instruction.text
            let key = text.prefix { $0 != " " && $0 != "\t" }
            let rest = text.dropFirst(key.count).drop { $0 == " " || $0 == "\t" }
            return [(unquote(String(key)), unquote(String(rest)))]
        }
        return words.map { word in
            let parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (unquote(String(parts[0])), unquote(parts.count > 1 ? String(parts[1]) : ""))
        }
    }

    mutating func mapEnv(_ instruction: DockerfileInstruction) {
        let index = stages.count - 1
        var pairs: [(String, PlanValue)] = []
        for (key, value) in keyValues(instruction) {
            pairs.append((key, .string(relax(value, known: stages[index].known, brace: stages[index].declaredArgs))))
            stages[index].known.insert(key)
        }
        let stage = stages[index]
        let repeats = pairs.contains { pair in stage.env.contains { $0.key == pair.0 } }
        if !stage.hasRealSteps, stage.configRank <= 1, !repeats {
            var comments = instruction.comments
            for (key, value) in pairs {
                stages[index].env.append(PlanField(key: key, value: value, comments: comments))
                comments = []
            }
            return
        }
        stages[index].steps.append(PlanStep(fields: [PlanField(key: "env", value: .map(pairs))], comments: instruction.comments))
    }

    mutating func mapLabel(_ instruction: DockerfileInstruction) {
        let index = stages.count - 1
        var comments = instruction.comments
        for (key, value) in keyValues(instruction) {
            stages[index].labels.removeAll { $0.key == key }
            stages[index].labels.append(PlanField(key: key, value: .string(relax(value, known: stages[index].known, brace: stages[index].declaredArgs)), comments: comments))
            comments = []
        }
    }

    mutating func mapCommand(_ instruction: DockerfileInstruction) {
        let index = stages.count - 1
        let key = instruction.keyword.lowercased()
        let value: PlanValue
        switch instruction.arguments {
        case .exec(let words): value = .list(words.map { relax($0, known: stages[index].known) })
        case .shell(let text): value = .string(relax(text, known: stages[index].known))
        }
        let field = PlanField(key: key, value: value, comments: instruction.comments)
        if key == "cmd" { stages[index].cmd = field } else { stages[index].entrypoint = field }
    }

    mutating func mapHealthcheck(_ instruction: DockerfileInstruction) {
        let index = stages.count - 1
        let text = instruction.text.trimmingBlanks()
        if text.uppercased() == "NONE" {
            stages[index].healthcheck = PlanField(key: "healthcheck", value: .string("none"), comments: instruction.comments)
            return
        }
        var entries: [(String, PlanValue)] = []
        switch instruction.arguments {
        case .exec(let words): entries.append(("cmd", .list(Array(words.dropFirst()).map { relax($0, known: stages[index].known) })))
        case .shell(let shell):
            guard shell.uppercased().hasPrefix("CMD") else {
                error("Unknown type \"\(shell.prefix { $0 != " " })\" in HEALTHCHECK (try CMD)", at: instruction.location)
                return
            }
            entries.append(("cmd", .string(relax(String(shell.dropFirst(3).drop { $0 == " " || $0 == "\t" }), known: stages[index].known))))
        }
        for (flag, key) in [("interval", "interval"), ("timeout", "timeout"), ("start-period", "start_period"), ("start-interval", "start_interval")] {
            if let value = instruction.flag(flag) { entries.append((key, .string(value))) }
        }
        if let retries = instruction.flag("retries") { entries.append(("retries", .raw(retries))) }
        stages[index].healthcheck = PlanField(key: "healthcheck", value: .map(entries), comments: instruction.comments)
    }

    mutating func mapShell(_ instruction: DockerfileInstruction) {
        let index = stages.count - 1
        guard case .exec(let words) = instruction.arguments, !words.isEmpty else {
            error("SHELL requires the arguments to be in JSON form", at: instruction.location)
            return
        }
        // SHELL changes how later RUNs and shell-form commands run; before any of them, the stage's `shell:`
        // means the same whatever copies, env, workdir or user steps came first.
        let stage = stages[index]
        func isShellForm(_ value: PlanValue?) -> Bool {
            if case .string? = value { return true }
            return false
        }
        var checkCommand: PlanValue?
        if case .map(let entries)? = stage.healthcheck?.value { checkCommand = entries.first { $0.0 == "cmd" }?.1 }
        let ranShell = stage.steps.contains { $0.fields.first?.key == "run" }
            || isShellForm(stage.cmd?.value) || isShellForm(stage.entrypoint?.value) || isShellForm(checkCommand)
        guard !ranShell else {
            keepAsComment(
                instruction, "SHELL after a RUN (or a shell-form command) has no plan form (`shell` applies to the whole stage)",
                help: "move `shell:` to the stage if every step may use it; the line is kept as a comment")
            return
        }
        stages[index].shell = PlanField(key: "shell", value: .list(words), comments: instruction.comments)
    }

    // MARK: RUN

    static func shellQuote(_ word: String) -> String {
        if !word.isEmpty, word.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0)) }) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// `type=cache,target=/x` → ordered key/value pairs.
    static func mountOptions(_ value: String) -> [(String, String)] {
        value.split(separator: ",").map { part in
            let kv = part.split(separator: "=", maxSplits: 1)
            return (String(kv[0]).lowercased(), kv.count > 1 ? String(kv[1]) : "true")
        }
    }

    mutating func mapRun(_ instruction: DockerfileInstruction) {
        let index = stages.count - 1
        var script: String
        switch instruction.arguments {
        case .exec(let words):
            script = words.map(Self.shellQuote).joined(separator: " ")
            warn(
                DiagnosticCode.lossyImport, "RUN in exec form becomes a shell command (plan runs every `run` with the stage's shell)",
                at: instruction.location)
        case .shell(let text):
            script = text
            if !instruction.heredocs.isEmpty {
                let only = instruction.heredocs.count == 1
                    && DockerfileWords.split(text, escape: "\\").count == 1
                    && text.trimmingBlanks().hasPrefix("<<")
                if only, let heredoc = instruction.heredocs.first {
                    script = Self.body(heredoc)
                    if script.hasSuffix("\n") { script.removeLast() }
                } else {
                    for heredoc in instruction.heredocs {
                        script += "\n" + Self.body(heredoc) + heredoc.name
                    }
                }
            }
        }
        var fields = [PlanField(key: "run", value: .string(relax(script, known: stages[index].known, brace: stages[index].declaredArgs)))]
        var cache: [String] = []
        var secrets: [String] = []
        var mounts: [String] = []
        var comments = instruction.comments
        var unsupported = false
        for flag in instruction.flags {
            switch flag.name {
            case "mount":
                let options = Self.mountOptions(flag.value ?? "")
                let dictionary = Dictionary(options, uniquingKeysWith: { _, last in last })
                let type = dictionary["type"] ?? "bind"
                let target = dictionary["target"] ?? dictionary["dst"] ?? dictionary["destination"]
                switch type {
                case "cache":
                    guard let target else {
                        error("mount type=cache needs a target", at: flag.location)
                        continue
                    }
                    let extra = options.map(\.0).filter { !["type", "target", "dst", "destination", "id", "sharing"].contains($0) }
                    if !extra.isEmpty {
                        warn(DiagnosticCode.lossyImport, "cache mount option(s) \(extra.joined(separator: ", ")) have no plan form and are left out", at: flag.location)
                    }
                    var id = dictionary["id"]
                    if let value = id, value.contains("$") {  // BuildKit expands it; plan's cache ids are fixed
                        unsupported = true
                        warn(DiagnosticCode.noPlanForm, "a cache id with a variable (`\(value)`) has no plan form yet; the cache is keyed by its target",
                             at: flag.location, help: "the original line is kept as a comment above the step")
                        id = nil
                    }
                    if id == nil && dictionary["sharing"] == nil {
                        cache.append(YAMLText.scalar(target, flow: true))
                    } else {
                        var parts = ["target: \(YAMLText.scalar(target, flow: true))"]
                        if let id { parts.append("id: \(YAMLText.scalar(id, flow: true))") }
                        if let sharing = dictionary["sharing"] { parts.append("sharing: \(YAMLText.scalar(sharing, flow: true))") }
                        cache.append("{" + parts.joined(separator: ", ") + "}")
                    }
                case "secret":
                    let id = dictionary["id"] ?? target.map { String($0.split(separator: "/").last ?? "") } ?? ""
                    guard !id.isEmpty else {
                        error("mount type=secret needs an id or a target", at: flag.location)
                        continue
                    }
                    var parts = ["id: \(YAMLText.scalar(id, flow: true))"]
                    if let target { parts.append("target: \(YAMLText.scalar(target, flow: true))") }
                    if let env = dictionary["env"] { parts.append("env: \(YAMLText.scalar(env, flow: true))") }
                    if let required = dictionary["required"] { parts.append("required: \(required == "false" ? "false" : "true")") }
                    secrets.append(parts.count == 1 ? YAMLText.scalar(id, flow: true) : "{" + parts.joined(separator: ", ") + "}")
                case "bind", "tmpfs", "ssh":
                    if let mount = mountEntry(type: type, options: options, flag: flag) {
                        mounts.append(mount)
                    } else {
                        unsupported = true
                    }
                default:
                    unsupported = true
                    warn(
                        DiagnosticCode.noPlanForm, "RUN --mount=type=\(type) has no plan form; the step is imported without it",
                        at: flag.location, help: "the original line is kept as a comment above the step; it may fail without the mount")
                }
            case "network":
                fields.append(PlanField(key: "network", value: .string(flag.value ?? "default")))
            default:
                unsupported = true
                warn(DiagnosticCode.noPlanForm, "RUN --\(flag.name) has no plan form; the step is imported without it", at: flag.location)
            }
        }
        if !cache.isEmpty { fields.insert(PlanField(key: "cache", value: .rawList(cache)), at: 1) }
        if !secrets.isEmpty { fields.insert(PlanField(key: "secrets", value: .rawList(secrets)), at: cache.isEmpty ? 1 : 2) }
        if !mounts.isEmpty {
            fields.insert(PlanField(key: "mounts", value: .rawList(mounts)), at: 1 + (cache.isEmpty ? 0 : 1) + (secrets.isEmpty ? 0 : 1))
        }
        if unsupported { comments += keptLines(instruction) }
        stages[index].steps.append(PlanStep(fields: fields, comments: comments))
    }

    /// A bind, tmpfs or ssh `--mount` as one `mounts:` entry (`{type: bind, source: go.sum, target: go.sum}`); a bind
    /// from another stage makes that stage declare the path as an artifact, as COPY --from does. Nil (with a
    /// warning) when it has no plan form.
    mutating func mountEntry(type: String, options: [(String, String)], flag: DockerfileFlag) -> String? {
        let index = stages.count - 1
        let known = stages[index].known
        let brace = stages[index].declaredArgs
        let allowed: [String: Set<String>] = [
            "bind": ["type", "target", "dst", "destination", "source", "src", "from", "rw", "readwrite", "readonly", "ro"],
            "tmpfs": ["type", "target", "dst", "destination", "size"],
            "ssh": ["type", "target", "dst", "destination", "id", "required", "mode", "uid", "gid"],
        ]
        let extra = options.map(\.0).filter { !(allowed[type] ?? []).contains($0) }
        if !extra.isEmpty {
            warn(DiagnosticCode.lossyImport, "\(type) mount option(s) \(extra.joined(separator: ", ")) have no plan form and are left out",
                 at: flag.location)
        }
        var values: [String: String] = [:]
        for (key, value) in options {
            switch key {
            case "dst", "destination": values["target"] = value
            case "src": values["source"] = value
            case "readwrite": values["rw"] = value
            default: values[key] = value
            }
        }
        func scalar(_ text: String) -> String { YAMLText.scalar(text, flow: true) }
        var parts = ["type: \(type)"]
        switch type {
        case "bind":
            // BuildKit binds at the workdir when no target is given.
            let target = values["target"] ?? "."
            if let from = values["from"] {
                if let source = stageIndex(from) {
                    let path = Self.normalize(values["source"] ?? "/")
                    guard path != "/", !path.contains("$"), !Self.isGlob(path) else {
                        warn(DiagnosticCode.noPlanForm,
                             "RUN --mount=type=bind of a stage's whole file system, or of a path with a variable or pattern, has no plan form",
                             at: flag.location, help: "the original line is kept as a comment above the step; it may fail without the mount")
                        return nil
                    }
                    _ = artifact(in: source, path: path)
                    parts += ["from: \(scalar(stages[source].name))", "source: \(scalar(path))"]
                } else {
                    parts.append("image: \(scalar(from))")
                    if let source = values["source"] { parts.append("source: \(scalar(Self.normalize(source)))") }
                }
            } else if let source = values["source"] {
                parts.append("source: \(scalar(relax(source, known: known, brace: brace)))")
            }
            parts.append("target: \(scalar(relax(target, known: known, brace: brace)))")
            let readOnly = values["readonly"] ?? values["ro"]
            if let rw = values["rw"], rw != "false" {
                parts.append("rw: true")
            } else if let readOnly, readOnly == "false" {
                parts.append("rw: true")
            }
        case "tmpfs":
            guard let target = values["target"] else {
                error("mount type=tmpfs needs a target", at: flag.location)
                return nil
            }
            parts.append("target: \(scalar(relax(target, known: known, brace: brace)))")
            if let size = values["size"] { parts.append("size: \(scalar(size))") }
        default:
            if let id = values["id"], id != "default" { parts.append("id: \(scalar(id))") }
            if let target = values["target"] { parts.append("target: \(scalar(relax(target, known: known, brace: brace)))") }
            if let required = values["required"] { parts.append("required: \(required == "false" ? "false" : "true")") }
            for key in ["mode", "uid", "gid"] {
                if let value = values[key] { parts.append("\(key): \(scalar(value))") }
            }
        }
        return "{" + parts.joined(separator: ", ") + "}"
    }

    static func body(_ heredoc: DockerfileHeredoc) -> String {
        guard heredoc.chomp else { return heredoc.content }
        return heredoc.content.split(separator: "\n", omittingEmptySubsequences: false)
            .map { String($0.drop { $0 == "\t" }) }.joined(separator: "\n")
    }

    // MARK: COPY and ADD

    static func isGlob(_ path: String) -> Bool { path.contains { $0 == "*" || $0 == "?" || $0 == "[" } }

    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." || part.isEmpty { continue }
            if part == ".." { _ = parts.popLast() } else { parts.append(part) }
        }
        return "/" + parts.joined(separator: "/")
    }

    func sourcesAndDestination(_ instruction: DockerfileInstruction) -> [String] {
        switch instruction.arguments {
        case .exec(let words): return words
        case .shell(let text): return DockerfileWords.split(text, escape: escape).map(unquote)
        }
    }

    mutating func mapCopy(_ instruction: DockerfileInstruction, isAdd: Bool, addNote: String? = nil) {
        let index = stages.count - 1
        let keyword = instruction.keyword
        if !instruction.heredocs.isEmpty {
            keepAsComment(instruction, "\(keyword) with a heredoc has no plan form")
            return
        }
        let words = sourcesAndDestination(instruction)
        guard words.count >= 2 else {
            error("\(keyword) requires at least two arguments, but only one was provided. Destination could not be determined.", at: instruction.location)
            return
        }
        let sources = Array(words.dropLast())
        let destination = words[words.count - 1]
        var options: [PlanField] = []
        var excludes: [String] = []
        var link: Bool? = nil
        for flag in instruction.flags {
            switch flag.name {
            case "from": break
            case "chown": options.append(PlanField(key: "chown", value: .string(flag.value ?? "")))
            case "chmod": options.append(PlanField(key: "chmod", value: .string(flag.value ?? "")))
            case "link": link = flag.value.map { $0 != "false" } ?? true
            case "exclude": excludes.append(flag.value ?? "")
            case "checksum", "keep-git-dir": break
            default:
                warn(DiagnosticCode.lossyImport, "\(keyword) --\(flag.name) has no plan form and is left out", at: flag.location)
            }
        }
        if !excludes.isEmpty { options.append(PlanField(key: "exclude", value: excludes.count == 1 ? .string(excludes[0]) : .list(excludes))) }
        var comments = instruction.comments
        if let addNote { comments.append(addNote) }
        let known = stages[index].known
        if let from = instruction.flag("from") {
            warnUnsetSensitive(from, at: instruction.location)
            let fromLocation = instruction.flags.last { $0.name == "from" }?.location ?? instruction.location
            if let source = stageIndex(from) ?? stageNamedByArguments(from, at: fromLocation, what: "\(keyword) --from") {
                copyFromStage(source, sources: sources, destination: destination, options: options, link: link, instruction: instruction, comments: comments)
                return
            }
            var fields = [PlanField(key: "copy", value: sources.count == 1 ? .string(sources[0]) : .list(sources))]
            fields.append(PlanField(key: "image", value: .string(from)))
            fields.append(PlanField(key: "to", value: .string(relax(destination, known: known, brace: stages[index].declaredArgs))))
            fields += options
            if link == false { fields.append(PlanField(key: "link", value: .raw("false"))) }
            stages[index].steps.append(PlanStep(fields: fields, comments: comments))
            return
        }
        var fields = [PlanField(key: "copy", value: sources.count == 1 ? .string(sources[0]) : .list(sources))]
        if !keepsPlace(sources, destination) {
            fields.append(PlanField(key: "to", value: .string(relax(destination, known: known, brace: stages[index].declaredArgs))))
        }
        fields += options
        if link == true { fields.append(PlanField(key: "link", value: .raw("true"))) }
        stages[index].steps.append(PlanStep(fields: fields, comments: comments))
    }

    /// Whether a context copy without `to` lands where Docker puts it: a file to `.`, or `dir/` to `dir`.
    func keepsPlace(_ sources: [String], _ destination: String) -> Bool {
        for source in sources {
            if Self.isGlob(source) || source.contains("$") || source.hasPrefix("/") || source.hasPrefix("..") { return false }
            let trimmed = source.hasSuffix("/") ? String(source.dropLast()) : source
            if trimmed.isEmpty || trimmed == "." || trimmed.contains("/") { return false }
        }
        let target = destination.hasSuffix("/") ? String(destination.dropLast()) : destination
        if target == "." || destination == "./" {
            return sources.allSatisfy { options.isContextFolder($0) == false }
        }
        if sources.count == 1, let source = sources.first {
            let trimmed = source.hasSuffix("/") ? String(source.dropLast()) : source
            return (target == trimmed || target == "./" + trimmed) && options.isContextFolder(trimmed) == true
        }
        return false
    }

    /// The artifact of `stage` at `path`, declared now when it is new (named from the path, unique).
    mutating func artifact(in stage: Int, path: String) -> String {
        if let existing = stages[stage].artifacts.first(where: { $0.path == path }) { return existing.name }
        // `/out/app` → `app`, `build/styles.css` → `styles`, `/_site` → `site`.
        var last = Substring(path.split(separator: "/").last ?? "out")
        last = last.drop { !($0.isASCII && $0.isLetter) }
        if let dot = last.firstIndex(of: "."), dot != last.startIndex { last = last[..<dot] }
        var base = ""
        for c in last.lowercased() {
            base.append(c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == "-") ? c : "-")
        }
        while base.hasSuffix("-") { base.removeLast() }
        if base.isEmpty { base = "out" }
        var name = base
        var counter = 2
        while stages[stage].artifacts.contains(where: { $0.name == name }) {
            name = "\(base)-\(counter)"
            counter += 1
        }
        stages[stage].artifacts.append((name, path))
        return name
    }

    mutating func copyFromStage(
        _ source: Int, sources: [String], destination: String, options: [PlanField], link: Bool?,
        instruction: DockerfileInstruction, comments: [String]
    ) {
        let index = stages.count - 1
        if sources.contains(where: { $0.contains("$") }) {
            keepAsComment(instruction, "COPY --from a stage with a variable in the source path has no plan form (artifacts are fixed paths)")
            return
        }
        var paths: [String] = []
        for raw in sources {
            let path = Self.normalize(raw)
            var artifactPath = path
            if Self.isGlob(path) {
                let parts = path.split(separator: "/")
                let fixed = parts.prefix { !Self.isGlob(String($0)) }
                artifactPath = "/" + fixed.joined(separator: "/")
            }
            if artifactPath == "/" {
                keepAsComment(instruction, "COPY --from of a stage's whole file system has no plan form (an artifact cannot be `/`)")
                return
            }
            let name = artifact(in: source, path: artifactPath)
            paths.append(path == artifactPath ? "\(stages[source].name).\(name)" : path)
        }
        var fields: [PlanField]
        if sources.count == 1, let only = paths.first, !only.hasPrefix("/") {
            fields = [PlanField(key: "artifact", value: .string(only))]
        } else {
            let absolute = sources.map(Self.normalize)
            fields = [
                PlanField(key: "copy", value: absolute.count == 1 ? .string(absolute[0]) : .list(absolute)),
                PlanField(key: "from", value: .string(stages[source].name)),
            ]
        }
        fields.append(PlanField(key: "to", value: .string(relax(destination, known: stages[index].known, brace: stages[index].declaredArgs))))
        fields += options
        if link == false { fields.append(PlanField(key: "link", value: .raw("false"))) }
        stages[index].steps.append(PlanStep(fields: fields, comments: comments))
    }

    static let archiveSuffixes = [".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz", ".tar.zst", ".tzst", ".gz", ".bz2", ".xz"]

    static func isGitSource(_ source: String) -> Bool {
        source.hasPrefix("git@") || source.hasPrefix("git://") || source.hasSuffix(".git") || source.contains(".git#")
            || (source.hasPrefix("https://github.com/") && source.contains("#"))
    }

    mutating func mapAdd(_ instruction: DockerfileInstruction) {
        let index = stages.count - 1
        let words = sourcesAndDestination(instruction)
        if instruction.heredocs.isEmpty, words.count >= 2 {
            let sources = Array(words.dropLast())
            let remote = sources.filter { $0.contains("://") || $0.hasPrefix("git@") }
            if remote.contains(where: Self.isGitSource) {
                keepAsComment(instruction, "ADD of a git repository has no plan form")
                return
            }
            if !remote.isEmpty {
                guard sources.count == 1, let url = sources.first, url.hasPrefix("http://") || url.hasPrefix("https://") else {
                    keepAsComment(instruction, "ADD of several URLs, or of a URL with other sources, has no plan form")
                    return
                }
                guard let checksum = instruction.flag("checksum"), checksum.hasPrefix("sha256:") else {
                    keepAsComment(
                        instruction, "ADD of a URL without --checksum=sha256:… has no plan form (plan's `add` requires a checksum)",
                        help: "add `checksum: sha256:…` to an `add:` step by hand; the line is kept as a comment")
                    return
                }
                var fields = [
                    PlanField(key: "add", value: .string(url)), PlanField(key: "checksum", value: .string(checksum)),
                    PlanField(key: "to", value: .string(relax(words[words.count - 1], known: stages[index].known, brace: stages[index].declaredArgs))),
                ]
                for name in ["chown", "chmod"] {
                    if let value = instruction.flag(name) { fields.append(PlanField(key: name, value: .string(value))) }
                }
                stages[index].steps.append(PlanStep(fields: fields, comments: instruction.comments))
                return
            }
            if let variable = sources.first(where: { $0.contains("$") }) {
                warn(
                    DiagnosticCode.lossyImport, "ADD of `\(variable)`: when the variable names a URL, ADD downloads it; the plan copies it from the context",
                    at: instruction.location, help: "write an `add:` step with the URL and its checksum if it is a download")
            }
            if instruction.flag("from") == nil,
                let archive = sources.first(where: { source in Self.archiveSuffixes.contains { source.lowercased().hasSuffix($0) } })
            {
                warn(
                    DiagnosticCode.lossyImport, "ADD of the local archive `\(archive)` would extract it; the plan copies it as it is",
                    at: instruction.location, help: "extract it in a `run` step after the copy if the contents are needed")
                mapCopy(instruction, isAdd: true, addNote: " plan import: ADD would have extracted \(archive); it is copied as it is")
                return
            }
        }
        mapCopy(instruction, isAdd: true)
    }
}
