#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The platform an image runs on: OS, CPU architecture and variant (as in an image index).
public struct Platform: Hashable, Sendable, Codable, CustomStringConvertible {
    /// CPU architecture in Go's spelling: `amd64`, `arm64`, `arm`, `386`, `ppc64le`, `s390x`, `riscv64`, …
    public var architecture: String
    /// Operating system in Go's spelling: `linux`, `windows`, …
    public var os: String
    /// CPU variant, e.g. `v7` for arm, `v8` for arm64.
    public var variant: String?
    /// OS version (Windows).
    public var osVersion: String?
    /// Required OS features (Windows).
    public var osFeatures: [String]?

    enum CodingKeys: String, CodingKey {
        case architecture, os, variant
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    /// Makes a platform. Nothing is normalised here; see ``normalized``.
    public init(os: String = "linux", architecture: String, variant: String? = nil, osVersion: String? = nil, osFeatures: [String]? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
        self.osVersion = osVersion
        self.osFeatures = osFeatures
    }

    /// Parses `os/arch[/variant]`, e.g. `linux/arm64/v8`, or just `arch` (OS linux), normalised. The OS and the
    /// architecture must be ones Go knows (after aliases like `x86_64` are resolved), as containerd's
    /// `platforms.Parse` requires; a variant is `v` and a version, like `v7` or `v8.2`.
    public init(parsing text: String) throws(PlatformError) {
        func fail(_ reason: PlatformError.Reason) -> PlatformError { PlatformError(text: text, reason: reason) }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !parts.contains(where: \.isEmpty), (1...3).contains(parts.count) else { throw fail(.malformed) }
        guard parts.allSatisfy({ $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "-" } }) else {
            throw fail(.malformed)
        }
        let parsed = parts.count == 1
            ? Platform(os: "linux", architecture: parts[0])
            : Platform(os: parts[0], architecture: parts[1], variant: parts.count == 3 ? parts[2] : nil)
        let normal = parsed.normalized
        guard Self.knownOperatingSystems.contains(normal.os) else { throw fail(.unknownOperatingSystem(parts[0])) }
        guard Self.knownArchitectures.contains(normal.architecture) else {
            throw fail(.unknownArchitecture(parts.count == 1 ? parts[0] : parts[1]))
        }
        if let variant = normal.variant, !Self.isVariant(variant) { throw fail(.invalidVariant(parts.count == 3 ? parts[2] : variant)) }
        self = normal
    }

    /// Go's operating systems (`GOOS`), which containerd accepts.
    public static let knownOperatingSystems = [
        "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux", "nacl", "netbsd",
        "openbsd", "plan9", "solaris", "wasip1", "windows", "zos",
    ]
    /// Go's architectures (`GOARCH`), which containerd accepts.
    public static let knownArchitectures = [
        "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "loong64", "mips", "mipsle", "mips64",
        "mips64le", "mips64p32", "mips64p32le", "ppc", "ppc64", "ppc64le", "riscv", "riscv64", "s390", "s390x",
        "sparc", "sparc64", "wasm",
    ]

    /// The architectures Docker builds Linux images for, with the variants each may name (after
    /// normalisation; an empty list: no variant). These are the GOOS/GOARCH pairs of Docker's official
    /// images and of BuildKit's `--platform` (amd64 micro-architecture levels v2–v4 included).
    public static let linuxImageArchitectures: [String: [String]] = [
        "amd64": ["v2", "v3", "v4"], "arm64": ["v8"], "arm": ["v5", "v6", "v7"], "386": [], "ppc64le": [],
        "s390x": [], "riscv64": [], "mips64le": [], "loong64": [],
    ]

    /// Why plan cannot build a Linux image for this (parsed, normalised) platform; nil when it can.
    /// `windows/amd64` (plan builds Linux images only), `linux/sparc`, `linux/arm64/v99` each have a reason.
    public var linuxImageProblem: String? {
        guard os == "linux" else { return "plan builds Linux images only, not `\(os)`" }
        guard let variants = Self.linuxImageArchitectures[architecture] else {
            return "`\(architecture)` is not an architecture Linux images are built for ("
                + Self.linuxImageArchitectures.keys.sorted().joined(separator: ", ") + ")"
        }
        if let variant, !variants.contains(variant) {
            return variants.isEmpty
                ? "`\(architecture)` has no variants, not `\(variant)`"
                : "`\(architecture)` has the variants \(variants.joined(separator: ", ")), not `\(variant)`"
        }
        return nil
    }

    /// Parses one entry of a list of platforms to build Linux images for: ``init(parsing:)``, then
    /// ``linuxImageProblem``. The error message is one sentence naming the text.
    public static func parseLinuxImagePlatform(_ text: String) -> Result<Platform, PlatformListError> {
        do throws(PlatformError) {
            let platform = try Platform(parsing: text)
            if let problem = platform.linuxImageProblem { return .failure(PlatformListError(text: text, problem: problem)) }
            return .success(platform)
        } catch {
            return .failure(PlatformListError(text: text, problem: error.problem))
        }
    }

