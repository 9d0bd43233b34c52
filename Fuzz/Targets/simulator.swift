// Fuzz target `simulator`: what a client sends the simulated exchange. The input's first line is a stream connection's
// path (`StreamSession.streams(inPath:)`), the middle lines its requests (`StreamSession.handle`: SUBSCRIBE,
// UNSUBSCRIBE, LIST_SUBSCRIPTIONS or anything), the last line a REST query string given to every endpoint of
// `SimulatedExchange.handle`. Never a trap; a session never holds more than its stream limit, and every request is
// answered with JSON or refused. Built with every MarketData and ExchangeSimulator file but the HTTP server's.
import Foundation

let start: Int64 = 1_767_225_630_000
let symbols = [try! Symbol("BTCUSDT"), try! Symbol("ETHUSDT")]
let market = SyntheticMarket(seed: 7, symbols: symbols)
let exchange = SimulatedExchange(
    // A limit no input reaches: the weight of every run adds up at one instant, and 429s would hide the endpoints.
    configuration: SimulatorConfiguration(
        seed: 7, symbols: symbols, historyMinutes: 120, weightLimitPerMinute: 1 << 40, clock: PipelineClock { start }),
    market: market)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: count))
    let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
    guard let first = lines.first else { return 0 }
    let path = String(decoding: first, as: UTF8.self)
    let named = StreamSession.streams(inPath: path)
    var session = StreamSession(market: market, listed: symbols, combined: named?.combined ?? true)
    if let named { _ = try? session.subscribe(named.names, at: start) }
    // Requests a second apart, so the message rate lets each through.
    for (index, line) in lines.dropFirst().dropLast().prefix(64).enumerated() {
        do {
            let reply = try session.handle(line, at: start + Int64(index) * 1_000)
            precondition(reply.first == UInt8(ascii: "{") && reply.last == UInt8(ascii: "}"), "a reply that is not a JSON object")
        } catch {
            // Refused: the server closes the connection.
        }
        precondition(session.streamCount <= StreamSession.maximumStreams)
    }
    guard lines.count > 1, let last = lines.last else { return 0 }
    var query: [String: String] = [:]
    for field in String(decoding: last, as: UTF8.self).split(separator: "&").prefix(16) {
        let parts = field.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        query[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
    }
    for endpoint in ["/api/v3/klines", "/api/v3/depth", "/api/v3/exchangeInfo", "/api/v3/time", "/api/v3/nothing"] {
        let reply = exchange.handle(path: endpoint, query: query, client: "fuzz")
        precondition([200, 400, 404, 429, 418].contains(reply.status), "status \(reply.status) for \(endpoint)")
        precondition(reply.status != 200 || !reply.body.isEmpty)
    }
    return 0
}
