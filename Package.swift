// swift-tools-version:6.1
import PackageDescription

/// What a target needs to make and pass on spans (SPEC §15): swift-distributed-tracing's API.
let tracing: [Target.Dependency] = [
    .product(name: "Instrumentation", package: "swift-distributed-tracing"),
    .product(name: "ServiceContextModule", package: "swift-service-context"),
    .product(name: "Tracing", package: "swift-distributed-tracing"),
]

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "herald",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "herald", targets: ["herald"]),
        .executable(name: "herald-bench", targets: ["herald-bench"]),
        .library(name: "HeraldCore", targets: ["HeraldCore"]),
        .library(name: "HeraldChannels", targets: ["HeraldChannels"]),
        .library(name: "HeraldHTTP", targets: ["HeraldHTTP"]),
        .library(name: "HeraldServer", targets: ["HeraldServer"]),
        .library(name: "HeraldPlaybook", targets: ["HeraldPlaybook"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-service-context.git", from: "1.5.1"),
        // OpenTelemetry export over OTLP/HTTP only (SPEC §15): the gRPC exporter's packages stay unbuilt.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        // libcurl, wrapped the way GRDB wraps SQLite: a system module with typed shims
        // for the variadic calls.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Sessions, flows, outputs, the outbox and the store protocol. No HTTP, no SQL.
        .target(
            name: "HeraldCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ] + tracing,
            swiftSettings: swiftSettings
        ),
        // The embedded default store (GRDB, WAL).
        .target(
            name: "HeraldSQLite",
            dependencies: [
                "HeraldCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The shared store for several instances (postgres-nio): session locks, outbox leases.
        .target(
            name: "HeraldPostgres",
            dependencies: [
                "HeraldCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Channels (SPEC §9): channel files compiled into the checks and mappings that turn a
        // channel's requests into messages and outputs into requests to its API. No HTTP server,
        // no curl: the HTTP and webhook layers hand it bytes and ask it for requests.
        .target(
            name: "HeraldChannels",
            dependencies: [
                "HeraldCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // Webhook delivery: the libcurl client, signing, and the delivery service.
        .target(
            name: "HeraldWebhook",
            dependencies: [
                "CCurl",
                "HeraldChannels",
                "HeraldCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ] + tracing,
            swiftSettings: swiftSettings
        ),
        // The HTTP API (Hummingbird 2): endpoint, admin, health, metrics; and the webhook receiver.
        // It knows the store protocol only; HeraldServer chooses the store.
        .target(
            name: "HeraldHTTP",
            dependencies: [
                "HeraldChannels",
                "HeraldCore",
                "HeraldWebhook",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ] + tracing,
            resources: [.copy("Resources")],
            swiftSettings: swiftSettings
        ),
        // The composition root: reads the configuration's choice of store and assembles the
        // message path (store, writer, outbox and its feed, registry, delivery, services).
        .target(
            name: "HeraldServer",
            dependencies: [
                "HeraldChannels",
                "HeraldCore",
                "HeraldHTTP",
                "HeraldPostgres",
                "HeraldSQLite",
                "HeraldWebhook",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ] + tracing,
            swiftSettings: swiftSettings
        ),
        // Scripted conversation tests (`herald test`): playbooks, their runner against an
        // in-process or a running Herald, and the console and JUnit reports.
        .target(
            name: "HeraldPlaybook",
            dependencies: [
                "HeraldCore",
                "HeraldHTTP",
                "HeraldServer",
                "HeraldWebhook",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // The `herald` command: parses arguments, calls into the libraries.
        .executableTarget(
            name: "herald",
            dependencies: [
                "HeraldChannels",
                "HeraldCore",
                "HeraldHTTP",
                "HeraldPlaybook",
                "HeraldServer",
                "HeraldWebhook",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // `herald-bench`: the benchmark's baseline server, webhook sink and load generator
        // (scripts/bench.sh drives them). Not part of the test command.
        .executableTarget(
            name: "herald-bench",
            dependencies: [
                "HeraldCore",
                "HeraldWebhook",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Test helpers shared by the test targets: a real webhook receiver and a running Herald.
        .target(
            name: "HeraldTestSupport",
            dependencies: [
                "HeraldCore", "HeraldHTTP", "HeraldPostgres", "HeraldServer", "HeraldSQLite", "HeraldWebhook",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/HeraldTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HeraldPlaybookTests",
            dependencies: ["HeraldCore", "HeraldHTTP", "HeraldPlaybook", "HeraldTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HeraldChannelsTests",
            dependencies: [
                "HeraldChannels", "HeraldCore", "HeraldHTTP", "HeraldWebhook", "HeraldTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HeraldCoreTests",
            dependencies: [
                "HeraldCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HeraldStoreTests",
            dependencies: [
                "HeraldCore", "HeraldSQLite", "HeraldPostgres", "HeraldTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HeraldWebhookTests",
            dependencies: [
                "HeraldCore", "HeraldWebhook", "HeraldHTTP", "HeraldTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HeraldHTTPTests",
            dependencies: [
                "HeraldCore", "HeraldHTTP", "HeraldSQLite", "HeraldWebhook", "HeraldTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
