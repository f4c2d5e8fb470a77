import PlanDiagnostics

extension StageSyntax {
    /// The stage with every string (names, values, paths, commands, keys) passed through `transform`.
    /// Template instances are made this way, so no field can be forgotten by one code path and not another.
    public func mappingStrings(_ transform: (Located<String>) -> Located<String>) -> StageSyntax {
        func pairs(_ items: [KeyValueSyntax]) -> [KeyValueSyntax] {
            items.map { KeyValueSyntax(key: transform($0.key), value: transform($0.value)) }
        }
        func command(_ command: CommandSyntax?) -> CommandSyntax? {
            switch command {
            case .exec(let items, let location)?: .exec(items.map(transform), at: location)
            case .shell(let text)?: .shell(transform(text))
            case nil: nil
            }
        }
        var stage = StageSyntax(name: transform(name), location: location)
        stage.from = from.map(transform)
        stage.platform = platform.map(transform)
        stage.workdir = workdir.map(transform)
        stage.user = user.map(transform)
        stage.env = pairs(env)
        stage.shell = shell.map { Located($0.value.map(transform), at: $0.location) }
        stage.steps = steps.map { $0.mappingStrings(transform) }
        stage.artifacts = artifacts.map {
            ArtifactSyntax(name: transform($0.name), path: transform($0.path), description: $0.description.map(transform))
        }
        stage.entrypoint = command(entrypoint)
        stage.cmd = command(cmd)
        stage.expose = expose.map(transform)
        stage.labels = pairs(labels)
        stage.volumes = volumes.map(transform)
        stage.stopsignal = stopsignal.map(transform)
        if var check = healthcheck {
            check.cmd = command(check.cmd)
            check.interval = check.interval.map(transform)
            check.timeout = check.timeout.map(transform)
            check.startPeriod = check.startPeriod.map(transform)
            check.startInterval = check.startInterval.map(transform)
            stage.healthcheck = check
        }
        stage.allow = allow.map(transform)
        return stage
    }

    /// Every string of the stage, for checks that only read.
    public var allStrings: [Located<String>] {
        var found: [Located<String>] = []
        _ = mappingStrings { found.append($0); return $0 }
        return found
    }
}

extension StepSyntax {
    func mappingStrings(_ transform: (Located<String>) -> Located<String>) -> StepSyntax {
        let action: StepAction
        switch self.action {
        case .run(let run):
            action = .run(RunStepSyntax(
                command: transform(run.command),
                cache: run.cache.map {
                    CacheMountSyntax(location: $0.location, target: transform($0.target), id: $0.id.map(transform),
                                     sharing: $0.sharing.map(transform))
                },
                secrets: run.secrets.map {
                    SecretMountSyntax(location: $0.location, id: transform($0.id), env: $0.env.map(transform),
                                      target: $0.target.map(transform), required: $0.required)
                },
                network: run.network.map(transform),
                mounts: run.mounts.map { mount in
                    var result = MountSyntax(location: mount.location)
                    result.type = mount.type.map(transform)
                    result.target = mount.target.map(transform)
                    result.source = mount.source.map(transform)
                    result.from = mount.from.map(transform)
                    result.image = mount.image.map(transform)
                    result.rw = mount.rw
                    result.size = mount.size.map(transform)
                    result.id = mount.id.map(transform)
                    result.required = mount.required
                    result.mode = mount.mode.map(transform)
                    result.uid = mount.uid.map(transform)
                    result.gid = mount.gid.map(transform)
                    return result
                }))
        case .copy(let copy):
            var result = CopyStepSyntax(paths: copy.paths.map(transform))
            switch copy.source {
            case .context: result.source = .context
            case .stage(let name): result.source = .stage(transform(name))
            case .image(let reference): result.source = .image(transform(reference))
            }
            result.to = copy.to.map(transform)
            result.chown = copy.chown.map(transform)
            result.chmod = copy.chmod.map(transform)
            result.exclude = copy.exclude.map(transform)
            result.link = copy.link
            action = .copy(result)
        case .artifact(let step):
            action = .artifact(ArtifactStepSyntax(
                reference: transform(step.reference), to: step.to.map(transform), chown: step.chown.map(transform),
                chmod: step.chmod.map(transform), link: step.link))
        case .add(let add):
            action = .add(AddStepSyntax(
                url: transform(add.url), checksum: add.checksum.map(transform), to: add.to.map(transform),
                chown: add.chown.map(transform), chmod: add.chmod.map(transform)))
        case .workdir(let path): action = .workdir(transform(path))
        case .user(let user): action = .user(transform(user))
        case .env(let pairs): action = .env(pairs.map { KeyValueSyntax(key: transform($0.key), value: transform($0.value)) })
        }
        return StepSyntax(location: location, action: action)
    }
}
