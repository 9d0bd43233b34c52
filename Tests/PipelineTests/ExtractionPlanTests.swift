import Pipeline
import Testing

/// The plan stretches the order-book cadence, never the k-lines, until a cycle's weight fits the budget.
struct ExtractionPlanTests {
    @Test func aFewSymbolsGetEveryOrderBookEveryCycle() {
        let plan = ExtractionPlan(symbols: 20, cycleSeconds: 60, depthLimit: 100, budgetPerMinute: 3_000)
        #expect(plan.depthEvery == 1 && !plan.depthStretched && !plan.klinesOverBudget)
        #expect(plan.weightPerMinute == 20 * 2 + 20 * 5)
        #expect(plan.description.contains("order books every cycle"))
    }

    @Test func fiveHundredSymbolsStretchTheOrderBooksToEveryOtherMinute() {
        let plan = ExtractionPlan(symbols: 500, cycleSeconds: 60, depthLimit: 100, budgetPerMinute: 3_000)
        // K-lines 1000/min; books 2500/min would make 3500 > 2400 planned: every 2nd cycle gives 1250.
        #expect(plan.depthEvery == 2 && plan.effectiveDepthCadenceSeconds == 120)
        #expect(plan.klinesWeightPerMinute == 1_000 && plan.depthWeightPerMinute == 1_250)
        #expect(plan.weightPerMinute <= 3_000 * ExtractionPlan.plannedShare)
        #expect(plan.description.contains("stretched to every 120 s"))
        // Each symbol gets exactly one book per two cycles, and each cycle carries half of them.
        for cycle in 1...4 {
            let due = (0..<500).filter { plan.includesDepth(symbolIndex: $0, cycle: cycle) }
            #expect(due.count == 250)
        }
        for symbol in 0..<500 {
            #expect((1...2).filter { plan.includesDepth(symbolIndex: symbol, cycle: $0) }.count == 1)
        }
    }

    @Test func fasterCyclesAndDeeperBooksStretchFurther() {
        let plan = ExtractionPlan(symbols: 100, cycleSeconds: 30, depthLimit: 500, budgetPerMinute: 3_000)
        // K-lines 400/min; books (weight 25) 5000/min per round against 2000 of room: every 3rd cycle.
        #expect(plan.depthEvery == 3 && plan.effectiveDepthCadenceSeconds == 90)
        #expect(plan.weightPerMinute <= 2_400)
    }

    @Test func whenTheKlinesAloneDoNotFitThePlanSaysSo() {
        let plan = ExtractionPlan(symbols: 2_000, cycleSeconds: 60, depthLimit: 100, budgetPerMinute: 3_000)
        #expect(plan.klinesOverBudget)
        #expect(plan.depthEvery == 60)
        #expect(plan.description.contains("k-lines alone exceed 80% of the budget"))
    }
}
