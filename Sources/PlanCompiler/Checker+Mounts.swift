import Foundation
import PlanDiagnostics
import PlanLanguage
import PlanPaths

/// `mounts:` of `run` steps: bind (the context, a stage's declared artifacts, an image), tmpfs and ssh,
/// with BuildKit's `RUN --mount` meaning and defaults.
extension Checker {
    /// The keys each mount type takes, besides `type` and `target`.
    static let mountKeys: [String: [String]] = [
        "bind": ["source", "from", "image", "rw"],
        "tmpfs": ["size"],
        "ssh": ["id", "required", "mode", "uid", "gid"],
    ]

    /// The step's mounts, checked; a mount with an error is left out.
    mutating func mountInstructions(_ run: RunStepSyntax, stage: Int, state: StepState) -> [GraphMount] {
        var mounts: [GraphMount] = []
        for mount in run.mounts {
            let type = mount.type?.value ?? "bind"
            guard let ownKeys = Self.mountKeys[type] else {
                let known = ["bind", "tmpfs", "ssh"]
                let help: String? = switch type {
                case "cache": "a cache mount is written with `cache:` on the step"
                case "secret": "a secret is written with `secrets:` on the step"
                default: Suggestion.didYouMean(type, in: known)
                }
                error(.invalidValue, "mount type `\(type)` is not one of bind, tmpfs, ssh",
                      at: mount.type?.location ?? mount.location, help: help)
                continue
            }
            var fits = true
            for (key, value) in Self.writtenKeys(mount) where !ownKeys.contains(key) {
                let owner = Self.mountKeys.filter { $0.value.contains(key) }.map(\.key).sorted().first ?? "other"
                error(.mountOptionForOtherType, "`\(key)` is an option of \(owner) mounts, not of \(type) mounts",
                      at: value,
                      help: mount.type == nil ? "a mount without `type` is a bind mount; add `type: \(owner)`, or remove `\(key)`"
                        : "remove `\(key)`, or make it a \(owner) mount")
                fits = false
            }
            let target = mount.target.map { target -> String in
                checkVariables(in: target, scope: .stage(env: state.env), stage: stage)
                checkMountPath(target)
                let checked = checkedAbsoluteOrRelative(target, what: "mount target")
                // Absolute where the workdir is known: BuildKit resolves a relative target against it, buildah refuses one.
                guard !PosixPath.isAbsolute(checked), !checked.contains("$"), let workdir = state.workdir else { return checked }
                return PosixPath.resolve(checked, against: workdir).path
            }
            if target == nil, type != "ssh" {
                error(.missingKey, "a \(type) mount needs a `target`", at: mount.location,
                      help: "add `target: PATH`, where the step sees it (absolute, or relative to the workdir)")
                fits = false
            }
            guard fits else { continue }
            switch type {
            case "bind":
                if let bind = bindMount(mount, target: target ?? "", stage: stage, state: state) { mounts.append(.bind(bind)) }
            case "tmpfs":
                var size: UInt64?
                if let written = mount.size {
                    size = ValueFormats.sizeBytes(written.value)
                    if size == nil {
                        error(.malformedSize, "malformed size `\(written.value)`: not bytes or a number with a unit",
                              at: written.location, help: "write bytes (`67108864`) or a number with k, m or g (`64m`)")
                        continue
                    }
                }
                mounts.append(.tmpfs(target: target ?? "", size: size))
            default:
                mounts.append(.ssh(sshMount(mount, target: target)))
            }
        }
        return mounts
    }

    /// The keys written on a mount (other than `type` and `target`), with where.
    static func writtenKeys(_ mount: MountSyntax) -> [(String, SourceLocation)] {
        let keys: [(String, SourceLocation?)] = [
            ("source", mount.source?.location), ("from", mount.from?.location), ("image", mount.image?.location),
            ("rw", mount.rw?.location), ("size", mount.size?.location), ("id", mount.id?.location),
            ("required", mount.required?.location), ("mode", mount.mode?.location), ("uid", mount.uid?.location),
            ("gid", mount.gid?.location),
        ]
        return keys.compactMap { key, location in location.map { (key, $0) } }
    }

    /// A mount's paths go into one `--mount=` flag: no comma, quote or white space (BuildKit reads the flag as CSV,
    /// the Dockerfile splits flags at white space).
    @discardableResult
    mutating func checkMountPath(_ path: Located<String>) -> Bool {
        guard let bad = path.value.unicodeScalars.first(where: { $0 == "," || $0 == "\"" || $0 == "'"
            || CharacterSet.whitespacesAndNewlines.contains($0) })
        else { return true }
        let shown = bad == " " ? "a space" : CharacterSet.whitespacesAndNewlines.contains(bad) ? "white space" : "`\(bad)`"
        error(.malformedPath, "a mount path cannot hold \(shown): `\(path.value)`", at: path.location,
              help: "rename the path, or bind the folder that holds it")
        return false
    }

