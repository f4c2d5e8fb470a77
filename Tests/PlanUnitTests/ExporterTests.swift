import Foundation
@testable import PlanCompiler
@testable import PlanExecutor
import Testing

/// Each `--output` kind is one exporter behind one protocol; the shared pre-build rules run for every
/// exporter, and each exporter's own check for its own destination.
@Suite struct ExporterTests {
    static func plan(_ folder: String, targets: [String] = ["app"]) -> BoundPlan {
        BoundPlan(planName: "demo", planFile: "plan.yaml", planFiles: ["plan.yaml"], contextDirectory: folder + "/context", ignore: [],
                  platform: .host, arguments: [], stages: [], targets: targets, images: [])
    }

    static func options(_ folder: String) -> RunOptions {
        RunOptions(cacheDirectory: folder + "/cache")
    }

    @Test func everyOutputSpecMapsToItsExporter() throws {
        let oci = try OutputSpec(parsing: "type=oci,dest=out").exporter
        #expect((oci as? OCIExporter)?.writesArchive == false)
        let archive = try OutputSpec(parsing: "type=oci,dest=image.tar").exporter
        #expect((archive as? OCIExporter)?.writesArchive == true)
        let docker = try OutputSpec(parsing: "type=docker,dest=image.tar").exporter
        #expect(docker is DockerArchiveExporter)
        let local = try #require(try OutputSpec(parsing: "type=local,dest=root,merge=true").exporter as? LocalExporter)
        #expect(local.merges == true && local.needsOneTarget)
        let artifacts = try #require(try OutputSpec(parsing: "type=artifacts,dest=dist").exporter as? ArtifactsExporter)
        #expect(artifacts.merges == false && !artifacts.needsOneTarget)
        for spec in ["type=oci,dest=a", "type=docker,dest=b", "type=local,dest=c", "type=artifacts,dest=d"] {
            let output = try OutputSpec(parsing: spec)
            #expect(output.exporter.typeName == output.typeName)
            #expect(output.exporter.destination == output.destination)
        }
    }

    @Test func twoOutputsToOnePathAreRefused() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let error = #expect(throws: OutputError.self) {
            try OutputDestination.check(exporters: [LocalExporter(destination: folder + "/out"),
                                                    OCIExporter(destination: folder + "/out/")],
                                        plan: Self.plan(folder, targets: ["app"]), options: Self.options(folder))
        }
        #expect(error?.reason == "another --output (dest=\(folder)/out) writes the same path")
    }

    @Test func artifactsNeedNoSingleTargetButImagesDo() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try OutputDestination.check(exporters: [ArtifactsExporter(destination: folder + "/dist")], plan: Self.plan(folder, targets: ["a", "b"]),
                                    options: Self.options(folder))
        let error = #expect(throws: OutputError.self) {
            try OutputDestination.check(exporters: [DockerArchiveExporter(destination: folder + "/image.tar")], plan: Self.plan(folder, targets: ["a", "b"]),
                                        options: Self.options(folder))
        }
        #expect(error?.reason.hasPrefix("type=docker writes one target, but the run builds 2 (a, b)") == true)
    }

    @Test func anExportersOwnCheckRefusesAFolderOfTheUsersButKnowsItsOwnLayout() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TestSupport.write("mine\n", to: folder + "/out/notes.txt")
        let exporter = OCIExporter(destination: folder + "/out")
        let error = #expect(throws: OutputError.self) {
            try exporter.check(plan: Self.plan(folder), options: Self.options(folder))
        }
        #expect(error?.reason.contains("pass --force to replace it") == true)
        try TestSupport.write("{\"imageLayoutVersion\":\"1.0.0\"}", to: folder + "/layout/oci-layout")
        try TestSupport.write("{\"schemaVersion\":2,\"manifests\":[]}", to: folder + "/layout/index.json")
        #expect(exporter.isOwnFolder(folder + "/layout"))
        #expect(!LocalExporter(destination: "x").isOwnFolder(folder + "/layout"))
        try OCIExporter(destination: folder + "/layout").check(plan: Self.plan(folder), options: Self.options(folder))
    }

    /// An output that is not a path on this machine (a registry push, say) is one more conforming type:
    /// the shared rules run, its own check runs, and no path rule applies to its destination.
    @Test func anExporterThatWritesNoHostPathTakesPartInTheChecks() throws {
        final class Calls: @unchecked Sendable {
            var checked: [String] = []
        }
        struct PushExporter: Exporter {
            var destination: String
            let calls: Calls
            var typeName: String { "registry" }
            var needsOneTarget: Bool { true }
            func check(plan: BoundPlan, options: RunOptions) throws { calls.checked.append(destination) }
            func export(_ input: ExportInput) async throws {}
        }
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let calls = Calls()
        // The same text twice is no clash: it is no path.
        try OutputDestination.check(exporters: [PushExporter(destination: "registry.example/app:1", calls: calls),
                                                PushExporter(destination: "registry.example/app:1", calls: calls)],
                                    plan: Self.plan(folder, targets: ["app"]), options: Self.options(folder))
        #expect(calls.checked == ["registry.example/app:1", "registry.example/app:1"])
        #expect(throws: OutputError.self) {
            try OutputDestination.check(exporters: [PushExporter(destination: "registry.example/app:1", calls: calls)],
                                        plan: Self.plan(folder, targets: ["a", "b"]), options: Self.options(folder))
        }
    }
}
