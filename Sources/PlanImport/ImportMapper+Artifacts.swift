/// Artifacts that share one folder: `COPY --from=builder /out/a …` and `COPY --from=builder /out/b …` make one
/// artifact `out: /out` and copies `artifact: builder.out/a`, `artifact: builder.out/b` (docs/import.md).
extension ImportMapper {
    /// Folders a shared artifact never is: the system's own, whose other files a stage does not mean to give.
    static let systemFolders = [
        "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root", "/run",
        "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var",
    ]

    /// The folder holding `path` (`/out/a` → `/out`), `/` for a top-level path.
    static func parentFolder(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    /// Whether `path` is strictly inside `folder`.
    static func isInside(_ path: String, _ folder: String) -> Bool { path.hasPrefix(folder + "/") }

    /// Whether several artifacts directly in `folder` may become one artifact of it: not `/`, not a system
    /// folder or one inside it, not a working folder of any stage (that is the whole project), and fixed.
    func mayShare(_ folder: String, workdirs: Set<String>) -> Bool {
        if folder == "/" || folder.contains("$") || Self.isGlob(folder) || workdirs.contains(folder) { return false }
        return !Self.systemFolders.contains { folder == $0 || Self.isInside(folder, $0) }
    }

    /// The absolute working folders the plan sets, at stage level or in steps.
    var absoluteWorkdirs: Set<String> {
        var folders = Set<String>()
        for stage in stages {
            var fields = stage.steps.flatMap(\.fields).filter { $0.key == "workdir" }
            if let workdir = stage.workdir { fields.append(workdir) }
            for field in fields {
                if case .string(let value) = field.value, value.hasPrefix("/") { folders.insert(Self.normalize(value)) }
            }
        }
        return folders
    }

    /// Declares one artifact for a folder two or more artifacts of a stage sit directly in (where ``mayShare(_:workdirs:)``),
    /// then folds every artifact strictly inside another of its stage into it: copies of it become
    /// `artifact: STAGE.FOLDER/SUBPATH`, which compiles to the same COPY.
    mutating func shareArtifactFolders() {
        let workdirs = absoluteWorkdirs
        for source in stages.indices {
            let artifacts = stages[source].artifacts
            guard artifacts.count > 1 else { continue }
            var children: [String: Int] = [:]
            for artifact in artifacts { children[Self.parentFolder(artifact.path), default: 0] += 1 }
            let shared = children.filter { $0.value > 1 && mayShare($0.key, workdirs: workdirs) }.keys.sorted()
            for folder in shared where !stages[source].artifacts.contains(where: { $0.path == folder }) {
                // Declared where its first member was, so the artifacts keep their order.
                let position = stages[source].artifacts.firstIndex { Self.parentFolder($0.path) == folder } ?? 0
                _ = artifact(in: source, path: folder)
                if let added = stages[source].artifacts.popLast() { stages[source].artifacts.insert(added, at: position) }
            }
            foldNestedArtifacts(of: source)
        }
    }

    /// Removes each artifact of `source` strictly inside another (the outermost), pointing its copies into that one.
    mutating func foldNestedArtifacts(of source: Int) {
        let artifacts = stages[source].artifacts
        let stageName = stages[source].name
        var renamed: [String: String] = [:]
        for inner in artifacts {
            guard let outer = artifacts.filter({ Self.isInside(inner.path, $0.path) }).min(by: { $0.path.count < $1.path.count }) else {
                continue
            }
            let subpath = String(inner.path.dropFirst(outer.path.count + 1))
            renamed[stageName + "." + inner.name] = stageName + "." + outer.name + "/" + subpath
        }
        guard !renamed.isEmpty else { return }
        stages[source].artifacts.removeAll { renamed[stageName + "." + $0.name] != nil }
        for stage in stages.indices {
            for step in stages[stage].steps.indices {
                for field in stages[stage].steps[step].fields.indices {
                    let item = stages[stage].steps[step].fields[field]
                    if item.key == "artifact", case .string(let reference) = item.value, let target = renamed[reference] {
                        stages[stage].steps[step].fields[field].value = .string(target)
                    }
                }
            }
        }
    }
}
