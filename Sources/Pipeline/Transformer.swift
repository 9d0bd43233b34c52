public import DataLake
public import Logging
public import MarketData
import Synchronization
public import Warehouse

/// Loads every raw object not yet in `processed_files` into the warehouse; each object's rows and its ledger row are in
/// one transaction (with the other objects read by then, up to 64).
///
/// Listing is by day folder, a page of names at a time, starting at the last processed position: after a pass that
/// loaded everything, the day of "now − 1 h" (or of the newest capture listed − 1 h, when that is earlier) is kept in memory and in the warehouse's
/// settings (`transform.resume_from`), and later passes — of this transformer or of a new process — list only that day
/// and newer ones, so a cycle's cost follows the recent days, not the whole bucket. `rescan` lists every day folder (e.g. after copying objects into old days by hand).
///
/// Re-running is a no-op: processed objects are skipped, and even a re-load upserts the same rows.
/// An object that cannot be parsed is moved to `crypto-raw/_rejected/` with its reason recorded, and the
/// pass continues; a warehouse failure stops the pass, leaving the object for the next one.
///
/// An object the store cannot read (the failure may be transient: a flaky disk, a proxy error) does not stop the pass
/// either: it is logged, counted as ``TransformReport/unreadable``, and retried by later passes with exponential
/// backoff (``unreadableRetryDelay(afterFailures:)``); while it backs off it is skipped. Its day folder holds the scan
/// position back until it loads (or disappears), so the retry is never scanned past — also not by a new process.
public struct Transformer: Sendable {
    /// What the transformer writes: candles, books and the ledger of objects, and its scan position (a setting).
    public typealias Storage = CandleStore & ObjectBatchLoader & ObjectLedger & SettingsStore

    let lake: any ObjectStore
    let layout: LakeLayout
    let warehouse: any Transformer.Storage
    let clock: PipelineClock
    let logger: Logger
    /// Where the next pass may start; shared by copies of this transformer, loaded from the warehouse by the first pass.
    let cursor = ScanCursor()
    /// Objects the store could not read, with their backoff; shared by copies of this transformer.
    let unreadable = UnreadableObjects()
    let rescan: Bool
    /// With several workers on one warehouse: the lease every pass runs under, so no object is loaded by two processes
    /// at once (``gated(by:)``).
    var gate: (any SingletonGate)?

    /// The warehouse setting that keeps the scan position across processes.
    public static let resumeSetting = "transform.resume_from"

    /// Objects read (and parsed) from the lake ahead of the ones being loaded (64 unless told): S3 answers each GET
    /// after a round trip, so reads overlap; and the writer loads what is read by the time it is free in one
    /// transaction, so the window also bounds that batch. (64 against 16: 1.23–1.32 s instead of 1.46–1.49 s on the
    /// live workload of `cryptopipe-bench live`.)
    public let readAhead: Int
    /// Objects listed at a time (20,000 unless told): what the names of a day folder cost in memory, however many it
    /// holds (with the pending load, at most about twice this many names are held).
    public let listPageSize: Int
    /// What the listed sizes of the objects being read ahead may add up to (at least one object is always read), so a
    /// lake of large (or hostile) objects cannot make the read-ahead hold more than this.
    static let readAheadBytes = 16 << 20
    /// What the listed sizes of the objects loaded in one transaction may add up to (beyond the first). Parsed candles
    /// take up to about seven times their listed size (a hostile page of bare zeros; about twice for Binance's pages,
    /// their ``KlineBatch`` included), so the reads ahead and one batch hold at most about 250 MiB.
    static let batchBytes = 16 << 20
    /// Pages of 1m candles prepared as a ``KlineBatch`` as well: a shorter page holds no complete hour, and a longer one
    /// is no page of Binance's (its largest `limit`), so a hostile object adds no batch to what its candles hold.
    static let batchedPageSizes = 60...1_000
    /// Levels a side of a book object may have: Binance's largest `limit`. A larger book is no response of
    /// Binance's; refused, it cannot make one warehouse statement too large for the server to take.
    static let maximumBookLevels = 5_000

