import MarketData
import Testing

struct ExactDecimalTests {
    @Test(arguments: [
        ("0.01634790", "0.01634790"), ("43250.12", "43250.12000000"), ("-1.5", "-1.50000000"), ("0", "0.00000000"),
        ("000123.00000000", "123.00000000"), (".5", "0.50000000"),
        ("123456789012345678901.12345678", "123456789012345678901.12345678"), ("0.000000010000", "0.00000001"),
        ("-0", "0.00000000"), ("18446744073709551616.5", "18446744073709551616.50000000"),
        // Either side of the switch from 64-bit to 128-bit accumulation (18 integer digits), and the largest input.
        ("999999999999999999.99999999", "999999999999999999.99999999"),
        ("1000000000000000000", "1000000000000000000.00000000"),
        ("-99999999999999999999999999999.99999999", "-99999999999999999999999999999.99999999"),
    ])
    func parsesAndFormatsCanonically(input: String, canonical: String) throws {
        let value = try ExactDecimal(parsing: input)
        #expect(value.description == canonical)
        #expect(try ExactDecimal(parsing: value.description) == value)
    }

    @Test(arguments: [
        "", "-", ".", "7.", "1e5", "+1", " 1", "1 ", "1.2.3", "abc", "1,5", "0.123456789", "NaN", "1234567890123456789012345678901",
        "100000000000000000000000000000",
    ])
    func rejectsWhatItCannotHoldExactly(input: String) {
        #expect(throws: DecimalParseError.self) { try ExactDecimal(parsing: input) }
    }

    @Test func addsAndComparesExactly() throws {
        // 0.1 + 0.2 is exactly 0.3 here, unlike in binary floating point.
        let sum = try ExactDecimal(parsing: "0.1") + ExactDecimal(parsing: "0.2")
        #expect(sum == (try ExactDecimal(parsing: "0.3")))
        #expect(try ExactDecimal(parsing: "-0.00000001") < .zero)
        #expect(try ExactDecimal(parsing: "10") > ExactDecimal(parsing: "9.99999999"))
        var total = ExactDecimal.zero
        for _ in 0..<1_000_000 { total += try ExactDecimal(parsing: "0.00000001") }
        #expect(total.description == "0.01000000")
    }

    @Test func doubleValueIsOnlyAnApproximation() throws {
        #expect(abs(try ExactDecimal(parsing: "43250.12345678").doubleValue - 43250.12345678) < 1e-9)
    }
}

struct SymbolTests {
    @Test func validatesBinanceStyleSymbols() throws {
        #expect(try Symbol("BTCUSDT").rawValue == "BTCUSDT")
        #expect(try Symbol("1000SATSUSDT").rawValue == "1000SATSUSDT")
        for bad in ["btcusdt", "BTC", "BTC-USDT", "BTCUSDT ", "ABCDEFGHIJKLMNOPQRSTU", ""] {
            #expect(throws: SymbolError.self, "\(bad)") { try Symbol(bad) }
        }
    }

    @Test func parsesListsLeniently() throws {
        #expect(try Symbol.parseList(" btcusdt, ETHUSDT ,BTCUSDT").map(\.rawValue) == ["BTCUSDT", "ETHUSDT"])
        #expect(throws: SymbolError.self) { try Symbol.parseList(" , ") }
        #expect(throws: SymbolError.self) { try Symbol.parseList("BTCUSDT,ETH/USDT") }
    }
}
