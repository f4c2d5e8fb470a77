import Foundation
import PlanDiagnostics

/// One template instance: which template, with which parameter values, made by which `expand` entry.
public struct TemplateInstance: Sendable {
    /// The name of the template instantiated.
    public var template: String
    /// The value each parameter takes in this instance.
    public var parameters: [(name: String, value: String)]
    /// The `expand` entry that made the instance.
    public var location: SourceLocation

    /// "service=api, tier=web".
    public var parameterSummary: String {
        parameters.map { "\($0.name)=\($0.value)" }.joined(separator: ", ")
    }
}

/// A plan with its includes merged and its templates expanded: plain stages only, ready for the checks.
public struct ExpandedPlan: Sendable {
    /// The merged plan: its own stages, the included ones and every instance's stages.
    public var plan: PlanSyntax
    /// Instances by index; a location's `instance` points here.
    public var instances: [TemplateInstance]
    /// Every file read (the plan and its includes), with its text, for snippets.
    public var files: [(path: String, text: String)]
    /// What merging and expanding found, after the parser's diagnostics.
    public var diagnostics: [Diagnostic]
    /// An included file could not be read or parsed: what it would have defined is unknown, so checks
    /// that depend on it (templates, stages, arguments) must not run.
    public var isIncomplete = false
}

/// Merges `include`d fragments and expands `templates` through `expand` entries.
///
/// Knows nothing about Docker: it only rewrites the syntax tree. Every string an instance produces keeps
/// the template's location, tagged with the instance, so diagnostics can point at both.
public struct PlanExpander: Sendable {
    /// The parser that reads `include`d fragments.
    public var parser = PlanParser()

    /// An expander with the default parser.
    public init() {}

    /// Merges the includes of `plan` and expands its templates; `{dirs: GLOB}` matches folders of `contextDirectory` that `ignore` does not exclude.
    public func expand(_ plan: PlanSyntax, contextDirectory: String?, ignore: (String) -> Bool = { _ in false })
        -> ExpandedPlan
    {
        var state = State(parser: parser)
        var merged = plan
        merged.stages = []
        merged.args = []
        merged.templates = []
        merged.expand = []
        state.merge(plan, into: &merged, chain: [Self.canonical(plan.file)])
        state.expandTemplates(into: &merged, contextDirectory: contextDirectory, ignore: ignore)
        return ExpandedPlan(plan: merged, instances: state.instances, files: state.files, diagnostics: state.diagnostics,
                            isIncomplete: state.isIncomplete)
    }

