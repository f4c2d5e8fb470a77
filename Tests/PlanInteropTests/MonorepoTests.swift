import Foundation
import Testing

/// The monorepo example built with buildah (the other monorepo tests are in PlanEndToEndTests).
@Suite struct MonorepoTests {
    @Test("every target of the monorepo, compiled portable, builds with buildah from the local registry")
    func buildahBuildsEveryTarget() throws {
        let buildah = try TestSupport.tool("buildah")
        let registry = ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555"
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let context = folder + "/context"
        try FileManager.default.copyItem(atPath: TestSupport.plans + "/monorepo", toPath: context)
        let compile = try TestSupport.plan([
            "compile", context, "--dialect", "portable", "--arg", "REGISTRY=\(registry)", "-o", context + "/Containerfile",
        ])
        #expect(compile.status == 0, "\(compile.stderr)")
        let suffix = UUID().uuidString.lowercased().prefix(8)
        for target in ["api", "web", "worker", "docs"] {
            let tag = "localhost/plan-test-monorepo-\(target):\(suffix)"
            let build = try TestSupport.run(buildah, [
                "bud", "--isolation", "chroot", "--tls-verify=false", "--layers=false", "--target", target,
                "-f", context + "/Containerfile", "-t", tag, context,
            ])
            #expect(build.status == 0, "\(target):\n\(build.stdout.suffix(2000))\n\(build.stderr.suffix(2000))")
            guard build.status == 0 else { continue }
            defer { _ = try? TestSupport.run(buildah, ["rmi", "-f", tag]) }
            let container = try TestSupport.run(buildah, ["from", "--isolation", "chroot", tag])
            let name = container.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            defer { _ = try? TestSupport.run(buildah, ["rm", name]) }
            let command = target == "docs" ? ["ls", "/docs/api", "/docs/worker"] : ["/app/bin/run"]
            let run = try TestSupport.run(buildah, ["run", "--isolation", "chroot", name, "--"] + command)
            if target == "docs" {
                #expect(run.stdout == "/docs/api:\nREADME.md\n\n/docs/worker:\nREADME.md\n", "\(run.stderr)")
            } else {
                #expect(run.stdout == "[\(target)] \(target) service listening on port 8080\n", "\(run.stderr)")
            }
        }
    }
}
