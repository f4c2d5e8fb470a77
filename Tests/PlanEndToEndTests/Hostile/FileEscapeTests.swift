import Foundation
import PlanExecutor
import PlanTestKit
import Testing

/// Hostile base images, steps and contexts against plan's host-side file operations (issue 15,
/// findings 2, 3, 4 and the user database of 9): canary files and folders outside every root must
/// stay untouched — nothing written, read, deleted or chmod'ed outside — as root (overlay) and
/// rootless (bubblewrap, run as `nobody`). Needs the test registry's busybox, as scripts/test provides.
@Suite(.serialized) struct FileEscapeTests {
    static var registry: String { ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555" }

    /// A scratch folder the run's user owns, with the plan binary copied in for `nobody`.
    struct Lab {
        var folder: String
        var rootless: Bool

        init(rootless: Bool) throws {
            folder = try TestSupport.temporaryFolder()
            self.rootless = rootless
            chmod(folder, 0o755)
            if rootless {
                _ = try TestSupport.tool("bwrap")
                // Copied by cp, not in this process (a descriptor open for writing would make exec fail).
                let copied = try TestSupport.run("/bin/cp", [TestSupport.planBinary, folder + "/plan"])
                guard copied.status == 0 else { throw TestSupport.ToolMissing(name: "cp: \(copied.stderr)") }
            }
        }

        /// Makes everything under the folder the run's user's (nobody's when rootless), so a step that
        /// escaped could write the canaries: their being untouched then proves containment.
        func handOver() throws {
            guard rootless else { return }
            let result = try TestSupport.run("/bin/chown", ["-R", "65534:65534", folder])
            #expect(result.status == 0, "\(result.stderr)")
        }

        func plan(_ arguments: [String]) throws -> TestSupport.ProcessResult {
            let all = arguments + (arguments.first != "run" ? [] : [
                "--insecure-registry", FileEscapeTests.registry, "--cache-dir", folder + "/cache",
                "--arg", "REGISTRY=\(FileEscapeTests.registry)",
            ])
            guard rootless else { return try TestSupport.plan(all) }
            let setpriv = try TestSupport.tool("setpriv")
            return try TestSupport.run(setpriv, ["--reuid", "65534", "--regid", "65534", "--clear-groups", folder + "/plan"] + all,
                                       environment: ["HOME": folder, "NO_COLOR": "1"])
        }

        func remove() { try? FileManager.default.removeItem(atPath: folder) }
    }

    /// Status, mode, owner and listing of a canary folder, to compare before and after.
    static func fingerprint(_ path: String) -> String {
        var info = stat()
        guard lstat(path, &info) == 0 else { return "missing" }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
        let contents = names.map { name in
            (try? String(contentsOfFile: path + "/" + name, encoding: .utf8)).map { "\(name)=\($0)" } ?? name
        }
        return "mode=\(String(info.st_mode, radix: 8)) owner=\(info.st_uid):\(info.st_gid) [\(contents.joined(separator: ","))]"
    }

    static let plantedPlan = """
        version: 1
        name: hostile
        args:
          REGISTRY: "127.0.0.1:5555"
          CANARY: /nonexistent
        allow: [root-target]
        stages:
          planted:
            from: ${REGISTRY}/plan-test/busybox:stable
            steps:
              # A step plants links to the host's canary folder (as a hostile base image could).
              - run: mkdir -p /app && ln -s "$CANARY" /app/sub && ln -s "$CANARY" /hostdir && mkdir -p "$CANARY"
              - copy: src/
                to: /app/
              - copy: tree/
                to: /
              - workdir: /hostdir/work
              # The step repoints the parent of its cache mount's stub while it runs: clean-up
              # must not then remove the host's `cache` folder in the canary.
              - run: mv /stubs /stubs.old && ln -s "$CANARY" /stubs
                cache: [/stubs/cache]
        targets: [planted]
        """

    /// Finding 2 and 4: a step plants `/app/sub -> CANARY` and `/hostdir -> CANARY`; `copy: src/ to:
    /// /app/`, `copy: tree/ to: /` and `workdir: /hostdir/work` follow them inside the root only; a
    /// step repointing its stub's parent makes no clean-up outside.
    @Test(arguments: [false, true]) func plantedLinksNeverLeadCopiesOrStubsOutside(rootless: Bool) throws {
        let lab = try Lab(rootless: rootless)
        defer { lab.remove() }
        let canary = lab.folder + "/canary"
        try TestSupport.write("untouched\n", to: canary + "/keep")
        try TestSupport.write("mine\n", to: canary + "/cache/inside")
        chmod(canary, 0o700)
        let context = lab.folder + "/context"
        try TestSupport.write(Self.plantedPlan, to: context + "/plan.yaml")
        try TestSupport.write("new\n", to: context + "/src/sub/new.txt")
        try TestSupport.write("tree\n", to: context + "/tree/hostdir/from-tree.txt")
        try lab.handOver()
        let before = Self.fingerprint(canary)
        let cacheBefore = Self.fingerprint(canary + "/cache")

        let result = try lab.plan(["run", context + "/plan.yaml", "--arg", "CANARY=\(canary)",
                                   "--output", "type=local,dest=\(lab.folder)/out"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.fingerprint(canary) == before)
        #expect(Self.fingerprint(canary + "/cache") == cacheBefore)
        // Inside the image the links were followed as the container follows them.
        let out = lab.folder + "/out"
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: out + "/app/sub")) == canary)
        #expect((try? TestSupport.read(out + canary + "/new.txt")) == "new\n")
        #expect((try? TestSupport.read(out + canary + "/from-tree.txt")) == "tree\n")
        #expect(FileManager.default.fileExists(atPath: out + canary + "/work"))
        #expect(FileManager.default.fileExists(atPath: out + "/stubs.old"))
    }

    /// The host folder the registry's hostile base image (`plan-test/hostile:1`, made by
    /// scripts/test-registry) links `/app/sub` and `/hostdir` to.
    static let hostileImageCanary = "/var/tmp/plan-test-hostile-canary"

    static let hostileImagePlan = """
        version: 1
        name: hostile-image
        args:
          REGISTRY: "127.0.0.1:5555"
        allow: [root-target]
        stages:
          victim:
            from: ${REGISTRY}/plan-test/hostile:1
            steps:
              - copy: src/
                to: /app/sub/
              - copy: tree/
                to: /
              - run: cat /app/sub/new.txt /hostdir/from-tree.txt > /result && chmod 0700 /hostdir/
        targets: [victim]
        """

    /// Finding 2 with a hostile base image served by the test registry: its `/app/sub` and `/hostdir`
    /// link to a host folder; `copy: src/ to: /app/sub/`, `copy: tree/ to: /` and a step's `chmod`
    /// land in the image's folder of that name, and the host folder keeps every byte and its mode.
    @Test(arguments: [false, true]) func aHostileBaseImageFromTheRegistryKeepsCopiesInside(rootless: Bool) throws {
        let lab = try Lab(rootless: rootless)
        defer { lab.remove() }
        let canary = Self.hostileImageCanary
        try? FileManager.default.removeItem(atPath: canary)
        defer { try? FileManager.default.removeItem(atPath: canary) }
        try TestSupport.write("untouched\n", to: canary + "/keep")
        // Writable by the run's user: only containment keeps an escaped copy or chmod out.
        #expect(try TestSupport.run("/bin/chown", ["-R", rootless ? "65534:65534" : "0:0", canary]).status == 0)
        chmod(canary, 0o755)
        let context = lab.folder + "/context"
        try TestSupport.write(Self.hostileImagePlan, to: context + "/plan.yaml")
        try TestSupport.write("new\n", to: context + "/src/new.txt")
        try TestSupport.write("tree\n", to: context + "/tree/hostdir/from-tree.txt")
        try lab.handOver()
        let before = Self.fingerprint(canary)

        let result = try lab.plan(["run", context + "/plan.yaml", "--output", "type=local,dest=\(lab.folder)/out"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.fingerprint(canary) == before)
        let out = lab.folder + "/out"
        #expect((try? TestSupport.read(out + "/result")) == "new\ntree\n")
        #expect((try? TestSupport.read(out + canary + "/new.txt")) == "new\n")
        #expect((try? TestSupport.read(out + canary + "/from-tree.txt")) == "tree\n")
    }

    static let contextPlan = """
        version: 1
        name: leaky
        args:
          REGISTRY: "127.0.0.1:5555"
        allow: [root-target]
        stages:
          links:
            from: ${REGISTRY}/plan-test/busybox:stable
            steps:
              # A link named as the source arrives as a link.
              - copy: link
                to: /x/link
          through:
            from: ${REGISTRY}/plan-test/busybox:stable
            env:
              WAY: link
            steps:
              # Spelled with a variable, so only the executor sees where it goes.
              - copy: ${WAY}/secret
                to: /x/
          globbed:
            from: ${REGISTRY}/plan-test/busybox:stable
            env:
              WAY: link
            steps:
              - copy: ${WAY}/*
                to: /x/
        targets: [links, through, globbed]
        """

    /// Finding 3: a context link to a folder outside; `link/secret` and `"link/*"` fail `plan check`
    /// (E0504) and `plan run`; no run copies the outside file; the link itself is copied as a link.
    @Test(arguments: [false, true]) func contextLinksNeverLeadOutOfTheContext(rootless: Bool) throws {
        let lab = try Lab(rootless: rootless)
        defer { lab.remove() }
        let outside = lab.folder + "/outside"
        try TestSupport.write("TOP SECRET\n", to: outside + "/secret")
        let context = lab.folder + "/context"
        try TestSupport.write(Self.contextPlan, to: context + "/plan.yaml")
        try FileManager.default.createSymbolicLink(atPath: context + "/link", withDestinationPath: outside)
        for (name, source) in [("file", "link/secret"), ("glob", "\"link/*\"")] {
            try TestSupport.write("""
                version: 1
                name: leak
                stages:
                  leak:
                    from: scratch
                    steps:
                      - copy: \(source)
                        to: /x/
                targets: [leak]
                """, to: context + "/leak-\(name).yaml")
        }
        try lab.handOver()

        for name in ["file", "glob"] {
            let check = try lab.plan(["check", context + "/leak-\(name).yaml"])
            #expect(check.status != 0)
            #expect(check.stderr.contains("E0504") && check.stderr.contains("leak-\(name).yaml:7:")
                        && check.stderr.contains("leaves the build context through the symbolic link `link`"),
                    "\(check.stderr)")
        }
        let through = try lab.plan(["run", context + "/plan.yaml", "--target", "through"])
        #expect(through.status != 0)
        #expect(through.stderr.contains("`link/secret` leaves the build context through a symbolic link"), "\(through.stderr)")

        let globbed = try lab.plan(["run", context + "/plan.yaml", "--target", "globbed"])
        #expect(globbed.status != 0)
        #expect(globbed.stderr.contains("`link/*` leaves the build context through a symbolic link"), "\(globbed.stderr)")

        let links = try lab.plan(["run", context + "/plan.yaml", "--target", "links", "--output", "type=local,dest=\(lab.folder)/out"])
        #expect(links.status == 0, "\(links.stderr)")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: lab.folder + "/out/x/link")) == outside)
        let grep = try TestSupport.run("/bin/grep", ["-r", "-l", "TOP SECRET", lab.folder + "/out", lab.folder + "/cache"])
        #expect(grep.stdout.isEmpty, "\(grep.stdout)")
        #expect(try TestSupport.read(outside + "/secret") == "TOP SECRET\n")
    }

    /// Finding 9 (user database): an image whose `/etc/passwd` links to `/etc/passwd` has no users;
    /// `user:` naming one only the host knows is an unknown user, never the host's uid.
    @Test(arguments: [false, true]) func aLinkedPasswdNeverReadsTheHostsUsers(rootless: Bool) throws {
        let lab = try Lab(rootless: rootless)
        defer { lab.remove() }
        let imageUsers: Set<String> = ["root", "daemon", "bin", "sys", "sync", "mail", "www-data", "operator", "nobody"]
        let hostOnly = try TestSupport.read("/etc/passwd").split(separator: "\n")
            .compactMap { $0.split(separator: ":").first.map(String.init) }.first { !imageUsers.contains($0) }
        let user = try #require(hostOnly, "the host has no user the busybox image lacks")
        let context = lab.folder + "/context"
        try TestSupport.write("""
            version: 1
            name: users
            args:
              REGISTRY: "127.0.0.1:5555"
            stages:
              users:
                from: ${REGISTRY}/plan-test/busybox:stable
                steps:
                  - run: rm /etc/passwd && ln -s /etc/passwd /etc/passwd
                  - user: \(user)
                  - run: id -u > /tmp/uid
            targets: [users]
            """, to: context + "/plan.yaml")
        try lab.handOver()
        let result = try lab.plan(["run", context + "/plan.yaml"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("no user `\(user)` in the image's /etc/passwd"), "\(result.stderr)")
    }

    /// The user database follows `/etc/passwd` links inside the root only: to itself it is empty; to
    /// an absolute path it is that path in the image, not on the host.
    @Test func theUserDatabaseFollowsLinksInsideTheRootOnly() throws {
        let root = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/etc/passwd", withDestinationPath: "/etc/passwd")
        #expect(throws: UserDatabase.Failure.unknownUser("root")) { try UserDatabase(root: root).resolve("root:root") }
        try FileManager.default.removeItem(atPath: root + "/etc/passwd")
        try TestSupport.write("someone:x:5:6::/home/someone:/bin/sh\n", to: root + "/image-users")
        try FileManager.default.createSymbolicLink(atPath: root + "/etc/passwd", withDestinationPath: "/../../image-users")
        try FileManager.default.createSymbolicLink(atPath: root + "/etc/group", withDestinationPath: "/etc/group")
        let someone = try UserDatabase(root: root).resolve("someone")
        #expect(someone == ResolvedUser(uid: 5, gid: 6, groups: [], home: "/home/someone"))
    }
}
