import Foundation
import PlanCompiler
import PlanDockerfile
import PlanImport
import PlanTestKit
import Testing

/// `plan import` on real multi-stage Dockerfiles (Tests/Fixtures/import/real/*/, each with a SOURCE file),
/// and on bad input through the `plan` binary.
@Suite("Interop: plan import")
struct ImportRoundTripTests {
    static let fixtures = TestSupport.fixtures + "/import/real"
    static let names: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: fixtures)) ?? []).sorted()

    struct ParsedInstruction: Decodable {
        var cmd: String
        var flags: [String]?
    }

    static func buildkitParse(_ path: String) throws -> [ParsedInstruction]? {
        let parser = TestSupport.repoRoot + "/scripts/dockerfile-parse"
        let python = try TestSupport.tool("python3", environment: "PLAN_TEST_PYTHON")
        let result = try TestSupport.run(python, [parser, path])
        #expect(result.status == 0, "\(path): \(result.stderr)")
        return try? JSONDecoder().decode([ParsedInstruction].self, from: Data(result.stdout.utf8))
    }

    /// A context holding a stub for every path the Dockerfile copies from the context (the fixtures keep
    /// only the Dockerfile): a folder for `dir/`, a file otherwise, `x` for each `*`.
    static func stubContext(for dockerfile: Dockerfile, at folder: String) throws {
        var all: [String] = []
        for instruction in dockerfile.instructions where ["COPY", "ADD"].contains(instruction.keyword) {
            guard instruction.flag("from") == nil, instruction.heredocs.isEmpty else { continue }
            let words: [String]
            switch instruction.arguments {
            case .exec(let list): words = list
            case .shell(let text): words = DockerfileWords.split(text, escape: dockerfile.escape).map { DockerfileWords.unquote($0, escape: dockerfile.escape) }
            }
            for source in words.dropLast() where !source.contains("://") && !source.contains("$") {
                let relative = source.replacingOccurrences(of: "*", with: "x").split(separator: "/").filter { $0 != "." }.joined(separator: "/")
                guard !relative.isEmpty else { continue }
                all.append(source.hasSuffix("/") ? relative + "/" : relative)
            }
        }
        // Context paths that RUN --mount=type=bind reads (no `from`).
        for instruction in dockerfile.instructions where instruction.keyword == "RUN" {
            for flag in instruction.flags where flag.name == "mount" {
                let options = Self.mountOptions(flag.value ?? "")
                guard (options["type"] ?? "bind") == "bind", options["from"] == nil,
                      let source = options["source"] ?? options["src"], !source.contains("$") else { continue }
                let relative = source.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
                if !relative.isEmpty { all.append(relative) }
            }
        }
        // A path another one lies under is a folder.
        for source in all {
            let relative = source.hasSuffix("/") ? String(source.dropLast()) : source
            do {
                let path = folder + "/" + relative
                if source.hasSuffix("/") || all.contains(where: { $0.hasPrefix(relative + "/") }) {
                    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                    FileManager.default.createFile(atPath: path + "/stub", contents: Data("stub\n".utf8))
                } else if !FileManager.default.fileExists(atPath: path) {
                    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    FileManager.default.createFile(atPath: path, contents: Data("stub\n".utf8))
                }
            }
        }
    }

    /// A `--mount=` value's options, keys lower-cased, a bare key `true`.
    static func mountOptions(_ value: String) -> [String: String] {
        var options: [String: String] = [:]
        for part in value.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            options[pair[0].lowercased()] = pair.count > 1 ? pair[1] : "true"
        }
        return options
    }

    /// The mount types of each RUN, in order (type=bind when not written), from BuildKit's parse.
    static func mountTypes(_ list: [ParsedInstruction]) -> [[String]] {
        list.filter { $0.cmd.lowercased() == "run" }.map { run in
            (run.flags ?? []).filter { $0.hasPrefix("--mount=") }
                .map { mountOptions(String($0.dropFirst("--mount=".count)))["type"] ?? "bind" }.sorted()
        }
    }

    /// Import → `plan check` (the library checker) has no errors → compile → BuildKit's parser reads the
    /// original and the compiled Dockerfile. Compared so far: the number of stages (FROM) and of RUN
    /// instructions, which import keeps one for one (RUN flags it cannot carry are warnings).
    @Test("import, check, compile and parse a real Dockerfile", arguments: names)
    func roundTrip(_ name: String) throws {
        let original = Self.fixtures + "/" + name + "/Dockerfile"
        #expect(FileManager.default.fileExists(atPath: Self.fixtures + "/" + name + "/SOURCE"), "\(name) has no SOURCE")
        let data = try #require(FileManager.default.contents(atPath: original))
        let parsed = DockerfileParser().parse(data: Array(data), path: original)
        let dockerfile = try #require(parsed.dockerfile, "\(parsed.diagnostics)")
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let context = folder + "/context"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try Self.stubContext(for: dockerfile, at: context)
        let options = ImportOptions(context: "context", isContextFolder: { path in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: context + "/" + path, isDirectory: &isDirectory) else { return nil }
            return isDirectory.boolValue
        })
        let result = PlanImporter(options: options).importPlan(dockerfile)
        let plan = try #require(result.plan, "\(result.diagnostics)")
        try TestSupport.write(plan, to: folder + "/plan.yaml")
        let compiled = Compiler(options: CompileOptions()).compile(planAt: folder + "/plan.yaml")
        let errors = compiled.diagnostics.filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(name): \(errors.map { "\($0.location.map(String.init(describing:)) ?? ""): \($0.message)" })\n\(plan)")
        let graph = try #require(compiled.graph)
        try TestSupport.write(DockerfileWriter().dockerfile(for: graph), to: folder + "/Dockerfile")
        let before = try #require(try Self.buildkitParse(original))
        let after = try #require(try Self.buildkitParse(folder + "/Dockerfile"))
        func count(_ list: [ParsedInstruction], _ command: String) -> Int { list.count { $0.cmd.lowercased() == command } }
        #expect(count(after, "from") == count(before, "from"), "\(name): stages")
        #expect(count(after, "run") == count(before, "run"), "\(name): RUN instructions")
        // Every cache, secret, bind, tmpfs and ssh mount is carried, RUN by RUN, except those import says it drops.
        let dropped = result.diagnostics.count { $0.message.hasPrefix("RUN --mount") }
        let (mountsBefore, mountsAfter) = (Self.mountTypes(before), Self.mountTypes(after))
        #expect(mountsBefore.count == mountsAfter.count)
        for (original, carried) in zip(mountsBefore, mountsAfter) {
            #expect(carried.allSatisfy { type in carried.count { $0 == type } <= original.count { $0 == type } },
                    "\(name): \(carried) is not part of \(original)")
        }
        #expect(mountsBefore.joined().count - mountsAfter.joined().count == dropped, "\(name): RUN --mount types")
    }

    @Test("bad input: a located syntax error, an empty file, a binary file; nothing written")
    func badInput() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cases: [(String, [UInt8], String)] = [
            ("syntax", Array("FROM alpine:3.20\nRUN <<EOF\necho never closed\n".utf8), "Dockerfile:2:1: error[E1001]: unterminated heredoc"),
            ("unknown", Array("FROM alpine:3.20\nCOPPY a b\n".utf8), "Dockerfile:2:1: error[E1002]: unknown instruction: COPPY (did you mean copy?)"),
            ("empty", [], "error[E1003]: the Dockerfile is empty"),
            ("binary", [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x00, 0x00], "error[E1003]: this is a binary file"),
        ]
        for (name, bytes, message) in cases {
            let input = folder + "/\(name)/Dockerfile"
            try FileManager.default.createDirectory(atPath: folder + "/\(name)", withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: input, contents: Data(bytes))
            let output = folder + "/\(name)/plan.yaml"
            let result = try TestSupport.plan(["import", input, "-o", output])
            #expect(result.status == 1, "\(name): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(name): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output), "\(name): a plan was written")
        }
        // An existing file is not replaced without --force.
        let input = folder + "/ok/Dockerfile"
        try FileManager.default.createDirectory(atPath: folder + "/ok", withIntermediateDirectories: true)
        try TestSupport.write("FROM alpine:3.20\nUSER 1000\n", to: input)
        try TestSupport.write("hand-written\n", to: folder + "/ok/plan.yaml")
        let refused = try TestSupport.plan(["import", input, "-o", folder + "/ok/plan.yaml"])
        #expect(refused.status == 2)
        #expect(try TestSupport.read(folder + "/ok/plan.yaml") == "hand-written\n")
        let forced = try TestSupport.plan(["import", input, "-o", folder + "/ok/plan.yaml", "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try TestSupport.read(folder + "/ok/plan.yaml").contains("from: alpine:3.20"))
    }
}
