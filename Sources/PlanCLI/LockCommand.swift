import ArgumentParser
import Foundation
import PlanCompiler
import PlanDiagnostics
import PlanExecutor
import PlanLock
import PlanOCI
import PlanValues

/// `plan lock PLAN`: pin every image and download the plan reads in `plan.lock` beside it.
struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Pin the plan's base images, copied images and downloads by digest in plan.lock.",
        discussion: """
            Every base image and `copy … image:` source (build arguments expanded) is resolved at its \
            registry for every platform the plan builds (`platforms:`, or --platform): the reference's index \
            (or manifest) digest and each platform's manifest digest; `add:` URLs are kept with their \
            checksums. The lock is written atomically beside the plan (-o elsewhere), keys sorted. Without \
            --update, images already locked keep their digests and only new ones are resolved; --update \
            resolves all of them again, --update IMAGE… only those (by reference or repository name). \
            --check writes nothing and exits 1 when the lock differs from what the registry says now, naming \
            each entry. `plan run --locked` and `plan compile --locked` then use only the lock. See docs/lock.md.

            Examples:
              plan lock plans/registry --insecure-registry 127.0.0.1:5555
              plan lock plans/monorepo --update docker.io/library/golang
              plan lock plans/site --check
            """)

    @OptionGroup var options: PlanOptions
    @OptionGroup var platformOptions: PlatformOptions

    @Argument(help: ArgumentHelp("With --update: the images to refresh (default: all).", valueName: "image"))
    var images: [String] = []

    @Flag(help: "Resolve locked images again (all, or the IMAGEs given after the plan).")
    var update = false

    @Flag(help: "Write nothing; exit 1 when the lock is missing or differs from what the registries say now.")
    var check = false

    @Option(name: .shortAndLong, help: ArgumentHelp("The lock file (default: plan.lock beside the plan).", valueName: "file"),
            completion: .file())
    var output: String?

    @Option(name: .customLong("insecure-registry"), help: ArgumentHelp(
        "Talk plain HTTP to this registry (repeatable; localhost, 127.0.0.0/8 and ::1 always are).", valueName: "host:port"))
    var insecureRegistries: [String] = []

    @Option(name: .customLong("cache-dir"), help: ArgumentHelp("Where images and caches live (manifests are kept there).",
                                                               valueName: "dir"), completion: .directory)
    var cacheDirectory: String?

    func validate() throws {
        if !images.isEmpty, !update { throw ValidationError("the images after the plan name what --update refreshes; add --update") }
        if check, update { throw ValidationError("--check writes nothing; --update writes the lock: give one of them") }
        for image in images {
            do { _ = try ImageReference(parsing: image) } catch { throw ValidationError("--update \(image): \(error)") }
        }
    }

    func run() async throws {
        let result = Compiler(options: platformOptions.compileOptions(options)).compile(planAt: options.plan)
        Output.report(result.diagnostics, sources: result.sources, options: options, jsonToStandardOutput: false)
        guard let graph = result.graph else { throw ExitCode(isUsageProblem(result) ? 2 : 1) }
        let path = output ?? LockedBuild.path(besidePlan: graph.planFile)
        var sources = result.sources
        func report(_ diagnostics: [Diagnostic]) {
            Output.report(diagnostics, sources: sources, options: options, jsonToStandardOutput: false)
        }

        // An existing lock must read and be this plan's, whatever happens next: nothing is overwritten otherwise.
        let loaded = LockedBuild.load(path, for: graph)
        if let source = loaded.source { sources.add(source) }
        if !loaded.isMissing, loaded.lock == nil {
            report(loaded.diagnostics)
            if options.diagnosticsFormat == .text { Output.standardError("\(path): not changed\n") }
            throw ExitCode(1)
        }
        if check, loaded.isMissing {
            Output.standardError("error: there is no lock file at \(path)\nhelp: run `plan lock \(graph.planFile)` and commit it\n")
            throw ExitCode(1)
        }

        let reads: PlanReads
        do throws(BindFailure) {
            reads = try PlanReads.of(graph, platforms: graph.platforms)
        } catch {
            report(error.diagnostics)
            throw ExitCode(1)
        }
        let selected = try images.map { try ImageReference(parsing: $0) }
        for (text, reference) in zip(images, selected) where !reads.images.contains(where: { Self.names($0.reference, reference) }) {
            Output.standardError("error: --update \(text): the plan reads no such image; it reads "
                + reads.platformsByImage.map(\.reference.description).joined(separator: ", ") + "\n")
            throw ExitCode(2)
        }
        let refresh: @Sendable (ImageReference) -> Bool = { reference in
            check || (update && (selected.isEmpty || selected.contains { Self.names(reference, $0) }))
        }

        let credentials: RegistryCredentials
        let store: ContentStore
        do {
            credentials = try RegistryCredentials.fromDockerConfig()
            store = try ContentStore(root: URL(fileURLWithPath: CacheLayout(root: CacheLocation.directory(explicit: cacheDirectory)).images))
        } catch {
            Output.standardError("error: \(error)\n")
            throw ExitCode(1)
        }
        let client = RegistryClient(configuration: .init(insecureRegistries: Set(insecureRegistries), credentials: credentials))
        let planFile = LockedBuild.planFileName(graph.planFile, lockPath: path)
        let lock: LockFile
        do throws(LockFailure) {
            lock = try await Locker(client: client, store: store).lock(
                reads, plan: graph.planName, planFile: planFile, previous: loaded.lock, keep: { !refresh($0) })
        } catch {
            report(error.diagnostics)
            if options.diagnosticsFormat == .text { Output.standardError("\(path): not changed\n") }
            throw ExitCode(1)
        }

        if check {
            guard let locked = loaded.lock else { throw ExitCode(1) }
            let differences = LockDifference.between(locked, lock)
            if differences.isEmpty {
                Output.standardError("\(path): up to date (\(Self.count(lock)))\n")
                return
            }
            Output.standardError("error: \(path) is stale: \(differences.count) entr\(differences.count == 1 ? "y differs" : "ies differ")\n"
                + differences.map { "  \($0)\n" }.joined()
                + "help: run `plan lock --update \(graph.planFile)` and commit the result\n")
            throw ExitCode(1)
        }
        do {
            try OutputFile.checkOwnership(path)
            try OutputFile.writeAtomically([(path, lock.text)])
        } catch let failure as OutputFile.Failure {
            Output.standardError("error: \(failure.message)\n")
            throw ExitCode(failure.isUsage ? 2 : 1)
        }
        let changes = loaded.lock.map { LockDifference.between($0, lock) } ?? []
        Output.standardError("\(path): \(loaded.lock == nil ? "written" : changes.isEmpty ? "unchanged" : "updated") (\(Self.count(lock)))\n"
            + changes.map { "  \($0)\n" }.joined())
    }

    /// Whether `given` (an `--update` argument) names `reference`: the same reference, or its repository.
    static func names(_ reference: ImageReference, _ given: ImageReference) -> Bool {
        reference == given || reference.name == given.name
    }

    static func count(_ lock: LockFile) -> String {
        let manifests = lock.images.values.reduce(0) { $0 + $1.platforms.count }
        return "\(lock.images.count) image\(lock.images.count == 1 ? "" : "s"), \(manifests) platform manifest\(manifests == 1 ? "" : "s"), "
            + "\(lock.downloads.count) download\(lock.downloads.count == 1 ? "" : "s")"
    }
}
