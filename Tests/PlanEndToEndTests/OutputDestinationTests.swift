import Foundation
import Testing

/// `--output` never loses what the user had: every output type against every kind of existing
/// destination, without and with `--force`; special files kept off host outputs. Needs root, the test
/// registry and its busybox image, as scripts/test provides.
@Suite(.serialized) struct OutputDestinationTests {
    static var registry: String { ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555" }
    static var baseImage: String {
        ProcessInfo.processInfo.environment["PLAN_TEST_BASE_IMAGE"] ?? "\(registry)/plan-test/busybox:stable"
    }

    enum OutputType: String, CaseIterable {
        case ociFolder, ociArchive, docker, local, artifacts

        func spec(_ destination: String) -> String {
            switch self {
            case .ociFolder, .ociArchive: "type=oci,dest=\(destination)"
            case .docker: "type=docker,dest=\(destination)"
            case .local: "type=local,dest=\(destination)"
            case .artifacts: "type=artifacts,dest=\(destination)"
            }
        }

        var name: String { self == .ociArchive ? "out.tar" : "out" }
        var writesArchive: Bool { self == .ociArchive || self == .docker }
    }

    enum Existing: String, CaseIterable {
        case missing, emptyFolder, folderWithFiles, file, currentFolder, trailingSlash, insideContext
    }

    /// A plan folder (the context), a working folder (the current folder of every run, holding the
    /// user's files) and a cache shared by every run so that all builds after the first are cache hits.
    struct Workspace {
        var folder: String
        var context: String { folder + "/context" }
        var work: String { folder + "/work" }
        var cache: String { folder + "/cache" }

        init() throws {
            folder = try TestSupport.temporaryFolder()
            try TestSupport.write("""
                version: 1
                name: outputs
                stages:
                  app:
                    from: \(OutputDestinationTests.baseImage)
                    workdir: /app
                    steps:
                      - copy: src/
                      - run: mkdir -p /out && echo built > /out/result
                    artifacts:
                      result: /out/result
                  other:
                    from: \(OutputDestinationTests.baseImage)
                    steps:
                      - run: echo other > /other
                  special:
                    from: \(OutputDestinationTests.baseImage)
                    steps:
                      - run: |
                          mkdir -p /out
                          mknod /out/kmsg c 1 11 && chmod 0666 /out/kmsg
                          mkfifo /out/fifo
                          cp /bin/busybox /out/suid && chmod 4755 /out/suid
                          cp /bin/busybox /out/sgid && chmod 2755 /out/sgid
                    artifacts:
                      out: /out
                targets: [app]
                """, to: context + "/plan.yaml")
            try TestSupport.write("source\n", to: context + "/src/a.txt")
            try TestSupport.write("mine\n", to: work + "/mine.txt")
        }

        func run(_ arguments: [String]) throws -> TestSupport.ProcessResult {
            try TestSupport.plan(["run", context, "--cache-dir", cache, "--insecure-registry", OutputDestinationTests.registry,
                                  "--progress", "plain"] + arguments, in: work)
        }

        /// Prepares `existing` for an output named `name` and returns the `dest=` to use.
        func prepare(_ existing: Existing, name: String) throws -> String {
            let fm = FileManager.default
            switch existing {
            case .missing: return "new/" + name  // in a folder that does not exist yet either
            case .emptyFolder:
                try fm.createDirectory(atPath: work + "/" + name, withIntermediateDirectories: true)
                return name
            case .folderWithFiles:
                try TestSupport.write("keep\n", to: work + "/" + name + "/keep.txt")
                try TestSupport.write("deep\n", to: work + "/" + name + "/sub/deep.txt")
                return name
            case .file:
                try TestSupport.write("keep me\n", to: work + "/" + name)
                return name
            case .currentFolder: return "."
            case .trailingSlash: return name + "/"
            case .insideContext: return context + "/src/" + name
            }
        }

        /// Removes what a case left, keeping the context and the user's file.
        func reset() throws {
            let fm = FileManager.default
            for name in try fm.contentsOfDirectory(atPath: work) where name != "mine.txt" {
                try fm.removeItem(atPath: work + "/" + name)
            }
            for name in try fm.contentsOfDirectory(atPath: context + "/src") where name != "a.txt" {
                try fm.removeItem(atPath: context + "/src/" + name)
            }
        }

        /// Every file and link under the workspace (but the cache) with its content; folders as nil.
        func snapshot() throws -> [String: Data?] {
            var result: [String: Data?] = [:]
            for top in [work, context] {
                let fm = FileManager.default
                for relative in fm.subpaths(atPath: top) ?? [] {
                    let path = top + "/" + relative
                    var info = stat()
                    guard lstat(path, &info) == 0 else { continue }
                    switch info.st_mode & S_IFMT {
                    case S_IFREG: result[path] = fm.contents(atPath: path)
                    case S_IFLNK: result[path] = Data(((try? fm.destinationOfSymbolicLink(atPath: path)) ?? "").utf8)
                    default: result[path] = .some(nil)
                    }
                }
            }
            return result
        }
    }

    /// Whether the run should succeed writing `type` over `existing`.
    static func expectedSuccess(_ type: OutputType, _ existing: Existing, force: Bool) -> Bool {
        switch existing {
        case .missing: true
        case .emptyFolder: !type.writesArchive
        case .folderWithFiles: force && !type.writesArchive
        case .file: force
        case .currentFolder, .insideContext: false
        case .trailingSlash: type != .docker
        }
    }

    /// The output at `path` has the shape of `type`.
    static func isOutput(_ type: OutputType, at path: String) -> Bool {
        let fm = FileManager.default
        switch type {
        case .ociFolder: return fm.fileExists(atPath: path + "/oci-layout") && fm.fileExists(atPath: path + "/index.json")
        case .ociArchive, .docker:
            var isFolder: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isFolder) else { return false }
            if isFolder.boolValue { return fm.fileExists(atPath: path + "/oci-layout") }  // `out.tar/`: a layout folder
            let head = fm.contents(atPath: path)?.prefix(512) ?? Data()
            return head.count == 512 && String(decoding: head[257..<262], as: UTF8.self) == "ustar"
        case .local: return (try? TestSupport.read(path + "/out/result")) == "built\n" && fm.fileExists(atPath: path + "/bin/busybox")
        case .artifacts: return (try? TestSupport.read(path + "/app/result")) == "built\n"
        }
    }

