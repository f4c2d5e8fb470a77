// TEMPORARY (h/executor): the binder's API as h/binder defines it, so the executor builds before the merge.
// Removed when h/binder is merged.
import PlanDiagnostics
import PlanValues

public struct BindOptions: Sendable {
    public var targets: [String]
    public var platform: Platform
    public init(targets: [String] = [], platform: Platform = .host) {
        self.targets = targets
        self.platform = platform
    }
}

public struct ResolvedImage: Sendable, Equatable {
    public var manifestDigest: Digest
    public var configuration: BoundImageConfiguration
    public init(manifestDigest: Digest, configuration: BoundImageConfiguration) {
        self.manifestDigest = manifestDigest
        self.configuration = configuration
    }
}

public struct BindFailure: Error, Sendable {
    public var diagnostics: [Diagnostic]
    public init(diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
}

public struct Binder: Sendable {
    public let graph: BuildGraph
    public let options: BindOptions
    public init(graph: BuildGraph, options: BindOptions) {
        self.graph = graph
        self.options = options
    }
    public func imageReferences() throws(BindFailure) -> [ImageReference] { [] }
    public func imageLocations() throws(BindFailure) -> [ImageReference: SourceLocation] { [:] }
    public func bind(images: [ImageReference: ResolvedImage]) throws(BindFailure) -> BoundPlan {
        throw BindFailure(diagnostics: [])
    }
}
