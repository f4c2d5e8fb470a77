import Foundation
import NIOConcurrencyHelpers
import PlanProcess

#if canImport(Glibc)
import Glibc
#endif

/// The client side of the docker-credential-helpers protocol, `get` only: `docker-credential-NAME get`
/// reads a server URL on stdin and prints `{"ServerURL":…,"Username":…,"Secret":…}`; it exits non-zero
/// with `credentials not found in native keychain` on stdout when it has none.
enum CredentialHelper {
    /// What a helper prints when it has no credential for the server.
    static let notFound = "credentials not found in native keychain"

    /// The program of a helper name: `docker-credential-NAME`.
    static func program(_ name: String) -> String { "docker-credential-\(name)" }

    /// The server URL a helper is asked about, as Docker asks: `https://index.docker.io/v1/` for
    /// Docker Hub, else the registry's `host[:port]`.
    static func serverURL(for registry: String) -> String {
        RegistryCredentials.normalizeKey(registry) == ImageReference.dockerHub ? "https://index.docker.io/v1/" : registry
    }

    /// Runs `docker-credential-NAME get` (found on `environment`'s `PATH`) for `serverURL`, killing it
    /// after `timeout`: the credential, or nil when the helper has none (or answers an empty one).
    static func get(
        _ name: String, serverURL: String, environment: [String: String], timeout: Duration
    ) async throws(RegistryError) -> RegistryCredential? {
        let program = program(name)
        func failure(_ why: String) -> RegistryError { .credentials(program, "for \(serverURL): \(why)") }
        guard !name.isEmpty, !name.contains("/") else { throw failure("\"\(name)\" is not a credential helper name") }
        guard let path = find(program, in: environment["PATH"] ?? "") else {
            throw failure("the helper is not on PATH (\(environment["PATH"] ?? "PATH is not set"))")
        }
        let result: Output
        do {
            result = try await run(path, input: serverURL + "\n", environment: environment, timeout: timeout)
        } catch let error as RegistryError {
            throw error
        } catch is CancellationError {
            throw failure("cancelled")
        } catch {
            throw failure("cannot run \(path): \(error)")
        }
        let stdout = String(decoding: result.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let stderr = String(decoding: result.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if result.timedOut { throw failure("no answer within \(timeout.components.seconds) s; the helper was killed") }
        guard result.status == 0 else {
            if stdout.contains(notFound) { return nil }
            let said = stdout.isEmpty ? stderr : stdout
            throw failure("the helper exited with status \(result.status)" + (said.isEmpty ? "" : ": \(excerpt(said))"))
        }
        struct Answer: Decodable {
            var ServerURL: String?
            var Username: String?
            var Secret: String?
        }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(stdout.utf8)), answer.Username != nil || answer.Secret != nil else {
            throw failure("the helper printed something other than {\"Username\",\"Secret\"} JSON: "
                + (stdout.isEmpty ? "nothing" : excerpt(stdout)))
        }
        let username = answer.Username ?? ""
        let secret = answer.Secret ?? ""
        if username.isEmpty && secret.isEmpty { return nil }
        // The protocol's way of saying "the secret is an identity token" (an OAuth2 refresh token).
        if username == "<token>" { return .identityToken(secret) }
        return RegistryCredential(username: username, password: secret)
    }

    /// Helper output in an error message: trimmed, on one line, at most 200 characters.
    static func excerpt(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return line.count > 200 ? String(line.prefix(200)) + "…" : line
    }

    /// The first executable `program` in the directories of a `PATH` value.
    static func find(_ program: String, in searchPath: String) -> String? {
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: true) {
            let candidate = "\(directory)/\(program)"
            var info = stat()
            if stat(candidate, &info) == 0, (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFREG), access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    struct Output {
        var status: Int32
        var stdout: Data
        var stderr: Data
        var timedOut: Bool
    }

    /// Runs `path get` in a process group of its own with `input` on stdin, collecting stdout and
    /// stderr apart (only stdout is the answer; helpers log to stderr). At `timeout`, or when the task
    /// is cancelled, the group is killed.
    static func run(_ path: String, input: String, environment: [String: String], timeout: Duration) async throws -> Output {
        let inputFile = FileManager.default.temporaryDirectory.appendingPathComponent("plan-credential-\(UUID().uuidString)").path
        guard FileManager.default.createFile(atPath: inputFile, contents: Data(input.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw RegistryError.credentials(path, "cannot write its input to \(inputFile)")
        }
        defer { unlink(inputFile) }
        var out: [Int32] = [0, 0]
        var err: [Int32] = [0, 0]
        // Close-on-exec from the start: a process another thread spawns meanwhile must not hold them.
        guard closeOnExecPipe(&out) == 0 else { throw RegistryError.credentials(path, "pipe: \(String(cString: strerror(errno)))") }
        guard closeOnExecPipe(&err) == 0 else {
            close(out[0]); close(out[1])
            throw RegistryError.credentials(path, "pipe: \(String(cString: strerror(errno)))")
        }
        let child: pid_t
        do {
            child = try Spawn.start(path, ["get"], environment: environment, stdin: inputFile, stdout: .descriptor(out[1]),
                                    stderr: .descriptor(err[1]), newProcessGroup: true, closeOtherDescriptors: true)
        } catch {
            for fd in out + err { close(fd) }
            throw error
        }
        close(out[1])
        close(err[1])
        let readers = [out[0], err[0]]
        let deadline = DispatchTime.now().uptimeNanoseconds
            + UInt64(max(0, timeout.components.seconds)) * 1_000_000_000 + UInt64(max(0, timeout.components.attoseconds / 1_000_000_000))
        let timedOut = NIOLockedValueBox(false)
        let (collected, status): ([Data], Int32) = await withTaskCancellationHandler {
            let collected: [Data] = await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(returning: collect(readers, until: deadline, onDeadline: {
                        timedOut.withLockedValue { $0 = true }
                        kill(-child, SIGKILL)
                    }))
                }
            }
            let status: Int32 = await withCheckedContinuation { continuation in
                DispatchQueue.global().async { continuation.resume(returning: Spawn.wait(child)) }
            }
            return (collected, status)
        } onCancel: {
            kill(-child, SIGKILL)
        }
        try Task.checkCancellation()
        return Output(status: status, stdout: collected[0], stderr: collected[1], timedOut: timedOut.withLockedValue { $0 })
    }

    /// A pipe whose ends are close-on-exec from the start (on Linux a socket pair: Swift's Glibc
    /// module has no `pipe2`).
    private static func closeOnExecPipe(_ fds: inout [Int32]) -> Int32 {
        #if os(Linux)
        return socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
        #else
        guard pipe(&fds) == 0 else { return -1 }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return 0
        #endif
    }

    /// Reads the descriptors until each is at its end (at most 1 MiB each), then closes them. At
    /// `deadline` (`DispatchTime` nanoseconds) `onDeadline` runs once, and reading goes on for at most
    /// another 2 s (killed processes close their ends).
    private static func collect(_ fds: [Int32], until deadline: UInt64, onDeadline: () -> Void) -> [Data] {
        var data = fds.map { _ in Data() }
        var open = Set(fds.indices)
        var end = deadline
        var passed = false
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while !open.isEmpty {
            let now = DispatchTime.now().uptimeNanoseconds
            if now >= end {
                if passed { break }
                passed = true
                onDeadline()
                end = now + 2_000_000_000
                continue
            }
            var polled = open.sorted().map { pollfd(fd: fds[$0], events: Int16(POLLIN), revents: 0) }
            let wait = Int32(min(1_000, (end - now) / 1_000_000 + 1))
            let ready = poll(&polled, nfds_t(polled.count), wait)
            if ready < 0 && errno != EINTR { break }
            guard ready > 0 else { continue }
            for (slot, index) in open.sorted().enumerated() where polled[slot].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(fds[index], $0.baseAddress, $0.count) }
                if count > 0 {
                    if data[index].count < 1 << 20 { data[index].append(contentsOf: buffer[0..<count]) }
                } else if count == 0 || errno != EINTR && errno != EAGAIN {
                    open.remove(index)
                }
            }
        }
        for fd in fds { close(fd) }
        return data
    }
}