    mutating func bindMount(_ mount: MountSyntax, target: String, stage: Int, state: StepState) -> GraphBindMount? {
        if let source = mount.source, !checkMountPath(source) { return nil }
        let readWrite = mount.rw?.value ?? false
        if let from = mount.from {
            guard let sourceStage = stageIndex[from.value] else { return nil }  // reported with the dependencies
            let path = mount.source ?? Located("/", at: from.location)
            guard let checked = artifactPath(path, in: sourceStage, what: "bound") else { return nil }
            if PosixPath.hasGlob(checked.absolute) {
                error(.malformedPath, "a bind mount's `source` is one path, not a pattern", at: path.location)
                return nil
            }
            return GraphBindMount(source: .stage(from.value), path: checked.absolute, target: target, readWrite: readWrite,
                                  artifact: checked.artifact)
        }
        if let image = mount.image {
            checkVariables(in: image, scope: .stage(env: state.env), stage: stage)
            checkImageReference(image)
            var path = "/"
            if let source = mount.source {
                checkVariables(in: source, scope: .stage(env: state.env), stage: stage)
                let resolved = PosixPath.resolve(source.value, against: "/")
                if resolved.climbsOut {
                    error(.pathClimbsOut, "`\(source.value)` climbs above the image's root with `..`", at: source.location)
                    return nil
                }
                path = source.value.contains("$") ? source.value : resolved.path
            }
            return GraphBindMount(source: .image(image.value), path: path, target: target, readWrite: readWrite, artifact: nil)
        }
        var path = "."
        if let source = mount.source {
            checkVariables(in: source, scope: .stage(env: state.env), stage: stage)
            var relative = source.value
            while relative.hasPrefix("/") { relative.removeFirst() }
            let normalized = PosixPath.normalize(relative)
            if normalized.climbsOut {
                error(.pathClimbsOut, "`\(source.value)` climbs out of the build context with `..`", at: source.location,
                      help: "the build can only read files inside the context; move the file in, or widen `context:`")
                return nil
            }
            if PosixPath.hasGlob(normalized.path) {
                error(.malformedPath, "a bind mount's `source` is one path, not a pattern", at: source.location)
                return nil
            }
            _ = checkContextPath(source, normalized: normalized.path)
            path = normalized.path.isEmpty ? "." : normalized.path
        }
        return GraphBindMount(source: .context, path: path, target: target, readWrite: readWrite, artifact: nil)
    }

    mutating func sshMount(_ mount: MountSyntax, target: String?) -> GraphSSHMount {
        if let id = mount.id, !Self.matches(id.value, "^[A-Za-z0-9_.-]+$") {
            error(.badName, "ssh id `\(id.value)` may hold only letters, digits, `_`, `.` and `-`", at: id.location)
        }
        if let mode = mount.mode { checkFormat(mode, ValueFormats.chmodProblem, .malformedChmod, "mode") }
        for (name, value) in [("uid", mount.uid), ("gid", mount.gid)] {
            guard let value, !Self.matches(value.value, "^[0-9]{1,9}$") else { continue }
            error(.malformedUser, "malformed \(name) `\(value.value)`: a number is expected", at: value.location,
                  help: "write the numeric id, like `\(name): 1000`")
        }
        return GraphSSHMount(id: mount.id?.value ?? "default", target: target, required: mount.required?.value,
                             mode: mount.mode?.value, uid: mount.uid?.value, gid: mount.gid?.value)
    }

    /// E0116: two mounts of one step (cache, secret files, `mounts`) at one target; the second is reported.
    mutating func checkMountTargets(_ run: RunStepSyntax, mounts: [GraphMount], state: StepState) {
        var written: [(Located<String>, String)] = []
        for cache in run.cache { written.append((cache.target, "cache mount")) }
        for secret in run.secrets {
            if let target = secret.target {
                written.append((target, "secret"))
            } else if secret.env == nil {
                written.append((Located("/run/secrets/\(secret.id.value)", at: secret.location), "secret"))
            }
        }
        for mount in run.mounts {
            if let target = mount.target { written.append((target, "\(mount.type?.value ?? "bind") mount")) }
        }
        var seen: [String: (SourceLocation, String)] = [:]
        for (target, what) in written where !target.value.contains("$") {
            var path = target.value
            if !PosixPath.isAbsolute(path) {
                guard let workdir = state.workdir, !workdir.contains("$") else { continue }
                path = PosixPath.resolve(path, against: workdir).path
            }
            path = PosixPath.normalize(path).path
            if let first = seen[path] {
                error(.duplicateMountTarget, "a \(what) at `\(path)`, where this step already mounts a \(first.1)",
                      at: target.location, notes: [.init("first mounted here", at: first.0)],
                      help: "give each mount of the step its own `target`")
            } else {
                seen[path] = (target.location, what)
            }
        }
    }
}
