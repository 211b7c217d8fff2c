// swift-tools-version: 6.1
// libFuzzer targets for Strata's decoders of untrusted bytes. A separate
// package, so the main package's builds never need libFuzzer; `make test`
// only compiles each target (`make fuzz-compile`). See Docs/reliability.md
// ("Fuzzing") and `make fuzz`.
//
// Each fuzzer is an ordinary executable whose main.swift hands control to
// libFuzzer's LLVMFuzzerRunDriver. Build (internal APIs are reached through
// @testable import, hence -enable-testing):
//   swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing
import PackageDescription

let fuzzers = ["FuzzWAL", "FuzzWriteBatch", "FuzzBlock", "FuzzTable", "FuzzManifest", "FuzzDBMap", "FuzzMessageRecords"]

let package = Package(
    name: "StrataFuzz",
    products: fuzzers.map { .executable(name: $0, targets: [$0]) },
    dependencies: [
        .package(name: "Strata", path: ".."),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .target(name: "CFuzzDriver"),
        .target(
            name: "FuzzSupport",
            dependencies: [
                .product(name: "Strata", package: "Strata"),
                .product(name: "Logging", package: "swift-log"),
                "CFuzzDriver",
            ]
        ),
    ] + fuzzers.map {
        .executableTarget(
            name: $0,
            dependencies: ["FuzzSupport", .product(name: "Strata", package: "Strata"),
                           .product(name: "StrataMessageStore", package: "Strata"),
                           .product(name: "StrataMessageCore", package: "Strata")]
        )
    },
    swiftLanguageModes: [.v6]
)
