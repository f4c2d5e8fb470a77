/// A stable identifier for a kind of finding: `E0301` for errors, `W0101` for warnings.
///
/// Codes never change meaning once published; `name` is a readable alias accepted by `allow:`.
public struct DiagnosticCode: Hashable, Sendable, CustomStringConvertible {
    public let id: String
    public let name: String
    public let summary: String

    public init(_ id: String, _ name: String, _ summary: String) {
        self.id = id
        self.name = name
        self.summary = summary
    }

    public var isWarning: Bool { id.hasPrefix("W") }
    public var description: String { id }

    /// The code with this id or name, if any.
    public static func lookup(_ idOrName: String) -> DiagnosticCode? {
        all.first { $0.id == idOrName || $0.name == idOrName }
    }
}

extension DiagnosticCode {
    // MARK: Input and YAML (E00xx)
    public static let unreadableFile = DiagnosticCode("E0001", "unreadable-file", "the plan file cannot be read")
    public static let invalidEncoding = DiagnosticCode("E0002", "invalid-encoding", "the plan is not UTF-8 text")
    public static let yamlSyntax = DiagnosticCode("E0003", "yaml-syntax", "YAML syntax error")
    public static let documentTooComplex = DiagnosticCode(
        "E0004", "document-too-complex", "the document nests too deeply, is too large, or expands aliases too far")
    public static let notASingleDocument = DiagnosticCode(
        "E0005", "not-a-single-document", "the file is empty or holds more than one YAML document")
    public static let duplicateKey = DiagnosticCode("E0006", "duplicate-key", "a key appears twice in one mapping")

    // MARK: Structure (E01xx)
    public static let unknownKey = DiagnosticCode("E0101", "unknown-key", "a key the language does not define")
    public static let wrongType = DiagnosticCode("E0102", "wrong-type", "a value of the wrong type")
    public static let missingKey = DiagnosticCode("E0103", "missing-key", "a required key is missing")
    public static let unsupportedVersion = DiagnosticCode("E0104", "unsupported-version", "an unsupported `version`")
    public static let stepWithoutAction = DiagnosticCode("E0105", "step-without-action", "a step with no action key")
    public static let stepWithTwoActions = DiagnosticCode(
        "E0106", "step-with-two-actions", "a step with more than one action key")
    public static let conflictingKeys = DiagnosticCode("E0107", "conflicting-keys", "two keys that exclude each other")
    public static let invalidValue = DiagnosticCode("E0108", "invalid-value", "a value outside the allowed set")
    public static let includeCycle = DiagnosticCode("E0110", "include-cycle", "plan files that include each other")
    public static let includeMissing = DiagnosticCode("E0111", "include-missing", "an included file that cannot be read")
    public static let missingParameter = DiagnosticCode(
        "E0112", "missing-parameter", "a template instance without a value for a parameter")
    public static let unknownParameter = DiagnosticCode(
        "E0113", "unknown-parameter", "`for` or `with` names a parameter the template does not have")
    public static let runInScratch = DiagnosticCode(
        "E0114", "run-in-scratch", "a `run` step in a stage that starts from `scratch`, which has no shell")
    public static let mountOptionForOtherType = DiagnosticCode(
        "E0115", "mount-option-for-other-type", "a `mounts` entry with a key its type does not take (`size` on a bind)")
    public static let duplicateMountTarget = DiagnosticCode(
        "E0116", "duplicate-mount-target", "two mounts of one `run` step at the same target")

