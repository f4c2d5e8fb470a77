import ArgumentParser
import Foundation
import PlanCompiler
import PlanDiagnostics
import PlanBake
import PlanDockerfile
import PlanPaths
import PlanValues

/// What `plan compile` writes.
enum CompileEmit: String, CaseIterable, ExpressibleByArgument {
    /// The Dockerfile (and its ignore file, and with --out-dir the bake file).
    case dockerfile
    /// The bound plan as JSON, images unresolved: what `plan run` would execute.
    case boundPlan = "bound-plan"
}

/// `plan compile PLAN`: the plan as a multi-stage Dockerfile (and its .dockerignore).
struct CompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Compile a plan into a multi-stage Dockerfile.",
        discussion: """
            Without -o the Dockerfile goes to standard output and diagnostics to standard error; the ignore \
            file is written only with --dockerignore FILE (otherwise a note says it was not, when the plan \
            has `ignore` patterns). With -o FILE, the \
            Dockerfile and FILE.dockerignore beside it (where BuildKit and buildah look for it) are written \
            atomically: on any error, nothing is written.

            Examples:
              plan compile plans/site/plan.yaml > Dockerfile
              plan compile plans/site -o build/Dockerfile
              plan compile plans/go-static --target app --arg GO_VERSION=1.22
              plan compile plans/registry --dialect portable -o Containerfile
              plan compile plans/site --emit bound-plan --platform linux/amd64
            """)

    @OptionGroup var options: PlanOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the Dockerfile here (and FILE.dockerignore beside it).",
                                                    valueName: "file"),
            completion: .file())
    var output: String?

    @Option(help: ArgumentHelp(
        "What to write: dockerfile, or bound-plan (the plan bound for `plan run` as JSON on standard output, "
            + "images unresolved).", valueName: "kind"))
    var emit: CompileEmit = .dockerfile

    @Option(help: "Dockerfile dialect: buildkit (Docker's BuildKit) or portable (older builders such as buildah 1.28).")
    var dialect: Dialect = .buildkit

    @Option(help: ArgumentHelp("Write the ignore file here (default with -o: FILE.dockerignore beside the Dockerfile).",
                               valueName: "file"),
            completion: .file())
    var dockerignore: String?

    @Option(name: .customLong("out-dir"), help: ArgumentHelp(
        "Write DIR/Dockerfile, DIR/.dockerignore (also as DIR/Dockerfile.dockerignore, which BuildKit reads) "
            + "and DIR/docker-bake.json.", valueName: "dir"),
            completion: .directory)
    var outDirectory: String?

    @Option(name: .customLong("tag-prefix"), help: ArgumentHelp(
        "With --out-dir: tag targets <prefix><target>:latest (default: <plan name>/).", valueName: "prefix"))
    var tagPrefix: String?

    /// `--platform`: the bake targets' `platforms`; with --emit bound-plan, the one platform to bind for.
    @OptionGroup var platformOptions: PlatformOptions
    /// `--locked`: every image pinned to the lock's index digest (PlanLock).
    @OptionGroup var lockOptions: LockOptions

    @Option(name: .customLong("affected-since"), help: ArgumentHelp(
        "With --out-dir: add a bake group `affected` of the targets whose inputs changed since this git revision.",
        valueName: "ref"))
    var affectedSince: String?

    func validate() throws {
        if emit == .boundPlan {
            if lockOptions.locked { throw ValidationError("--locked goes with --emit dockerfile (a bound plan leaves images unresolved)") }
            for (given, flag) in [(output != nil, "-o"), (outDirectory != nil, "--out-dir"), (dockerignore != nil, "--dockerignore"),
                                  (tagPrefix != nil, "--tag-prefix"), (affectedSince != nil, "--affected-since")] where given {
                throw ValidationError("--emit bound-plan writes to standard output; \(flag) goes with --emit dockerfile")
            }
            if (platformOptions.platforms?.count ?? 0) > 1 { throw ValidationError("--emit bound-plan binds for one --platform") }
            return
        }
        if output != nil, outDirectory != nil { throw ValidationError("give either -o FILE or --out-dir DIR, not both") }
        if outDirectory == nil {
            if tagPrefix != nil { throw ValidationError("--tag-prefix needs --out-dir") }
            if affectedSince != nil { throw ValidationError("--affected-since needs --out-dir") }
        } else if dockerignore != nil {
            throw ValidationError("--dockerignore goes with -o; --out-dir always writes DIR/.dockerignore")
        }
    }

    func run() throws {
        var result = Compiler(options: platformOptions.compileOptions(options)).compile(planAt: options.plan)
        if emit == .boundPlan {
            try emitBoundPlan(result)
            return
        }
        if let graph = result.graph {
            let unsupported = dialect.unsupportedFeatures(in: graph)
            if !unsupported.isEmpty {
                result.diagnostics = DiagnosticList(result.diagnostics + unsupported).sorted
                result.graph = nil
            }
        }
        Output.report(result.diagnostics, sources: result.sources, options: options, jsonToStandardOutput: false)
        guard var graph = result.graph else {
            if options.diagnosticsFormat == .text, let summary = DiagnosticRenderer.summary(result.diagnostics) {
                Output.standardError("\(result.planFile): \(summary); nothing written\n")
            }
            throw ExitCode(isUsageProblem(result) ? 2 : 1)
        }
        if lockOptions.locked { graph = try lockOptions.pinnedGraph(graph, sources: result.sources, options: options) }
        let writer = DockerfileWriter(dialect: dialect)
        let dockerfile = writer.dockerfile(for: graph)
        if let outDirectory {
            try writeOutDirectory(outDirectory, graph: graph, writer: writer, dockerfile: dockerfile)
            return
        }
        guard let output else {
            if let dockerignore {
                do {
                    try OutputFile.checkOwnership(dockerignore)
                    try OutputFile.writeAtomically([(dockerignore, writer.dockerignore(for: graph))])
                } catch let failure as OutputFile.Failure {
                    Output.standardError("error: \(failure.message)\n")
                    throw ExitCode(failure.isUsage ? 2 : 1)
                }
            } else if !graph.ignore.isEmpty {
                Output.standardError("note: the plan's ignore patterns were not written (the Dockerfile went to "
                                     + "standard output); use -o FILE, or --dockerignore FILE\n")
            }
            Output.standardOutput(dockerfile)
            return
        }
        // Builders read `<Dockerfile>.dockerignore` beside the Dockerfile; a `.dockerignore` there is read
        // only when that folder is also the context.
        let ignorePath = dockerignore ?? (output + ".dockerignore")
        do {
            try OutputFile.checkOwnership(ignorePath)
            try OutputFile.writeAtomically([
                (output, dockerfile),
                (ignorePath, writer.dockerignore(for: graph)),
            ])
        } catch let failure as OutputFile.Failure {
            Output.standardError("error: \(failure.message)\n")
            throw ExitCode(failure.isUsage ? 2 : 1)
        }
    }

    /// `--emit bound-plan`: the plan bound without resolving images, as JSON on standard output.
    func emitBoundPlan(_ result: CompileResult) throws {
        var diagnostics = result.diagnostics
        var plan: BoundPlan?
        if let graph = result.graph {
            // The plan's platforms (or --platform's) bind one at a time.
            guard graph.platforms.count == 1, let platform = graph.platforms.first else {
                throw ValidationError("the plan lists \(graph.platforms.count) platforms; --emit bound-plan binds for one: "
                    + "choose it with --platform")
            }
            do throws(BindFailure) {
                plan = try Binder(graph: graph, options: BindOptions(targets: options.targets, platform: platform))
                    .bind(images: [:])
            } catch {
                diagnostics = DiagnosticList(diagnostics + error.diagnostics).sorted
            }
        }
        Output.report(diagnostics, sources: result.sources, options: options, jsonToStandardOutput: false)
        guard let plan else {
            if options.diagnosticsFormat == .text, let summary = DiagnosticRenderer.summary(diagnostics) {
                Output.standardError("\(result.planFile): \(summary); nothing written\n")
            }
            throw ExitCode(result.graph == nil && isUsageProblem(result) ? 2 : 1)
        }
        Output.standardOutput(try plan.jsonText())
    }

    /// `--out-dir`: the Dockerfile, its ignore file and the bake file, all or nothing.
    func writeOutDirectory(_ directory: String, graph: BuildGraph, writer: DockerfileWriter, dockerfile: String) throws {
        var groups: [String: [String]] = [:]
        if let affectedSince {
            do {
                groups["affected"] = try Affected.targets(of: graph, since: affectedSince)
            } catch let failure as GitChanges.Failure {
                Output.standardError("error: \(failure.message)\n")
                throw ExitCode(2)
            }
        }
        let base = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        let dockerfilePath = base + "/Dockerfile"
        let current = FileManager.default.currentDirectoryPath
        func absolute(_ path: String) -> String {
            PosixPath.isAbsolute(path) ? PosixPath.normalize(path).path : PosixPath.normalize(current + "/" + path).path
        }
        let context = absolute(graph.contextPath)
        // Bake reads `context` relative to where it runs and `dockerfile` relative to the context; paths
        // outside the current directory stay absolute rather than climbing out with `..`.
        let dockerfileAbsolute = absolute(dockerfilePath)
        let inside = { (path: String) in PosixPath.isInside(path, PosixPath.normalize(current).path) }
        let bake = BakeWriter(
            tagPrefix: tagPrefix,
            platforms: graph.platformsGiven ? graph.platforms.map { AutomaticArguments.buildKitSpelling($0).description } : [],
            groups: groups).bakeFile(
            for: graph, context: inside(context) ? BakeWriter.relativePath(context, from: current) : context,
            dockerfile: inside(dockerfileAbsolute) && inside(context)
                ? BakeWriter.relativePath(dockerfileAbsolute, from: context) : dockerfileAbsolute)
        let ignore = writer.dockerignore(for: graph)
        do {
            for path in [dockerfilePath, base + "/.dockerignore", base + "/Dockerfile.dockerignore"] {
                try OutputFile.checkOwnership(path)
            }
            try OutputFile.writeAtomically([
                (dockerfilePath, dockerfile),
                (base + "/.dockerignore", ignore),
                (base + "/Dockerfile.dockerignore", ignore),
                (base + "/docker-bake.json", bake),
            ])
        } catch let failure as OutputFile.Failure {
            Output.standardError("error: \(failure.message)\n")
            throw ExitCode(failure.isUsage ? 2 : 1)
        }
    }
}
