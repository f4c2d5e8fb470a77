import Foundation
import Testing

/// `plan run` delivering images by name: `type=registry` / `type=image` and `--push --tag-prefix`, read
/// back by skopeo and buildah from the reference registry (open on 127.0.0.1:5555, basic auth on
/// :5556); `--metadata-file`; a re-push that uploads nothing; credentials and bad input.
@Suite(.serialized) struct PushTests {
    static var registry: String { OCITestKit.registry }
    static var authRegistry: String { OCITestKit.authRegistry }
    static var state: String { ProcessInfo.processInfo.environment["PLAN_TEST_STATE"] ?? "/var/tmp/plan-test" }

    /// A repository no other test uses.
    static func repository(_ registry: String = registry) -> String { "\(registry)/plan-push-\(UUID().uuidString.lowercased())" }

    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> TestSupport.ProcessResult {
        try TestSupport.run(TestSupport.planBinary, ["run"] + arguments + ["--insecure-registry", Self.registry],
                            in: TestSupport.repoRoot, environment: ["NO_COLOR": "1"].merging(environment) { $1 })
    }

    /// `skopeo inspect --raw`: the manifest's bytes as the registry serves them (nil when it has none).
    func rawManifest(_ reference: String, credentials: String? = nil) throws -> Data? {
        let skopeo = try TestSupport.tool("skopeo")
        let result = try TestSupport.run(skopeo, ["inspect", "--raw", "--tls-verify=false"]
            + (credentials.map { ["--creds", $0] } ?? []) + ["docker://\(reference)"])
        return result.status == 0 ? Data(result.stdout.utf8) : nil
    }