    public init(
        lake: any ObjectStore, layout: LakeLayout = LakeLayout(), warehouse: any Transformer.Storage, clock: PipelineClock = .system,
        rescan: Bool = false, readAhead: Int = 64, listPageSize: Int = 20_000, logger: Logger
    ) {
        self.readAhead = max(1, readAhead)
        self.listPageSize = max(1, listPageSize)
        self.rescan = rescan
        self.lake = lake
        self.layout = layout
        self.warehouse = warehouse
        self.clock = clock
        self.logger = logger
    }

    /// This transformer with every pass run under `gate`'s `transform` lease.
    public func gated(by gate: any SingletonGate) -> Transformer {
        var copy = self
        copy.gate = gate
        return copy
    }

    /// How long a pass waits for another worker's pass to end before leaving its objects to that pass or the next.
    static let gateWait = Duration.seconds(30)

    public func transformPending() async throws(PipelineError) -> TransformReport {
        guard let gate else { return try await transformPendingHere() }
        var ungated = self
        ungated.gate = nil
        let transformer = ungated
        do {
            if let report = try await gate.exclusively(
                "transform", waitingUpTo: Self.gateWait, { try await transformer.transformPendingHere() })
            {
                return report
            }
        } catch let error as PipelineError {
            throw error
        } catch let error as WarehouseError {
            throw .warehouse(error)
        } catch {
            throw .warehouse(WarehouseError(.unavailable, operation: "transform under the transform lease", detail: "\(error)"))
        }
        logger.notice("transform: another worker held the transform lease throughout; its pass or the next one loads these objects")
        return TransformReport()
    }

