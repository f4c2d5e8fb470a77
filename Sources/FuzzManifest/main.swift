// libFuzzer target: decoding of image manifests, indexes and configurations (the JSON a registry, an
// OCI layout or a docker archive hands us). Any bytes either decode or are refused with a decoding error;
// what decodes encodes (sorted keys, as CanonicalJSON writes) and decodes back to the same value.
import Foundation
import PlanOCI

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

func roundTrip<T: Codable & Hashable>(_ type: T.Type, _ data: Data) -> T? {
    guard let value = try? JSONDecoder().decode(type, from: data) else { return nil }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    do {
        let encoded = try encoder.encode(value)
        let again = try JSONDecoder().decode(type, from: encoded)
        precondition(again == value, "\(T.self) changed on a round trip: \(String(decoding: encoded, as: UTF8.self))")
    } catch {
        preconditionFailure("\(T.self) decoded but does not round-trip: \(error)")
    }
    return value
}

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Data(bytes: $0, count: size) } ?? Data()
    if let manifest = roundTrip(Manifest.self, bytes) {
        _ = manifest.layers.map { $0.digest.description }
    }
    if let index = roundTrip(ImageIndex.self, bytes) {
        for platform in index.platforms { _ = (platform.description, index.manifest(for: platform)) }
    }
    if let config = roundTrip(ImageConfiguration.self, bytes) {
        _ = config.config?.env
    }
    _ = roundTrip(Descriptor.self, bytes)
    return 0
}

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOne))
