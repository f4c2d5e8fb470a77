/// The signal that stops a container, as `STOPSIGNAL` takes it: `SIGTERM`, `TERM`, `15` or `SIGRTMIN+3`.
/// Names are Linux's, case-insensitive, with or without `SIG`.
public enum StopSignal: Hashable, Sendable, CustomStringConvertible {
    /// A signal name, canonical: `SIGTERM`, `SIGRTMIN+3`.
    case name(String)
    /// A signal number, 1…64.
    case number(Int)

    /// Linux's signal names.
    public static let names = [
        "SIGABRT", "SIGALRM", "SIGBUS", "SIGCHLD", "SIGCONT", "SIGFPE", "SIGHUP", "SIGILL", "SIGINT", "SIGIO",
        "SIGKILL", "SIGPIPE", "SIGPROF", "SIGPWR", "SIGQUIT", "SIGSEGV", "SIGSTKFLT", "SIGSTOP", "SIGSYS",
        "SIGTERM", "SIGTRAP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGUSR1", "SIGUSR2", "SIGVTALRM",
        "SIGWINCH", "SIGXCPU", "SIGXFSZ",
    ]

    /// Parses a name (`SIGTERM`, `term`), a number (`15`) or a real-time signal (`SIGRTMIN+3`, `RTMAX-1`).
    public init(parsing text: String) throws(StopSignalError) {
        if let number = Int(text) {  // Go's strconv.Atoi, as Docker reads it: a sign is allowed
            guard (1...64).contains(number) else { throw StopSignalError(text: text, canonical: nil) }
            self = .number(number)
            return
        }
        let upper = text.uppercased()
        let name = upper.hasPrefix("SIG") ? upper : "SIG" + upper
        if Self.names.contains(name) || Self.isRealTime(name) {
            self = .name(name)
            return
        }
        throw StopSignalError(text: text, canonical: name)
    }

    /// `SIGRTMIN`, `SIGRTMAX`, optionally `+N` or `-N`.
    static func isRealTime(_ name: String) -> Bool {
        guard name.hasPrefix("SIGRTMIN") || name.hasPrefix("SIGRTMAX") else { return false }
        let rest = name.dropFirst(8)
        guard let sign = rest.first else { return true }
        let digits = rest.dropFirst()
        return (sign == "+" || sign == "-") && !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// `SIGTERM` or `15`.
    public var description: String {
        switch self {
        case .name(let name): return name
        case .number(let number): return String(number)
        }
    }
}

/// A text that is not a signal.
public struct StopSignalError: Error, Hashable, Sendable, CustomStringConvertible {
    public let text: String
    /// The name it was read as (`SIGTREM`), for suggestions; nil for a number out of range.
    public let canonical: String?
    public var description: String { "invalid stop signal \"\(text)\"" }
}
