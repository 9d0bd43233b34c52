import Foundation
import Logging
import MarketData
import PipelineTesting
import PipelineTestingMySQL
import Testing
import Warehouse

@testable import WarehouseMySQL

/// The MySQL warehouse on a real three-node MariaDB Galera cluster (`scripts/galera-test-cluster`): migrations started
/// on every node at once, the same rows written through two nodes at once (Galera's certification conflicts), and a
/// node that dies while a warehouse writes through it. One test at a time: a test stops a node of the shared cluster.
@Suite(.serialized, .enabled(if: GaleraTestCluster.isAvailable, Comment(rawValue: GaleraTestCluster.skipReason)))
struct GaleraClusterTests {
    static let symbol = try! Symbol("BTCUSDT")
    static let start: Int64 = 1_772_323_200_000

    static func load(_ minutes: Range<Int64>, key: String, into warehouse: MySQLWarehouse) async throws {
        let candles = minutes.map { WarehouseConformance.kline(start + $0 * 60_000) }
        let last = start + minutes.upperBound * 60_000
        _ = try await warehouse.loadKlines(
            candles, symbol: symbol, interval: .oneMinute, capturedAt: last + 1_000,
            object: ProcessedObject(bucket: "crypto-raw", key: key, processedAt: last + 2_000))
    }

    /// The stored 1m candles, read through node `node` alone.
    static func stored(in database: String, node: Int) async throws -> [Kline] {
        let warehouse = MySQLWarehouse(configuration: try GaleraTestCluster.configuration(database: database, nodes: [node]))
        let outcome = await capturing {
            try await warehouse.klines(symbol: symbol, interval: .oneMinute, from: 0, to: .max, includeOpen: true, limit: nil).map(\.kline)
        }
        await warehouse.shutdown()
        return try outcome.get()
    }

    static func expected(_ minutes: Range<Int64>) -> [Kline] { minutes.map { WarehouseConformance.kline(start + $0 * 60_000) } }

    /// The first column of `sql`'s rows, asked of node `node` alone.
    static func query(_ sql: String, database: String, node: Int) async throws -> [String] {
        let configuration = try GaleraTestCluster.configuration(database: database, nodes: [node])
        return try await PrivateMariaDB.offThePool {
            let connection = try MySQLConnection(configuration)
            // A causal read: the node first applies every write the cluster committed before it (a node that rejoined
            // may still be catching up).
            try connection.execute("SET SESSION wsrep_sync_wait = 1")
            return try connection.query(sql).all.map { $0.string(0) ?? "NULL" }
        }
    }

