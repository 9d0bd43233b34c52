import ArgumentParser
import Foundation
import MarketData
import Pipeline
import Warehouse

struct Maintain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lake ageing and retention: archive old raw objects, delete old archives and old minute data; refresh statistics.",
        discussion: """
            Transformed raw objects whose day is older than --archive-after-days move to the archive bucket (copied, \
            verified, recorded in processed_files, then deleted); archived objects older than --delete-archive-after-days \
            are deleted with their ledger rows. Objects that were never transformed are left alone. Minute candles and \
            order books older than --retention-days are deleted; hourly and daily candles are kept forever and never \
            changed. Cut-offs are midnight UTC. Interrupted runs are finished by the next one.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Days of minute data to keep, 1-36500 (env CRYPTOPIPE_RETENTION_DAYS, default 90).")
    var retentionDays: String?

    @Option(name: .long, help: "Days before raw objects are archived, 1-36500 (env CRYPTOPIPE_ARCHIVE_AFTER_DAYS, default 7).")
    var archiveAfterDays: String?

    @Option(
        name: .long, help: "Days before archived objects are deleted, 1-36500 (env CRYPTOPIPE_DELETE_ARCHIVE_AFTER_DAYS, default 30).")
    var deleteArchiveAfterDays: String?

    func run() async throws {
        try await guarded {
            let settings = Settings()
            var configuration = try global.resolve(settings)
            configuration.retentionDays = try settings.integer(
                retentionDays, option: "--retention-days", env: "CRYPTOPIPE_RETENTION_DAYS", default: 90, range: 1...36_500)
            configuration.archiveAfterDays = try settings.integer(
                archiveAfterDays, option: "--archive-after-days", env: "CRYPTOPIPE_ARCHIVE_AFTER_DAYS", default: 7, range: 1...36_500)
            configuration.deleteArchiveAfterDays = try settings.integer(
                deleteArchiveAfterDays, option: "--delete-archive-after-days", env: "CRYPTOPIPE_DELETE_ARCHIVE_AFTER_DAYS", default: 30,
                range: 1...36_500)
            guard configuration.deleteArchiveAfterDays >= configuration.archiveAfterDays else {
                throw CLIError.usage(
                    "--delete-archive-after-days (\(configuration.deleteArchiveAfterDays)) must not be less than --archive-after-days "
                        + "(\(configuration.archiveAfterDays))")
            }
            let backends = try await Backends.open(configuration)
            let report = try await backends.maintenance().run()
            let lake = report.lake
            Console.print(
                "lake: archived \(lake.archivedObjects) raw objects (\(lake.archivedBytes) bytes) older than "
                    + "\(configuration.archiveAfterDays) days, deleted \(lake.deletedObjects) archived objects older than "
                    + "\(configuration.deleteArchiveAfterDays) days and \(lake.forgottenLedgerRows) ledger rows"
                    + (lake.untransformedKept > 0 ? "; kept \(lake.untransformedKept) old objects never transformed" : ""))
            Console.print(
                "warehouse: deleted \(report.retention.klineRows) minute candles and \(report.retention.orderBookRows) order-book rows "
                    + "before \(UTCTime.iso8601(report.cutoff)); hourly and daily candles kept; statistics refreshed")
        }
    }
}
