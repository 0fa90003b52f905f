// swift-tools-version: 6.2
//
// ConvKit: CPU convolution kernels (C core, OpenMP + OpenBLAS), a Swift API
// that plans and autotunes them, and a model layer on top.
import PackageDescription

#if os(Linux)
let openMPLink: [LinkerSetting] = [.linkedLibrary("omp5")]
#else
let openMPLink: [LinkerSetting] = [.linkedLibrary("omp")]
#endif

let package = Package(
    name: "ConvKit",
    products: [
        .library(name: "ConvKit", targets: ["ConvKit"]),
        .library(name: "ConvKitNN", targets: ["ConvKitNN"]),
        .library(name: "ConvKitONNX", targets: ["ConvKitONNX"]),
        .library(name: "CConvKit", targets: ["CConvKit"]),
        .executable(name: "convkit", targets: ["convkit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.30.0"),
    ],
    targets: [
        // OpenBLAS's cblas, found through pkg-config (Debian: libopenblas-dev).
        .systemLibrary(
            name: "COpenBLAS",
            path: "Sources/COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // The C core: one target, one public header (CSources/include/convkit.h).
        .target(
            name: "CConvKit",
            dependencies: [.target(name: "COpenBLAS", condition: .when(platforms: [.linux]))],
            path: "CSources",
            publicHeadersPath: "include",
            cSettings: [
                .headerSearchPath("core"),
                .unsafeFlags(["-fopenmp"]),
                .define("CK_HAVE_OPENBLAS", .when(platforms: [.linux])),
                .define("CK_HAVE_ACCELERATE", .when(platforms: [.macOS, .iOS])),
            ],
            linkerSettings: openMPLink + [
                .linkedFramework("Accelerate", .when(platforms: [.macOS, .iOS])),
                .linkedLibrary("m", .when(platforms: [.linux])),
            ]
        ),
        .target(
            name: "ConvKit",
            dependencies: ["CConvKit"],
            path: "Sources/ConvKit"
        ),
        .target(
            name: "ConvKitNN",
            dependencies: ["ConvKit"],
            path: "Sources/ConvKitNN"
        ),
        // ONNX import (protobuf messages generated once from ConvKit's own .proto subset) and .npy I/O.
        .target(
            name: "ConvKitONNX",
            dependencies: ["ConvKitNN", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            path: "Sources/ConvKitONNX",
            exclude: ["onnx_subset.proto"]
        ),
        // Benchmark harness behind `convkit bench` (a library so tests can check it).
        .target(
            name: "ConvKitBench",
            dependencies: ["ConvKit", "ConvKitNN", "CConvKit"],
            path: "Sources/ConvKitBench"
        ),
        .executableTarget(
            name: "convkit",
            dependencies: [
                "ConvKit", "ConvKitNN", "ConvKitONNX", "ConvKitBench", "CConvKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/convkit"
        ),
        // The README's Swift example (kept compiling by `swift build`, run by Scripts/test.sh).
        .executableTarget(
            name: "convkit-example",
            dependencies: ["ConvKit"],
            path: "Examples/swift"
        ),
        .testTarget(
            name: "ConvKitTests",
            dependencies: ["ConvKit", "CConvKit"],
            path: "Tests/ConvKitTests"
        ),
        .testTarget(
            name: "ConvKitBenchTests",
            dependencies: ["ConvKitBench"],
            path: "Tests/ConvKitBenchTests"
        ),
        .testTarget(
            name: "ConvKitONNXTests",
            dependencies: ["ConvKitONNX"],
            path: "Tests/ConvKitONNXTests",
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "ConvKitNNTests",
            dependencies: ["ConvKitNN"],
            path: "Tests/ConvKitNNTests"
        ),
    ],
    swiftLanguageModes: [.v6],
    cLanguageStandard: .c11
)
