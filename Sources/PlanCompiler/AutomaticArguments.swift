import PlanLanguage
import PlanValues

/// BuildKit's automatic platform arguments ("Automatic platform ARGs in the global scope"): `BUILDPLATFORM`,
/// `BUILDOS`, `BUILDARCH`, `BUILDVARIANT` for the machine that builds, `TARGETPLATFORM`, `TARGETOS`,
/// `TARGETARCH`, `TARGETVARIANT` for the platform of the image being built.
public enum AutomaticArguments {
    /// The eight names, sorted.
    public static let names: [String] = [
        "BUILDARCH", "BUILDOS", "BUILDPLATFORM", "BUILDVARIANT", "TARGETARCH", "TARGETOS", "TARGETPLATFORM", "TARGETVARIANT",
    ]

    /// The values BuildKit gives them: platforms formatted as containerd formats a normalised platform, where
    /// arm64's default variant `v8` is left out (`linux/arm64`, TARGETVARIANT empty) and arm keeps its
    /// variant (`linux/arm/v7`).
    public static func values(build: Platform, target: Platform) -> [String: String] {
        var values: [String: String] = [:]
        for (prefix, platform) in [("BUILD", build), ("TARGET", target)] {
            let shown = buildKitSpelling(platform)
            values[prefix + "PLATFORM"] = shown.description
            values[prefix + "OS"] = shown.os
            values[prefix + "ARCH"] = shown.architecture
            values[prefix + "VARIANT"] = shown.variant ?? ""
        }
        return values
    }

    /// `platform` normalised, without the variants containerd's `Normalize` drops (arm64 `v8`, amd64 `v1`).
    public static func buildKitSpelling(_ platform: Platform) -> Platform {
        var normal = platform.normalized
        normal.osVersion = nil
        normal.osFeatures = nil
        if normal.architecture == "arm64", normal.variant == "v8" || normal.variant == "v8.0" { normal.variant = nil }
        if normal.architecture == "amd64", normal.variant == "v1" { normal.variant = nil }
        return normal
    }
}

/// What a stage's `platform:` makes of it.
public enum StagePlatform: Hashable, Sendable {
    /// No `platform:`, or one that follows the target (`${TARGETPLATFORM}`, `linux/${TARGETARCH}`): built once
    /// per target platform.
    case target
    /// Pinned to the machine that builds (`${BUILDPLATFORM}`, `${BUILDOS}/${BUILDARCH}`): built once, natively,
    /// and shared by every target platform.
    case build
    /// Pinned to one literal platform (`linux/amd64`): built once for it.
    case fixed(Platform)

    /// Reads a stage's `platform:` as the checker left it (only automatic arguments as variables).
    public init(written: String?) {
        guard let written else {
            self = .target
            return
        }
        let names = Set(Interpolation.references(in: written).map(\.name))
        if names.isEmpty {
            self = (try? Platform(parsing: written)).map(StagePlatform.fixed) ?? .target
        } else if names.allSatisfy({ $0.hasPrefix("BUILD") }) {
            self = .build
        } else {
            self = .target
        }
    }

    /// The platform the stage is built for when building `target` on `build`.
    public func platform(target: Platform, build: Platform) -> Platform {
        switch self {
        case .target: target
        case .build: build
        case .fixed(let platform): platform
        }
    }
}

extension GraphStage {
    /// What the stage's `platform:` pins it to. A stage built `from:` another stage is built on that stage's
    /// platform whatever its own `platform:` says: see ``BuildGraph/effectivePlatform(of:)``.
    public var stagePlatform: StagePlatform { StagePlatform(written: platform) }
}

extension StagePlatform {
    /// The stages whose platform `stage` is built on, `stage` first: a stage built `from:` another stage
    /// continues that stage's result, so it is built on that stage's platform, as in BuildKit, where
    /// `FROM build AS test` takes `build`'s platform (and a `--platform` on such a `FROM` changes nothing).
    /// The chain ends at a stage built from an image or scratch, whose `platform:` decides, or at a stage
    /// already in it. `baseStage` gives the stage a stage is built from (nil: an image, scratch, or unknown).
    public static func chain(from stage: String, baseStage: (String) -> String?) -> [String] {
        var chain = [stage]
        var current = stage
        while let base = baseStage(current), !chain.contains(base) {
            chain.append(base)
            current = base
        }
        return chain
    }
}

extension BuildGraph {
    /// What stage `name` is built on, through its `from:` chain (``StagePlatform/chain(from:baseStage:)``):
    /// the `platform:` of the chain's last stage, the one built from an image or scratch.
    public func effectivePlatform(of name: String) -> StagePlatform {
        let chain = StagePlatform.chain(from: name, baseStage: {
            if case .stage(let base)? = stage(named: $0)?.base, stage(named: base) != nil { return base }
            return nil
        })
        return StagePlatform(written: stage(named: chain.last ?? name)?.platform)
    }
}
