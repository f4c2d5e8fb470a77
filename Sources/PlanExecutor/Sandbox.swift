import Foundation
import NIOConcurrencyHelpers

/// Runs one process inside a root filesystem, isolated from the host. Which implementation a run uses
/// (`RuncSandbox` as root, `BubblewrapSandbox` without) is the caller's decision: it is handed to the
/// executor in `RunOptions.sandbox`, never picked below the command line.
public protocol Sandbox: Sendable {
    /// Runs `request` and returns its exit status (128+signal when killed), streaming its combined
    /// output to `output`. Cancelling the task kills everything the request started, and returns only
    /// once it is gone.
    func run(_ request: SandboxRequest, output: @escaping @Sendable (Data) -> Void) async throws -> Int32

    /// What a process run with `request` lacks here that the user should hear of (a network without
    /// outbound access), or nil. The executor says each such sentence once.
    func limitation(of request: SandboxRequest) -> String?
}

/// A mount into a sandbox: a host path bound at a path inside the root filesystem, or a fresh tmpfs there.
public struct SandboxMount: Hashable, Sendable {
    /// What is mounted.
    public enum Kind: Hashable, Sendable {
        /// `source`, bound.
        case bind
        /// An empty in-memory folder of at most `size` bytes (nil: the kernel's default, half the memory); `source` is unused.
        case tmpfs(size: UInt64?)
    }

    public var source: String
    public var target: String
    public var readOnly: Bool
    public var kind: Kind

    public init(source: String, target: String, readOnly: Bool, kind: Kind = .bind) {
        self.source = source
        self.target = target
        self.readOnly = readOnly
        self.kind = kind
    }
}

/// One process to run inside a root filesystem.
public struct SandboxRequest: Sendable {
    public var rootfs: String
    public var arguments: [String]
    /// `NAME=value`, exactly the process's environment.
    public var environment: [String]
    public var workingDirectory: String
    public var user: ResolvedUser
    public var network: SandboxNetwork
    public var mounts: [SandboxMount]
    public var hostname: String
    /// A folder of the run for the sandbox's own files (runc's state and bundles, bubblewrap's argument
    /// files), made 0700 when missing; the run directory holds it and removes it with the run.
    public var stateDirectory: String

    public init(rootfs: String, arguments: [String], environment: [String], workingDirectory: String,
                user: ResolvedUser, network: SandboxNetwork = .default, mounts: [SandboxMount] = [], hostname: String = "plan",
                stateDirectory: String) {
        self.stateDirectory = stateDirectory
        self.rootfs = rootfs
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
        self.network = network
        self.mounts = mounts
        self.hostname = hostname
    }
}

/// A step's network (`network:`).
public enum SandboxNetwork: String, Sendable {
    /// A network namespace of its own with outbound access (slirp4netns) that cannot reach the host's
    /// loopback; loopback only where slirp4netns is missing.
    case `default`
    /// A network namespace of its own with only loopback.
    case none
    /// The host's network (explicit opt-in).
    case host
}

public enum SandboxError: Error, CustomStringConvertible {
    case cannotStart(String)

    public var description: String {
        switch self {
        case .cannotStart(let why): "cannot start the sandbox: \(why)"
        }
    }
}

/// Mount points of sandboxes (`RuncSandbox`, `BubblewrapSandbox`): the ones a step's root lacks are
/// made before it runs and removed after, so they never reach a layer.
public struct NamespaceSandbox: Sendable {
    public init() {}

    /// Creates missing mount points inside the root (see `MountPointStubs`), for `removeStubs`.
    static func createStubs(_ request: SandboxRequest) throws -> MountPointStubs { try MountPointStubs(request) }

    static func removeStubs(_ stubs: MountPointStubs) { stubs.remove() }
}

/// Notices a run gives once, however many steps they concern.
enum SandboxNotice {
    private static let given = NIOLockedValueBox<Set<String>>([])

    /// True the first time it is asked for `name` in this process.
    static func once(_ name: String) -> Bool {
        given.withLockedValue { $0.insert(name).inserted }
    }
}