    // MARK: Names and references (E02xx)
    public static let badStageName = DiagnosticCode("E0201", "bad-stage-name", "a stage name that is not allowed")
    public static let duplicateStage = DiagnosticCode("E0202", "duplicate-stage", "a stage defined twice")
    public static let unknownStage = DiagnosticCode("E0203", "unknown-stage", "a reference to a stage that does not exist")
    public static let unknownArtifact = DiagnosticCode(
        "E0204", "unknown-artifact", "a reference to an artifact the stage does not declare")
    public static let unknownTemplate = DiagnosticCode("E0205", "unknown-template", "a reference to an unknown template")
    public static let targetNotAStage = DiagnosticCode("E0206", "target-not-a-stage", "a target that is not a stage")
    public static let dependencyCycle = DiagnosticCode("E0207", "dependency-cycle", "stages that depend on each other")
    public static let badName = DiagnosticCode(
        "E0208", "bad-name", "an artifact, argument, variable or secret name that is not allowed")
    public static let duplicateName = DiagnosticCode(
        "E0209", "duplicate-name", "an argument, template or parameter defined twice")

    // MARK: Artifacts and paths (E03xx)
    public static let copyOutsideArtifacts = DiagnosticCode(
        "E0301", "copy-outside-artifacts", "a copy from a stage of a path outside its declared artifacts")
    public static let relativeArtifactWithoutWorkdir = DiagnosticCode(
        "E0302", "relative-artifact-without-workdir", "a relative artifact path in a stage without a workdir")
    public static let pathClimbsOut = DiagnosticCode("E0303", "path-climbs-out", "a path that climbs out with `..`")
    public static let malformedArtifactReference = DiagnosticCode(
        "E0304", "malformed-artifact-reference", "an artifact reference that is not STAGE.NAME[/SUBPATH]")
    public static let relativePathWithoutWorkdir = DiagnosticCode(
        "E0305", "relative-path-without-workdir", "a relative path in a copy from a stage that has no workdir")

    // MARK: Variables (E04xx)
    public static let undefinedArgument = DiagnosticCode(
        "E0401", "undefined-argument", "`${NAME}` names no build argument or variable")
    public static let undefinedParameter = DiagnosticCode(
        "E0402", "undefined-parameter", "`${{ name }}` names no template parameter")
    public static let unknownArgumentOverride = DiagnosticCode(
        "E0403", "unknown-argument-override", "`--arg` sets an argument the plan does not declare")
    public static let argumentInRuntimeCommand = DiagnosticCode(
        "E0404", "argument-in-runtime-command", "a build argument used where only runtime values exist")
    public static let missingArgumentValue = DiagnosticCode(
        "E0405", "missing-argument-value", "a build argument that must be given has no value")
    public static let unsupportedSubstitution = DiagnosticCode(
        "E0406", "unsupported-substitution", "a `${…}` form the builder does not expand, like `${#NAME}` or `${NAME%x}`")

    // MARK: Build context (E05xx)
    public static let contextPathMissing = DiagnosticCode(
        "E0501", "context-path-missing", "a copied context path that does not exist")
    public static let contextPathIgnored = DiagnosticCode(
        "E0502", "context-path-ignored", "a copied context path that `ignore` excludes")
    public static let contextMissing = DiagnosticCode("E0503", "context-missing", "the build context folder does not exist")
    public static let contextPathLeaves = DiagnosticCode(
        "E0504", "context-path-leaves", "a copied context path that leaves the context through a symbolic link")

