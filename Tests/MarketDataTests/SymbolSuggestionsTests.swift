import MarketData
import Testing

struct SymbolSuggestionsTests {
    static let listed = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "BTCUSDC", "ETHBTC", "SOLUSDT"]

    @Test(arguments: [
        ("BTCUSTD", ["BTCUSDT"]),  // two letters swapped
        ("ETHUSD", ["ETHUSDT"]),  // one letter missing
        ("BTCUSDTT", ["BTCUSDT"]),  // one letter too many
        ("BTCUSDX", ["BTCUSDC", "BTCUSDT"]),  // one substitution from two names, alphabetical on a tie
        ("DOGEUSDT", []),
        ("X", []),
    ])
    func closeMatchesAreWithinTwoEditsClosestFirst(name: String, expected: [String]) {
        #expect(SymbolSuggestions.closest(to: name, in: Self.listed) == expected)
    }

    @Test func anExactNameIsNotItsOwnSuggestionAndTheListIsCapped() {
        #expect(SymbolSuggestions.closest(to: "BTCUSDT", in: Self.listed) == ["BTCUSDC"])
        #expect(SymbolSuggestions.closest(to: "AAAA", in: ["AAAB", "AABA", "ABAA", "BAAA"], limit: 3).count == 3)
    }
}
