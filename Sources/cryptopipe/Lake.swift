import ArgumentParser
import DataLake
import Foundation
import Logging

struct Lake: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Data lake tools.", subcommands: [LakeMigrate.self])
}

struct LakeMigrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy a whole lake between a folder and S3 (either way), verifying checksums; safe to rerun.",
        discussion: """
            Copies the raw bucket (rejected objects included) and the archive bucket. An object already at the \
            destination with the same size and MD5 is skipped, so an interrupted migration is resumed by running the \
            same command again. Each copy is verified after writing. Objects that fail are listed and the command \
            exits with 1; the others are copied. The source is never changed. \
            Example: cryptopipe lake migrate --from data/lake --to s3://crypto-raw --s3-endpoint http://127.0.0.1:9000
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "The lake to copy: a folder path or s3://<raw-bucket>.")
    var from: String

    @Option(name: .long, help: "Where to copy it: a folder path or s3://<raw-bucket>.")
    var to: String

    func run() async throws {
        try await guarded {
            let configuration = try global.resolve()
            let source = try LakeLocation(parsing: from)
            let destination = try LakeLocation(parsing: to)
            guard source != destination else { throw CLIError.usage("--from and --to are the same lake (\(source.description))") }
            if case .local(let root) = source, !FileManager.default.fileExists(atPath: root) {
                throw CLIError.usage("--from folder '\(root)' does not exist")
            }
            LogSetup.bootstrapOnce(level: configuration.logLevel)
            let logger = Logger(label: "cryptopipe")
            let (sourceStore, sourceLayout) = try Backends.openLake(
                source, configuration: configuration, logger: logger, readsEveryLayout: true)
            let (destinationStore, destinationLayout) = try Backends.openLake(destination, configuration: configuration, logger: logger)
            // A folder may hold objects in both layouts (the original system's raw/ and ours): all of them are copied.
            var sourceLayouts = [sourceLayout]
            if case .local(let root) = source {
                sourceLayouts = LakeLayout.layouts(inLocalFolder: root)
                if sourceLayouts.isEmpty { sourceLayouts = [sourceLayout] }
            }
            var report = LakeMigration.Report()
            for layout in sourceLayouts {
                let part = try await LakeMigration(
                    from: sourceStore, layout: layout, to: destinationStore, layout: destinationLayout
                ).run()
                report.copied += part.copied
                report.copiedBytes += part.copiedBytes
                report.skipped += part.skipped
                report.failures += part.failures
            }
            Console.print(
                "copied \(report.copied) objects (\(report.copiedBytes) bytes) from \(source.description) to \(destination.description); "
                    + "\(report.skipped) already there and identical")
            guard report.failures.isEmpty else {
                for failure in report.failures { Console.error("\(failure.location): \(failure.reason)") }
                throw CLIError("\(report.failures.count) objects were not copied (listed above); run the command again to retry them")
            }
        }
    }
}
