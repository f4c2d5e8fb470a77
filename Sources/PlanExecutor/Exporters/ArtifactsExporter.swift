import Foundation

/// `type=artifacts`: the declared artifacts of every built stage, as `DEST/STAGE/ARTIFACT`; replacing
/// the folder, or with `merge=true` written over its files.
public struct ArtifactsExporter: HostOutput {
    public var destination: String
    public var merge: Bool

    public init(destination: String, merge: Bool = false) {
        self.destination = destination
        self.merge = merge
    }

    public var typeName: String { "artifacts" }
    /// Artifacts are every built stage's.
    public var needsOneTarget: Bool { false }
    public var writesArchive: Bool { false }
    public var merges: Bool? { merge }

    public func export(_ input: ExportInput) async throws {
        try recheck(input)
        try writeFolder(input, merge: merge) { temporary in
            for stage in input.artifacts {
                let folder = temporary + "/" + stage.stage
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                for artifact in stage.artifacts {
                    try artifact.write(to: folder + "/" + artifact.name)
                }
            }
        }
    }
}
