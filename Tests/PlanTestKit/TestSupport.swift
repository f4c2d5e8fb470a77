import Foundation
import PlanCompiler
import Testing

/// Paths, processes, tools and golden files: the helpers every test target shares.
public enum TestSupport {
    /// The repository root (the folder holding Package.swift).
    public static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url.path
            }
        }
        return FileManager.default.currentDirectoryPath
    }()

    public static var fixtures: String { repoRoot + "/Tests/Fixtures" }
    public static var snapshots: String { repoRoot + "/Tests/Snapshots" }
    public static var plans: String { repoRoot + "/plans" }

    /// The built `plan` executable, next to the test bundle.
    public static let planBinary: String = {
        var candidates: [String] = []
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = executable.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(folder.appendingPathComponent("plan").path)
            folder.deleteLastPathComponent()
        }
        candidates.append(repoRoot + "/.build/debug/plan")
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? repoRoot + "/.build/debug/plan"
    }()

    public struct ProcessResult: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public struct ToolMissing: Error, CustomStringConvertible {
        public var name: String
        public init(name: String) { self.name = name }
        public var description: String {
            "required tool `\(name)` is not installed; run the tests with scripts/test, which installs it"
        }
    }

    /// Runs a program to completion, feeding `input` on stdin. Children are spawned with
    /// `ChildProcess` (posix_spawn, output in files), never Foundation's `Process`, which can hang
    /// when many tests spawn at once.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], in directory: String? = nil,
                    environment: [String: String] = [:], input: Data? = nil) throws -> ProcessResult {
        let scratch = NSTemporaryDirectory() + "plan-test-io-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        var stdin: String? = nil
        if let input {
            stdin = scratch + "/stdin"
            try input.write(to: URL(fileURLWithPath: scratch + "/stdin"))
        }
        // posix_spawn has no working-directory action everywhere: run through `cd … && exec`.
        var path = executable
        var argv = arguments
        if let directory {
            path = "/bin/sh"
            argv = ["-c", "cd \"$0\" && exec \"$@\"", directory, executable] + arguments
        }
        let pid = try ChildProcess.spawn(path, argv, environment: env, stdout: scratch + "/stdout",
                                         stderr: scratch + "/stderr", stdin: stdin)
        let status = ChildProcess.wait(pid)
        let stdout = (try? String(contentsOfFile: scratch + "/stdout", encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: scratch + "/stderr", encoding: .utf8)) ?? ""
        return ProcessResult(status: status, stdout: stdout, stderr: stderr)
    }

    /// Runs the `plan` executable.
    @discardableResult
    public static func plan(_ arguments: [String], in directory: String? = nil, input: Data? = nil) throws -> ProcessResult {
        try run(planBinary, arguments, in: directory ?? repoRoot, environment: ["NO_COLOR": "1"], input: input)
    }

    /// A tool the tests need: the path from the environment variable scripts/test sets (`variable`), else
    /// the first executable `name` in the test venv, on PATH, in /usr/sbin or /sbin.
    /// A missing tool fails the test that asked for it, never skips it — in CI (`CI=true`, which sets
    /// `PLAN_TEST_REQUIRE_TOOLS=1`) as anywhere else; the message names the variable CI sets.
    public static func tool(_ name: String, environment variable: String? = nil) throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let variable, let path = env[variable], FileManager.default.isExecutableFile(atPath: path) { return path }
        let path = (env["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        let venv = env["PLAN_TEST_VENV"].map { [$0 + "/bin"] } ?? ["/var/tmp/plan-test/venv/bin"]
        for folder in venv + path.map(String.init) + ["/usr/sbin", "/sbin"] {
            let candidate = folder + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ToolMissing(name: name)
    }

    /// A fresh temporary folder, removed by the caller with `cleanUp`.
    public static func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "plan-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A scratch folder with `plan.yaml` and the given files; removed by the caller.
    public static func project(_ plan: String, files: [String: String] = [:]) throws -> String {
        let folder = try temporaryFolder()
        try write(plan, to: folder + "/plan.yaml")
        for (name, text) in files { try write(text, to: folder + "/" + name) }
        return folder
    }

    public static func read(_ path: String) throws -> String {
        try String(contentsOfFile: path, encoding: .utf8)
    }

    public static func write(_ text: String, to path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Every example plan under plans/ (folders holding plan.yaml).
    public static func examplePlans() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: plans)) ?? []
        return names.sorted().filter { FileManager.default.fileExists(atPath: plans + "/" + $0 + "/plan.yaml") }
    }

    /// Compiles `plan.yaml` from `files` (path → text) laid out in a scratch folder with empty `folders`.
    public static func compile(_ files: [String: String], folders: [String] = []) throws -> CompileResult {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for name in folders {
            try FileManager.default.createDirectory(atPath: folder + "/" + name, withIntermediateDirectories: true)
        }
        for (name, text) in files { try write(text, to: folder + "/" + name) }
        return Compiler().compile(planAt: folder + "/plan.yaml")
    }

    /// Whether this run records golden files (`PLAN_UPDATE_SNAPSHOTS=1`) instead of checking them.
    public static var recordsGoldenFiles: Bool { ProcessInfo.processInfo.environment["PLAN_UPDATE_SNAPSHOTS"] == "1" }

    /// Compares `actual` with the golden file `Tests/Snapshots/<name>`. With `PLAN_UPDATE_SNAPSHOTS=1` it
    /// writes the file instead and fails the test: a run that records checks nothing, so it must not pass.
    public static func expectGolden(_ actual: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let path = snapshots + "/" + name
        if recordsGoldenFiles {
            try write(actual, to: path)
            Issue.record("recorded the golden file \(name); re-run without PLAN_UPDATE_SNAPSHOTS=1 to check it",
                         sourceLocation: sourceLocation)
            return
        }
        #expect(actual == (try read(path)), "\(name) differs from its golden file", sourceLocation: sourceLocation)
    }
}

/// A deterministic generator (SplitMix64), so a failing fuzz round or kill loop can be replayed.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