    func transformPendingHere() async throws(PipelineError) -> TransformReport {
        let folders = try await wrap { () throws(ObjectStoreError) in try await lake.listFolders(bucket: layout.rawBucket, prefix: "") }
        var resumeFrom = cursor.resumeFolder
        if resumeFrom == nil, !rescan {
            resumeFrom = try await wrap { () throws(WarehouseError) in try await warehouse.setting(Self.resumeSetting) }
            if let resumeFrom { cursor.advance(to: resumeFrom) }
        }
        // Only day folders hold raw objects; `_rejected/` and anything else are not scanned.
        let days = folders.filter { folder in
            CivilDate(isoString: folder.dropLast()) != nil && resumeFrom.map { folder >= $0 } ?? true
        }
        var report = TransformReport()
        var newestCapture: Int64?
        // Day by day, and a page of each day's listing at a time (``listPageSize``), so a backlog of any size holds one
        // page of names; pages and days with few objects are loaded together (up to ``objectsPerLoad``), so the
        // read-ahead and the batches run on across their boundaries.
        var waiting: (keys: [String], sizes: [String: Int]) = ([], [:])
        for (index, day) in days.enumerated() {
            var walk = FolderWalk(bucket: layout.rawBucket, prefix: day, pageSize: listPageSize)
            while let page = try await wrap({ () throws(ObjectStoreError) in try await walk.next(in: lake) }) {
                // Each name parsed once: for the capture order and for the newest capture (over every listed day, so an
                // emptied newest folder, everything in it rejected or moved, holds nothing back).
                let named = page.objects.map { (key: $0.key, capturedAt: LakeLayout.parse(key: $0.key)?.capturedAt) }
                newestCapture = (named.compactMap(\.capturedAt) + [newestCapture].compactMap { $0 }).max()
                let processed = try await wrap { () throws(WarehouseError) in
                    try await warehouse.processedObjectKeys(among: page.objects.map(\.key))
                }
                // Capture order within the page; names that do not parse sort first and are rejected when loaded.
                let pending = named.filter { !processed.contains($0.key) }
                    .map { (capturedAt: $0.capturedAt ?? 0, key: $0.key) }
                    .sorted { ($0.capturedAt, $0.key) < ($1.capturedAt, $1.key) }
                    .map(\.key)
                // Unreadable objects of the page's range that were loaded meanwhile (by a concurrent transformer), moved
                // or deleted no longer hold their day back.
                unreadable.forget(inDay: day, after: walk.pageStart, through: page.resumeAfter, except: Set(pending))
                let now = clock.now()
                let due = pending.filter { unreadable.isDue($0, at: now) }
                report.deferred += pending.count - due.count
                waiting.keys += due
                let dueKeys = Set(due)
                for object in page.objects where dueKeys.contains(object.key) { waiting.sizes[object.key] = object.size }
                if waiting.keys.count >= Self.objectsPerLoad || (index == days.count - 1 && walk.isFinished) {
                    try await load(waiting.keys, sizes: waiting.sizes, into: &report)
                    waiting = ([], [:])
                }
            }
        }
        // Hours and days whose minutes changed are recomputed now, so roll-ups never lag the facts.
        let rollups = try await wrap { () throws(WarehouseError) in try await warehouse.rollUpPending() }
        report.hoursRolledUp = rollups.hours
        report.daysRolledUp = rollups.days
        for failure in rollups.failures {
            logger.error("roll-up left pending", metadata: ["reason": "\(failure)"])
        }
        // Extraction writes into the folder of the capture day, so once a pass has loaded everything,
        // older days stay done; an hour of slack covers writes that straddle midnight, and a day more the original
        // system's writers, which name folders by their local date (up to a day before the capture's UTC date).
        // A day still holding an unreadable object is kept, or its retry would never be listed again.
        // Objects are named by the exchange's clock, which need not be ours (a collector rehearsing on a replay years
        // in the past): the hour of slack is taken before the newest capture listed as well as before our "now", so
        // neither a clock running ahead of the names nor an object named in the far future moves the position past
        // days still being written. Without any object nothing advances.
        let caughtUp = newestCapture.map { newest in
            CivilDate(epochMilliseconds: min(clock.now(), newest) - 3_600_000 - 86_400_000).isoString + "/"
        }
        let next = caughtUp.map { caughtUp in unreadable.earliestDay.map { min($0, caughtUp) } ?? caughtUp }
        if let next, cursor.advance(to: next) {
            try await wrap { () throws(WarehouseError) in try await warehouse.saveSetting(Self.resumeSetting, value: next, at: clock.now())
            }
        }
        if report.objects > 0 || report.rejected > 0 || report.unreadable > 0 {
            logger.info(
                "transformed",
                metadata: [
                    "objects": "\(report.objects)", "rows.written": "\(report.rowsWritten)", "rows.unchanged": "\(report.rowsUnchanged)",
                    "rejected": "\(report.rejected)", "unreadable": "\(report.unreadable)", "deferred": "\(report.deferred)",
                    "captures_far_from_name": "\(report.capturesFarFromName)",
                ])
        }
        return report
    }

    /// Objects loaded in one warehouse transaction at most.
    static let objectsPerTransaction = 64
    /// Objects of consecutive pages and day folders loaded in one pipelined load.
    static let objectsPerLoad = 20_000

    /// Loads objects in order. Up to ``readAhead`` objects are read and parsed ahead (within ``readAheadBytes`` of
    /// listed size), each by a task of its own: reads overlap their round trips, and parsing and the warehouse write use
    /// both cores instead of taking turns. The objects already read when the writer is free are loaded together, in one
    /// transaction (up to ``objectsPerTransaction``): a live lake's objects are small, and a transaction each cost more
    /// than their rows.
    func load(_ keys: [String], sizes: [String: Int] = [:], into report: inout TransformReport) async throws(PipelineError) {
        let lake = self.lake
        let bucket = layout.rawBucket
        var reads = ReadAhead(keys: keys, sizes: sizes, depth: readAhead, byteBudget: Self.readAheadBytes) { key in
            Self.prepared(await Self.fetch(key, from: lake, bucket: bucket))
        }
        defer { reads.cancel() }
        var batch: [PreparedObject] = []
        batch.reserveCapacity(Self.objectsPerTransaction)
        while let read = reads.next() {
            batch.append(await read.value)
            var bytes = 0
            while batch.count < Self.objectsPerTransaction, let ready = reads.nextIfFinished(fitting: Self.batchBytes - bytes) {
                bytes += ready.bytes
                batch.append(await ready.read.value)
            }
            try await apply(batch, into: &report)
            batch.removeAll(keepingCapacity: true)
        }
    }

