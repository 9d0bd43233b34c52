import CoreMetrics
public import Logging
public import MarketData
public import Pipeline
public import ServiceLifecycle
public import Warehouse

/// Collects k-lines and order books from Binance's WebSocket streams (`run --source stream`) and writes them to the
/// lake in the objects REST extraction writes, so everything downstream stays as it is.
///
/// - Final candles (`x` = true) are held per symbol and written at each flush boundary (minute-aligned, plus a grace
///   for late finals) as one k-lines object per symbol; then the transform runs. A symbol missing a minute (a
///   disconnect, a final event that never came, its first flush) is repaired over REST first, from where its
///   extraction stands, so the lake never holds a hole the exchange does not have.
/// - Each symbol keeps a ``LocalOrderBook`` from `@depth@100ms` and a REST snapshot; its top levels are written every
///   depth interval with the book's last update id.
/// - Symbols are spread over as few connections as the 1,024-stream limit allows; connections are replaced before
///   their 24 h end (the new one open before the old one closes), reconnected with jittered backoff within 300 new
///   connections per 5 minutes, and dropped when a symbol stays silent for the stall timeout.
public actor StreamCollector: Service {
    public struct Configuration: Sendable {
        /// `wss://data-stream.binance.vision`, or a simulator's `ws://` address.
        public var streamURL: String
        /// Seconds between flushes: 60 writes each minute as it closes; a multiple of 60 batches minutes per object.
        public var flushIntervalSeconds: Int
        /// Seconds between order-book snapshots written to the lake.
        public var depthIntervalSeconds: Int
        /// Levels a side of each written snapshot.
        public var depthLimit: Int
        /// How long after a flush boundary final events may still arrive.
        public var graceMilliseconds: Int64 = 3_000
        /// A symbol silent this long (k-line events come every 2 s) has its connection replaced.
        public var stallMilliseconds: Int64 = 10_000
        /// A connection is replaced this long after it opened, ahead of Binance closing it at 24 h.
        public var rotateAfterMilliseconds: Int64 = 86_400_000 - 600_000
        public var maximumStreamsPerConnection = 1_024
        /// Stops after this many flushes (`run --cycles`); `nil` runs until shutdown.
        public var stopAfterFlushes: Int?
        /// The worker whose flushes these are, in the ingestion log (`job_runs.worker`).
        public var workerID = ""
        /// The local IP address stream connections are made from (`--source-address`; Binance limits new connections
        /// per IP); `nil` lets the system choose.
        public var sourceAddress: String?

        public init(streamURL: String, flushIntervalSeconds: Int = 60, depthIntervalSeconds: Int = 60, depthLimit: Int = 100) {
            self.streamURL = streamURL
            self.flushIntervalSeconds = max(60, flushIntervalSeconds / 60 * 60)
            self.depthIntervalSeconds = max(1, depthIntervalSeconds)
            self.depthLimit = max(1, depthLimit)
        }

        /// Levels asked of each REST snapshot: enough beyond the written depth that the book stays exact as prices
        /// move (``LocalOrderBook/covers(_:)``).
        /// Five times the written depth (at least 100, the cheapest weight): 500 levels (weight 25) for the default 100.
        public var snapshotLimit: Int { min(5_000, max(100, depthLimit * 5)) }
    }

    /// What one flush did, for the `cycle` line `run` prints.
    public struct FlushReport: Sendable {
        public var number: Int
        /// The open time of the last minute flushed.
        public var lastMinute: Int64
        public var symbols: Int
        public var candles = 0
        public var objects = 0
        /// Order books written with the flush (the first one only).
        public var books = 0
        public var repairs = 0
        public var failures: [String] = []
        public var transform: TransformReport?
        public var transformError: String?
    }

    public let configuration: Configuration
    let extractor: Extractor
    let transformer: Transformer
    /// The symbols to stream: every tracked one, or this worker's share.
    let registry: any SymbolSource
    /// Where each flush is logged as a run of `extract-transform` (trigger `stream`), for the Pipeline page and the
    /// dashboard's freshness.
    let runLog: (any JobRunStore)?
    /// Where ``StreamStatus`` is saved for `status`, the API and the pages.
    let statusStore: (any SettingsStore)?
    /// Where k-line events go as they arrive, for the pages' live candles.
    let live: LiveCandles?
    let clock: PipelineClock
    let logger: Logger
    let onFlush: @Sendable (FlushReport) async -> Void

    var streams: [Symbol: SymbolStream] = [:]
    var slots: [Slot] = []
    var nextConnectionID = 0
    /// Marker ids are far from the connections' own request ids, which count from 1.
    var nextMarkerID: Int64 = 1 << 40
    /// Open times of connections in the last 5 minutes, for Binance's 300-per-5-minutes limit.
    var recentConnections: [Int64] = []
    var flushes = 0
    var lags = LagWindow()
    var malformedMessages = 0
    /// The last saved status without the fields that change with every event, and when it was saved.
    var savedStatus: (shape: StreamStatus, at: Int64)?
    /// When other collectors' stale states were last looked for (hourly).
    var staleStatesCheckedAt: Int64?
    /// After a 429 or 418 no snapshot is asked for until its `Retry-After` has passed.
    var snapshotsPausedUntil: Int64 = .min
    var rebuildCounter = Counter(label: "cryptopipe_stream_book_rebuilds_total")
    var repairCounter = Counter(label: "cryptopipe_stream_repairs_total")
    var eventCounter = Counter(label: "cryptopipe_stream_events_total")
    var lagRecorder = Recorder(label: "cryptopipe_stream_lag_seconds")
    var connectionsGauge = Gauge(label: "cryptopipe_stream_connections")
    var connectedGauge = Gauge(label: "cryptopipe_stream_symbols_connected")
    var syncedGauge = Gauge(label: "cryptopipe_stream_books_synced")

    struct Slot {
        var symbols: [Symbol] = []
        var current: Connection?
        var rotating: Connection?
        var failures = 0
        var reconnectAt: Int64 = .min
    }

    struct Connection {
        let id: Int
        let task: Task<Void, Never>
        let commands: AsyncStream<StreamConnection.Command>.Continuation
        let openedAt: Int64
        var firstEventAt: Int64?
        /// Symbols it delivered k-line events for (a replacement takes over once it has them all).
        var seen: Set<Symbol> = []
        /// The exchange's time on its first event and on its newest: a replacement takes over once the old connection
        /// has delivered an event as new as the replacement's first, so nothing the old one still had to deliver is
        /// lost (each connection delivers in the exchange's time order).
        var firstEventTime: Int64?
        var newestEventTime: Int64?
        /// The id of the marker asked of this connection once its replacement was ready (see ``StreamConnection/Command``).
        var markerID: Int64?
    }

    public init(
        configuration: Configuration, extractor: Extractor, transformer: Transformer, symbols: any SymbolSource,
        runLog: (any JobRunStore)? = nil, statusStore: (any SettingsStore)? = nil, live: LiveCandles? = nil, clock: PipelineClock = .system,
        logger: Logger,
        onFlush: @escaping @Sendable (FlushReport) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.extractor = extractor
        self.transformer = transformer
        self.registry = symbols
        self.runLog = runLog
        self.statusStore = statusStore
        self.live = live
        self.clock = clock
        self.logger = logger
        self.onFlush = onFlush
    }

    public func run() async throws {
        defer {
            closeConnections()
            live?.finish()
        }
        try await cancelWhenGracefulShutdown {
            try await self.collect()
        }
    }

    /// Closes every connection at the end of the run; forgotten first, so their ends are not taken for disconnects.
    private func closeConnections() {
        let open = slots
        slots = []
        for slot in open {
            slot.current?.task.cancel()
            slot.rotating?.task.cancel()
        }
    }

    private func collect() async throws {
        try await refreshSymbols()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.flushLoop() }
            group.addTask { try await self.depthLoop() }
            group.addTask { try await self.watchLoop() }
            // The flush loop ends after `stopAfterFlushes`; the others run until cancelled.
            try await group.next()
            group.cancelAll()
        }
    }

    // MARK: Symbols and connections

    /// Follows the tracked symbols (Settings may add or remove them): new ones join a connection with room, removed
    /// ones are unsubscribed.
    func refreshSymbols() async throws {
        let tracked = try await registry.symbols()
        let known = Set(streams.keys)
        let wanted = Set(tracked)
        for symbol in known.subtracting(wanted).sorted() {
            streams[symbol] = nil
            for index in slots.indices {
                guard let position = slots[index].symbols.firstIndex(of: symbol) else { continue }
                slots[index].symbols.remove(at: position)
                for connection in [slots[index].current, slots[index].rotating].compactMap({ $0 }) {
                    connection.commands.yield(.unsubscribe([.kline(symbol), .depth(symbol)]))
                }
            }
            logger.info("stream: symbol removed", metadata: ["symbol": "\(symbol)"])
        }
        let perConnection = max(1, configuration.maximumStreamsPerConnection / 2)
        for symbol in tracked where !known.contains(symbol) {
            var stream = SymbolStream(symbol: symbol)
            stream.written = try await extractor.lastExtractedOpenTime(symbol)
            streams[symbol] = stream
            if let index = slots.firstIndex(where: { $0.symbols.count < perConnection }) {
                slots[index].symbols.append(symbol)
                for connection in [slots[index].current, slots[index].rotating].compactMap({ $0 }) {
                    connection.commands.yield(.subscribe([.kline(symbol), .depth(symbol)]))
                }
            } else {
                slots.append(Slot(symbols: [symbol]))
            }
        }
        // A slot left with no symbols closes its connections.
        for index in slots.indices.reversed() where slots[index].symbols.isEmpty {
            slots[index].current?.task.cancel()
            slots[index].rotating?.task.cancel()
            slots.remove(at: index)
        }
    }

    private func open(slot index: Int, now: Int64) -> Connection? {
        recentConnections.removeAll { $0 <= now - 300_000 }
        // Binance allows 300 new connections per 5 minutes per IP; a margin is left for other processes.
        guard recentConnections.count < 280 else { return nil }
        recentConnections.append(now)
        nextConnectionID += 1
        let id = nextConnectionID
        let (commands, continuation) = AsyncStream<StreamConnection.Command>.makeStream()
        let names = slots[index].symbols.flatMap { [StreamName.kline($0), .depth($0)] }
        let connection = StreamConnection(
            id: id, baseURL: configuration.streamURL, sourceAddress: configuration.sourceAddress, streams: names, commands: commands,
            clock: clock, logger: logger)
        let task = Task {
            var failure: (any Error)?
            do {
                try await connection.run(
                    deliver: { message in await self.receive(message, connection: id) },
                    malformed: { error in await self.malformed(error, connection: id) })
            } catch {
                failure = error
            }
            self.ended(connection: id, error: failure)
        }
        logger.debug("stream: connecting", metadata: ["connection": "\(id)", "streams": "\(names.count)"])
        return Connection(id: id, task: task, commands: continuation, openedAt: now)
    }

    /// Every second: opens missing connections, replaces stalled ones and rotates old ones.
    private func watchLoop() async throws {
        var refreshed = clock.now()
        while true {
            try await clock.sleep(for: .seconds(1))
            let now = clock.now()
            if now - refreshed >= 5_000 {
                refreshed = now
                await publishStatus(force: false)
                do {
                    try await refreshSymbols()
                } catch {
                    logger.warning("stream: reading the tracked symbols failed", metadata: ["error": "\(error)"])
                }
            }
            for index in slots.indices {
                watch(slot: index, now: now)
            }
        }
    }

    private func watch(slot index: Int, now: Int64) {
        guard let current = slots[index].current else {
            if now >= slots[index].reconnectAt, let connection = open(slot: index, now: now) { slots[index].current = connection }
            return
        }
        // A connection that never delivered (a handshake that hangs, a server that says nothing) or on which a symbol
        // went silent is dropped at once and replaced, without waiting for its task to notice the cancellation.
        let stall = configuration.stallMilliseconds
        if current.firstEventAt == nil, now - current.openedAt >= max(stall, 30_000) {
            detach(slot: index, now: now, reason: "no event since it opened \(now - current.openedAt) ms ago")
            return
        }
        if let first = current.firstEventAt, now - first >= stall, let silent = silentSymbol(in: index, since: first, now: now) {
            detach(slot: index, now: now, reason: "no event for \(silent) in \(stall) ms")
            return
        }
        // Backoff starts over only once a connection has stayed up for a minute.
        if let first = current.firstEventAt, now - first >= 60_000 { slots[index].failures = 0 }
        if let rotating = slots[index].rotating {
            if current.markerID == nil, replacementCanTakeOver(slot: index) {
                // Ready: the old connection is asked for a marker, and the replacement takes over when its reply comes,
                // after every event the old one still had in flight (they may continue what the replacement holds).
                nextMarkerID += 1
                slots[index].current?.markerID = nextMarkerID
                current.commands.yield(.marker(nextMarkerID))
            } else if now - rotating.openedAt > max(stall, 30_000) {
                if rotating.firstEventAt != nil {
                    // Delivering, though not yet for every symbol (a symbol with no trades sends events too, so this
                    // is rare): it takes over anyway.
                    promote(slot: index, now: now)
                } else {
                    // A replacement that delivers nothing in the time a new connection is given is dropped; the next
                    // check opens another.
                    abandonRotation(slot: index)
                }
            }
        } else if now - current.openedAt >= configuration.rotateAfterMilliseconds, let connection = open(slot: index, now: now) {
            logger.info("stream: rotating connection", metadata: ["connection": "\(current.id)", "replacement": "\(connection.id)"])
            slots[index].rotating = connection
        }
    }

    /// The replacement has delivered for every symbol of the slot (its later subscriptions included) and the old
    /// connection has caught up with it (an event newer than the replacement's first, and the books hold every diff the
    /// replacement delivered), so once the old one's marker comes back, closing it loses no event: no symbol is without a connection in between, and
    /// no book misses an update.
    private func replacementCanTakeOver(slot index: Int) -> Bool {
        // Strictly newer: the old connection's events of the replacement's first moment may still be in flight.
        guard let rotating = slots[index].rotating, let first = rotating.firstEventTime,
            let newest = slots[index].current?.newestEventTime, newest > first
        else { return false }
        let seen = rotating.seen
        guard seen.count >= slots[index].symbols.count else { return false }
        return slots[index].symbols.allSatisfy { symbol in
            seen.contains(symbol) && streams[symbol]?.heldFromReplacement.isEmpty ?? true
        }
    }

    /// A symbol of the slot that delivered on this connection and then went silent for the stall timeout; or, when
    /// none delivered at all for that long, the first. A symbol that never delivers (halted, delisted) does not make
    /// the connection cycle while the others deliver.
    private func silentSymbol(in index: Int, since first: Int64, now: Int64) -> Symbol? {
        let cutoff = now - configuration.stallMilliseconds
        var anyRecent = false
        var silent: Symbol?
        for symbol in slots[index].symbols {
            guard let last = streams[symbol]?.lastEvent, last >= first else { continue }
            if last >= cutoff { anyRecent = true } else if silent == nil { silent = symbol }
        }
        if silent == nil, !anyRecent { return slots[index].symbols.first }
        return silent
    }

    /// Drops the slot's current connection as failed: its books are rebuilt and a new one opens after a backoff.
    private func detach(slot index: Int, now: Int64, reason: String) {
        guard let current = slots[index].current else { return }
        logger.warning("stream: replacing connection", metadata: ["connection": "\(current.id)", "reason": "\(reason)"])
        current.task.cancel()
        slots[index].current = nil
        if slots[index].rotating != nil {
            promote(slot: index, now: now)
            return
        }
        scheduleReconnect(slot: index, now: now)
        resetBooks(slot: index)
    }

    /// The replacement takes over; the old connection closes, and what the replacement delivered ahead of it goes to
    /// the books.
    private func promote(slot index: Int, now: Int64) {
        guard let replacement = slots[index].rotating else { return }
        slots[index].current?.task.cancel()
        slots[index].current = replacement
        slots[index].rotating = nil
        for symbol in slots[index].symbols {
            guard var stream = streams[symbol] else { continue }
            if let outcome = stream.applyHeld(all: true) { record(outcome, in: &stream) }
            streams[symbol] = stream
            requestSnapshotIfNeeded(symbol, now: now)
        }
    }

    /// The replacement is given up (it delivered nothing, or it ended); the current connection carries on.
    private func abandonRotation(slot index: Int) {
        slots[index].rotating?.task.cancel()
        slots[index].rotating = nil
        for symbol in slots[index].symbols { streams[symbol]?.dropHeld() }
    }

    private func scheduleReconnect(slot index: Int, now: Int64) {
        slots[index].failures += 1
        // Jittered exponential backoff: 0.5–1 s doubling to 32–64 s.
        let base = Int64(1_000) << min(slots[index].failures - 1, 6)
        slots[index].reconnectAt = now + base / 2 + Int64.random(in: 0...(base / 2))
    }

    /// Whatever happened while no connection carried these streams is not replayed: books are rebuilt, and missing
    /// minutes are repaired at the next flush.
    private func resetBooks(slot index: Int) {
        for symbol in slots[index].symbols {
            guard var stream = streams[symbol] else { continue }
            stream.connected = false
            if stream.book.state != .awaitingSnapshot {
                stream.rebuilds += 1
                rebuildCounter.increment()
            }
            stream.resetBook()
            streams[symbol] = stream
        }
    }

    private func slotIndex(of connection: Int) -> (index: Int, isRotating: Bool)? {
        for index in slots.indices {
            if slots[index].current?.id == connection { return (index, false) }
            if slots[index].rotating?.id == connection { return (index, true) }
        }
        return nil
    }

    private func ended(connection id: Int, error: (any Error)?) {
        guard let (index, isRotating) = slotIndex(of: id) else { return }
        logger.warning(
            "stream: connection ended", metadata: ["connection": "\(id)", "error": "\(error.map { "\($0)" } ?? "closed by the server")"])
        if isRotating {
            abandonRotation(slot: index)
            return
        }
        let now = clock.now()
        slots[index].current = nil
        if slots[index].rotating != nil {
            // The old connection ended while its replacement was opening: the replacement takes over.
            promote(slot: index, now: now)
        } else {
            scheduleReconnect(slot: index, now: now)
            resetBooks(slot: index)
        }
    }

    // MARK: Events

    private func receive(_ message: StreamMessage, connection id: Int) {
        guard let (index, isRotating) = slotIndex(of: id) else { return }
        let now = clock.now()
        let eventTime: Int64? =
            switch message {
            case .kline(let event): event.eventTime
            case .depth(let event): event.eventTime
            default: nil
            }
        if isRotating {
            // What the replacement delivered for, so the watch can tell when it may take over.
            // (Read first: an optional-chained assignment holds its access while the right side is evaluated.)
            let firstEventAt = slots[index].rotating?.firstEventAt ?? now
            slots[index].rotating?.firstEventAt = firstEventAt
            if slots[index].rotating?.firstEventTime == nil, let eventTime { slots[index].rotating?.firstEventTime = eventTime }
            if case .kline(let event) = message { slots[index].rotating?.seen.insert(event.symbol) }
        } else {
            if slots[index].current?.firstEventAt == nil { slots[index].current?.firstEventAt = now }
            if let eventTime {
                let newest = max(slots[index].current?.newestEventTime ?? eventTime, eventTime)
                slots[index].current?.newestEventTime = newest
            }
        }
        switch message {
        case .kline(let event):
            guard var stream = streams[event.symbol] else { return }
            eventCounter.increment()
            stream.lastEvent = now
            stream.connected = true
            if event.isFinal { stream.receiveFinal(event.kline) }
            streams[event.symbol] = stream
            live?.publish(event)
        case .depth(let event):
            guard var stream = streams[event.symbol] else { return }
            eventCounter.increment()
            stream.lastEvent = now
            stream.connected = true
            if isRotating {
                if let outcome = stream.receiveFromReplacement(event) { record(outcome, in: &stream) }
            } else {
                record(stream.book.receive(event), in: &stream)
                // What the replacement delivered ahead of this connection may continue the book now.
                if let outcome = stream.applyHeld(all: false) { record(outcome, in: &stream) }
            }
            streams[event.symbol] = stream
            requestSnapshotIfNeeded(event.symbol, now: now)
        case .error(let id, let message):
            logger.error("stream: request refused", metadata: ["connection": "\(id.map(String.init) ?? "-")", "message": "\(message)"])
        case .reply(let replyID):
            // The old connection's marker: everything it sent before is in; the replacement takes over.
            if !isRotating, replyID == slots[index].current?.markerID, slots[index].rotating != nil { promote(slot: index, now: now) }
        case .ignored:
            break
        }
    }

    /// Counts and logs a diff event that broke the book's sequence.
    private func record(_ outcome: LocalOrderBook.Outcome, in stream: inout SymbolStream) {
        switch outcome {
        case .outOfSequence(let expected, let got):
            stream.rebuilds += 1
            rebuildCounter.increment()
            logger.warning(
                "stream: order book out of sequence, rebuilding",
                metadata: ["symbol": "\(stream.symbol)", "expected": "\(expected)", "got": "\(got)"])
        case .discarded(let reason):
            stream.rebuilds += 1
            rebuildCounter.increment()
            logger.warning("stream: order book discarded, rebuilding", metadata: ["symbol": "\(stream.symbol)", "reason": "\(reason)"])
        default:
            break
        }
    }

    /// Asks for a snapshot for a book waiting for one, unless one is on its way or snapshots are paused.
    private func requestSnapshotIfNeeded(_ symbol: Symbol, now: Int64) {
        guard var stream = streams[symbol], stream.book.state == .awaitingSnapshot, !stream.snapshotPending,
            now >= max(stream.snapshotRetryAt, snapshotsPausedUntil)
        else { return }
        stream.snapshotPending = true
        streams[symbol] = stream
        fetchSnapshot(symbol, generation: stream.bookGeneration)
    }

    private func malformed(_ error: String, connection id: Int) {
        malformedMessages += 1
        logger.warning("stream: malformed message skipped", metadata: ["connection": "\(id)", "error": "\(error)"])
    }

    /// Fetches a REST snapshot for a book waiting for one (after its first buffered events, as Binance describes).
    private func fetchSnapshot(_ symbol: Symbol, generation: Int) {
        let (extractor, limit, clock) = (extractor, configuration.snapshotLimit, clock)
        Task {
            do {
                // A moment for the first events to be buffered, so the snapshot is not older than all of them.
                try await clock.sleep(for: .milliseconds(250))
            } catch {
                return
            }
            do {
                let snapshot = try await extractor.depthSnapshot(symbol, limit: limit)
                self.applySnapshot(symbol, snapshot, limit: limit, generation: generation)
            } catch {
                self.snapshotFailed(symbol, error: error as? PipelineError, generation: generation)
            }
        }
    }

    /// Applies a snapshot to the book it was asked for; one for a book since reset (a disconnect) is dropped.
    private func applySnapshot(_ symbol: Symbol, _ snapshot: OrderBookSnapshot, limit: Int, generation: Int) {
        guard var stream = streams[symbol], stream.bookGeneration == generation else { return }
        stream.snapshotPending = false
        let outcome = stream.book.applySnapshot(snapshot, limit: limit)
        if case .snapshotTooOld = outcome {
            // Asked again after a backoff, like a failure: snapshots and events that never line up must not spin.
            stream.snapshotFailures += 1
            stream.snapshotRetryAt = clock.now() + (Int64(1_000) << min(stream.snapshotFailures - 1, 6))
        } else {
            stream.snapshotFailures = 0
        }
        streams[symbol] = stream
        switch outcome {
        case .snapshotTooOld(let last, let first):
            logger.info(
                "stream: snapshot older than the buffered events, fetching another",
                metadata: ["symbol": "\(symbol)", "last_update_id": "\(last)", "first_buffered": "\(first)"])
        case .outOfSequence(let expected, let got):
            logger.warning(
                "stream: buffered events do not continue the snapshot",
                metadata: ["symbol": "\(symbol)", "expected": "\(expected)", "got": "\(got)"])
        default:
            break
        }
    }

    /// A failed snapshot is asked for again after a backoff (1 s doubling to a minute); a 429 or 418 pauses every
    /// snapshot for its `Retry-After`.
    private func snapshotFailed(_ symbol: Symbol, error: PipelineError?, generation: Int) {
        let now = clock.now()
        if let kind = error?.exchangeError?.kind, kind.code == .rateLimited || kind.code == .banned {
            let seconds = Int64(min(max(kind.retryAfterSeconds ?? 60, 1), 3 * 86_400))
            snapshotsPausedUntil = max(snapshotsPausedUntil, now + seconds * 1_000)
        }
        if var stream = streams[symbol], stream.bookGeneration == generation {
            stream.snapshotPending = false
            stream.snapshotFailures += 1
            stream.snapshotRetryAt = now + (Int64(1_000) << min(stream.snapshotFailures - 1, 6))
            streams[symbol] = stream
        }
        logger.warning(
            "stream: order-book snapshot failed; retrying after a pause",
            metadata: ["symbol": "\(symbol)", "error": "\(error.map { "\($0)" } ?? "cancelled")"])
    }

    // MARK: Flushing candles

    /// Flushes once at start (the minutes missed while the collector was not running come over REST, so the warehouse
    /// is current from the first minute), then at every flush boundary plus the grace.
    private func flushLoop() async throws {
        let interval = Int64(configuration.flushIntervalSeconds) * 1_000
        var upTo = Interval.oneMinute.openTime(containing: clock.now()) - 60_000
        try await waitForBooks(timeout: 10_000)
        while true {
            let report = await loggedFlush(upTo: upTo)
            flushes += 1
            await publishStatus(force: true)
            await onFlush(report)
            if let stop = configuration.stopAfterFlushes, flushes >= stop { return }
            let now = clock.now()
            let boundary = (now - configuration.graceMilliseconds) / interval * interval + interval
            try await clock.sleep(for: .milliseconds(boundary + configuration.graceMilliseconds - now))
            upTo = boundary - 60_000
        }
    }

    /// A flush, in the ingestion log as a run of `extract-transform`.
    private func loggedFlush(upTo lastMinute: Int64) async -> FlushReport {
        var id: Int64?
        if let runLog {
            do {
                id = try await runLog.startJobRun(
                    job: PipelineJobs.extractTransform, trigger: .stream, at: clock.now(), worker: configuration.workerID)
            } catch {
                logger.error("stream: cannot record the start of a flush", metadata: ["error": "\(error)"])
            }
        }
        let report = await flush(upTo: lastMinute)
        if let runLog, let id {
            var errors = report.failures
            if let error = report.transformError { errors.append("transform: \(error)") }
            var outcome = JobRunOutcome(
                status: report.transformError != nil ? .failed : (errors.isEmpty ? .succeeded : .partial), files: report.objects,
                rows: report.transform?.rowsWritten ?? 0)
            outcome.error = errors.isEmpty ? nil : errors.joined(separator: "; ")
            do {
                try await runLog.finishJobRun(id: id, at: clock.now(), outcome: outcome)
            } catch {
                logger.error("stream: cannot record the end of a flush", metadata: ["error": "\(error)"])
            }
        }
        return report
    }

    enum FlushWork: Sendable {
        case write(Symbol, [Kline])
        case repair(Symbol)
    }

    /// Writes every symbol's final candles up to the minute opening at `lastMinute`, repairing over REST the symbols
    /// that miss one, then runs the transform.
    func flush(upTo lastMinute: Int64) async -> FlushReport {
        var report = FlushReport(number: flushes + 1, lastMinute: lastMinute, symbols: streams.count)
        var work: [FlushWork] = []
        for (symbol, stream) in streams.sorted(by: { $0.key < $1.key }) {
            if let candles = stream.flushable(upTo: lastMinute) {
                if !candles.isEmpty { work.append(.write(symbol, candles)) }
            } else {
                work.append(.repair(symbol))
            }
        }
        let results = await Self.perform(work, extractor: extractor, clock: clock)
        for result in results {
            switch result {
            case .written(let symbol, let last, let count):
                streams[symbol]?.markWritten(upTo: last)
                report.candles += count
                report.objects += 1
            case .repaired(let symbol, let last, let count):
                if let last { streams[symbol]?.markWritten(upTo: last) }
                if streams[symbol]?.written != nil || last != nil {
                    streams[symbol]?.repairs += 1
                    repairCounter.increment()
                }
                report.repairs += 1
                report.candles += count
            case .failed(let symbol, let error):
                report.failures.append("\(symbol): \(error)")
                logger.error("stream: flush failed", metadata: ["symbol": "\(symbol)", "error": "\(error)"])
            }
        }
        // The first flush loads the books synced by then as well (later ones come every depth interval).
        if flushes == 0 { report.books = await writeBooks() }
        do {
            report.transform = try await transformer.transformPending()
            let done = clock.now()
            // Lag: from the close of the newest minute this flush wrote to its row in the warehouse. The first flush
            // catches up on what happened before the process started, which is not the streams' delivery.
            if report.candles > 0, flushes > 0 {
                let lag = done - (lastMinute + 60_000)
                lags.record(lag)
                lagRecorder.record(Double(lag) / 1_000)
            }
        } catch {
            report.transformError = "\(error)"
            logger.error("stream: transform failed", metadata: ["error": "\(error)"])
        }
        return report
    }

    enum FlushResult: Sendable {
        case written(Symbol, last: Int64, count: Int)
        case repaired(Symbol, last: Int64?, count: Int)
        case failed(Symbol, String)
    }

    /// Runs the flush's lake writes and REST repairs, eight at a time, outside the actor.
    private static func perform(_ work: [FlushWork], extractor: Extractor, clock: PipelineClock) async -> [FlushResult] {
        await withTaskGroup(of: FlushResult.self) { group in
            var results: [FlushResult] = []
            var next = 0
            func startNext() {
                guard next < work.count else { return }
                let item = work[next]
                next += 1
                group.addTask {
                    switch item {
                    case .write(let symbol, let candles):
                        do {
                            _ = try await extractor.storeStreamedKlines(symbol, candles, capturedAt: clock.now())
                            return .written(symbol, last: candles[candles.count - 1].openTime, count: candles.count)
                        } catch {
                            return .failed(symbol, "\(error)")
                        }
                    case .repair(let symbol):
                        do {
                            let extraction = try await extractor.extractKlines(symbol)
                            return .repaired(symbol, last: try await extractor.lastExtractedOpenTime(symbol), count: extraction.klines)
                        } catch {
                            return .failed(symbol, "\(error)")
                        }
                    }
                }
            }
            for _ in 0..<min(8, work.count) { startNext() }
            while let result = await group.next() {
                results.append(result)
                startNext()
            }
            return results
        }
    }

    // MARK: Writing order books

    private func depthLoop() async throws {
        let interval = Int64(configuration.depthIntervalSeconds) * 1_000
        while true {
            let now = clock.now()
            try await clock.sleep(for: .milliseconds((now / interval + 1) * interval - now))
            await writeBooks()
        }
    }

    /// Writes the top levels of every book that covers them; a book whose price moved to the edge of what its snapshot
    /// covered is rebuilt instead. Returns how many were written.
    @discardableResult
    private func writeBooks() async -> Int {
        let capturedAt = clock.now()
        var books: [(Symbol, OrderBookSnapshot)] = []
        for (symbol, stream) in streams.sorted(by: { $0.key < $1.key }) {
            if stream.book.covers(configuration.depthLimit), let top = stream.book.top(configuration.depthLimit) {
                books.append((symbol, top))
            } else if stream.book.state == .synced {
                streams[symbol]?.resetBook()
                streams[symbol]?.rebuilds += 1
                rebuildCounter.increment()
                logger.info("stream: order book beyond its snapshot's range, rebuilding", metadata: ["symbol": "\(symbol)"])
            }
        }
        let extractor = extractor
        return await withTaskGroup(of: Bool.self) { group in
            for (symbol, book) in books {
                group.addTask {
                    do {
                        _ = try await extractor.storeBook(symbol, book, capturedAt: capturedAt)
                        return true
                    } catch {
                        await self.bookWriteFailed(symbol, error: "\(error)")
                        return false
                    }
                }
            }
            var written = 0
            for await stored in group where stored { written += 1 }
            return written
        }
    }

    /// Waits, up to `timeout` on the collector's clock, until every book is synced, so the first flush loads order
    /// books with the candles, as REST's first cycle does (the first minutes of a new collector show a book).
    private func waitForBooks(timeout: Int64) async throws {
        let deadline = clock.now() + timeout
        while clock.now() < deadline, streams.values.contains(where: { !$0.book.covers(configuration.depthLimit) }) {
            try await clock.sleep(for: .milliseconds(200))
        }
    }

    private func bookWriteFailed(_ symbol: Symbol, error: String) {
        logger.error("stream: writing an order book failed", metadata: ["symbol": "\(symbol)", "error": "\(error)"])
    }

    // MARK: Status

    /// Each symbol's stream state, for `status`, `/api/pipeline/status`, the Pipeline page and `/metrics`.
    public func status() -> StreamStatus {
        let symbols = streams.values.sorted { $0.symbol < $1.symbol }.map { stream in
            StreamStatus.SymbolState(
                symbol: stream.symbol, connected: stream.connected, lastEvent: stream.lastEvent,
                bookSynced: stream.book.state != .awaitingSnapshot,
                bookUpdateId: stream.book.lastUpdateId, rebuilds: stream.rebuilds, repairs: stream.repairs, lastWritten: stream.written)
        }
        return StreamStatus(
            streamURL: configuration.streamURL, updatedAt: clock.now(),
            connections: slots.reduce(0) { $0 + ($1.current == nil ? 0 : 1) + ($1.rotating == nil ? 0 : 1) },
            flushes: flushes, lagP50Milliseconds: lags.percentile(0.5), lagP95Milliseconds: lags.percentile(0.95),
            malformedMessages: malformedMessages, symbols: symbols)
    }

    /// Sets the gauges of `/metrics`, and saves ``status()`` where other processes read it: after each flush (`force`),
    /// and otherwise when a symbol's connection, book or counts changed, or a minute after the last save. The state of
    /// 1,000 symbols is about 150 KB, too much to write every few seconds for a last-event time.
    private func publishStatus(force: Bool) async {
        let status = status()
        connectionsGauge.record(status.connections)
        connectedGauge.record(status.symbols.count { $0.connected })
        syncedGauge.record(status.symbols.count { $0.bookSynced })
        guard let statusStore else { return }
        let shape = status.withoutMomentaryFields
        let due = savedStatus.map { saved in shape != saved.shape || status.updatedAt - saved.at >= 60_000 } ?? true
        guard force || due else { return }
        do {
            try await status.save(to: statusStore, worker: configuration.workerID)
            if staleStatesCheckedAt.map({ status.updatedAt - $0 >= 3_600_000 }) ?? true {
                staleStatesCheckedAt = status.updatedAt
                try await StreamStatus.forgetStale(in: statusStore, keeping: configuration.workerID, at: status.updatedAt)
            }
            savedStatus = (shape, status.updatedAt)
        } catch {
            logger.warning("stream: cannot save the stream status", metadata: ["error": "\(error)"])
        }
    }
}

/// The lags of the last 1,000 flushes.
struct LagWindow {
    private var values: [Int64] = []

    mutating func record(_ lag: Int64) {
        if values.count == 1_000 { values.removeFirst() }
        values.append(lag)
    }

    func percentile(_ share: Double) -> Int64? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * share).rounded()))]
    }
}
