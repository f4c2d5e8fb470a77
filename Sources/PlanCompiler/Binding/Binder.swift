import PlanDiagnostics
import PlanValues

/// What the bind pass needs beyond the graph: which stages to produce and for which platform.
public struct BindOptions: Sendable {
    /// The stages to produce (`--target`); empty: the plan's targets.
    public var targets: [String]
    /// The platform the build produces (the target platform: `TARGETPLATFORM`).
    public var platform: Platform
    /// The platform of the machine that builds (`BUILDPLATFORM`): the host's.
    public var buildPlatform: Platform

    public init(targets: [String] = [], platform: Platform = .host, buildPlatform: Platform = .host) {
        self.targets = targets
        self.platform = platform
        self.buildPlatform = buildPlatform
    }

    /// The automatic platform arguments (`TARGETARCH`, `BUILDPLATFORM`, …) with their values for this binding.
    public var automaticArguments: [String: String] {
        AutomaticArguments.values(build: buildPlatform, target: platform)
    }
}

/// What binding needs to know about an image the plan reads: resolved by the caller (the executor pulls it).
public struct ResolvedImage: Sendable, Equatable {
    /// The digest of the platform's manifest.
    public var manifestDigest: Digest
    /// The image's configuration, as a stage based on it starts from.
    public var configuration: BoundImageConfiguration

    public init(manifestDigest: Digest, configuration: BoundImageConfiguration) {
        self.manifestDigest = manifestDigest
        self.configuration = configuration
    }
}

/// An image read for a platform: a stage's base or `copy … image:` source, with the platform of the stage
/// (its pin, or the target platform). One reference read by stages of two platforms is two uses.
public struct ImageUse: Codable, Sendable, Hashable, CustomStringConvertible {
    public var reference: ImageReference
    /// Normalised (`linux/arm64/v8` and `linux/arm64` are one platform).
    public var platform: Platform

    public init(reference: ImageReference, platform: Platform) {
        self.reference = reference
        self.platform = platform.normalized
    }

    /// `REF (linux/arm64)`.
    public var description: String { "\(reference) (\(platform))" }

    /// Sorted by reference, then platform: the order of `BoundPlan.images`.
    static func ordered(_ a: ImageUse, _ b: ImageUse) -> Bool {
        a.reference.description != b.reference.description ? a.reference.description < b.reference.description
            : a.platform.description < b.platform.description
    }
}

/// Binding failed: located diagnostics (a reference that does not parse once arguments are expanded, an unknown
/// target, …).
public struct BindFailure: Error, Sendable {
    public var diagnostics: [Diagnostic]

    public init(diagnostics: [Diagnostic]) {
        self.diagnostics = diagnostics
    }
}

/// The bind pass: turns the checked `BuildGraph` into a `BoundPlan` once the `--arg` values (already in the graph),
/// the targets, the platform and the images' configurations are known.
///
/// It works out what the executor used to work out while running: variables expanded with the values a step sees
/// (the stage's environment over its declared build arguments), paths resolved against the working directory,
/// the configuration (environment, user, working directory, shell) each step runs with, and the image configuration
/// each stage ends with.
public struct Binder: Sendable {
    /// The checked graph.
    public let graph: BuildGraph
    /// Targets and platform.
    public let options: BindOptions

    public init(graph: BuildGraph, options: BindOptions) {
        self.graph = graph
        self.options = options
    }

    /// The stages to produce: `options.targets`, else the graph's.
    var targetNames: [String] { options.targets.isEmpty ? graph.targets : options.targets }

    /// Every image the stages the run builds read (bases, then `copy … image:` sources), arguments expanded, parsed,
    /// deduplicated, in first-use order.
    ///
    /// A `copy … image:` reference is expanded with the values its step sees; one that names a variable the base
    /// image's environment sets is expanded here without it, as no image is resolved yet.
    public func imageReferences() throws(BindFailure) -> [ImageReference] {
        var seen = Set<ImageReference>()
        return try imageUses().map(\.reference).filter { seen.insert($0).inserted }
    }