    /// Parses `--platform` values: each may hold several platforms separated by commas
    /// (`linux/amd64,linux/arm64`). Duplicates (after normalisation) are dropped, the first order kept.
    public static func parseLinuxImagePlatforms(_ values: [String]) -> Result<[Platform], PlatformListError> {
        var result: [Platform] = []
        for value in values {
            let entries = value.split(separator: ",", omittingEmptySubsequences: false)
                .map { String($0.filter { $0 != " " }) }
            for entry in entries {
                switch parseLinuxImagePlatform(entry) {
                case .success(let platform): if !result.contains(platform) { result.append(platform) }
                case .failure(let error):
                    guard entry.isEmpty else { return .failure(error) }
                    return .failure(PlatformListError(
                        text: value, problem: value.isEmpty ? "no platform given" : "an empty entry in a comma-separated list"))
                }
            }
        }
        if result.isEmpty { return .failure(PlatformListError(text: "", problem: "no platform given")) }
        return .success(result)
    }

    /// `v` followed by a version: `v7`, `v8.2`.
    static func isVariant(_ text: String) -> Bool {
        guard text.hasPrefix("v") else { return false }
        let version = text.dropFirst().split(separator: ".", omittingEmptySubsequences: false)
        return (1...2).contains(version.count) && version.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }
    }

    /// The platform of the running program: `linux/amd64` on x86_64, `linux/arm64/v8` on aarch64, ….
    public static var host: Platform {
        #if os(Linux)
        let os = "linux"
        #elseif os(macOS)
        let os = "darwin"
        #else
        let os = "unknown"
        #endif
        #if arch(x86_64)
        return Platform(os: os, architecture: "amd64")
        #elseif arch(arm64)
        return Platform(os: os, architecture: "arm64", variant: "v8")
        #elseif arch(arm)
        return Platform(os: os, architecture: "arm", variant: "v7")
        #elseif arch(i386)
        return Platform(os: os, architecture: "386")
        #elseif arch(powerpc64le)
        return Platform(os: os, architecture: "ppc64le")
        #elseif arch(s390x)
        return Platform(os: os, architecture: "s390x")
        #else
        return Platform(os: os, architecture: "unknown")
        #endif
    }

    /// The platform with architecture aliases resolved (`x86_64`→`amd64`, `aarch64`→`arm64`,
    /// `armhf`→`arm/v7`, `armel`→`arm/v6`, `i386`→`386`) and the default variants made explicit
    /// (`arm64`→`v8`, `arm`→`v7`), as containerd normalises them.
    public var normalized: Platform {
        var p = self
        p.os = os.lowercased()
        let arch = architecture.lowercased()
        var variant = self.variant?.lowercased()
        switch arch {
        case "x86_64", "x86-64", "amd64":
            p.architecture = "amd64"
            if variant == "v1" { variant = nil }
        case "aarch64", "arm64":
            p.architecture = "arm64"
            if variant == nil || variant == "8" { variant = "v8" }
        case "armhf":
            p.architecture = "arm"
            variant = "v7"
        case "armel":
            p.architecture = "arm"
            variant = "v6"
        case "arm":
            p.architecture = "arm"
            switch variant {
            case nil, "7": variant = "v7"
            case "5", "6", "8": variant = "v" + (variant ?? "")
            default: break
            }
        case "i386", "i686", "386":
            p.architecture = "386"
        default:
            p.architecture = arch
        }
        p.variant = variant
        return p
    }

    /// Whether an image for `candidate` runs where `self` is wanted: same OS and architecture
    /// after normalisation, and the same variant when `self` names one.
    public func matches(_ candidate: Platform) -> Bool {
        let want = normalized
        let have = candidate.normalized
        guard want.os == have.os, want.architecture == have.architecture else { return false }
        if self.variant == nil && want.architecture != "arm64" { return true }
        return want.variant == have.variant
    }

    /// `os/arch[/variant]`.
    public var description: String {
        [os, architecture, variant].compactMap { $0 }.joined(separator: "/")
    }
}

/// A platform string that is not `os/arch[/variant]`, or names an OS or architecture Go does not know.
public struct PlatformError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// Not one to three `/`-separated parts of letters, digits, `_`, `.` and `-`.
        case malformed
        case unknownOperatingSystem(String)
        case unknownArchitecture(String)
        /// A variant that is not `v` and a version.
        case invalidVariant(String)
    }

    /// The text that was parsed.
    public let text: String
    public let reason: Reason

    public init(text: String, reason: Reason = .malformed) {
        self.text = text
        self.reason = reason
    }

    /// What is wrong, without the text.
    public var problem: String {
        switch reason {
        case .malformed: return "expected OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8"
        case .unknownOperatingSystem(let os): return "`\(os)` is not an operating system"
        case .unknownArchitecture(let arch): return "`\(arch)` is not an architecture"
        case .invalidVariant(let variant): return "`\(variant)` is not a variant like v7 or v8"
        }
    }

    public var description: String { "invalid platform \"\(text)\": \(problem)" }
}

/// A platform plan cannot build an image for: malformed, unknown, or not a Linux image platform.
public struct PlatformListError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The text that was parsed.
    public let text: String
    /// What is wrong, without the text.
    public let problem: String

    public init(text: String, problem: String) {
        self.text = text
        self.problem = problem
    }

    public var description: String { text.isEmpty ? problem : "platform \"\(text)\": \(problem)" }
}
