import Foundation
@testable import PlanExecutor
import Testing

/// `StepInputs` on its own: keys and the reasons `--explain` gives.
@Suite struct StepInputsTests {
    let base: [(String, String)] = [
        ("step", "run make"), ("env PATH", "/usr/bin:/bin"), ("arg VERSION", "1.0"), ("file src/main.go", "644 0:0 sha256:aa"),
    ]

    @Test func theSameInputsMakeTheSameKey() {
        let a = StepInputs(parent: "p", items: base)
        let b = StepInputs(parent: "p", items: base)
        #expect(a.key == b.key)
        #expect(a == b)
        #expect(a.key.count == 64 && a.key.allSatisfy(\.isHexDigit))
    }

    @Test func anyChangeMakesAnotherKey() throws {
        let key = StepInputs(parent: "p", items: base).key
        var variants: [StepInputs] = [
            StepInputs(parent: "q", items: base),
            StepInputs(parent: "", items: base),
            StepInputs(parent: "p", items: Array(base.reversed())),
            StepInputs(parent: "p", items: Array(base.dropLast())),
            StepInputs(parent: "p", items: base + [("file src/new.go", "644 0:0 sha256:bb")]),
            StepInputs(parent: "p", items: []),
        ]
        for index in base.indices {
            var renamed = base
            renamed[index].0 += "x"
            var revalued = base
            revalued[index].1 += "x"
            variants += [StepInputs(parent: "p", items: renamed), StepInputs(parent: "p", items: revalued)]
        }
        // Names and values cannot run into each other.
        variants += [StepInputs(parent: "p", items: [("ab", "c")]), StepInputs(parent: "p", items: [("a", "bc")]),
                     StepInputs(parent: "p", items: [("a", "b\n1:c1:d")]), StepInputs(parent: "p", items: [("a", "b"), ("c", "d")])]
        let keys = [key] + variants.map(\.key)
        #expect(Set(keys).count == keys.count, "two different inputs made the same key")
        // Derived keys (an artifact of a stage) differ from the key and from each other.
        let derived = [StepInputs.derivedKey(key, "artifact /out"), StepInputs.derivedKey(key, "artifact /out/bin"),
                       StepInputs.derivedKey(variants[0].key, "artifact /out")]
        #expect(Set(derived + [key]).count == 4)
        #expect(StepInputs.derivedKey(key, "artifact /out") == StepInputs.derivedKey(key, "artifact /out"))
    }

    @Test func aStoredInputListKeepsItsKey() throws {
        let inputs = StepInputs(parent: "p", items: base)
        let decoded = try JSONDecoder().decode(StepInputs.self, from: JSONEncoder().encode(inputs))
        #expect(decoded == inputs)
        #expect(StepInputs(parent: decoded.parent, items: decoded.items.map { ($0.name, $0.value) }).key == inputs.key)
    }

    func reason(_ old: [(String, String)], _ new: [(String, String)], oldParent: String = "p") -> String {
        StepInputs(parent: "p", items: new).difference(from: StepInputs(parent: oldParent, items: old))
    }

    @Test func differenceNamesTheFirstInputThatChanged() {
        func replacing(_ name: String, _ value: String) -> [(String, String)] {
            base.map { $0.0 == name ? ($0.0, value) : $0 }
        }
        #expect(reason(base, replacing("file src/main.go", "600 0:0 sha256:aa")) == "src/main.go changed")
        #expect(reason(base, replacing("env PATH", "/bin")) == "env PATH changed: `/usr/bin:/bin` → `/bin`")
        #expect(reason(base, replacing("arg VERSION", "2.0")) == "arg VERSION changed: `1.0` → `2.0`")
        #expect(reason(base, replacing("step", "run make all")) == "the step changed: `run make` → `run make all`")
        #expect(reason(base + [("file src/new.go", "x")], base) == "src/new.go removed")
        #expect(reason(base, base + [("file src/new.go", "x")]) == "src/new.go added")
        #expect(reason(base, base, oldParent: "q") == "an earlier step changed")
        #expect(reason(base, base) == "the entry was removed from the cache")
        // Own inputs come before the chain; the first changed one in order wins.
        #expect(reason(base, replacing("arg VERSION", "2.0").map { $0.0 == "env PATH" ? ($0.0, "/bin") : $0 }, oldParent: "q")
                == "env PATH changed: `/usr/bin:/bin` → `/bin`")
        #expect(reason([("base", "image sha256:1")], [("base", "image sha256:2")]) == "the base changed: `image sha256:1` → `image sha256:2`")
        #expect(reason([("dir src", "755 0:0")], [("dir src", "700 0:0")]) == "src changed")
        #expect(reason([("link src/current", "777 0:0 → a")], [("link src/current", "777 0:0 → b")]) == "src/current changed")
        #expect(reason([("artifact build.bin", "sha256:1")], [("artifact build.bin", "sha256:2")]) == "artifact build.bin changed")
        #expect(reason([("user", "root")], [("user", "app")]) == "user changed: `root` → `app`")
    }

    @Test func aChangedScriptShowsTheLineThatChanged() {
        let old = "run set -eu\nmkdir -p /out\nsed s/a/b/ in > /out/x"
        #expect(reason([("step", old)], [("step", "run set -eu\nmkdir -p /out\nsed s/a/c/ in > /out/x")])
                == "the step changed: `sed s/a/b/ in > /out/x` → `sed s/a/c/ in > /out/x`")
        #expect(reason([("step", old)], [("step", old + "\necho done")]) == "the step changed: `` → `echo done`")
        // A long line is shown from a little before where it differs.
        let long = "run mkdir -p /tmp/state && echo \"$GREETING $COLOUR\" > /tmp/state/greeting && id -u > /tmp/state/uid"
        let text = reason([("step", long)], [("step", long.replacingOccurrences(of: "id -u", with: "id -g"))])
        #expect(text.hasPrefix("the step changed: `...") && text.contains("id -u") && text.contains("id -g"), "\(text)")
        // A short value is shown whole; a long one is cut at 60 characters.
        let cut = reason([("env A", String(repeating: "x", count: 100))], [("env A", "y" + String(repeating: "x", count: 99))])
        #expect(cut == "env A changed: `\(String(repeating: "x", count: 57))...` → `y\(String(repeating: "x", count: 56))...`")
    }
}