    /// Every image the stages the run builds read, each with the platform it is read for (the reading stage's:
    /// its pin or the target platform), deduplicated, in first-use order: what the caller resolves before ``bind(resolved:)``.
    public func imageUses() throws(BindFailure) -> [ImageUse] {
        let bound = try bindStages(images: [:])
        var seen = Set<ImageUse>()
        return (bound.bases + bound.copies).filter { seen.insert($0).inserted }
    }

    /// The bound plan with each image resolved for whichever platform it is read for (`plan compile --emit`, tests).
    public func bind(images: [ImageReference: ResolvedImage]) throws(BindFailure) -> BoundPlan {
        var resolved: [ImageUse: ResolvedImage] = [:]
        if !images.isEmpty {
            for use in try imageUses() { resolved[use] = images[use.reference] }
        }
        return try bind(resolved: resolved)
    }

    /// The bound plan; an image use missing from `resolved` is bound unresolved (digest and configuration nil; its
    /// configuration counts as empty).
    public func bind(resolved images: [ImageUse: ResolvedImage]) throws(BindFailure) -> BoundPlan {
        let bound = try bindStages(images: images)
        let uses = Set(bound.bases + bound.copies)
        let boundImages = uses.sorted(by: ImageUse.ordered).map { use in
            BoundImage(reference: use.reference, platform: use.platform, manifestDigest: images[use]?.manifestDigest,
                       configuration: images[use]?.configuration)
        }
        return BoundPlan(
            planName: graph.planName, planFile: graph.planFile, planFiles: graph.planFiles, contextDirectory: graph.contextPath,
            ignore: graph.ignore, platform: options.platform,
            arguments: graph.arguments.map { BoundArgument(name: $0.name, value: $0.value) },
            stages: bound.stages, targets: targetNames, images: boundImages)
    }

    /// The stages the run builds, bound, and the images they read (bases and copy sources, in first-use order,
    /// with repeats); throws every problem found, not only the first.
    func bindStages(images: [ImageUse: ResolvedImage]) throws(BindFailure) -> BoundStages {
        var diagnostics = checkTargets()
        guard diagnostics.isEmpty else { throw BindFailure(diagnostics: diagnostics) }
        var result = BoundStages()
        var finals: [String: BoundImageConfiguration] = [:]
        for stage in graph.stages(building: options.targets) {
            var binding = StageBinding(binder: self, stage: stage, images: images)
            let bound = binding.bind(finalConfigurations: finals)
            diagnostics += binding.diagnostics
            result.bases += binding.baseImages
            result.copies += binding.copyImages
            finals[stage.name] = bound.finalConfiguration
            result.stages.append(bound)
        }
        guard diagnostics.isEmpty else { throw BindFailure(diagnostics: diagnostics) }
        return result
    }

    /// What `bindStages` found.
    struct BoundStages {
        var stages: [BoundStage] = []
        var bases: [ImageUse] = []
        var copies: [ImageUse] = []
    }

    /// An error for each requested target that names no stage.
    func checkTargets() -> [Diagnostic] {
        let names = graph.stages.map(\.name)
        return targetNames.filter { graph.stage(named: $0) == nil }.map { target in
            Diagnostic.error(.targetNotAStage, "`--target \(target)` names no stage of this plan", at: nil,
                             help: Suggestion.didYouMean(target, in: names) ?? "stages of this plan: " + names.joined(separator: ", "))
        }
    }

    /// Every build argument that has a value, by name, over the automatic platform arguments: what a base
    /// image reference is expanded with.
    var argumentValues: [String: String] {
        options.automaticArguments.merging(
            graph.arguments.compactMap { argument in argument.value.map { (argument.name, $0) } }, uniquingKeysWith: { $1 })
    }

    /// The platform `stage` is built for in this binding: the target platform, unless its `platform:` pins it
    /// (`${BUILDPLATFORM}`: the build platform; a literal: that platform).
    public func platform(of stage: GraphStage) -> Platform {
        graph.effectivePlatform(of: stage.name).platform(target: options.platform, build: options.buildPlatform)
    }
}
