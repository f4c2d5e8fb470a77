// libFuzzer target: the front end — YAML reader, plan parser, expander and checker (Compiler), then the
// diagnostics rendered in every format and, for a plan without errors, the Dockerfile. Any bytes give
// diagnostics; never a trap, a hang or a crash.
//
// The input is written to plan.yaml in a private temporary folder that also holds a small build context
// (the checker looks `copy` sources up in it), the way `plan check` reads a plan.
import Foundation
import PlanCompiler
import PlanDiagnostics
import PlanDockerfile

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// The temporary folder: plan.yaml, and a context with a file, a folder and a fragment to include.
/// Inside PLAN_FUZZ_TMPDIR (scripts/fuzz makes it and removes it afterwards: libFuzzer ends with _Exit,
/// so atexit handlers do not run), else /dev/shm: a new file on ext4 for every input costs more than
/// the compile.
let folder: String = {
    let parent = ProcessInfo.processInfo.environment["PLAN_FUZZ_TMPDIR"]
        ?? (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NSTemporaryDirectory())
    var template = Array("\(parent)/plan-fuzz.XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { fatalError("FuzzPlan: cannot create a temporary folder") }
    let path = String(cString: made)
    let files = [
        "README.md": "hello\n",
        "src/main.c": "int main(void) { return 0; }\n",
        "src/util/util.h": "#pragma once\n",
        "common.yaml": "stages:\n  shared:\n    from: alpine:3.20\n    steps:\n      - run: true\n",
    ]
    for (name, text) in files {
        let full = path + "/" + name
        try? FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: full, contents: Data(text.utf8))
    }
    return path
}()
let planPath = folder + "/plan.yaml"

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    // Rewritten in place (FileManager.createFile makes a new file and renames it).
    let fd = open(planPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0, size == 0 || write(fd, data, size) == size else { fatalError("FuzzPlan: cannot write \(planPath)") }
    close(fd)
    let result = Compiler().compile(planAt: folder)
    let renderer = DiagnosticRenderer(sources: result.sources, colored: true)
    for format in DiagnosticFormat.allCases { _ = renderer.render(result.diagnostics, format: format) }
    _ = DiagnosticRenderer.summary(result.diagnostics)
    if let graph = result.graph {
        let writer = DockerfileWriter()
        _ = (writer.dockerfile(for: graph), writer.dockerignore(for: graph))
    }
    return 0
}

_ = folder
var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOne))
