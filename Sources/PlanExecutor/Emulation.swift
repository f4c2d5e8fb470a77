import Foundation
import PlanValues

/// Whether steps of a platform can run here: natively, or under user-mode emulation registered with the
/// kernel's binfmt_misc (Debian's `qemu-user-static`). The F ("fix binary") flag is required: with it the
/// kernel opens the interpreter when it is registered, so the runc and bubblewrap sandboxes, whose root has
/// no `/usr/libexec/qemu-binfmt`, still find it.
public struct Emulation: Sendable {
    /// Where binfmt_misc is mounted (a test points this at a folder of fake entries).
    public var binfmtDirectory: String
    /// The machine's platform.
    public var host: Platform

    public init(binfmtDirectory: String = "/proc/sys/fs/binfmt_misc", host: Platform = .host) {
        self.binfmtDirectory = binfmtDirectory
        self.host = host
    }

    /// A binfmt_misc entry that runs a platform's programs.
    public struct Handler: Sendable, Equatable {
        /// The entry's name (`qemu-aarch64`).
        public var name: String
        public var interpreter: String
        public var flags: String
    }

    /// Whether the host's CPU runs `platform`'s programs itself: its own architecture, and 386 on amd64
    /// (x86_64 kernels run i386 programs). Everything else needs an emulator.
    public func runsNatively(_ platform: Platform) -> Bool {
        let want = platform.normalized
        let have = host.normalized
        guard want.os == have.os else { return false }
        if want.architecture == have.architecture {
            // arm64 variants are all run by an arm64 CPU; arm/v7 does not run on an arm/v6 CPU, so compare.
            return want.architecture != "arm" || (want.variant ?? "v7") <= (have.variant ?? "v7")
        }
        return have.architecture == "amd64" && want.architecture == "386"
    }

    /// The ELF header fields (class, byte order, machine) of an architecture's programs, for matching
    /// binfmt_misc magic; nil for an architecture plan does not know how to emulate.
    static func elfIdentity(of architecture: String) -> (elfClass: UInt8, bigEndian: Bool, machine: UInt16)? {
        switch architecture {
        case "amd64": (2, false, 0x3E)
        case "386": (1, false, 0x03)
        case "arm64": (2, false, 0xB7)
        case "arm": (1, false, 0x28)
        case "ppc64le": (2, false, 0x15)
        case "s390x": (2, true, 0x16)
        case "riscv64": (2, false, 0xF3)
        default: nil
        }
    }

    /// The first 20 bytes of an executable of `architecture` (what binfmt_misc's magic is matched against).
    static func elfHeader(of architecture: String) -> [UInt8]? {
        guard let identity = elfIdentity(of: architecture) else { return nil }
        var header: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, identity.elfClass, identity.bigEndian ? 2 : 1, 1]
        header += [UInt8](repeating: 0, count: 9)
        let type: UInt16 = 2  // ET_EXEC
        for value in [type, identity.machine] {
            let bytes = [UInt8(value & 0xFF), UInt8(value >> 8)]
            header += identity.bigEndian ? bytes.reversed() : bytes
        }
        return header
    }

    /// Checks that steps of `platform` can run: nothing to do when the host runs it natively; else an enabled
    /// binfmt_misc handler whose magic matches the architecture's programs, with the F flag.
    /// Returns the handler used (nil when native).
    @discardableResult
    public func check(_ platform: Platform) throws(EmulationProblem) -> Handler? {
        let want = platform.normalized
        func problem(_ reason: EmulationProblem.Reason) -> EmulationProblem {
            EmulationProblem(platform: want, reason: reason)
        }
        guard want.os == "linux" else { throw problem(.notLinux) }
        if runsNatively(want) { return nil }
        guard let header = Self.elfHeader(of: want.architecture) else { throw problem(.unknownArchitecture) }
        guard FileManager.default.fileExists(atPath: binfmtDirectory + "/status") else { throw problem(.notMounted(binfmtDirectory)) }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: binfmtDirectory)) ?? [])
            .filter { $0 != "status" && $0 != "register" }.sorted()
        var disabled: Handler?
        var withoutFix: Handler?
        for name in names {
            guard let entry = Entry(path: binfmtDirectory + "/" + name), entry.matches(header) else { continue }
            let handler = Handler(name: name, interpreter: entry.interpreter, flags: entry.flags)
            if !entry.enabled {
                disabled = disabled ?? handler
            } else if !entry.flags.contains("F") {
                withoutFix = withoutFix ?? handler
            } else {
                return handler
            }
        }
        if let withoutFix { throw problem(.noFixBinary(withoutFix.name)) }
        if let disabled { throw problem(.disabled(disabled.name)) }
        throw problem(.noHandler)
    }

    /// One binfmt_misc entry file (`enabled`, `interpreter …`, `flags: …`, `offset N`, `magic HEX`, `mask HEX`).
    struct Entry {
        var enabled = false
        var interpreter = ""
        var flags = ""
        var offset = 0
        var magic: [UInt8] = []
        var mask: [UInt8]?

        init?(path: String) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
            for line in text.split(separator: "\n").map(String.init) {
                if line == "enabled" { enabled = true }
                if line.hasPrefix("interpreter ") { interpreter = String(line.dropFirst("interpreter ".count)) }
                if line.hasPrefix("flags:") { flags = line.dropFirst("flags:".count).trimmingCharacters(in: .whitespaces) }
                if line.hasPrefix("offset "), let value = Int(line.dropFirst("offset ".count)) { offset = value }
                if line.hasPrefix("magic ") { magic = Self.bytes(String(line.dropFirst("magic ".count))) ?? [] }
                if line.hasPrefix("mask ") { mask = Self.bytes(String(line.dropFirst("mask ".count))) }
            }
            // An extension entry (no magic) never matches a program by its header.
            if magic.isEmpty { return nil }
        }

        static func bytes(_ hex: String) -> [UInt8]? {
            let digits = Array(hex.utf8)
            guard digits.count.isMultiple(of: 2) else { return nil }
            var bytes: [UInt8] = []
            for index in stride(from: 0, to: digits.count, by: 2) {
                guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(byte)
            }
            return bytes
        }

        /// binfmt_misc's test: the header's bytes at `offset`, masked, equal the magic, masked.
        func matches(_ header: [UInt8]) -> Bool {
            guard offset >= 0, offset + magic.count <= header.count else { return false }
            for (index, byte) in magic.enumerated() {
                let maskByte = mask.flatMap { index < $0.count ? $0[index] : nil } ?? 0xFF
                if header[offset + index] & maskByte != byte & maskByte { return false }
            }
            return true
        }
    }
}

