import ArgumentParser

@main
struct CryptoPipe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cryptopipe",
        abstract: "Binance market data → data lake → SQL warehouse, with a simulated exchange for offline use.",
        discussion: """
            Every option can also be set through its environment variable (shown in each option's help);
            a flag wins over the environment, the environment over the default.
            """,
        subcommands: [
            Extract.self, Transform.self, Aggregate.self, Import.self, Backfill.self, Gaps.self, Maintain.self, Run.self, Serve.self,
            Demo.self,
            Export.self, Lake.self, Status.self, SimulateExchange.self,
        ]
    )
}
