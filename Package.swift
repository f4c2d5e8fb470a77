// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "plan",
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
        // Source text, locations and the diagnostics engine shared by every stage of the pipeline.
        .target(name: "PlanDiagnostics"),
        // YAML → located syntax tree. Knows nothing about Docker.
        .target(
            name: "PlanLanguage",
            dependencies: ["PlanDiagnostics", .product(name: "Yams", package: "Yams")]
        ),
        // Semantic checks and the BuildGraph IR.
        .target(name: "PlanCompiler", dependencies: ["PlanDiagnostics", "PlanLanguage"]),
        // BuildGraph → Dockerfile and .dockerignore.
        .target(name: "PlanDockerfile", dependencies: ["PlanCompiler"]),
        // BuildGraph → docker-bake.json, for BuildKit builders.
        .target(name: "PlanBake", dependencies: ["PlanCompiler"]),
        // BuildGraph → a picture of the stages (Mermaid, Graphviz dot).
        .target(name: "PlanGraph", dependencies: ["PlanCompiler"]),
        // Host processes started with posix_spawn (no Foundation `Process`), for sandboxes and tests.
        .target(name: "PlanProcess"),
        // openat2(2), which Swift cannot call through the variadic syscall(): rooted file operations.
        .target(name: "CPlanSys"),
        // `plan run`: builds the BuildGraph itself — root filesystems, sandboxed steps, artifacts, outputs.
        .target(name: "PlanExecutor", dependencies: [
            "PlanDiagnostics", "PlanCompiler", "PlanOCI", "PlanProcess", "CPlanSys", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The command-line interface: thin, parses flags, calls the libraries, prints.
        .target(
            name: "PlanCLI",
            dependencies: [
                "PlanDiagnostics", "PlanLanguage", "PlanCompiler", "PlanDockerfile", "PlanBake", "PlanGraph", "PlanOCI",
                "PlanExecutor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "plan", dependencies: ["PlanCLI"]),
        // OCI images: references, models, content store, image layout, registry client, and layers
        // (tar, apply, diff). Usable on its own: depends on no other plan module.
        .target(
            name: "PlanOCI",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
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
                "PlanExecutor", "PlanTestKit",
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
                "PlanExecutor", "PlanTestKit", "plan",
            ]
        ),
        // Interop: against other programs — buildah, skopeo, umoci, hadolint, BuildKit's parser, check-jsonschema,
        // GNU tar, runc and bubblewrap, registries (the reference one and a fake).
        .testTarget(
            name: "PlanInteropTests",
            dependencies: [
                "PlanDiagnostics", "PlanLanguage", "PlanCompiler", "PlanDockerfile", "PlanBake", "PlanGraph", "PlanCLI",
                "PlanExecutor", "PlanTestKit", "plan",
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