    @Test func everyOutputTypeAgainstEveryKindOfDestination() throws {
        let workspace = try Workspace()
        defer { try? FileManager.default.removeItem(atPath: workspace.folder) }
        for force in [false, true] {
            for type in OutputType.allCases {
                for existing in Existing.allCases {
                    try workspace.reset()
                    let destination = try workspace.prepare(existing, name: type.name)
                    let before = try workspace.snapshot()
                    let result = try workspace.run(["--output", type.spec(destination)] + (force ? ["--force"] : []))
                    let after = try workspace.snapshot()
                    let what = "\(type) over \(existing)\(force ? " --force" : ""): status \(result.status)\n\(result.stderr)"
                    let expected = Self.expectedSuccess(type, existing, force: force)
                    #expect((result.status == 0) == expected, "\(what)")
                    #expect(!result.stderr.contains("Error Domain") && !result.stderr.contains("NSCocoaErrorDomain"), "\(what)")
                    // Leftovers of the atomic write: none.
                    let leftovers = after.keys.filter { $0.contains(".plan-") }
                    #expect(leftovers.isEmpty, "\(what): \(leftovers)")
                    let path = destination.hasPrefix("/") ? destination : workspace.work + "/" + destination
                    let written = (path.hasSuffix("/") ? String(path.dropLast()) : path)
                    if expected {
                        #expect(Self.isOutput(type, at: written), "\(what)")
                    } else {
                        // Refused before building: nothing built, the message names the destination.
                        #expect(result.status == 1 || result.status == 2, "\(what)")
                        #expect(!result.stderr.contains("[app]"), "\(what)")
                        #expect(result.stderr.contains("dest=\(destination)"), "\(what)")
                        if !force, existing == .file || (existing == .folderWithFiles && !type.writesArchive) {
                            #expect(result.stderr.contains("--force"), "the way out is not offered: \(what)")
                        }
                    }
                    // No byte the user had is lost: without --force nothing; with it, only what was at dest.
                    for (file, content) in before where !(force && expected && (file == written || file.hasPrefix(written + "/"))) {
                        #expect(after[file] == content, "\(what): \(file) changed or vanished")
                    }
                    if existing == .missing, !force {
                        // What plan wrote, plan may write again.
                        let again = try workspace.run(["--output", type.spec(destination)])
                        #expect(again.status == 0, "\(what), written again: \(again.stderr)")
                    }
                }
            }
        }
    }

