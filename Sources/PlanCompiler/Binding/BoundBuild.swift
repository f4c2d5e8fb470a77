import PlanValues

/// What `plan run` builds: the plan bound once per target platform, and the stage instances to build.
///
/// A stage bound the same way for two platforms (equal ``BoundStage``s — same platform, base, steps, arguments —
/// whose dependencies are the same instances) is one instance, built once and shared: a stage pinned to
/// `${BUILDPLATFORM}` that uses no `TARGET…` argument, say. Everything else is one instance per platform. The
/// executor reads only this: which instance a stage of a platform is, and what each instance needs.
public struct BoundBuild: Sendable, Equatable {
    /// One bound plan per target platform, in the order asked.
    public var plans: [BoundPlan]
    /// Every instance to build, in dependency order (an instance comes after those it needs).
    public var instances: [StageInstance]
    /// For each plan (by position in ``plans``): stage name → the name of the instance that builds it.
    public var instanceNames: [[String: String]]

    /// Works out the instances of `plans` (each bound for one target platform, the same plan and targets).
    public init(plans: [BoundPlan]) {
        self.plans = plans
        var instances: [StageInstance] = []
        var names: [[String: String]] = []
        for (position, plan) in plans.enumerated() {
            var own: [String: String] = [:]
            for stage in plan.stages {
                var dependencies: [String: String] = [:]
                for name in stage.dependencies { dependencies[name] = own[name] }
                if let shared = instances.firstIndex(where: { $0.stage == stage && $0.dependencies == dependencies }) {
                    instances[shared].plans.append(position)
                    own[stage.name] = instances[shared].name
                } else {
                    let key = "#\(instances.count)"
                    instances.append(StageInstance(name: key, stage: stage, plans: [position], dependencies: dependencies))
                    own[stage.name] = key
                }
            }
            names.append(own)
        }
        // Names once sharing is known: the stage name alone in a one-platform run and for an instance every platform
        // shares; else the platform first, as BuildKit's progress shows it (`linux/arm64 app`).
        var renamed: [String: String] = [:]
        for index in instances.indices {
            let instance = instances[index]
            let name = plans.count == 1 || instance.plans.count == plans.count ? instance.stage.name
                : instance.plans.map { AutomaticArguments.buildKitSpelling(plans[$0].platform).description }
                    .joined(separator: ",") + " " + instance.stage.name
            renamed[instance.name] = name
            instances[index].name = name
        }
        for index in instances.indices {
            instances[index].dependencies = instances[index].dependencies.mapValues { renamed[$0] ?? $0 }
        }
        self.instances = instances
        instanceNames = names.map { $0.mapValues { renamed[$0] ?? $0 } }
    }

    /// The target platforms, in the order asked.
    public var platforms: [Platform] { plans.map(\.platform) }

    /// The instance that builds stage `stage` for the plan at `position` of ``plans``.
    public func instance(of stage: String, plan position: Int) -> StageInstance? {
        guard let name = instanceNames[position][stage] else { return nil }
        return instances.first { $0.name == name }
    }
}

/// One stage to build: a bound stage, and the platforms (plans) that use its result.
public struct StageInstance: Sendable, Equatable {
    /// Unique in the build; what progress, events and failures name (see ``BoundBuild``).
    public var name: String
    public var stage: BoundStage
    /// The positions in ``BoundBuild/plans`` of the plans that use it, ascending.
    public var plans: [Int]
    /// Each stage it needs (`stage.dependencies`) → the name of the instance that builds it.
    public var dependencies: [String: String]
}
