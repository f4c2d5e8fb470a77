import Foundation
import PlanCompiler
import PlanPaths

/// Writes a `docker-bake.json` for a compiled plan: one bake target per plan target and a `default`
/// group of all of them, so `docker buildx bake -f DIR/docker-bake.json --builder NAME` builds every
/// target in parallel on BuildKit builders.
///
/// Paths follow bake's rules: `context` is relative to the directory bake runs in (here: the directory
/// `plan compile` ran in), and `dockerfile` is relative to the context.
public struct BakeWriter: Sendable {
    /// The tag of a target is `<prefix><target>:latest`; by default the prefix is `<plan name>/`.
    public var tagPrefix: String?
    /// `platforms` of every target, when given.
    public var platforms: [String]
    /// Extra groups (such as `affected`), name → targets.
    public var groups: [String: [String]]

    public init(tagPrefix: String? = nil, platforms: [String] = [], groups: [String: [String]] = [:]) {
        self.tagPrefix = tagPrefix
        self.platforms = platforms
        self.groups = groups
    }

    struct File: Encodable {
        var group: [String: Group]
        var target: [String: Target]
    }

    struct Group: Encodable {
        var targets: [String]
    }

    struct Target: Encodable {
        var context: String
        var dockerfile: String
        var target: String
        var args: [String: String]?
        var tags: [String]
        var platforms: [String]?
    }

    /// The bake file as JSON text (sorted keys, so byte-identical on every run).
    /// - Parameters:
    ///   - context: the build context, relative to where bake will run.
    ///   - dockerfile: the Dockerfile, relative to the context.
    public func bakeFile(for graph: BuildGraph, context: String, dockerfile: String) -> String {
        var args: [String: String] = [:]
        for argument in graph.arguments { if let value = argument.value { args[argument.name] = value } }
        let prefix = tagPrefix ?? TargetImageName.defaultPrefix(planName: graph.planName)
        var targets: [String: Target] = [:]
        for name in graph.targets {
            targets[name] = Target(
                context: context, dockerfile: dockerfile, target: name, args: args.isEmpty ? nil : args,
                tags: [TargetImageName.name(prefix: prefix, target: name)], platforms: platforms.isEmpty ? nil : platforms)
        }
        var allGroups = ["default": Group(targets: graph.targets)]
        for (name, members) in groups { allGroups[name] = Group(targets: members) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(File(group: allGroups, target: targets)) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// `path` relative to `base` (both absolute or both relative to the same directory), with `..` as needed.
    public static func relativePath(_ path: String, from base: String) -> String {
        let target = PosixPath.normalize(path).path.split(separator: "/")
        let origin = PosixPath.normalize(base).path.split(separator: "/")
        var common = 0
        while common < target.count, common < origin.count, target[common] == origin[common] { common += 1 }
        let up = Array(repeating: "..", count: origin.count - common)
        let rest = target[common...].map(String.init)
        let joined = (up + rest).joined(separator: "/")
        return joined.isEmpty ? "." : joined
    }
}