    /// Three processes starting on three nodes at once each run the migrations: the cluster-wide lock (a row, not
    /// `GET_LOCK`, which each node keeps to itself) lets one apply them while the others wait for it, and every node ends
    /// with one schema. Galera replicates only tables with primary keys reliably: every table has one.
    @Test(.timeLimit(.minutes(5)))
    func migrationsStartedOnEveryNodeAtOnceMakeOneSchema() async throws {
        try await GaleraTestCluster.withDatabase("galera_migrate_") { database in
            let records = LogRecorder()
            let warehouses = try (0..<GaleraTestCluster.nodeCount).map {
                MySQLWarehouse(
                    configuration: try GaleraTestCluster.configuration(database: database, nodes: [$0]), logger: records.logger())
            }
            // Another process holds the lock, taken through node 1, for 10 s more on the server's clock: the processes on
            // every node (a machine timing alone could let them run one after the other) see it taken and wait.
            let first = try GaleraTestCluster.configuration(database: database, nodes: [0])
            try await PrivateMariaDB.offThePool {
                let connection = try MySQLConnection(first)
                try connection.execute(MySQLSchema.lockTableSQL)
                try connection.run(
                    "INSERT INTO schema_lock (id, holder, expires_at) VALUES (1, 'another', \(MySQLSchema.serverNow) + 10000)")
            }
            let outcome = await capturing {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for warehouse in warehouses { group.addTask { try await warehouse.migrate() } }
                    try await group.waitForAll()
                }
            }
            for warehouse in warehouses { await warehouse.shutdown() }
            try outcome.get()
            var applied: [[String]] = []
            for node in 0..<GaleraTestCluster.nodeCount {
                applied.append(try await Self.query("SELECT id FROM schema_migrations ORDER BY id", database: database, node: node))
            }
            #expect(!applied[0].isEmpty && Set(applied[0]).count == applied[0].count, "\(applied[0])")
            #expect(applied.allSatisfy { $0 == applied[0] }, "\(applied)")
            let withoutKey = try await Self.query(
                """
                SELECT t.table_name FROM information_schema.tables t
                WHERE t.table_schema = DATABASE() AND t.table_type = 'BASE TABLE' AND NOT EXISTS (
                    SELECT 1 FROM information_schema.table_constraints c
                    WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.constraint_type = 'PRIMARY KEY')
                """, database: database, node: 2)
            #expect(withoutKey.isEmpty, "tables without a primary key: \(withoutKey)")
            // The lock held across nodes: the processes on the other nodes saw it taken and waited.
            let waited = records.all.filter { $0.contains("another process is migrating the schema; waiting for it") }
            #expect(waited.count >= 2, "\(records.all)")
        }
    }

    /// Two workers load the same minutes through two nodes at the same moment (two captures of one minute, as when a
    /// lease moves). Writes of the same rows through two nodes at once conflict in Galera's certification: the loser
    /// fails at commit with 1213 and is run again. Neither load is lost (both
    /// objects are in the ledger), and every minute is stored once, the same on every node.
    @Test(.timeLimit(.minutes(5)))
    func writesThroughTwoNodesAtOnceConflictAndAreRerunNotLost() async throws {
        try await GaleraTestCluster.withDatabase("galera_conflict_") { database in
            let migrator = MySQLWarehouse(configuration: try GaleraTestCluster.configuration(database: database))
            try await migrator.migrate()
            await migrator.shutdown()
            let first = MySQLWarehouse(configuration: try GaleraTestCluster.configuration(database: database, nodes: [0]))
            let second = MySQLWarehouse(configuration: try GaleraTestCluster.configuration(database: database, nodes: [1]))
            func conflicts() async throws -> Int64 {
                var total: Int64 = 0
                for node in 0..<2 {
                    total += try await GaleraTestCluster.status("wsrep_local_cert_failures", node: node)
                    total += try await GaleraTestCluster.status("wsrep_local_bf_aborts", node: node)
                }
                return total
            }
            let before = try await conflicts()
            var rounds: Int64 = 0
            // Until the cluster reports a conflict (at least a few rounds, at most 60): with none, nothing was tested.
            let outcome = await capturing {
                while rounds < 60 {
                    let round = rounds
                    let minutes = (round * 30)..<(round * 30 + 30)
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { try await Self.load(minutes, key: "first/\(round)", into: first) }
                        group.addTask { try await Self.load(minutes, key: "second/\(round)", into: second) }
                        try await group.waitForAll()
                    }
                    rounds += 1
                    if rounds >= 5, try await conflicts() > before { break }
                }
            }
            await first.shutdown()
            await second.shutdown()
            try outcome.get()
            #expect(try await conflicts() > before, "no certification conflict in \(rounds) rounds of writing the same rows on two nodes")
            for node in 0..<GaleraTestCluster.nodeCount {
                #expect(try await Self.stored(in: database, node: node) == Self.expected(0..<(rounds * 30)), "node \(node + 1)")
            }
            let reader = MySQLWarehouse(configuration: try GaleraTestCluster.configuration(database: database, nodes: [2]))
            let ledger = await capturing { try await reader.processedObjectKeys(withPrefix: "") }
            await reader.shutdown()
            let expectedKeys = Set((0..<rounds).flatMap { ["first/\($0)", "second/\($0)"] })
            #expect(try ledger.get() == expectedKeys)
        }
    }

    /// A node dies (SIGKILL) while a warehouse with all three nodes in its URL writes through it: the cut-off load is
    /// rerun on another node, nothing is lost or stored twice, and the node, started again, catches up.
    @Test(.timeLimit(.minutes(5)))
    func aNodeThatDiesMidLoadLosesNothing() async throws {
        try await GaleraTestCluster.withDatabase("galera_failover_") { database in
            var configuration = try GaleraTestCluster.configuration(database: database)
            configuration.reconnectWindow = .seconds(60)
            let records = LogRecorder()
            let warehouse = MySQLWarehouse(configuration: configuration, logger: records.logger())
            let outcome = await capturing {
                try await warehouse.migrate()
                try await Self.load(0..<10, key: "before", into: warehouse)
                // The first node answered, so the pool's connections are on it; it dies once loads are under way, between
                // or during them.
                let (loaded, progress) = AsyncStream<Int64>.makeStream()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        defer { progress.finish() }
                        for batch in Int64(1)..<40 {
                            try await Self.load((batch * 10)..<(batch * 10 + 10), key: "during/\(batch)", into: warehouse)
                            progress.yield(batch)
                        }
                    }
                    group.addTask {
                        for await batch in loaded where batch >= 5 { break }
                        try await GaleraTestCluster.stop(node: 0)
                    }
                    try await group.waitForAll()
                }
                try await Self.load(400..<410, key: "after", into: warehouse)
            }
            await warehouse.shutdown()
            // The node comes back whatever happened, for the tests after this one.
            let restarted = await capturing { try await GaleraTestCluster.start(node: 0) }
            try outcome.get()
            try restarted.get()
            #expect(records.all.contains { $0.contains("MySQL: connecting to another server") }, "\(records.all.suffix(20))")
            #expect(try await Self.stored(in: database, node: 2) == Self.expected(0..<410))
            // The node that died has caught up since it rejoined.
            #expect(try await Self.stored(in: database, node: 0) == Self.expected(0..<410))
        }
    }
}
