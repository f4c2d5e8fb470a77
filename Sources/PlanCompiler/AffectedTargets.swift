import Foundation
import PlanPaths

/// Which targets a change touches: the targets whose stages copy (or bind mount) a changed context file, directly or
/// through the artifacts of the stages they use; every target when a plan file itself changed.
public struct AffectedTargets: Sendable {
    /// The checked plan whose targets are considered.
    public var graph: BuildGraph

    /// Answers for `graph`'s targets.
    public init(graph: BuildGraph) {
        self.graph = graph
    }

    /// - Parameters:
    ///   - changedContextPaths: changed files, relative to the build context.
    ///   - planChanged: a plan file (or an included one) changed.
    /// - Returns: the affected targets, in the plan's target order.
    public func targets(changedContextPaths: [String], planChanged: Bool) -> [String] {
        if planChanged { return graph.targets }
        let ignore = IgnoreMatcher(graph.ignore)
        let changed = changedContextPaths.map { PosixPath.normalize($0).path }.filter { !ignore.isExcluded($0) }
        var affected = Set<String>()
        // Stages are in dependency order, so one pass propagates through every chain.
        for stage in graph.stages {
            var hit = stage.dependencies.contains { affected.contains($0) }
            if !hit {
                hit = stage.instructions.contains { instruction in
                    switch instruction {
                    case .copy(let copy) where copy.source == .context:
                        return copy.sources.contains { source in changed.contains { Self.covers(source, $0) } }
                    case .run(let run):
                        // A bind mount of the context reads its path as a copy of it would.
                        return run.mounts.contains { mount in
                            guard case .bind(let bind) = mount, bind.source == .context else { return false }
                            return changed.contains { Self.covers(bind.path, $0) }
                        }
                    default:
                        return false
                    }
                }
            }
            if hit { affected.insert(stage.name) }
        }
        return graph.targets.filter { affected.contains($0) }
    }

    /// True when copying `source` (a context path, folder or glob) takes `path` along.
    static func covers(_ source: String, _ path: String) -> Bool {
        let normalized = PosixPath.normalize(source).path
        if normalized == "." { return true }
        if !PosixPath.hasGlob(normalized) { return PosixPath.isInside(path, normalized) }
        // A glob covers what it matches, and everything inside a folder it matches.
        let components = path.split(separator: "/").map(String.init)
        for count in 1...max(1, components.count) {
            let candidate = components.prefix(count).joined(separator: "/")
            if fnmatch(normalized, candidate, FNM_PATHNAME) == 0 { return true }
        }
        return false
    }
}
