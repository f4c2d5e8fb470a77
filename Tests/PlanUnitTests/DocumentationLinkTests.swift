import Foundation
import Testing

/// README.md and docs/*.md link only to files (and headings) that exist.
@Suite struct DocumentationLinkTests {
    /// README.md and every Markdown file under docs/, as paths relative to the repository.
    static func documents() throws -> [String] {
        let docs = try FileManager.default.contentsOfDirectory(atPath: TestSupport.repoRoot + "/docs")
            .filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        return ["README.md"] + docs
    }

    /// The text outside fenced code blocks: what a reader sees as prose and links.
    static func prose(_ text: String) -> String {
        var inFence = false
        var lines: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") {
                inFence.toggle()
                continue
            }
            if !inFence { lines.append(line) }
        }
        return lines.joined(separator: "\n")
    }

    /// GitHub's anchor for a heading: lower case, punctuation other than `-` and `_` dropped, spaces
    /// as `-`; a repeated heading gets `-1`, `-2`, ….
    static func anchors(of text: String) -> Set<String> {
        var seen: [String: Int] = [:]
        var result: Set<String> = []
        for line in prose(text).split(separator: "\n") where line.hasPrefix("#") {
            let title = line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces).lowercased()
            var slug = String(title.unicodeScalars.filter {
                CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" || $0 == " "
            }.map(Character.init)).replacingOccurrences(of: " ", with: "-")
            if let count = seen[slug] {
                seen[slug] = count + 1
                slug += "-\(count + 1)"
            } else {
                seen[slug] = 0
            }
            result.insert(slug)
        }
        return result
    }

    /// Link targets: `[text](target)` and `![alt](target)`, with an optional title dropped.
    static func links(in text: String) -> [String] {
        let pattern = try? NSRegularExpression(pattern: #"\]\(([^)\s]+)(?:\s+"[^"]*")?\)"#)
        let prose = prose(text)
        let range = NSRange(prose.startIndex..., in: prose)
        return (pattern?.matches(in: prose, range: range) ?? []).compactMap {
            Range($0.range(at: 1), in: prose).map { String(prose[$0]) }
        }
    }

    @Test func everyRelativeLinkResolves() throws {
        let root = TestSupport.repoRoot
        var checked = 0
        for document in try Self.documents() {
            let text = try TestSupport.read(root + "/" + document)
            let folder = (document as NSString).deletingLastPathComponent
            for link in Self.links(in: text) {
                // Web addresses (`https:`, `mailto:`) are not files.
                if link.range(of: #"^[a-zA-Z][a-zA-Z0-9+.-]*:"#, options: .regularExpression) != nil { continue }
                let parts = link.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
                let path = String(parts[0])
                let target = path.isEmpty ? document
                    : URL(fileURLWithPath: root + "/" + folder + "/" + path).standardizedFileURL.path
                        .replacingOccurrences(of: root + "/", with: "")
                checked += 1
                guard FileManager.default.fileExists(atPath: root + "/" + target) else {
                    Issue.record("\(document): the link `\(link)` names \(target), which does not exist")
                    continue
                }
                if parts.count == 2, target.hasSuffix(".md") {
                    let anchors = Self.anchors(of: try TestSupport.read(root + "/" + target))
                    #expect(anchors.contains(String(parts[1])),
                            "\(document): the link `\(link)` names no heading of \(target)")
                }
            }
            // A Markdown file named in code (`docs/run.md`) is a reference too: it must exist.
            let mentioned = try NSRegularExpression(pattern: #"`([A-Za-z0-9_./-]+\.md)`"#)
            let prose = Self.prose(text)
            for match in mentioned.matches(in: prose, range: NSRange(prose.startIndex..., in: prose)) {
                guard let range = Range(match.range(at: 1), in: prose) else { continue }
                let name = String(prose[range])
                checked += 1
                #expect(FileManager.default.fileExists(atPath: root + "/" + folder + "/" + name)
                            || FileManager.default.fileExists(atPath: root + "/" + name),
                        "\(document) names `\(name)`, which does not exist")
            }
        }
        #expect(checked > 20, "found only \(checked) links: the link pattern is broken")
    }

    @Test func theCheckerFindsABrokenLinkAndAnchor() {
        let text = "# A title\n\nSee [x](missing.md) and [y](#a-title), [z](#nowhere).\n```\n[not](a-link.md)\n```\n"
        #expect(Self.links(in: text) == ["missing.md", "#a-title", "#nowhere"])
        #expect(Self.anchors(of: "# The `plan` language, v1\n## Steps\n## Steps\n") == ["the-plan-language-v1", "steps", "steps-1"])
    }
}