    // MARK: Value formats (E06xx)
    public static let malformedPort = DiagnosticCode("E0601", "malformed-port", "a port that is not PORT or PORT/tcp|udp")
    public static let malformedChmod = DiagnosticCode("E0602", "malformed-chmod", "a mode that is not octal")
    public static let malformedDuration = DiagnosticCode("E0603", "malformed-duration", "a duration like 30s or 1m30s")
    public static let malformedPlatform = DiagnosticCode("E0604", "malformed-platform", "a platform that is not os/arch[/variant]")
    public static let malformedImageReference = DiagnosticCode(
        "E0605", "malformed-image-reference", "an image reference that cannot be parsed")
    public static let malformedChecksum = DiagnosticCode("E0606", "malformed-checksum", "a checksum that is not sha256:<64 hex>")
    public static let malformedURL = DiagnosticCode("E0607", "malformed-url", "a download URL that is not http(s)")
    public static let malformedSignal = DiagnosticCode("E0608", "malformed-signal", "a stop signal that is not a signal")
    public static let malformedUser = DiagnosticCode("E0609", "malformed-user", "a user that is not USER[:GROUP]")
    public static let malformedPath = DiagnosticCode("E0610", "malformed-path", "a path that is empty or must be absolute")
    public static let lineBreakInValue = DiagnosticCode(
        "E0611", "line-break-in-value", "an `args`, `env` or `labels` value with a line break, which no Dockerfile can carry")
    public static let unsupportedPlatform = DiagnosticCode(
        "E0612", "unsupported-platform", "a `platforms` entry that is not a Linux platform images are built for")
    public static let emptyPlatforms = DiagnosticCode("E0613", "empty-platforms", "`platforms` lists no platform")
    public static let nonPlatformVariable = DiagnosticCode(
        "E0614", "non-platform-variable", "a stage `platform` that uses a variable other than BUILDPLATFORM or TARGETPLATFORM")
    public static let malformedSize = DiagnosticCode(
        "E0615", "malformed-size", "a tmpfs `size` that is not bytes or a number with a unit like 64m")

    // MARK: Back ends (E07xx)
    public static let unsupportedByDialect = DiagnosticCode(
        "E0701", "unsupported-by-dialect", "a feature the chosen Dockerfile dialect cannot express")

    // MARK: Warnings (W01xx)
    public static let unusedArtifact = DiagnosticCode("W0101", "unused-artifact", "an artifact nobody uses")
    public static let unreachableStage = DiagnosticCode("W0102", "unreachable-stage", "a stage no target reaches")
    public static let unpinnedImage = DiagnosticCode(
        "W0103", "unpinned-image", "a base image without a tag or with `latest`")
    public static let rootTarget = DiagnosticCode("W0104", "root-target", "a target that runs as root")
    public static let secretLookingName = DiagnosticCode(
        "W0105", "secret-looking-name", "a secret-looking name in `args` or `env`")
    public static let wholeContextBeforeInstall = DiagnosticCode(
        "W0106", "whole-context-before-install", "the whole context is copied before dependencies are installed")
    public static let cdInRun = DiagnosticCode("W0107", "cd-in-run", "`cd` inside `run`")
    public static let unknownAllowCode = DiagnosticCode("W0108", "unknown-allow-code", "`allow` names no warning")
    public static let relativeDestinationWithoutWorkdir = DiagnosticCode(
        "W0109", "relative-destination-without-workdir",
        "a copy to a relative destination in a stage that sets no workdir")
    public static let globMatchesNothing = DiagnosticCode(
        "W0110", "glob-matches-nothing", "a `dirs:` glob that matches no folder of the context")
    public static let networkHost = DiagnosticCode("W0111", "network-host", "a `run` step on the host's network")
    public static let foreignPlatformCopy = DiagnosticCode(
        "W0112", "foreign-platform-copy", "a copy from a stage pinned to another platform into a target-platform stage")
    public static let digestWithSeveralPlatforms = DiagnosticCode(
        "W0113", "digest-with-several-platforms", "a base image pinned by digest while several platforms are built")
    public static let undeclaredWithDefault = DiagnosticCode(
        "W0114", "undeclared-with-default", "`${NAME:-default}` of a name nothing declares: always the default")

    // MARK: Run (E09xx): what `plan run` finds while it builds
    public static let stepExited = DiagnosticCode("E0901", "step-exited", "a `run` step exited with a status other than 0")
    public static let missingArtifact = DiagnosticCode(
        "E0902", "missing-artifact", "a stage finished without producing an artifact it declares")
    public static let imagePullFailed = DiagnosticCode(
        "E0903", "image-pull-failed", "a base image or an image copied from could not be pulled")
    public static let stepFailed = DiagnosticCode(
        "E0904", "step-failed", "a step could not be carried out (a missing source, a failed download, an unknown user)")
    public static let runCancelled = DiagnosticCode(
        "E0905", "run-cancelled", "a stage stopped because another failed or the run was interrupted")

