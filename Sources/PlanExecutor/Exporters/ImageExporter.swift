import Foundation
import PlanCompiler
import PlanOCI

/// Where `type=image`, `type=registry` and `--push` put the built images, by name: BuildKit's image
/// exporter, as written on the command line.
public struct ImageOutput: Hashable, Sendable {
    /// How the images are named.
    public enum Naming: Hashable, Sendable {
        /// `name=` (repeatable, or a comma-separated list in one quoted field): the run's one target
        /// under each name, as written.
        case names([String])
        /// `--push --tag-prefix PREFIX --tag TAG…`: every target T of the run under `PREFIX` + `T:TAG`
        /// for each tag (``TargetImageName``, the naming of `plan compile --out-dir`'s bake file).
        case perTarget(prefix: String, tags: [String])
    }

    public var naming: Naming
    /// Push to the registries the names say (`push=true`, `type=registry`, `--push`); otherwise the
    /// image is only stored in plan's image store under its names.
    public var push: Bool
    /// How plan's layers are written into the image (`compression=`, `compression-level=`).
    public var encoding: LayerEncoding

    public init(naming: Naming, push: Bool, encoding: LayerEncoding = LayerEncoding()) {
        self.naming = naming
        self.push = push
        self.encoding = encoding
    }

    /// `type=image` or `type=registry` (`type=image,push=true`): the fields of the `--output` spec, in
    /// order, with `type` among them. Every `name=` adds its comma-separated names; each must be an
    /// image reference without a digest (the digest is the built image's own).
    init(fields: [(key: String, value: String)], text: String) throws(OutputSpec.ParseError) {
        func failure(_ why: String) -> OutputSpec.ParseError { OutputSpec.ParseError(description: "--output \(text): \(why)") }
        var type = "image"
        var names: [String] = []
        var push: Bool?
        var compressionFields: [String: String] = [:]
        for (key, value) in fields {
            switch key {
            case "type":
                type = value
            case "name":
                names += value.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
            case "push":
                guard let flag = Bool(value) else { throw failure("push=\(value) is not true or false") }
                push = flag
            case "compression", "compression-level":
                compressionFields[key] = value
            default:
                throw failure("unknown key `\(key)` (type=\(type) takes name=, push=, compression= and compression-level=)")
            }
        }
        if type == "registry", push == false { throw failure("type=registry always pushes; use type=image to store the image only") }
        guard !names.isEmpty else { throw failure("type=\(type) needs name=REF (the image's name; several: \"name=REF,REF\")") }
        for name in names { _ = try Self.check(name: name, failure: failure) }
        let encoding = try OutputSpec.layerCompression(from: &compressionFields, default: .gzip, output: text)
        self.init(naming: .names(names), push: push ?? (type == "registry"), encoding: encoding)
    }

    /// A name is an image reference with a tag, not a digest.
    static func check<E: Error>(name: String, failure: (String) -> E) throws(E) -> ImageReference {
        let reference: ImageReference
        do {
            reference = try ImageReference(parsing: name)
        } catch {
            throw failure("`\(name)` is not a valid image reference: \(error.problem)")
        }
        guard reference.digest == nil else {
            throw failure("`\(name)` names a digest; give a name with a tag (the digest is the built image's own)")
        }
        return reference
    }

    /// The names as written, for messages: `name=` joined by commas, or the prefix of `--push`.
    public var spelling: String {
        switch naming {
        case .names(let names): names.joined(separator: ",")
        case .perTarget(let prefix, _): prefix
        }
    }

    /// How the command line named this output, for messages.
    var option: String {
        switch naming {
        case .names: "--output type=\(push ? "registry" : "image"),name"
        case .perTarget: "--push --tag-prefix"
        }
    }
}

extension OutputSpec {
    /// The `KEY=VALUE` fields of an `--output` spec, in order. A field may be quoted whole, as in a CSV
    /// line (BuildKit's spelling: `type=image,"name=a:1,b:1"`), to hold commas; `""` inside is a quote.
    static func fields(of text: String) throws(ParseError) -> [(key: String, value: String)] {
        var parts: [String] = []
        var rest = Substring(text)
        while true {
            var part = ""
            let quoted = rest.first == "\""
            if quoted {
                rest.removeFirst()
                var closed = false
                while let character = rest.popFirst() {
                    if character == "\"" {
                        if rest.first == "\"" {
                            rest.removeFirst()
                            part.append("\"")
                        } else {
                            closed = true
                            break
                        }
                    } else {
                        part.append(character)
                    }
                }
                guard closed, rest.isEmpty || rest.first == "," else {
                    throw ParseError(description: "--output \(text): a quoted field must end with a quote before the next comma")
                }
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                part = String(rest[..<end])
                rest = rest[end...]
            }
            // Empty fields (`a=1,,b=2`, a trailing comma) are skipped, as they always were.
            if quoted || !part.isEmpty { parts.append(part) }
            guard rest.first == "," else { break }
            rest.removeFirst()
        }
        return try parts.map { part throws(ParseError) in
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, !pair[1].isEmpty else {
                throw ParseError(description: "`\(part)` in --output \(text) is not KEY=VALUE")
            }
            return (pair[0], pair[1])
        }
    }
}

/// A target's image as an output wrote it: the manifest, and the names it was stored or pushed under
/// (none for a file output). `--metadata-file` and the end of the progress view are made of these.
public struct ExportedImage: Sendable {
    public var target: String
    /// The names as the user wrote them (`name=`, or `PREFIX` + `T:TAG`); empty for an OCI layout or archive.
    public var names: [String]
    /// The image manifest's descriptor (a run for several platforms: the image index's): its digest is what to deploy.
    public var manifest: Descriptor
    /// The digest of the image's configuration; nil for an image index (several platforms), as buildx writes it.
    public var configDigest: Digest?
    /// One per name when the image was pushed: the registry's answer, with what was sent.
    public var pushes: [PushResult]

