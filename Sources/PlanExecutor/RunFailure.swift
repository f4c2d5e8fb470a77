import PlanDiagnostics
import PlanValues

/// Why a run failed, located in the plan: what went wrong (``Kind``), the stage it happened in, the place
/// (the step's, the artifact's, the `from:`'s or the stage's), and for a failed step the end of its output.
/// ``diagnostic`` turns it into a `Diagnostic`, printed by the renderer `plan check` uses.
public struct RunFailure: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// A `run` step's command exited with a status other than 0.
        case stepExited(status: Int32)
        /// The stage finished without the file or folder an artifact it declares names; `found` says what
        /// the nearest folder holds instead.
        case missingArtifact(name: String, path: String, found: String)
        /// An image (a base, or a copy's source) could not be pulled.
        case imagePull(reference: String, reason: String)
        /// A step could not be carried out (a source to copy is missing, a download failed, a user is unknown, …):
        /// the reason says which.
        case stepFailed(String)
        /// The stage stopped because another one failed or the run was interrupted: nothing to report of its own.
        case cancelled
    }

    public var kind: Kind
    /// The stage it happened in; nil for a failure of the run as a whole.
    public var stage: String?
    public var location: SourceLocation?
    /// The step as the plan has it (a `run` step's command), for the report.
    public var step: String?
    /// The last lines the step printed.
    public var lastOutput: [String]

    public init(_ kind: Kind, stage: String?, location: SourceLocation?, step: String? = nil, lastOutput: [String] = []) {
        self.kind = kind
        self.stage = stage
        self.location = location
        self.step = step
        self.lastOutput = lastOutput
    }

    /// The code the failure is reported with.
    public var code: DiagnosticCode {
        switch kind {
        case .stepExited: .stepExited
        case .missingArtifact: .missingArtifact
        case .imagePull: .imagePullFailed
        case .stepFailed: .stepFailed
        case .cancelled: .runCancelled
        }
    }

    /// What went wrong, without the stage (progress displays show the stage beside it).
    public var reason: String {
        switch kind {
        case .stepExited(let status): "`run` exited with status \(status)"
        case .missingArtifact(let name, let path, _): "declared artifact `\(name)` at `\(path)` was not produced"
        case .imagePull(let reference, let reason): "cannot pull image `\(reference)`: \(reason)"
        case .stepFailed(let reason): reason
        case .cancelled: "stopped"
        }
    }

    /// One sentence, naming the stage once.
    public var message: String {
        stage.map { "stage `\($0)`: " + reason } ?? reason
    }

    /// The step, what the artifact's folder holds, and the step's last output, as notes.
    public var notes: [Diagnostic.Note] {
        var notes: [Diagnostic.Note] = []
        if let step { notes.append(Diagnostic.Note("step: \(step)")) }
        if case .missingArtifact(_, _, let found) = kind { notes.append(Diagnostic.Note(found)) }
        if !lastOutput.isEmpty {
            notes.append(Diagnostic.Note("last output:\n" + lastOutput.map { "    " + $0 }.joined(separator: "\n")))
        }
        return notes
    }

    /// The failure as a located error.
    public var diagnostic: Diagnostic {
        .error(code, message, at: location, notes: notes)
    }

    /// The failure as one block of text (`PATH:LINE:COL: message`, then the notes).
    public var description: String {
        (location.map { "\($0): " } ?? "") + message + notes.map { "\n  " + $0.message }.joined()
    }
}
