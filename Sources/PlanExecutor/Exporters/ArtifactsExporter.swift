import Foundation

/// `type=artifacts`: the declared artifacts of every built stage, as `DEST/STAGE/ARTIFACT`; replacing
/// the folder, or with `merge=true` written over its files. A run for several platforms writes
/// `DEST/PLATFORM/STAGE/ARTIFACT` (`linux_amd64/`, `linux_arm64/`: BuildKit's `platform-split`).
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
        let sets: [(folder: String, artifacts: [BuiltArtifacts])] = input.isMultiPlatform
            ? input.builds.map { ("/" + $0.folderName, $0.artifacts) } : [("", input.artifacts)]
        try writeFolder(input, merge: merge) { temporary in
            for (platformFolder, artifacts) in sets {
                for stage in artifacts {
                    let folder = temporary + platformFolder + "/" + stage.stage
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                    for artifact in stage.artifacts {
                        try artifact.write(to: folder + "/" + artifact.name)
                    }
                }
            }
        }
    }
}
