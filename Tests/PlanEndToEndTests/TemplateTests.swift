import Foundation
import Testing

/// Template diagnostics as `plan check` prints them (the in-process template tests are in PlanUnitTests).
@Suite struct TemplateTests {
    @Test func anErrorInsideAnInstanceNamesTheInstanceAndTheExpandEntry() throws {
        let path = TestSupport.fixtures + "/checks/E0501-inside-instance.yaml"
        let result = try TestSupport.plan(["check", path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("""
            \(path):12:19: error[E0501]: `services/db/` does not exist in the build context
               |
            12 |           - copy: services/${{ service }}/
               |                   ^^^^^^^^^^^^^^^^^^^^^^^^
               = note: \(path):17:5: in instance service=db of template `svc`
            """), "\(result.stderr)")
        // The instances that are fine report nothing.
        #expect(!result.stderr.contains("service=api"))
    }

    @Test func unquotedParameterInsideBracketsGetsTheFix() throws {
        let path = TestSupport.fixtures + "/checks/E0003-flow-parameter.yaml"
        let result = try TestSupport.plan(["check", path])
        #expect(result.stderr.contains(
            "help: YAML reads `{` inside `[ ]` or `{ }` as the start of a mapping, so `${{ … }}` there must be quoted: "
                + "write `entrypoint: [\"/bin/${{ service }}\"]`"))
    }
}
