import Foundation
import PlanDiagnostics
import PlanLock
import PlanValues
import Testing

/// The lock file's text: written sorted and read back the same; differences named entry by entry.
@Suite struct LockFileTests {
    static func digest(_ character: Character) throws -> Digest { try Digest(parsing: "sha256:" + String(repeating: character, count: 64)) }

    static func sample() throws -> LockFile {
        LockFile(plan: "demo", planFile: "plan.yaml", images: [
            "docker.io/library/node:18-alpine": LockedImage(digest: try digest("a"), platforms: [
                "linux/arm64/v8": try digest("c"), "linux/amd64": try digest("b"),
            ]),
            "127.0.0.1:5555/plan-test/busybox:stable": LockedImage(digest: try digest("d"), platforms: ["linux/amd64": try digest("d")]),
        ], downloads: ["https://example.com/a b.tgz": try digest("e")])
    }

    @Test("the text is sorted, quoted where needed, and reads back equal")
    func roundTrip() throws {
        let lock = try Self.sample()
        let text = lock.text
        #expect(text.hasPrefix(LockFile.header + "\nversion: 1\nplan: \"demo\"\nfile: \"plan.yaml\"\nimages:\n"
                               + "  \"127.0.0.1:5555/plan-test/busybox:stable\":\n"))
        let amd64 = try #require(text.range(of: "linux/amd64: sha256:bbbb"))
        let arm64 = try #require(text.range(of: "linux/arm64/v8: sha256:cccc"))
        #expect(amd64.lowerBound < arm64.lowerBound)
        #expect(text.hasSuffix("downloads:\n  \"https://example.com/a b.tgz\": sha256:" + String(repeating: "e", count: 64) + "\n"))
        let read = LockFile.read(Data(text.utf8), file: "plan.lock")
        #expect(read.diagnostics.isEmpty)
        #expect(read.lock == lock)
        #expect(read.lock?.image(try ImageReference(parsing: "node:18-alpine"))?.manifest(for: try Platform(parsing: "linux/arm64"))
                == (try Self.digest("c")))
        let empty = LockFile(plan: "x", planFile: "p.yaml")
        #expect(LockFile.read(Data(empty.text.utf8), file: "plan.lock").lock == empty)
    }

    @Test("a hand-edited lock: every problem located, no lock")
    func nonsense() throws {
        let text = """
            version: 2
            plan: [demo]
            images:
              "node:18":
                digest: sha256:12
                platforms:
                  linux/x86_64: sha256:\(String(repeating: "a", count: 64))
                colour: blue
            downloads: {}
            """
        let read = LockFile.read(Data(text.utf8), file: "plan.lock")
        #expect(read.lock == nil)
        let messages = read.diagnostics.map { "\($0.location?.description ?? "-") \($0.message)" }
        #expect(messages.contains { $0.hasPrefix("plan.lock:1:10 `version` must be 1") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("plan.lock:2:7 `plan` must be a string") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("plan.lock:1:1 the lock file has no `file`") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("plan.lock:4:3 `node:18` is not a normalised image reference") }, "\(messages)")
        #expect(read.diagnostics.allSatisfy { $0.code == DiagnosticCode.invalidLock })
        let empty = LockFile.read(Data(), file: "plan.lock")
        #expect(empty.lock == nil && !empty.diagnostics.isEmpty)
    }

    @Test("differences name each changed, missing and extra entry")
    func differences() throws {
        let locked = try Self.sample()
        var current = locked
        current.images["docker.io/library/node:18-alpine"]?.digest = try Self.digest("f")
        current.images["docker.io/library/node:18-alpine"]?.platforms["linux/amd64"] = try Self.digest("9")
        current.images["127.0.0.1:5555/plan-test/busybox:stable"] = nil
        current.images["docker.io/library/golang:1.22"] = LockedImage(digest: try Self.digest("1"), platforms: [:])
        current.downloads = [:]
        let lines = LockDifference.between(locked, current).map(\.description)
        #expect(lines == [
            "extra: 127.0.0.1:5555/plan-test/busybox:stable (the lock pins it; the plan no longer reads it)",
            "missing: docker.io/library/golang:1.22 (the plan reads it; the lock does not pin it)",
            "changed: docker.io/library/node:18-alpine: locked sha256:\(String(repeating: "a", count: 64)), the registry now has sha256:\(String(repeating: "f", count: 64))",
            "changed: docker.io/library/node:18-alpine for linux/amd64: locked sha256:\(String(repeating: "b", count: 64)), the registry now has sha256:\(String(repeating: "9", count: 64))",
            "extra: download https://example.com/a b.tgz (the plan no longer downloads it)",
        ], "\(lines)")
        #expect(LockDifference.between(locked, locked).isEmpty)
    }

    @Test("a locked FROM keeps the written name and adds the digest")
    func pinnedText() throws {
        let digest = try Self.digest("a")
        #expect(LockedBuild.pinnedText("node:18", reference: try ImageReference(parsing: "node:18"), digest: digest)
                == "node:18@\(digest)")
        #expect(LockedBuild.pinnedText("${BASE}", reference: try ImageReference(parsing: "node:18"), digest: digest)
                == "docker.io/library/node:18@\(digest)")
        let pinned = "node@\(digest)"
        #expect(LockedBuild.pinnedText(pinned, reference: try ImageReference(parsing: pinned), digest: try Self.digest("b")) == pinned)
    }
}
