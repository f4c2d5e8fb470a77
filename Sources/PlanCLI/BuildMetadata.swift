import Foundation
import NIOConcurrencyHelpers
import PlanExecutor
import PlanOCI

/// `plan run --metadata-file FILE`: what the run's outputs made of each target, as buildx bake writes
/// it — a JSON object keyed by target, each with `containerimage.digest`, `containerimage.descriptor`
/// (mediaType, digest, size), `containerimage.config.digest` and, when the image was stored or pushed
/// under names, `image.name` (the names, comma-joined). Collected from the run's events; written
/// (atomically, sorted keys) only when the run succeeded. Like buildx's and like `plan compile`'s
/// docker-bake.json, the file is replaced on every run.
final class BuildMetadata: Sendable {
    private let images = NIOLockedValueBox<[String: ExportedImage]>([:])

    /// Keeps what an `imageExported` event says; a named image (stored or pushed) wins over a file
    /// output's for the digest, and the names of every output of the target are kept.
    func record(_ event: ExecutionEvent) {
        guard case .imageExported(let image) = event else { return }
        images.withLockedValue { images in
            guard var known = images[image.target] else {
                images[image.target] = image
                return
            }
            if !image.names.isEmpty || known.names.isEmpty {
                known.manifest = image.manifest
                known.configDigest = image.configDigest
            }
            known.names += image.names.filter { !known.names.contains($0) }
            images[image.target] = known
        }
    }

    /// The file's text.
    func json() -> String {
        struct DescriptorJSON: Encodable {
            var mediaType: String
            var digest: String
            var size: Int64
        }
        struct Entry: Encodable {
            var descriptor: DescriptorJSON
            var digest: String
            /// None for an image index (several platforms), as buildx writes it.
            var configDigest: String?
            var names: String?

            enum CodingKeys: String, CodingKey {
                case descriptor = "containerimage.descriptor"
                case digest = "containerimage.digest"
                case configDigest = "containerimage.config.digest"
                case names = "image.name"
            }
        }
        let entries = images.withLockedValue { $0 }.mapValues { image in
            Entry(descriptor: DescriptorJSON(mediaType: image.manifest.mediaType.rawValue, digest: image.manifest.digest.description,
                                         size: image.manifest.size),
                  digest: image.manifest.digest.description, configDigest: image.configDigest?.description,
                  names: image.names.isEmpty ? nil : image.names.joined(separator: ","))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(entries) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Before the build: the path can take a file.
    static func check(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw OutputFile.Failure(message: "--metadata-file \(path) is a folder; give a file name", isUsage: true)
        }
    }

    /// Writes the file (atomically: a reader sees the last run's or this one's).
    func write(to path: String) throws {
        try OutputFile.writeAtomically([(path, json())])
    }
}
