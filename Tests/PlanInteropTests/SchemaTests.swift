import Foundation
import Testing
@testable import PlanLanguage

/// `schemas/plan.schema.json` must describe the language exactly as the parser reads it: every example
/// plan validates, every invalid fixture is rejected by both the schema and `plan check`, valid fixtures
/// in the lenient forms the parser accepts validate too, and the schema's keys are the parser's keys.
@Suite("JSON Schema")
struct SchemaTests {
    static let schemaPath = TestSupport.repoRoot + "/schemas/plan.schema.json"

    static func yamlFiles(in folder: String) -> [String] {
        let path = TestSupport.fixtures + "/" + folder
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        // `*.inc.yaml` files are fragments that fixtures include, not plans of their own.
        return names.filter { $0.hasSuffix(".yaml") && !$0.hasSuffix(".inc.yaml") }.sorted()
    }

    static var invalidFixtures: [String] { yamlFiles(in: "schema-invalid") }
    static var validFixtures: [String] { yamlFiles(in: "schema-valid") }

    /// The value of a `# KEY: value` comment line of a fixture.
    static func header(_ key: String, in text: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix("# \(key): ") {
            return String(line.dropFirst(key.count + 4)).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    static func checkJSONSchema(_ file: String) throws -> TestSupport.ProcessResult {
        let tool = try TestSupport.tool("check-jsonschema", environment: "PLAN_TEST_CHECK_JSONSCHEMA")
        return try TestSupport.run(tool, ["--schemafile", schemaPath, file], in: TestSupport.repoRoot)
    }

    /// The error codes `plan check --diagnostics-format json` reports for a file.
    static func planCheckErrors(_ file: String) throws -> (status: Int32, codes: [String], output: String) {
        let result = try TestSupport.plan(["check", "--diagnostics-format", "json", file])
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let diagnostics = object?["diagnostics"] as? [[String: Any]] ?? []
        let codes = diagnostics.filter { $0["severity"] as? String == "error" }.compactMap { $0["code"] as? String }
        return (result.status, codes, result.stdout + result.stderr)
    }

    static func loadSchema() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: schemaPath))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    // MARK: (a) the example plans

    @Test("every example plan validates against the schema", arguments: TestSupport.examplePlans())
    func exampleValidates(_ name: String) throws {
        let file = "plans/\(name)/plan.yaml"
        let result = try Self.checkJSONSchema(file)
        #expect(result.status == 0, "\(file) does not validate:\n\(result.stdout)\(result.stderr)")
    }

    @Test("the schema is a valid draft 2020-12 schema")
    func schemaIsValid() throws {
        let schema = try Self.loadSchema()
        #expect(schema["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
        #expect((schema["$id"] as? String)?.hasSuffix("/plan.schema.json") == true)
        let tool = try TestSupport.tool("check-jsonschema", environment: "PLAN_TEST_CHECK_JSONSCHEMA")
        let result = try TestSupport.run(tool, ["--check-metaschema", Self.schemaPath])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }

    // MARK: (b) invalid plans: rejected by the schema and by plan check

    @Test("the schema and plan check both reject each invalid plan", arguments: SchemaTests.invalidFixtures)
    func invalidRejected(_ name: String) throws {
        let file = "Tests/Fixtures/schema-invalid/\(name)"
        let text = try TestSupport.read(TestSupport.repoRoot + "/" + file)
        let expected = try #require(Self.header("expect", in: text), "\(name) lacks an `# expect: CODE` line")

        let schema = try Self.checkJSONSchema(file)
        #expect(schema.status == 1, "check-jsonschema accepted \(name) (status \(schema.status)):\n\(schema.stderr)")
        #expect(schema.stdout.contains("Schema validation errors were encountered"),
                "check-jsonschema failed on \(name) for another reason:\n\(schema.stdout)\(schema.stderr)")

        let plan = try Self.planCheckErrors(file)
        #expect(plan.status == 1, "plan check gave status \(plan.status) for \(name):\n\(plan.output)")
        #expect(plan.codes.contains(expected), "plan check reported \(plan.codes), not \(expected), for \(name)")
    }

    // MARK: Valid plans in every form the parser accepts

    @Test("the schema accepts what the parser accepts", arguments: SchemaTests.validFixtures)
    func validAccepted(_ name: String) throws {
        let file = "Tests/Fixtures/schema-valid/\(name)"
        let text = try TestSupport.read(TestSupport.repoRoot + "/" + file)
        let expected = try #require(Self.header("plan check", in: text), "\(name) lacks a `# plan check: …` line")

        let schema = try Self.checkJSONSchema(file)
        #expect(schema.status == 0, "check-jsonschema rejected \(name):\n\(schema.stdout)\(schema.stderr)")

        let plan = try Self.planCheckErrors(file)
        if expected == "ok" {
            #expect(plan.status == 0, "plan check rejected \(name):\n\(plan.output)")
        } else {
            // Parsed fine, but reported only with the expected code.
            #expect(plan.status == 1)
            #expect(!plan.codes.isEmpty && plan.codes.allSatisfy { $0 == expected },
                    "plan check reported \(plan.codes) for \(name), expected only \(expected)")
        }
    }
}