    /// The registry's own record of the blobs linked into a repository (written when a blob is
    /// uploaded or mounted there): path → modification time.
    func layerLinks(_ repository: String, registryState: String = "registry") -> [String: Date] {
        let name = repository.split(separator: "/", maxSplits: 1).last.map(String.init) ?? repository
        let folder = "\(Self.state)/\(registryState)/data/docker/registry/v2/repositories/\(name)/_layers/sha256"
        var links: [String: Date] = [:]
        for digest in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            let path = "\(folder)/\(digest)/link"
            if let date = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date { links[digest] = date }
        }
        return links
    }

    /// Upload sessions started for a repository, as far as the registry's log records requests.
    func uploadRequests(_ repository: String) -> Int {
        OCITestKit.uploadRequests(repository.split(separator: "/", maxSplits: 1).last.map(String.init) ?? repository)
    }

    /// `sha256:HEX` of bytes.
    func digest(_ data: Data) throws -> String {
        let result = try TestSupport.run("/usr/bin/sha256sum", [], input: data)
        return "sha256:" + (result.stdout.split(separator: " ").first.map(String.init) ?? "")
    }

    /// The digest of the one image of an OCI layout.
    func layoutDigest(_ folder: String) throws -> String? {
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/index.json"))) as? [String: Any]
        return (index?["manifests"] as? [[String: Any]])?.first?["digest"] as? String
    }

    /// The JSON progress events of a run (`--progress json`), one object per line.
    func events(_ stderr: String) -> [[String: String]] {
        stderr.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
    }

    func metadata(_ path: String) throws -> [String: [String: Any]] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: [String: Any]])
    }

    @Test func oneTargetPushedIsReadBySkopeoAndBuildahAndItsDigestIsTheMetadataAndTheOCIOutputs() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let repository = Self.repository()
        let reference = repository + "/app:1"
        let first = try run([TestSupport.plans + "/registry", "--cache-dir", folder + "/cache", "--progress", "plain",
                             "--output", "type=registry,name=\(reference)", "--output", "type=oci,dest=\(folder)/layout",
                             "--metadata-file", folder + "/metadata.json"])
        #expect(first.status == 0, "\(first.stderr)")
        guard first.status == 0 else { return }

        // The pushed manifest is the metadata's digest and the same run's OCI layout's.
        let raw = try #require(try rawManifest(reference))
        let pushed = try digest(raw)
        let entry = try #require(try metadata(folder + "/metadata.json")["app"])
        #expect(entry["containerimage.digest"] as? String == pushed)
        #expect(entry["image.name"] as? String == reference)
        let descriptor = try #require(entry["containerimage.descriptor"] as? [String: Any])
        #expect(descriptor["digest"] as? String == pushed)
        #expect(descriptor["size"] as? Int == raw.count)
        #expect(descriptor["mediaType"] as? String == "application/vnd.oci.image.manifest.v1+json")
        #expect(try layoutDigest(folder + "/layout") == pushed)
        // The progress view said what was pushed, and the run ended with the digest.
        #expect(first.stderr.contains("[app] pushing \(reference): "), "\(first.stderr)")
        #expect(first.stderr.hasSuffix("pushed \(reference)@\(pushed)\n"), "\(first.stderr)")

        // skopeo reads the image; buildah pulls it and runs it.
        let skopeo = try TestSupport.run(try TestSupport.tool("skopeo"), ["inspect", "--tls-verify=false", "docker://\(reference)"])
        #expect(skopeo.status == 0 && skopeo.stdout.contains("\"Layers\""), "\(skopeo.stderr)")
        let buildah = try TestSupport.tool("buildah")
        let from = try TestSupport.run(buildah, ["from", "--tls-verify=false", "--isolation", "chroot", "docker://\(reference)"])
        #expect(from.status == 0, "\(from.stderr)")
        let container = from.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer {
            _ = try? TestSupport.run(buildah, ["rm", container])
            _ = try? TestSupport.run(buildah, ["rmi", "-f", reference])
        }
        let greet = try TestSupport.run(buildah, ["run", "--isolation", "chroot", container, "--", "greet", "world"])
        #expect(greet.status == 0 && greet.stdout.contains("hello"), "\(greet.stdout) \(greet.stderr)")

        // Unchanged, a second run uploads no blob: every one is found there, only the manifest is put again.
        let links = layerLinks(repository + "/app")
        let uploads = uploadRequests(repository + "/app")
        #expect(links.count >= 2, "the registry links the image's blobs into the repository: \(links)")
        #expect(uploads > 0, "the first push's uploads are in the registry's access log")
        let second = try run([TestSupport.plans + "/registry", "--cache-dir", folder + "/cache", "--progress", "json",
                              "--output", "type=registry,name=\(reference)"])
        #expect(second.status == 0, "\(second.stderr)")
        let blobs = events(second.stderr).filter { $0["event"] == "push-blob" }
        #expect(!blobs.isEmpty && blobs.allSatisfy { $0["result"] == "present" }, "\(blobs)")
        #expect(events(second.stderr).contains { $0["event"] == "push-manifest" && $0["digest"] == pushed })
        #expect(layerLinks(repository + "/app") == links, "no blob was uploaded or mounted again")
        #expect(uploadRequests(repository + "/app") == uploads)
    }

    @Test func typeImageStoresUnderEveryNameForPlanImageInspect() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let repository = "localhost/plan-store-\(UUID().uuidString.lowercased())"
        let result = try run([TestSupport.plans + "/registry", "--cache-dir", folder + "/cache",
                              "--output", "type=image,\"name=\(repository)/a:1,\(repository)/b:1\"", "--output", "type=oci,dest=\(folder)/layout"])
        #expect(result.status == 0, "\(result.stderr)")
        let built = try #require(try layoutDigest(folder + "/layout"))
        for name in ["a", "b"] {
            let inspect = try TestSupport.plan(["image", "inspect", "\(repository)/\(name):1", "--cache-dir", folder + "/cache"])
            #expect(inspect.status == 0, "\(inspect.stderr)")
            let report = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
            #expect(report?["digest"] as? String == built)
        }
        #expect(result.stderr.contains("stored \(repository)/a:1, \(repository)/b:1 (\(built))"), "\(result.stderr)")
    }

    @Test func pushEveryTargetOfTheMonorepoUnderThePrefixAndTag() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let prefix = Self.repository() + "/"
        let result = try run([TestSupport.plans + "/monorepo", "--cache-dir", folder + "/cache", "--push", "--tag-prefix", prefix,
                              "--tag", "v1", "--tag", "latest", "--metadata-file", folder + "/out/metadata.json"])
        #expect(result.status == 0, "\(result.stderr)")
        guard result.status == 0 else { return }
        let metadata = try self.metadata(folder + "/out/metadata.json")
        for target in ["api", "docs", "web", "worker"] {
            let expected = try #require(metadata[target]?["containerimage.digest"] as? String, "\(metadata)")
            #expect(metadata[target]?["image.name"] as? String == "\(prefix)\(target):v1,\(prefix)\(target):latest")
            for tag in ["v1", "latest"] {
                let raw = try rawManifest("\(prefix)\(target):\(tag)")
                let pushed = try raw.map { try digest($0) }
                #expect(pushed == expected, "\(target):\(tag)")
            }
        }
        // The same names as `plan compile --out-dir --tag-prefix` gives BuildKit.
        let compile = try TestSupport.plan(["compile", "plans/monorepo", "--out-dir", folder + "/bake", "--tag-prefix", prefix])
        #expect(compile.status == 0, "\(compile.stderr)")
        let bake = try TestSupport.read(folder + "/bake/docker-bake.json")
        for target in ["api", "docs", "web", "worker"] { #expect(bake.contains("\"\(prefix)\(target):latest\"")) }
    }

    @Test func basicAuthRegistryTakesTheConfiguredPasswordAndRefusesAWrongOrMissingOne() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func dockerConfig(_ name: String, password: String?) throws -> String {
            let directory = folder + "/" + name
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let auths = password.map { password in
                [Self.authRegistry: ["auth": Data("\(OCITestKit.authUser):\(password)".utf8).base64EncodedString()]]
            } ?? [:]
            try JSONSerialization.data(withJSONObject: ["auths": auths]).write(to: URL(fileURLWithPath: directory + "/config.json"))
            return directory
        }
        let credentials = "\(OCITestKit.authUser):\(OCITestKit.authPassword)"
        let reference = Self.repository(Self.authRegistry) + "/app:1"
        let arguments = [TestSupport.plans + "/registry", "--cache-dir", folder + "/cache", "--insecure-registry", Self.authRegistry,
                         "--output", "type=registry,name=\(reference)"]

        // A wrong password and a missing credential are found before the build (a HEAD at the registry).
        let wrong = try run(arguments, environment: ["DOCKER_CONFIG": try dockerConfig("wrong", password: "not-the-password")])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("cannot push to \(reference)") && wrong.stderr.contains("authentication to \(Self.authRegistry)")
                    && wrong.stderr.contains("Nothing was built"), "\(wrong.stderr)")
        #expect(!wrong.stderr.contains("] started"), "nothing was built: \(wrong.stderr)")
        #expect(try rawManifest(reference, credentials: credentials) == nil, "no manifest at the tag")

        let missing = try run(arguments, environment: ["DOCKER_CONFIG": try dockerConfig("none", password: nil)])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot push to \(reference)") && missing.stderr.contains("no credentials"), "\(missing.stderr)")
        #expect(!missing.stderr.contains("] started"), "nothing was built: \(missing.stderr)")
        #expect(try rawManifest(reference, credentials: credentials) == nil, "no manifest at the tag")

        // A credentials file that cannot be read is refused before anything is built.
        try FileManager.default.createDirectory(atPath: folder + "/broken", withIntermediateDirectories: true)
        try Data("{\"auths\": [".utf8).write(to: URL(fileURLWithPath: folder + "/broken/config.json"))
        let broken = try run(arguments, environment: ["DOCKER_CONFIG": folder + "/broken"])
        #expect(broken.status == 1)
        #expect(broken.stderr.contains("cannot use registry credentials from \(folder)/broken/config.json"), "\(broken.stderr)")
        #expect(!broken.stderr.contains("] started"), "nothing was built: \(broken.stderr)")

        let right = try run(arguments + ["--metadata-file", folder + "/metadata.json"],
                            environment: ["DOCKER_CONFIG": try dockerConfig("right", password: OCITestKit.authPassword)])
        #expect(right.status == 0, "\(right.stderr)")
        let raw = try #require(try rawManifest(reference, credentials: credentials))
        let pushed = try digest(raw)
        #expect(try metadata(folder + "/metadata.json")["app"]?["containerimage.digest"] as? String == pushed)
    }

    @Test func badNamesTargetsPrefixesAndRegistriesAreClearErrorsAndPushNothing() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cache = ["--cache-dir", folder + "/cache"]
        let registryPlan = TestSupport.plans + "/registry"
        // Usage errors, before anything is read or built: exit 2.
        for (arguments, message) in [
            (["--output", "type=registry,name=Not A Reference"], "`Not A Reference` is not a valid image reference"),
            (["--output", "type=registry,name=\(Self.registry)/x/app@sha256:\(String(repeating: "0", count: 64))"], "names a digest"),
            (["--output", "type=image,name=\(Self.registry)/x/app:1,dest=out"], "unknown key `dest`"),
            (["--output", "type=registry,name=\(Self.registry)/x/app:1,push=false"], "type=registry always pushes"),
            (["--output", "type=image"], "type=image needs name=REF"),
            (["--output", "type=image,name=\(Self.registry)/x/app:1,compression=zstd"], "compression=zstd is not one of gzip, uncompressed"),
            (["--push"], "--push needs --tag-prefix PREFIX"),
            (["--tag", "v1"], "add --push"),
        ] {
            let result = try run([registryPlan] + cache + arguments)
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/cache/build"), "nothing was built")

        // A name for one image, and a run of several targets: refused before building.
        let repository = Self.repository()
        let several = try run([TestSupport.plans + "/monorepo"] + cache + ["--output", "type=registry,name=\(repository)/app:1"])
        #expect(several.status == 1)
        #expect(several.stderr.contains("choose one with --target, or push every target with --push --tag-prefix PREFIX. Nothing was built"),
                "\(several.stderr)")
        #expect(!several.stderr.contains("] started"), "nothing was built: \(several.stderr)")
        // --push with a prefix that makes no valid reference for a target: refused before building.
        let prefix = try run([registryPlan] + cache + ["--push", "--tag-prefix", "\(Self.registry)//"])
        #expect(prefix.status == 1)
        #expect(prefix.stderr.contains("--push --tag-prefix=\(Self.registry)//: `\(Self.registry)//app:latest` is not a valid image reference"),
                "\(prefix.stderr)")
        #expect(!prefix.stderr.contains("] started"), "nothing was built: \(prefix.stderr)")

        // A registry nobody listens on: found before the build, exit 1.
        let unreachable = try run([registryPlan] + cache + ["--output", "type=registry,name=127.0.0.1:1/x/app:1",
                                                            "--metadata-file", folder + "/metadata.json"])
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.contains("cannot push to 127.0.0.1:1/x/app:1") && unreachable.stderr.contains("refused")
                    && unreachable.stderr.contains("Nothing was built"), "\(unreachable.stderr)")
        #expect(!unreachable.stderr.contains("] started"), "nothing was built: \(unreachable.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/metadata.json"), "no metadata for a failed run")
        #expect(try rawManifest("\(repository)/app:1") == nil)
    }
}
