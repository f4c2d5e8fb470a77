import Foundation
@testable import PlanExecutor
import PlanTestKit
import Testing

/// What the step cache of `plan run` keys on: each test changes exactly one input of the fixture
/// (Fixtures/cache, copied) between two runs on the same cache, and checks from `--explain` exactly
/// which steps hit and which missed, and why. Needs root and the test registry, as scripts/test provides.
@Suite(.serialized) struct CacheKeyTests {
    static var registry: String { ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555" }
    static let fixture = TestSupport.fixtures + "/cache"

    /// The steps of the fixture that change files (env, user and shell get no line).
    static let buildSteps: Set<String> = ["build #1", "build #2", "build #3", "build #4", "build #5"]
    static let appSteps: Set<String> = ["app #1", "app #3", "app #4", "app #5", "app #8", "app #9", "app #10"]
    static let docsSteps: Set<String> = ["docs #0"]
    static let allSteps = buildSteps.union(appSteps).union(docsSteps)
    /// What depends on the `app` artifact of `build`: the whole `app` stage after its first step.
    static let appAfterArtifact = appSteps.subtracting(["app #1"])

    /// The `--explain` lines of one run: `hit  [STAGE #N] DESCRIPTION` or `miss [STAGE #N] DESCRIPTION: REASON`.
    struct Explain {
        var status: Int32
        var stdout: String
        var stderr: String
        /// "build #2" → hit or not.
        var hit: [String: Bool] = [:]
        /// "build #2" → why it missed.
        var reasons: [String: String] = [:]

        init(_ result: TestSupport.ProcessResult) {
            status = result.status
            stdout = result.stdout
            stderr = result.stderr
            for line in result.stdout.split(separator: "\n").map(String.init) {
                let isHit = line.hasPrefix("hit  [")
                guard isHit || line.hasPrefix("miss ["), let close = line.firstIndex(of: "]") else { continue }
                let step = String(line[line.index(line.startIndex, offsetBy: 6)..<close])
                hit[step] = isHit
                if !isHit, let colon = line[close...].range(of: ": ") {
                    reasons[step] = String(line[colon.upperBound...])
                }
            }
        }

        var steps: Set<String> { Set(hit.keys) }
        var misses: Set<String> { Set(hit.filter { !$0.value }.keys) }
        var hits: Set<String> { Set(hit.filter(\.value).keys) }
        /// `["miss build #3", "hit app #1", …]`, sorted, for readable failures.
        var lines: [String] { hit.map { ($0.value ? "hit " : "miss ") + $0.key }.sorted() }
    }

    /// A copy of a plan folder and a cache of its own, removed at the end.
    final class Workspace {
        let folder: String
        var plan: String { folder + "/plan" }
        var cache: String { folder + "/cache" }
        var secretFile: String { folder + "/token" }

        init(copying source: String = CacheKeyTests.fixture) throws {
            folder = try TestSupport.temporaryFolder()
            // cp -a: links stay links, modes stay modes.
            let copy = try TestSupport.run("/bin/cp", ["-a", source, plan])
            guard copy.status == 0 else { throw TestSupport.ToolMissing(name: "cp -a: \(copy.stderr)") }
            try setSecret("token-\(UUID().uuidString)")
        }

        deinit { try? FileManager.default.removeItem(atPath: folder) }

        func setSecret(_ value: String) throws {
            try value.write(toFile: secretFile, atomically: false, encoding: .utf8)
        }

        /// `plan run --explain` on the copy, with the fixture's secret.
        func run(_ extra: [String] = [], secret: Bool = true) throws -> Explain {
            var arguments = ["run", plan, "--explain", "--progress", "plain", "--cache-dir", cache,
                             "--insecure-registry", CacheKeyTests.registry, "--arg", "REGISTRY=\(CacheKeyTests.registry)"]
            if secret { arguments += ["--secret", "id=token,src=\(secretFile)"] }
            return Explain(try TestSupport.plan(arguments + extra))
        }

        func path(_ relative: String) -> String { plan + "/" + relative }

        /// Rewrites a file in place (same inode and mode); `old` must occur in it.
        func edit(_ relative: String, replacing old: String, with new: String,
                  sourceLocation: SourceLocation = #_sourceLocation) throws {
            let text = try TestSupport.read(path(relative))
            #expect(text.contains(old), "`\(old)` is not in \(relative)", sourceLocation: sourceLocation)
            try text.replacingOccurrences(of: old, with: new).write(toFile: path(relative), atomically: false, encoding: .utf8)
        }

        func write(_ text: String, to relative: String) throws {
            try TestSupport.write(text, to: path(relative))
        }

        func relink(_ relative: String, to target: String) throws {
            try FileManager.default.removeItem(atPath: path(relative))
            try FileManager.default.createSymbolicLink(atPath: path(relative), withDestinationPath: target)
        }
    }

    /// A workspace whose first run built every step of the fixture.
    func built(sourceLocation: SourceLocation = #_sourceLocation) throws -> Workspace {
        let workspace = try Workspace()
        let first = try workspace.run()
        #expect(first.status == 0, "\(first.stderr)", sourceLocation: sourceLocation)
        #expect(first.misses == Self.allSteps, "\(first.lines)", sourceLocation: sourceLocation)
        #expect(Set(first.reasons.values) == ["not built before"], "\(first.reasons)", sourceLocation: sourceLocation)
        return workspace
    }

    /// The run succeeded, missed exactly `misses` and hit every other step of `all`, and gave these
    /// reasons for these steps.
    func expect(_ run: Explain, misses: Set<String>, of all: Set<String> = allSteps, reasons: [String: String] = [:],
                sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.status == 0, "\(run.stderr)", sourceLocation: sourceLocation)
        #expect(run.steps == all, "steps: \(run.lines)", sourceLocation: sourceLocation)
        #expect(run.misses == misses, "expected misses \(misses.sorted()), got \(run.lines)", sourceLocation: sourceLocation)
        #expect(run.hits == all.subtracting(misses), "\(run.lines)", sourceLocation: sourceLocation)
        for (step, reason) in reasons {
            #expect(run.reasons[step] == reason, "reason of \(step)", sourceLocation: sourceLocation)
        }
    }

