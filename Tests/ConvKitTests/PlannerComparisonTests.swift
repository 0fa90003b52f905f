import ConvKit
import Foundation
import Synchronization
import Testing

/// A scripted sampler: fixed seconds per algorithm (workspace variants a bit slower), counting runs.
final class FakeSampler: PlannerSampler {
    let seconds: [Algorithm: Double]
    let runs = Mutex<[Algorithm: Int]>([:])

    init(_ seconds: [Algorithm: Double]) { self.seconds = seconds }

    func prepare(descriptor: Conv2DDescriptor, options: PlanOptions) throws -> () throws -> Double {
        guard let s = seconds[options.algorithm] else {
            throw ConvKitError(code: .unsupportedAlgorithm, message: "fake: no time for \(options.algorithm)")
        }
        let t = options.workspaceLimit > 0 ? s * 1.5 : s
        let algorithm = options.algorithm
        return {
            self.runs.withLock { $0[algorithm, default: 0] += 1 }
            return t
        }
    }
}

@Suite("Planner comparison")
struct PlannerComparisonTests {
    @Test("Totals follow the modes' choices and the single-algorithm rule")
    func totals() throws {
        let options = PlanOptions(threads: 1)
        let requests = [
            PlannerRequest(name: "wino", descriptor: try conv(64, 56, 64), options: options),
            PlannerRequest(name: "dw", descriptor: try conv(32, 28, 32, groups: 32), options: options),
            PlannerRequest(name: "pw", descriptor: try conv(64, 14, 64, kernel: 1, pad: 0), options: options),
        ]
        let sampler = FakeSampler([.winogradF4: 3e-3, .winogradF2: 4e-3, .direct: 2e-3, .im2col: 5e-3,
                                   .depthwise: 1e-3])
        let settings = PlannerComparisonSettings(rounds: 4, secondsPerRound: 0, maxRunsPerRound: 2)
        let c = PlannerComparison.run(requests, counts: [2, 1, 1], settings: settings, sampler: sampler)
        #expect(c.layers.count == 3)
        #expect(c.layers[0].measure.algorithm == .direct)
        #expect(c.layers[0].exhaustive.algorithm == .direct)
        #expect(c.layers[1].measure.algorithm == .depthwise)
        // The single-algorithm totals: depthwise falls back to im2col outside the depthwise layer.
        let allDepthwise = try #require(c.totals.first { $0.name == "all depthwise" })
        #expect(Set(allDepthwise.fallbackLayers) == ["wino", "pw"])
        #expect(abs(allDepthwise.seconds - (5e-3 * 2 + 1e-3 + 5e-3)) < 1e-12)
        let measure = try #require(c.total("measure"))
        #expect(abs(measure - (2e-3 * 2 + 1e-3 + 2e-3)) < 1e-12)
        #expect(c.total("exhaustive")! <= c.bestSingleAlgorithm!.seconds)
        #expect(c.estimateOverMeasure! >= 1)
        // Interleaved: every candidate ran in every round, once (secondsPerRound 0 stops after one run).
        let runs = sampler.runs.withLock { $0 }
        #expect(runs[.depthwise] == 4)
        // Round-trips through JSON.
        let data = try JSONEncoder().encode(c)
        let back = try JSONDecoder().decode(PlannerComparison.self, from: data)
        #expect(back.layers.map(\.measure) == c.layers.map(\.measure))
    }
}
