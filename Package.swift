// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "plan",
    // What runs where. Linux: everything. macOS 13+: `plan check`, `compile`, `graph` and `affected`
    // (PlanLanguage, PlanCompiler, the writers) and PlanOCI; the executor (`plan run`: namespaces,
    // mount(2), overlayfs, openat2) is Linux-only — its Linux-only calls sit behind `#if os(Linux)` so
    // the package compiles on macOS, where a run fails closed (no openat2, no overlay). Only Linux is
    // built and tested here; the macOS build is unchecked.
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "plan", targets: ["plan"]),
        .library(name: "PlanLanguage", targets: ["PlanLanguage"]),
        .library(name: "PlanCompiler", targets: ["PlanCompiler"]),
        .library(name: "PlanDockerfile", targets: ["PlanDockerfile"]),
        .library(name: "PlanBake", targets: ["PlanBake"]),
        .library(name: "PlanGraph", targets: ["PlanGraph"]),
        .library(name: "PlanOCI", targets: ["PlanOCI"]),
        .library(name: "PlanExecutor", targets: ["PlanExecutor"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // The value languages every stage of the pipeline reads the same way: image references, platforms, digests,
        // variables, durations. A leaf: depends on nothing.
        .target(name: "PlanValues"),
        // POSIX path arithmetic, .dockerignore matching and globs, for the compiler and the executor. A leaf.
        .target(name: "PlanPaths"),
        // Source text, locations and the diagnostics engine shared by every stage of the pipeline.
        .target(name: "PlanDiagnostics"),
        // YAML → located syntax tree. Knows nothing about Docker.
        .target(
            name: "PlanLanguage",
            dependencies: ["PlanDiagnostics", "PlanValues", .product(name: "Yams", package: "Yams")]
        ),
        // Dockerfile → plan (`plan import`): BuildKit's Dockerfile syntax, read exactly, and the plan YAML written from it.
        .target(name: "PlanImport", dependencies: ["PlanDiagnostics", "PlanValues"]),
        // `plan lock` and `--locked`: the lock file (plan.lock), resolving what a plan reads to digests, and using the lock.
        .target(name: "PlanLock", dependencies: ["PlanDiagnostics", "PlanLanguage", "PlanCompiler", "PlanOCI", "PlanValues"]),
        // Semantic checks and the BuildGraph IR.
        .target(name: "PlanCompiler", dependencies: [
            "PlanDiagnostics", "PlanLanguage", "PlanValues", "PlanPaths", .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        // BuildGraph → Dockerfile and .dockerignore.
        .target(name: "PlanDockerfile", dependencies: ["PlanCompiler", "PlanValues"]),
        // BuildGraph → docker-bake.json, for BuildKit builders.
        .target(name: "PlanBake", dependencies: ["PlanCompiler", "PlanPaths"]),
        // BuildGraph → a picture of the stages (Mermaid, Graphviz dot).
        .target(name: "PlanGraph", dependencies: ["PlanCompiler"]),
        // Host processes started with posix_spawn (no Foundation `Process`), for sandboxes and tests.
        .target(name: "PlanProcess"),
        // openat2(2), which Swift cannot call through the variadic syscall(): rooted file operations.
        .target(name: "CPlanSys"),
        // `plan run`: builds the BuildGraph itself — root filesystems, sandboxed steps, artifacts, outputs.
        .target(name: "PlanExecutor", dependencies: [
            "PlanDiagnostics", "PlanCompiler", "PlanOCI", "PlanValues", "PlanPaths", "PlanProcess", "CPlanSys",
            .product(name: "Crypto", package: "swift-crypto"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        // The command-line interface: thin, parses flags, calls the libraries, prints.
        .target(
            name: "PlanCLI",
            dependencies: [
                "PlanDiagnostics", "PlanLanguage", "PlanCompiler", "PlanDockerfile", "PlanBake", "PlanGraph", "PlanOCI",
                "PlanExecutor", "PlanValues", "PlanPaths", "PlanImport", "PlanLock",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .executableTarget(name: "plan", dependencies: ["PlanCLI"]),
        // OCI images: references, models, content store, image layout, registry client, and layers
        // (tar, apply, diff). Usable on its own: depends on no other plan module but the leaves PlanValues
        // and PlanProcess (which runs docker-credential-* helpers).
        .target(
            name: "PlanOCI",
            dependencies: [
                "PlanValues", "PlanProcess",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Sources/PlanOCI"
        ),
        // Unpacks a layer file into a directory; used by bench/unpack.sh.
        .executableTarget(
            name: "plan-layer-bench",
            dependencies: ["PlanOCI"],
            path: "Sources/PlanOCIBench"
        ),
        // Test helpers every test target shares: paths, child processes that never hang the runner, tools (a
        // missing one fails), golden files, layers and images. Fixtures and goldens live in Tests/Fixtures and
        // Tests/Snapshots, shared by every kind.
        .target(name: "PlanTestKit", dependencies: ["PlanProcess", "PlanOCI", "PlanCompiler"], path: "Tests/PlanTestKit"),
        // Tests by kind: `swift test --filter Unit`, `--filter EndToEnd`, `--filter Interop`.
        // Unit: in-process, no child process of a real tool, no registry, no `plan` binary; seconds.
        .testTarget(
            name: "PlanUnitTests",
            dependencies: [
                "PlanDiagnostics", "PlanLanguage", "PlanCompiler", "PlanDockerfile", "PlanBake", "PlanGraph", "PlanCLI",
                "PlanExecutor", "PlanTestKit", "PlanValues", "PlanPaths", "PlanImport", "PlanLock",
            ]
        ),
        .testTarget(
            name: "PlanOCIUnitTests",
            dependencies: ["PlanOCI", "PlanTestKit"],
            exclude: ["Fixtures"]
        ),
        // End to end: the built `plan` binary, with the test registry for base images and the sandbox it uses.
        .testTarget(
            name: "PlanEndToEndTests",
            dependencies: [
                "PlanDiagnostics", "PlanLanguage", "PlanCompiler", "PlanDockerfile", "PlanBake", "PlanGraph", "PlanCLI",
                "PlanExecutor", "PlanTestKit", "plan", "PlanValues", "PlanPaths",
            ]
        ),
        // Interop: against other programs — buildah, skopeo, umoci, hadolint, BuildKit's parser, check-jsonschema,
        // GNU tar, runc and bubblewrap, registries (the reference one and a fake).
        .testTarget(
            name: "PlanInteropTests",
            dependencies: [
                "PlanDiagnostics", "PlanLanguage", "PlanCompiler", "PlanDockerfile", "PlanBake", "PlanGraph", "PlanCLI",
                "PlanExecutor", "PlanTestKit", "plan", "PlanValues", "PlanPaths", "PlanImport", "PlanLock",
            ]
        ),
        .testTarget(
            name: "PlanOCIInteropTests",
            dependencies: ["PlanOCI", "PlanTestKit"],
            exclude: ["Registry/Fixtures"]
        ),
    ]
)

// libFuzzer targets (docs/fuzzing.md), declared only for `scripts/fuzz`, which sets PLAN_FUZZ=1 and builds
// with -sanitize=fuzzer: their main.swift calls LLVMFuzzerRunDriver, which links only with that flag.
if Context.environment["PLAN_FUZZ"] == "1" {
    package.targets += [
        .executableTarget(name: "FuzzPlan", dependencies: ["PlanDiagnostics", "PlanCompiler", "PlanDockerfile"]),
        .executableTarget(name: "FuzzTar", dependencies: ["PlanOCI"]),
        .executableTarget(name: "FuzzReference", dependencies: ["PlanOCI"]),
        .executableTarget(name: "FuzzManifest", dependencies: ["PlanOCI"]),
    ]
}
