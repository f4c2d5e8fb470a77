import PlanCompiler
import PlanOCI

/// The one conversion between plan's image configuration (``BoundImageConfiguration``, what binding works
/// out) and the OCI configuration object (`ContainerConfiguration`, what images hold), both ways.
extension BoundImageConfiguration {
    /// What a pulled image's configuration says, in plan's terms: a missing or empty working directory is
    /// `/`, a missing user is root.
    init(image config: ContainerConfiguration?) {
        self.init()
        guard let config else { return }
        environment = (config.env ?? []).map { entry in
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            return EnvironmentVariable(name: parts.first ?? "", value: parts.count > 1 ? parts[1] : "")
        }
        workdir = config.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        user = config.user ?? ""
        entrypoint = config.entrypoint
        cmd = config.cmd
        exposedPorts = (config.exposedPorts ?? []).sorted()
        labels = (config.labels ?? [:]).sorted { $0.key < $1.key }.map { Label(key: $0.key, value: $0.value) }
        volumes = (config.volumes ?? []).sorted()
        stopSignal = config.stopSignal
        healthcheck = config.healthcheck.map {
            BoundHealthcheck(test: $0.test, interval: $0.interval, timeout: $0.timeout, startPeriod: $0.startPeriod,
                             startInterval: $0.startInterval, retries: $0.retries)
        }
    }

    /// The OCI configuration object an image built with this configuration gets (the shell is plan's own
    /// and not part of it).
    var containerConfiguration: ContainerConfiguration {
        var config = ContainerConfiguration()
        config.env = environment.map { "\($0.name)=\($0.value)" }
        config.workingDir = workdir == "/" ? nil : workdir
        config.user = user.isEmpty ? nil : user
        config.entrypoint = entrypoint
        config.cmd = cmd
        config.exposedPorts = exposedPorts.isEmpty ? nil : Set(exposedPorts)
        config.labels = labels.isEmpty ? nil : Dictionary(labels.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        config.volumes = volumes.isEmpty ? nil : Set(volumes)
        config.stopSignal = stopSignal
        config.healthcheck = healthcheck.map {
            HealthConfiguration(test: $0.test, interval: $0.interval, timeout: $0.timeout, startPeriod: $0.startPeriod,
                                startInterval: $0.startInterval, retries: $0.retries)
        }
        return config
    }
}
