public import MarketData

/// Guards for paging k-lines by `startTime`: each page must move the next request's start forward, or a server that
/// repeats a page (or answers with older candles) would be asked the same thing forever.
extension KlineRequest {
    /// The query parameters, in the order Binance documents them.
    public var queryItems: [(String, String)] {
        var query: [(String, String)] = [("symbol", symbol.rawValue), ("interval", interval.rawValue)]
        if let startTime { query.append(("startTime", String(startTime))) }
        if let endTime { query.append(("endTime", String(endTime))) }
        if let limit { query.append(("limit", String(limit))) }
        return query
    }

    /// Path and query, as sent; names the request in errors.
    public var endpoint: String { "/api/v3/klines?" + queryItems.map { "\($0.0)=\($0.1)" }.joined(separator: "&") }

    /// Throws when the answer to this request ends before `startTime`: the exchange sent candles older than asked, so
    /// neither storing them nor paging on from them makes sense.
    public func checkPage(_ page: [Kline]) throws(ExchangeError) {
        guard let startTime, let newest = page.last, newest.openTime < startTime else { return }
        throw ExchangeError(
            .pagingDoesNotAdvance("the newest candle opens at \(newest.openTime), before the requested start \(startTime)"),
            endpoint: endpoint)
    }

    /// Start time of the page after a full answer to this request whose newest candle opens at `newestOpenTime`: the
    /// next candle's open time.
    ///
    /// Throws unless the newest candle opens after this request's start (a full page that does not is the same page
    /// again or older candles), and when the next open time does not fit in `Int64` (an outside open time near
    /// `Int64.max` must not trap).
    public func nextStartTime(after newestOpenTime: Int64) throws(ExchangeError) -> Int64 {
        if let startTime, newestOpenTime <= startTime {
            throw ExchangeError(
                .pagingDoesNotAdvance("a full page ends at open time \(newestOpenTime), not after the requested start \(startTime)"),
                endpoint: endpoint)
        }
        if let length = interval.milliseconds {
            let (next, overflow) = newestOpenTime.addingReportingOverflow(length)
            guard !overflow else {
                throw ExchangeError(
                    .pagingDoesNotAdvance("the candle after open time \(newestOpenTime) opens past the largest representable time"),
                    endpoint: endpoint)
            }
            return next
        }
        // Months follow the calendar; past year 9999 its arithmetic is not needed, so it is not trusted there.
        guard newestOpenTime <= Self.latestMonthOpenTime else {
            throw ExchangeError(.pagingDoesNotAdvance("monthly open time \(newestOpenTime) is past the year 9999"), endpoint: endpoint)
        }
        return interval.nextOpenTime(after: newestOpenTime)
    }

    /// 9999-12-01T00:00:00Z, the last monthly open time paged on.
    static let latestMonthOpenTime: Int64 = 253_399_622_400_000
}
