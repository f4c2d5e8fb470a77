import Testing

@testable import PlanOCI

@Suite("Platforms")
struct PlatformTests {
    @Test("host platform is normalised (amd64 on x86_64, arm64/v8 on aarch64)")
    func host() {
        let host = Platform.host
        #expect(host.os == "linux")
        #if arch(x86_64)
        #expect(host.architecture == "amd64" && host.variant == nil)
        #elseif arch(arm64)
        #expect(host.architecture == "arm64" && host.variant == "v8")
        #endif
        #expect(host == host.normalized)
    }

    @Test("parsing and normalisation")
    func parsing() throws {
        #expect(try Platform(parsing: "linux/x86_64") == Platform(os: "linux", architecture: "amd64"))
        #expect(try Platform(parsing: "linux/aarch64") == Platform(os: "linux", architecture: "arm64", variant: "v8"))
        #expect(try Platform(parsing: "linux/arm64") == Platform(os: "linux", architecture: "arm64", variant: "v8"))
        #expect(try Platform(parsing: "linux/armhf") == Platform(os: "linux", architecture: "arm", variant: "v7"))
        #expect(try Platform(parsing: "linux/arm/v6") == Platform(os: "linux", architecture: "arm", variant: "v6"))
        #expect(try Platform(parsing: "arm64").description == "linux/arm64/v8")
        for bad in ["", "linux/", "/amd64", "a/b/c/d", "linux/am d64"] {
            #expect(throws: PlatformError.self, "\(bad)") { try Platform(parsing: bad) }
        }
    }

    @Test("matching: os and arch after normalisation; the variant when asked for")
    func matching() {
        let arm64 = Platform(os: "linux", architecture: "arm64")
        #expect(arm64.matches(Platform(os: "linux", architecture: "arm64", variant: "v8")))
        #expect(Platform(os: "linux", architecture: "aarch64").matches(Platform(os: "linux", architecture: "arm64")))
        #expect(!arm64.matches(Platform(os: "linux", architecture: "amd64")))
        #expect(!Platform(os: "linux", architecture: "arm", variant: "v7").matches(Platform(os: "linux", architecture: "arm", variant: "v6")))
        #expect(Platform(os: "linux", architecture: "amd64").matches(Platform(os: "linux", architecture: "x86_64")))
        #expect(!Platform(os: "linux", architecture: "amd64").matches(Platform(os: "windows", architecture: "amd64")))
    }

    @Test("index platform choice, skipping attestations")
    func indexChoice() throws {
        func d(_ n: UInt8, _ p: Platform?) -> Descriptor {
            Descriptor(mediaType: .ociManifest, digest: Digest.sha256(of: [n]), size: 1, platform: p)
        }
        let index = ImageIndex(manifests: [
            d(0, Platform(os: "unknown", architecture: "unknown")),
            d(1, Platform(os: "linux", architecture: "amd64")),
            d(2, Platform(os: "linux", architecture: "arm", variant: "v6")),
            d(3, Platform(os: "linux", architecture: "arm", variant: "v7")),
            d(4, Platform(os: "linux", architecture: "arm64", variant: "v8")),
            d(5, nil),
        ])
        #expect(index.manifest(for: Platform(os: "linux", architecture: "amd64"))?.digest == Digest.sha256(of: [1]))
        #expect(index.manifest(for: Platform(os: "linux", architecture: "arm"))?.digest == Digest.sha256(of: [3]))
        #expect(index.manifest(for: try Platform(parsing: "linux/arm/v6"))?.digest == Digest.sha256(of: [2]))
        #expect(index.manifest(for: try Platform(parsing: "linux/aarch64"))?.digest == Digest.sha256(of: [4]))
        #expect(index.manifest(for: try Platform(parsing: "linux/s390x")) == nil)
    }
}
