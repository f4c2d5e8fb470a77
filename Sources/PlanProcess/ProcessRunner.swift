import Foundation

/// Runs a host process in a process group of its own, streaming its combined output.
///
/// posix_spawn and waitpid, not Foundation's `Process` (which was seen to hang under many concurrent
/// spawns). Cancelling the task kills the whole group — the sandbox and everything it started — and
/// returns only once the group is gone, so nothing outlives a stopped run. The blocking `read` and
/// `waitpid` happen on Dispatch threads; the calling task only awaits them.
public enum ProcessRunner {
    /// The process could not be started: no pipe for its output, or posix_spawn failed.
    public struct StartFailure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Runs `executable` with `arguments` and exactly `environment`, its stdin read from the file `stdin`
    /// (or /dev/null), its stdout and stderr handed to `output` as they come (on another thread).
    /// - Returns: the exit status, or 128 + the signal that ended it.
    public static func run(executable: String, arguments: [String], stdin: String? = nil, environment: [String: String],
                           output: @escaping @Sendable (Data) -> Void) async throws(StartFailure) -> Int32 {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw StartFailure(description: String(cString: strerror(errno))) }
        // Only the child's stdout and stderr (dup2 clears the flag there) keep the write end.
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        let child: pid_t
        do {
            child = try Spawn.start(executable, arguments, environment: environment, stdin: stdin, stdout: .descriptor(fds[1]),
                                    stderr: .descriptor(fds[1]), newProcessGroup: true, closeOtherDescriptors: true)
        } catch {
            close(fds[0])
            close(fds[1])
            throw StartFailure(description: "\(error)")
        }
        close(fds[1])
        let readFD = fds[0]
        // Resumed by the reader once the pipe is at its end (every process holding the write end is gone).
        async let drained: Void = withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                drain(readFD, into: output)
                continuation.resume()
            }
        }
        let status: Int32 = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async { continuation.resume(returning: Spawn.wait(child)) }
            }
        } onCancel: {
            kill(-child, SIGKILL)
        }
        if Task.isCancelled {
            // Everything in the group goes, and is gone before we return. The polling runs in a task of
            // its own: in this cancelled one, `Task.sleep` would return at once.
            await Task.detached {
                for _ in 0..<1_000 {  // up to 10 s: tearing down a sandbox's namespaces can take a while
                    if kill(-child, SIGKILL) != 0, errno == ESRCH { break }
                    try? await Task.sleep(for: .milliseconds(10))
                }
            }.value
        }
        await drained
        return status
    }

    /// Reads `fd` to its end, handing each chunk to `output`, then closes it.
    private static func drain(_ fd: Int32, into output: @Sendable (Data) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                output(Data(buffer[0..<count]))
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        close(fd)
    }
}
