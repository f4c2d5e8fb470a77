import Foundation
import Testing
@testable import PlanLanguage
import PlanValues

/// `schemas/plan.schema.json` read in-process: the examples name it, the fixtures exist, and the schema's keys are
/// the parser's keys. Validation with check-jsonschema, beside `plan check`, is in PlanInteropTests.
@Suite("JSON Schema")
struct SchemaTests {
    static let schemaPath = TestSupport.repoRoot + "/schemas/plan.schema.json"

    static let schemaLine = "# yaml-language-server: $schema=../../schemas/plan.schema.json"

    static func yamlFiles(in folder: String) -> [String] {
        let path = TestSupport.fixtures + "/" + folder
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        // `*.inc.yaml` files are fragments that fixtures include, not plans of their own.
        return names.filter { $0.hasSuffix(".yaml") && !$0.hasSuffix(".inc.yaml") }.sorted()
    }

    static var invalidFixtures: [String] { yamlFiles(in: "schema-invalid") }

    static var validFixtures: [String] { yamlFiles(in: "schema-valid") }

    static func loadSchema() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: schemaPath))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func propertyNames(_ object: Any?) -> Set<String> {
        Set(((object as? [String: Any])?["properties"] as? [String: Any])?.keys.map { $0 } ?? [])
    }

    @Test("there are example plans")
    func examplesExist() {
        #expect(!TestSupport.examplePlans().isEmpty)
    }

    @Test("every example plan names the schema for editors", arguments: TestSupport.examplePlans())
    func exampleNamesSchema(_ name: String) throws {
        let text = try TestSupport.read(TestSupport.plans + "/\(name)/plan.yaml")
        let first = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        #expect(first == Self.schemaLine, "plans/\(name)/plan.yaml should start with `\(Self.schemaLine)`")
    }

    @Test("there are invalid fixtures")
    func invalidFixturesExist() {
        #expect(Self.invalidFixtures.count >= 12)
    }

    @Test("there are valid fixtures")
    func validFixturesExist() {
        #expect(!Self.validFixtures.isEmpty)
    }

    @Test("top-level and stage keys match the parser")
    func keysMatchParser() throws {
        let schema = try Self.loadSchema()
        let defs = try #require(schema["$defs"] as? [String: Any])
        #expect(Self.propertyNames(schema) == Set(PlanParser.topLevelKeys))
        #expect(Self.propertyNames(defs["stage"]) == Set(PlanParser.stageKeys))
    }

    @Test("step kinds and their options match the parser")
    func stepsMatchParser() throws {
        let schema = try Self.loadSchema()
        let defs = try #require(schema["$defs"] as? [String: Any])
        let step = try #require(defs["step"] as? [String: Any])
        let branches = try #require(step["oneOf"] as? [[String: Any]])
        var kinds: [String] = []
        for branch in branches {
            let reference = try #require(branch["$ref"] as? String)
            let definition = try #require(defs[String(reference.dropFirst("#/$defs/".count))] as? [String: Any])
            #expect(definition["additionalProperties"] as? Bool == false, "\(reference) must be strict")
            let required = try #require(definition["required"] as? [String])
            let kind = try #require(required.first)
            kinds.append(kind)
            let options = PlanParser.optionKeys[kind] ?? []
            #expect(Self.propertyNames(definition) == Set([kind] + options), "options of `\(kind)` steps")
        }
        #expect(Set(kinds) == Set(StepAction.keys))
        #expect(kinds.count == StepAction.keys.count)

        let healthcheck = try #require((defs["healthcheck"] as? [String: Any])?["oneOf"] as? [[String: Any]])
        let object = healthcheck.first { $0["type"] as? String == "object" }
        #expect(Self.propertyNames(object) == Set(PlanParser.healthcheckKeys))
    }

    @Test("every property has a description")
    func everyPropertyDescribed() throws {
        var missing: [String] = []
        func walk(_ node: Any, path: String) {
            if let object = node as? [String: Any] {
                if let properties = object["properties"] as? [String: Any] {
                    for (key, value) in properties {
                        if (value as? [String: Any])?["description"] == nil { missing.append(path + "/" + key) }
                    }
                }
                for (key, value) in object { walk(value, path: path + "/" + key) }
            } else if let array = node as? [Any] {
                for (index, value) in array.enumerated() { walk(value, path: path + "/\(index)") }
            }
        }
        walk(try Self.loadSchema(), path: "#")
        #expect(missing.isEmpty, "properties without a description: \(missing.sorted())")
    }

    /// The pattern of a `platforms` entry (`$defs/linuxPlatform`): what the checker accepts (`Platform.parseLinuxImagePlatform`, E0612 else).
    static func platformPattern() throws -> NSRegularExpression {
        let schema = try loadSchema()
        let platform = (schema["$defs"] as? [String: Any])?["linuxPlatform"] as? [String: Any]
        let pattern = try #require(platform?["pattern"] as? String)
        return try NSRegularExpression(pattern: pattern)
    }

    /// Every spelling of every architecture Go knows, with and without `linux/` and variants.
    static var platformCandidates: [String] {
        let architectures = Platform.knownArchitectures + ["x86_64", "x86-64", "aarch64", "armhf", "armel", "i386", "i686", "sparcv9"]
        let variants = [nil, "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v99", "5", "6", "7", "8", "v8.0", "v8.2", "x"]
        var candidates = ["", "linux", "linux/", "/amd64", "linux/amd64/", "linux/amd64/v2/x", "linux//amd64"]
        for architecture in architectures {
            candidates.append(architecture)
            for os in ["linux", "windows", "darwin", "freebsd"] {
                for variant in variants {
                    candidates.append(os + "/" + architecture + (variant.map { "/" + $0 } ?? ""))
                }
            }
        }
        return candidates
    }

    @Test("the schema's platform pattern accepts exactly the platforms plan check accepts")
    func platformPatternMatchesChecker() throws {
        let regex = try Self.platformPattern()
        func schemaAccepts(_ text: String) -> Bool {
            regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
        }
        func checkerAccepts(_ text: String) -> Bool {
            if case .success = Platform.parseLinuxImagePlatform(text) { return true }
            return false
        }
        var accepted = 0
        for candidate in Self.platformCandidates {
            // containerd replaces the variant after armhf and armel (v7, v6) whatever it is; the schema asks for none.
            let replacedVariant = candidate.hasPrefix("linux/armhf/") || candidate.hasPrefix("linux/armel/")
            if replacedVariant {
                #expect(!schemaAccepts(candidate) && checkerAccepts(candidate), "\(candidate)")
                continue
            }
            #expect(schemaAccepts(candidate) == checkerAccepts(candidate),
                    "`\(candidate)`: schema \(schemaAccepts(candidate)), plan check \(checkerAccepts(candidate))")
            if schemaAccepts(candidate) { accepted += 1 }
        }
        #expect(accepted > 30)
        // The issue's bad input, refused by both.
        for bad in ["linux/sparc", "windows/amd64", "linux/arm64/v99"] {
            #expect(!schemaAccepts(bad) && !checkerAccepts(bad), "\(bad)")
        }
        // plan, like containerd, also takes capitals (`Linux/AMD64`); the schema asks for the usual lowercase.
        #expect(checkerAccepts("Linux/AMD64") && !schemaAccepts("Linux/AMD64"))
    }
}