    /// An object's bytes as read from the lake, or why there are none.
    enum FetchedObject: Sendable {
        case bytes(key: String, [UInt8])
        case vanished(key: String)
        case unreadable(key: String, ObjectStoreError)
    }

    /// Reads (and parses) in list order, keeping up to `depth` reads in flight while the listed sizes of those not yet
    /// taken stay within `byteBudget` (one is always in flight). Reads run as tasks of their own; ``cancel()`` stops those
    /// not taken when the load ends early.
    struct ReadAhead {
        let keys: [String]
        let sizes: [String: Int]
        let depth: Int
        let byteBudget: Int
        let fetch: @Sendable (String) async -> PreparedObject
        /// Reads started and not yet taken, with their listed sizes and whether they have finished.
        private var inFlight: [(read: Task<PreparedObject, Never>, bytes: Int, finished: FinishFlag)] = []
        /// Listed bytes of the reads started and not yet taken: at most `byteBudget`, or one object's size.
        private(set) var bytesInFlight = 0
        /// Reads started so far.
        private(set) var started = 0
        /// Reads started and not yet taken.
        var waiting: Int { inFlight.count }

        init(
            keys: [String], sizes: [String: Int], depth: Int, byteBudget: Int, fetch: @escaping @Sendable (String) async -> PreparedObject
        ) {
            self.keys = keys
            self.sizes = sizes
            self.depth = max(1, depth)
            self.byteBudget = byteBudget
            self.fetch = fetch
        }

        /// The read of the next object in order, `nil` after the last; tops the window up first and after.
        mutating func next() -> Task<PreparedObject, Never>? {
            fill()
            guard !inFlight.isEmpty else { return nil }
            return take()
        }

        /// The read of the next object and its listed size, if it has finished and that size is at most `bytes`; else
        /// `nil` (without waiting).
        mutating func nextIfFinished(fitting bytes: Int) -> (read: Task<PreparedObject, Never>, bytes: Int)? {
            fill()
            guard let first = inFlight.first, first.finished.isSet, first.bytes <= bytes else { return nil }
            let size = first.bytes
            return (take(), size)
        }

        private mutating func take() -> Task<PreparedObject, Never> {
            let taken = inFlight.removeFirst()
            bytesInFlight -= taken.bytes
            fill()
            return taken.read
        }

        func cancel() { for entry in inFlight { entry.read.cancel() } }

        private func size(of key: String) -> Int { max(0, sizes[key] ?? 0) }

        private mutating func fill() {
            // Sizes come from the lake's listing: compared against what is left of the budget, never summed past it, so
            // a hostile listing cannot overflow the count.
            while started < keys.count, inFlight.count < depth,
                inFlight.isEmpty || size(of: keys[started]) <= byteBudget - bytesInFlight
            {
                let key = keys[started]
                let bytes = size(of: key)
                let fetch = self.fetch
                let finished = FinishFlag()
                let read = Task {
                    let value = await fetch(key)
                    finished.set()
                    return value
                }
                inFlight.append((read, bytes, finished))
                bytesInFlight += bytes
                started += 1
            }
        }
    }

    /// Set by a read when it has its result, so the writer can take finished reads without waiting for more.
    final class FinishFlag: Sendable {
        private let state = Mutex(false)
        var isSet: Bool { state.withLock { $0 } }
        func set() { state.withLock { $0 = true } }
    }

