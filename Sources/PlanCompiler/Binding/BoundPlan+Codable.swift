import Foundation
import PlanValues

// The bound plan's enums as readable JSON: a case without a value is its name (`"scratch"`, `"context"`,
// `"configure"`), a case with one is an object with the case's name as its only key (`{"image": "docker.io/…"}`,
// `{"run": {…}}`), rather than the synthesized `{"image": {"_0": …}}`.

/// The key of a one-key object that names an enum case.
private struct CaseKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// A case as its bare name, or the name of the one key of an object and the decoder of its value.
private enum EncodedCase {
    case name(String)
    case keyed(String, KeyedDecodingContainer<CaseKey>)

    init(from decoder: any Decoder, what: String) throws {
        if let name = try? decoder.singleValueContainer().decode(String.self) {
            self = .name(name)
            return
        }
        let container = try decoder.container(keyedBy: CaseKey.self)
        guard container.allKeys.count == 1, let key = container.allKeys.first else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "\(what): expected a name or an object with one key"))
        }
        self = .keyed(key.stringValue, container)
    }

    static func unknown(_ name: String, _ what: String, _ decoder: any Decoder) -> DecodingError {
        .dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(what): unknown case `\(name)`"))
    }
}

private func encodeName(_ name: String, to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(name)
}

private func encodeKeyed(_ name: String, _ value: some Encodable, to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CaseKey.self)
    try container.encode(value, forKey: CaseKey(name))
}

extension BoundBase {
    public init(from decoder: any Decoder) throws {
        switch try EncodedCase(from: decoder, what: "base") {
        case .name("scratch"): self = .scratch
        case .keyed("image", let c): self = .image(try c.decode(ImageReference.self, forKey: CaseKey("image")))
        case .keyed("stage", let c): self = .stage(try c.decode(String.self, forKey: CaseKey("stage")))
        case .name(let name), .keyed(let name, _): throw EncodedCase.unknown(name, "base", decoder)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .scratch: try encodeName("scratch", to: encoder)
        case .image(let reference): try encodeKeyed("image", reference, to: encoder)
        case .stage(let name): try encodeKeyed("stage", name, to: encoder)
        }
    }
}

extension BoundCopySource {
    public init(from decoder: any Decoder) throws {
        switch try EncodedCase(from: decoder, what: "copy source") {
        case .name("context"): self = .context
        case .keyed("image", let c): self = .image(try c.decode(ImageReference.self, forKey: CaseKey("image")))
        case .keyed("stage", let c): self = .stage(try c.decode(String.self, forKey: CaseKey("stage")))
        case .name(let name), .keyed(let name, _): throw EncodedCase.unknown(name, "copy source", decoder)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .context: try encodeName("context", to: encoder)
        case .image(let reference): try encodeKeyed("image", reference, to: encoder)
        case .stage(let name): try encodeKeyed("stage", name, to: encoder)
        }
    }
}

extension BoundAction {
    public init(from decoder: any Decoder) throws {
        switch try EncodedCase(from: decoder, what: "step action") {
        case .name("configure"): self = .configure
        case .name("workdir"): self = .workdir
        case .keyed("run", let c): self = .run(try c.decode(BoundRun.self, forKey: CaseKey("run")))
        case .keyed("copy", let c): self = .copy(try c.decode(BoundCopy.self, forKey: CaseKey("copy")))
        case .keyed("add", let c): self = .add(try c.decode(BoundAdd.self, forKey: CaseKey("add")))
        case .name(let name), .keyed(let name, _): throw EncodedCase.unknown(name, "step action", decoder)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .configure: try encodeName("configure", to: encoder)
        case .workdir: try encodeName("workdir", to: encoder)
        case .run(let run): try encodeKeyed("run", run, to: encoder)
        case .copy(let copy): try encodeKeyed("copy", copy, to: encoder)
        case .add(let add): try encodeKeyed("add", add, to: encoder)
        }
    }
}

extension BoundMount {
    public init(from decoder: any Decoder) throws {
        switch try EncodedCase(from: decoder, what: "mount") {
        case .keyed("bind", let c): self = .bind(try c.decode(BoundBindMount.self, forKey: CaseKey("bind")))
        case .keyed("tmpfs", let c): self = .tmpfs(try c.decode(BoundTmpfsMount.self, forKey: CaseKey("tmpfs")))
        case .keyed("ssh", let c): self = .ssh(try c.decode(BoundSSHMount.self, forKey: CaseKey("ssh")))
        case .name(let name), .keyed(let name, _): throw EncodedCase.unknown(name, "mount", decoder)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .bind(let bind): try encodeKeyed("bind", bind, to: encoder)
        case .tmpfs(let tmpfs): try encodeKeyed("tmpfs", tmpfs, to: encoder)
        case .ssh(let ssh): try encodeKeyed("ssh", ssh, to: encoder)
        }
    }
}

extension BoundPlan {
    /// The plan as JSON: pretty, keys sorted, slashes unescaped, ending in a line break; the same plan gives the same
    /// bytes.
    public func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }
}
