import ConvKitBench
import Foundation
import Testing

@Suite struct ModelBenchTests {
    /// A quick LeNet-5 run gives consistent numbers: ordered percentiles, one
    /// timing per compiled step, a layer sum that adds up, and a JSON round trip.
    @Test func lenet5QuickRunIsConsistent() throws {
        let config = ModelBenchConfiguration(model: "lenet5", batch: 2, threads: [1, 2], quick: true)
        let report = try ModelBench.run(config)
        #expect(report.model == "lenet5")
        #expect(report.inputShape == "2x1x32x32")
        #expect(report.results.map(\.threads) == [1, 2])
        for r in report.results {
            #expect(r.runs >= config.minRuns)
            #expect(r.p10Ms > 0 && r.p10Ms <= r.medianMs && r.medianMs <= r.p90Ms)
            #expect(abs(r.imagesPerSecond - 2000 / r.medianMs) < 1e-6 * r.imagesPerSecond)
            #expect(!r.layers.isEmpty)
            #expect(r.layers.allSatisfy { $0.medianMs >= 0 && !$0.operation.isEmpty })
            #expect(r.layers.contains { $0.operation.hasPrefix("conv ") })
            let sum = r.layers.reduce(0) { $0 + $1.medianMs }
            #expect(abs(sum - r.layerSumMs) < 1e-9)
            #expect(abs(r.differencePercent - 100 * (r.medianMs - r.layerSumMs) / r.medianMs) < 1e-9)
            #expect(r.peakActivationBytes > 0)
            #expect(r.profiledRunMs > 0 && r.inRunDifferencePercent.isFinite && r.inRunDifferencePercent < 100)
        }
        let decoded = try JSONDecoder().decode(ModelBenchReport.self, from: try report.jsonData())
        #expect(decoded == report)
        #expect(report.table.contains("Per-layer breakdown, 2 threads"))
    }

    @Test func unknownModelAndBadSettingsAreRejected() {
        #expect(throws: BenchError.self) { try ModelBench.run(ModelBenchConfiguration(model: "nosuchnet", quick: true)) }
        #expect(throws: BenchError.self) {
            try ModelBench.run(ModelBenchConfiguration(model: "lenet5", threads: [], quick: true))
        }
        #expect(throws: BenchError.self) {
            try ModelBench.run(ModelBenchConfiguration(model: "lenet5", batch: 0, quick: true))
        }
    }
}
