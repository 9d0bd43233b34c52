import Crypto
import Foundation
import Hummingbird
import MarketData
import Warehouse

/// Reads and validates query and path parameters; every bad value is a 400 naming the parameter and what is expected.
struct QueryReader {
    let request: Request

    /// The first value of `name` in the raw query, decoded by ``URLEncodedForm`` (so `+` is a space).
    func string(_ name: String) -> String? {
        guard let query = request.uri.query else { return nil }
        return URLEncodedForm.firstValue(name, in: query)
    }

    func integer(_ name: String, in range: ClosedRange<Int>, default defaultValue: Int) throws(APIError) -> Int {
        guard let text = string(name) else { return defaultValue }
        guard let value = QueryValue.integer(text, in: range) else {
            throw .badRequest(
                "invalid_\(name)", "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound), not '\(shown(text))'")
        }
        return value
    }

    /// Epoch milliseconds or ISO-8601 (`2024-01-31T12:00:00Z`), between 1970 and 9999.
    func time(_ name: String) throws(APIError) -> Int64? {
        guard let text = string(name) else { return nil }
        guard let value = QueryValue.time(text) else {
            throw .badRequest(
                "invalid_\(name)", "\(name) must be epoch milliseconds or ISO-8601 such as 2024-01-31T12:00:00Z, not '\(shown(text))'")
        }
        return value
    }

    /// Any Binance interval from `1m` to `1M` (``QueryValue/servedIntervals``).
    func interval(default defaultValue: Interval = .oneMinute) throws(APIError) -> Interval {
        guard let text = string("interval") else { return defaultValue }
        guard let interval = QueryValue.servedInterval(text) else {
            throw .badRequest(
                "invalid_interval",
                "interval must be one of \(QueryValue.servedIntervals.map(\.rawValue).joined(separator: ", ")), not '\(shown(text))'")
        }
        return interval
    }

    /// The ingestion log's filters, as the API and the Pipeline page take them: `job` (one of `jobs`) and `status`; a
    /// blank value (the page's "all") means no filter.
    func jobRunFilter(jobs: [JobName]) throws(APIError) -> (job: JobName?, status: JobRunStatus?) {
        var job: JobName?
        if let text = string("job"), !text.isEmpty {
            guard jobs.contains(JobName(rawValue: text)) else {
                throw .badRequest(
                    "invalid_job", "job must be one of \(jobs.map(\.rawValue).joined(separator: ", ")), not '\(shown(text))'")
            }
            job = JobName(rawValue: text)
        }
        var status: JobRunStatus?
        if let text = string("status"), !text.isEmpty {
            guard let value = JobRunStatus(rawValue: text) else {
                let names = JobRunStatus.allCases.map(\.rawValue).joined(separator: ", ")
                throw .badRequest("invalid_status", "status must be one of \(names), not '\(shown(text))'")
            }
            status = value
        }
        return (job, status)
    }

    static let servedIntervals: [Interval] = QueryValue.servedIntervals
    /// 9999-12-31T23:59:59.999Z.
    static let latestTime: Int64 = QueryValue.latestTime
}

extension Request {
    var query: QueryReader { QueryReader(request: self) }
}

/// The `{symbol}` path segment, upper-cased and validated.
func pathSymbol(_ context: some RequestContext) throws(APIError) -> Symbol {
    let text = context.parameters.get("symbol") ?? ""
    do {
        return try Symbol(asciiUppercased(text))
    } catch {
        throw .badRequest("invalid_symbol", "'\(shown(text))' is not a symbol: expected letters and digits such as BTCUSDT")
    }
}

/// Constant-time comparison of the two texts' SHA-256 digests, so response timing reveals neither how much of a guessed
/// token was right nor the token's length.
func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
    let a = Array(SHA256.hash(data: Array(lhs.utf8)))
    let b = Array(SHA256.hash(data: Array(rhs.utf8)))
    var difference: UInt8 = 0
    for index in 0..<a.count { difference |= a[index] ^ b[index] }
    return difference == 0
}

/// An outside value quoted in an error message: at most 40 characters, so a URL cannot fill a page with its own text.
func shown(_ text: String) -> String {
    text.count <= 40 ? text : String(text.prefix(40)) + "…"
}

extension Request {
    /// The JSON body as `T`, through Hummingbird's `decode(as:context:)` (which reads at most the context's
    /// `maxUploadSize`, 64 KiB here); anything else is a 400 saying what was expected.
    func decodeJSON<T: Decodable>(_ type: T.Type, context: some RequestContext, expected: String) async throws -> T {
        do {
            return try await decode(as: type, context: context)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, code: "body_too_large", "the request body is larger than \(context.maxUploadSize / 1_024) KiB")
        } catch {
            throw APIError.badRequest("invalid_body", "the request body must be JSON: \(expected)")
        }
    }
}

/// Upper-cases ASCII letters only, so no other script's letters turn into valid symbol characters.
func asciiUppercased(_ text: String) -> String {
    String(decoding: text.utf8.map { (97...122).contains($0) ? $0 - 32 : $0 }, as: UTF8.self)
}