    static func fetch(_ key: String, from lake: any ObjectStore, bucket: String) async -> FetchedObject {
        do {
            return .bytes(key: key, try await lake.get(bucket: bucket, key: key))
        } catch  where error.code == .notFound {
            // Moved or deleted since the listing (e.g. by a concurrent transform): nothing to do.
            return .vanished(key: key)
        } catch {
            return .unreadable(key: key, error)
        }
    }

    /// The parse half of loading an object, free of side effects so it can run ahead of the writer.
    static func prepared(_ fetched: FetchedObject) -> PreparedObject {
        switch fetched {
        case .vanished(let key): return .vanished(key: key)
        case .unreadable(let key, let error): return .unreadable(key: key, error)
        case .bytes(let key, let bytes):
            do {
                return .parsed(key: key, try parse(key: key, bytes: bytes))
            } catch {
                return .malformed(key: key, reason: error.description)
            }
        }
    }

    /// An object read and parsed (or why it could not be), ready to load.
    enum PreparedObject: Sendable {
        case parsed(key: String, ParsedObject)
        case malformed(key: String, reason: String)
        case vanished(key: String)
        case unreadable(key: String, ObjectStoreError)
    }

    /// Loads prepared objects, those that parsed in one transaction; parse failures reject an object, an unreadable
    /// object is set aside for a later pass, and warehouse failures (and lake failures while rejecting) propagate.
    func apply(_ batch: [PreparedObject], into report: inout TransformReport) async throws(PipelineError) {
        // The same capture of a book may be named in two neighbouring day folders; loading both would merge two books
        // into one snapshot. Whether a twin is loaded is asked once for the batch.
        let twins = Dictionary(
            batch.compactMap { prepared -> (String, [String])? in
                guard case .parsed(let key, let object) = prepared, case .depth = object.content else { return nil }
                let envelope = object.envelope
                return (
                    key,
                    LakeLayout.objectKeys(symbol: envelope.symbol, type: envelope.type, capturedAt: envelope.capturedAt).filter {
                        $0 != key
                    }
                )
            }, uniquingKeysWith: { first, _ in first })
        let twinKeys = twins.values.flatMap { $0 }
        var loadedTwins =
            twinKeys.isEmpty ? [] : try await wrap { () throws(WarehouseError) in try await warehouse.processedObjectKeys(among: twinKeys) }
        var loads: [ObjectLoad] = []
        for prepared in batch {
            // The objects before one that is rejected are loaded first: a rejection the lake refuses (a move that
            // fails) stops the pass, and must not hold them back.
            if case .malformed = prepared { try await loadAndCount(&loads, into: &report) }
            if case .parsed(let key, _) = prepared, twins[key]?.contains(where: { loadedTwins.contains($0) }) == true {
                try await loadAndCount(&loads, into: &report)
            }
            switch prepared {
            case .vanished(let key):
                unreadable.forget(key)
            case .unreadable(let key, let error):
                // A read that failed because the pass is being cancelled says nothing about the object.
                if Task.isCancelled { throw .lake(error) }
                let retry = unreadable.recordFailure(key, error: error, at: clock.now())
                logger.warning(
                    "cannot read raw object; retrying later",
                    metadata: [
                        "lake.object": "\(key)", "error": "\(error)", "failures": "\(retry.failures)",
                        "retry.at": "\(UTCTime.iso8601(retry.nextAttempt))",
                    ])
                report.unreadable += 1
            case .malformed(let key, let reason):
                try await reject(key, reason: reason)
                unreadable.forget(key)
                report.rejected += 1
            case .parsed(let key, let object):
                if let twin = twins[key]?.first(where: { loadedTwins.contains($0) }) {
                    try await reject(
                        key, reason: "the order book captured at \(object.envelope.capturedAt) is already loaded from \(twin)")
                    unreadable.forget(key)
                    report.rejected += 1
                    continue
                }
                loads.append(objectLoad(key, object, report: &report))
                // A twin later in this batch finds this one as if it were loaded already.
                if twins[key] != nil { loadedTwins.insert(key) }
            }
        }
        try await loadAndCount(&loads, into: &report)
    }

