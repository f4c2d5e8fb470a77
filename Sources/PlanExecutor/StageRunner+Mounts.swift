import Foundation
import PlanCompiler
import PlanOCI
import PlanValues

/// `mounts:` of `run` steps: what they add to the step's cache key, and the sandbox mounts they become.
/// A bind mount reads its path as a copy of it would (the context beneath itself with the ignore file
/// applied, a stage's root, an image's), into a folder of the run that is removed after the step: writes
/// to an `rw` bind are discarded, as BuildKit discards them. An ssh agent is reached through a forwarding
/// socket with the mount's mode and owner.
extension StageRunner {
    /// The sandbox mounts of a step's `mounts:`, the folders made for them, and the socket `SSH_AUTH_SOCK` names.
    struct StepMounts {
        var mounts: [SandboxMount] = []
        var folders: [String] = []
        var forwarders: [SocketForwarder] = []
        var sshAuthSocket: String?

        func remove() {
            for forwarder in forwarders { forwarder.stop() }
            for folder in folders { try? FileManager.default.removeItem(atPath: folder) }
        }
    }

    /// A bind mount's path as a copy reads it: the same listing, ignore rules and sources.
    func bindCopy(_ bind: BoundBindMount) -> BoundCopy {
        BoundCopy(source: bind.source, sources: [bind.path], destination: "/", resolvedDestination: "/", chown: nil,
                  chmod: nil, exclude: [], link: false, artifact: bind.artifact)
    }

    /// The cache inputs of a step's mounts: a bind's content (the files it binds from the context; the declared
    /// artifact's tree for a stage; the manifest digest for an image), a tmpfs's size, an ssh socket's place.
    /// Nothing when the step has no mounts, so the keys of steps without them stay as they were.
    func mountInputs(_ run: BoundRun, step: BoundStep, dependencies: [String: StageResult]) async throws -> [(String, String)] {
        var items: [(String, String)] = []
        for mount in run.mounts {
            let name = "mount \(mount.target)"
            switch mount {
            case .bind(let bind):
                let source: String = switch bind.source {
                case .context: "context"
                case .stage(let stageName): "stage \(stageName)"
                case .image(let reference): "image \(reference)"
                }
                items.append((name, "bind \(source):\(bind.path) \(bind.readWrite ? "rw" : "ro")"))
                switch bind.source {
                case .context:
                    let resolved = try await copySources(bindCopy(bind), step: step, dependencies: dependencies)
                    items += try context.digests.inputs(resolved.sources, isExcluded: resolved.isExcluded)
                        .map { ("\(name) \($0.0)", $0.1) }
                case .stage(let stageName):
                    guard let result = dependencies[stageName] else { throw failure("stage `\(stageName)` did not finish") }
                    if let artifact = plan.stage(named: stageName)?.artifacts.first(where: { $0.name == bind.artifact }),
                       let tree = result.artifacts[artifact.path]
                    {
                        items.append(("\(name) artifact \(stageName).\(artifact.name)", tree.digest.description))
                    } else {
                        let resolved = try await copySources(bindCopy(bind), step: step, dependencies: dependencies)
                        items += try context.digests.inputs(resolved.sources, isExcluded: resolved.isExcluded)
                            .map { ("\(name) \($0.0)", $0.1) }
                    }
                case .image(let reference):
                    let digest = try await imageDigest(reference, step: step)
                    items.append(("\(name) image", "\(reference) \(digest)"))
                }
            case .tmpfs(let tmpfs):
                items.append((name, "tmpfs size=\(tmpfs.size.map(String.init) ?? "")"))
            case .ssh(let ssh):
                let given = options.sshAgents[ssh.id] != nil ? "given" : "absent"
                items.append((name, "ssh id=\(ssh.id) required=\(ssh.required) mode=\(Self.octal(ssh.mode)) "
                                  + "uid=\(ssh.uid) gid=\(ssh.gid) \(given)"))
            }
        }
        return items
    }

    /// The sandbox mounts of a step's `mounts:`: each bind's path copied into a folder of the run (read-only
    /// unless `rw`), tmpfs folders, and the ssh agents' sockets; a required agent that was not given fails the step.
    func mountsOfStep(_ run: BoundRun, step: BoundStep, dependencies: [String: StageResult]) async throws -> StepMounts {
        var result = StepMounts()
        do {
            for mount in run.mounts {
                switch mount {
                case .bind(let bind):
                    let folder = context.runDirectory + "/binds/" + UUID().uuidString
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                    result.folders.append(folder)
                    let resolved = try await copySources(bindCopy(bind), step: step, dependencies: dependencies)
                    var copier = FileCopier()
                    copier.isExcluded = resolved.isExcluded
                    var bound = folder
                    do {
                        try copier.copy(resolved.sources, to: "/", in: folder)
                    } catch {
                        throw failure("cannot bind `\(bind.path)`: \(error)", step: step.description, location: step.location)
                    }
                    if let only = resolved.sources.first, resolved.sources.count == 1 {
                        var info = stat()
                        if lstat(only.host, &info) == 0, info.st_mode & S_IFMT != S_IFDIR {
                            bound = folder + "/" + (only.host as NSString).lastPathComponent
                        }
                    }
                    result.mounts.append(SandboxMount(source: bound, target: bind.target, readOnly: !bind.readWrite))
                case .tmpfs(let tmpfs):
                    result.mounts.append(SandboxMount(source: "tmpfs", target: tmpfs.target, readOnly: false,
                                                      kind: .tmpfs(size: tmpfs.size)))
                case .ssh(let ssh):
                    guard let socket = options.sshAgents[ssh.id] else {
                        if ssh.required {
                            throw failure("ssh agent `\(ssh.id)` is required but was not given (--ssh \(ssh.id)=SOCKET)",
                                          step: step.description, location: step.location)
                        }
                        continue
                    }
                    // A socket of the run that forwards to the agent, with BuildKit's mode and owner.
                    // In a short mkdtemp folder (0700): a socket's path must fit in 108 bytes, the run directory's may not.
                    var template = Array("/tmp/plan-ssh-XXXXXX".utf8CString)
                    guard template.withUnsafeMutableBufferPointer({ $0.baseAddress.map { mkdtemp($0) != nil } ?? false }) else {
                        throw failure("cannot create a folder for ssh agent `\(ssh.id)` in /tmp: \(String(cString: strerror(errno)))",
                                      step: step.description, location: step.location)
                    }
                    let folder = String(cString: template)
                    result.folders.append(folder)
                    let forwarder: SocketForwarder
                    do {
                        forwarder = try SocketForwarder(path: folder + "/agent", agent: socket, mode: ssh.mode, uid: ssh.uid,
                                                        gid: ssh.gid)
                    } catch {
                        throw failure("cannot forward ssh agent `\(ssh.id)`: \(error)", step: step.description, location: step.location)
                    }
                    result.forwarders.append(forwarder)
                    result.mounts.append(SandboxMount(source: forwarder.path, target: ssh.target, readOnly: false))
                    if result.sshAuthSocket == nil { result.sshAuthSocket = ssh.target }
                }
            }
        } catch {
            result.remove()
            throw error
        }
        return result
    }
}
