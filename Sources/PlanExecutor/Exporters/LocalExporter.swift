import Foundation

/// `type=local`: the target's root filesystem in a host folder — replacing it, or with `merge=true`
/// written over its files, keeping the others (BuildKit's local exporter).
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
        let root = try await target.rootFilesystem()
        try writeFolder(input, merge: merge) { temporary in
            try StageRunner.copyTree(root, to: temporary)
        }
    }
}
