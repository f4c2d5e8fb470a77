import Foundation

/// Finished stages' root filesystems, put together (read-only) the first time something needs to
/// read one: a copy from the stage, an artifact, a `local` output. The mounts go with the run folder
/// (`RunDirectory.remove`).
actor StageViews {
    let stacks: LayerStacks
    private var roots: [String: String] = [:]

    init(stacks: LayerStacks) { self.stacks = stacks }

    func root(stage: String, base: String?, layers: [StepLayer]) throws -> String {
        if let known = roots[stage] { return known }
        let path: String
        if layers.isEmpty {
            path = base ?? stacks.empty
        } else {
            path = stacks.runDirectory + "/views/" + StageRunner.folderName(stage)
            if stacks.overlay {
                // Never empty: at least one layer and the base (or the empty folder) under it.
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                try stacks.mountOverlay(lowers: try stacks.lowers(base: base, layers: layers), upper: nil, at: path)
            } else {
                try stacks.materializeCopy(base: base, layers: layers, at: path)
            }
        }
        roots[stage] = path
        return path
    }
}
