import ArgumentParser
import Dispatch
import Foundation
import PlanCompiler
import PlanDiagnostics
import PlanExecutor
import PlanOCI
import PlanValues

/// `plan run PLAN`: build the plan with the built-in executor, no Docker daemon.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Build a plan with the built-in multi-stage executor (no Docker daemon).",
        discussion: """
            Steps run sandboxed on overlayfs where the kernel allows it; independent stages run in parallel. \
            As root, each step is a runc container (pivot_root, Docker's default capabilities, seccomp, \
            masked /proc; a network of its own through slirp4netns that cannot reach the host's loopback, \
            loopback only for `network: none`); without root, bubblewrap in a user namespace with every \
            capability dropped (files then belong to the invoking user).

            Outputs (repeatable --output): type=oci,dest=DIR|FILE.tar  type=docker,dest=FILE.tar  \
            (both take compression=gzip|uncompressed and compression-level=0-9; oci is gzip by default)  \
            type=local,dest=DIR[,merge=true]  type=artifacts,dest=DIR[,merge=true]. Each is checked before \
            building: plan writes a new or empty path or replaces what plan wrote; merge=true writes over \
            the files of an existing folder and keeps the others; --force replaces anything.

            Images by name (one target): type=image,name=REF[,name=REF…][,push=true] stores the image in \
            plan's image store (`plan image inspect REF` reads it) and with push=true pushes it to every \
            name; type=registry,name=REF is the same with push=true; several names in one field: \
            "name=REF,REF". compression=gzip|uncompressed, compression-level=0-9. --push --tag-prefix PREFIX \
            [--tag TAG…] pushes every target T to PREFIX + T:TAG (default tag latest), the names `plan \
            compile --out-dir` writes into docker-bake.json. Credentials come from Docker's config.json \
            ($DOCKER_CONFIG); --metadata-file FILE writes each target's image digest and names as buildx \
            bake does.

            --platform linux/arm64 builds for another platform: base images are chosen from their index for \
            it, and on a machine that does not run its programs natively the steps run under qemu \
            (apt-get install qemu-user-static binfmt-support; checked before building, see docs/run.md). \
            --platform linux/amd64,linux/arm64 (or the plan's platforms:) builds every platform in one run: \
            each target once per platform, a stage pinned to ${BUILDPLATFORM} that uses no TARGET* argument \
            once, shared. Image outputs then write an OCI image index (one manifest per platform), \
            type=local and type=artifacts one sub-folder per platform (linux_amd64/, linux_arm64/); \
            type=docker takes one platform.

            Every step is cached by what it reads (content, not times): an unchanged step is skipped. \
            --explain prints, for each step, `hit` or `miss` and the first input that differed from the \
            last build. `plan cache du|ls|prune` manages the cache.

            Examples:
              plan run plans/registry --insecure-registry 127.0.0.1:5555 \\
                  --output type=oci,dest=app.tar
              plan run plans/monorepo --target api --output type=local,dest=rootfs
              plan run plans/go-static --output type=artifacts,dest=dist \\
                  --secret id=token,src=token.txt
              plan run plans/monorepo --explain \\
                  --cache-from dir=ci-cache --cache-to dir=ci-cache
              plan run plans/monorepo --push --tag-prefix registry.example.com/team/ \\
                  --tag 1.4.2 --tag latest --metadata-file build.json
              plan run plans/registry --output type=registry,name=127.0.0.1:5555/demo/app:1
              plan run plans/monorepo \\
                  --cache-from type=registry,ref=registry.example/app/cache \\
                  --cache-to type=registry,ref=registry.example/app/cache,mounts=true
            """)

    enum Progress: String, CaseIterable, ExpressibleByArgument {
        case auto, tty, plain, json
    }

    @OptionGroup var options: PlanOptions
    /// `--platform`: compiled into `BuildGraph.platforms` (the executor's side reads it there).
    @OptionGroup var platformOptions: PlatformOptions
    /// `--locked`: images pulled by the lock's digests (PlanLock).
    @OptionGroup var lockOptions: LockOptions

    @Option(name: .customLong("secret"), help: ArgumentHelp(
        "A secret for `secrets:` steps: id=ID,src=FILE or id=ID,env=VARIABLE (repeatable).", valueName: "spec"))
    var secrets: [String] = []

    @Option(name: .customLong("ssh"), help: ArgumentHelp(
        "An ssh agent for `mounts:` of type ssh: default, ID (both: $SSH_AUTH_SOCK) or ID=SOCKET (repeatable).",
        valueName: "spec"))
    var ssh: [String] = []

    @Option(help: "How many stages may run at once (default: the number of cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .customLong("output"), help: ArgumentHelp("Where results go (repeatable); see below.", valueName: "spec"))
    var outputs: [String] = []

    @Flag(help: "Replace whatever is at an --output dest; without it, plan replaces only what plan wrote.")
    var force = false

    @Option(name: .customLong("allow"), help: ArgumentHelp(
        "Allow an entitlement: special-files keeps device nodes, fifos, sockets and setuid/setgid bits in local and artifacts outputs.",
        valueName: "entitlement"))
    var allow: [String] = []

    @Option(help: "auto, tty, plain or json.")
    var progress: Progress = .auto

    @Option(name: .customLong("insecure-registry"), help: ArgumentHelp(
        "Talk plain HTTP to this registry (repeatable; localhost, 127.0.0.0/8 and ::1 always are).", valueName: "host:port"))
    var insecureRegistries: [String] = []

    @Flag(name: .customLong("keep-going"), help: "After a failure, let independent stages finish.")
    var keepGoing = false

    @Option(name: .customLong("cache-dir"), help: ArgumentHelp("Where images and caches live.", valueName: "dir"),
            completion: .directory)
    var cacheDirectory: String?

    @Flag(name: .customLong("no-cache"), help: "Build every step; take nothing from the cache (results are still stored).")
    var noCache = false

    @Option(name: .customLong("no-cache-filter"), help: ArgumentHelp(
        "Build this stage's steps without the cache (repeatable).", valueName: "stage"))
    var noCacheStages: [String] = []

    @Flag(help: "Print for each step whether it came from the cache and, when not, the first input that changed.")
    var explain = false

    @Option(name: .customLong("cache-from"), help: ArgumentHelp(
        "Import cache entries before building (repeatable): type=registry,ref=REF, type=local,src=PATH or dir=PATH.",
        valueName: "spec"))
    var cacheFrom: [String] = []

    @Option(name: .customLong("cache-to"), help: ArgumentHelp(
        "Export the entries this build used: type=registry,ref=REF (options: mounts=true, mounts-max-size=SIZE, "
            + "ignore-error=true, mode=max), type=local,dest=PATH or dir=PATH.", valueName: "spec"))
    var cacheTo: String?

    @Flag(help: "Push every target's image to <tag-prefix><target>:<tag> (needs --tag-prefix).")
    var push = false

    @Option(name: .customLong("tag-prefix"), help: ArgumentHelp(
        "With --push: where targets go, e.g. registry.example.com/team/ (as `plan compile --tag-prefix`).", valueName: "prefix"))
    var tagPrefix: String?

    @Option(name: .customLong("tag"), help: ArgumentHelp("With --push: a tag of every target (repeatable; default latest).",
                                                         valueName: "tag"))
    var tags: [String] = []

    @Option(name: .customLong("metadata-file"), help: ArgumentHelp(
        "After a successful run, write each target's image digest and names as JSON (buildx bake's form).", valueName: "file"))
    var metadataFile: String?

    /// `--push --tag-prefix P --tag T…` as an output.
    var pushOutput: OutputSpec? {
        guard push, let tagPrefix else { return nil }
        return .image(ImageOutput(naming: .perTarget(prefix: tagPrefix, tags: tags.isEmpty ? ["latest"] : tags), push: true))
    }

    @Option(name: .customLong("source-date-epoch"), help: ArgumentHelp(
        "Reproducible images: clamp file times in built layers to these seconds since 1970 and take them as `created` (default: $SOURCE_DATE_EPOCH).",
        valueName: "seconds"))
    var sourceDateEpoch: String?

    /// A `--cache-from` or `--cache-to` value, or a usage error naming the option.
    static func cacheTransport(_ text: String, _ direction: CacheTransport.Direction) throws -> CacheTransport {
        do {
            return try CacheTransport(parsing: text, direction: direction)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func validate() throws {
        for source in cacheFrom { _ = try Self.cacheTransport(source, .from) }
        if let cacheTo { _ = try Self.cacheTransport(cacheTo, .to) }
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        do { _ = try RunOptions.sourceDateEpoch(flag: sourceDateEpoch, environment: ProcessInfo.processInfo.environment) } catch {
            throw ValidationError("\(error)")
        }
        for output in outputs {
            do { _ = try OutputSpec(parsing: output) } catch { throw ValidationError("\(error)") }
        }
        if push, tagPrefix == nil {
            throw ValidationError("--push needs --tag-prefix PREFIX: every target T is pushed to PREFIX + T:TAG "
                + "(e.g. --tag-prefix registry.example.com/team/); to push one target under a name of your own, "
                + "use --output type=registry,name=REF")
        }
        if !push, tagPrefix != nil || !tags.isEmpty {
            throw ValidationError("--tag-prefix and --tag name what --push pushes; add --push")
        }
        if let metadataFile {
            do { try BuildMetadata.check(metadataFile) } catch let failure as OutputFile.Failure { throw ValidationError(failure.message) }
        }
        for entitlement in allow where entitlement != SpecialFiles.entitlement {
            throw ValidationError("--allow \(entitlement): the only entitlement is \(SpecialFiles.entitlement)")
        }
    }

    /// `id=ID,src=FILE` or `id=ID,env=VAR` → the secret's id and a file holding its value.
    func secretFiles(in directory: String) throws -> [String: String] {
        var files: [String: String] = [:]
        for spec in secrets {
            var fields: [String: String] = [:]
            for part in spec.split(separator: ",") {
                let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2 else { throw ValidationError("--secret \(spec): `\(part)` is not KEY=VALUE") }
                fields[pair[0]] = pair[1]
            }
            guard let id = fields["id"] else { throw ValidationError("--secret \(spec) needs id=") }
            if let source = fields["src"] ?? fields["source"] {
                guard FileManager.default.isReadableFile(atPath: source) else {
                    throw ValidationError("--secret \(spec): cannot read \(source)")
                }
                files[id] = source
            } else if let variable = fields["env"] {
                guard let value = ProcessInfo.processInfo.environment[variable] else {
                    throw ValidationError("--secret \(spec): the environment has no \(variable)")
                }
                let path = directory + "/" + id
                FileManager.default.createFile(atPath: path, contents: Data(value.utf8), attributes: [.posixPermissions: 0o400])
                files[id] = path
            } else {
                throw ValidationError("--secret \(spec) needs src=FILE or env=VARIABLE")
            }
        }
        return files
    }

    /// `ID` or `ID=SOCKET` (BuildKit's and buildx's spelling) → the agent's id and socket; without a socket,
    /// `$SSH_AUTH_SOCK`. Only agent sockets are taken, not key files.
    func sshAgents(environment: [String: String]) throws -> [String: String] {
        var agents: [String: String] = [:]
        for spec in ssh {
            let pair = spec.split(separator: "=", maxSplits: 1).map(String.init)
            let id = pair[0]
            guard !id.isEmpty, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }) else {
                throw ValidationError("--ssh \(spec): the id may hold only letters, digits, `_`, `.` and `-`")
            }
            let socket: String
            if pair.count == 2 {
                socket = pair[1]
            } else {
                guard let value = environment["SSH_AUTH_SOCK"], !value.isEmpty else {
                    throw ValidationError("--ssh \(spec): SSH_AUTH_SOCK is not set; start an agent or give --ssh \(id)=SOCKET")
                }
                socket = value
            }
            var info = stat()
            guard stat(socket, &info) == 0 else {
                throw ValidationError("--ssh \(spec): \(socket): \(String(cString: strerror(errno)))")
            }
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                throw ValidationError("--ssh \(spec): \(socket) is not a socket (give an ssh agent's socket; key files are not taken)")
            }
            agents[id] = socket
        }
        return agents
    }

    func run() async throws {
        let result = Compiler(options: platformOptions.compileOptions(options)).compile(planAt: options.plan)
        // JSON is one report: the compiler's warnings go into the one printed when the run ends.
        let json = options.diagnosticsFormat == .json
        if !json || result.graph == nil {
            Output.report(result.diagnostics, sources: result.sources, options: options, jsonToStandardOutput: false)
        }
        let compileDiagnostics = json ? result.diagnostics : []
        func report(_ diagnostics: [Diagnostic]) {
            guard json || !diagnostics.isEmpty else { return }
            Output.report(compileDiagnostics + diagnostics, sources: result.sources, options: options, jsonToStandardOutput: false)
        }
        guard let graph = result.graph else { throw ExitCode(isUsageProblem(result) ? 2 : 1) }
        let sandbox: any Sandbox
        do {
            sandbox = try SandboxChoice.choose()
        } catch {
            Output.standardError("error: \(error)\n")
            throw ExitCode(2)
        }
        let credentials: RegistryCredentials
        do {
            credentials = try RegistryCredentials.fromDockerConfig()
        } catch {
            Output.standardError("error: \(error)\n")
            throw ExitCode(1)
        }
        let cache = CacheLocation.directory(explicit: cacheDirectory)
        // mkdtemp: a fresh 0700 folder of this user, never one another user made first.
        var template = Array((NSTemporaryDirectory() + "/plan-secrets-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ $0.baseAddress.map { mkdtemp($0) != nil } ?? false }) else {
            Output.standardError("error: cannot create a folder for secrets in \(NSTemporaryDirectory()): \(String(cString: strerror(errno)))\n")
            throw ExitCode(1)
        }
        let secretDirectory = String(cString: template)
        defer { try? FileManager.default.removeItem(atPath: secretDirectory) }

        var runOptions = RunOptions(cacheDirectory: cache)
        runOptions.sandbox = sandbox
        runOptions.registryCredentials = credentials
        runOptions.secrets = try secretFiles(in: secretDirectory)
        runOptions.sshAgents = try sshAgents(environment: ProcessInfo.processInfo.environment)
        runOptions.jobs = jobs
        runOptions.outputs = try outputs.map(OutputSpec.init(parsing:)) + (pushOutput.map { [$0] } ?? [])
        runOptions.force = force
        runOptions.sourceDateEpoch = try RunOptions.sourceDateEpoch(flag: sourceDateEpoch, environment: ProcessInfo.processInfo.environment)
        runOptions.allowSpecialFiles = allow.contains(SpecialFiles.entitlement)
        runOptions.insecureRegistries = Set(insecureRegistries)
        runOptions.keepGoing = keepGoing
        runOptions.noCache = noCache
        // What the plan alone does not settle (platforms, secrets, stage names given here), before building.
        // `--platform`, else the plan's `platforms:`, else this machine's (BuildGraph.platforms). A platform
        // the machine does not run natively runs under user-mode emulation.
        let platforms = graph.platforms.isEmpty ? [Platform.host] : graph.platforms
        let preflight = RunPreflight(graph: graph, targets: options.targets, platforms: platforms, emulation: runOptions.emulation)
            .problems(secretIDs: Set(runOptions.secrets.keys), noCacheStages: noCacheStages,
                      sshIDs: Set(runOptions.sshAgents.keys))
        if !preflight.isEmpty {
            for problem in preflight { Output.standardError("error: \(problem)\n") }
            throw ExitCode(2)
        }
        runOptions.noCacheStages = Set(noCacheStages)
        let pins = lockOptions.locked
            ? try lockOptions.pins(for: graph, targets: options.targets, platforms: platforms, sources: result.sources, options: options)
            : ImagePins()
        runOptions.cacheFrom = try cacheFrom.map { try Self.cacheTransport($0, .from) }
        runOptions.cacheTo = try cacheTo.map { try Self.cacheTransport($0, .to) }

        let live = progress == .tty || (progress == .auto && isatty(STDERR_FILENO) == 1)
        let reporter = ProgressReporter(json: progress == .json, live: live, explain: explain)
        defer { reporter.stop() }
        let binders = platforms.map { Binder(graph: graph, options: BindOptions(targets: options.targets, platform: $0)) }
        let settings = runOptions
        let metadata = BuildMetadata()
        let task = Task { () async throws -> RunSummary in
            let (build, images) = try await Self.bind(binders, options: settings, pins: pins)
            return try await Executor(build: build, options: settings, images: images, events: { event in
                reporter.handle(event)
                metadata.record(event)
            }).run()
        }
        // Ctrl-C, SIGTERM and SIGHUP stop every sandbox (the task's cancellation kills them), clean up,
        // and exit 128 + the signal.
        let signals = StopSignals(cancelling: task)
        let interrupted = signals.interrupted
        defer { signals.cancel() }
        let summary: RunSummary
        do {
            summary = try await task.value
        } catch {
            if let number = interrupted.signal { throw ExitCode(128 + number) }
            if let failure = error as? BindFailure {
                report(failure.diagnostics)
            } else {
                Output.standardError("error: \(error)\n")
            }
            throw ExitCode(1)
        }
        if let number = interrupted.signal {
            Output.standardError(StopSignals.message(number))
            throw ExitCode(128 + number)
        }
        for (stage, seconds) in summary.stageSeconds {
            reporter.summary(stage: stage, seconds: seconds)
        }
        reporter.cacheSummary()
        if !summary.failures.isEmpty {
            // A stage stopped because another failed has nothing of its own to say.
            let diagnostics = summary.failures.filter { $0.kind != .cancelled }.map(\.diagnostic)
            report(diagnostics)
            throw ExitCode(1)
        }
        reporter.pushSummary()
        if let metadataFile {
            do {
                try metadata.write(to: metadataFile)
            } catch let failure as OutputFile.Failure {
                Output.standardError("error: \(failure.message)\n")
                throw ExitCode(1)
            }
        }
        report([])
    }

    /// Pulls every image the plan reads for every platform it is read for — all at once — then binds the plan
    /// once per target platform (one binder each, in the order asked) with what they say. A pull that fails is a
    /// located error (``RunFailure/Kind/imagePull``) at the `from:` or `copy` that names it.
    static func bind(_ binders: [Binder], options: RunOptions, pins: ImagePins = ImagePins()) async throws -> (BoundBuild, BaseImages) {
        var uses: [ImageUse] = []
        for binder in binders {
            for use in try binder.imageUses() where !uses.contains(use) { uses.append(use) }
        }
        let images = try BaseImages(cacheDirectory: options.cacheDirectory, insecureRegistries: options.insecureRegistries,
                                    credentials: options.registryCredentials, pins: pins)
        var resolved: [ImageUse: ResolvedImage] = [:]
        var pullErrors: [(use: ImageUse, error: any Error)] = []
        await withTaskGroup(of: (ImageUse, Result<ResolvedImage, any Error>).self) { group in
            for use in uses {
                group.addTask {
                    do {
                        return (use, .success(try await images.resolve(use)))
                    } catch {
                        return (use, .failure(error))
                    }
                }
            }
            for await (use, outcome) in group {
                switch outcome {
                case .success(let image): resolved[use] = image
                case .failure(let error): pullErrors.append((use, error))
                }
            }
        }
        try Task.checkCancellation()
        if !pullErrors.isEmpty, let first = binders.first {
            // Bound without the images, the plan still says where each is named.
            let unresolved = try first.bind(images: [:])
            let failures = pullErrors.map { pull in
                RunFailure(.imagePull(reference: pull.use.reference.description, reason: "\(pull.error)"), stage: nil,
                           location: unresolved.firstUse(of: pull.use.reference))
            }
            // One failure per image and reason (a pull refused the same way for two platforms is said once).
            var seen = Set<Diagnostic>()
            let unique = failures.map(\.diagnostic).filter { seen.insert($0).inserted }
            throw BindFailure(diagnostics: DiagnosticList(unique).sorted)
        }
        var plans: [BoundPlan] = []
        for binder in binders { plans.append(try binder.bind(resolved: resolved)) }
        return (BoundBuild(plans: plans), images)
    }
}
