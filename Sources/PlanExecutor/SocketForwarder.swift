import Foundation

/// A unix socket that forwards each connection to another one: a step's view of an ssh agent (`--ssh`),
/// with the mode and owner BuildKit gives it, while the agent's own socket stays as it is. One thread
/// accepts; each connection is relayed by a thread of its own until either side closes it.
final class SocketForwarder: Sendable {
    /// Where the forwarding socket is (the sandbox binds it at the mount's target).
    let path: String
    private let listener: Int32

    enum Failure: Error, CustomStringConvertible {
        case system(String, Int32)
        var description: String {
            switch self {
            case .system(let what, let code): "\(what): \(String(cString: strerror(code)))"
            }
        }
    }

    /// Listens at `path` (mode `mode`; owned by `uid`:`gid` where this process may give it away) and
    /// forwards to `agent`.
    init(path: String, agent: String, mode: UInt32, uid: UInt32, gid: UInt32) throws {
        self.path = path
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw Failure.system("socket", errno) }
        guard Self.withAddress(path, { bind(listener, $0, $1) }) == 0 else {
            let code = errno
            Glibc.close(listener)
            throw Failure.system("cannot listen at \(path)", code)
        }
        chmod(path, mode_t(mode))
        if geteuid() == 0 { _ = chown(path, uid, gid) }
        guard listen(listener, 16) == 0 else {
            let code = errno
            Glibc.close(listener)
            throw Failure.system("listen at \(path)", code)
        }
        self.listener = listener
        Thread.detachNewThread {
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    return  // shut down
                }
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                let upstream = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                guard upstream >= 0, Self.withAddress(agent, { connect(upstream, $0, $1) }) == 0 else {
                    if upstream >= 0 { Glibc.close(upstream) }
                    Glibc.close(client)
                    continue
                }
                Thread.detachNewThread { Self.relay(client, upstream) }
            }
        }
    }

    /// Stops accepting and removes the socket; connections in progress end when their sides close.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
        unlink(path)
    }

    /// `body` with `path` as a `sockaddr_un`; -1 (ENAMETOOLONG) when the path does not fit.
    static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            errno = ENAMETOOLONG
            return -1
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// Copies bytes both ways until both directions are finished, then closes both.
    static func relay(_ a: Int32, _ b: Int32) {
        var open = [true, true]  // a → b, b → a
        var buffer = [UInt8](repeating: 0, count: 65536)
        while open[0] || open[1] {
            var fds = [pollfd(fd: open[0] ? a : -1, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: open[1] ? b : -1, events: Int16(POLLIN), revents: 0)]
            guard poll(&fds, 2, -1) >= 0 else {
                if errno == EINTR { continue }
                break
            }
            for (index, (from, to)) in [(a, b), (b, a)].enumerated() where open[index] && fds[index].revents != 0 {
                let count = read(from, &buffer, buffer.count)
                if count <= 0 {
                    if count < 0, errno == EINTR { continue }
                    open[index] = false
                    shutdown(to, Int32(SHUT_WR))
                    continue
                }
                var written = 0
                while written < count {
                    let result = buffer[written..<count].withUnsafeBytes { write(to, $0.baseAddress, count - written) }
                    if result < 0, errno == EINTR { continue }
                    guard result > 0 else {
                        open = [false, false]
                        break
                    }
                    written += result
                }
            }
        }
        Glibc.close(a)
        Glibc.close(b)
    }
}