    public init(target: String, names: [String], manifest: Descriptor, configDigest: Digest?, pushes: [PushResult] = []) {
        self.target = target
        self.names = names
        self.manifest = manifest
        self.configDigest = configDigest
        self.pushes = pushes
    }
}

/// `type=image`, `type=registry` and `--push`: stores each target's image in plan's image store (the
/// one `plan image` reads) under its names and, when asked, pushes it to every name's registry with
/// the run's registry client — the one that pulled the base images, so their layers are mounted from
/// the base image's repository rather than sent again.
///
/// A run for several platforms stores and pushes an OCI image index listing one manifest per platform.
///
/// The image is written straight into the store (``BuiltImage/store(in:encoding:)``: the documents an OCI
/// output writes, blobs the store has not copied again) and pushed from the store's files, up to four
/// targets at once: a blob the registry has is never sent, a re-push of an unchanged image sends only
/// the manifest.
public struct ImageExporter: Exporter {
    public var output: ImageOutput

    public init(output: ImageOutput) { self.output = output }

    public var destination: String { output.spelling }
    public var typeName: String { output.push ? "registry" : "image" }
    /// `name=` writes one target, but this exporter checks that itself, to point at `--push --tag-prefix`.
    public var needsOneTarget: Bool { false }

    private func failure(_ reason: String) -> OutputError {
        OutputError(destination: destination, reason: reason, option: output.option)
    }

    /// The references each target goes to, in the run's target order.
    func references(targets: [String]) throws -> [(target: String, names: [String], references: [ImageReference])] {
        switch output.naming {
        case .names(let names):
            guard targets.count == 1, let target = targets.first else {
                throw failure("type=\(typeName) with name= writes one target, but the run builds \(targets.count) "
                    + "(\(targets.joined(separator: ", "))); choose one with --target"
                    + (output.push ? ", or push every target with --push --tag-prefix PREFIX" : "") + ". Nothing was built")
            }
            return [(target, names, try names.map { name throws in try ImageOutput.check(name: name, failure: failure) })]
        case .perTarget(let prefix, let tags):
            return try targets.map { target in
                let names = tags.map { TargetImageName.name(prefix: prefix, target: target, tag: $0) }
                return (target, names, try names.map { name throws in try ImageOutput.check(name: name, failure: failure) })
            }
        }
    }

    /// Before the build: every name is a valid reference with a tag, and `name=` meets one target.
    public func check(plan: BoundPlan, options: RunOptions) throws {
        _ = try references(targets: plan.targets)
    }

    /// Before the build: every registry pushed to can be reached and takes the run's credentials, so a
    /// wrong password or a mistyped host fails the run now, not after the build.
    public func probe(plan: BoundPlan, registry: RegistryClient) async throws {
        guard output.push else { return }
        var seen = Set<String>()
        for (_, _, references) in try references(targets: plan.targets) {
            for reference in references where seen.insert("\(reference.registry)/\(reference.repository)").inserted {
                do {
                    try await registry.probe(reference)
                } catch let error as CancellationError {
                    throw error
                } catch {
                    throw failure("cannot push to \(reference): \(error). Nothing was built")
                }
            }
        }
    }

    /// How many targets are written and pushed at once (each pushes up to three blobs at a time).
    static let concurrentTargets = 4

    public func export(_ input: ExportInput) async throws {
        let work = try references(targets: input.targetNames).filter { input.targets[$0.target] != nil }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func startNext() {
                let (target, names, references) = work[next]
                next += 1
                group.addTask { try await self.export(target: target, names: names, references: references, input) }
            }
            while next < work.count && next < Self.concurrentTargets { startNext() }
            // The first failure cancels the other targets' pushes (none has written a manifest yet
            // unless its blobs were all there).
            while try await group.next() != nil {
                if next < work.count { startNext() }
            }
        }
    }

    /// Writes one target's image into the store and pushes it to each of its references.
    private func export(target: String, names: [String], references: [ImageReference], _ input: ExportInput) async throws {
        guard let built = input.targets[target] else { return }
        let image: PushableImage
        let configDigest: Digest?
        if input.isMultiPlatform {
            guard let images = input.images(of: target) else { return }
            image = try BuiltImage.storeIndex(images, in: input.imageStore, encoding: input.layerEncoding(output.encoding))
            configDigest = nil
        } else {
            image = try built.image.store(in: input.imageStore, encoding: input.layerEncoding(output.encoding))
            configDigest = try JSONDecoder().decode(Manifest.self, from: image.root.data).config.digest
        }
        var pushes: [PushResult] = []
        if output.push {
            for reference in references {
                let events: @Sendable (PushEvent) -> Void = { event in
                    input.emit(.push(target: target, reference: reference.description, event: event))
                }
                do {
                    pushes.append(try await input.registry.push(image, to: reference, events: events))
                } catch let error as CancellationError {
                    throw error
                } catch {
                    throw failure("cannot push \(target) to \(reference): \(error)")
                }
            }
        }
        do {
            for reference in references { try input.imageStore.setReference(reference, to: image.root.descriptor.digest) }
        } catch {
            throw failure("cannot record \(target)'s image in the image store: \(error)")
        }
        input.emit(.imageExported(ExportedImage(target: target, names: names, manifest: image.root.descriptor,
                                                configDigest: configDigest, pushes: pushes)))
    }
}
