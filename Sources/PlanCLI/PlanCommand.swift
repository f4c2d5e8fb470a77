import ArgumentParser
import Foundation
import PlanDiagnostics

/// The `plan` command: compiles declarative YAML build plans into multi-stage Dockerfiles.
public struct PlanCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Check declarative YAML build plans, compile them into multi-stage Dockerfiles, or build them.",
        discussion: """
            A plan names stages (base image, steps, configuration) and the artifacts each stage produces; \
            later stages copy artifacts by name, and every copy is checked before anything is built.

            Examples:
              plan check plans/site/plan.yaml
              plan compile plans/site/plan.yaml -o build/Dockerfile
              plan compile plans/go-static --target app --arg GO_VERSION=1.22 > Dockerfile
              plan compile plans/registry --dialect portable -o Containerfile
              plan compile plans/monorepo --out-dir build
              plan run plans/registry --output type=oci,dest=app.tar
              plan graph plans/monorepo --format dot | dot -Tsvg > graph.svg
              plan affected plans/monorepo --since origin/main
              plan cache prune --keep-bytes 2GiB --older-than 7d
              plan image unpack alpine:3.20 rootfs/

            Shell completions: plan --generate-completion-script bash|zsh|fish
            Exit status: 0 success, 1 errors in the plan, 2 usage errors.
            """,
        version: "0.1.0",
        subcommands: [CheckCommand.self, CompileCommand.self, GraphCommand.self, AffectedCommand.self, RunCommand.self, CacheCommand.self, ImageCommand.self, ImportCommand.self, LockCommand.self]
    )

    public init() {}

    /// Runs the command line and exits: 0 on success, 1 for errors in the plan, 2 for usage errors.
    public static func run(_ arguments: [String]? = nil) async -> Never {
        // A parent may have left signals blocked; Ctrl-C must reach `plan run`.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        sigprocmask(SIG_SETMASK, &unblocked, nil)
        if let message = unknownSubcommand(arguments ?? Array(CommandLine.arguments.dropFirst())) {
            FileHandle.standardError.write(Data(message.utf8))
            Foundation.exit(2)
        }
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            Foundation.exit(0)
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let message = fullMessage(for: error)
            FileHandle.standardError.write(Data((message + "\n").utf8))
            if !message.contains("Usage:") {
                FileHandle.standardError.write(Data("See 'plan --help'.\n".utf8))
            }
            Foundation.exit(2)
        }
    }

    /// The error for a misspelt command (`plan compil`, `plan cache prun`), with the nearest name, or
    /// nil when every command word names a command (options and arguments are left to the parser).
    static func unknownSubcommand(_ arguments: [String]) -> String? {
        var command: ParsableCommand.Type = PlanCommand.self
        var path = ["plan"]
        for argument in arguments {
            let subcommands = command.configuration.subcommands
            guard !subcommands.isEmpty, !argument.hasPrefix("-"), argument != "help" else { return nil }
            let names = subcommands.map { $0.configuration.commandName ?? $0._commandName }
            guard let index = names.firstIndex(of: argument) else {
                var message = "error: \(path.joined(separator: " ")) has no command `\(argument)`"
                if let hint = Suggestion.didYouMean(argument, in: names) { message += "; " + hint }
                return message + "\nhelp: its commands are \(Suggestion.list(names)); "
                    + "see '\(path.joined(separator: " ")) --help'.\n"
            }
            command = subcommands[index]
            path.append(argument)
        }
        return nil
    }
}
