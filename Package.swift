// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Strata",
    products: [
        .library(name: "Strata", targets: ["Strata"]),
        .library(name: "StrataMessageCore", targets: ["StrataMessageCore"]),
        .library(name: "StrataMessageStore", targets: ["StrataMessageStore"]),
        .library(name: "StrataSQLite", targets: ["StrataSQLite"]),
        .library(name: "StrataPostgres", targets: ["StrataPostgres"]),
        .executable(name: "strata", targets: ["StrataCLI"]),
    ],
    // Which backends `MessageStoreConfiguration.open()` in StrataMessageStore
    // can open besides memory, json and lsm. Both are on by default; a user
    // of one backend turns the other off (`traits: ["SQLite"]`) and does not
    // build it. Docs/architecture.md ("Opening a store from a configuration").
    traits: [
        .trait(name: "SQLite", description: "StrataMessageStore opens sqlite: stores (builds StrataSQLite)"),
        .trait(name: "PostgreSQL", description: "StrataMessageStore opens postgresql:// stores (builds StrataPostgres)"),
        .default(enabledTraits: ["SQLite", "PostgreSQL"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // Small C helpers the engine needs and Swift cannot express directly:
        // hardware CRC32C and acquire/release atomics on raw arena memory.
        .target(name: "CStrataSupport"),
        .target(
            name: "Strata",
            dependencies: [
                "CLZ4",
                "CStrataSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The message layer without the engine: protocol, Message, the
        // in-memory reference store, export/import, broker policy. What a
        // user of only the SQLite or PostgreSQL backend builds.
        .target(
            name: "StrataMessageCore",
            dependencies: [
                "CStrataSupport",
                // liblz4 (a system library, not the engine): event records
                // above the compression threshold on every backend.
                "CLZ4",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .target(
            name: "StrataMessageStore",
            dependencies: [
                "StrataMessageCore",
                "Strata",
                .target(name: "StrataSQLite", condition: .when(traits: ["SQLite"])),
                .target(name: "StrataPostgres", condition: .when(traits: ["PostgreSQL"])),
                "CStrataSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "StrataSQLite",
            dependencies: ["StrataMessageCore", "CSQLite"]
        ),
        .target(
            name: "StrataPostgres",
            dependencies: [
                "StrataMessageCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "StrataBench",
            dependencies: ["Strata", "CStrataSupport", "StrataMessageStore", "StrataSQLite", "StrataPostgres"],
            path: "Benchmarks/StrataBench"
        ),
        .target(
            name: "StrataStress",
            dependencies: ["Strata", "StrataMessageStore"]
        ),
        .executableTarget(
            name: "StrataCLI",
            dependencies: [
                "Strata", "StrataMessageStore", "StrataSQLite", "StrataPostgres", "StrataBench", "StrataStress",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What the test suites share: the seeded generator (seeds printed,
        // STRATA_TEST_SEED reruns one), the sorted model oracle, temp
        // directories. Public engine API only, so it builds in any
        // configuration; fault injection is the engine's own
        // FaultInjectionFileSystem.
        .target(
            name: "StrataTestSupport",
            path: "Tests/StrataTestSupport"
        ),
        .testTarget(
            name: "StrataTests",
            dependencies: [
                "Strata",
                "StrataTestSupport",
                "CStrataSupport",
                "StrataStress",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "StrataMessageStoreTests",
            dependencies: [
                "StrataMessageStore", "StrataMessageCore", "StrataSQLite", "StrataPostgres", "Strata", "StrataTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                // The multi-broker test runs StrataStress's SharedStoreStress.
                "StrataStress",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// DocC: `STRATA_DOCC=1 swift package generate-documentation --target Strata`
// (and StrataMessageCore, StrataMessageStore, StrataSQLite, StrataPostgres).
// The plugin is added only when the variable is set, so ordinary builds and
// CI neither resolve nor build it (GRDB does the same with SPI_BUILDER).
if Context.environment["STRATA_DOCC"] == "1" {
    package.dependencies.append(.package(url: "https://github.com/swiftlang/swift-docc-plugin.git", from: "1.5.0"))
}
