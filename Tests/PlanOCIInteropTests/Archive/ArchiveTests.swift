import Foundation
import Testing

@testable import PlanOCI

/// OCI archives and docker archives, against skopeo and umoci.
@Suite struct ArchiveTests {
    /// The test registry's busybox image copied into an OCI layout by skopeo.
    func busyboxLayout(in folder: URL) throws -> OCILayout {
        let path = folder.appendingPathComponent("skopeo-layout").path
        try OCITestKit.run("skopeo", [
            "copy", "--src-tls-verify=false", "docker://\(OCITestKit.registry)/plan-test/busybox:stable", "oci:\(path):busybox",
        ])
        return try OCILayout.open(at: URL(fileURLWithPath: path))
    }

    struct SkopeoInspect: Decodable {
        var Digest: String
        var Layers: [String]
    }

    @Test func ociArchiveIsReadBySkopeoAndIsDeterministic() throws {
        let folder = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(folder) }
        let layout = try busyboxLayout(in: folder)
        let descriptor = try layout.descriptor(named: "busybox")
        let first = folder.appendingPathComponent("first.tar").path
        let second = folder.appendingPathComponent("second.tar").path
        try OCIArchive.write(descriptor, name: "busybox", from: layout, to: first)
        try OCIArchive.write(descriptor, name: "busybox", from: layout, to: second)
        #expect(FileManager.default.contentsEqual(atPath: first, andPath: second))
        let raw = try OCITestKit.run("skopeo", ["inspect", "--raw", "oci-archive:\(first):busybox"])
        #expect(Digest.sha256(of: Data(raw.utf8)) == descriptor.digest)
        // And back: skopeo's own oci-archive extracts into a layout we read.
        let theirs = folder.appendingPathComponent("theirs.tar").path
        try OCITestKit.run("skopeo", ["copy", "oci:\(layout.root.path):busybox", "oci-archive:\(theirs):again"])
        let extracted = try OCIArchive.extract(theirs, to: folder.appendingPathComponent("extracted"))
        let image = try extracted.image(named: "again")
        #expect(image.descriptor.digest == descriptor.digest)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".plan-") }
        #expect(leftovers.isEmpty)
    }

    @Test func dockerArchiveSurvivesSkopeoBothWays() throws {
        let folder = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(folder) }
        let layout = try busyboxLayout(in: folder)
        let ours = try layout.image(named: "busybox")
        let archive = folder.appendingPathComponent("ours.tar").path
        try DockerArchive.write(manifest: ours.descriptor, from: layout, repoTags: ["plan-test/busybox:stable"], to: archive)

        // skopeo reads it, and copies it into an OCI layout that umoci unpacks.
        let inspected = try JSONDecoder().decode(
            SkopeoInspect.self, from: Data(try OCITestKit.run("skopeo", ["inspect", "docker-archive:\(archive)"]).utf8))
        #expect(inspected.Layers.count == ours.manifest.layers.count)
        let copied = folder.appendingPathComponent("copied").path
        try OCITestKit.run("skopeo", ["copy", "docker-archive:\(archive)", "oci:\(copied):back"])
        try OCITestKit.run("umoci", ["unpack", "--image", "\(copied):back", folder.appendingPathComponent("bundle").path])
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("bundle/rootfs/bin/busybox").path))

        // skopeo writes one; we read it: same config, same layer contents.
        let theirs = folder.appendingPathComponent("theirs.tar").path
        try OCITestKit.run("skopeo", ["copy", "oci:\(layout.root.path):busybox", "docker-archive:\(theirs):plan-test/busybox:stable"])
        let target = try OCILayout.create(at: folder.appendingPathComponent("read"))
        let descriptor = try DockerArchive.read(theirs, tag: "plan-test/busybox:stable", into: target)
        try target.add(descriptor, name: "read")
        let read = try target.image(named: "read")
        #expect(read.configuration.rootfs.diffIDs == ours.configuration.rootfs.diffIDs)
        #expect(read.manifest.layers.map(\.digest) == ours.configuration.rootfs.diffIDs)
        #expect(read.configuration.config?.cmd == ours.configuration.config?.cmd)
        try OCITestKit.run("skopeo", ["inspect", "oci:\(target.root.path):read"])
    }

    @Test func aLayerWhoseContentDisagreesWithTheConfigIsRefused() throws {
        let folder = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(folder) }
        let layout = try busyboxLayout(in: folder)
        let theirs = folder.appendingPathComponent("theirs.tar").path
        try OCITestKit.run("skopeo", ["copy", "oci:\(layout.root.path):busybox", "docker-archive:\(theirs):x/y:z"])
        // Rewrite the archive (links made copies) with one byte of every layer file changed.
        let archive = try ArchiveFiles.read(theirs)
        var files = archive.names.compactMap { name in archive[name].map { (name: name, bytes: $0) } }
        var changed = 0
        for index in files.indices where files[index].bytes.count > 100_000 {
            files[index].bytes[files[index].bytes.count / 2] ^= 0xFF
            changed += 1
        }
        #expect(changed > 0, "no layer in the archive: \(archive.names)")
        let tampered = folder.appendingPathComponent("tampered.tar").path
        try ArchiveWriter.write(files, to: tampered)
        let error = #expect(throws: ImageError.self) {
            _ = try DockerArchive.read(tampered, into: try OCILayout.create(at: folder.appendingPathComponent("t")))
        }
        #expect(error?.description.contains("but the config says") == true, "\(String(describing: error))")
    }

    @Test func anImageWeWriteSurvivesSkopeoThroughADockerArchiveAndBack() throws {
        let folder = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(folder) }
        let layout = try OCILayout.create(at: folder.appendingPathComponent("ours"))
        let layer = try OCITestKit.makeLayer(["app/hello.txt": "hello\n", "app/bin/run": "#!/bin/sh\necho run\n"],
                                             in: folder, sink: layout)
        let written = try ImageWriter(platform: .host, config: OCITestKit.sampleConfig(), layers: [layer]).write(to: layout)
        try layout.add(written.manifestDescriptor, name: "ours")
        let archive = folder.appendingPathComponent("ours.tar").path
        try OCITestKit.run("skopeo", ["copy", "oci:\(layout.root.path):ours", "docker-archive:\(archive):plan/ours:1"])
        let back = folder.appendingPathComponent("back").path
        try OCITestKit.run("skopeo", ["copy", "docker-archive:\(archive)", "oci:\(back):again"])
        let again = try OCILayout.open(at: URL(fileURLWithPath: back)).image(named: "again")
        #expect(again.configuration.rootfs.diffIDs == written.configuration.rootfs.diffIDs)
        #expect(again.configuration.config == written.configuration.config)
        // And through our own docker archive writer and reader, the config comes back byte for byte.
        let ourArchive = folder.appendingPathComponent("ours-docker.tar").path
        try DockerArchive.write(manifest: written.manifestDescriptor, from: layout, repoTags: ["plan/ours:1"], to: ourArchive)
        let reread = try OCILayout.create(at: folder.appendingPathComponent("reread"))
        let descriptor = try DockerArchive.read(ourArchive, tag: "plan/ours:1", into: reread)
        try reread.add(descriptor, name: "x")
        #expect(try reread.image(named: "x").manifest.config.digest == written.configDescriptor.digest)
    }
}
