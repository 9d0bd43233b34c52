import ArgumentParser

/// Options of the commands that extract.
struct ExtractOptionGroup: ParsableArguments {
    @Option(name: .long, help: "Candles fetched the first time a symbol is extracted (env CRYPTOPIPE_INITIAL_CANDLES, default 100).")
    var initialCandles: String?

    @Option(name: .long, help: "Order-book levels per side, 1-5000 (env CRYPTOPIPE_DEPTH_LIMIT, default 100).")
    var depthLimit: String?

    func resolve(_ settings: Settings = Settings()) throws(CLIError) -> ExtractOptions {
        ExtractOptions(
            initialCandles: try settings.integer(
                initialCandles, option: "--initial-candles", env: "CRYPTOPIPE_INITIAL_CANDLES", default: 100, range: 1...100_000),
            depthLimit: try settings.integer(
                depthLimit, option: "--depth-limit", env: "CRYPTOPIPE_DEPTH_LIMIT", default: 100, range: 1...5_000))
    }
}

struct ExtractOptions {
    var initialCandles: Int
    var depthLimit: Int
}

/// Options of the commands that loop.
struct RunOptionGroup: ParsableArguments {
    @Option(
        name: .long,
        help:
            "Seconds between extract-transform runs for a new warehouse; afterwards the saved schedule (env CRYPTOPIPE_EVERY, default 60).")
    var every: String?

    @Option(name: .long, help: "Stop after this many cycles (env CRYPTOPIPE_CYCLES, default: run until SIGINT/SIGTERM).")
    var cycles: String?

    /// Whether `--every` or `CRYPTOPIPE_EVERY` was given.
    var given: Bool { every != nil || !(Settings().environment["CRYPTOPIPE_EVERY"] ?? "").isEmpty }

    func resolve(_ settings: Settings = Settings()) throws(CLIError) -> (every: Int, cycles: Int?) {
        (
            try settings.integer(every, option: "--every", env: "CRYPTOPIPE_EVERY", default: 60, range: 1...86_400),
            try settings.optionalInteger(cycles, option: "--cycles", env: "CRYPTOPIPE_CYCLES", range: 1...Int.max)
        )
    }
}
