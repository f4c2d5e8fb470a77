// plan-layer-bench LAYER DIR: applies a layer file (gzip or plain tar) to DIR, for bench/unpack.sh.
// A benchmark driver, not part of the CLI; it prints only the warnings and errors of the applier.
import PlanOCI
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    print("usage: plan-layer-bench LAYER DIR")
    exit(2)
}
do {
    let report = try LayerApplier().apply(layerAt: arguments[1], to: arguments[2])
    for warning in report.warnings { print("warning: \(warning)") }
} catch {
    print("error: \(error)")
    exit(1)
}
