import PlanCompiler

/// Draws a plan's stages and how they feed each other, as Mermaid or Graphviz dot text.
///
/// Stages are nodes (targets drawn with a double border), base images are separate nodes, and an edge
/// from one stage to another is labelled with the artifact it carries (or `from` when a stage continues
/// another). Output is deterministic.
public struct GraphWriter: Sendable {
    public enum Format: String, CaseIterable, Sendable {
        case mermaid, dot
    }

    public var format: Format

    public init(format: Format) {
        self.format = format
    }

    struct Edge: Hashable {
        var from: String
        var to: String
        var label: String
        var dashed: Bool
    }

    /// Edges in stage order, each once.
    static func edges(_ graph: BuildGraph) -> (edges: [Edge], images: [String]) {
        var edges: [Edge] = []
        var seen = Set<Edge>()
        var images: [String] = []
        func add(_ edge: Edge) {
            if seen.insert(edge).inserted { edges.append(edge) }
        }
        for stage in graph.stages {
            switch stage.base {
            case .stage(let name): add(Edge(from: name, to: stage.name, label: "from", dashed: true))
            case .image(let reference):
                if !images.contains(reference) { images.append(reference) }
                add(Edge(from: "image:" + reference, to: stage.name, label: "", dashed: true))
            case .scratch: break
            }
            for instruction in stage.instructions {
                // A bind mount reads a stage's artifact or an image as a copy does.
                if case .run(let run) = instruction {
                    for case .bind(let bind) in run.mounts {
                        switch bind.source {
                        case .stage(let name): add(Edge(from: name, to: stage.name, label: bind.artifact ?? "files", dashed: false))
                        case .image(let reference):
                            if !images.contains(reference) { images.append(reference) }
                            add(Edge(from: "image:" + reference, to: stage.name, label: "mount", dashed: true))
                        case .context: break
                        }
                    }
                }
                guard case .copy(let copy) = instruction else { continue }
                switch copy.source {
                case .stage(let name): add(Edge(from: name, to: stage.name, label: copy.artifact ?? "files", dashed: false))
                case .image(let reference):
                    if !images.contains(reference) { images.append(reference) }
                    add(Edge(from: "image:" + reference, to: stage.name, label: "copy", dashed: true))
                case .context: break
                }
            }
        }
        return (edges, images)
    }

    public func render(_ graph: BuildGraph) -> String {
        let (edges, images) = Self.edges(graph)
        let targets = Set(graph.targets)
        var ids: [String: String] = [:]
        for (index, stage) in graph.stages.enumerated() { ids[stage.name] = "s\(index)" }
        for (index, image) in images.enumerated() { ids["image:" + image] = "i\(index)" }
        switch format {
        case .mermaid:
            var out = "flowchart LR\n"
            for image in images { out += "  \(ids["image:" + image] ?? "")[(\"\(Self.escape(image))\")]\n" }
            for stage in graph.stages {
                let id = ids[stage.name] ?? ""
                out += targets.contains(stage.name) ? "  \(id)[[\"\(stage.name)\"]]\n" : "  \(id)[\"\(stage.name)\"]\n"
            }
            for edge in edges {
                let from = ids[edge.from] ?? ""
                let to = ids[edge.to] ?? ""
                let arrow = edge.dashed ? "-.->" : "-->"
                out += edge.label.isEmpty ? "  \(from) \(arrow) \(to)\n" : "  \(from) \(arrow)|\(Self.escape(edge.label))| \(to)\n"
            }
            if !targets.isEmpty {
                out += "  classDef target stroke-width:3px\n"
                let members = graph.stages.filter { targets.contains($0.name) }.compactMap { ids[$0.name] }
                out += "  class \(members.joined(separator: ",")) target\n"
            }
            return out
        case .dot:
            var out = "digraph \"\(Self.escape(graph.planName))\" {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n"
            out += "  edge [fontname=\"Helvetica\", fontsize=10];\n"
            for image in images {
                out += "  \(ids["image:" + image] ?? "") [label=\"\(Self.escape(image))\", shape=cylinder, color=gray40, fontcolor=gray40];\n"
            }
            for stage in graph.stages {
                let id = ids[stage.name] ?? ""
                let style = targets.contains(stage.name) ? ", peripheries=2, style=bold" : ""
                out += "  \(id) [label=\"\(Self.escape(stage.name))\"\(style)];\n"
            }
            for edge in edges {
                var attributes: [String] = []
                if !edge.label.isEmpty { attributes.append("label=\"\(Self.escape(edge.label))\"") }
                if edge.dashed { attributes.append("style=dashed") }
                let suffix = attributes.isEmpty ? "" : " [" + attributes.joined(separator: ", ") + "]"
                out += "  \(ids[edge.from] ?? "") -> \(ids[edge.to] ?? "")\(suffix);\n"
            }
            return out + "}\n"
        }
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
