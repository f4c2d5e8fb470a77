import Foundation
import PlanDiagnostics

/// Validators for the small value languages inside a plan: ports, modes, durations, platforms,
/// image references, checksums, URLs, signals and users. Each returns nil when valid, or the problem.
public enum ValueFormats {
    static func matches(_ text: String, _ pattern: String) -> Bool {
        RegexCache.matches(text, "^(?:" + pattern + ")$")
    }

    /// `80`, `80/tcp`, `53/udp`, `8000-8010/tcp`.
    public static func portProblem(_ text: String) -> String? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return "a port is PORT or PORT/PROTOCOL" }
        if parts.count == 2, !["tcp", "udp", "sctp"].contains(parts[1]) {
            return "the protocol must be tcp, udp or sctp, not `\(parts[1])`"
        }
        let range = parts[0].split(separator: "-", omittingEmptySubsequences: false)
        guard range.count <= 2 else { return "a port range is LOW-HIGH" }
        var numbers: [Int] = []
        for part in range {
            guard let number = Int(part), part.allSatisfy(\.isASCII), (1...65535).contains(number) else {
                return "`\(part)` is not a port number between 1 and 65535"
            }
            numbers.append(number)
        }
        if numbers.count == 2, numbers[0] > numbers[1] { return "the range \(numbers[0])-\(numbers[1]) runs backwards" }
        return nil
    }

    /// Octal modes like `755` or `0644`.
    public static func chmodProblem(_ text: String) -> String? {
        matches(text, "0?[0-7]{3}|[0-7]{4}") ? nil : "a mode is three or four octal digits, like 755 or 0644"
    }

    /// Go durations as Docker reads them: `30s`, `1m30s`, `500ms`.
    public static func durationProblem(_ text: String) -> String? {
        matches(text, "([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+")
            ? nil : "a duration is a number with a unit, like 30s, 1m30s or 500ms"
    }

    static let operatingSystems = ["linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris", "illumos",
                                   "aix", "wasip1", "js"]
    static let architectures = ["amd64", "arm64", "arm", "386", "ppc64le", "ppc64", "s390x", "riscv64", "mips64le",
                                "mips64", "mipsle", "mips", "loong64", "wasm"]

    /// `os/arch[/variant]`.
    public static func platformProblem(_ text: String) -> String? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count) else { return "a platform is os/arch or os/arch/variant, like linux/arm64" }
        guard operatingSystems.contains(parts[0]) else {
            let hint = Self.hint(parts[0], operatingSystems)
            return "`\(parts[0])` is not an operating system\(hint)"
        }
        guard architectures.contains(parts[1]) else {
            let hint = Self.hint(parts[1], architectures)
            return "`\(parts[1])` is not an architecture\(hint)"
        }
        if parts.count == 3, !matches(parts[2], "v[0-9]+(\\.[0-9]+)?") {
            return "`\(parts[2])` is not a variant like v7 or v8"
        }
        return nil
    }

    private static func hint(_ name: String, _ candidates: [String]) -> String {
        if let close = Suggestion.closest(to: name, in: candidates) { return " (did you mean `\(close)`?)" }
        return ""
    }

    /// Docker image references: `[host[:port]/]path[:tag][@digest]`.
    public static func imageReferenceProblem(_ text: String) -> String? {
        var rest = Substring(text)
        if let at = rest.firstIndex(of: "@") {
            let digest = rest[rest.index(after: at)...]
            guard matches(String(digest), "sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}") else {
                return "the digest `\(digest)` is not sha256: followed by 64 hex digits"
            }
            rest = rest[..<at]
        }
        let components = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard let last = components.last, !last.isEmpty else { return "the reference has no image name" }
        var name = last
        if let colon = last.lastIndex(of: ":") {
            let tag = last[last.index(after: colon)...]
            guard matches(String(tag), "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}") else {
                return "the tag `\(tag)` is not valid (letters, digits, `_`, `.` and `-`, at most 128)"
            }
            name = last[..<colon]
        }
        var paths = Array(components.dropLast()) + [name]
        if paths.count > 1, let host = paths.first, host.contains(".") || host.contains(":") || host == "localhost" {
            guard matches(String(host), "[A-Za-z0-9.-]+(:[0-9]+)?|\\[[0-9a-fA-F:]+\\](:[0-9]+)?") else {
                return "`\(host)` is not a registry host"
            }
            paths.removeFirst()
        }
        for path in paths {
            guard matches(String(path), "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*") else {
                if path.contains(where: \.isUppercase) { return "image names are lowercase: `\(path)`" }
                return "`\(path)` is not a valid image name component"
            }
        }
        return nil
    }

    /// `sha256:` and 64 lowercase hex digits.
    public static func checksumProblem(_ text: String) -> String? {
        matches(text, "sha256:[a-f0-9]{64}") ? nil : "a checksum is `sha256:` followed by 64 lowercase hex digits"
    }

    public static func urlProblem(_ text: String) -> String? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              url.host != nil
        else { return "`add` downloads http:// or https:// URLs; copy local files with `copy`" }
        return nil
    }

    static let signals = ["SIGABRT", "SIGALRM", "SIGBUS", "SIGCHLD", "SIGCONT", "SIGFPE", "SIGHUP", "SIGILL",
                          "SIGINT", "SIGIO", "SIGKILL", "SIGPIPE", "SIGPROF", "SIGPWR", "SIGQUIT", "SIGSEGV",
                          "SIGSTKFLT", "SIGSTOP", "SIGSYS", "SIGTERM", "SIGTRAP", "SIGTSTP", "SIGTTIN", "SIGTTOU",
                          "SIGURG", "SIGUSR1", "SIGUSR2", "SIGVTALRM", "SIGWINCH", "SIGXCPU", "SIGXFSZ"]

    /// `SIGTERM`, `TERM`, `15` or `SIGRTMIN+3`.
    public static func signalProblem(_ text: String) -> String? {
        if let number = Int(text), (1...64).contains(number) { return nil }
        let upper = text.uppercased()
        let name = upper.hasPrefix("SIG") ? upper : "SIG" + upper
        if signals.contains(name) || matches(name, "SIGRT(MIN|MAX)([+-][0-9]+)?") { return nil }
        let hint = Self.hint(name, signals)
        return "`\(text)` is not a signal\(hint)"
    }

    /// `user`, `1000`, `user:group`, `1000:1000`.
    public static func userProblem(_ text: String) -> String? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return "a user is USER or USER:GROUP" }
        for part in parts {
            guard matches(String(part), "[0-9]+|[A-Za-z_][A-Za-z0-9_.-]*\\$?") else {
                return "`\(part)` is not a user or group name or number"
            }
        }
        return nil
    }
}
