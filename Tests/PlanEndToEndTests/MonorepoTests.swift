import Foundation
import Testing

/// The monorepo example through every output: Dockerfile, bake file, graph, affected targets, and a real
/// build of every target with buildah. Serialized: several tests write the same output folder.
@Suite(.serialized) struct MonorepoTests {
    static let outDirectory = ".build/plan-golden/monorepo"

    func compileOutDirectory(_ extra: [String] = [], in directory: String? = nil) throws -> TestSupport.ProcessResult {
        try TestSupport.plan(["compile", "plans/monorepo", "--out-dir", Self.outDirectory] + extra, in: directory)
    }

    func golden(_ actual: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try TestSupport.expectGolden(actual, name, sourceLocation: sourceLocation)
    }

    struct BakeFile: Decodable {
        struct Group: Decodable { var targets: [String] }
        struct Target: Decodable {
            var context: String
            var dockerfile: String
            var target: String
            var args: [String: String]?
            var tags: [String]
            var platforms: [String]?
        }
        var group: [String: Group]
        var target: [String: Target]
    }

    @Test("--out-dir writes the Dockerfile, both ignore files and the golden bake file")
    func outDirectory() throws {
        let result = try compileOutDirectory()
        #expect(result.status == 0, "\(result.stderr)")
        let folder = TestSupport.repoRoot + "/" + Self.outDirectory
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(files == [".dockerignore", "Dockerfile", "Dockerfile.dockerignore", "docker-bake.json"])
        try golden(try TestSupport.read(folder + "/docker-bake.json"), "monorepo.docker-bake.json")
        let dockerfile = try TestSupport.read(folder + "/Dockerfile")
        #expect(dockerfile == (try TestSupport.plan(["compile", "plans/monorepo"])).stdout)
        #expect(try TestSupport.read(folder + "/.dockerignore") == (try TestSupport.read(folder + "/Dockerfile.dockerignore")))
    }