    @Test func mergeWritesOverFilesAndKeepsTheOthers() throws {
        let workspace = try Workspace()
        defer { try? FileManager.default.removeItem(atPath: workspace.folder) }
        _ = try workspace.prepare(.folderWithFiles, name: "rootfs")
        try TestSupport.write("old\n", to: workspace.work + "/rootfs/out/result")
        let local = try workspace.run(["--output", "type=local,dest=rootfs,merge=true"])
        #expect(local.status == 0, "\(local.stderr)")
        #expect(try TestSupport.read(workspace.work + "/rootfs/keep.txt") == "keep\n")
        #expect(try TestSupport.read(workspace.work + "/rootfs/sub/deep.txt") == "deep\n")
        #expect(try TestSupport.read(workspace.work + "/rootfs/out/result") == "built\n")
        #expect(FileManager.default.fileExists(atPath: workspace.work + "/rootfs/bin/busybox"))
        // Artifacts merged into the current folder (`dest=.`): BuildKit's `--output type=local,dest=.`.
        let artifacts = try workspace.run(["--output", "type=artifacts,dest=.,merge=true"])
        #expect(artifacts.status == 0, "\(artifacts.stderr)")
        #expect(try TestSupport.read(workspace.work + "/app/result") == "built\n")
        #expect(try TestSupport.read(workspace.work + "/mine.txt") == "mine\n")
        let names = try FileManager.default.contentsOfDirectory(atPath: workspace.work).sorted()
        #expect(names == ["app", "mine.txt", "rootfs"])
        // merge= is for folders of files, not images.
        let image = try workspace.run(["--output", "type=oci,dest=x,merge=true"])
        #expect(image.status != 0 && image.stderr.contains("merge="), "\(image.stderr)")
    }

    @Test func cacheToFollowsTheSameRules() throws {
        let workspace = try Workspace()
        defer { try? FileManager.default.removeItem(atPath: workspace.folder) }
        _ = try workspace.prepare(.folderWithFiles, name: "ci-cache")
        let refused = try workspace.run(["--cache-to", "dir=ci-cache"])
        #expect(refused.status == 1 && refused.stderr.contains("--cache-to dir=ci-cache"), "\(refused.stderr)")
        #expect(try TestSupport.read(workspace.work + "/ci-cache/keep.txt") == "keep\n")
        let fresh = try workspace.run(["--cache-to", "dir=new-cache"])
        #expect(fresh.status == 0, "\(fresh.stderr)")
        // Its own layout, it rewrites.
        let again = try workspace.run(["--cache-from", "dir=new-cache", "--cache-to", "dir=new-cache"])
        #expect(again.status == 0, "\(again.stderr)")
    }

