import AsyncHTTPClient
import DataLake
import Exchange
import ExchangeSimulator
import Logging
import MarketData
import Pipeline
import PipelineTesting
import Synchronization
import Testing
import Warehouse

/// Extraction against an exchange whose clock is not ours: finality, first fetches and lags follow the exchange's time.
struct ExchangeClockTests {
    static let btc = try! Symbol("BTCUSDT")
    /// 2025-12-31T23:58:10Z on the local clock.
    static let start: Int64 = 1_767_225_490_000
    /// A request's deadline here (clock samples included): the whole suite runs in parallel on two cores, where a
    /// loopback answer can take seconds.
    static let requestTimeout: Duration = .seconds(60)

    /// The synthetic market changes the minute in progress until it closes, so a candle stored as final too early
    /// differs from the exchange's final one. Local steps of 7 s walk every position in the minute (7 and 60 share no
    /// factor), so some captures fall within the 30 s by which the clocks disagree on every minute.
    @Test(arguments: [-30_000, 30_000] as [Int64])
    func extractionFollowsAnExchangeClockThirtySecondsOff(offset: Int64) async throws {
        let local = ManualClock(Self.start)
        let exchange = SimulatedExchange(
            configuration: .init(seed: 5, symbols: [Self.btc], historyMinutes: 300, clock: PipelineClock { local.now + offset }))
        let folder = try TemporaryDirectory("exchange-clock")
        defer { folder.remove() }
        let lake = LocalObjectStore(root: folder.path + "/lake")
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let logger = Logger(label: "test")
        let clock = ExchangeClock(local: local.reader)
        let market = PipelineClock { clock.now() }
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let client = BinanceClient(
                configuration: .init(
                    baseURL: baseURL, requestTimeout: Self.requestTimeout, retry: .none, clock: local.reader, exchangeClock: clock),
                httpClient: .shared,
                logger: logger)
            let extractor = Extractor(
                configuration: .init(symbols: [Self.btc], initialCandles: 5, depthLimit: 5), source: client, lake: lake,
                warehouse: warehouse, clock: market,
                clockSync: ExchangeClockSync(clock: clock, source: client, warehouse: warehouse, logger: logger), logger: logger)
            // As in `run`: the transformer's bookkeeping is on the local clock.
            let transformer = Transformer(lake: lake, warehouse: warehouse, clock: local.reader, logger: logger)
            var firstFetchStart: Int64?
            // 57 captures: the last lands 12 s into a minute on the exchange's clock, so a capture stamped on the local
            // clock would disagree about the newest final minute in either direction.
            for _ in 0..<57 {
                let report = await extractor.extractAll()
                #expect(report.failures.isEmpty, "\(report.failures.map(\.message))")
                _ = try await transformer.transformPending()
                if firstFetchStart == nil {
                    // The first fetch covers the exchange's newest five minutes, not the local clock's.
                    firstFetchStart = Interval.oneMinute.openTime(containing: exchange.now) - 4 * 60_000
                }
                let stored = try await warehouse.klines(
                    symbol: Self.btc, interval: .oneMinute, from: 0, to: .max, includeOpen: false, limit: nil
                ).map(\.kline)
                // Nothing is final before the exchange closed it, and what is final is the exchange's final candle.
                let early = stored.filter { $0.closeTime >= exchange.now }
                #expect(early.isEmpty, "stored as final before the exchange closed them: \(early.map { UTCTime.iso8601($0.openTime) })")
                let wrong = stored.filter { $0 != exchange.market.minuteCandle(Self.btc, minuteOpen: $0.openTime) }
                #expect(wrong.isEmpty, "differ from the exchange's final candles: \(wrong.map { UTCTime.iso8601($0.openTime) })")
                local.advance(milliseconds: 7_000)
            }
            // None missed: every minute from the first fetch to the newest one the exchange closed more than the
            // finality margin before the last capture is stored as final.
            let lastCapture = exchange.now - 7_000
            let stored = try await warehouse.klines(
                symbol: Self.btc, interval: .oneMinute, from: 0, to: .max, includeOpen: false, limit: nil
            ).map(\.kline.openTime)
            let first = try #require(firstFetchStart)
            // A minute is final once its close plus the margin lies before the capture.
            let newestFinal = Interval.oneMinute.openTime(containing: lastCapture - Kline.finalityMarginMilliseconds - 60_000)
            let expected = Array(stride(from: first, through: newestFinal, by: 60_000))
            #expect(stored == expected, "stored \(stored.count) minutes, expected \(expected.count)")
        }
        // The offset measured over the loopback with a clock that stands still during requests is exact.
        let reading = try #require(clock.reading)
        #expect(reading.offsetMilliseconds == offset)
        #expect(try await ExchangeClockSync.stored(in: warehouse) == reading)
        // The simulator's `Date` headers agreed with the measured offset all along.
        #expect(!clock.isDue(every: ExchangeClockSync.interval))
    }

    /// On the real clocks, over a real loopback round trip, the offset is measured within 100 ms of the truth, and never
    /// further off than half the round trip of the sample kept. (The samples count only because the simulator's `Date`
    /// headers on the wire follow its offset clock too.)
    @Test(arguments: [-30_000, 30_000] as [Int64])
    func theMeasuredOffsetIsWithinATenthOfASecond(offset: Int64) async throws {
        let exchange = SimulatedExchange(
            configuration: .init(seed: 5, symbols: [Self.btc], clock: PipelineClock.system.offset(by: offset)))
        let folder = try TemporaryDirectory("exchange-clock")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let clock = ExchangeClock()
        let reading = try await SimulatorServer.withRunning(exchange) { baseURL in
            let client = BinanceClient(
                configuration: .init(baseURL: baseURL, requestTimeout: Self.requestTimeout, exchangeClock: clock), httpClient: .shared,
                logger: Logger(label: "test"))
            let sync = ExchangeClockSync(clock: clock, source: client, warehouse: warehouse, logger: Logger(label: "test"))
            return await sync.synchronize()
        }
        // The method's bound is half the round trip of the sample it kept; on this machine that is a few
        // milliseconds, but a test run that loads both cores can stretch a loopback round trip past 200 ms.
        let kept = try #require(reading)
        let error = (kept.offsetMilliseconds - offset).magnitude
        #expect(error <= UInt64(kept.roundTripMilliseconds / 2 + 1), "measured \(kept.offsetMilliseconds) ms for \(offset) ms")
        #expect(kept.roundTripMilliseconds > 200 || error <= 100, "measured \(kept.offsetMilliseconds) ms for \(offset) ms")
    }

    /// The local clock stepped forward after a measurement (the exchange now seems 45 s behind): until the offset is
    /// measured again, responses are stamped no later than their `Date` header, so no candle of the 45 s is taken as
    /// closed early; the next page measures again.
    @Test func aClockSteppedAheadStampsByTheDateHeaderUntilMeasuredAgain() async throws {
        let harness = try await SteppedClock()
        defer { harness.folder.remove() }
        let (exchange, clock) = (harness.exchange, harness.clock)
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let client = harness.client(baseURL)
            let sync = ExchangeClockSync(clock: clock, source: client, warehouse: harness.warehouse, logger: Logger(label: "test"))
            await sync.synchronizeIfDue()
            #expect(clock.reading?.offsetMilliseconds == 0)
            harness.step(byMilliseconds: 45_000)
            let request = KlineRequest(symbol: Self.btc, interval: .oneMinute, limit: 3)
            let first = try await client.klines(request)
            // The first response is the one that reveals the step; it, and the next, are stamped by the exchange's second.
            let second = try await client.klines(request)
            for response in [first, second] {
                #expect(response.capturedAt <= exchange.now && response.capturedAt > exchange.now - 1_000)
                #expect(response.value.filter { $0.isClosed(at: response.capturedAt) }.allSatisfy { $0.closeTime < exchange.now })
            }
            await sync.synchronizeIfDue()
            #expect(clock.reading?.offsetMilliseconds == -45_000)
        }
    }

    /// Responses are stamped with the earliest exchange time of their request; a `Date` header later than that says
    /// nothing safe (it was written after the answer was made) and is not used; before any measurement the local
    /// clock stands in.
    @Test func aLaterDateHeaderDoesNotAdvanceTheStamp() async throws {
        let local = ManualClock(Self.start)
        let exchange = SimulatedExchange(
            configuration: .init(seed: 5, symbols: [Self.btc], historyMinutes: 300, clock: PipelineClock { local.now + 1_500 }))
        let clock = ExchangeClock(local: local.reader)
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let client = BinanceClient(
                configuration: .init(
                    baseURL: baseURL, requestTimeout: Self.requestTimeout, retry: .none, clock: local.reader, exchangeClock: clock),
                httpClient: .shared,
                logger: Logger(label: "test"))
            let request = KlineRequest(symbol: Self.btc, interval: .oneMinute, limit: 1)
            let unmeasured = try await client.klines(request).capturedAt
            #expect(unmeasured == Self.start)
            // An offset measured 1.5 s short with a 400 ms round trip: the stamp allows for half of it, whatever the
            // header says.
            clock.record(serverTime: Self.start - 200, sentAt: Self.start - 400, receivedAt: Self.start)
            let short = try await client.klines(request).capturedAt
            #expect(short == Self.start - 200)
            #expect(!clock.isDue(every: ExchangeClockSync.interval))
        }
    }

    /// An answer whose `Date` is set only after a delay (a hung server, a slow gateway) carries a later second than the
    /// answer was made at: the stamp stays with the request's send time, so the open candle it holds is not final.
    @Test func aDelayedAnswerIsStampedWhenItWasAskedFor() async throws {
        let exchange = SimulatedExchange(
            configuration: .init(
                seed: 5, symbols: [Self.btc], historyMinutes: 300,
                faults: FaultConfiguration(rate: 1, seed: 1, kinds: [.hang], hang: .milliseconds(2_500))))
        let clock = ExchangeClock()
        let now = clock.local.now()
        clock.record(serverTime: now, sentAt: now, receivedAt: now)
        try await SimulatorServer.withRunning(exchange) { baseURL in
            let client = BinanceClient(
                configuration: .init(baseURL: baseURL, requestTimeout: Self.requestTimeout, retry: .none, exchangeClock: clock),
                httpClient: .shared, logger: Logger(label: "test"))
            let asked = clock.local.now()
            let response = try await client.klines(KlineRequest(symbol: Self.btc, interval: .oneMinute, limit: 2))
            #expect(clock.local.now() - asked >= 2_500)
            // Stamped when the request went out, not 2.5 s later when the answer came (a preempted thread may add some).
            #expect(response.capturedAt <= asked + 1_000, "stamped \(response.capturedAt - asked) ms after the request went out")
        }
    }

    /// One wrong answer to `/api/v3/time` (a proxy's, a year 9999) does not move the clock: a sample counts only when
    /// its `Date` header and another sample agree with it.
    @Test func aSingleWrongClockAnswerIsNotBelieved() async throws {
        let folder = try TemporaryDirectory("exchange-clock")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let local: Int64 = Self.start
        let good = ServerTimeSample(serverTime: local + 5_010, sentAt: local, receivedAt: local + 20, dateHeader: local + 5_000)
        let cases: [(samples: [ServerTimeSample?], offset: Int64?)] = [
            // A far-future answer beside two good ones: the good ones win.
            ([ServerTimeSample(serverTime: 253_402_300_799_000, sentAt: local, receivedAt: local + 1), good, good], 5_000),
            // The fastest sample is wrong, but alone: the slower agreeing pair wins.
            ([ServerTimeSample(serverTime: local + 900_000, sentAt: local, receivedAt: local), good, good], 5_000),
            // A serverTime its own Date header contradicts counts for nothing; one good sample is not enough.
            (
                [
                    ServerTimeSample(serverTime: local + 5_010, sentAt: local, receivedAt: local + 20, dateHeader: local + 60_000), good,
                    nil,
                ], nil
            ),
            // Two answers that disagree with each other: nothing is believed.
            ([good, ServerTimeSample(serverTime: local + 65_010, sentAt: local, receivedAt: local + 20), nil], nil),
        ]
        for (samples, offset) in cases {
            let clock = ExchangeClock(local: PipelineClock { local })
            let sync = ExchangeClockSync(
                clock: clock, source: ScriptedClockSource(samples), warehouse: warehouse, logger: Logger(label: "test"))
            let reading = await sync.synchronize()
            #expect(reading?.offsetMilliseconds == offset, "\(samples)")
            #expect(clock.reading?.offsetMilliseconds == offset)
        }
    }

    /// Against a clock known to drift (a replay at 60 times real speed), samples taken 30 ms apart on a loaded machine
    /// differ by 1.8 s and still agree; without a known drift they would not.
    @Test func samplesAgreeAllowingForTheDriftSeenSoFar() async throws {
        let folder = try TemporaryDirectory("exchange-clock")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        let t = Self.start
        func samples() -> [ServerTimeSample?] {
            // The exchange's clock runs 60 times as fast: 30 ms of ours are 1.8 s of its.
            (0..<3).map { index in
                let sent = t + 20_000 + Int64(index) * 30
                return ServerTimeSample(serverTime: t + 20 * 60_000 + Int64(index) * 1_800, sentAt: sent, receivedAt: sent)
            }
        }
        let unknown = ExchangeClock(local: PipelineClock { t + 20_100 })
        let first = await ExchangeClockSync(
            clock: unknown, source: ScriptedClockSource(samples()), warehouse: warehouse, logger: Logger(label: "test")
        )
        .synchronize()
        #expect(first == nil)
        let drifting = ExchangeClock(local: PipelineClock { t + 20_100 })
        drifting.record(serverTime: t, sentAt: t, receivedAt: t)
        drifting.record(serverTime: t + 600_000, sentAt: t + 10_000, receivedAt: t + 10_000)
        let second = await ExchangeClockSync(
            clock: drifting, source: ScriptedClockSource(samples()), warehouse: warehouse, logger: Logger(label: "test")
        ).synchronize()
        let offset = try #require(second?.offsetMilliseconds)
        #expect(offset == Int64(20 * 60_000 - 20_000), "\(offset)")
    }

    /// Answers `/api/v3/time` with the samples given, in turn (`nil`: a failed request); serves nothing else.
    final class ScriptedClockSource: MarketDataSource {
        let samples: Mutex<[ServerTimeSample?]>
        init(_ samples: [ServerTimeSample?]) { self.samples = Mutex(samples) }

        func serverTime() async throws(ExchangeError) -> ServerTimeSample {
            let next = samples.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            guard let next else { throw ExchangeError(.timeout, endpoint: "/api/v3/time") }
            return next
        }
        func klines(_ request: KlineRequest) async throws(ExchangeError) -> FetchedResponse<[Kline]> {
            throw ExchangeError(.transport("not served"), endpoint: "/api/v3/klines")
        }
        func depth(symbol: Symbol, limit: Int) async throws(ExchangeError) -> FetchedResponse<OrderBookSnapshot> {
            throw ExchangeError(.transport("not served"), endpoint: "/api/v3/depth")
        }
        func exchangeInfo() async throws(ExchangeError) -> FetchedResponse<ExchangeInfo> {
            throw ExchangeError(.transport("not served"), endpoint: "/api/v3/exchangeInfo")
        }
    }

    /// Before any measurement, a local clock running ahead is caught by the `Date` header: the stamp is capped by it.
    @Test func anUnmeasuredLocalClockAheadIsCappedByTheDateHeader() async throws {
        let harness = try await SteppedClock()
        defer { harness.folder.remove() }
        try await SimulatorServer.withRunning(harness.exchange) { baseURL in
            harness.step(byMilliseconds: 45_000)
            let response = try await harness.client(baseURL).klines(KlineRequest(symbol: Self.btc, interval: .oneMinute, limit: 3))
            #expect(harness.clock.reading == nil)
            #expect(response.capturedAt <= harness.exchange.now && response.capturedAt > harness.exchange.now - 1_000)
        }
    }

    /// After a contradicting `Date`, the extractor measures again before its next page, not only in the next cycle.
    @Test func theExtractorMeasuresAgainBeforeTheNextPage() async throws {
        let harness = try await SteppedClock(historyMinutes: 3_000)
        defer { harness.folder.remove() }
        let (clock, warehouse) = (harness.clock, harness.warehouse)
        try await SimulatorServer.withRunning(harness.exchange) { baseURL in
            let client = RecordingSource(harness.client(baseURL))
            let extractor = Extractor(
                configuration: .init(symbols: [Self.btc], initialCandles: 1_500, depthLimit: 5), source: client,
                lake: LocalObjectStore(root: harness.folder.path + "/lake"), warehouse: warehouse, clock: PipelineClock { clock.now() },
                clockSync: ExchangeClockSync(clock: clock, source: client, warehouse: warehouse, logger: Logger(label: "test")),
                logger: Logger(label: "test"))
            await extractor.synchronizeClock()
            // The local clock steps 45 s ahead: the first of the two pages reveals it.
            harness.step(byMilliseconds: 45_000)
            let report = await extractor.extractAll()
            #expect(report.failures.isEmpty)
            let time = Array(repeating: "time", count: ExchangeClockSync.samples)
            #expect(client.calls.withLock { $0 } == time + ["klines"] + time + ["klines", "depth"])
            #expect(clock.reading?.offsetMilliseconds == -45_000)
        }
    }

    /// Forwards to a source and records which endpoints were called, in order.
    final class RecordingSource: MarketDataSource {
        let inner: any MarketDataSource
        let calls = Mutex<[String]>([])
        init(_ inner: any MarketDataSource) { self.inner = inner }

        func serverTime() async throws(ExchangeError) -> ServerTimeSample {
            calls.withLock { $0.append("time") }
            return try await inner.serverTime()
        }
        func klines(_ request: KlineRequest) async throws(ExchangeError) -> FetchedResponse<[Kline]> {
            calls.withLock { $0.append("klines") }
            return try await inner.klines(request)
        }
        func depth(symbol: Symbol, limit: Int) async throws(ExchangeError) -> FetchedResponse<OrderBookSnapshot> {
            calls.withLock { $0.append("depth") }
            return try await inner.depth(symbol: symbol, limit: limit)
        }
        func exchangeInfo() async throws(ExchangeError) -> FetchedResponse<ExchangeInfo> {
            calls.withLock { $0.append("exchangeInfo") }
            return try await inner.exchangeInfo()
        }
    }

    /// A `Date` header that contradicts the offset makes the next cycle measure again, and the new offset is used.
    @Test func aContradictingDateHeaderMakesTheNextCycleMeasureAgain() async throws {
        let harness = try await SteppedClock()
        defer { harness.folder.remove() }
        let logs = LogRecorder()
        let clock = harness.clock
        try await SimulatorServer.withRunning(harness.exchange) { baseURL in
            let client = harness.client(baseURL, logger: logs.logger())
            let sync = ExchangeClockSync(clock: clock, source: client, warehouse: harness.warehouse, logger: logs.logger())
            await sync.synchronizeIfDue()
            #expect(clock.reading?.offsetMilliseconds == 0 && !clock.isDue(every: ExchangeClockSync.interval))
            // The exchange's clock jumps 45 s ahead (a stepped NTP correction on either side).
            harness.step(byMilliseconds: -45_000)
            let depth = try await client.depth(symbol: Self.btc, limit: 5)
            // The later header is not used: the stamp stays on the (now stale) offset's earliest time.
            #expect(depth.capturedAt == Self.start)
            #expect(clock.isDue(every: ExchangeClockSync.interval))
            #expect(logs.all.contains { $0.contains("Date header disagrees") })
            await sync.synchronizeIfDue()
            #expect(clock.reading?.offsetMilliseconds == 45_000 && !clock.isDue(every: ExchangeClockSync.interval))
            #expect(logs.all.contains { $0.contains("the exchange's clock is 45.0 s ahead of the local clock") })
        }
    }
}

