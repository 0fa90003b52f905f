import ConvKit
import Foundation
import Synchronization
import Testing

/// Many tasks on the same plans, the same plan cache and the same profile store
/// at once: every result must be bit-for-bit the single-threaded one, the cache
/// must hand out one plan per key, and the profile must end up with every entry.
/// Scripts/sanitize.sh runs these under ThreadSanitizer (`swift test --sanitize=thread`).
///
/// Plans here use `threads: 1` (OpenMP inside a plan would need a TSan-built
/// OpenMP runtime, see Scripts/sanitize.sh); the concurrency comes from the tasks.
@Suite("Stress: concurrency")
struct StressConcurrencyTests {
    static let tasks = 8

    static func descriptors() throws -> [Conv2DDescriptor] {
        [
            try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: 16, h: 12, w: 12), outputChannels: 16, kernel: 3,
                                 padding: .symmetric(1), hasBias: true, activation: .relu),
            try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: 8, h: 11, w: 9), outputChannels: 8, kernel: 3,
                                 stride: 2, padding: .symmetric(1), groups: 8, layout: .nchw8c),
            try Conv2DDescriptor(inputShape: TensorShape(n: 2, c: 6, h: 9, w: 9), outputChannels: 10, kernel: 1,
                                 layout: .nhwc),
        ]
    }

    /// Bit-for-bit for every algorithm, im2col included: OpenBLAS is kept at one thread (README,
    /// "Threads"), so a 1-thread plan's GEMM is one single-threaded sgemm whatever other suites run.
    @Test("Many tasks run the same Conv2DPlans (every algorithm) with identical results")
    func samePlansManyTasks() async throws {
        var rng = SeededGenerator(seed: 101)
        var jobs: [(Conv2DPlan, Tensor, Tensor)] = []
        for d in try Self.descriptors() {
            let w = [Float].random(count: d.weightCount, using: &rng)
            let b: [Float]? = d.hasBias ? .random(count: d.outputChannels, using: &rng) : nil
            let x = try randomTensor(d.inputShape, using: &rng).converted(to: d.layout)
            for algo in Algorithm.allCases where algo != .auto {
                let opts = PlanOptions(algorithm: algo, threads: 1, fastMath: true)
                guard let plan = try? Conv2DPlan(descriptor: d, weights: w, bias: b, options: opts) else { continue }
                jobs.append((plan, x, try plan(x)))
            }
        }
        #expect(jobs.count >= 8)
        let jobsCopy = jobs
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            for t in 0..<Self.tasks {
                group.addTask {
                    var bad = 0
                    for round in 0..<4 {
                        for j in 0..<jobsCopy.count {
                            let (plan, x, expected) = jobsCopy[(j + t + round) % jobsCopy.count]
                            if try plan(x) != expected { bad += 1 }
                        }
                    }
                    return bad
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(failures == 0)
    }

    @Test("PlanCache: concurrent requests get one plan per key, and it computes the same result")
    func planCacheConcurrent() async throws {
        let cache = PlanCache()
        let descs = try Self.descriptors()
        var rng = SeededGenerator(seed: 5)
        let weights = descs.map { [Float].random(count: $0.weightCount, using: &rng) }
        let biases = descs.map { $0.hasBias ? [Float].random(count: $0.outputChannels, using: &rng) : nil }
        let inputs = try descs.map { try randomTensor($0.inputShape, using: &rng).converted(to: $0.layout) }
        let plans = try await withThrowingTaskGroup(of: [ObjectIdentifier].self) { group in
            for t in 0..<Self.tasks {
                group.addTask {
                    var ids: [ObjectIdentifier] = []
                    for i in 0..<descs.count {
                        let k = (i + t) % descs.count
                        let p = try cache.plan(descriptor: descs[k], weights: weights[k], bias: biases[k],
                                               options: PlanOptions(threads: 1), weightsIdentity: "layer\(k)")
                        _ = try p(inputs[k])
                        if t % 3 == 0 { _ = cache.count }
                        ids.append(ObjectIdentifier(p))
                    }
                    return ids
                }
            }
            var all: [[ObjectIdentifier]] = []
            for try await ids in group { all.append(ids) }
            return all
        }
        #expect(cache.count == descs.count)
        #expect(Set(plans.flatMap { $0 }).count == descs.count)
    }

    @Test("ProfileStore and Planner: concurrent record, lookup, decide, makePlan and save")
    func profileStoreConcurrent() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("profile.json").path
        let seed = try sampleProfile(3)
        try seed.save(to: path)
        let store = ProfileStore(path: path, warn: { _ in })
        let planner = Planner(configuration: PlannerConfiguration(mode: .estimate), profile: store)
        let descs = try Self.descriptors()
        var rng = SeededGenerator(seed: 9)
        let weights = descs.map { [Float].random(count: $0.weightCount, using: &rng) }
        let biases = descs.map { $0.hasBias ? [Float].random(count: $0.outputChannels, using: &rng) : nil }
        let template = seed.entries[0]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<Self.tasks {
                group.addTask {
                    for i in 0..<6 {
                        var e = template
                        e.key.n = 100 + t * 10 + i  // a distinct key per (task, i)
                        e.name = "task\(t)-\(i)"
                        store.record(e)
                        _ = store.entry(for: template.key)
                        _ = store.profile.count
                        let k = (t + i) % descs.count
                        _ = try planner.decide(descs[k], options: PlanOptions(threads: 1))
                        _ = try planner.makePlan(descriptor: descs[k], weights: weights[k], bias: biases[k],
                                                 options: PlanOptions(threads: 1))
                        if i % 3 == 2 { try store.save() }
                    }
                }
            }
            try await group.waitForAll()
        }
        try store.save()
        let onDisk = try Profile.load(path: path)
        #expect(onDisk.count == 3 + Self.tasks * 6)
        for e in seed.entries { #expect(onDisk.entry(for: e.key) == e) }
        #expect(planner.cache.count <= descs.count * 2)
    }
}
