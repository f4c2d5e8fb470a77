import Foundation
import PlanCompiler
import PlanTestKit
import Testing

/// Paths and process helpers shared by the tests.
enum TestSupport {
    /// The repository root (the folder holding Package.swift).
    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url.path
            }
        }
        return FileManager.default.currentDirectoryPath
    }()

    static var fixtures: String { repoRoot + "/Tests/PlanTests/Fixtures" }
    static var snapshots: String { repoRoot + "/Tests/PlanTests/Snapshots" }
    static var plans: String { repoRoot + "/plans" }

    /// The built `plan` executable, next to the test bundle.
    static let planBinary: String = {
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

    struct ProcessResult {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    struct ToolMissing: Error, CustomStringConvertible {
        var name: String
        var description: String {
            "required tool `\(name)` is not installed; run the tests with scripts/test, which installs it"
        }
    }

    /// Runs a program to completion, feeding `input` on stdin. Children are spawned with
    /// `ChildProcess` (posix_spawn, output in files), never Foundation's `Process`, which can hang
    /// when many tests spawn at once.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], in directory: String? = nil,
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
    static func plan(_ arguments: [String], in directory: String? = nil, input: Data? = nil) throws -> ProcessResult {
        try run(planBinary, arguments, in: directory ?? repoRoot, environment: ["NO_COLOR": "1"], input: input)
    }

    /// A tool the tests need: the path from the environment variable scripts/test sets, or from PATH.
    /// A missing tool is an error, never a skip.
    static func tool(_ name: String, environment variable: String? = nil) throws -> String {
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
    static func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "plan-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func read(_ path: String) throws -> String {
        try String(contentsOfFile: path, encoding: .utf8)
    }

    static func write(_ text: String, to path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Every example plan under plans/ (folders holding plan.yaml).
    static func examplePlans() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: plans)) ?? []
        return names.sorted().filter { FileManager.default.fileExists(atPath: plans + "/" + $0 + "/plan.yaml") }
    }

    /// Compiles `plan.yaml` from `files` (path → text) laid out in a scratch folder with empty `folders`.
    static func compile(_ files: [String: String], folders: [String] = []) throws -> CompileResult {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for name in folders {
            try FileManager.default.createDirectory(atPath: folder + "/" + name, withIntermediateDirectories: true)
        }
        for (name, text) in files { try write(text, to: folder + "/" + name) }
        return Compiler().compile(planAt: folder + "/plan.yaml")
    }
}
