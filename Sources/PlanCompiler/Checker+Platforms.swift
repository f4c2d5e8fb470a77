import PlanDiagnostics
import PlanLanguage
import PlanValues

extension Checker {
    /// `platforms:` (or `--platform`, which replaces it): every entry a Linux platform images are built for,
    /// and at least one. Without either, the host's platform.
    mutating func checkPlatforms() {
        if let override = options.platforms {
            platforms = override
            return
        }
        guard let written = plan.platforms else {
            platforms = [Platform.host]
            return
        }
        if written.value.isEmpty {
            error(.emptyPlatforms, "`platforms` lists no platform", at: written.location,
                  help: "name at least one, like `platforms: [linux/amd64, linux/arm64]`, or leave `platforms` out to build for this machine")
            return
        }
        var seen: [Platform] = []
        for entry in written.value {
            switch Platform.parseLinuxImagePlatform(entry.value) {
            case .success(let platform):
                if !seen.contains(platform) { seen.append(platform) }
            case .failure(let failure):
                error(.unsupportedPlatform, "`\(entry.value)` is not a platform plan builds: \(failure.problem)",
                      at: entry.location,
                      help: "write OS/ARCH[/VARIANT] with OS linux and ARCH one of "
                        + Platform.linuxImageArchitectures.keys.sorted().joined(separator: ", "))
            }
        }
        platforms = seen
    }

    /// The automatic arguments a stage's `platform:` may use; any other variable is E0614.
    static let platformVariables: Set<String> = platformArguments

    /// A stage `platform:` may refer to the automatic platform arguments only (`${BUILDPLATFORM}`,
    /// `linux/${TARGETARCH}`): anything else would make the stage's platform depend on a value the
    /// checker cannot see, and BuildKit expands no other variable there before the build.
    /// Returns whether the text passed (no variable but the automatic ones).
    @discardableResult
    mutating func checkPlatformVariables(_ platform: Located<String>) -> Bool {
        var passed = true
        for reference in Interpolation.references(in: platform.value, dialect: .builder)
        where reference.kind == .bare || reference.kind == .braced {
            guard !Self.platformVariables.contains(reference.name) else { continue }
            passed = false
            error(.nonPlatformVariable,
                  "`platform` uses `\(reference.name)`, which is not a platform variable",
                  at: platform.location(ofOffset: reference.offset, length: reference.length),
                  help: "use `${BUILDPLATFORM}` (run natively on the build machine), `${TARGETPLATFORM}` or a literal like linux/amd64")
        }
        return passed
    }

    /// W0113: a base image pinned by digest while several platforms are built. A digest names one manifest
    /// (one platform) or one index (all of them); which, only the registry knows.
    mutating func checkDigestWithSeveralPlatforms(_ reference: String, written: String, at location: SourceLocation,
                                                  stage: Int) {
        guard platforms.count > 1, reference.contains("@sha256:") else { return }
        guard StagePlatform(written: stages[stage].syntax.platform?.value) == .target else { return }
        let names = platforms.map { AutomaticArguments.buildKitSpelling($0).description }.joined(separator: ", ")
        warn(.digestWithSeveralPlatforms,
             "image `\(written)` is pinned by digest while \(names) are built: a digest names one manifest (one platform) or one index",
             at: location, stage: stage,
             help: "make sure it is an index (`plan image inspect` lists its platforms), or pin the digest per platform with `${TARGETARCH}`")
    }

    /// The stages whose platform a stage is built on, the stage first (``StagePlatform/chain(from:baseStage:)``).
    func platformChain(of index: Int) -> [Int] {
        StagePlatform.chain(from: stages[index].name, baseStage: { name in
            guard let index = stageIndex[name], case .stage(let base)? = stages[index].base, stageIndex[base] != nil else { return nil }
            return base
        }).compactMap { stageIndex[$0] }
    }

    /// What a stage is pinned to, through its `from:` chain (`platformChain`).
    func effectivePlatform(of index: Int) -> StagePlatform {
        let root = platformChain(of: index).last ?? index
        return StagePlatform(written: stages[root].syntax.platform?.value)
    }

    /// W0112: a copy from a stage pinned to another platform into a stage built for the target platform.
    /// Files built for the pinned platform do not run on the target ("exec format error") unless the source
    /// stage cross-builds: a stage that refers to a `TARGET…` argument is taken to know what it builds for.
    /// Both stages' platforms follow their `from:` chains: a stage built from a pinned stage is pinned too.
    /// (Its own `platform:` changes nothing then, as in BuildKit.)
    mutating func checkForeignPlatformCopies(into index: Int) {
        guard effectivePlatform(of: index) == .target else { return }
        for instruction in stages[index].instructions {
            guard case .copy(let copy) = instruction, case .stage(let name) = copy.source,
                  let source = stageIndex[name] else { continue }
            let chain = platformChain(of: source)
            let root = chain.last ?? source
            let pin = StagePlatform(written: stages[root].syntax.platform?.value)
            let pinned: Platform
            switch pin {
            case .target: continue
            case .build:
                // Any stage of the chain that names a TARGET argument cross-builds what the chain makes.
                if chain.contains(where: { stages[$0].usedArguments.contains(where: { $0.hasPrefix("TARGET") }) }) { continue }
                pinned = Platform.host
            case .fixed(let platform): pinned = platform
            }
            let foreign = platforms.filter { !(pinned.matches($0) && $0.matches(pinned)) }
            guard !foreign.isEmpty else { continue }
            let pinText = pin == .build ? "the build platform (\(AutomaticArguments.buildKitSpelling(pinned)))"
                : AutomaticArguments.buildKitSpelling(pinned).description
            let names = foreign.map { AutomaticArguments.buildKitSpelling($0).description }.joined(separator: ", ")
            let notes = root == source ? [] : [Diagnostic.Note(
                "`\(name)` is built from `\(stages[root].name)`, whose `platform:` pins it",
                at: stages[root].syntax.platform?.location)]
            warn(.foreignPlatformCopy,
                 "stage `\(name)` is built for \(pinText), but `\(stages[index].name)` is built for \(names): "
                    + "programs copied from it fail with \"exec format error\"",
                 at: copy.location, stage: index, notes: notes,
                 help: "cross-build for `${TARGETARCH}` in `\(name)` (using a TARGET argument silences this), "
                    + "drop \(root == source ? "its" : "`\(stages[root].name)`'s") `platform:`, "
                    + "or allow it with `allow: [foreign-platform-copy]`")
        }
    }
}
