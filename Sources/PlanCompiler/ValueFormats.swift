import Foundation
import PlanDiagnostics
import PlanValues

/// Validators for the small value languages inside a plan: ports, modes, durations, platforms,
/// image references, checksums, URLs, signals and users. Each returns nil when valid, or the problem.
public enum ValueFormats {
    static func matches(_ text: String, _ pattern: String) -> Bool {
        RegexCache.matches(text, "^(?:" + pattern + ")$")
    }

    /// `80`, `80/tcp`, `53/udp`, `8000-8010/tcp`: ``Port``.
    public static func portProblem(_ text: String) -> String? {
        do throws(PortError) {
            _ = try Port(parsing: text)
            return nil
        } catch {
            return error.problem
        }
    }

    /// A tmpfs size as BuildKit reads `size=` (Docker's RAMInBytes): bytes, or a number with a binary unit
    /// (`64m`, `1.5g`, `512KiB`). Nil when it is not one, or does not fit in 64 bits.
    public static func sizeBytes(_ text: String) -> UInt64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard matches(trimmed, "[0-9]+(\\.[0-9]+)? ?([kKmMgGtTpP][iI]?)?[bB]?") else { return nil }
        var number = ""
        var rest = Substring(trimmed)
        while let first = rest.first, first.isNumber || first == "." {
            number.append(first)
            rest = rest.dropFirst()
        }
        let unit = rest.trimmingCharacters(in: .whitespaces).lowercased().first
        let power: Double = switch unit {
        case "k": 10
        case "m": 20
        case "g": 30
        case "t": 40
        case "p": 50
        default: 0
        }
        let shift = pow(2, power)
        guard let value = Double(number) else { return nil }
        let bytes = (value * shift).rounded(.down)
        guard bytes < 18_446_744_073_709_551_616 else { return nil }
        return UInt64(bytes)
    }

    /// Octal modes like `755` or `0644`: ``FileMode``.
    public static func chmodProblem(_ text: String) -> String? {
        do throws(FileModeError) {
            _ = try FileMode(parsing: text)
            return nil
        } catch {
            return error.problem
        }
    }

    /// Go durations as Docker's HEALTHCHECK reads them (`30s`, `1m30s`, `500ms`): ``GoDuration/healthcheck(_:)``.
    public static func durationProblem(_ text: String) -> String? {
        do throws(DurationError) {
            _ = try GoDuration.healthcheck(text)
            return nil
        } catch {
            return error.problem
        }
    }

    /// `os/arch[/variant]` (or an architecture alone): ``Platform/init(parsing:)``.
    public static func platformProblem(_ text: String) -> String? {
        do throws(PlatformError) {
            _ = try Platform(parsing: text)
            return nil
        } catch {
            switch error.reason {
            case .malformed: return "a platform is os/arch or os/arch/variant, like linux/arm64"
            case .unknownOperatingSystem(let os): return error.problem + hint(os, Platform.knownOperatingSystems)
            case .unknownArchitecture(let arch): return error.problem + hint(arch, Platform.knownArchitectures)
            case .invalidVariant: return error.problem
            }
        }
    }

    private static func hint(_ name: String, _ candidates: [String]) -> String {
        if let close = Suggestion.closest(to: name, in: candidates) { return " (did you mean `\(close)`?)" }
        return ""
    }

    /// Docker image references, `[host[:port]/]path[:tag][@digest]`: ``ImageReference/init(parsing:)``'s error,
    /// whose offset (in characters) says where the problem is.
    public static func imageReferenceError(_ text: String) -> ImageReferenceError? {
        do throws(ImageReferenceError) {
            _ = try ImageReference(parsing: text)
            return nil
        } catch {
            return error
        }
    }

    /// The problem with an image reference, without its column.
    public static func imageReferenceProblem(_ text: String) -> String? {
        imageReferenceError(text)?.problem
    }

    /// `sha256:` and 64 lowercase hex digits.
    public static func checksumProblem(_ text: String) -> String? {
        (try? Digest(parsing: text))?.algorithm == "sha256" ? nil : "a checksum is `sha256:` followed by 64 lowercase hex digits"
    }

    public static func urlProblem(_ text: String) -> String? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              url.host != nil
        else { return "`add` downloads http:// or https:// URLs; copy local files with `copy`" }
        return nil
    }

    /// `SIGTERM`, `TERM`, `15` or `SIGRTMIN+3`: ``StopSignal``.
    public static func signalProblem(_ text: String) -> String? {
        do throws(StopSignalError) {
            _ = try StopSignal(parsing: text)
            return nil
        } catch {
            let hint = error.canonical.map { Self.hint($0, StopSignal.names) } ?? ""
            return "`\(text)` is not a signal\(hint)"
        }
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
