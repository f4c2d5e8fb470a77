import Foundation

/// Files changed in a git work tree since a revision: committed, staged, unstaged and untracked.
enum GitChanges {
    struct Failure: Error {
        var message: String
    }

    static func run(_ arguments: [String], in directory: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw Failure(message: "cannot run git: \(error.localizedDescription)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let detail = errorText.split(separator: "\n").first.map(String.init) ?? "exit \(process.terminationStatus)"
            throw Failure(message: "git \(arguments.first ?? ""): \(detail)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Absolute paths of every file that differs from `revision` in the work tree holding `directory`.
    static func changedFiles(since revision: String, in directory: String) throws -> [String] {
        let top = try run(["rev-parse", "--show-toplevel"], in: directory).trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try run(["rev-parse", "--verify", "--quiet", revision + "^{commit}"], in: top)
        let changed = try run(["diff", "--name-only", "-z", "--no-renames", revision, "--"], in: top)
        let untracked = try run(["ls-files", "--others", "--exclude-standard", "-z"], in: top)
        let names = (changed + untracked).split(separator: "\0").map(String.init)
        return Array(Set(names)).sorted().map { top + "/" + $0 }
    }

    /// A path made absolute and free of symlinks, for comparing against git's paths.
    static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }
}
