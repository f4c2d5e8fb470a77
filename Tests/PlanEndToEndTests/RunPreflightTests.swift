import Foundation
import Testing

/// `plan run` refuses, before building anything, what it cannot build as written: a
/// required secret not passed, a `--no-cache-filter` stage that does not exist. And it honours the
/// context's hand-written `.dockerignore` as `compile` does. Needs root or bubblewrap, as scripts/test provides.
@Suite struct RunPreflightTests {
    func run(_ folder: String, _ extra: [String] = []) throws -> TestSupport.ProcessResult {
        try TestSupport.plan(["run", folder, "--cache-dir", folder + "/cache", "--output", "type=local,dest=\(folder)/out"] + extra)
    }

    @Test("a target pinned to another platform is built for it (a build of copies needs no emulator); the host's, also as ${BUILDPLATFORM}, too")
    func pinnedPlatformIsBuilt() throws {
        #if arch(x86_64)
        let (host, foreign, foreignArchitecture) = ("linux/amd64", "linux/arm64", "arm64")
        #else
        let (host, foreign, foreignArchitecture) = ("linux/arm64/v8", "linux/amd64", "amd64")
        #endif
        let folder = try TestSupport.project("""
            version: 1
            allow: [root-target]
            stages:
              app:
                from: scratch
                platform: \(foreign)
                steps:
                  - copy: app.txt
                    to: /app.txt

            """, files: ["app.txt": "app\n"])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try run(folder, ["--output", "type=oci,dest=\(folder)/layout"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try TestSupport.read(folder + "/out/app.txt") == "app\n")
        let index = try TestSupport.read(folder + "/layout/index.json")
        #expect(index.contains("\"architecture\":\"\(foreignArchitecture)\""), "\(index)")
        try? FileManager.default.removeItem(atPath: folder + "/out")
        for host in [host, "${BUILDPLATFORM}"] {
            try TestSupport.write(try TestSupport.read(folder + "/plan.yaml")
                .replacingOccurrences(of: "platform: \(foreign)", with: "platform: \(host)"), to: folder + "/plan.yaml")
            let built = try run(folder)
            #expect(built.status == 0, "\(host): \(built.stderr)")
            #expect(try TestSupport.read(folder + "/out/app.txt") == "app\n")
            try? FileManager.default.removeItem(atPath: folder + "/out")
            try TestSupport.write(try TestSupport.read(folder + "/plan.yaml")
                .replacingOccurrences(of: "platform: \(host)", with: "platform: \(foreign)"), to: folder + "/plan.yaml")
        }
    }

    static let secretive = """
        version: 1
        allow: [root-target]
        stages:
          app:
            from: alpine:3.20
            steps:
              - run: cat /run/secrets/token > /dev/null
                secrets: [{id: token, required: true}]

        """

    @Test("a required secret that is not passed is an error before building; a misspelt --no-cache-filter gets a suggestion")
    func requiredSecretAndNoCacheFilter() throws {
        let folder = try TestSupport.project(Self.secretive)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try run(folder)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("error: \(folder)/plan.yaml:7:9: stage `app` needs secret `token` (`required: true`)"),
                "\(result.stderr)")
        #expect(!result.stderr.contains("[app] started"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/out"))

        try "t0ken".write(toFile: folder + "/token.txt", atomically: true, encoding: .utf8)
        let misspelt = try run(folder, ["--secret", "id=token,src=\(folder)/token.txt", "--no-cache-filter", "ap"])
        #expect(misspelt.status == 2)
        #expect(misspelt.stderr.contains("error: --no-cache-filter ap: the plan has no stage `ap`; did you mean `app`?"),
                "\(misspelt.stderr)")
        #expect(!misspelt.stderr.contains("needs secret"))
    }

    @Test("a hand-written .dockerignore at the context root keeps its files out of the built image")
    func contextDockerignoreIsHonouredByRun() throws {
        let folder = try TestSupport.project("""
            version: 1
            allow: [root-target]
            ignore: [plan.yaml, cache, out]
            stages:
              app:
                from: scratch
                workdir: /app
                steps:
                  - copy: .

            """, files: [".dockerignore": "secret.env\n", "secret.env": "TOKEN=hunter2\n", "app.txt": "app\n"])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try run(folder)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try TestSupport.read(folder + "/out/app/app.txt") == "app\n")
        #expect(!FileManager.default.fileExists(atPath: folder + "/out/app/secret.env"))
    }
}