    // MARK: Import (E10xx, W10xx): what `plan import` finds in a Dockerfile
    public static let dockerfileSyntax = DiagnosticCode("E1001", "dockerfile-syntax", "a Dockerfile BuildKit cannot parse")
    public static let unknownInstruction = DiagnosticCode(
        "E1002", "unknown-instruction", "an instruction BuildKit does not know")
    public static let dockerfileNotText = DiagnosticCode(
        "E1003", "dockerfile-not-text", "a Dockerfile that is empty, binary or not UTF-8")
    public static let noPlanForm = DiagnosticCode(
        "W1001", "no-plan-form", "an instruction plan cannot express, kept as a comment")
    public static let lossyImport = DiagnosticCode(
        "W1002", "lossy-import", "an instruction imported with a change of meaning")

    // MARK: Lock (E11xx): `plan lock` and `--locked`
    public static let invalidLock = DiagnosticCode(
        "E1101", "invalid-lock", "a lock file that is not what `plan lock` writes")
    public static let lockOfAnotherPlan = DiagnosticCode(
        "E1102", "lock-of-another-plan", "a lock file written for another plan")
    public static let imageNotLocked = DiagnosticCode(
        "E1103", "image-not-locked", "an image (or a platform of it) the plan reads that the lock does not pin")
    public static let downloadNotLocked = DiagnosticCode(
        "E1104", "download-not-locked", "an `add:` download the lock does not pin, or pins with another checksum")
    public static let lockedImageVariesByPlatform = DiagnosticCode(
        "E1105", "locked-image-varies-by-platform",
        "an image whose name depends on the platform, which one locked FROM cannot pin")

    /// Every code, in id order: the catalogue that docs/language.md documents.
    public static let all: [DiagnosticCode] = [
        unreadableFile, invalidEncoding, yamlSyntax, documentTooComplex, notASingleDocument, duplicateKey,
        unknownKey, wrongType, missingKey, unsupportedVersion, stepWithoutAction, stepWithTwoActions,
        conflictingKeys, invalidValue, includeCycle, includeMissing, missingParameter,
        unknownParameter, runInScratch, mountOptionForOtherType, duplicateMountTarget,
        badStageName, duplicateStage, unknownStage, unknownArtifact, unknownTemplate, targetNotAStage,
        dependencyCycle, badName, duplicateName,
        copyOutsideArtifacts, relativeArtifactWithoutWorkdir, pathClimbsOut, malformedArtifactReference,
        relativePathWithoutWorkdir,
        undefinedArgument, undefinedParameter, unknownArgumentOverride, argumentInRuntimeCommand,
        missingArgumentValue, unsupportedSubstitution,
        contextPathMissing, contextPathIgnored, contextMissing, contextPathLeaves,
        malformedPort, malformedChmod, malformedDuration, malformedPlatform, malformedImageReference,
        malformedChecksum, malformedURL, malformedSignal, malformedUser, malformedPath,
        lineBreakInValue, unsupportedPlatform, emptyPlatforms, nonPlatformVariable, malformedSize,
        unsupportedByDialect,
        stepExited, missingArtifact, imagePullFailed, stepFailed, runCancelled,
        dockerfileSyntax, unknownInstruction, dockerfileNotText,
        invalidLock, lockOfAnotherPlan, imageNotLocked, downloadNotLocked, lockedImageVariesByPlatform,
        unusedArtifact, unreachableStage, unpinnedImage, rootTarget, secretLookingName,
        wholeContextBeforeInstall, cdInRun, unknownAllowCode, relativeDestinationWithoutWorkdir,
        globMatchesNothing, networkHost, foreignPlatformCopy, digestWithSeveralPlatforms, undeclaredWithDefault,
        noPlanForm, lossyImport,
    ]
}