    @Test func anOCILayoutOfSeveralImagesIsNotReplaced() throws {
        let workspace = try Workspace()
        defer { try? FileManager.default.removeItem(atPath: workspace.folder) }
        let layout = workspace.work + "/layout"
        try TestSupport.write(#"{"imageLayoutVersion":"1.0.0"}"#, to: layout + "/oci-layout")
        try FileManager.default.createDirectory(atPath: layout + "/blobs/sha256", withIntermediateDirectories: true)
        try TestSupport.write(#"{"schemaVersion":2,"manifests":[{"digest":"sha256:a"},{"digest":"sha256:b"}]}"#, to: layout + "/index.json")
        let refused = try workspace.run(["--output", "type=oci,dest=layout"])
        #expect(refused.status == 1 && refused.stderr.contains("--force"), "\(refused.stderr)")
        #expect(try TestSupport.read(layout + "/index.json").contains("sha256:b"))
        // One image: the shape of plan's own layout, replaced.
        try TestSupport.write(#"{"schemaVersion":2,"manifests":[{"digest":"sha256:a"}]}"#, to: layout + "/index.json")
        let replaced = try workspace.run(["--output", "type=oci,dest=layout"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
    }

    @Test func anImageOutputOfSeveralTargetsFailsBeforeBuilding() throws {
        let workspace = try Workspace()
        defer { try? FileManager.default.removeItem(atPath: workspace.folder) }
        for type in [OutputType.ociFolder, .docker, .local] {
            let result = try workspace.run(["--target", "app", "--target", "other", "--output", type.spec(type.name)])
            #expect(result.status == 1, "\(result.stderr)")
            #expect(result.stderr.contains("--target") && result.stderr.contains("app, other"), "\(result.stderr)")
            #expect(!result.stderr.contains("started") && !result.stderr.contains("CACHED"), "built before failing: \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: workspace.work + "/" + type.name))
        }
    }

    @Test func specialFilesStayOffHostOutputsUnlessAllowed() throws {
        let workspace = try Workspace()
        defer { try? FileManager.default.removeItem(atPath: workspace.folder) }
        let work = workspace.work
        let plain = try workspace.run(["--target", "special", "--output", "type=local,dest=rootfs",
                                       "--output", "type=artifacts,dest=artifacts", "--output", "type=oci,dest=layout"])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stderr.contains("--allow special-files"), "no warning: \(plain.stderr)")
        for out in [work + "/rootfs/out", work + "/artifacts/special/out"] {
            for name in ["kmsg", "fifo"] {
                var info = stat()
                #expect(lstat(out + "/" + name, &info) != 0, "\(out)/\(name) reached the host")
            }
            for name in ["suid", "sgid"] {
                var info = stat()
                #expect(lstat(out + "/" + name, &info) == 0 && info.st_mode & (S_ISUID | S_ISGID) == 0,
                        "\(out)/\(name): mode \(String(info.st_mode, radix: 8))")
            }
        }
        // The image keeps them; unpacking it on the host does not, unless allowed.
        let unpacked = try TestSupport.plan(["image", "unpack", "oci:\(work)/layout:latest", work + "/unpacked"], in: work)
        #expect(unpacked.status == 0, "\(unpacked.stderr)")
        #expect(unpacked.stderr.contains("--allow special-files"), "\(unpacked.stderr)")
        var info = stat()
        #expect(lstat(work + "/unpacked/out/kmsg", &info) != 0)
        #expect(lstat(work + "/unpacked/out/suid", &info) == 0 && info.st_mode & S_ISUID == 0)

        let allowed = try workspace.run(["--target", "special", "--allow", "special-files", "--output", "type=local,dest=rootfs-all",
                                         "--output", "type=artifacts,dest=artifacts-all"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        for out in [work + "/rootfs-all/out", work + "/artifacts-all/special/out"] {
            #expect(lstat(out + "/kmsg", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR && info.st_mode & 0o777 == 0o666, "\(out)/kmsg")
            #expect(lstat(out + "/fifo", &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO, "\(out)/fifo")
            #expect(lstat(out + "/suid", &info) == 0 && info.st_mode & S_ISUID != 0, "\(out)/suid")
            #expect(lstat(out + "/sgid", &info) == 0 && info.st_mode & S_ISGID != 0, "\(out)/sgid")
        }
        let unpackedAll = try TestSupport.plan(["image", "unpack", "--allow", "special-files", "oci:\(work)/layout:latest",
                                                work + "/unpacked-all"], in: work)
        #expect(unpackedAll.status == 0, "\(unpackedAll.stderr)")
        #expect(lstat(work + "/unpacked-all/out/kmsg", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR)
        let wrong = try workspace.run(["--allow", "network.host", "--output", "type=local,dest=x"])
        #expect(wrong.status != 0 && wrong.stderr.contains("special-files"), "\(wrong.stderr)")
    }
}
