/// Writes the mapped plan as YAML, laid out like the example plans.
extension ImportMapper {
    func write() -> String {
        var out: [String] = ["# Imported from \(file.path) by `plan import`."]
        out += headerComments.map { YAMLText.comment($0, indent: 0) }
        out.append("version: 1")
        if let name = options.name { out.append("name: " + YAMLText.scalar(name)) }
        if let context = options.context { out.append("context: " + YAMLText.scalar(context)) }
        if !args.isEmpty {
            out.append("args:")
            for field in args { out += render(field, indent: 2) }
        }
        if !options.ignorePatterns.isEmpty {
            if let flow = YAMLText.flowList(options.ignorePatterns) {
                out.append("ignore: " + flow)
            } else {
                out.append("ignore:")
                out += options.ignorePatterns.map { "  - " + YAMLText.scalar($0) }
            }
        }
        out.append("")
        out.append("stages:")
        for (position, stage) in stages.enumerated() {
            if position > 0 { out.append("") }
            out += stage.comments.map { YAMLText.comment($0, indent: 2) }
            out.append("  \(stage.name):")
            out += writeStage(stage)
        }
        let targets = targetNames()
        out.append("")
        out.append("targets: " + (YAMLText.flowList(targets) ?? "[" + targets.joined(separator: ", ") + "]"))
        out += trailing.map { YAMLText.comment($0, indent: 0) }
        return out.joined(separator: "\n") + "\n"
    }

    func targetNames() -> [String] {
        guard !options.targets.isEmpty else { return stages.last.map { [$0.name] } ?? [] }
        return options.targets.map { target in stageIndex(target).map { stages[$0].name } ?? target }
    }

    func writeStage(_ stage: PlanStage) -> [String] {
        var out: [String] = []
        out.append("    from: " + YAMLText.scalar(stage.from))
        if let platform = stage.platform { out.append("    platform: " + YAMLText.scalar(platform)) }
        if let shell = stage.shell { out += render(shell, indent: 4) }
        if !stage.env.isEmpty {
            out.append("    env:")
            for field in stage.env { out += render(field, indent: 6) }
        }
        if let workdir = stage.workdir { out += render(workdir, indent: 4) }
        if let user = stage.user { out += render(user, indent: 4) }
        if stage.hasRealSteps {
            out.append("    steps:")
            for step in stage.steps { out += render(step, indent: 6) }
        } else {
            for step in stage.steps { out += step.comments.map { YAMLText.comment($0, indent: 4) } }
        }
        if !stage.artifacts.isEmpty {
            out.append("    artifacts:")
            for artifact in stage.artifacts { out.append("      \(artifact.name): " + YAMLText.scalar(artifact.path)) }
        }
        if let entrypoint = stage.entrypoint { out += render(entrypoint, indent: 4) }
        if let cmd = stage.cmd { out += render(cmd, indent: 4) }
        if !stage.expose.isEmpty { out += render(PlanField(key: "expose", value: .list(stage.expose), comments: stage.exposeComments), indent: 4) }
        if !stage.volumes.isEmpty { out += render(PlanField(key: "volumes", value: .list(stage.volumes), comments: stage.volumeComments), indent: 4) }
        if !stage.labels.isEmpty {
            out.append("    labels:")
            for field in stage.labels { out += render(field, indent: 6) }
        }
        if let stopsignal = stage.stopsignal { out += render(stopsignal, indent: 4) }
        if let healthcheck = stage.healthcheck { out += render(healthcheck, indent: 4) }
        return out
    }

    func render(_ step: PlanStep, indent: Int) -> [String] {
        var out = step.comments.map { YAMLText.comment($0, indent: indent) }
        guard !step.fields.isEmpty else { return out }
        for (position, field) in step.fields.enumerated() {
            var lines = render(PlanField(key: field.key, value: field.value), indent: indent + 2)
            if position == 0, !lines.isEmpty {
                lines[0] = String(repeating: " ", count: indent) + "- " + lines[0].dropFirst(indent + 2)
            }
            out += lines
        }
        return out
    }

    /// `key: value` at `indent`, with its comments above it.
    func render(_ field: PlanField, indent: Int) -> [String] {
        let pad = String(repeating: " ", count: indent)
        var out = field.comments.map { YAMLText.comment($0, indent: indent) }
        let key = pad + YAMLText.scalar(field.key) + ":"
        switch field.value {
        case .string(let text):
            out.append(key + YAMLText.value(text, indent: indent + 2))
        case .raw(let text):
            out.append(key + " " + text)
        case .list(let items):
            if let flow = YAMLText.flowList(items, limit: max(40, 110 - key.count)) {
                out.append(key + " " + flow)
            } else {
                out.append(key)
                out += items.map { pad + "  - " + YAMLText.value($0, indent: indent + 4).dropFirst() }
            }
        case .rawList(let items):
            let flow = "[" + items.joined(separator: ", ") + "]"
            if flow.count + key.count < 100 {
                out.append(key + " " + flow)
            } else {
                out.append(key)
                out += items.map { pad + "  - " + $0 }
            }
        case .map(let entries):
            if entries.isEmpty {
                out.append(key + " {}")
            } else {
                out.append(key)
                for (name, value) in entries { out += render(PlanField(key: name, value: value), indent: indent + 2) }
            }
        }
        return out
    }
}
