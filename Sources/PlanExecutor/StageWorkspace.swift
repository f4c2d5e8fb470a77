import Foundation
import PlanOCI

/// A stage's working root, one step at a time: each step that runs gets a fresh writable layer over
/// the stage's layers so far, and leaves its changes as a new layer in the cache.
///
/// Not `Sendable`: one stage's task uses it, one step at a time.
final class StageWorkspace {
    let stacks: LayerStacks
    let folder: String
    let base: String?
    /// Copy mode: the stage's private root, made on the first step that runs.
    private var copyRoot: String?

    init(stacks: LayerStacks, folder: String, base: String?) {
        self.stacks = stacks
        self.folder = folder
        self.base = base
    }

    /// Runs `body` on a root holding `layers` over the base and returns the layer of its changes
    /// (nil when it changed nothing).
    func step(_ index: Int, layers: [StepLayer], _ body: (String) async throws -> Void) async throws -> Descriptor? {
        if stacks.overlay {
            let stepFolder = folder + "/\(index)"
            let (upper, work, merged) = (stepFolder + "/upper", stepFolder + "/work", stepFolder + "/merged")
            for path in [upper, work, merged] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
            try stacks.mountOverlay(lowers: try stacks.lowers(base: base, layers: layers), upper: (upper, work), at: merged)
            do {
                try await body(merged)
            } catch {
                LayerStacks.unmount(merged)
                throw error
            }
            LayerStacks.unmount(merged)
            let layer = try stacks.cache.storeUpper(upper)
            try? FileManager.default.removeItem(atPath: stepFolder)
            return layer
        }
        let root = folder + "/root"
        if copyRoot == nil {
            try stacks.materializeCopy(base: base, layers: layers, at: root)
            copyRoot = root
        }
        let snapshot = folder + "/before"
        try? FileManager.default.removeItem(atPath: snapshot)
        try FileManager.default.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
        try StageRunner.copyTree(root, to: snapshot)
        defer { try? FileManager.default.removeItem(atPath: snapshot) }
        try await body(root)
        return try stacks.cache.storeTar { try LayerDiffer().diff(base: snapshot, changed: root, to: $0) }
    }

    /// Copy mode: a step that hit the cache after one that ran must land in the private root too.
    /// Nothing to do before the first step that runs (the root is made then) or with overlayfs.
    func applyHit(_ layer: StepLayer) throws {
        guard let copyRoot else { return }
        try stacks.cache.apply(layer.descriptor.digest, to: copyRoot)
    }
}