    static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }

    private struct State {
        let parser: PlanParser
        var diagnostics: [Diagnostic] = []
        var instances: [TemplateInstance] = []
        var files: [(path: String, text: String)] = []
        var included = Set<String>()
        var argumentLocations: [String: SourceLocation] = [:]
        var templateLocations: [String: SourceLocation] = [:]
        var isIncomplete = false

        init(parser: PlanParser) { self.parser = parser }

        mutating func error(_ code: DiagnosticCode, _ message: String, at location: SourceLocation?,
                            notes: [Diagnostic.Note] = [], help: String? = nil) {
            diagnostics.append(.error(code, message, at: location, notes: notes, help: help))
        }

        // MARK: Includes

        /// Adds a file's includes (first, depth first, each file once) and then its own definitions.
        mutating func merge(_ fragment: PlanSyntax, into plan: inout PlanSyntax, chain: [String]) {
            let folder = (fragment.file as NSString).deletingLastPathComponent
            for entry in fragment.include {
                let path = entry.value.hasPrefix("/") ? entry.value
                    : (folder.isEmpty ? entry.value : folder + "/" + entry.value)
                let key = PlanExpander.canonical(path)
                if let start = chain.firstIndex(of: key) {
                    let cycle = (chain[start...] + [key]).map { ($0 as NSString).lastPathComponent }
                    error(.includeCycle, "including `\(entry.value)` makes a cycle: " + cycle.joined(separator: " → "),
                          at: entry.location, help: "move what both files need into a third file that both include")
                    continue
                }
                guard !included.contains(key) else { continue }
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
                    let siblings = (try? FileManager.default.contentsOfDirectory(
                        atPath: (path as NSString).deletingLastPathComponent)) ?? []
                    error(.includeMissing, "cannot include `\(entry.value)`: no such file", at: entry.location,
                          help: Suggestion.didYouMean((path as NSString).lastPathComponent, in: siblings.sorted())
                            ?? "include paths are relative to the file that names them")
                    isIncomplete = true
                    continue
                }
                included.insert(key)
                let (result, text) = parser.parseFile(atPath: path, fragment: true)
                if let text { files.append((path, text)) }
                diagnostics += result.diagnostics
                if let child = result.plan {
                    merge(child, into: &plan, chain: chain + [key])
                } else {
                    isIncomplete = true
                }
            }
            for argument in fragment.args {
                if let first = argumentLocations[argument.name.value] {
                    error(.duplicateName, "argument `\(argument.name.value)` is declared twice", at: argument.name.location,
                          notes: [.init("first declared here", at: first)], help: "keep one declaration")
                    continue
                }
                argumentLocations[argument.name.value] = argument.name.location
                plan.args.append(argument)
            }
            for template in fragment.templates {
                if let first = templateLocations[template.name.value] {
                    error(.duplicateName, "template `\(template.name.value)` is defined twice", at: template.name.location,
                          notes: [.init("first defined here", at: first)], help: "rename one of them")
                    continue
                }
                templateLocations[template.name.value] = template.name.location
                plan.templates.append(template)
            }
            plan.stages += fragment.stages
            plan.expand += fragment.expand
        }

        // MARK: Templates

        mutating func expandTemplates(into plan: inout PlanSyntax, contextDirectory: String?,
                                      ignore: (String) -> Bool) {
            var usable: [String: TemplateSyntax] = [:]
            for template in plan.templates where checkTemplate(template) { usable[template.name.value] = template }
            let names = plan.templates.map(\.name.value)
            for entry in plan.expand {
                guard let template = usable[entry.template.value] else {
                    if !names.contains(entry.template.value), !isIncomplete {
                        error(.unknownTemplate, "there is no template `\(entry.template.value)`", at: entry.template.location,
                              help: Suggestion.didYouMean(entry.template.value, in: names)
                                ?? (names.isEmpty ? "define it under `templates:`" : "templates: " + names.joined(separator: ", ")))
                    }
                    continue
                }
                for values in instanceValues(entry, template: template, contextDirectory: contextDirectory, ignore: ignore) {
                    let index = instances.count
                    instances.append(TemplateInstance(template: template.name.value, parameters: values,
                                                      location: entry.location))
                    let lookup = Dictionary(values, uniquingKeysWith: { first, _ in first })
                    for stage in template.stages {
                        plan.stages.append(stage.mappingStrings { text in
                            var location = text.location
                            location.instance = index
                            return Located(Interpolation.substituteParameters(in: text.value, lookup), at: location)
                        })
                    }
                }
            }
            plan.templates = []
            plan.expand = []
        }

        /// Checks a template's parameters and that every `${{ name }}` in it names one; false when unusable.
        mutating func checkTemplate(_ template: TemplateSyntax) -> Bool {
            var ok = true
            var seen: [String: SourceLocation] = [:]
            for param in template.params {
                if let first = seen[param.name.value] {
                    error(.duplicateName, "parameter `\(param.name.value)` is declared twice", at: param.name.location,
                          notes: [.init("first declared here", at: first)])
                    ok = false
                }
                seen[param.name.value] = param.name.location
                if !Interpolation.isName(param.name.value) {
                    error(.badName, "`\(param.name.value)` is not a valid parameter name", at: param.name.location,
                          help: "use letters, digits and `_`, not starting with a digit")
                    ok = false
                }
            }
            let names = template.params.map(\.name.value)
            for stage in template.stages {
                for text in stage.allStrings {
                    for reference in Interpolation.references(in: text.value) where reference.kind == .parameter {
                        guard !seen.keys.contains(reference.name) else { continue }
                        error(.undefinedParameter,
                              "`${{ \(reference.name) }}` names no parameter of template `\(template.name.value)`",
                              at: text.location(ofOffset: reference.offset, length: reference.length),
                              help: Suggestion.didYouMean(reference.name, in: names)
                                ?? "declare it: `params: [\((names + [reference.name]).joined(separator: ", "))]`")
                        ok = false
                    }
                }
            }
            return ok
        }

        /// The parameter values of each instance an `expand` entry makes: the cross product of its `for`
        /// lists (first key outermost), with `with` values and defaults filled in.
        mutating func instanceValues(_ entry: ExpandSyntax, template: TemplateSyntax, contextDirectory: String?,
                                     ignore: (String) -> Bool) -> [[(name: String, value: String)]] {
            let params = template.params.map(\.name.value)
            var ok = true
            var given: [String: SourceLocation] = [:]
            for key in entry.forEach.map(\.name) + entry.with.map(\.key) {
                if !params.contains(key.value) {
                    error(.unknownParameter, "template `\(template.name.value)` has no parameter `\(key.value)`",
                          at: key.location,
                          help: Suggestion.didYouMean(key.value, in: params)
                            ?? "its parameters: " + (params.isEmpty ? "none" : params.joined(separator: ", ")))
                    ok = false
                } else if let first = given[key.value] {
                    error(.conflictingKeys, "parameter `\(key.value)` is given twice", at: key.location,
                          notes: [.init("first given here", at: first)], help: "give it once, in `for` or in `with`")
                    ok = false
                }
                given[key.value] = key.location
            }
            for param in template.params where given[param.name.value] == nil && param.defaultValue == nil {
                error(.missingParameter,
                      "this instance of template `\(template.name.value)` has no value for parameter `\(param.name.value)`",
                      at: entry.template.location, notes: [.init("the parameter is declared here", at: param.name.location)],
                      help: "give it under `with:` or `for:`, or a default in the template's `params`")
                ok = false
            }
            guard ok else { return [] }
            var lists: [(String, [String])] = []
            for (name, values) in entry.forEach {
                switch values {
                case .list(let items):
                    lists.append((name.value, items.map(\.value)))
                case .dirs(let glob):
                    let found = Self.directories(matching: glob.value, in: contextDirectory, ignore: ignore)
                    if found.isEmpty {
                        diagnostics.append(.warning(
                            .globMatchesNothing, "`dirs: \(glob.value)` matches no folder of the build context, so "
                                + "template `\(template.name.value)` makes no instance here",
                            at: glob.location,
                            help: "the glob is relative to the context (`\(contextDirectory ?? ".")`); check the spelling"))
                    }
                    lists.append((name.value, found))
                }
            }
            var combinations: [[(name: String, value: String)]] = [[]]
            for (name, values) in lists {
                combinations = combinations.flatMap { prefix in values.map { prefix + [(name, $0)] } }
            }
            let fixed = entry.with.map { (name: $0.key.value, value: $0.value.value) }
            let defaults = template.params.compactMap { param -> (name: String, value: String)? in
                guard given[param.name.value] == nil, let value = param.defaultValue else { return nil }
                return (param.name.value, value.value)
            }
            // Parameters in the template's declared order.
            return combinations.map { combination in
                let all = combination + fixed + defaults
                return params.compactMap { name in all.first { $0.name == name } }
            }
        }

        /// Folders of the context matching `pattern`, as their last path component, sorted.
        static func directories(matching pattern: String, in context: String?, ignore: (String) -> Bool) -> [String] {
            guard let context else { return [] }
            var relative = pattern
            while relative.hasPrefix("./") { relative.removeFirst(2) }
            var result = glob_t()
            defer { globfree(&result) }
            guard glob(context + "/" + relative, GLOB_ONLYDIR | GLOB_MARK, nil, &result) == 0 else { return [] }
            var names: [String] = []
            for index in 0..<Int(result.gl_pathc) {
                guard let cString = result.gl_pathv[index], let path = String(validatingCString: cString),
                      path.hasSuffix("/")
                else { continue }
                let trimmed = String(path.dropLast())
                let inContext = String(trimmed.dropFirst(context.count + 1))
                if ignore(inContext) { continue }
                names.append((trimmed as NSString).lastPathComponent)
            }
            return Array(Set(names)).sorted()
        }
    }
}
