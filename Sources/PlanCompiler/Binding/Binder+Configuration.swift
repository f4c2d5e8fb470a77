import PlanValues

extension BoundImageConfiguration {
    /// Sets `name`, in place when the environment has it, else at the end (the order of the image's `Env`).
    mutating func setEnvironment(_ name: String, _ value: String) {
        if let index = environment.firstIndex(where: { $0.name == name }) {
            environment[index].value = value
        } else {
            environment.append(EnvironmentVariable(name: name, value: value))
        }
    }
}

extension StageBinding {
    /// The image configuration the stage sets beyond its steps, over the configuration its steps left: an
    /// entrypoint without a cmd resets the inherited cmd, as in Docker; ports get `/tcp` when they name no protocol;
    /// ports, labels, volumes and the stop signal are expanded (entrypoint, cmd and the health check's test are not:
    /// the container's shell expands them when it runs).
    mutating func applyStageConfiguration() {
        let config = stage.config
        let values = self.values
        let shell = state.shell
        func words(_ command: GraphCommand) -> [String] {
            switch command {
            case .exec(let items): items
            case .shell(let text): shell + [text]
            }
        }
        if let entrypoint = config.entrypoint {
            state.entrypoint = words(entrypoint)
            if config.cmd == nil { state.cmd = nil }
        }
        if let cmd = config.cmd { state.cmd = words(cmd) }
        var ports = Set(state.exposedPorts)
        for port in config.expose {
            let expanded = VariableExpansion.expand(port, values)
            ports.insert(expanded.contains("/") ? expanded : expanded + "/tcp")
        }
        state.exposedPorts = ports.sorted()
        var labels: [String: String] = [:]
        for label in state.labels { labels[label.key] = label.value }
        for label in config.labels {
            labels[VariableExpansion.expand(label.key, values)] = VariableExpansion.expand(label.value, values)
        }
        state.labels = labels.sorted { $0.key < $1.key }.map { BoundImageConfiguration.Label(key: $0.key, value: $0.value) }
        var volumes = Set(state.volumes)
        for volume in config.volumes { volumes.insert(VariableExpansion.expand(volume, values)) }
        state.volumes = volumes.sorted()
        if let signal = config.stopSignal { state.stopSignal = VariableExpansion.expand(signal, values) }
        if let check = config.healthcheck {
            let test: [String]
            switch check.command {
            case .exec(let items)?: test = ["CMD"] + items
            case .shell(let text)?: test = ["CMD-SHELL", text]
            case nil: test = ["NONE"]
            }
            state.healthcheck = BoundHealthcheck(
                test: test, interval: check.interval.flatMap(GoDuration.nanoseconds),
                timeout: check.timeout.flatMap(GoDuration.nanoseconds),
                startPeriod: check.startPeriod.flatMap(GoDuration.nanoseconds),
                startInterval: check.startInterval.flatMap(GoDuration.nanoseconds), retries: check.retries)
        }
    }
}
