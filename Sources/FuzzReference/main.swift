// libFuzzer target: image references (`ImageReference(parsing:)`). Any text either parses to a reference
// whose spelling parses back to the same reference, or is refused with an ImageReferenceError; never a trap.
import Foundation
import PlanOCI

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let text = String(decoding: bytes, as: UTF8.self)
    do {
        let reference = try ImageReference(parsing: text)
        _ = (reference.name, reference.manifestReference, reference.apiHost)
        // The canonical spelling is itself a reference, and the same one.
        let again = try ImageReference(parsing: reference.description)
        precondition(again == reference, "\(text) → \(reference) → \(again)")
    } catch {
        _ = error.description
    }
    return 0
}

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOne))
