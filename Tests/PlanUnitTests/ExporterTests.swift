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

    /// `type=image` and `type=registry` in BuildKit's spelling: names repeated or in one quoted field,
    /// push, compression; every name a reference with a tag.
    @Test func imageOutputsParseBuildKitsSpelling() throws {
        let quoted = try OutputSpec(parsing: #"type=image,"name=r.example/a:1,r.example/b:2",name=r.example/c:3,push=true"#)
        #expect(quoted == .image(ImageOutput(naming: .names(["r.example/a:1", "r.example/b:2", "r.example/c:3"]), push: true)))
        #expect(quoted.typeName == "registry" && quoted.destination == "r.example/a:1,r.example/b:2,r.example/c:3")
        guard case .image(let registry) = try OutputSpec(parsing: "type=registry,name=r.example/a:1,compression=uncompressed") else {
            Issue.record("type=registry is an image output")
            return
        }
        #expect(registry.naming == .names(["r.example/a:1"]) && registry.push && registry.encoding.compression == .uncompressed)
        let level = try OutputSpec(parsing: "type=image,name=r.example/a:1,compression-level=9")
        guard case .image(let leveled) = level else { return }
        #expect(!leveled.push && leveled.encoding.compression == .gzip && leveled.encoding.level == 9)
        #expect(try #require(level.exporter as? ImageExporter).typeName == "image")
        for (spec, message) in [
            ("type=image,name=r.example/A b", "is not a valid image reference"),
            ("type=image,name=r.example/a@sha256:" + String(repeating: "a", count: 64), "names a digest"),
            ("type=image,name=r.example/a:1,push=yes", "push=yes is not true or false"),
            ("type=image,name=r.example/a:1,compression-level=12", "is not a whole number from 0 to 9"),
            ("type=image,name=r.example/a:1,compression=uncompressed,compression-level=1", "compression-level= is for compression=gzip"),
            (#"type=image,"name=r.example/a:1"x"#, "a quoted field must end with a quote"),
        ] {
            do {
                _ = try OutputSpec(parsing: spec)
                Issue.record("\(spec) was accepted")
            } catch {
                #expect(error is OutputSpec.ParseError && "\(error)".contains(message), "\(spec): \(error)")
            }
        }
        // Fields without quotes read as before.
        #expect(try OutputSpec(parsing: "type=oci,dest=a\"b") == .oci(destination: "a\"b"))
        #expect(try OutputSpec(parsing: "type=oci,,dest=out,") == .oci(destination: "out"))
    }

    /// `name=` is one target's; `--push --tag-prefix` names every target as the bake file does.
    @Test func imageExporterNamesTargetsAndRefusesOneNameForSeveral() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let named = ImageExporter(output: ImageOutput(naming: .names(["r.example/app:1"]), push: true))
        try OutputDestination.check(exporters: [named], plan: Self.plan(folder, targets: ["app"]), options: Self.options(folder))
        let error = #expect(throws: OutputError.self) {
            try OutputDestination.check(exporters: [named], plan: Self.plan(folder, targets: ["a", "b"]), options: Self.options(folder))
        }
        #expect(error?.description == "--output type=registry,name=r.example/app:1: type=registry with name= writes one target, but the run "
            + "builds 2 (a, b); choose one with --target, or push every target with --push --tag-prefix PREFIX. Nothing was built")
        let prefixed = ImageExporter(output: ImageOutput(naming: .perTarget(prefix: "r.example/team/", tags: ["v1", "latest"]), push: true))
        let references = try prefixed.references(targets: ["api", "web"])
        #expect(references.map(\.names) == [["r.example/team/api:v1", "r.example/team/api:latest"],
                                             ["r.example/team/web:v1", "r.example/team/web:latest"]])
        #expect(references[0].names[1] == TargetImageName.name(prefix: "r.example/team/", target: "api"))
        let bad = ImageExporter(output: ImageOutput(naming: .perTarget(prefix: "r.example/Team/", tags: ["v1"]), push: true))
        #expect(throws: OutputError.self) {
            try OutputDestination.check(exporters: [bad], plan: Self.plan(folder, targets: ["api"]), options: Self.options(folder))
        }
    }
}
