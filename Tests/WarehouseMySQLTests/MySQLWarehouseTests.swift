import MarketData
import PipelineTesting
import PipelineTestingMySQL
import Testing
import Warehouse
import WarehouseMySQL

/// The same conformance suite as SQLite, on a MariaDB server (a fresh database per check).
@Suite(.enabled(if: MySQLTestServer.isAvailable, Comment(rawValue: MySQLTestServer.skipReason)))
struct MySQLWarehouseConformanceTests {
    @Test(arguments: WarehouseConformance.checks)
    func mysql(check: ConformanceCheck<any Warehouse>) async throws {
        try await MySQLTestServer.withWarehouse { warehouse, _ in try await check.run(warehouse) }
    }

    @Test(arguments: SessionStoreConformance.checks)
    func sessions(check: ConformanceCheck<any SessionStore>) async throws {
        try await MySQLTestServer.withWarehouse { warehouse, _ in try await check.run(warehouse) }
    }

    @Test func extremeDecimalsRoundTripExactly() async throws {
        try await MySQLTestServer.withWarehouse { warehouse, _ in
            let symbol = try Symbol("BTCUSDT")
            // The largest value ExactDecimal parses (29 integer digits), the smallest step, and a long volume.
            let big = try ExactDecimal(parsing: String(repeating: "9", count: 29) + ".99999999")
            let tiny = try ExactDecimal(parsing: "0.00000001")
            let kline = Kline(
                openTime: 1_700_000_000_000, open: tiny, high: big, low: tiny, close: try ExactDecimal(parsing: "43250.12345678"),
                volume: try ExactDecimal(parsing: "123456789012345678901.00000001"), closeTime: 1_700_000_059_999,
                quoteVolume: big, tradeCount: Int64.max, takerBuyBaseVolume: .zero, takerBuyQuoteVolume: tiny, ignore: "0")
            _ = try await warehouse.loadKlines(
                [kline], symbol: symbol, interval: .oneMinute, capturedAt: 1_800_000_000_000,
                object: ProcessedObject(bucket: "crypto-raw", key: "k", processedAt: 1))
            let stored = try await warehouse.klines(
                symbol: symbol, interval: .oneMinute, from: 0, to: .max, includeOpen: true, limit: nil)
            #expect(stored.map(\.kline) == [kline])
        }
    }

    @Test func theServerIsNamedInErrorsButNeverThePassword() async throws {
        var configuration = try #require(MySQLTestServer.configuration)
        configuration.password = "definitely-wrong-password"
        configuration.reconnectWindow = .zero
        let warehouse = MySQLWarehouse(configuration: configuration)
        let error = try #require(await failure { () async throws(WarehouseError) in try await warehouse.ping() })
        #expect(error.description.contains("Access denied"), "\(error)")
        #expect(error.description.contains("mysql://cryptopipe@127.0.0.1"), "\(error)")
        #expect(!error.description.contains("definitely-wrong-password"))
        await warehouse.shutdown()
    }
}

/// Needs no server: it connects to a port held bound but not listening, so every connection is refused.
struct MySQLUnreachableServerTests {
    @Test func aServerThatIsDownFailsAfterTheReconnectWindow() async throws {
        let down = try ReservedPort()
        defer { down.release() }
        var configuration = MySQLConfiguration(host: "127.0.0.1", port: down.port, user: "nobody", database: "nothing")
        configuration.reconnectWindow = .milliseconds(300)
        let warehouse = MySQLWarehouse(configuration: configuration)
        let started = ContinuousClock.now
        let error = try #require(await failure { () async throws(WarehouseError) in try await warehouse.ping() })
        #expect(error.description.contains("Can't connect"), "\(error)")
        // Gave up after its own 300 ms window, not the default minute of retries (a bound, not a timing: a loaded 2-core
        // machine once needed 21 s for the refused attempts).
        #expect(ContinuousClock.now - started < .seconds(60))
        await warehouse.shutdown()
    }
}

