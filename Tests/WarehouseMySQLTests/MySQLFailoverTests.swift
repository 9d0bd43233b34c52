import Foundation
import MarketData
import PipelineTesting
import PipelineTestingMySQL
import Testing
import Warehouse
import WarehouseMySQL

/// Several servers in one warehouse URL, as for the nodes of a replicated cluster. The two MariaDB servers here do not
/// replicate (this machine runs no cluster in these tests), so what is checked is where the work goes: to the first
/// server that answers, and to the next when that one fails, the cut-off job rerun there.
@Suite(.enabled(if: PrivateMariaDB.canLaunch, Comment(rawValue: PrivateMariaDB.skipReason)))
struct MySQLFailoverTests {
    static let symbol = try! Symbol("BTCUSDT")

    static func load(_ minute: Int64, into warehouse: MySQLWarehouse) async throws {
        let openTime = 1_772_323_200_000 + minute * 60_000
        _ = try await warehouse.loadKlines(
            [WarehouseConformance.kline(openTime)], symbol: symbol, interval: .oneMinute, capturedAt: openTime + 61_000,
            object: ProcessedObject(bucket: "crypto-raw", key: "failover/\(minute)", processedAt: openTime + 62_000))
    }

    static func minutes(in warehouse: MySQLWarehouse) async throws -> [Int64] {
        try await warehouse.klines(symbol: symbol, interval: .oneMinute, from: 0, to: .max, includeOpen: true, limit: nil).map {
            ($0.kline.openTime - 1_772_323_200_000) / 60_000
        }
    }

    @Test func workMovesToTheNextServerWhenOneFails() async throws {
        let password = UUID().uuidString.replacingOccurrences(of: "-", with: "")
        // One after the other: installing two data folders at once on a loaded machine once failed.
        let first = try await PrivateMariaDB.launch(password: password)
        let second = try await PrivateMariaDB.launch(password: password)
        let down = try ReservedPort()
        defer { down.release() }
        // Each server gets the schema on its own (a cluster would replicate it).
        for server in [first, second] {
            let direct = MySQLWarehouse(configuration: server.configuration)
            try await direct.migrate()
            await direct.shutdown()
        }
        var cluster = try MySQLConfiguration(
            url: "mysql://cryptopipe@127.0.0.1:\(down.port),127.0.0.1:\(first.port),127.0.0.1:\(second.port)/cryptopipe?pool=2")
        cluster.password = password
        cluster.reconnectWindow = .seconds(60)
        let records = LogRecorder()
        let warehouse = MySQLWarehouse(configuration: cluster, logger: records.logger())

        // The first server refuses connections: the work goes to the second, the first that answers.
        try await Self.load(0, into: warehouse)
        let onFirst = MySQLWarehouse(configuration: first.configuration)
        #expect(try await Self.minutes(in: onFirst) == [0])
        await onFirst.shutdown()

        // That server stops between two jobs: the next job, cut off on its pooled connection, cannot reconnect to it
        // and is rerun on the third.
        await first.shutDown()
        try await Self.load(1, into: warehouse)
        try await Self.load(2, into: warehouse)
        let onSecond = MySQLWarehouse(configuration: second.configuration)
        #expect(try await Self.minutes(in: onSecond) == [1, 2])
        #expect(records.all.contains { $0.contains("MySQL: connecting to another server") }, "\(records.all)")
        await onSecond.shutdown()
        await warehouse.shutdown()
        await second.shutDown()
    }
}
