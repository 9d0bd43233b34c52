public import MarketData

/// How often each kind of request goes out so that a cycle's expected weight fits the budget: k-lines for every symbol
/// every cycle, order books every `depthEvery` cycles, stretched as far as needed. K-lines are never stretched: they are
/// the data; the order book is a snapshot whose cadence is a trade-off.
public struct ExtractionPlan: Sendable, Hashable, CustomStringConvertible {
    /// Share of the budget a plan may fill; the rest is left for catch-up pages, retries, gap fills and exchangeInfo.
    public static let plannedShare = 0.8

    public var symbols: Int
    public var cycleSeconds: Int
    public var depthLimit: Int
    public var budgetPerMinute: Int
    /// A symbol's order book is fetched every this many cycles.
    public private(set) var depthEvery: Int
    public private(set) var klinesWeightPerMinute: Double
    public private(set) var depthWeightPerMinute: Double

    public init(symbols: Int, cycleSeconds: Int, depthLimit: Int, budgetPerMinute: Int) {
        self.symbols = max(0, symbols)
        self.cycleSeconds = max(1, cycleSeconds)
        self.depthLimit = depthLimit
        self.budgetPerMinute = max(1, budgetPerMinute)
        let cyclesPerMinute = 60 / Double(self.cycleSeconds)
        klinesWeightPerMinute = Double(self.symbols * BinanceWeights.klines) * cyclesPerMinute
        let depthRound = Double(self.symbols * BinanceWeights.depth(limit: depthLimit)) * cyclesPerMinute
        let room = Double(self.budgetPerMinute) * Self.plannedShare - klinesWeightPerMinute
        if depthRound <= room || depthRound == 0 {
            depthEvery = 1
        } else if room <= 0 {
            // Not even the k-lines fit: order books as rarely as once an hour; the budget makes the k-lines wait.
            depthEvery = max(1, 3_600 / self.cycleSeconds)
        } else {
            depthEvery = Int((depthRound / room).rounded(.up))
        }
        depthWeightPerMinute = depthRound / Double(depthEvery)
    }

    /// Seconds between two order books of one symbol.
    public var effectiveDepthCadenceSeconds: Int { cycleSeconds * depthEvery }
    public var weightPerMinute: Double { klinesWeightPerMinute + depthWeightPerMinute }
    /// K-lines alone need more than the planned share: they will be late.
    public var klinesOverBudget: Bool { klinesWeightPerMinute > Double(budgetPerMinute) * Self.plannedShare }
    public var depthStretched: Bool { depthEvery > 1 }

    /// Whether the symbol at `index` gets an order book in cycle `cycle`: spread so every cycle carries about the same
    /// weight instead of all books in one cycle.
    public func includesDepth(symbolIndex: Int, cycle: Int) -> Bool {
        depthEvery == 1 || (cycle + symbolIndex) % depthEvery == 0
    }

    public var description: String {
        var text =
            "\(symbols) symbols every \(cycleSeconds) s need \(Int(weightPerMinute.rounded(.up))) weight/min "
            + "(k-lines \(Int(klinesWeightPerMinute.rounded(.up))), order books \(Int(depthWeightPerMinute.rounded(.up)))) "
            + "of a budget of \(budgetPerMinute)/min"
        if klinesOverBudget {
            text +=
                "; k-lines alone exceed \(Int(Self.plannedShare * 100))% of the budget, so they will run late: track fewer symbols or raise --weight-budget"
        }
        if depthStretched {
            text += "; order books (limit \(depthLimit)) stretched to every \(effectiveDepthCadenceSeconds) s per symbol"
        } else {
            text += "; order books every cycle"
        }
        return text
    }
}
