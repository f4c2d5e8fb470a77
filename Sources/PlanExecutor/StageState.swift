import PlanOCI

/// The image configuration as a stage's steps change it, starting from its base.
struct StageState: Sendable {
    var env: [(name: String, value: String)] = []
    var workdir = "/"
    var user = ""
    var shell = ["/bin/sh", "-c"]
    var entrypoint: [String]?
    var cmd: [String]?
    var exposedPorts: Set<String> = []
    var labels: [String: String] = [:]
    var volumes: Set<String> = []
    var stopSignal: String?
    var healthcheck: HealthConfiguration?

    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    init() {}

    init(image config: ContainerConfiguration?) {
        guard let config else { return }
        env = (config.env ?? []).map { entry in
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }
        workdir = config.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        user = config.user ?? ""
        entrypoint = config.entrypoint
        cmd = config.cmd
        exposedPorts = config.exposedPorts ?? []
        labels = config.labels ?? [:]
        volumes = config.volumes ?? []
        stopSignal = config.stopSignal
        healthcheck = config.healthcheck
    }

    mutating func setEnv(_ name: String, _ value: String) {
        if let index = env.firstIndex(where: { $0.name == name }) {
            env[index].value = value
        } else {
            env.append((name, value))
        }
    }

    var envDictionary: [String: String] {
        Dictionary(env.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
    }

    var containerConfiguration: ContainerConfiguration {
        var config = ContainerConfiguration()
        config.env = env.map { "\($0.name)=\($0.value)" }
        config.workingDir = workdir == "/" ? nil : workdir
        config.user = user.isEmpty ? nil : user
        config.entrypoint = entrypoint
        config.cmd = cmd
        config.exposedPorts = exposedPorts.isEmpty ? nil : exposedPorts
        config.labels = labels.isEmpty ? nil : labels
        config.volumes = volumes.isEmpty ? nil : volumes
        config.stopSignal = stopSignal
        config.healthcheck = healthcheck
        return config
    }
}
