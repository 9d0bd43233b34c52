// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "CryptoPipe",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cryptopipe", targets: ["cryptopipe"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // MarketStreams uses its `WSInternal` SPI (BoundWebSocket), which minor releases may change.
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", .upToNextMinor(from: "1.6.2")),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .target(
            name: "MarketData",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Analytics",
            dependencies: ["MarketData"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Exchange",
            dependencies: [
                "MarketData",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ExchangeSimulator",
            dependencies: [
                "MarketData",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "DataLake",
            dependencies: [
                "MarketData",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Warehouse",
            dependencies: [
                "MarketData",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // MariaDB Connector/C, loaded at run time: building needs neither its headers nor its library.
        .target(
            name: "CMariaDB",
            linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]
        ),
        .target(
            name: "WarehouseMySQL",
            dependencies: [
                "CMariaDB",
                "MarketData",
                "Warehouse",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Pipeline",
            dependencies: [
                "MarketData",
                "Exchange",
                "DataLake",
                "Warehouse",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MarketStreams",
            dependencies: [
                "MarketData", "Pipeline", "Warehouse",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "WSCore", package: "swift-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WebApp",
            dependencies: [
                "MarketData", "Analytics", "Exchange", "DataLake", "Warehouse", "Pipeline",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PipelineTesting",
            dependencies: [
                "MarketData", "Exchange", "ExchangeSimulator", "DataLake", "Warehouse", "Pipeline",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            // Test support that needs the MariaDB client (a private server, the MySQL conformance), kept apart so test
            // targets that do not test MySQL build without it.
            name: "PipelineTestingMySQL",
            dependencies: ["PipelineTesting", "WarehouseMySQL", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "cryptopipe",
            dependencies: [
                "MarketData",
                "Exchange",
                "ExchangeSimulator",
                "DataLake",
                "Warehouse",
                "WarehouseMySQL",
                "Pipeline",
                "MarketStreams",
                "WebApp",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "cryptopipe-bench",
            dependencies: [
                "MarketData",
                "DataLake",
                "Warehouse",
                "WarehouseMySQL",
                "Pipeline",
                "ExchangeSimulator",
                "Exchange",
                "PipelineTesting",
                "WebApp",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/cryptopipe-bench",
            exclude: ["baseline_transform.py", "baseline_import.py", "baseline_live.py"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "MarketDataTests", dependencies: ["MarketData"], swiftSettings: swiftSettings),
        .testTarget(
            name: "AnalyticsTests", dependencies: ["Analytics", "MarketData"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ExchangeSimulatorTests",
            dependencies: [
                "ExchangeSimulator", "MarketData",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ExchangeTests",
            dependencies: [
                "Exchange", "ExchangeSimulator", "MarketData", "PipelineTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DataLakeTests",
            dependencies: [
                "DataLake", "PipelineTesting", "MarketData",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WarehouseTests",
            dependencies: ["Warehouse", "PipelineTesting", "MarketData", .product(name: "GRDB", package: "GRDB.swift")],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        // MariaDB's installed headers' layouts, compared with CMariaDB's declarations by WarehouseMySQLTests.
        .target(name: "CMariaDBReference", path: "Tests/CMariaDBReference"),
        .testTarget(
            name: "WarehouseMySQLTests",
            dependencies: [
                "CMariaDB", "CMariaDBReference", "WarehouseMySQL", "Warehouse", "PipelineTesting", "PipelineTestingMySQL", "MarketData",
                "Pipeline", "DataLake", "Exchange",
                "ExchangeSimulator",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PipelineTests",
            dependencies: [
                "Pipeline", "PipelineTesting", "Exchange", "ExchangeSimulator", "DataLake", "Warehouse", "MarketData",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MarketStreamsTests",
            dependencies: [
                "MarketStreams", "Pipeline", "PipelineTesting", "ExchangeSimulator", "Exchange", "DataLake", "Warehouse", "MarketData",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WebAppTests",
            dependencies: [
                "WebApp", "Pipeline", "PipelineTesting", "Warehouse", "DataLake", "Exchange", "MarketData",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CLITests",
            dependencies: [
                "cryptopipe", "PipelineTesting", "PipelineTestingMySQL", "ExchangeSimulator", "MarketData", "Warehouse", "WarehouseMySQL",
                "DataLake",
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