extension ExchangeClockTests {
    /// What the stepped-clock tests share: a synthetic simulator whose clock is the local (manual) one until the test
    /// steps the local clock, an SQLite warehouse, an `ExchangeClock` on the local clock and a client stamping by it.
    struct SteppedClock {
        let local = ManualClock(ExchangeClockTests.start)
        /// How far the local clock has been stepped ahead of the exchange's.
        let stepped = ManualClock(0)
        let exchange: SimulatedExchange
        let folder: TemporaryDirectory
        let warehouse: SQLiteWarehouse
        let clock: ExchangeClock

        init(historyMinutes: Int = 300) async throws {
            let (local, stepped) = (local, stepped)
            exchange = SimulatedExchange(
                configuration: .init(
                    seed: 5, symbols: [ExchangeClockTests.btc], historyMinutes: historyMinutes,
                    clock: PipelineClock { local.now - stepped.now }))
            folder = try TemporaryDirectory("exchange-clock")
            warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
            try await warehouse.migrate()
            clock = ExchangeClock(local: local.reader)
        }

        /// Steps the local clock ahead of the exchange's (negative: the exchange's clock jumps ahead of ours).
        func step(byMilliseconds milliseconds: Int64) { stepped.advance(milliseconds: milliseconds) }

        func client(_ baseURL: String, logger: Logger = Logger(label: "test")) -> BinanceClient {
            BinanceClient(
                configuration: .init(
                    baseURL: baseURL, requestTimeout: ExchangeClockTests.requestTimeout, retry: .none, clock: local.reader,
                    exchangeClock: clock),
                httpClient: .shared, logger: logger)
        }
    }
}
