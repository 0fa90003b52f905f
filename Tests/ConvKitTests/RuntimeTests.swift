import ConvKit
import Testing

@Suite("Runtime information")
struct RuntimeTests {
    @Test("Version matches the C core")
    func version() {
        #expect(ConvKitRuntime.version == "0.1.0")
        #expect(convKitVersion == ConvKitRuntime.version)
    }

    @Test("CPU information is plausible")
    func cpuInfo() throws {
        let info = try ConvKitRuntime.cpuInfo
        #expect(info.logicalCores >= 1)
        #expect(!info.arch.isEmpty)
        #expect(["scalar", "avx2", "avx512", "neon"].contains(info.dispatchedISA))
        if info.dispatchedISA == "avx2" { #expect(info.hasAVX2 && info.hasFMA) }
        #expect(ConvKitRuntime.maxThreads >= 1)
        #expect(!info.description.isEmpty)
    }

    @Test("Plans report their threads")
    func planThreads() throws {
        let d = try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: 1, h: 4, w: 4), outputChannels: 1, kernel: 3)
        let plan = try Conv2DPlan(descriptor: d, weights: Array(repeating: 1, count: 9), options: PlanOptions(threads: 1))
        #expect(plan.threads == 1)
        #expect(plan.workspaceSize >= 0)
        let all = try Conv2DPlan(descriptor: d, weights: Array(repeating: 1, count: 9))
        #expect(all.threads == ConvKitRuntime.maxThreads)
    }

    @Test("A plan runs concurrently from many tasks")
    func concurrentExecute() async throws {
        var rng = SeededGenerator(seed: 23)
        let x = try randomTensor(TensorShape(n: 1, c: 8, h: 12, w: 12), using: &rng)
        let d = try Conv2DDescriptor(inputShape: x.shape, outputChannels: 8, kernel: 3, padding: .symmetric(1))
        let plan = try Conv2DPlan(descriptor: d, weights: .random(count: d.weightCount, using: &rng))
        let expected = try plan(x)
        let results = try await withThrowingTaskGroup(of: Tensor.self) { group in
            for _ in 0..<8 { group.addTask { try plan(x) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 8)
        #expect(results.allSatisfy { $0 == expected })
    }
}
