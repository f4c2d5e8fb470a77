import Foundation
import PlanCompiler
import PlanDiagnostics
import Testing

/// Templates, `expand` and `include`: instances, parameters, and diagnostics that point at both the
/// template line and the `expand` entry.
@Suite struct TemplateTests {
    func compile(_ files: [String: String], dirs: [String] = []) throws -> CompileResult {
        try TestSupport.compile(files, folders: dirs)
    }

    @Test func crossProductWithFixedValuesAndDefaults() throws {
        let plan = """
            version: 1
            allow: [root-target]
            templates:
              image:
                params: {app: null, arch: null, base: "alpine:3.20", tag: null}
                stages:
                  ${{ app }}-${{ arch }}:
                    from: ${{ base }}
                    platform: linux/${{ arch }}
                    labels: {tag: "${{ tag }}"}
            expand:
              - template: image
                for:
                  app: [api, web]
                  arch: [amd64, arm64]
                with:
                  tag: v1
            """
        let result = try compile(["plan.yaml": plan])
        #expect(!result.hasErrors, "\(result.diagnostics)")
        let graph = try #require(result.graph)
        #expect(graph.stages.map(\.name) == ["api-amd64", "api-arm64", "web-amd64", "web-arm64"])
        #expect(graph.stages.allSatisfy { $0.base == .image("alpine:3.20") })
        #expect(graph.stages[1].platform == "linux/arm64")
        #expect(graph.stages[3].config.labels.first?.value == "v1")
    }

    @Test func dirsExpandOverContextFoldersInOrderAndSkipIgnoredOnes() throws {
        let plan = """
            version: 1
            allow: [root-target]
            ignore: [services/old]
            templates:
              svc:
                params: [service]
                stages:
                  ${{ service }}:
                    from: alpine:3.20
            expand:
              - template: svc
                for: {service: {dirs: "services/*"}}
            """
        let result = try compile(["plan.yaml": plan, "services/readme.txt": "not a folder"],
                                 dirs: ["services/web", "services/api", "services/old"])
        #expect(result.graph?.stages.map(\.name) == ["api", "web"])
    }

    @Test func monorepoExampleExpandsEveryService() throws {
        let result = Compiler().compile(planAt: TestSupport.plans + "/monorepo/plan.yaml")
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        let graph = try #require(result.graph)
        #expect(Set(graph.stages.map(\.name)) == ["api-build", "api", "web-build", "web", "worker-build", "worker", "docs"])
        #expect(graph.targets == ["docs", "api", "web", "worker"])
        #expect(graph.planFiles.map { ($0 as NSString).lastPathComponent } == ["plan.yaml", "templates.yaml"])
    }

    @Test func oneTemplateLineReportsOncePerFailingInstance() throws {
        let plan = """
            version: 1
            context: .
            allow: [root-target]
            templates:
              svc:
                params: [service]
                stages:
                  ${{ service }}:
                    from: alpine:3.20
                    workdir: /app
                    steps:
                      - copy: missing/${{ service }}.txt
            expand:
              - template: svc
                for: {service: [a, b]}
            """
        let result = try compile(["plan.yaml": plan])
        let errors = result.diagnostics.filter { $0.code == .contextPathMissing }
        #expect(errors.count == 2)
        #expect(errors.map { $0.location?.line } == [12, 12])
        #expect(errors.compactMap { $0.notes.last?.message } == [
            "in instance service=a of template `svc`", "in instance service=b of template `svc`",
        ])
    }

    @Test func includesMergeArgsStagesAndTemplatesOncePerFile() throws {
        let result = try compile([
            "plan.yaml": """
                version: 1
                allow: [root-target]
                include: [parts/a.yaml, parts/b.yaml]
                expand:
                  - template: svc
                    with: {service: api}
                """,
            "parts/a.yaml": "include: [common.yaml]\ntemplates:\n  svc:\n    params: [service]\n    stages:\n      ${{ service }}:\n        from: ${BASE}\n",
            "parts/b.yaml": "include: [common.yaml]\nstages:\n  tools:\n    from: ${BASE}\n",
            "parts/common.yaml": "args:\n  BASE: alpine:3.20\n",
        ])
        #expect(!result.hasErrors, "\(result.diagnostics)")
        #expect(result.graph?.stages.map(\.name) == ["tools", "api"])
        #expect(result.graph?.arguments.map(\.name) == ["BASE"])
        #expect(result.sources[(result.graph?.planFiles.last) ?? ""] != nil)
    }

    @Test func fragmentsMayNotSetPlanWideKeys() throws {
        let result = try compile([
            "plan.yaml": "version: 1\ninclude: [part.yaml]\nstages:\n  app:\n    from: alpine:3.20\n",
            "part.yaml": "name: other\ntargets: [app]\n",
        ])
        let codes = result.diagnostics.map(\.code.id)
        #expect(codes.filter { $0 == "E0101" }.count == 2)
        #expect(result.diagnostics.first?.help?.contains("an included file contributes only") == true)
    }

    @Test func aStageMadeTwiceByInstancesNamesBothInstances() throws {
        let plan = """
            version: 1
            allow: [root-target]
            templates:
              svc:
                params: [service]
                stages:
                  ${{ service }}:
                    from: alpine:3.20
            expand:
              - template: svc
                for: {service: [api, web]}
              - template: svc
                with: {service: api}
            """
        let result = try compile(["plan.yaml": plan])
        let duplicate = try #require(result.diagnostics.first { $0.code == .duplicateStage })
        #expect(duplicate.location?.line == 7)
        #expect(duplicate.notes.map(\.message) == [
            "in instance service=api of template `svc`", "first defined here",
            "that place is in instance service=api of template `svc`",
        ])
        #expect(duplicate.notes.map { $0.location?.line } == [12, 7, 10])
    }
}
