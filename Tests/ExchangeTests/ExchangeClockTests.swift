import Exchange
import MarketData
import Synchronization
import Testing

/// The offset arithmetic of ``ExchangeClock`` on a clock the test moves.
struct ExchangeClockTests {
    final class Local: Sendable {
        let time = Mutex<Int64>(1_767_225_600_000)
        var reader: PipelineClock { PipelineClock { self.time.withLock { $0 } } }
        func advance(_ milliseconds: Int64) { time.withLock { $0 += milliseconds } }
    }

    @Test func theOffsetIsTakenHalfWayThroughTheRoundTrip() throws {
        let local = Local()
        let clock = ExchangeClock(local: local.reader)
        #expect(clock.reading == nil && clock.now() == local.reader.now() && clock.isDue(every: 300_000))
        let sent = local.reader.now()
        local.advance(40)
        // The exchange read its clock 20 ms after we asked, and it said 5 s later than ours did then.
        let reading = try #require(clock.record(serverTime: sent + 20 + 5_000, sentAt: sent, receivedAt: local.reader.now()))
        #expect(reading == ExchangeClock.Reading(offsetMilliseconds: 5_000, roundTripMilliseconds: 40, measuredAt: sent + 40))
        #expect(clock.now() == local.reader.now() + 5_000 && clock.measuresItself)
        #expect(!clock.isDue(every: 300_000))
        local.advance(300_000)
        #expect(clock.isDue(every: 300_000))
    }

    @Test func impossibleReadingsAreRefusedAndTheOldOffsetStays() {
        let clock = ExchangeClock(local: Local().reader)
        clock.record(serverTime: 1_000_000, sentAt: 2_000_000, receivedAt: 2_000_010)
        for (server, sent, received) in [
            (-1, 0, 0), (UTCTime.latest + 1, 0, 0), (0, 10, 5), (0, -5, 0), (0, 0, Int64.max), (Int64.min, Int64.min, Int64.max),
        ] as [(Int64, Int64, Int64)] {
            #expect(clock.record(serverTime: server, sentAt: sent, receivedAt: received) == nil)
        }
        #expect(clock.reading?.offsetMilliseconds == -1_000_005)
    }

    @Test func aDateHeaderTheRequestCannotHaveProducedMarksTheOffsetStaleOnce() throws {
        let local = Local()
        let clock = ExchangeClock(local: local.reader)
        let now = local.reader.now()
        // Without an offset there is nothing to contradict.
        #expect(clock.crossCheck(dateHeader: 0, sentAt: now, receivedAt: now, reading: nil) == .consistent)
        let reading = try #require(clock.record(serverTime: now + 30_000, sentAt: now, receivedAt: now))
        let second = now + 30_000
        // The header's second may not end before the send (no slack: an offset running ahead is the dangerous one),
        // nor start more than a second after the answer arrived.
        for header in [second, second + 1_000] {
            #expect(clock.crossCheck(dateHeader: header, sentAt: now, receivedAt: now + 5, reading: reading) == .consistent)
        }
        #expect(!clock.isDue(every: 300_000))
        #expect(clock.crossCheck(dateHeader: second - 1_000, sentAt: now, receivedAt: now + 5, reading: reading) == .contradicted)
        #expect(clock.crossCheck(dateHeader: second + 2_000, sentAt: now, receivedAt: now + 5, reading: reading) == .alreadyStale)
        #expect(clock.isDue(every: 300_000) && clock.contradictions == 1)
        let remeasured = try #require(clock.record(serverTime: now + 29_000, sentAt: now, receivedAt: now))
        #expect(!clock.isDue(every: 300_000))
        // A check against the reading a request went out with, measured again meanwhile, disagrees with that reading
        // (its response is stamped accordingly) but leaves the new one alone.
        #expect(clock.crossCheck(dateHeader: second - 5_000, sentAt: now, receivedAt: now, reading: reading) == .alreadyStale)
        #expect(!clock.isDue(every: 300_000))
        #expect(clock.crossCheck(dateHeader: second - 5_000, sentAt: now, receivedAt: now, reading: remeasured) == .contradicted)
        // Absurd headers and times neither trap nor count as contradictions.
        for (header, sent, received) in [(Int64.max, 0, 0), (Int64.min, 0, 0), (0, 5, 1)] as [(Int64, Int64, Int64)] {
            #expect(clock.crossCheck(dateHeader: header, sentAt: sent, receivedAt: received, reading: remeasured) == .consistent)
        }
        _ = clock.crossCheck(dateHeader: 0, sentAt: .max, receivedAt: .max, reading: remeasured)
    }