    @Test("the bake file has bake's documented JSON form, field by field")
    func bakeFields() throws {
        #expect(try compileOutDirectory(["--tag-prefix", "registry.example/team/", "--platform", "linux/amd64",
                                         "--platform", "linux/arm64"]).status == 0)
        let folder = TestSupport.repoRoot + "/" + Self.outDirectory
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/docker-bake.json"))
        // Only keys bake defines.
        let raw = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(raw.keys) == ["group", "target"])
        let rawTargets = try #require(raw["target"] as? [String: [String: Any]])
        for (_, fields) in rawTargets {
            #expect(Set(fields.keys).isSubset(of: ["context", "dockerfile", "target", "args", "tags", "platforms"]))
        }
        let bake = try JSONDecoder().decode(BakeFile.self, from: data)
        #expect(bake.group["default"]?.targets == ["docs", "api", "web", "worker"])
        #expect(Set(bake.target.keys) == ["docs", "api", "web", "worker"])

        // Every bake target is a stage of the Dockerfile, as BuildKit's parser reads it.
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        let parsed = try TestSupport.run(python, [TestSupport.repoRoot + "/scripts/dockerfile-parse", "--strict",
                                                  folder + "/Dockerfile"])
        #expect(parsed.status == 0, "\(parsed.stderr)")
        let instructions = try JSONSerialization.jsonObject(with: Data(parsed.stdout.utf8)) as? [[String: Any]] ?? []
        let stages = Set(instructions.filter { ($0["cmd"] as? String)?.lowercased() == "from" }
            .compactMap { ($0["value"] as? [String])?.last })
        for (name, target) in bake.target.sorted(by: { $0.key < $1.key }) {
            #expect(target.target == name)
            #expect(stages.contains(target.target), "bake target \(name) is no stage of the Dockerfile")
            #expect(target.tags == ["registry.example/team/\(name):latest"])
            #expect(target.platforms == ["linux/amd64", "linux/arm64"])
            #expect(target.args == ["REGISTRY": "127.0.0.1:5555"])
            // context is relative to where bake runs (here the repository root); dockerfile to the context.
            #expect(target.context == "plans/monorepo")
            let resolved = URL(fileURLWithPath: TestSupport.repoRoot + "/" + target.context + "/" + target.dockerfile)
                .standardizedFileURL.path
            #expect(resolved == URL(fileURLWithPath: folder + "/Dockerfile").standardizedFileURL.path)
        }
    }

    @Test("usage errors of the bake options")
    func bakeUsage() throws {
        #expect(try TestSupport.plan(["compile", "plans/monorepo", "--tag-prefix", "x/"]).status == 2)
        #expect(try TestSupport.plan(["compile", "plans/monorepo", "-o", "x", "--out-dir", "y"]).status == 2)
        #expect(try compileOutDirectory(["--platform", "linux/amd65"]).status == 2)
    }

    @Test("plan graph draws stages, artifact edges and targets")
    func graph() throws {
        let mermaid = try TestSupport.plan(["graph", "plans/monorepo"])
        #expect(mermaid.status == 0)
        try golden(mermaid.stdout, "monorepo.graph.mmd")
        let dot = try TestSupport.plan(["graph", "plans/monorepo", "--format", "dot"])
        try golden(dot.stdout, "monorepo.graph.dot")
        #expect(dot.stdout.contains("-> s1 [label=\"app\"]"))
        #expect(dot.stdout.contains("[label=\"docs\", peripheries=2, style=bold]"))
        let render = try TestSupport.run(try TestSupport.tool("dot"), ["-Tsvg"], input: Data(dot.stdout.utf8))
        #expect(render.status == 0, "\(render.stderr)")
        #expect(render.stdout.contains("<svg"))
    }

    /// A git work tree holding a copy of the monorepo example, committed once.
    func repository() throws -> String {
        let folder = try TestSupport.temporaryFolder()
        try FileManager.default.copyItem(atPath: TestSupport.plans + "/monorepo", toPath: folder + "/repo")
        try TestSupport.write("# The monorepo\n", to: folder + "/repo/README.md")
        let git = try TestSupport.tool("git")
        for arguments in [["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"]] {
            let result = try TestSupport.run(git, arguments, in: folder + "/repo")
            #expect(result.status == 0, "\(result.stderr)")
        }
        return folder
    }

    func affected(_ repo: String, _ extra: [String] = []) throws -> [String] {
        let result = try TestSupport.plan(["affected", repo + "/repo/plan.yaml", "--since", "HEAD"] + extra)
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout.split(separator: "\n").map(String.init)
    }

    @Test("plan affected follows context files through artifacts to targets")
    func affectedTargets() throws {
        let folder = try repository()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let repo = folder + "/repo"
        #expect(try affected(folder).isEmpty)

        try TestSupport.write("# changed\n", to: repo + "/README.md")        // copied by no stage
        try TestSupport.write("scratch\n", to: repo + "/services/api/notes.tmp")  // excluded by `ignore`
        #expect(try affected(folder).isEmpty)

        try TestSupport.write("main() { :; }\n", to: repo + "/services/api/main.sh")
        #expect(try affected(folder) == ["docs", "api"])                      // docs copies api-build.docs
        let json = try TestSupport.plan(["affected", repo, "--since", "HEAD", "--format", "json"])
        #expect(json.stdout == "[\"docs\", \"api\"]\n")

        try TestSupport.write("2.2.0\n", to: repo + "/libs/common/VERSION")   // shared by every service
        #expect(try affected(folder) == ["docs", "api", "web", "worker"])
    }

    @Test("a change to a plan file affects every target, and --affected-since adds a bake group")
    func affectedByPlanChange() throws {
        let folder = try repository()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let repo = folder + "/repo"
        try TestSupport.write("main() { :; }\n", to: repo + "/services/worker/main.sh")
        let out = folder + "/out"
        let compile = try TestSupport.plan(["compile", repo, "--out-dir", out, "--affected-since", "HEAD"], in: repo)
        #expect(compile.status == 0, "\(compile.stderr)")
        let bake = try JSONDecoder().decode(BakeFile.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/docker-bake.json")))
        #expect(bake.group["affected"]?.targets == ["docs", "worker"])

        var templates = try TestSupport.read(repo + "/templates.yaml")
        templates += "\n"
        try TestSupport.write(templates, to: repo + "/templates.yaml")
        #expect(try affected(folder) == ["docs", "api", "web", "worker"])

        let badRef = try TestSupport.plan(["affected", repo, "--since", "no-such-ref"])
        #expect(badRef.status == 2)
        #expect(badRef.stderr.contains("error: unknown revision `no-such-ref`: the git repository at "), "\(badRef.stderr)")
        #expect(badRef.stderr.contains("\nhelp: name a branch, tag or commit that exists here"), "\(badRef.stderr)")
        #expect(!badRef.stderr.contains("exit 1"), "\(badRef.stderr)")
        let badSince = try TestSupport.plan(["compile", repo, "--out-dir", out, "--affected-since", "no-such-ref"])
        #expect(badSince.stderr.contains("unknown revision `no-such-ref`"), "\(badSince.stderr)")
        let outside = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: outside) }
        try FileManager.default.copyItem(atPath: TestSupport.plans + "/monorepo", toPath: outside + "/repo")
        let noGit = try TestSupport.plan(["affected", outside + "/repo", "--since", "HEAD"])
        #expect(noGit.status == 2)
        #expect(noGit.stderr.contains("is not in a git work tree"), "\(noGit.stderr)")
    }
}
