import Crypto
import Foundation
public import Logging
public import MarketData
public import Warehouse
import ZIPFoundation

/// One data.binance.vision 1m k-line file to import: a daily or monthly `.zip`, or a `.csv`.
public struct DumpFile: Sendable, Hashable {
    public var path: String
    public var symbol: Symbol
    public var size: Int64

    public var fileName: String { (path as NSString).lastPathComponent }
    public var isZip: Bool { path.lowercased().hasSuffix(".zip") }
}

/// A file that cannot be imported, with the reason (and line, when a row is at fault).
public struct ImportError: Error, Hashable, CustomStringConvertible {
    public var file: String
    public var message: String

    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}

public struct ImportProgress: Sendable, Hashable {
    public var filesDone: Int
    public var filesTotal: Int
    public var bytesDone: Int64
    public var bytesTotal: Int64
    public var klines: Int
    public var elapsedSeconds: Double

    public var klinesPerSecond: Double { elapsedSeconds > 0 ? Double(klines) / elapsedSeconds : 0 }
    /// Estimated seconds left, from the bytes still to read at the rate so far.
    public var etaSeconds: Double? {
        guard bytesDone > 0, elapsedSeconds > 0 else { return nil }
        return Double(bytesTotal - bytesDone) / (Double(bytesDone) / elapsedSeconds)
    }
}

public struct ImportReport: Sendable, Hashable {
    public var filesImported = 0
    /// Files already in the ledger with the same content.
    public var filesSkipped = 0
    public var failures: [ImportError] = []
    public var klines = 0
    public var rowsWritten = 0
    public var hoursRolledUp = 0
    public var daysRolledUp = 0
    /// Stopped early on request; what was imported is complete per file.
    public var interrupted = false
    public var elapsedSeconds = 0.0
}

/// Bulk-loads data.binance.vision spot 1m k-line dumps into the warehouse: the fast path for months of history.
///
/// Each file is verified (its `.CHECKSUM` when present, the zip's CRC, every row), then loaded in one
/// transaction together with its ledger entry, so an interrupted import leaves whole files only and a re-run
/// skips them. Reading and parsing the next file overlaps with loading the current one.
public struct DumpImporter: Sendable {
    public static let ledgerBucket = "import"

    let warehouse: any CandleStore & ObjectLedger
    let clock: PipelineClock
    let logger: Logger

    public init(warehouse: any CandleStore & ObjectLedger, clock: PipelineClock = .system, logger: Logger) {
        self.warehouse = warehouse
        self.clock = clock
        self.logger = logger
    }

    // MARK: Planning

