import Foundation
@testable import PlanExecutor
import PlanValues
import Testing

/// `Emulation` against fake binfmt_misc folders: which platforms run natively, which handler serves a platform,
/// and the error (platform, reason, how to enable it) when none does.
@Suite struct EmulationTests {
    static let amd64 = Platform(os: "linux", architecture: "amd64")
    static let arm64 = Platform(os: "linux", architecture: "arm64", variant: "v8")

    /// Debian's qemu-aarch64 entry as /proc shows it, with `flags` and `enabled` replaceable.
    static func aarch64Entry(enabled: Bool = true, flags: String = "PF") -> String {
        """
        \(enabled ? "enabled" : "disabled")
        interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
        flags: \(flags)
        offset 0
        magic 7f454c460201010000000000000000000200b700
        mask ffffffffffffff00fffffffffffffffffeffffff

        """
    }

    /// A binfmt_misc folder holding `status`, `register` and the given entries.
    func binfmt(_ entries: [String: String]) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("binfmt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "enabled\n".write(toFile: folder + "/status", atomically: true, encoding: .utf8)
        try "".write(toFile: folder + "/register", atomically: true, encoding: .utf8)
        for (name, text) in entries { try text.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8) }
        return folder
    }

    @Test func nativePlatformsNeedNoEmulator() throws {
        let emulation = Emulation(binfmtDirectory: "/nonexistent", host: Self.amd64)
        #expect(try emulation.check(Self.amd64) == nil)
        #expect(try emulation.check(Platform(parsing: "linux/386")) == nil)
        #expect(!emulation.runsNatively(Self.arm64))
        let arm = Emulation(binfmtDirectory: "/nonexistent", host: Self.arm64)
        #expect(arm.runsNatively(Platform(os: "linux", architecture: "arm64")))
        #expect(!arm.runsNatively(Self.amd64))
    }

    @Test func anEnabledMatchingHandlerWithFixBinaryServesThePlatform() throws {
        let folder = try binfmt(["python3.11": "enabled\ninterpreter /usr/bin/python3.11\nflags: \noffset 0\nmagic a70d0d0a\n",
                                 "qemu-aarch64": Self.aarch64Entry()])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let handler = try Emulation(binfmtDirectory: folder, host: Self.amd64).check(Self.arm64)
        #expect(handler?.name == "qemu-aarch64")
        #expect(handler?.interpreter == "/usr/libexec/qemu-binfmt/aarch64-binfmt-P")
        // The aarch64 handler does not serve arm (32-bit): its magic says ELF64, machine 0xB7.
        #expect(throws: EmulationProblem(platform: Platform(os: "linux", architecture: "arm", variant: "v7"), reason: .noHandler)) {
            try Emulation(binfmtDirectory: folder, host: Self.amd64).check(Platform(parsing: "linux/arm/v7"))
        }
    }

    @Test func missingDisabledOrWithoutFixBinaryIsAnErrorThatSaysHowToEnableIt() throws {
        let cases: [([String: String], EmulationProblem.Reason)] = [
            ([:], .noHandler),
            (["qemu-aarch64": Self.aarch64Entry(enabled: false)], .disabled("qemu-aarch64")),
            (["qemu-aarch64": Self.aarch64Entry(flags: "P")], .noFixBinary("qemu-aarch64")),
        ]
        for (entries, reason) in cases {
            let folder = try binfmt(entries)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            do {
                try Emulation(binfmtDirectory: folder, host: Self.amd64).check(Self.arm64)
                Issue.record("no error for \(reason)")
            } catch {
                #expect(error.reason == reason)
                #expect(error.description.hasPrefix("cannot build for linux/arm64/v8: "), "\(error)")
                if reason == .noFixBinary("qemu-aarch64") {
                    #expect(error.description.contains("F (fix binary) flag"))
                } else {
                    #expect(error.description.contains("apt-get install qemu-user-static binfmt-support"))
                    #expect(error.description.contains("update-binfmts --enable qemu-aarch64"))
                }
            }
        }
        let unmounted = FileManager.default.temporaryDirectory.appendingPathComponent("no-binfmt-\(UUID().uuidString)").path
        #expect(throws: EmulationProblem(platform: Self.arm64, reason: .notMounted(unmounted))) {
            try Emulation(binfmtDirectory: unmounted, host: Self.amd64).check(Self.arm64)
        }
        #expect(throws: EmulationProblem(platform: Platform(os: "linux", architecture: "mips64le"), reason: .unknownArchitecture)) {
            try Emulation(binfmtDirectory: unmounted, host: Self.amd64).check(Platform(parsing: "linux/mips64le"))
        }
    }

    @Test func elfHeadersCarryTheMachineInTheArchitecturesByteOrder() {
        #expect(Emulation.elfHeader(of: "arm64")?[18...19] == [0xB7, 0x00])
        #expect(Emulation.elfHeader(of: "s390x")?[18...19] == [0x00, 0x16])
        #expect(Emulation.elfHeader(of: "s390x")?[5] == 2)
        #expect(Emulation.elfHeader(of: "arm")?[4] == 1)
        #expect(Emulation.elfHeader(of: "sparc") == nil)
    }
}