    private func loadAndCount(_ loads: inout [ObjectLoad], into report: inout TransformReport) async throws(PipelineError) {
        for (load, result) in try await load(loads) {
            unreadable.forget(load.object.key)
            report.objects += 1
            report.rowsWritten += result.rowsWritten
            report.rowsUnchanged += result.rowsUnchanged
        }
        loads.removeAll()
    }

    /// Loads in one transaction; when that fails, one object per transaction, so the objects before a failing one are
    /// kept and the failure names its object.
    private func load(_ loads: [ObjectLoad]) async throws(PipelineError) -> [(ObjectLoad, LoadResult)] {
        guard !loads.isEmpty else { return [] }
        do {
            return Array(zip(loads, try await warehouse.loadObjects(loads)))
        } catch {
            if loads.count == 1 || Task.isCancelled { throw .warehouse(error) }
        }
        var loaded: [(ObjectLoad, LoadResult)] = []
        for load in loads {
            let result = try await wrap { () throws(WarehouseError) in try await warehouse.loadObjects([load]) }
            loaded.append(contentsOf: zip([load], result))
        }
        return loaded
    }

    /// What to store for a parsed object, with its ledger entry.
    private func objectLoad(_ key: String, _ parsed: ParsedObject, report: inout TransformReport) -> ObjectLoad {
        let object = ProcessedObject(bucket: layout.rawBucket, key: key, processedAt: clock.now())
        let envelope = parsed.envelope
        if let disagreement = parsed.captureDisagreement {
            // Once per pass: a writer whose clock is a day off would otherwise log every object.
            if report.capturesFarFromName == 0 {
                logger.warning(
                    "raw object's captured_at is more than a day from the time in its name; the name's is used",
                    metadata: [
                        "lake.object": "\(key)", "captured_at_ms": "\(parsed.declaredCapturedAt)", "difference_ms": "\(disagreement)",
                        "note": "further objects of this pass like it are counted in its 'transformed' line",
                    ])
            }
            report.capturesFarFromName += 1
        }
        switch parsed.content {
        case .klines(let klines, let batch):
            // An object another system wrote (its envelope's time is not its name's) was named by a clock that need
            // not be the exchange's: its newest candle is never taken as final on that clock's word.
            var capturedAt = envelope.capturedAt
            if parsed.declaredCapturedAt != envelope.capturedAt, let last = klines.last {
                let (margin, overflow) = last.closeTime.addingReportingOverflow(Kline.finalityMarginMilliseconds)
                if !overflow { capturedAt = min(capturedAt, margin) }
            }
            return .klines(
                klines, batch: batch, symbol: envelope.symbol, interval: envelope.interval ?? .oneMinute, capturedAt: capturedAt,
                object: object)
        case .depth(let book):
            return .orderBook(book, symbol: envelope.symbol, capturedAt: envelope.capturedAt, object: object)
        }
    }

    /// A raw object read and checked against its name.
    struct ParsedObject: Sendable {
        enum Content: Sendable {
            /// With a batch when the page is ascending 1m candles (``batchedPageSizes`` of them): prepared here, in the
            /// read's own task, so the writer neither formats decimal text nor rolls up hours for a page that lands in
            /// an empty range (a backfill's, a first page).
            case klines([Kline], batch: KlineBatch?)
            case depth(OrderBookSnapshot)
        }

        /// The envelope, its capture time the name's: the name is what orders and identifies an object.
        var envelope: RawEnvelope
        /// The `captured_at` the envelope itself declares, kept for the warning when it is far from the name's.
        var declaredCapturedAt: Int64
        var content: Content

