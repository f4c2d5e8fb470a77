import ArgumentParser
import Foundation
import PlanOCI

/// Options `plan image push` and `plan image copy` share beside ``ImageOptions``.
struct PushOutputOptions: ParsableArguments {
    @Option(name: .customLong("digestfile"), help: ArgumentHelp(
        "After a successful push, write the pushed manifest's (or index's) digest to this file (skopeo's option).",
        valueName: "file"), completion: .file())
    var digestFile: String?

    func validate() throws {
        guard let digestFile else { return }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: digestFile, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ValidationError("--digestfile \(digestFile) is a folder; give a file name")
        }
    }
}

/// The push both commands end in: the image read (`load`), its blobs then its manifests sent with progress
/// on stderr, the pinned reference on stdout. SIGINT/SIGTERM/SIGHUP stop it (exit 130/143/129); the
/// registry then holds at most some blobs, never a manifest naming missing ones, and a re-run sends
/// only what is missing.
enum ImagePushing {
    /// Where the image goes.
    enum Destination: Sendable, CustomStringConvertible {
        case registry(ImageReference)
        /// A new OCI layout (`oci:PATH[:NAME]`, `plan image copy` only).
        case layout(path: String, name: String?)

        var description: String {
            switch self {
            case .registry(let reference): reference.description
            case .layout(let path, let name): "oci:" + path + (name.map { ":" + $0 } ?? "")
            }
        }
    }

    /// The registry reference to push to — or, when `layouts`, also `oci:PATH[:NAME]` naming a new or
    /// empty folder — else a usage error.
    static func destination(_ text: String, layouts: Bool = false) throws -> Destination {
        if layouts, let layout = try? ImageSources.parse(text) as? OCILayoutImageSource {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: layout.path, isDirectory: &isDirectory) {
                let entries = isDirectory.boolValue ? (try? FileManager.default.contentsOfDirectory(atPath: layout.path)) : nil
                guard entries?.isEmpty == true else {
                    throw ValidationError("`\(text)`: \(layout.path) exists and is not an empty folder; copy into a new one")
                }
            }
            return .layout(path: layout.path, name: layout.name)
        }
        for prefix in ["oci:", "oci-archive:", "docker-archive:"] where text.hasPrefix(prefix) {
            throw ValidationError("`\(text)`: the destination is a registry reference (registry/repository[:tag])"
                                  + (layouts ? " or an OCI layout (oci:PATH[:NAME])" : ""))
        }
        do {
            return .registry(try ImageReference(parsing: text))
        } catch {
            throw ValidationError("`\(text)` is not a valid image reference: \(error)")
        }
    }

    /// What a push or layout write did: the digest, how to name the result, a summary line.
    struct Delivered: Sendable {
        var digest: Digest
        var pinned: String
        var summary: String
    }

    static func push(
        _ sourceName: String, to destination: Destination, options: ImageOptions, output: PushOutputOptions,
        usesStore: Bool, load: @escaping @Sendable (RegistryClient) async throws -> StagedPushableImage
    ) async throws {
        try await CommandFailure.reporting {
            let lock = usesStore ? try options.sharedCacheLock() : nil
            defer { withExtendedLifetime(lock) {} }
            let client = try options.client()
            let task = Task { () async throws -> Delivered in
                let staged = try await load(client)
                defer { staged.cleanUp() }
                let image = staged.image
                Output.standardError(
                    "\(destination.isLayout ? "writing" : "pushing") \(sourceName) to \(destination): "
                        + "\(count(image.blobs.count, "blob")) (\(CacheFormatting.size(image.blobBytes))), "
                        + "\(count(image.manifests.count + 1, "manifest"))\n")
                switch destination {
                case .registry(let reference):
                    let result = try await client.push(image, to: reference, events: { Output.standardError(describe($0)) })
                    return Delivered(
                        digest: result.descriptor.digest, pinned: result.pinned.description,
                        summary: "pushed \(result.pinned): \(count(result.uploaded, "blob")) sent (\(CacheFormatting.size(result.bytesSent))), "
                            + "\(result.mounted) mounted, \(result.present) already present\n")
                case .layout(let path, let name):
                    let root = try await image.writeLayout(at: path, name: name, client: client)
                    return Delivered(digest: root.digest, pinned: "\(destination)@\(root.digest)",
                                     summary: "wrote \(destination)@\(root.digest)\n")
                }
            }
            let signals = StopSignals(cancelling: task)
            defer { signals.cancel() }
            let delivered: Delivered
            do {
                delivered = try await task.value
            } catch {
                if let number = signals.interrupted.signal {
                    Output.standardError(StopSignals.message(number))
                    throw ExitCode(128 + number)
                }
                throw ImageFailure("cannot \(destination.isLayout ? "copy" : "push") \(sourceName) to \(destination): \(error)")
            }
            // A signal that came too late to stop the push: the registry holds the whole image, so it is reported.
            Output.standardError(delivered.summary)
            if let file = output.digestFile {
                do {
                    try OutputFile.writeAtomically([(file, delivered.digest.description)])
                } catch let failure as OutputFile.Failure {
                    throw ImageFailure("\(failure.message) (the image is at \(delivered.pinned))")
                }
            }
            Output.standardOutput("\(delivered.pinned)\n")
        }
    }

    /// `1 blob`, `2 blobs`.
    static func count(_ number: Int, _ noun: String) -> String { "\(number) \(noun)\(number == 1 ? "" : "s")" }

    /// One progress line per blob and manifest; bytes are counted in the summary.
    static func describe(_ event: PushEvent) -> String {
        func short(_ digest: Digest) -> String { "\(digest.algorithm):\(digest.encoded.prefix(12))" }
        switch event {
        case .blobPresent(let blob): return "  \(short(blob.digest)) already present\n"
        case .blobMounted(let blob, let from): return "  \(short(blob.digest)) mounted from \(from)\n"
        case .blobSending(let blob): return "  \(short(blob.digest)) sending \(CacheFormatting.size(blob.size))\n"
        case .bytesSent: return ""
        case .blobSent(let blob): return "  \(short(blob.digest)) sent\n"
        case .manifestPushed(let document, let reference): return "  \(short(document.digest)) manifest pushed as \(reference)\n"
        }
    }
}

extension ImagePushing.Destination {
    var isLayout: Bool {
        if case .layout = self { return true }
        return false
    }
}
