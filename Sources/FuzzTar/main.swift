// libFuzzer target: the tar reader (TarReader over LayerSource.memory, so gzip layers too). Any bytes
// either read as entries or end in a LayerError; never a trap, a read past the input or a hang.
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
    do {
        // The smallest buffer (4 blocks), so that refills and headers across refills are reached.
        let reader = TarReader(try LayerSource.memory(bytes), bufferSize: 0)
        var entries = 0
        while let entry = try reader.next() {
            entries += 1
            // Read every other entry's content; the others are skipped by next().
            if entries % 2 == 1 {
                var total = 0
                try reader.readContent { total += $0.count }
                precondition(Int64(total) == entry.size, "\(entry.path): read \(total) of \(entry.size) bytes")
            }
        }
    } catch {
        _ = String(describing: error)
    }
    return 0
}

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOne))