extension Emulation {
    /// Checks every platform in `platforms`; the problems of all that cannot run here in one error.
    public func check(_ platforms: [Platform]) throws(EmulationProblems) {
        var problems: [EmulationProblem] = []
        for platform in platforms {
            do { _ = try check(platform) } catch { problems.append(error) }
        }
        if !problems.isEmpty { throw EmulationProblems(problems: problems) }
    }
}

/// Several platforms that cannot run here, each with its way out (one line each).
public struct EmulationProblems: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [EmulationProblem]

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Steps of a platform cannot run here: no emulator registered for it, or one that cannot work in a sandbox.
public struct EmulationProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// binfmt_misc is not mounted at this path.
        case notMounted(String)
        /// No binfmt_misc entry matches the architecture's programs.
        case noHandler
        /// The matching entry is disabled.
        case disabled(String)
        /// The matching entry lacks the F flag: the sandbox cannot find the interpreter.
        case noFixBinary(String)
        /// plan knows no ELF machine number for the architecture.
        case unknownArchitecture
        /// plan run builds Linux images only.
        case notLinux
    }

    public var platform: Platform
    public var reason: Reason

    public init(platform: Platform, reason: Reason) {
        self.platform = platform
        self.reason = reason
    }

    /// Debian's emulator name for an architecture (`qemu-aarch64`).
    public static func qemuName(of architecture: String) -> String {
        let qemu = switch architecture {
        case "arm64": "aarch64"
        case "amd64": "x86_64"
        case "386": "i386"
        default: architecture
        }
        return "qemu-" + qemu
    }

    /// How to enable emulation for the platform on Debian.
    public static func hint(for platform: Platform, lead: String = "to enable it") -> String {
        let name = qemuName(of: platform.normalized.architecture)
        return lead + ": apt-get install qemu-user-static binfmt-support; "
            + "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc (if not mounted); "
            + "update-binfmts --enable \(name) (registers it with the F flag)"
    }

    public var description: String {
        let hint = Self.hint(for: platform)
        switch reason {
        case .notMounted(let path):
            return "cannot build for \(platform): this machine does not run its programs and binfmt_misc is not "
                + "mounted at \(path), so no emulator is registered; \(hint)"
        case .noHandler:
            return "cannot build for \(platform): this machine does not run its programs and no emulator for it is "
                + "registered with binfmt_misc; \(hint)"
        case .disabled(let name):
            return "cannot build for \(platform): the emulator \(name) is registered with binfmt_misc but disabled; \(hint)"
        case .noFixBinary(let name):
            return "cannot build for \(platform): the emulator \(name) is registered without the F (fix binary) flag, "
                + "so steps in a sandbox cannot find its interpreter; register it with F: update-binfmts --disable \(name); "
                + "update-binfmts --enable \(name) with Debian's qemu-user-static (its registration has F)"
        case .unknownArchitecture:
            return "cannot build for \(platform): this machine does not run its programs, and plan knows no emulator "
                + "for architecture \(platform.architecture) (it emulates arm64, arm, ppc64le, s390x, riscv64, 386 and amd64)"
        case .notLinux:
            return "cannot build for \(platform): plan run builds Linux images only"
        }
    }
}
