import ConvKit
import Foundation
import Synchronization
import Testing

/// A scripted timer: returns fixed run times per algorithm and counts its calls.
final class FakeTimer: PlannerTimer {
    let medians: [Algorithm: Double]
    let spreadOf: [Algorithm: Double]
    let calls = Mutex<[Algorithm]>([])

    init(_ medians: [Algorithm: Double], spread: [Algorithm: Double] = [:]) {
        self.medians = medians
        self.spreadOf = spread
    }

    var callCount: Int { calls.withLock { $0.count } }

    func time(descriptor: Conv2DDescriptor, options: PlanOptions, settings: PlannerTimingSettings) throws -> [Double] {
        calls.withLock { $0.append(options.algorithm) }
        guard let m = medians[options.algorithm] else {
            throw ConvKitError(code: .unsupportedAlgorithm, message: "fake: no time for \(options.algorithm)")
        }
        let spread = spreadOf[options.algorithm] ?? 1.0
        // Ten runs between m/sqrt(spread) and m*sqrt(spread): p90/p10 is close to `spread`.
        let lo = m / spread.squareRoot(), hi = m * spread.squareRoot()
        return (0..<11).map { lo + (hi - lo) * Double($0) / 10 }
    }
}

func conv(_ c: Int, _ h: Int, _ k: Int, kernel: Size2D = 3, stride: Size2D = 1, pad: Int = 1, groups: Int = 1,
          layout: Layout = .nchw) throws -> Conv2DDescriptor {
    try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: c, h: h, w: h), outputChannels: k, kernel: kernel,
                         stride: stride, padding: .symmetric(pad), groups: groups, hasBias: true, layout: layout)
}

/// A fresh temporary directory for one test.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("convkit-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite("Planner")
struct PlannerTests {
    let single = PlanOptions(threads: 1)