    /// Two measurements whose offsets moved apart show the clocks drifting; the next is due before the drift can
    /// reach half a second, so a replay running 60 times as fast is measured every few milliseconds of ours.
    @Test func aDriftingClockIsMeasuredBeforeItDriftsHalfASecond() {
        let local = Local()
        let clock = ExchangeClock(local: local.reader)
        let start = local.reader.now()
        clock.record(serverTime: start, sentAt: start, receivedAt: start)
        local.advance(10_000)
        // The exchange's clock advanced 600 s in our 10 s.
        clock.record(serverTime: start + 600_000, sentAt: local.reader.now(), receivedAt: local.reader.now())
        #expect(!clock.isDue(every: 300_000))
        local.advance(9)
        #expect(clock.isDue(every: 300_000))
        // Two quartz clocks 3 ms apart over 5 minutes: the interval decides.
        let quartz = ExchangeClock(local: local.reader)
        let t = local.reader.now()
        quartz.record(serverTime: t + 40, sentAt: t, receivedAt: t)
        local.advance(300_000)
        quartz.record(serverTime: local.reader.now() + 43, sentAt: local.reader.now(), receivedAt: local.reader.now())
        local.advance(299_999)
        #expect(!quartz.isDue(every: 300_000))
        local.advance(1)
        #expect(quartz.isDue(every: 300_000))
    }

    @Test func theEarliestExchangeTimeAllowsForHalfTheRoundTrip() throws {
        let local = Local()
        let clock = ExchangeClock(local: local.reader)
        let now = local.reader.now()
        #expect(clock.reading == nil && clock.exchangeTime(atLocal: now) == now)
        clock.record(serverTime: now + 10_020, sentAt: now, receivedAt: now + 41)
        // Offset 10 000 (half of 41 is 20), uncertain by 21 either way.
        #expect(clock.reading?.offsetMilliseconds == 10_000)
        let reading = try #require(clock.reading)
        #expect(reading.earliestExchangeTime(atLocal: now) == now + 10_000 - 21)
        #expect(clock.exchangeTime(atLocal: now) == now + 10_000)
        // Saturating, not trapping, at the ends of Int64.
        #expect(reading.earliestExchangeTime(atLocal: .min) == .min + 10_000)
        #expect(reading.earliestExchangeTime(atLocal: .max) == .max)
    }

    @Test func aSampleIsConsistentOnlyWithinTheSecondItsDateHeaderNames() {
        let second: Int64 = 1_767_225_600_000
        for (serverTime, consistent) in [
            (second, true), (second + 999, true), (second - 1_000, true), (second + 1_999, true), (second - 1_001, false),
            (second + 2_000, false), (253_402_300_799_999, false),
        ] as [(Int64, Bool)] {
            #expect(
                ServerTimeSample(serverTime: serverTime, sentAt: 0, receivedAt: 0, dateHeader: second).agreesWithDateHeader == consistent)
        }
        #expect(ServerTimeSample(serverTime: 5, sentAt: 0, receivedAt: 0).agreesWithDateHeader)
        #expect(!ServerTimeSample(serverTime: 5, sentAt: 0, receivedAt: 0, dateHeader: .min).agreesWithDateHeader)
    }

    @Test func aStoredReadingIsAdoptedUntilTheProcessMeasuresItself() {
        let local = Local()
        let clock = ExchangeClock(local: local.reader)
        let stored = ExchangeClock.Reading(offsetMilliseconds: -157_766_400_000, roundTripMilliseconds: 3, measuredAt: 1)
        clock.adopt(stored)
        #expect(clock.reading == stored && !clock.measuresItself && clock.now() == local.reader.now() - 157_766_400_000)
        // An adopted reading may be old or another machine's: a process that talks to the exchange measures anyway.
        #expect(clock.isDue(every: 300_000))
        clock.adopt(ExchangeClock.Reading(offsetMilliseconds: 7, roundTripMilliseconds: 3, measuredAt: 2))
        #expect(clock.reading?.offsetMilliseconds == 7)
        let now = local.reader.now()
        clock.record(serverTime: now + 12, sentAt: now, receivedAt: now)
        clock.adopt(stored)
        #expect(clock.reading?.offsetMilliseconds == 12 && clock.measuresItself)
        // Saturates instead of trapping at the ends of Int64.
        let extreme = ExchangeClock(local: PipelineClock { .max })
        extreme.adopt(ExchangeClock.Reading(offsetMilliseconds: 1, roundTripMilliseconds: 0, measuredAt: 0))
        #expect(extreme.now() == .max)
    }
}
