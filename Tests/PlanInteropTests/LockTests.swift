import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `plan lock` and `--locked` against real registries: the shared test registries (open :5555, basic auth :5556,
/// the two-platform index plan-test/busybox-multi:1) and, for what stops or changes a registry, one of our own
/// (Debian's reference registry on a free port, filled by skopeo from the shared one, which is never changed).
@Suite(.serialized) struct LockTests {
    static var registry: String { OCITestKit.registry }

    /// A reference registry of this test alone, with its access log (one line per request).
    final class OwnRegistry {
        let folder: String
        let address: String
        var pid: pid_t?

        init() throws {
            folder = try TestSupport.temporaryFolder()
            address = "127.0.0.1:\(try Self.freePort())"
            try TestSupport.write("""
                version: 0.1
                log:
                  level: warn
                  accesslog:
                    disabled: false
                storage:
                  filesystem:
                    rootdirectory: \(folder)/data
                  delete:
                    enabled: true
                http:
                  addr: \(address)
                  secret: plan-lock-test
                """, to: folder + "/config.yml")
            try start()
        }

        func start() throws {
            let binary = try TestSupport.tool("docker-registry")
            pid = try ChildProcess.spawn(binary, ["serve", folder + "/config.yml"], environment: ProcessInfo.processInfo.environment,
                                         stdout: folder + "/registry.log", stderr: folder + "/registry.err")
            for _ in 0..<200 {
                if (try? TestSupport.run("/usr/bin/curl", ["-sf", "-o", "/dev/null", "--max-time", "1", "http://\(address)/v2/"]))?.status == 0 {
                    return
                }
                usleep(50_000)
            }
            throw OCITestKit.ToolFailed(command: ["docker-registry", "serve"], status: -1,
                                        stderr: (try? TestSupport.read(folder + "/registry.err")) ?? "")
        }

        func stop() {
            if let pid { ChildProcess.stop(pid) }
            pid = nil
        }

        /// The access log's request lines so far (`GET /v2/…/manifests/… HTTP/1.1`).
        func requests() -> [String] {
            let text = ((try? TestSupport.read(folder + "/registry.log")) ?? "") + ((try? TestSupport.read(folder + "/registry.err")) ?? "")
            return text.components(separatedBy: "\n").compactMap { line in
                guard let start = line.range(of: "\""), let end = line[start.upperBound...].range(of: "\"") else { return nil }
                let request = String(line[start.upperBound..<end.lowerBound])
                return request.contains(" /v2/") ? request : nil
            }
        }

        /// Copies `source` (a shared test image, every platform) to `name` here.
        func copy(_ source: String, to name: String) throws {
            try OCITestKit.run("skopeo", ["copy", "--all", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
                                          "docker://\(source)", "docker://\(address)/\(name)"])
        }

        deinit {
            stop()
            try? FileManager.default.removeItem(atPath: folder)
        }

        static func freePort() throws -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard bound else { throw OCITestKit.ToolFailed(command: ["bind"], status: errno, stderr: "no free port") }
            return Int(UInt16(bigEndian: address.sin_port))
        }
    }

    func plan(_ arguments: [String], environment: [String: String] = [:]) throws -> TestSupport.ProcessResult {
        try TestSupport.run(TestSupport.planBinary, arguments, in: TestSupport.repoRoot,
                            environment: ["NO_COLOR": "1"].merging(environment) { $1 })
    }

    /// The digest the registry answers for `reference` (`HEAD …/manifests/TAG`, Docker-Content-Digest).
    func registryDigest(_ registry: String, _ repository: String, _ tag: String, credentials: String? = nil) throws -> String {
        let accept = "application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json,"
            + "application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.docker.distribution.manifest.v2+json"
        let result = try TestSupport.run("/usr/bin/curl", ["-sfI", "-H", "Accept: \(accept)"] + (credentials.map { ["-u", $0] } ?? [])
                                         + ["http://\(registry)/v2/\(repository)/manifests/\(tag)"])
        let line = result.stdout.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("docker-content-digest:") } ?? ""
        return line.split(separator: " ").last.map(String.init) ?? ""
    }

    /// The index's manifest digests by normalised platform.
    func indexPlatforms(_ registry: String, _ repository: String, _ tag: String) throws -> [String: String] {
        let result = try TestSupport.run("/usr/bin/curl", ["-sf", "-H", "Accept: application/vnd.oci.image.index.v1+json",
                                                           "http://\(registry)/v2/\(repository)/manifests/\(tag)"])
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        var platforms: [String: String] = [:]
        for entry in object?["manifests"] as? [[String: Any]] ?? [] {
            guard let platform = entry["platform"] as? [String: Any], let arch = platform["architecture"] as? String else { continue }
            let variant = (platform["variant"] as? String) ?? (arch == "arm64" ? "v8" : nil)
            platforms[["linux", arch, variant].compactMap { $0 }.joined(separator: "/")] = entry["digest"] as? String
        }
        return platforms
    }

    @Test("plan lock pins a two-platform index per platform, the open and the authenticated registry, and add: URLs")
    func locksOpenAuthenticatedAndMultiPlatform() throws {
        let folder = try TestSupport.project("""
            version: 1
            name: lock-demo
            platforms: [linux/amd64, linux/arm64]
            args:
              REGISTRY: "\(Self.registry)"
            stages:
              app:
                from: ${REGISTRY}/plan-test/busybox-multi:1
                user: "1000"
                steps:
                  - add: https://example.com/tool-1.0.tar.gz
                    checksum: sha256:\(String(repeating: "ab", count: 32))
                    to: /opt/
            """)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let locked = try plan(["lock", folder, "--cache-dir", folder + "/cache"])
        #expect(locked.status == 0, "\(locked.stderr)")
        let text = try TestSupport.read(folder + "/plan.lock")
        let index = try registryDigest(Self.registry, "plan-test/busybox-multi", "1")
        let platforms = try indexPlatforms(Self.registry, "plan-test/busybox-multi", "1")
        #expect(index.hasPrefix("sha256:") && platforms.count == 2)
        #expect(text.hasPrefix("# Generated by plan lock"))
        #expect(text.contains("""
            plan: "lock-demo"
            file: "plan.yaml"
            images:
              "\(Self.registry)/plan-test/busybox-multi:1":
                digest: \(index)
                platforms:
                  linux/amd64: \(platforms["linux/amd64"] ?? "?")
                  linux/arm64/v8: \(platforms["linux/arm64/v8"] ?? "?")
            downloads:
              "https://example.com/tool-1.0.tar.gz": sha256:\(String(repeating: "ab", count: 32))

            """), "\(text)")
        #expect(platforms["linux/amd64"] != platforms["linux/arm64/v8"])

        // Up to date: --check exits 0; a second lock changes nothing.
        let check = try plan(["lock", folder, "--check", "--cache-dir", folder + "/cache"])
        #expect(check.status == 0 && check.stderr.contains("up to date"), "\(check.stderr)")

        // The authenticated registry, credentials from $DOCKER_CONFIG, a single-manifest image and a copied image.
        let config = folder + "/docker"
        try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
        let auth = Data("\(OCITestKit.authUser):\(OCITestKit.authPassword)".utf8).base64EncodedString()
        try JSONSerialization.data(withJSONObject: ["auths": [OCITestKit.authRegistry: ["auth": auth]]])
            .write(to: URL(fileURLWithPath: config + "/config.json"))
        let authPlan = try TestSupport.project("""
            version: 1
            name: lock-auth
            stages:
              app:
                from: \(OCITestKit.authRegistry)/plan-test/busybox:stable
                user: "1000"
                steps:
                  - copy: /bin/busybox
                    image: \(Self.registry)/plan-test/busybox:stable
                    to: /opt/busybox
            """)
        defer { try? FileManager.default.removeItem(atPath: authPlan) }
        let noCredentials = try plan(["lock", authPlan, "--cache-dir", folder + "/cache"], environment: ["DOCKER_CONFIG": folder + "/none"])
        #expect(noCredentials.status == 1 && noCredentials.stderr.contains("plan.yaml:4:3") && noCredentials.stderr.contains("no credentials"),
                "\(noCredentials.stderr)")
        #expect(!FileManager.default.fileExists(atPath: authPlan + "/plan.lock"))
        let authLocked = try plan(["lock", authPlan, "--cache-dir", folder + "/cache"], environment: ["DOCKER_CONFIG": config])
        #expect(authLocked.status == 0, "\(authLocked.stderr)")
        let authText = try TestSupport.read(authPlan + "/plan.lock")
        let authDigest = try registryDigest(OCITestKit.authRegistry, "plan-test/busybox", "stable",
                                            credentials: "\(OCITestKit.authUser):\(OCITestKit.authPassword)")
        let openDigest = try registryDigest(Self.registry, "plan-test/busybox", "stable")
        #expect(authText.contains("""
              "\(Self.registry)/plan-test/busybox:stable":
                digest: \(openDigest)
                platforms:
                  linux/amd64: \(openDigest)
              "\(OCITestKit.authRegistry)/plan-test/busybox:stable":
                digest: \(authDigest)
                platforms:
                  linux/amd64: \(authDigest)
            """), "\(authText)")
    }

    @Test("plan lock sends one manifest request per image and one per image × platform (the monorepo-style count)")
    func oneManifestRequestPerImageAndPlatform() throws {
        let own = try OwnRegistry()
        // Two indexes that share no manifest (a shared one would be fetched once, stored, and read from the store).
        try own.copy(Self.registry + "/plan-test/busybox-multi:1", to: "lock/multi:1")
        try own.copy(Self.registry + "/plan-test/multi:1", to: "lock/tools:1")
        try own.copy(Self.registry + "/plan-test/busybox:stable", to: "lock/single:1")
        let folder = try TestSupport.project("""
            version: 1
            name: lock-requests
            platforms: [linux/amd64, linux/arm64]
            stages:
              a:
                from: \(own.address)/lock/multi:1
                user: "1000"
              b:
                from: \(own.address)/lock/multi:1
                user: "1000"
                steps:
                  - copy: /bin/busybox
                    image: \(own.address)/lock/tools:1
                    to: /opt/
            targets: [a, b]
            """)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let start = own.requests().count
        let locked = try plan(["lock", folder, "--cache-dir", folder + "/cache"])
        #expect(locked.status == 0, "\(locked.stderr)")
        let manifests = own.requests().dropFirst(start).filter { $0.contains("/manifests/") }
        // Two distinct images (multi is read twice) × (their tag + two platforms' manifests by digest).
        for repository in ["multi", "tools"] {
            #expect(manifests.filter { $0.hasPrefix("GET /v2/lock/\(repository)/manifests/1 ") }.count == 1, "\(manifests)")
            #expect(manifests.filter { $0.hasPrefix("GET /v2/lock/\(repository)/manifests/sha256:") }.count == 2, "\(manifests)")
        }
        #expect(manifests.count == 6, "\(manifests)")

        // A single-manifest image: its tag is the one manifest request; an arm64 build of it is a located error.
        try TestSupport.write("""
            version: 1
            name: lock-requests
            stages:
              c:
                from: \(own.address)/lock/single:1
                user: "1000"
            """, to: folder + "/single.yaml")
        let next = own.requests().count
        let single = try plan(["lock", folder + "/single.yaml", "-o", folder + "/single.lock", "--cache-dir", folder + "/cache-2"])
        #expect(single.status == 0, "\(single.stderr)")
        let singleManifests = own.requests().dropFirst(next).filter { $0.contains("/manifests/") }
        #expect(singleManifests == ["GET /v2/lock/single/manifests/1 HTTP/1.1"], "\(singleManifests)")
        let arm = try plan(["lock", folder + "/single.yaml", "--platform", "linux/arm64", "-o", folder + "/arm.lock",
                            "--cache-dir", folder + "/cache-2"])
        #expect(arm.status == 1 && arm.stderr.contains("single.yaml:4:3") && arm.stderr.contains("linux/arm64"), "\(arm.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/arm.lock"))
    }

    @Test("the monorepo example, 7 stages from one image, for two platforms: plan lock asks for 3 manifests (the benchmark)")
    func monorepoLockRequests() throws {
        let own = try OwnRegistry()
        // The example's base under the name it reads, here a real two-platform index.
        try own.copy(Self.registry + "/plan-test/busybox-multi:1", to: "plan-test/busybox:stable")
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let start = own.requests().count
        let locked = try plan(["lock", TestSupport.plans + "/monorepo", "--arg", "REGISTRY=\(own.address)",
                               "--platform", "linux/amd64,linux/arm64", "-o", folder + "/plan.lock", "--cache-dir", folder + "/cache"])
        #expect(locked.status == 0, "\(locked.stderr)")
        let manifests = own.requests().dropFirst(start).filter { $0.contains("/manifests/") }
        #expect(manifests.count == 3 && manifests.filter { $0.hasPrefix("GET /v2/plan-test/busybox/manifests/sha256:") }.count == 2,
                "one for the tag, one per platform: \(manifests)")
        #expect(try TestSupport.read(folder + "/plan.lock").contains("file: \"\(TestSupport.plans)/monorepo/plan.yaml\""))

        // A platform added later is read from the locked index, even after the tag moved: amd64 keeps its digest.
        let amd64Only = ["lock", TestSupport.plans + "/monorepo", "--arg", "REGISTRY=\(own.address)", "-o", folder + "/later.lock",
                         "--cache-dir", folder + "/cache"]
        #expect(try plan(amd64Only + ["--platform", "linux/amd64"]).status == 0)
        let index = try registryDigest(own.address, "plan-test/busybox", "stable")
        let platforms = try indexPlatforms(own.address, "plan-test/busybox", "stable")
        try own.copy(Self.registry + "/plan-test/multi:1", to: "plan-test/busybox:stable")
        #expect(try registryDigest(own.address, "plan-test/busybox", "stable") != index)
        let both = try plan(amd64Only + ["--platform", "linux/amd64,linux/arm64"])
        #expect(both.status == 0, "\(both.stderr)")
        let later = try TestSupport.read(folder + "/later.lock")
        #expect(later.contains("""
                digest: \(index)
                platforms:
                  linux/amd64: \(platforms["linux/amd64"] ?? "?")
                  linux/arm64/v8: \(platforms["linux/arm64/v8"] ?? "?")
            """), "\(later)")
    }

    @Test("plan run --locked rebuilds from the cache with the registry stopped; without --locked it cannot")
    func lockedRunWorksOffline() throws {
        let own = try OwnRegistry()
        try own.copy(Self.registry + "/plan-test/busybox:stable", to: "lock/base:1")
        try own.copy(Self.registry + "/plan-test/busybox-multi:1", to: "lock/tools:1")
        let folder = try TestSupport.project("""
            version: 1
            name: lock-offline
            stages:
              app:
                from: \(own.address)/lock/base:1
                user: "1000"
                steps:
                  - copy: /bin/busybox
                    image: \(own.address)/lock/tools:1
                    to: /opt/busybox
                  - run: /opt/busybox true
            """)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cache = folder + "/cache"
        #expect(try plan(["lock", folder, "--cache-dir", cache]).status == 0)
        let afterLock = own.requests().count
        let first = try plan(["run", folder, "--locked", "--cache-dir", cache, "--progress", "plain",
                              "--output", "type=local,dest=\(folder)/out1"])
        #expect(first.status == 0, "\(first.stderr)")
        let runManifestRequests = own.requests().dropFirst(afterLock).filter { $0.contains("/manifests/") }

        own.stop()
        let offline = try plan(["run", folder, "--locked", "--cache-dir", cache, "--progress", "plain",
                                "--output", "type=local,dest=\(folder)/out2"])
        #expect(offline.status == 0, "\(offline.stderr)")
        #expect(FileManager.default.fileExists(atPath: folder + "/out2/opt/busybox"))
        let unlocked = try plan(["run", folder, "--cache-dir", cache, "--progress", "plain"])
        #expect(unlocked.status == 1 && unlocked.stderr.contains("\(own.address)"), "\(unlocked.stderr)")
        // The locked run asked for no manifest at all, by tag or digest: `plan lock` left them in the store.
        #expect(runManifestRequests.isEmpty, "\(runManifestRequests)")
    }

    @Test("plan lock --check fails after the tag moves to another image and names it; --update IMAGE refreshes only it")
    func checkFindsAMovedTag() throws {
        let own = try OwnRegistry()
        try own.copy(Self.registry + "/plan-test/busybox:stable", to: "lock/moving:1")
        try own.copy(Self.registry + "/plan-test/busybox:stable", to: "lock/steady:1")
        let folder = try TestSupport.project("""
            version: 1
            name: lock-check
            stages:
              app:
                from: \(own.address)/lock/moving:1
                user: "1000"
                steps:
                  - copy: /bin/busybox
                    image: \(own.address)/lock/steady:1
                    to: /opt/
            """)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cache = folder + "/cache"
        #expect(try plan(["lock", folder, "--cache-dir", cache]).status == 0)
        let original = try TestSupport.read(folder + "/plan.lock")
        #expect(try plan(["lock", folder, "--check", "--cache-dir", cache]).status == 0)

        // The tag now names another image (the hostile test image: other layers, other config).
        try own.copy(Self.registry + "/plan-test/hostile:1", to: "lock/moving:1")
        let moved = try registryDigest(own.address, "lock/moving", "1")
        let check = try plan(["lock", folder, "--check", "--cache-dir", cache])
        #expect(check.status == 1, "\(check.stderr)")
        #expect(check.stderr.contains("is stale") && check.stderr.contains("changed: \(own.address)/lock/moving:1")
                    && check.stderr.contains(moved) && !check.stderr.contains("lock/steady"), "\(check.stderr)")
        #expect(try TestSupport.read(folder + "/plan.lock") == original, "--check writes nothing")

        // A plain `plan lock` keeps what is locked; --update of the other image changes nothing; --update IMAGE moves it.
        #expect(try plan(["lock", folder, "--cache-dir", cache]).status == 0)
        #expect(try TestSupport.read(folder + "/plan.lock") == original)
        #expect(try plan(["lock", folder, "--update", "\(own.address)/lock/steady", "--cache-dir", cache]).status == 0)
        #expect(try TestSupport.read(folder + "/plan.lock") == original)
        let update = try plan(["lock", folder, "--update", "\(own.address)/lock/moving:1", "--cache-dir", cache])
        #expect(update.status == 0 && update.stderr.contains("updated"), "\(update.stderr)")
        let updated = try TestSupport.read(folder + "/plan.lock")
        #expect(updated.contains(moved) && updated != original)
        #expect(try plan(["lock", folder, "--check", "--cache-dir", cache]).status == 0)
        let unknown = try plan(["lock", folder, "--update", "\(own.address)/lock/other", "--cache-dir", cache])
        #expect(unknown.status == 2 && unknown.stderr.contains("reads no such image"), "\(unknown.stderr)")
    }

    @Test("plan compile --locked writes FROM and COPY --from by digest, and buildah builds it")
    func lockedDockerfileBuildsWithBuildah() throws {
        let buildah = try TestSupport.tool("buildah")
        let folder = try TestSupport.project("""
            version: 1
            name: lock-compile
            args:
              REGISTRY: "\(Self.registry)"
            stages:
              app:
                from: ${REGISTRY}/plan-test/busybox-multi:1
                user: "1000"
                steps:
                  - copy: /bin/busybox
                    image: \(Self.registry)/plan-test/busybox:stable
                    to: /opt/busybox
                  - run: /opt/busybox true
            """)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(try plan(["lock", folder, "--cache-dir", folder + "/cache"]).status == 0)
        let compile = try plan(["compile", folder, "--locked", "--dialect", "portable", "-o", folder + "/Containerfile"])
        #expect(compile.status == 0, "\(compile.stderr)")
        let text = try TestSupport.read(folder + "/Containerfile")
        let index = try registryDigest(Self.registry, "plan-test/busybox-multi", "1")
        let single = try registryDigest(Self.registry, "plan-test/busybox", "stable")
        #expect(text.contains("FROM \(Self.registry)/plan-test/busybox-multi:1@\(index)"), "\(text)")
        #expect(text.contains("--from=\(Self.registry)/plan-test/busybox:stable@\(single)"), "\(text)")
        let tag = "localhost/plan-lock-test:\(UUID().uuidString.lowercased().prefix(8))"
        let build = try TestSupport.run(buildah, [
            "bud", "--isolation", "chroot", "--tls-verify=false", "--layers=false", "-f", folder + "/Containerfile", "-t", tag, folder,
        ])
        #expect(build.status == 0, "buildah bud failed:\n\(build.stdout.suffix(3000))\n\(build.stderr.suffix(3000))")
        _ = try? TestSupport.run(buildah, ["rmi", "-f", tag])
    }
}