    @Test("Candidates are applicable and allowed only")
    func candidatesApplicableAndAllowed() throws {
        let planner = Planner(timer: FakeTimer([:]))
        let shapes = [try conv(64, 56, 64), try conv(64, 56, 128, stride: 2), try conv(32, 28, 32, groups: 32),
                      try conv(3, 64, 16, kernel: 7, stride: 2, pad: 3), try conv(64, 14, 64, kernel: 1, pad: 0),
                      try conv(16, 14, 16, groups: 2), try conv(32, 28, 32, layout: .nchw8c)]
        let optionSets = [PlanOptions(threads: 1), PlanOptions(threads: 1, allowWinograd: false),
                          PlanOptions(threads: 1, fastMath: true)]
        for d in shapes {
            for o in optionSets {
                for exhaustive in [false, true] {
                    let cands = planner.candidates(for: d, options: o, exhaustive: exhaustive)
                    #expect(!cands.isEmpty)
                    for c in cands {
                        #expect(try d.withLayout(c.layout).isApplicable(c.algorithm, options: c.planOptions(from: o)),
                                "\(c) not applicable to \(d)")
                        if !o.allowWinograd { #expect(!c.algorithm.isWinograd) }
                        if !o.fastMath { #expect(c.algorithm != .winogradF6) }
                        if c.algorithm == .depthwise { #expect(d.groups == d.inputShape.c) }
                        #expect(c.algorithm != .auto)
                        #expect(c.layout == d.layout)  // layout changes are off by default
                    }
                    let e = planner.estimate(d, options: o)
                    #expect(try d.withLayout(e.layout).isApplicable(e.algorithm, options: e.planOptions(from: o)))
                    if !o.allowWinograd { #expect(!e.algorithm.isWinograd) }
                }
            }
        }
        // Winograd variants are all there for a 3x3 stride-1 layer with fast math; F6 needs it.
        let algos = Set(planner.candidates(for: try conv(64, 56, 64), options: PlanOptions(fastMath: true))
            .map(\.algorithm))
        #expect(algos.isSuperset(of: [.winogradF2, .winogradF4, .winogradF6, .direct, .im2col]))
        #expect(!algos.contains(.depthwise))
        #expect(!Set(planner.candidates(for: try conv(64, 56, 64)).map(\.algorithm)).contains(.winogradF6))
        // Depthwise shapes get the depthwise kernels.
        #expect(Set(planner.candidates(for: try conv(32, 28, 32, groups: 32)).map(\.algorithm)).contains(.depthwise))
    }

    @Test("Exhaustive sweeps workspace limits, and layouts only when allowed")
    func exhaustiveVariants() throws {
        let d = try conv(64, 56, 64)
        let fixed = Planner(timer: FakeTimer([:])).candidates(for: d, exhaustive: true)
        #expect(fixed.contains { $0.workspaceLimit > 0 })
        #expect(Set(fixed).count == fixed.count)
        let free = Planner(configuration: PlannerConfiguration(allowLayoutChange: true), timer: FakeTimer([:]))
            .candidates(for: d, exhaustive: true)
        #expect(Set(free.map(\.layout)) == [.nchw, .nhwc, .nchw8c])
        // NCHW8c runs direct and Winograd (im2col is NCHW/NHWC only).
        #expect(Set(free.filter { $0.layout == .nchw8c }.map(\.algorithm)) == [.direct, .winogradF2, .winogradF4])
    }

    @Test("Estimate heuristic follows the documented rules")
    func estimateRules() throws {
        let p = Planner(timer: FakeTimer([:]))
        #expect(p.estimate(try conv(32, 112, 32, groups: 32)).algorithm == .depthwise)
        #expect(p.estimate(try conv(64, 56, 64)).algorithm == .winogradF4)
        #expect(p.estimate(try conv(64, 56, 64), options: PlanOptions(allowWinograd: false)).algorithm == .direct)
        #expect(p.estimate(try conv(512, 7, 512)).algorithm == .winogradF2)       // small spatial, many channels
        #expect(p.estimate(try conv(3, 224, 64, kernel: 7, stride: 2, pad: 3)).algorithm == .direct)
        // Changed with the measured rules: K = 8 is below directMinOutputChannels (was direct).
        #expect(p.estimate(try conv(8, 56, 8)).algorithm == .im2col)              // too few channels for Winograd/direct
        #expect(p.estimate(try conv(64, 56, 64, kernel: 1, pad: 0)).algorithm == .im2col)       // 1x1: one GEMM
        #expect(p.estimate(try conv(64, 56, 128, stride: 2)).algorithm == .im2col)              // strided, C >= 16
        #expect(p.estimate(try conv(96, 112, 96, stride: 2, groups: 96)).algorithm == .depthwise)  // stride-2 depthwise
        #expect(p.estimate(try conv(96, 112, 96, stride: 3, groups: 96)).algorithm == .im2col)     // beyond depthwiseMaxStride
        #expect(p.estimate(try conv(1, 32, 6, kernel: 5, pad: 0)).algorithm == .im2col)        // LeNet c1: not depthwise
        #expect(p.estimate(try conv(3, 227, 96, kernel: 11, stride: 4, pad: 0)).algorithm == .direct)  // 3-channel stem
        #expect(p.estimate(try conv(12, 20, 6, groups: 3)).algorithm == .im2col)  // direct declines these groups
    }

    @Test("Estimate and profileOnly modes never time")
    func estimateNeverTimes() throws {
        let timer = FakeTimer([.direct: 1, .im2col: 1, .winogradF4: 1])
        let planner = Planner(timer: timer)
        for mode in [PlannerMode.estimate, .profileOnly] {
            for d in [try conv(64, 56, 64), try conv(32, 28, 32, groups: 32), try conv(3, 32, 8, kernel: 5)] {
                let decision = try planner.decide(d, options: single, mode: mode)
                #expect(decision.source == .estimate)
                #expect(decision.choice == planner.estimate(d, options: single))
            }
        }
        _ = try planner.makePlan(descriptor: try conv(4, 8, 4), weights: [Float](repeating: 0.5, count: 144),
                                 bias: [0, 0, 0, 0], options: single)
        #expect(timer.callCount == 0)
    }

    @Test("Measure picks the fastest candidate, once per key")
    func measurePicksFastest() throws {
        let timer = FakeTimer([.winogradF4: 2.0e-3, .winogradF2: 2.2e-3, .direct: 1.0e-3, .im2col: 3e-3])
        let planner = Planner(configuration: PlannerConfiguration(mode: .measure), timer: timer)
        let d = try conv(64, 56, 64)
        let decision = try planner.decide(d, options: single)
        #expect(decision.source == .measured)
        #expect(decision.estimateChoice.algorithm == .winogradF4)
        #expect(decision.choice.algorithm == .direct)
        #expect(decision.runnerUp?.candidate.algorithm == .winogradF4)
        #expect(abs((decision.timing?.medianSeconds ?? 0) - 1e-3) < 1e-9)
        #expect(timer.calls.withLock { $0.first } == .winogradF4)  // the estimate is timed first
        #expect(Set(timer.calls.withLock { $0 }) == [.winogradF4, .winogradF2, .direct, .im2col])
        let calls = timer.callCount
        #expect(try planner.decide(d, options: single).choice.algorithm == .direct)
        #expect(timer.callCount == calls)  // remembered, not timed again
        // Winograd disallowed: never timed.
        let t2 = FakeTimer([.winogradF4: 1e-4, .direct: 1e-3, .im2col: 2e-3])
        let p2 = Planner(configuration: PlannerConfiguration(mode: .measure), timer: t2)
        let d2 = try p2.decide(d, options: PlanOptions(threads: 1, allowWinograd: false))
        #expect(d2.choice.algorithm == .direct)
        #expect(!t2.calls.withLock { $0 }.contains { $0.isWinograd })
    }

    @Test("A candidate must be more than 3% faster to replace the estimate")
    func threePercentRule() throws {
        let d = try conv(64, 56, 64)  // estimate: winograd-f4
        let close = Planner(configuration: PlannerConfiguration(mode: .measure),
                            timer: FakeTimer([.winogradF4: 1.00e-3, .direct: 0.98e-3, .im2col: 5e-3, .winogradF2: 5e-3]))
        let kept = try close.decide(d, options: single)
        #expect(kept.choice.algorithm == .winogradF4)
        #expect(kept.runnerUp?.candidate.algorithm == .direct)
        let clear = Planner(configuration: PlannerConfiguration(mode: .measure),
                            timer: FakeTimer([.winogradF4: 1.00e-3, .direct: 0.96e-3, .im2col: 5e-3, .winogradF2: 5e-3]))
        #expect(try clear.decide(d, options: single).choice.algorithm == .direct)
    }

    @Test("A wide spread is reported and not persisted")
    func spreadCheck() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("profile.json").path
        let store = ProfileStore(path: path, warn: { _ in })
        let planner = Planner(configuration: PlannerConfiguration(mode: .measure), profile: store,
                              timer: FakeTimer([.winogradF4: 1e-3, .direct: 2e-3, .im2col: 3e-3, .winogradF2: 3e-3],
                                               spread: [.winogradF4: 3.0]))
        let noisy = try planner.decide(try conv(64, 56, 64), options: single)
        #expect(noisy.choice.algorithm == .winogradF4)
        #expect(!noisy.persisted)
        #expect(noisy.notes.contains { $0.contains("spread") })
        #expect(store.profile.count == 0)
        #expect(!FileManager.default.fileExists(atPath: path))
        // A steady layer is persisted.
        let steadyPlanner = Planner(configuration: PlannerConfiguration(mode: .measure), profile: store,
                                    timer: FakeTimer([.winogradF4: 1e-3, .direct: 2e-3, .im2col: 3e-3, .winogradF2: 3e-3]))
        let steady = try steadyPlanner.decide(try conv(64, 28, 64), options: single)
        #expect(steady.persisted)
        let saved = try Profile.load(path: path)
        #expect(saved.count == 1)
        #expect(saved.entries.first?.winner.candidate == steady.choice)
        #expect(saved.entries.first?.mode == .measure)
    }

    @Test("Measured entries come back from the profile without timing")
    func profileReuse() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("p.json").path
        let medians: [Algorithm: Double] = [.winogradF4: 2e-3, .direct: 1e-3, .im2col: 3e-3, .winogradF2: 3e-3]
        let first = Planner(configuration: PlannerConfiguration(mode: .measure),
                            profile: ProfileStore(path: path, warn: { _ in }), timer: FakeTimer(medians))
        _ = try first.decide(try conv(64, 56, 64), options: single, name: "l1")
        let timer = FakeTimer(medians)
        for mode in [PlannerMode.measure, .profileOnly] {
            let again = Planner(configuration: PlannerConfiguration(mode: mode),
                                profile: ProfileStore(path: path, warn: { _ in }), timer: timer)
            let d = try again.decide(try conv(64, 56, 64), options: single)
            #expect(d.source == .profile)
            #expect(d.choice.algorithm == .direct)
        }
        #expect(timer.callCount == 0)
        // Exhaustive does not trust a measure-mode entry.
        let ex = Planner(configuration: PlannerConfiguration(mode: .exhaustive),
                         profile: ProfileStore(path: path, warn: { _ in }), timer: timer)
        #expect(try ex.decide(try conv(64, 56, 64), options: single).source == .measured)
        #expect(timer.callCount > 4)
    }

    @Test("The budget tunes the largest layers first; the rest use the estimate")
    func budget() throws {
        // A timer that advances a fake clock by one second per candidate.
        final class Ticker: PlannerTimer {
            let now = Mutex<Double>(0)
            func time(descriptor: Conv2DDescriptor, options: PlanOptions, settings: PlannerTimingSettings) throws
                -> [Double] {
                now.withLock { $0 += 1 }
                return [Double](repeating: 1e-3, count: 10)
            }
        }
        let ticker = Ticker()
        let planner = Planner(configuration: PlannerConfiguration(mode: .measure), timer: ticker,
                              now: { ticker.now.withLock { $0 } })
        let requests = [
            PlannerRequest(name: "small", descriptor: try conv(16, 14, 16), options: single),
            PlannerRequest(name: "big", descriptor: try conv(64, 56, 64), options: single),
            PlannerRequest(name: "medium", descriptor: try conv(32, 28, 32), options: single),
        ]
        var order: [String] = []
        let decisions = try planner.decideAll(requests, budgetSeconds: 2.5) { _, _, r in order.append(r.name) }
        #expect(order == ["big", "medium", "small"])
        #expect(decisions[1].source == .measured)                 // "big", in request order
        #expect(decisions[0].source == .budgetExhausted || decisions[2].source == .budgetExhausted)
        #expect(decisions[0].source == .budgetExhausted)
        #expect(decisions[0].choice == planner.estimate(requests[0].descriptor, options: single))
    }

    @Test("Explicit algorithms are not second-guessed")
    func explicitAlgorithm() throws {
        let timer = FakeTimer([:])
        let planner = Planner(configuration: PlannerConfiguration(mode: .measure), timer: timer)
        let d = try planner.decide(try conv(64, 56, 64), options: PlanOptions(algorithm: .im2col, threads: 1))
        #expect(d.source == .explicit && d.choice.algorithm == .im2col)
        #expect(timer.callCount == 0)
    }

    @Test("The real timer measures real plans")
    func realTimer() throws {
        let settings = PlannerTimingSettings(warmupRuns: 1, minRuns: 3, minSeconds: 0, maxSecondsPerCandidate: 0.5)
        let planner = Planner(configuration: PlannerConfiguration(mode: .measure, timing: settings))
        let d = try conv(16, 12, 16)
        let decision = try planner.decide(d, options: single)
        #expect(decision.source == .measured)
        #expect(decision.timings.count >= 2)
        #expect(decision.timings.allSatisfy { $0.runs >= 3 && $0.medianSeconds > 0 })
    }
}

@Suite("Plan cache")
struct PlanCacheTests {
    @Test("Identical keys share one plan; different keys do not")
    func identity() throws {
        let cache = PlanCache()
        let d = try conv(8, 10, 8)
        let w = [Float](repeating: 0.25, count: d.weightCount), b = [Float](repeating: 0, count: 8)
        let a = try cache.plan(descriptor: d, weights: w, bias: b, options: PlanOptions(threads: 1))
        let a2 = try cache.plan(descriptor: d, weights: w, bias: b, options: PlanOptions(threads: 1))
        #expect(a === a2)
        var w2 = w
        w2[0] = 1
        #expect(try cache.plan(descriptor: d, weights: w2, bias: b, options: PlanOptions(threads: 1)) !== a)
        #expect(try cache.plan(descriptor: d, weights: w, bias: b, options: PlanOptions(threads: 2)) !== a)
        let named = try cache.plan(descriptor: d, weights: w, bias: b, options: PlanOptions(threads: 1),
                                   weightsIdentity: "conv1")
        #expect(try cache.plan(descriptor: d, weights: w2, bias: b, options: PlanOptions(threads: 1),
                               weightsIdentity: "conv1") === named)
        #expect(cache.count == 4)
    }

    @Test("Stress: many tasks, same and different keys")
    func stress() async throws {
        let cache = PlanCache()
        let planner = Planner(cache: cache, timer: FakeTimer([:]))
        let shapes = try (0..<4).map { try conv(8, 6 + $0, 8) }
        let results = try await withThrowingTaskGroup(of: (Int, ObjectIdentifier).self) { group in
            for t in 0..<64 {
                group.addTask {
                    let i = t % shapes.count
                    let d = shapes[i]
                    let plan = try planner.makePlan(descriptor: d, weights: [Float](repeating: 0.5, count: d.weightCount),
                                                    bias: [Float](repeating: 0, count: 8),
                                                    options: PlanOptions(threads: 1), weightsIdentity: "w\(i)")
                    let x = try Tensor(shape: d.inputShape, repeating: 1)
                    _ = try plan(x)
                    return (i, ObjectIdentifier(plan))
                }
            }
            var seen: [Int: Set<ObjectIdentifier>] = [:]
            for try await (i, id) in group { seen[i, default: []].insert(id) }
            return seen
        }
        #expect(results.count == shapes.count)
        for (_, ids) in results { #expect(ids.count == 1) }
        #expect(Set(results.values.flatMap { $0 }).count == shapes.count)
        #expect(cache.count == shapes.count)
    }
}