    /// A context file that `build` copies and puts in its `app` artifact.
    static let appArtifactChange = buildSteps.subtracting(["build #1", "build #2"]).union(appAfterArtifact)

    // MARK: The context

    @Test("a context file's content: the copy that reads it and everything after it miss; other stages hit")
    func contextFileContent() throws {
        let workspace = try built()
        try workspace.edit("src/greeting.txt", replacing: "hello", with: "hi")
        expect(try workspace.run(), misses: Self.appArtifactChange, reasons: [
            "build #3": "src/greeting.txt changed", "build #4": "an earlier step changed",
            "app #3": "artifact build.app changed", "app #4": "an earlier step changed",
        ])
        expect(try workspace.run(), misses: [])
    }

    @Test("a remembered file digest is not trusted for a file rewritten with its old size and time")
    func rememberedDigestsFollowTheChangeTime() throws {
        let workspace = try Workspace()
        // Files changed in the last two seconds are not remembered across runs: let the copy settle.
        sleep(3)
        let first = try workspace.run()
        #expect(first.status == 0, "\(first.stderr)")
        let remembered = try JSONDecoder().decode(
            [String: String].self, from: Data(contentsOf: URL(fileURLWithPath: workspace.cache + "/build/file-digests.json")))
        #expect(remembered.count >= 5, "\(remembered)")
        // Same size, same modification time, different bytes: only the change time tells.
        let path = workspace.plan + "/src/greeting.txt"
        var before = stat()
        #expect(lstat(path, &before) == 0)
        try "HELLO from the fixture\n".write(toFile: path, atomically: false, encoding: .utf8)
        var times = [before.st_atim, before.st_mtim]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        var after = stat()
        #expect(lstat(path, &after) == 0 && after.st_size == before.st_size && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)
        expect(try workspace.run(), misses: Self.appArtifactChange, reasons: ["build #3": "src/greeting.txt changed"])
        expect(try workspace.run(), misses: [])
    }

