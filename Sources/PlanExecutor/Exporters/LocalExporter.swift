import Foundation

/// `type=local`: the target's root filesystem in a host folder — replacing it, or with `merge=true`
/// written over its files, keeping the others (BuildKit's local exporter). A run for several platforms writes
/// each platform's into a sub-folder (`linux_amd64/`, `linux_arm64/`: BuildKit's `platform-split`).
public struct LocalExporter: HostOutput {
    public var destination: String
    public var merge: Bool

    public init(destination: String, merge: Bool = false) {
        self.destination = destination
        self.merge = merge
    }

    public var typeName: String { "local" }
    public var needsOneTarget: Bool { true }
    public var writesArchive: Bool { false }
    public var merges: Bool? { merge }

    public func export(_ input: ExportInput) async throws {
        try recheck(input)
        guard let target = try input.singleTarget(for: "type=local") else { return }
        guard input.isMultiPlatform else {
            let root = try await target.rootFilesystem()
            try writeFolder(input, merge: merge) { temporary in
                try StageRunner.copyTree(root, to: temporary)
            }
            return
        }
        var roots: [(folder: String, root: String)] = []
        for build in input.builds {
            guard let built = build.targets[target.name] else { return }
            roots.append((build.folderName, try await built.rootFilesystem()))
        }
        try writeFolder(input, merge: merge) { temporary in
            for (folder, root) in roots {
                try FileManager.default.createDirectory(atPath: temporary + "/" + folder, withIntermediateDirectories: true)
                try StageRunner.copyTree(root, to: temporary + "/" + folder)
            }
        }
    }
}
