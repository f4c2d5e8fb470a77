import PlanDiagnostics
import PlanValues

/// One place a bound plan reads an image: a stage's `from:` base, a `copy … image:` source or a `run` step's
/// bind mount of an image.
public struct BoundImageRead: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case base
        case copy
        /// The bind mount at this index of the step's `mounts:`.
        case mount(Int)
    }

    /// The reference, arguments expanded.
    public var reference: ImageReference
    /// The platform it is read for: the reading stage's.
    public var platform: Platform
    /// The stage (a base) or the step that names it.
    public var location: SourceLocation
    public var kind: Kind

    public init(reference: ImageReference, platform: Platform, location: SourceLocation, kind: Kind) {
        self.reference = reference
        self.platform = platform
        self.location = location
        self.kind = kind
    }
}

extension BoundPlan {
    /// Every image read of the plan, in build order (a stage's base, then its steps'): what a failed pull is
    /// reported at and what a lock must pin.
    public var imageReads: [BoundImageRead] {
        var reads: [BoundImageRead] = []
        for stage in stages {
            if case .image(let base) = stage.base {
                reads.append(BoundImageRead(reference: base, platform: stage.platform, location: stage.location, kind: .base))
            }
            for step in stage.steps {
                switch step.action {
                case .copy(let copy):
                    if case .image(let source) = copy.source {
                        reads.append(BoundImageRead(reference: source, platform: stage.platform, location: step.location, kind: .copy))
                    }
                case .run(let run):
                    for (index, mount) in run.mounts.enumerated() {
                        if case .bind(let bind) = mount, case .image(let source) = bind.source {
                            reads.append(BoundImageRead(reference: source, platform: stage.platform, location: step.location,
                                                        kind: .mount(index)))
                        }
                    }
                default: break
                }
            }
        }
        return reads
    }

    /// Where the plan first names `reference`: the stage for a `from:` base, the step for a `copy … image:` or a
    /// bind mount of it (stages in build order). A failure to pull the image is reported there.
    public func firstUse(of reference: ImageReference) -> SourceLocation? {
        imageReads.first { $0.reference == reference }?.location
    }
}