    @Test("a context file's mode (chmod) is an input")
    func contextFileMode() throws {
        let workspace = try built()
        #expect(chmod(workspace.path("src/lib/util.txt"), 0o600) == 0)
        expect(try workspace.run(), misses: Self.appArtifactChange, reasons: [
            "build #3": "src/lib/util.txt changed", "app #3": "artifact build.app changed",
        ])
    }

    @Test("a file added to or removed from a copied folder")
    func fileAddedAndRemoved() throws {
        let workspace = try built()
        try workspace.write("new\n", to: "src/lib/extra.txt")
        expect(try workspace.run(), misses: Self.appArtifactChange, reasons: ["build #3": "src/lib/extra.txt added"])
        try FileManager.default.removeItem(atPath: workspace.path("src/lib/util.txt"))
        expect(try workspace.run(), misses: Self.appArtifactChange, reasons: ["build #3": "src/lib/util.txt removed"])
    }

    @Test("a symlink's target is an input, in the producer and in the consumer's own copy")
    func symlinkTarget() throws {
        let workspace = try built()
        try workspace.relink("src/current", to: "lib/util.txt")
        expect(try workspace.run(), misses: Self.appArtifactChange, reasons: ["build #3": "src/current changed"])
        try workspace.relink("config/current.ini", to: "other.ini")
        expect(try workspace.run(), misses: ["app #4", "app #5", "app #8", "app #9", "app #10"],
               reasons: ["app #4": "config/current.ini changed", "app #5": "an earlier step changed"])
    }

    @Test("touching every file (new modification times only) rebuilds nothing")
    func touchingRebuildsNothing() throws {
        let workspace = try built()
        let touch = try TestSupport.run("/bin/sh", ["-c", "find . -exec touch -h -d @1000000000 {} +"], in: workspace.plan)
        #expect(touch.status == 0, "\(touch.stderr)")
        var info = stat()
        #expect(stat(workspace.path("src/greeting.txt"), &info) == 0 && info.st_mtim.tv_sec == 1_000_000_000)
        expect(try workspace.run(), misses: [])
    }

    @Test("editing a file no stage copies rebuilds nothing")
    func uncopiedFileRebuildsNothing() throws {
        let workspace = try built()
        try workspace.edit("README.md", replacing: "A fixture.", with: "A fixture, edited.")
        try workspace.write("not in the plan\n", to: "notes/todo.txt")
        expect(try workspace.run(), misses: [])
    }

    @Test("a file the plan's `ignore` excludes, inside a copied folder, rebuilds nothing")
    func ignoredFileRebuildsNothing() throws {
        let workspace = try built()
        try workspace.write("scratch\n", to: "src/notes.tmp")
        try workspace.write("scratch\n", to: "src/lib/deep.tmp")
        try workspace.write("scratch\n", to: "config/editor.tmp")
        expect(try workspace.run(), misses: [])
        // And it is really left out: removing it changes nothing either.
        try FileManager.default.removeItem(atPath: workspace.path("src/notes.tmp"))
        expect(try workspace.run(), misses: [])
    }

    // MARK: The plan