    /// Expands files and folders (recursively) into dump files, sorted by path. `symbol` names the symbol of files
    /// whose names do not carry one.
    public static func plan(paths: [String], symbol: Symbol?) throws(ImportError) -> [DumpFile] {
        let fileManager = FileManager.default
        func isDump(_ name: String) -> Bool {
            let lowered = name.lowercased()
            return lowered.hasSuffix(".zip") || lowered.hasSuffix(".csv")
        }
        var candidates: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fileManager.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ImportError(file: path, message: "no such file or folder")
            }
            if isDirectory.boolValue {
                guard let enumerator = fileManager.enumerator(atPath: path) else {
                    throw ImportError(file: path, message: "cannot list the folder")
                }
                var found: [String] = []
                while let relative = enumerator.nextObject() as? String {
                    if isDump(relative) { found.append((path as NSString).appendingPathComponent(relative)) }
                }
                candidates += found.sorted()
            } else {
                guard isDump(path) else {
                    throw ImportError(file: path, message: "not a .zip or .csv k-line dump")
                }
                candidates.append(path)
            }
        }
        var files: [DumpFile] = []
        var seen = Set<String>()
        for path in candidates where seen.insert(path).inserted {
            let fileName = (path as NSString).lastPathComponent
            let named: KlineDumpName?
            do {
                named = try KlineDumpName(fileName: fileName)
            } catch {
                throw ImportError(file: path, message: "\(error.interval) is not a Binance k-line interval")
            }
            if let named, named.interval != .oneMinute {
                throw ImportError(
                    file: path, message: "is a \(named.interval.rawValue) dump; only 1m files are imported (roll-ups are computed)")
            }
            if let named, let symbol, named.symbol != symbol {
                throw ImportError(file: path, message: "the file name says \(named.symbol) but --symbol is \(symbol)")
            }
            guard let fileSymbol = named?.symbol ?? symbol else {
                throw ImportError(
                    file: path, message: "cannot tell the symbol: name the file SYMBOL-1m-DATE.csv or pass --symbol")
            }
            // The size only drives the progress bar and its ETA; an unreadable file fails later with its own error.
            let size = (try? fileManager.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
            files.append(DumpFile(path: path, symbol: fileSymbol, size: size))
        }
        return files
    }

    // MARK: Importing

    /// Imports `files` in order. A file that fails is reported and skipped; the others go on.
    public func importFiles(
        _ files: [DumpFile],
        progress: @escaping @Sendable (ImportProgress) -> Void = { _ in },
        isCancelled: @escaping @Sendable () -> Bool = { false }
    ) async throws(PipelineError) -> ImportReport {
        let started = ContinuousClock.now
        var report = ImportReport()
        let done: Set<String>
        do {
            done = try await warehouse.processedObjectKeys(withPrefix: "\(Self.ledgerBucket)/")
        } catch {
            throw PipelineError.warehouse(error)
        }
        let bytesTotal = files.reduce(Int64(0)) { $0 + $1.size }
        var bytesDone: Int64 = 0
        func elapsed() -> Double { (ContinuousClock.now - started).seconds }
        func reportProgress(_ index: Int) {
            progress(
                ImportProgress(
                    filesDone: index, filesTotal: files.count, bytesDone: bytesDone, bytesTotal: bytesTotal, klines: report.klines,
                    elapsedSeconds: elapsed()))
        }
        reportProgress(0)
        var readAhead = ReadAhead(files: files)
        var index = 0
        while index < files.count {
            if isCancelled() {
                report.interrupted = true
                break
            }
            var group: [(file: DumpFile, dump: PreparedDump)] = []
            var rows = 0
            while index < files.count, rows < Self.rowsPerTransaction, let prepared = await readAhead.next() {
                let file = files[index]
                index += 1
                bytesDone += file.size
                switch prepared {
                case .failure(let error):
                    logger.debug("import failed", metadata: ["file": "\(file.path)", "error": "\(error.message)"])
                    report.failures.append(error)
                case .success(let dump):
                    if done.contains(ledgerKey(file, dump)) {
                        report.filesSkipped += 1
                    } else {
                        group.append((file, dump))
                        rows += dump.batch.klines.count
                    }
                }
            }
            if !group.isEmpty { await importGroup(group, rows: rows, into: &report) }
            reportProgress(index)
        }
        readAhead.cancel()
        do {
            // Hours at file edges and every touched day; interrupted imports leave their marks for the next run.
            let rollups = try await warehouse.rollUpPending()
            report.hoursRolledUp = rollups.hours
            report.daysRolledUp = rollups.days
        } catch {
            throw PipelineError.warehouse(error)
        }
        report.elapsedSeconds = elapsed()
        return report
    }

    /// One transaction: the group's candles and ledger entries, or, when it rolls back, a failure for every file in it.
    private func importGroup(_ group: [(file: DumpFile, dump: PreparedDump)], rows: Int, into report: inout ImportReport) async {
        let now = clock.now()
        let imports = group.map { item in
            KlineImport(
                batch: item.dump.batch, symbol: item.file.symbol, capturedAt: now,
                object: ProcessedObject(bucket: Self.ledgerBucket, key: ledgerKey(item.file, item.dump), processedAt: now))
        }
        do throws(WarehouseError) {
            let results = try await warehouse.importKlines(imports)
            report.filesImported += group.count
            report.klines += rows
            report.rowsWritten += results.reduce(0) { $0 + $1.rowsWritten }
        } catch {
            for item in group { report.failures.append(ImportError(file: item.file.path, message: error.description)) }
        }
    }

    /// Reads, verifies, unzips and parses files ahead of the writer, in order, on as many threads as leave the writer a
    /// core of its own (one on two cores): a parse competing with the writer for its core slows the import more than it
    /// helps. Several files go into one transaction (each with its ledger entry), which saves rewriting the B-tree's
    /// edge pages per file, so the parse runs about two transactions ahead, within ``maximumFilesAhead`` and
    /// ``maximumBytesAhead``.
    struct ReadAhead {
        let files: [DumpFile]
        let parallelism = max(1, ProcessInfo.processInfo.activeProcessorCount - 1)
        private var pending: [PreparationTask] = []
        private var pendingBytes: Int64 = 0
        private var chainTails: [PreparationTask?]
        private var nextToStart = 0
        private var nextToTake = 0

        init(files: [DumpFile]) {
            self.files = files
            chainTails = Array(repeating: nil, count: parallelism)
            fill()
        }

        /// The next file's parse, in order; `nil` after the last.
        mutating func next() async -> Result<PreparedDump, ImportError>? {
            guard !pending.isEmpty else { return nil }
            let prepared = await pending.removeFirst().value
            pendingBytes -= files[nextToTake].size
            nextToTake += 1
            fill()
            return prepared
        }

        /// Stops the parses still queued: an import stopped early has no use for them.
        func cancel() { for task in pending { task.cancel() } }

        private mutating func fill() {
            while nextToStart < files.count,
                pending.isEmpty || (pending.count < DumpImporter.maximumFilesAhead && pendingBytes < DumpImporter.maximumBytesAhead)
            {
                let file = files[nextToStart]
                // Each chain parses its files one after another.
                let previous = chainTails[nextToStart % parallelism]
                let task = PreparationTask {
                    _ = await previous?.value
                    guard !Task.isCancelled else { return .failure(ImportError(file: file.path, message: "not read: import stopped")) }
                    return DumpImporter.prepare(file)
                }
                chainTails[nextToStart % parallelism] = task
                pending.append(task)
                pendingBytes += file.size
                nextToStart += 1
            }
        }
    }

    /// Files are grouped into transactions of about this many candles (five weeks of daily files): fewer, larger
    /// commits write the B-tree's edge pages to the WAL less often.
    public static let rowsPerTransaction = 50_000
    /// How far parsing may run ahead of the writer: daily files for two transactions, and a bound on the
    /// memory that parsed files hold (a monthly file is about 2 MB zipped and 15 MB parsed).
    static let maximumFilesAhead = 80
    static let maximumBytesAhead: Int64 = 8 << 20

    /// The ledger entry: the symbol, the file name and the start of its SHA-256, so a changed file is imported again.
    func ledgerKey(_ file: DumpFile, _ dump: PreparedDump) -> String {
        "\(Self.ledgerBucket)/\(file.symbol)/\(file.fileName)#\(dump.sha256.prefix(16))"
    }

    typealias PreparationTask = Task<Result<PreparedDump, ImportError>, Never>

    struct PreparedDump: Sendable {
        var batch: KlineBatch
        var sha256: String
    }

    /// The candles of one dump file, verified against its `.CHECKSUM` when present (for the simulator's replay).
    public static func readKlines(_ file: DumpFile) throws(ImportError) -> [Kline] {
        try prepare(file).get().batch.klines
    }

    /// Reads, verifies and parses one file; every failure names what was wrong.
    static func prepare(_ file: DumpFile) -> Result<PreparedDump, ImportError> {
        func failure(_ message: String) -> Result<PreparedDump, ImportError> {
            .failure(ImportError(file: file.path, message: message))
        }
        guard let data = FileManager.default.contents(atPath: file.path) else { return failure("cannot read the file") }
        let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        let checksumPath = file.path + ".CHECKSUM"
        let hasChecksum = FileManager.default.fileExists(atPath: checksumPath)
        if hasChecksum {
            guard let sidecar = FileManager.default.contents(atPath: checksumPath),
                let expected = String(decoding: sidecar, as: UTF8.self).split(whereSeparator: \.isWhitespace).first
            else { return failure("cannot read \(checksumPath)") }
            guard expected.lowercased() == digest else {
                return failure(
                    "SHA-256 is \(digest) but \((checksumPath as NSString).lastPathComponent) says \(expected); the file is damaged, download it again"
                )
            }
        }
        var csv = data
        if file.isZip {
            do {
                csv = try unzipSingleCSV(data, verifyCRC: !hasChecksum)
            } catch {
                return failure(error.message)
            }
        }
        var klines: [Kline] = []
        klines.reserveCapacity(csv.count / 120)
        let parseError = csv.withUnsafeBytes { raw -> CSVDocumentError? in
            do throws(CSVDocumentError) {
                try KlineCSV.parseDocument(raw.bindMemory(to: UInt8.self), into: &klines, interval: .oneMinute)
                return nil
            } catch {
                return error
            }
        }
        if let parseError { return failure(parseError.description) }
        return .success(PreparedDump(batch: KlineBatch(klines), sha256: digest))
    }

    struct ZipError: Error {
        var message: String
    }

    /// The one `.csv` inside a dump zip. The zip's CRC-32 is checked while inflating unless the whole zip was
    /// already verified against its SHA-256 `.CHECKSUM` (ZIPFoundation's CRC is a third of the unzip time).
    static func unzipSingleCSV(_ data: Data, verifyCRC: Bool) throws(ZipError) -> Data {
        let archive: Archive
        do {
            archive = try Archive(data: data, accessMode: .read)
        } catch {
            throw ZipError(message: "not a readable zip archive (\(error)); download it again")
        }
        let entries = Array(archive).filter { $0.type == .file && $0.path.lowercased().hasSuffix(".csv") }
        guard entries.count == 1, let entry = entries.first else {
            throw ZipError(message: "expected one .csv inside the zip, found \(entries.count)")
        }
        var output = Data()
        output.reserveCapacity(Int(entry.uncompressedSize))
        do {
            _ = try archive.extract(entry, bufferSize: 1 << 16, skipCRC32: !verifyCRC) { chunk in output.append(chunk) }
        } catch {
            throw ZipError(message: "the zip is damaged (\(error)); download it again")
        }
        return output
    }
}