        /// Further apart than this, the envelope's `captured_at` is worth a warning; closer, it is the usual skew of
        /// the original system, which read the clock twice (the name's epoch ms, then a local-time `captured_at`).
        static let tolerableDisagreement: Int64 = 86_400_000

        /// How far the envelope's own capture time is from the name's, when that is more than a day.
        var captureDisagreement: Int64? {
            let (difference, overflow) = declaredCapturedAt.subtractingReportingOverflow(envelope.capturedAt)
            guard overflow || difference.magnitude > UInt64(Self.tolerableDisagreement) else { return nil }
            return overflow ? .max : difference
        }
    }

    static func parse(key: String, bytes: [UInt8]) throws(TransformError) -> ParsedObject {
        guard let name = LakeLayout.parse(key: key) else {
            throw TransformError("object name does not follow {YYYY-MM-DD}/{SYMBOL}_{klines|depth}_{epochms}.json")
        }
        let outcome: Result<ParsedObject, TransformError> = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(TransformError) in
                let envelope: RawEnvelope
                do {
                    envelope = try RawEnvelope.decode(buffer)
                } catch {
                    throw TransformError("\(error)")
                }
                // Symbol and type must agree with the name; the capture time is the name's (the envelope's may be
                // another clock's, as the original system wrote it).
                guard envelope.symbol == name.symbol, envelope.type == name.type else {
                    throw TransformError(
                        "envelope (\(envelope.symbol), \(envelope.type.rawValue)) does not match the object name (\(name.symbol), \(name.type.rawValue))"
                    )
                }
                var named = envelope
                named.capturedAt = name.capturedAt
                var scanner = JSONScanner(
                    UnsafeBufferPointer(rebasing: buffer[..<envelope.dataRange.upperBound]), position: envelope.dataRange.lowerBound)
                let content: ParsedObject.Content
                do {
                    switch envelope.type {
                    case .klines:
                        let klines = try BinanceCodec.decodeKlines(&scanner)
                        let batched =
                            batchedPageSizes.contains(klines.count) && (envelope.interval ?? .oneMinute) == .oneMinute
                            && zip(klines, klines.dropFirst()).allSatisfy { $0.openTime < $1.openTime }
                        content = .klines(klines, batch: batched ? KlineBatch(klines) : nil)
                    case .depth: content = .depth(try BinanceCodec.decodeDepth(&scanner))
                    }
                    try scanner.expectEnd()
                } catch {
                    throw TransformError("data: \(error)")
                }
                if case .depth(let book) = content, max(book.bids.count, book.asks.count) > maximumBookLevels {
                    throw TransformError(
                        "data: an order book of \(book.bids.count) bids and \(book.asks.count) asks; Binance sends at most \(maximumBookLevels) a side"
                    )
                }
                return ParsedObject(envelope: named, declaredCapturedAt: envelope.capturedAt, content: content)
            }
        }
        return try outcome.get()
    }

    private func reject(_ key: String, reason: String) async throws(PipelineError) {
        let destination = LakeLayout.rejectedPrefix + key
        logger.warning("rejected raw object", metadata: ["lake.object": "\(key)", "reason": "\(reason)"])
        try await wrap { () throws(ObjectStoreError) in
            try await lake.put(bucket: layout.rawBucket, key: destination + ".reason.txt", bytes: Array((reason + "\n").utf8))
            try await lake.move(
                from: ObjectLocation(bucket: layout.rawBucket, key: key), to: ObjectLocation(bucket: layout.rawBucket, key: destination))
        }
        try await wrap { () throws(WarehouseError) in
            try await warehouse.recordRejected(
                objectKey: key, movedTo: "\(layout.rawBucket)/\(destination)", reason: reason, at: clock.now())
        }
    }
}

