public import Exchange
public import Logging
public import MarketData
public import Warehouse

/// Keeps a process's ``ExchangeClock`` measured: asks the exchange for its time before the first k-line page and
/// whenever ``ExchangeClock/isDue(every:)`` says so (every few minutes, sooner for drifting clocks or after a `Date`
/// header contradicted the offset), and keeps each reading in the warehouse, where `status`, `serve` and the pages of
/// another process read it.
///
/// A failed measurement is logged and the previous offset stays (none at all: the local clock); extraction goes on,
/// because stamps stay safe without it (every response's `Date` header caps a stamp it contradicts), and the
/// measurement is tried again ``retryAfterFailure`` later.
public actor ExchangeClockSync {
    /// How old a reading may get before it is measured again.
    public static let interval: Int64 = 300_000
    /// The warehouse setting holding the last reading: `offset,roundTrip,measuredAt` in milliseconds.
    public static let settingKey = "exchange.clock"

    public nonisolated let clock: ExchangeClock
    let source: any MarketDataSource
    let warehouse: any SettingsStore
    let logger: Logger
    /// Whether a measurement is under way: a concurrent caller goes on with the offset there is (its responses are
    /// cross-checked all the same) rather than waiting.
    private var measuring = false
    /// When the last measurement failed (local clock), and how many failed in a row: after a failure the next try
    /// waits ``retryAfterFailure``, so an exchange without a working `/api/v3/time` is not asked before every page.
    private var lastFailure: (at: Int64, count: Int)?
    /// The offset last logged as a warning, so a steady offset is reported once, not every five minutes.
    private var warnedOffset: Int64?

    /// How long after a failed measurement the next is tried.
    public static let retryAfterFailure: Int64 = 30_000

    public init(clock: ExchangeClock, source: any MarketDataSource, warehouse: any SettingsStore, logger: Logger) {
        self.clock = clock
        self.source = source
        self.warehouse = warehouse
        self.logger = logger
    }

    /// Measures when a measurement is due and no other is under way, and not within ``retryAfterFailure`` of a
    /// failed one.
    public func synchronizeIfDue() async {
        guard clock.isDue(every: Self.interval) else { return }
        let now = clock.local.now()
        if let lastFailure, now >= lastFailure.at, now - lastFailure.at < Self.retryAfterFailure { return }
        _ = await synchronize()
    }

    /// Measures now (unless a measurement is under way) and returns the new reading, `nil` when it failed or another
    /// caller is measuring. It runs in the caller's task, so cancelling the caller cancels the requests.
    public func synchronize() async -> ExchangeClock.Reading? {
        guard !measuring else { return nil }
        measuring = true
        defer { measuring = false }
        let reading = await measure()
        if reading == nil {
            lastFailure = (clock.local.now(), (lastFailure?.count ?? 0) + 1)
        } else {
            lastFailure = nil
        }
        return reading
    }

    /// Samples per measurement. The one with the shortest round trip wins, as in NTP (the first request of a process
    /// also opens the connection, and a slow half of a round trip skews the offset by up to half of it), but only if
    /// another sample agrees with it: one wrong answer (a proxy's, a year-9999 `serverTime`) must not move the clock
    /// every capture time, finality decision and day folder follows.
    public static let samples = 3

    private func measure() async -> ExchangeClock.Reading? {
        var samples: [ServerTimeSample] = []
        var failure: ExchangeError?
        for _ in 0..<Self.samples {
            do {
                samples.append(try await source.serverTime())
            } catch {
                failure = error
            }
        }
        let offsets = samples.compactMap { sample -> (sample: ServerTimeSample, reading: ExchangeClock.Reading)? in
            guard sample.agreesWithDateHeader, let reading = ExchangeClock.reading(of: sample) else { return nil }
            return (sample, reading)
        }
        // Two readings agree when their offsets differ by less than their uncertainties allow, plus a second, plus what
        // the drift seen so far moves the offset between them (a replay at --speed 60 on a loaded machine).
        let drift = clock.drift
        func agree(_ a: ExchangeClock.Reading, _ b: ExchangeClock.Reading) -> Bool {
            let (difference, overflow) = a.offsetMilliseconds.subtractingReportingOverflow(b.offsetMilliseconds)
            let apart = Double(a.measuredAt) - Double(b.measuredAt)
            let allowed = 1_000 + Double(a.roundTripMilliseconds + b.roundTripMilliseconds) / 2 + drift * apart.magnitude
            return !overflow && Double(difference.magnitude) <= allowed
        }
        let confirmed = offsets.indices.filter { index in
            offsets.indices.contains { $0 != index && agree(offsets[$0].reading, offsets[index].reading) }
        }
        guard let best = confirmed.min(by: { offsets[$0].reading.roundTripMilliseconds < offsets[$1].reading.roundTripMilliseconds }),
            let reading = clock.record(
                serverTime: offsets[best].sample.serverTime, sentAt: offsets[best].sample.sentAt,
                receivedAt: offsets[best].sample.receivedAt)
        else {
            // One warning for a run of failures, then every tenth: the state is on the Pipeline page meanwhile.
            let failures = (lastFailure?.count ?? 0) + 1
            logger.log(
                level: failures == 1 || failures % 10 == 0 ? .warning : .debug,
                "cannot read the exchange's clock; keeping the last offset",
                metadata: [
                    "samples":
                        "\(samples.count) answered, \(offsets.count) consistent with their Date header, \(confirmed.count) confirmed",
                    "error": "\(failure.map { "\($0)" } ?? "no two samples agree")",
                    "offset_ms": "\(clock.reading?.offsetMilliseconds.description ?? "none")",
                    "failures_in_a_row": "\(failures)",
                ])
            return nil
        }
        report(reading)
        do {
            try await warehouse.saveSetting(Self.settingKey, value: Self.encode(reading), at: reading.measuredAt)
        } catch {
            logger.warning("cannot store the exchange's clock offset", metadata: ["error": "\(error)"])
        }
        return reading
    }

    /// Logs an offset over a second as a warning when it first appears or moves by more than a second (or a tenth of
    /// itself: a replay running faster than real time moves minutes between cycles, years from ours).
    private func report(_ reading: ExchangeClock.Reading) {
        let offset = reading.offsetMilliseconds
        let metadata: Logger.Metadata = [
            "offset_ms": "\(offset)", "round_trip_ms": "\(reading.roundTripMilliseconds)",
        ]
        guard offset.magnitude > ExchangeClock.warningOffsetMilliseconds.magnitude else {
            warnedOffset = nil
            logger.debug("measured the exchange's clock", metadata: metadata)
            return
        }
        if let warnedOffset, (warnedOffset - offset).magnitude <= max(1_000, warnedOffset.magnitude / 10) {
            logger.debug("measured the exchange's clock", metadata: metadata)
            return
        }
        warnedOffset = offset
        logger.warning("the local clock and the exchange's differ: \(Self.describe(offset))", metadata: metadata)
    }

    /// `the exchange's clock is 5.2 s ahead of the local clock`, in the unit that reads best.
    public nonisolated static func describe(_ offset: Int64) -> String {
        let magnitude = offset.magnitude
        let amount: String
        switch magnitude {
        case ..<1_000: amount = "\(magnitude) ms"
        case ..<120_000: amount = "\(Double((magnitude + 50) / 100) / 10) s"
        case ..<7_200_000: amount = "\(magnitude / 60_000) min"
        case ..<172_800_000: amount = "\(magnitude / 3_600_000) h"
        default: amount = "\(magnitude / 86_400_000) days"
        }
        return "the exchange's clock is \(amount) \(offset < 0 ? "behind" : "ahead of") the local clock"
    }

    static func encode(_ reading: ExchangeClock.Reading) -> String {
        "\(reading.offsetMilliseconds),\(reading.roundTripMilliseconds),\(reading.measuredAt)"
    }

    /// The stored reading; `nil` when there is none or it does not parse (an old or hand-edited value).
    public nonisolated static func decode(_ text: String) -> ExchangeClock.Reading? {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 3, let offset = Int64(parts[0]), let roundTrip = Int64(parts[1]), let measuredAt = Int64(parts[2]),
            offset.magnitude <= UInt64(UTCTime.latest), (0...UTCTime.latest).contains(roundTrip), (0...UTCTime.latest).contains(measuredAt)
        else { return nil }
        return ExchangeClock.Reading(offsetMilliseconds: offset, roundTripMilliseconds: roundTrip, measuredAt: measuredAt)
    }

    /// The reading the collector stored last, for a process that does not measure itself.
    public nonisolated static func stored(in warehouse: any SettingsStore) async throws(WarehouseError) -> ExchangeClock.Reading? {
        try await warehouse.setting(settingKey).flatMap(decode)
    }
}

extension ExchangeClock {
    /// The offset this process measured, or else the one the collector stored in the warehouse.
    public func currentReading(from warehouse: any SettingsStore) async throws(WarehouseError) -> Reading? {
        if measuresItself { return reading }
        if let stored = try await ExchangeClockSync.stored(in: warehouse) { adopt(stored) }
        return reading
    }
}
