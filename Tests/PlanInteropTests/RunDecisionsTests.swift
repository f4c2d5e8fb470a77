import Foundation
import PlanExecutor
import Testing

@testable import PlanCLI

/// What the command line decides for `plan run` and `plan image` before the libraries run: the sandbox
/// (`SandboxChoice`) and the registry credentials (Docker's config.json). Needs root and the test registries,
/// as scripts/test provides.
@Suite struct RunDecisionsTests {
    static var registry: String { ProcessInfo.processInfo.environment["PLAN_TEST_REGISTRY"] ?? "127.0.0.1:5555" }
    static var authRegistry: String { ProcessInfo.processInfo.environment["PLAN_TEST_AUTH_REGISTRY"] ?? "127.0.0.1:5556" }
    static var authUser: String { ProcessInfo.processInfo.environment["PLAN_TEST_AUTH_USER"] ?? "plan-test" }
    static var authPassword: String { ProcessInfo.processInfo.environment["PLAN_TEST_AUTH_PASSWORD"] ?? "plan-test-password" }

    @Test func rootRunsStepsInRuncAndOthersInBubblewrap() throws {
        let runc = RuncSandbox(executable: "/usr/bin/runc", slirp4netns: nil)
        let bubblewrap = BubblewrapSandbox(executable: "/usr/bin/bwrap")
        let asRoot = try SandboxChoice.choose(isRoot: true, runc: { runc }, bubblewrap: { bubblewrap })
        #expect((asRoot as? RuncSandbox)?.executable == "/usr/bin/runc")
        let asUser = try SandboxChoice.choose(isRoot: false, runc: { runc }, bubblewrap: { bubblewrap })
        #expect((asUser as? BubblewrapSandbox)?.executable == "/usr/bin/bwrap")
    }

    @Test func aMissingSandboxIsAnErrorThatNamesTheTool() {
        #expect(throws: SandboxChoice.Unavailable.self) {
            try SandboxChoice.choose(isRoot: true, runc: { nil }, bubblewrap: { BubblewrapSandbox(executable: "/usr/bin/bwrap") })
        }
        do {
            _ = try SandboxChoice.choose(isRoot: false, runc: { RuncSandbox(executable: "/usr/bin/runc", slirp4netns: nil) },
                                         bubblewrap: { nil })
            Issue.record("no error without bubblewrap")
        } catch {
            #expect(error.description == "plan run needs root, or bubblewrap (bwrap) for runs in a user namespace")
        }
    }

    @Test func eachSandboxSaysWhatTheDefaultNetworkLacks() throws {
        let request = SandboxRequest(rootfs: "/nonexistent", arguments: ["true"], environment: [], workingDirectory: "/",
                                     user: ResolvedUser(uid: 0, gid: 0, groups: [], home: "/root"), stateDirectory: "/nonexistent")
        var host = request
        host.network = .host
        let withoutSlirp = RuncSandbox(executable: "/usr/bin/runc", slirp4netns: nil)
        #expect(withoutSlirp.limitation(of: request)?.contains("slirp4netns is missing") == true)
        #expect(withoutSlirp.limitation(of: host) == nil)
        #expect(RuncSandbox(executable: "/usr/bin/runc", slirp4netns: "/usr/bin/slirp4netns").limitation(of: request) == nil)
        let bubblewrap = BubblewrapSandbox(executable: "/usr/bin/bwrap")
        #expect(bubblewrap.limitation(of: request)?.contains("without root") == true)
        #expect(bubblewrap.limitation(of: host) == nil)
    }

    /// A plan whose base image lives in the registry behind basic auth.
    static func authPlan(in folder: String) throws -> String {
        try TestSupport.write("""
            version: 1
            allow: [root-target]
            stages:
              app:
                from: \(authRegistry)/plan-test/busybox:stable
                steps:
                  - run: echo built > /built
            """, to: folder + "/plan/plan.yaml")
        return folder + "/plan"
    }

    static func dockerConfig(_ json: String, in folder: String) throws -> String {
        try TestSupport.write(json, to: folder + "/docker/config.json")
        return folder + "/docker"
    }

    @Test func runPullsWithTheCredentialsOfTheDockerConfig() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let plan = try Self.authPlan(in: folder)
        let auth = Data("\(Self.authUser):\(Self.authPassword)".utf8).base64EncodedString()
        let config = try Self.dockerConfig(#"{"auths":{"\#(Self.authRegistry)":{"auth":"\#(auth)"}}}"#, in: folder)
        let result = try TestSupport.run(TestSupport.planBinary, [
            "run", plan, "--cache-dir", folder + "/cache", "--output", "type=local,dest=\(folder)/out",
        ], environment: ["DOCKER_CONFIG": config, "NO_COLOR": "1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try TestSupport.read(folder + "/out/built") == "built\n")

        // No config file at all is no credentials: the registry refuses.
        let without = try TestSupport.run(TestSupport.planBinary, [
            "run", plan, "--cache-dir", folder + "/cache2",
        ], environment: ["DOCKER_CONFIG": folder + "/none", "NO_COLOR": "1"])
        #expect(without.status == 1)
        #expect(without.stderr.contains("no credentials"), "\(without.stderr)")
    }

    @Test func aMalformedDockerConfigIsAnErrorNamingTheFile() throws {
        let folder = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let plan = try Self.authPlan(in: folder)
        let config = try Self.dockerConfig(#"{"auths": {"#, in: folder)
        let run = try TestSupport.run(TestSupport.planBinary, ["run", plan, "--cache-dir", folder + "/cache"],
                                      environment: ["DOCKER_CONFIG": config, "NO_COLOR": "1"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("error: cannot use registry credentials from \(config)/config.json"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/cache/images"), "nothing was pulled")

        let pull = try TestSupport.run(TestSupport.planBinary, [
            "image", "pull", "\(Self.registry)/plan-test/busybox:stable", "--cache-dir", folder + "/cache",
        ], environment: ["DOCKER_CONFIG": config, "NO_COLOR": "1"])
        #expect(pull.status == 1)
        #expect(pull.stderr.contains("error: cannot use registry credentials from \(config)/config.json"), "\(pull.stderr)")
    }
}
