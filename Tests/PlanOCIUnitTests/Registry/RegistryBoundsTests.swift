import Foundation
import Testing

@testable import PlanOCI

/// Which registries are spoken to over plain HTTP (the bounds a registry cannot break are in PlanOCIInteropTests).
@Suite("Registry bounds and connection failures")
struct RegistryBoundsTests {
    @Test("localhost, 127.0.0.0/8 and ::1 are insecure by default, as in Docker; other hosts are not")
    func loopbackIsInsecure() throws {
        let client = RegistryClient()
        for text in ["127.0.0.1:5555/a/b", "127.1.2.3:80/a", "localhost:5000/a", "localhost/a:1", "[::1]:5000/a"] {
            #expect(client.isInsecure(try ImageReference(parsing: text)), "\(text)")
            #expect(client.blobURL(try ImageReference(parsing: text), Digest.sha256(of: Data())).hasPrefix("http://"))
        }
        for text in ["registry.example:5000/a", "127.0.0.1.example.com/a", "128.0.0.1:5000/a", "docker.io/library/busybox"] {
            #expect(!client.isInsecure(try ImageReference(parsing: text)), "\(text)")
        }
        let strict = RegistryClient(configuration: .init(loopbackIsInsecure: false))
        #expect(!strict.isInsecure(try ImageReference(parsing: "127.0.0.1:5555/a/b")))
        let listed = RegistryClient(configuration: .init(insecureRegistries: ["registry.example:5000"], loopbackIsInsecure: false))
        #expect(listed.isInsecure(try ImageReference(parsing: "registry.example:5000/a")))
    }
}