    @Test("the run command's text")
    func runCommandText() throws {
        let workspace = try built()
        try workspace.edit("plan.yaml", replacing: #"echo "${FLAVOUR}" > /out/app/flavour"#,
                           with: #"echo "${FLAVOUR}" > /out/app/flavour.txt"#)
        expect(try workspace.run(), misses: Set(["build #5"]).union(Self.appAfterArtifact), reasons: [
            "build #5": #"the step changed: `run echo "${FLAVOUR}" > /out/app/flavour` → `run echo "${FLAVOUR}" > /out/app/flavour.txt`"#,
            "app #3": "artifact build.app changed",
        ])
    }

    @Test("an env value: a step-level env reaches the run steps after it; a stage-level one the whole stage")
    func envValue() throws {
        let workspace = try built()
        try workspace.edit("plan.yaml", replacing: "{COLOUR: blue}", with: "{COLOUR: red}")
        expect(try workspace.run(), misses: ["app #8", "app #9", "app #10"], reasons: [
            "app #8": "env COLOUR changed: `blue` → `red`", "app #9": "an earlier step changed",
            "app #10": "env COLOUR changed: `blue` → `red`",
        ])
        // `build` puts MODE into the app artifact (BUILD), not into the docs artifact: docs hits.
        try workspace.edit("plan.yaml", replacing: "MODE: release", with: "MODE: debug")
        expect(try workspace.run(), misses: Self.buildSteps.union(Self.appAfterArtifact), reasons: [
            "build #1": "env MODE changed: `release` → `debug`", "app #3": "artifact build.app changed",
        ])
    }

    @Test("a build argument (--arg) rebuilds from the first step that sees it; earlier copies hit")
    func buildArgument() throws {
        let workspace = try built()
        expect(try workspace.run(["--arg", "FLAVOUR=fancy"]), misses: Set(["build #4", "build #5"]).union(Self.appAfterArtifact),
               reasons: ["build #4": "arg FLAVOUR changed: `plain` → `fancy`", "build #5": "arg FLAVOUR changed: `plain` → `fancy`",
                         "app #3": "artifact build.app changed"])
        expect(try workspace.run(["--arg", "FLAVOUR=fancy"]), misses: [])
        // Back to the default: the first run's entries are still there.
        expect(try workspace.run(), misses: [])
    }

    @Test("the user, set by a step or by the stage")
    func user() throws {
        let workspace = try built()
        try workspace.edit("plan.yaml", replacing: "- user: root", with: "- user: app")
        expect(try workspace.run(), misses: ["app #8", "app #9", "app #10"], reasons: [
            "app #8": "user changed: `root` → `app`", "app #10": "user changed: `root` → `app`",
        ])
        // The stage's user applies after its workdir: the workdir step hits, the next step names the user.
        try workspace.edit("plan.yaml", replacing: #"user: "1000:1000""#, with: #"user: "1000:0""#)
        expect(try workspace.run(), misses: Self.appAfterArtifact, reasons: [
            "app #3": "user changed: `1000:1000` → `1000:0`", "app #4": "an earlier step changed",
        ])
    }

    @Test("workdir")
    func workdir() throws {
        let workspace = try built()
        try workspace.edit("plan.yaml", replacing: "- workdir: data", with: "- workdir: state")
        expect(try workspace.run(), misses: ["app #9", "app #10"], reasons: [
            "app #9": "the step changed: `workdir /app/data` → `workdir /app/state`",
            "app #10": "workdir changed: `/app/data` → `/app/state`",
        ])
    }

    @Test("the base image: the stage's first step names it")
    func baseImage() throws {
        let workspace = try built()
        // The same files as a Docker v2 manifest: another manifest digest.
        try workspace.edit("plan.yaml", replacing: "  app:\n    from: ${REGISTRY}/plan-test/busybox:stable\n",
                           with: "  app:\n    from: ${REGISTRY}/plan-test/busybox:stable-docker\n")
        let run = try workspace.run()
        expect(run, misses: Self.appSteps, reasons: ["app #3": "an earlier step changed"])
        let reason = run.reasons["app #1"] ?? ""
        #expect(reason.hasPrefix("the base changed: `image sha256:") && reason.contains("` → `image sha256:"), "\(reason)")
    }

    // MARK: Secrets

    @Test("a secret's value is never an input, and is in no file of the cache")
    func secretValue() throws {
        let workspace = try built()
        let first = try TestSupport.read(workspace.secretFile)
        let second = "token-\(UUID().uuidString)"
        try workspace.setSecret(second)
        expect(try workspace.run(), misses: [])
        // Built again with the new value: still only ids and places are stored.
        expect(try workspace.run(["--no-cache-filter", "build"]), misses: Self.buildSteps,
               reasons: ["build #4": "--no-cache-filter build"])
        for value in [first, second] {
            let grep = try TestSupport.run("/bin/grep", ["-r", "-a", "-l", "-F", value, workspace.cache])
            #expect(grep.status == 1 && grep.stdout.isEmpty, "the secret is in: \(grep.stdout) \(grep.stderr)")
        }
        // Whether it is given is an input: the run fails without it (it is required), not a hit —
        // before building anything.
        let without = try workspace.run(secret: false)
        #expect(without.status == 2)
        #expect(without.stderr.contains("needs secret `token` (`required: true`)"), "\(without.stderr)")
    }

    // MARK: Artifacts

    @Test("a producer rebuilt with the same artifact bytes leaves its consumers cached; other bytes do not")
    func artifactPrecision() throws {
        let workspace = try built()
        // A comment of build.sh: the build reads it but copies it into no artifact.
        try workspace.edit("build.sh", replacing: "# This comment", with: "# This edited comment")
        expect(try workspace.run(), misses: Self.buildSteps.subtracting(["build #1"]), reasons: [
            "build #2": "build.sh changed", "build #3": "an earlier step changed", "build #4": "an earlier step changed",
        ])
        // A command that writes the same bytes.
        try workspace.edit("plan.yaml", replacing: #"echo "${FLAVOUR}" > /out/app/flavour"#,
                           with: #"echo "${FLAVOUR}" >/out/app/flavour"#)
        expect(try workspace.run(), misses: ["build #5"])
        // VERSION reaches both artifacts.
        try workspace.edit("VERSION", replacing: "1.0.0", with: "1.0.1")
        expect(try workspace.run(), misses: Self.allSteps.subtracting(["build #1", "app #1"]), reasons: [
            "build #2": "VERSION changed", "app #3": "artifact build.app changed", "docs #0": "artifact build.docs changed",
        ])
    }

    @Test("monorepo: one service's change rebuilds that service and the targets that use its artifacts")
    func monorepo() throws {
        let workspace = try Workspace(copying: TestSupport.plans + "/monorepo")
        let first = try workspace.run(secret: false)
        #expect(first.status == 0, "\(first.stderr)")
        let all = first.steps  // the first run may already hit steps stages share (workdir, copy libs/common/)
        #expect(all.count == 22, "\(first.lines)")
        expect(try workspace.run(secret: false), misses: [], of: all)

        try workspace.edit("services/api/main.sh", replacing: "api service listening", with: "api listening")
        expect(try workspace.run(secret: false), misses: ["api-build #2", "api-build #3", "api #3"], of: all, reasons: [
            "api-build #2": "services/api/main.sh changed", "api-build #3": "an earlier step changed",
            "api #3": "artifact api-build.app changed",
        ])
        // The README only reaches the docs artifact: the web image hits, the docs image misses.
        try workspace.edit("services/web/README.md", replacing: "The web service", with: "The web front end")
        expect(try workspace.run(secret: false), misses: ["web-build #2", "web-build #3", "docs #3", "docs #4"], of: all, reasons: [
            "web-build #2": "services/web/README.md changed", "docs #3": "artifact web-build.docs changed",
            "docs #4": "an earlier step changed",
        ])
        // A file excluded by the plan's ignore, and one no stage copies.
        try workspace.write("scratch\n", to: "services/worker/notes.tmp")
        try workspace.write("# The monorepo\n", to: "README.md")
        expect(try workspace.run(secret: false), misses: [], of: all)
    }

    // MARK: Control

    @Test("--no-cache builds every step and stores the results: the next run hits")
    func noCache() throws {
        let workspace = try built()
        let run = try workspace.run(["--no-cache"])
        expect(run, misses: Self.allSteps)
        #expect(Set(run.reasons.values) == ["--no-cache"], "\(run.reasons)")
        expect(try workspace.run(), misses: [])
    }

    @Test("--no-cache-filter STAGE builds that stage only; an unknown stage is a usage error")
    func noCacheFilter() throws {
        let workspace = try built()
        let run = try workspace.run(["--no-cache-filter", "build"])
        // The rebuilt `build` makes the same artifacts: `app` and `docs` hit.
        expect(run, misses: Self.buildSteps)
        #expect(Set(run.reasons.values) == ["--no-cache-filter build"], "\(run.reasons)")
        let two = try workspace.run(["--no-cache-filter", "app", "--no-cache-filter", "docs"])
        expect(two, misses: Self.appSteps.union(Self.docsSteps), reasons: [
            "app #1": "--no-cache-filter app", "docs #0": "--no-cache-filter docs",
        ])
        expect(try workspace.run(), misses: [])

        let unknown = try workspace.run(["--no-cache-filter", "biuld"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("error: --no-cache-filter biuld: the plan has no stage `biuld`"), "\(unknown.stderr)")
        #expect(unknown.steps.isEmpty)
    }

    @Test("--no-cache-filter and --no-cache store the rebuilt producer's artifacts: consumers see what it made this time")
    func rebuiltArtifactsAreStoredAgain() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TestSupport.write("""
            version: 1
            allow: [root-target]
            args:
              REGISTRY: "\(Self.registry)"
            stages:
              stamp:
                from: ${REGISTRY}/plan-test/busybox:stable
                steps:
                  - run: mkdir -p /out && cat /proc/sys/kernel/random/uuid > /out/id
                artifacts:
                  out: /out
              use:
                from: ${REGISTRY}/plan-test/busybox:stable
                steps:
                  - artifact: stamp.out
                    to: /got/
            targets: [use]
            """, to: folder + "/plan/plan.yaml")
        func run(_ name: String, _ extra: [String]) throws -> Explain {
            Explain(try TestSupport.plan(["run", folder + "/plan", "--explain", "--cache-dir", folder + "/cache",
                                          "--insecure-registry", Self.registry,
                                          "--output", "type=artifacts,dest=\(folder)/\(name)/artifacts",
                                          "--output", "type=local,dest=\(folder)/\(name)/rootfs"] + extra))
        }
        func ids(_ name: String) throws -> (artifact: String, copied: String) {
            (try TestSupport.read(folder + "/\(name)/artifacts/stamp/out/id"), try TestSupport.read(folder + "/\(name)/rootfs/got/id"))
        }
        expect(try run("first", []), misses: ["stamp #0", "use #0"], of: ["stamp #0", "use #0"])
        let first = try ids("first")
        #expect(first.artifact == first.copied)

        // A producer that makes other bytes each time: rebuilt, its artifact changed, so the consumer misses.
        expect(try run("filtered", ["--no-cache-filter", "stamp"]), misses: ["stamp #0", "use #0"], of: ["stamp #0", "use #0"],
               reasons: ["stamp #0": "--no-cache-filter stamp", "use #0": "artifact stamp.out changed"])
        let filtered = try ids("filtered")
        #expect(filtered.artifact == filtered.copied)
        #expect(filtered.artifact != first.artifact)

        expect(try run("uncached", ["--no-cache"]), misses: ["stamp #0", "use #0"], of: ["stamp #0", "use #0"])
        let uncached = try ids("uncached")
        #expect(uncached.artifact == uncached.copied, "--output type=artifacts is what the consumer copied")
        #expect(uncached.artifact != filtered.artifact)

        expect(try run("again", []), misses: [], of: ["stamp #0", "use #0"])
        let again = try ids("again")
        #expect(again.artifact == uncached.artifact && again.copied == uncached.copied)
    }

    // MARK: Results

    @Test("a full-hit rebuild (and a --no-cache one) outputs the same tree and layers as the first build")
    func identicalResults() throws {
        let workspace = try Workspace()
        let all = Self.buildSteps.union(Self.appSteps)
        func build(_ name: String, _ extra: [String] = []) throws -> (run: Explain, local: [String], image: RunTests.Built, layers: [String]) {
            let out = workspace.folder + "/" + name
            let run = try workspace.run(["--target", "app", "--output", "type=local,dest=\(out)/rootfs",
                                         "--output", "type=oci,dest=\(out)/layout"] + extra)
            #expect(run.status == 0, "\(run.stderr)")
            let image = try RunTests.unpack(layout: out + "/layout", name: "latest", into: out + "/unpacked")
            return (run, try RunTests.tree(out + "/rootfs"), image, try Self.layerDigests(out + "/layout"))
        }
        let first = try build("first")
        expect(first.run, misses: all, of: all)
        #expect(first.local.contains { $0.hasPrefix("./app/lib/current l 777 1000:1000 greeting.txt") }, "\(first.local)")
        #expect(first.local.contains { $0.hasPrefix("./app/etc/current.ini l 777 0:0 app.ini") }, "\(first.local)")
        #expect(first.local == first.image.tree)

        let second = try build("second")
        expect(second.run, misses: [], of: all)
        #expect(second.local == first.local, "\(Set(second.local).symmetricDifference(first.local).sorted())")
        #expect(second.image.tree == first.image.tree)
        #expect(second.layers == first.layers, "a full hit exports the stored layers")
        #expect(NSDictionary(dictionary: second.image.config).isEqual(to: first.image.config))

        let third = try build("uncached", ["--no-cache"])
        expect(third.run, misses: all, of: all)
        #expect(third.local == first.local, "\(Set(third.local).symmetricDifference(first.local).sorted())")
        #expect(third.image.tree == first.image.tree)
    }

    /// The layer digests of the image in an OCI layout.
    static func layerDigests(_ layout: String) throws -> [String] {
        func json(_ path: String) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] ?? [:]
        }
        let index = try json(layout + "/index.json")
        let manifest = ((index["manifests"] as? [[String: Any]])?.first?["digest"] as? String) ?? ""
        let layers = try json(layout + "/blobs/sha256/" + manifest.replacingOccurrences(of: "sha256:", with: ""))["layers"]
        return (layers as? [[String: Any]] ?? []).compactMap { $0["digest"] as? String }
    }

    /// Two stages that make byte-identical artifacts in different ways share one stored tree.
    @Test func identicalArtifactsOfDifferentStagesAreStoredOnce() throws {
        let workspace = try Workspace()
        let plan = """
            version: 1
            name: twins
            args: {REGISTRY: "127.0.0.1:5555"}
            stages:
              left:
                from: ${REGISTRY}/plan-test/busybox:stable
                steps:
                  - run: mkdir -p /out && printf 'same bytes\\n' > /out/file && chmod 644 /out/file
                artifacts: {tree: /out}
              right:
                from: ${REGISTRY}/plan-test/busybox:stable
                steps:
                  - run: mkdir /out; echo 'same bytes' > /out/file; chmod 0644 /out/file; sleep 1; touch /out/file
                artifacts: {tree: /out}
              both:
                from: scratch
                steps:
                  - artifact: left.tree
                    to: /left/
                  - artifact: right.tree
                    to: /right/
            """
        try plan.write(toFile: workspace.plan + "/plan.yaml", atomically: true, encoding: .utf8)
        let first = try workspace.run([], secret: false)
        #expect(first.status == 0, "\(first.stderr)")
        // Each stage's artifact entry points at a tree; both trees are the same blob.
        var trees: [String: String] = [:]
        let refs = workspace.cache + "/build/refs"
        for key in try FileManager.default.contentsOfDirectory(atPath: refs) where key.count == 64 {
            let digest = try String(contentsOfFile: refs + "/" + key, encoding: .utf8)
            let blob = workspace.cache + "/build/blobs/sha256/" + digest.dropFirst("sha256:".count)
            let record = try JSONDecoder().decode(CacheRecord.self, from: Data(contentsOf: URL(fileURLWithPath: blob)))
            if record.description.hasSuffix(": artifact tree") { trees[record.description] = record.layer?.digest.description }
        }
        #expect(trees.count == 2, "\(trees)")
        #expect(Set(trees.values).count == 1, "\(trees)")
    }
}
