import PlanDiagnostics
import PlanValues

extension BoundPlan {
    /// Where the plan first names `reference`: the stage for a `from:` base, the step for a `copy … image:`
    /// (stages in build order). A failure to pull the image is reported there.
    public func firstUse(of reference: ImageReference) -> SourceLocation? {
        for stage in stages {
            if case .image(let base) = stage.base, base == reference { return stage.location }
            for step in stage.steps {
                if case .copy(let copy) = step.action, case .image(let source) = copy.source, source == reference {
                    return step.location
                }
                if case .run(let run) = step.action, run.mounts.contains(where: {
                    if case .bind(let bind) = $0, case .image(let source) = bind.source { source == reference } else { false }
                }) {
                    return step.location
                }
            }
        }
        return nil
    }
}
