import ArgumentParser
import Foundation
import MarketData
import Pipeline
import Warehouse

struct Maintain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Retention: delete minute candles and order books older than the retention period; refresh statistics.",
        discussion: """
            Hourly and daily candles are kept forever and are never changed by this command; roll-ups still pending are
            computed before their minutes are deleted. The cut-off is midnight UTC, so whole hours and days go together.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Days of minute data to keep, 1-36500 (env CRYPTOPIPE_RETENTION_DAYS, default 90).")
    var retentionDays: String?

    func run() async throws {
        try await guarded {
            let days = try Settings().integer(
                retentionDays, option: "--retention-days", env: "CRYPTOPIPE_RETENTION_DAYS", default: 90, range: 1...36_500)
            let backends = try await Backends.open(try global.resolve())
            let maintenance = Maintenance(configuration: .init(retentionDays: days), warehouse: backends.warehouse)
            let report = try await maintenance.run()
            Console.print(
                "deleted \(report.retention.klineRows) minute candles and \(report.retention.orderBookRows) order-book rows before "
                    + "\(UTCTime.iso8601(report.cutoff)); hourly and daily candles kept; statistics refreshed")
        }
    }
}
