import PlanOCI

/// Images pinned by a lock (`plan run --locked`): for each reference and platform the manifest digest to pull
/// instead of asking the registry what the tag names now. Pulled by digest, an image already in the store needs
/// no request at all, so a cached rebuild works with the registry down.
public struct ImagePins: Sendable {
    var manifests: [String: Digest] = [:]

    public init() {}

    /// Whether nothing is pinned (a run without `--locked`).
    public var isEmpty: Bool { manifests.isEmpty }

    /// Pins `reference` read for `platform` to the manifest `digest`.
    public mutating func pin(_ reference: ImageReference, platform: Platform, to digest: Digest) {
        manifests[Self.key(reference, platform)] = digest
    }

    /// `registry/repository@digest` of the manifest pinned for `reference` at `platform`, if any.
    public func pinned(_ reference: ImageReference, platform: Platform) -> ImageReference? {
        manifests[Self.key(reference, platform)].map { reference.with(tag: nil, digest: $0) }
    }

    static func key(_ reference: ImageReference, _ platform: Platform) -> String {
        reference.description + " " + platform.normalized.description
    }
}
