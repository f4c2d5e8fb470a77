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
        if process.terminationStatus == 127 {
            throw Failure(message: "cannot run git: it is not installed, or not on PATH")
        }
        guard process.terminationStatus == 0 else {
            let detail = errorText.split(separator: "\n").first.map(String.init) ?? "exit \(process.terminationStatus)"
            throw Failure(message: "git \(arguments.first ?? ""): \(detail)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Absolute paths of every file that differs from `revision` in the work tree holding `directory`.
    static func changedFiles(since revision: String, in directory: String) throws -> [String] {
        let top: String
        do {
            top = try run(["rev-parse", "--show-toplevel"], in: directory).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch let failure as Failure where !failure.message.hasPrefix("cannot run git") {
            throw Failure(message: "\(directory) is not in a git work tree, so there is no change to compare "
                              + "(\(failure.message))")
        }
        do {
            _ = try run(["rev-parse", "--verify", "--quiet", revision + "^{commit}"], in: top)
        } catch let failure as Failure where !failure.message.hasPrefix("cannot run git") {
            throw Failure(message: unknownRevision(revision, in: top))
        }
        let changed = try run(["diff", "--name-only", "-z", "--no-renames", revision, "--"], in: top)
        let untracked = try run(["ls-files", "--others", "--exclude-standard", "-z"], in: top)
        let names = (changed + untracked).split(separator: "\0").map(String.init)
        return Array(Set(names)).sorted().map { top + "/" + $0 }
    }

    /// Why `revision` names no commit, in words, with what to do about it.
    static func unknownRevision(_ revision: String, in top: String) -> String {
        var message = "unknown revision `\(revision)`: the git repository at \(top) has no commit by that name"
        if (try? run(["rev-parse", "--is-shallow-repository"], in: top))?.hasPrefix("true") == true {
            message += "; the clone is shallow, so older commits may be missing"
        }
        return message + "\nhelp: name a branch, tag or commit that exists here (HEAD~1, origin/main, a hash); in CI, "
            + "fetch it first (`git fetch origin main`, or a full clone: actions/checkout with fetch-depth: 0)"
    }

    /// A path made absolute and free of symlinks, for comparing against git's paths.
    static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }
}
