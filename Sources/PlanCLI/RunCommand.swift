import ArgumentParser
import Dispatch
import Foundation
import PlanCompiler
import PlanExecutor

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
            type=local,dest=DIR[,merge=true]  type=artifacts,dest=DIR[,merge=true]. Each is checked before \
            building: plan writes a new or empty path or replaces what plan wrote; merge=true writes over \
            the files of an existing folder and keeps the others; --force replaces anything.

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
            """)

    enum Progress: String, CaseIterable, ExpressibleByArgument {
        case auto, tty, plain, json
    }

    @OptionGroup var options: PlanOptions

    @Option(name: .customLong("secret"), help: ArgumentHelp(
        "A secret for `secrets:` steps: id=ID,src=FILE or id=ID,env=VARIABLE (repeatable).", valueName: "spec"))
    var secrets: [String] = []

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
        "Import cache entries from an OCI layout before building: dir=PATH (repeatable).", valueName: "dir=path"))
    var cacheFrom: [String] = []

    @Option(name: .customLong("cache-to"), help: ArgumentHelp(
        "Export the entries this build used as an OCI layout: dir=PATH.", valueName: "dir=path"))
    var cacheTo: String?

    /// `dir=PATH` → PATH.
    static func cacheDirectoryArgument(_ text: String, option: String) throws -> String {
        guard text.hasPrefix("dir="), text.count > 4, !text.dropFirst(4).contains(",") else {
            throw ValidationError("\(option) \(text): expected dir=PATH (the only cache transport is a folder)")
        }
        return String(text.dropFirst(4))
    }

    func validate() throws {
        for source in cacheFrom { _ = try Self.cacheDirectoryArgument(source, option: "--cache-from") }
        if let cacheTo { _ = try Self.cacheDirectoryArgument(cacheTo, option: "--cache-to") }
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        for output in outputs {
            do { _ = try OutputSpec(parsing: output) } catch { throw ValidationError("\(error)") }
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

    func run() async throws {
        let result = Compiler(options: options.compileOptions).compile(planAt: options.plan)
        Output.report(result.diagnostics, sources: result.sources, options: options, jsonToStandardOutput: false)
        guard let graph = result.graph else { throw ExitCode(isUsageProblem(result) ? 2 : 1) }
        guard getuid() == 0 || BubblewrapSandbox.find() != nil else {
            Output.standardError("error: plan run needs root, or bubblewrap (bwrap) for runs in a user namespace\n")
            throw ExitCode(2)
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

        var runOptions = RunOptions(cacheDirectory: cache, contextDirectory: graph.contextPath)
        runOptions.targets = options.targets
        runOptions.secrets = try secretFiles(in: secretDirectory)
        runOptions.jobs = jobs
        runOptions.outputs = try outputs.map(OutputSpec.init(parsing:))
        runOptions.force = force
        runOptions.allowSpecialFiles = allow.contains(SpecialFiles.entitlement)
        runOptions.insecureRegistries = Set(insecureRegistries)
        runOptions.keepGoing = keepGoing
        runOptions.noCache = noCache
        // What the plan alone does not settle (platform, secrets, stage names given here), before building.
        let preflight = RunPreflight(graph: graph, targets: options.targets)
            .problems(secretIDs: Set(runOptions.secrets.keys), noCacheStages: noCacheStages)
        if !preflight.isEmpty {
            for problem in preflight { Output.standardError("error: \(problem)\n") }
            throw ExitCode(2)
        }
        runOptions.noCacheStages = Set(noCacheStages)
        runOptions.cacheFrom = try cacheFrom.map { try Self.cacheDirectoryArgument($0, option: "--cache-from") }
        runOptions.cacheTo = try cacheTo.map { try Self.cacheDirectoryArgument($0, option: "--cache-to") }

        let live = progress == .tty || (progress == .auto && isatty(STDERR_FILENO) == 1)
        let reporter = ProgressReporter(json: progress == .json, live: live, explain: explain)
        defer { reporter.stop() }
        let executor = Executor(graph: graph, options: runOptions, events: { reporter.handle($0) })
        let task = Task { try await executor.run() }
        // Ctrl-C, SIGTERM (CI cancellation, `timeout`, Kubernetes) and SIGHUP stop every sandbox (the
        // task's cancellation kills them), clean up, and exit 128 + the signal: 130, 143, 129.
        let interrupted = InterruptFlag()
        let signalSources = [SIGINT, SIGTERM, SIGHUP].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler {
                // The first signal stops the run and cleans up; a second one, or a run that does not stop
                // within 10 s (a registry that keeps a request open, say), exits at once.
                if let first = interrupted.signal { Foundation.exit(128 + first) }
                interrupted.set(number)
                task.cancel()
                DispatchQueue.global().asyncAfter(deadline: .now() + 10) { Foundation.exit(128 + number) }
            }
            source.resume()
            return source
        }
        defer { signalSources.forEach { $0.cancel() } }
        let summary: RunSummary
        do {
            summary = try await task.value
        } catch {
            if let number = interrupted.signal { throw ExitCode(128 + number) }
            Output.standardError("error: \(error)\n")
            throw ExitCode(1)
        }
        if let number = interrupted.signal {
            Output.standardError(number == SIGINT ? "interrupted\n" : "stopped by \(number == SIGTERM ? "SIGTERM" : "SIGHUP")\n")
            throw ExitCode(128 + number)
        }
        for (stage, seconds) in summary.stageSeconds {
            reporter.summary(stage: stage, seconds: seconds)
        }
        reporter.cacheSummary()
        if !summary.failures.isEmpty {
            for failure in summary.failures where failure.message != "stopped" {
                Output.standardError("error: \(failure)\n")
            }
            throw ExitCode(1)
        }
    }
}

/// The first stopping signal a run received (SIGINT, SIGTERM or SIGHUP), if any.
final class InterruptFlag: @unchecked Sendable {
    private var value: Int32?
    private let lock = NSLock()
    func set(_ signal: Int32) { lock.lock(); if value == nil { value = signal }; lock.unlock() }
    var signal: Int32? { lock.lock(); defer { lock.unlock() }; return value }
    var isSet: Bool { signal != nil }
}

/// Prints run events: a live view on a terminal (a line per running step with its elapsed time,
/// folded into one line per stage when it finishes), prefixed lines for CI, or JSON lines for tools.
final class ProgressReporter: @unchecked Sendable {
    let json: Bool
    let live: Bool
    let explain: Bool
    private let lock = NSLock()
    private var hits = 0
    private var misses = 0
    private var partial: [String: String] = [:]
    /// Running stages: their current step, when it started, and the last line it printed.
    private var running: [(stage: String, step: String, since: Date, last: String)] = []
    private var drawnLines = 0
    private var timer: DispatchSourceTimer?

    init(json: Bool, live: Bool = false, explain: Bool = false) {
        self.json = json
        self.explain = explain
        self.live = live && !json
        if self.live {
            let timer = DispatchSource.makeTimerSource(queue: DispatchQueue.global())
            timer.schedule(deadline: .now() + .milliseconds(100), repeating: .milliseconds(100))
            timer.setEventHandler { [weak self] in self?.redraw() }
            timer.resume()
            self.timer = timer
        }
    }

    func stop() {
        timer?.cancel()
        timer = nil
        lock.lock()
        clearLive()
        lock.unlock()
    }

    func handle(_ event: ExecutionEvent) {
        lock.lock()
        defer { lock.unlock() }
        switch event {
        case .cache(let stage, let step, let description, let hit, let reason):
            if hit { hits += 1 } else { misses += 1 }
            if json {
                var fields = ["event": "cache", "stage": stage, "step": String(step), "description": description,
                              "result": hit ? "hit" : "miss"]
                fields["reason"] = reason
                line(fields, text: "")
            } else if explain {
                // The explanation is what was asked for: standard output, one line per step.
                clearLive()
                Output.standardOutput((hit ? "hit  " : "miss ") + "[\(stage) #\(step)] \(description)"
                                          + (reason.map { ": " + $0 } ?? "") + "\n")
            } else if hit, !live {
                line([:], text: "[\(stage)] CACHED \(description)")
            }
            if live { drawLive() }
            return
        case .warning(let message):
            if live { clearLive() }
            line(["event": "warning", "message": message], text: "warning: \(message)")
            return
        default:
            break
        }
        if live {
            handleLive(event)
            return
        }
        switch event {
        case .stageStarted(let stage): line(["event": "stage-started", "stage": stage], text: "[\(stage)] started")
        case .stepStarted(let stage, _, let description):
            line(["event": "step", "stage": stage, "step": description], text: "[\(stage)] \(description)")
        case .output(let stage, _, let data):
            for output in completeLines(stage, data) {
                line(["event": "output", "stage": stage, "line": output], text: "[\(stage)] \(output)")
            }
        case .stageFinished(let stage, let seconds):
            line(["event": "stage-finished", "stage": stage, "seconds": String(format: "%.2f", seconds)],
                 text: "[\(stage)] done in \(String(format: "%.1f", seconds)) s")
        case .stageFailed(let stage, let message):
            line(["event": "stage-failed", "stage": stage, "message": message], text: "[\(stage)] FAILED: \(message)")
        case .cache, .warning:
            break
        }
    }

    private func completeLines(_ stage: String, _ data: Data) -> [String] {
        let text = (partial[stage] ?? "") + String(decoding: data, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        partial[stage] = lines.removeLast()
        return lines
    }

    // MARK: Live view

    private func handleLive(_ event: ExecutionEvent) {
        switch event {
        case .stageStarted(let stage):
            running.append((stage, "starting", Date(), ""))
        case .stepStarted(let stage, _, let description):
            if let index = running.firstIndex(where: { $0.stage == stage }) {
                running[index].step = description
                running[index].since = Date()
                running[index].last = ""
            }
        case .output(let stage, _, let data):
            if let last = completeLines(stage, data).last(where: { !$0.isEmpty }),
               let index = running.firstIndex(where: { $0.stage == stage }) {
                running[index].last = last
            }
        case .stageFinished(let stage, let seconds):
            running.removeAll { $0.stage == stage }
            printAbove("\u{1B}[32m✔\u{1B}[0m \(stage) \(String(format: "%.1f", seconds)) s")
        case .stageFailed(let stage, let message):
            running.removeAll { $0.stage == stage }
            printAbove("\u{1B}[31m✘\u{1B}[0m \(stage): \(message)")
        case .cache, .warning:
            break
        }
        drawLive()
    }

    private func redraw() {
        lock.lock()
        defer { lock.unlock() }
        drawLive()
    }

    private func clearLive() {
        guard drawnLines > 0 else { return }
        Output.standardError("\u{1B}[\(drawnLines)F\u{1B}[J")
        drawnLines = 0
    }

    private func printAbove(_ text: String) {
        clearLive()
        Output.standardError(text + "\n")
    }

    private func drawLive() {
        clearLive()
        var out = ""
        for item in running {
            let elapsed = String(format: "%5.1fs", Date().timeIntervalSince(item.since))
            var text = " => [\(item.stage)] \(item.step)"
            if !item.last.isEmpty { text += "  \u{1B}[2m\(item.last)\u{1B}[0m" }
            out += "\(elapsed)\(String(text.prefix(160)))\n"
        }
        drawnLines = running.count
        if !out.isEmpty { Output.standardError(out) }
    }

    // MARK: Lines

    func summary(stage: String, seconds: Double) {
        lock.lock()
        defer { lock.unlock() }
        line(["event": "summary", "stage": stage, "seconds": String(format: "%.2f", seconds)],
             text: stage.padding(toLength: max(24, stage.count), withPad: " ", startingAt: 0)
                + String(format: " %6.1f s", seconds))
    }

    /// How many steps came from the cache.
    func cacheSummary() {
        lock.lock()
        defer { lock.unlock() }
        guard hits + misses > 0 else { return }
        line(["event": "cache-summary", "hits": String(hits), "misses": String(misses)],
             text: "\(hits + misses) steps: \(hits) cached, \(misses) built")
    }

    private func line(_ fields: [String: String], text: String) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            if let data = try? encoder.encode(fields) { Output.standardError(String(decoding: data, as: UTF8.self) + "\n") }
        } else {
            Output.standardError(text + "\n")
        }
    }
}
