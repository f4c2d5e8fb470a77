import PlanDiagnostics

/// A Dockerfile as BuildKit's parser reads it: parser directives, then instructions, each located.
public struct Dockerfile: Sendable {
    /// A parser directive from the top of the file (`# syntax=…`, `# escape=…`, `# check=…`, or one BuildKit ignores).
    public struct Directive: Sendable, Equatable {
        public var name: String
        public var value: String
        public var location: SourceLocation
        /// Whether BuildKit knows it (`syntax`, `escape`, `check`); others are comments to BuildKit.
        public var isKnown: Bool
    }

    public var path: String
    public var directives: [Directive]
    /// The escape character: `\` unless `# escape=` says otherwise.
    public var escape: Character
    public var instructions: [DockerfileInstruction]
    /// Comments after the last instruction.
    public var trailingComments: [String]
}

/// An instruction flag (`--from=build`, `--link`), quotes removed as BuildKit removes them.
public struct DockerfileFlag: Sendable, Equatable {
    public var name: String
    /// nil for a flag without `=` (`--link`).
    public var value: String?
    public var location: SourceLocation
}

/// A heredoc body attached to a `RUN`, `COPY` or `ADD` (`<<EOF`, `<<-EOF`, `<<"EOF"`).
public struct DockerfileHeredoc: Sendable, Equatable {
    public var name: String
    /// False when the delimiter was quoted: no variable expansion in the body.
    public var expand: Bool
    /// `<<-`: leading tabs are stripped from the body and the delimiter line.
    public var chomp: Bool
    /// The body, each line ending with `\n`, as BuildKit keeps it (tabs not yet stripped).
    public var content: String

    public init(name: String, expand: Bool, chomp: Bool, content: String) {
        self.name = name
        self.expand = expand
        self.chomp = chomp
        self.content = content
    }
}

/// One instruction, its continuation lines joined.
public struct DockerfileInstruction: Sendable, Equatable {
    public enum Arguments: Sendable, Equatable {
        /// JSON (exec) form: `["a", "b"]`.
        case exec([String])
        /// Shell form or plain text: the rest of the line after the flags.
        case shell(String)
    }

    /// The instruction's name, upper-cased (`RUN`); an unknown name is kept as written, upper-cased.
    public var keyword: String
    /// The instruction as written, its continuation lines joined (escape characters removed).
    public var original: String
    /// The source lines, as written (for keeping an instruction plan cannot express as a comment).
    public var sourceLines: [String]
    public var location: SourceLocation
    public var endLine: Int
    public var flags: [DockerfileFlag]
    public var arguments: Arguments
    public var heredocs: [DockerfileHeredoc]
    /// Comment lines (without `#`) just before the instruction, and those inside its continuation lines.
    public var comments: [String]
    /// Whether a blank line separated this instruction from the one before.
    public var blankLineBefore: Bool

    /// The value of the last flag of this name, `""` for a flag without a value, nil when absent.
    public func flag(_ name: String) -> String? {
        guard let flag = flags.last(where: { $0.name == name }) else { return nil }
        return flag.value ?? ""
    }

    /// The shell-form text, or the exec-form words joined by spaces.
    public var text: String {
        switch arguments {
        case .shell(let text): text
        case .exec(let words): words.joined(separator: " ")
        }
    }
}

/// The instructions BuildKit knows.
public enum DockerfileKeyword {
    public static let all: Set<String> = [
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER",
        "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
    ]
}