public struct TransformReport: Sendable, Hashable {
    public var objects = 0
    public var rowsWritten = 0
    public var rowsUnchanged = 0
    public var rejected = 0
    /// Objects the store could not read in this pass; each is retried by a later pass after a backoff.
    public var unreadable = 0
    /// Objects skipped because they are backing off after failed reads.
    public var deferred = 0
    /// Objects whose envelope's `captured_at` is more than a day from the time in their name (loaded by the name's).
    public var capturesFarFromName = 0
    /// Hourly and daily candles recomputed after the load.
    public var hoursRolledUp = 0
    public var daysRolledUp = 0
    public init() {}
}

public struct TransformError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The first day folder the next pass needs to scan; only moves forward.
final class ScanCursor: Sendable {
    private let folder = Mutex<String?>(nil)

    var resumeFolder: String? { folder.withLock { $0 } }

    /// Moves the position forward; `true` when it moved.
    @discardableResult
    func advance(to day: String) -> Bool {
        folder.withLock { current in
            guard current.map({ day > $0 }) ?? true else { return false }
            current = day
            return true
        }
    }
}

/// Objects the store could not read: per key, the failures so far and the earliest time of the next attempt.
final class UnreadableObjects: Sendable {
    struct Entry: Sendable, Hashable {
        var failures: Int
        var nextAttempt: Int64
        var error: ObjectStoreError
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// Records a failed read and returns the key's backoff.
    func recordFailure(_ key: String, error: ObjectStoreError, at now: Int64) -> Entry {
        entries.withLock { entries in
            let failures = (entries[key]?.failures ?? 0) + 1
            let (next, overflow) = now.addingReportingOverflow(Transformer.unreadableRetryDelay(afterFailures: failures))
            let entry = Entry(failures: failures, nextAttempt: overflow ? .max : next, error: error)
            entries[key] = entry
            return entry
        }
    }

    /// Whether `key` may be read now: never failed, or its backoff has passed.
    func isDue(_ key: String, at now: Int64) -> Bool {
        entries.withLock { $0[key].map { now >= $0.nextAttempt } ?? true }
    }

    func forget(_ key: String) { _ = entries.withLock { $0.removeValue(forKey: key) } }

    /// Drops the keys of `day` in the listed range — after `after` (from the start without it), through `through`
    /// (to the end without it) — that are no longer pending there.
    func forget(inDay day: String, after: String?, through: String?, except pending: Set<String>) {
        entries.withLock { entries in
            entries = entries.filter { key, _ in
                let listed =
                    Self.day(of: key) == day && ObjectPage.sorts(key, after: after)
                    && through.map { !ObjectPage.sorts(key, after: $0) } ?? true
                return pending.contains(key) || !listed
            }
        }
    }

    /// The first day folder holding an unreadable object.
    var earliestDay: String? { entries.withLock { $0.keys.map(Self.day(of:)).min() } }

    /// `2026-01-03/` of `2026-01-03/BTCUSDT_klines_….json`. Split at the byte, as listings compare keys: a name
    /// starting with a combining mark makes `"/\u{301}"` one `Character`, which `firstIndex(of: "/")` does not find.
    static func day(of key: String) -> String {
        guard let slash = key.utf8.firstIndex(of: UInt8(ascii: "/")) else { return key }
        return String(decoding: key.utf8[...slash], as: UTF8.self)
    }
}

extension Transformer {
    /// First wait before reading an unreadable object again; it doubles with each failure.
    public static let unreadableRetryBase: Int64 = 30_000
    /// Longest wait: an object that stays unreadable is still tried hourly, in case the fault was fixed.
    public static let unreadableRetryCap: Int64 = 3_600_000

    /// Milliseconds to wait after the `failures`-th failed read: 30 s, 1 min, 2 min, … up to 1 h.
    public static func unreadableRetryDelay(afterFailures failures: Int) -> Int64 {
        // 30 s × 2⁷ is past the cap already, so larger shifts (which would overflow) are never taken.
        guard failures > 0 else { return 0 }
        guard failures <= 7 else { return unreadableRetryCap }
        return min(unreadableRetryBase << (failures - 1), unreadableRetryCap)
    }
}