struct MySQLConfigurationTests {
    @Test func urlsParseWithEveryPart() throws {
        let plain = try MySQLConfiguration(url: "mysql://app@db.example.com/market")
        #expect(plain.host == "db.example.com" && plain.port == 3306 && plain.user == "app" && plain.password == nil)
        #expect(plain.database == "market" && plain.tls == .disabled && plain.poolSize == 4)
        let full = try MySQLConfiguration(url: "mariadb://app:p%40ss%3Aword@[::1]:3307/market?tls=verify&ca=/etc/ca.pem&pool=8")
        #expect(full.host == "::1" && full.port == 3307 && full.password == "p@ss:word")
        #expect(full.tls == .verify && full.certificateAuthorityPath == "/etc/ca.pem" && full.poolSize == 8)
        #expect(full.description == "mysql://app@[::1]:3307/market?tls=verify&ca=/etc/ca.pem&pool=8")
        #expect(!full.description.contains("word"))
    }

    @Test func severalServersOfOneCluster() throws {
        let cluster = try MySQLConfiguration(url: "mysql://app@h1:3306,h2,[::1]:3307/market?pool=8")
        #expect(
            cluster.servers == [.init(host: "h1", port: 3306), .init(host: "h2", port: 3306), .init(host: "::1", port: 3307)])
        #expect(cluster.host == "h1" && cluster.port == 3306 && cluster.poolSize == 8)
        #expect(cluster.description == "mysql://app@h1:3306,h2:3306,[::1]:3307/market?pool=8")
        #expect(try MySQLConfiguration(url: cluster.description) == cluster)
        let sixteen = (1...16).map { "h\($0)" }.joined(separator: ",")
        #expect(try MySQLConfiguration(url: "mysql://app@\(sixteen)/market").servers.count == 16)
    }

    @Test(arguments: [
        ("mysql://a@h1,,h2/db", "names no host"),
        ("mysql://a@h1,/db", "names no host"),
        ("mysql://a@h1,h2:x/db", "has a bad port"),
        ("mysql://a@h1,h2:0/db", "outside 1–65535"),
        ("mysql://a@h1:3306,h1/db", "names server h1:3306 twice"),
        ("mysql://a@h1,[::1/db", "unterminated [IPv6] host"),
        ("mysql://a@\((1...17).map { "h\($0)" }.joined(separator: ","))/db", "names more than 16 servers"),
        ("postgres://a@h/db", "is not a mysql:// URL"),
        ("mysql://h/db", "names no user"),
        ("mysql://a@h", "names no database"),
        ("mysql://a@h/", "names no database"),
        ("mysql://a@h:port/db", "has a bad port"),
        ("mysql://a@h:70000/db", "outside 1–65535"),
        ("mysql://a@h/db-name", "use letters, digits and _ only"),
        ("mysql://a@h/db?tls=maybe", "use tls=disabled, required or verify"),
        ("mysql://a@h/db?pool=0", "use 1–64"),
        ("mysql://a@h/db?colour=blue", "unknown option 'colour'"),
        ("mysql://a:secret@h:x/db", "mysql://a:[redacted]@h:x/db"),
    ])
    func badURLsSayWhatIsWrong(url: String, message: String) {
        #expect {
            try MySQLConfiguration(url: url)
        } throws: { error in
            let text = "\(error)"
            return text.contains(message) && !text.contains("secret") && text.contains("expected mysql://user@host:3306/database")
        }
    }
}

@Suite(.enabled(if: MySQLTestServer.isAvailable, Comment(rawValue: MySQLTestServer.skipReason)))
struct MySQLTLSTests {
    /// The test server has TLS switched off, so a connection that requires it must fail, not fall back to plain TCP.
    @Test func requiredTLSIsNeverSilentlyDropped() async throws {
        var configuration = try #require(MySQLTestServer.configuration)
        configuration.tls = .required
        configuration.reconnectWindow = .zero
        let warehouse = MySQLWarehouse(configuration: configuration)
        let error = try #require(await failure { () async throws(WarehouseError) in try await warehouse.ping() })
        #expect(error.description.contains("the server did not agree to TLS (tls=required)"), "\(error)")
        await warehouse.shutdown()
    }
}
