import ConvKit
import Testing

@testable import ConvKitNN

/// Gives every batch norm non-trivial statistics so that folding is exercised.
func randomizeBatchNorms(_ net: Network, seed: UInt64) throws {
    var g = SeededGenerator(seed: seed)
    for (name, p) in try net.namedParameters() {
        if name.hasSuffix("running_var") {
            try p.setValues((0..<p.count).map { _ in 0.5 + g.nextUnit() })
        } else if name.hasSuffix("running_mean") || (p.shape.count == 1 && name.contains("bn")) {
            try p.setValues((0..<p.count).map { _ in g.nextUnit() * 0.2 - 0.1 + (name.hasSuffix("weight") ? 1 : 0) })
        }
    }
}

func randomInput(_ shape: TensorShape, seed: UInt64) throws -> Tensor {
    var g = SeededGenerator(seed: seed)
    return try Tensor(shape: shape, values: (0..<shape.elementCount).map { _ in g.nextUnit() * 2 - 1 })
}

@Suite(.serialized) struct CompiledTests {
    static let small: [(String, @Sendable () throws -> Network)] = [
        ("lenet5", { try Zoo.lenet5(seed: 1) }),
        ("alexnet", { try Zoo.alexnet(classes: 10, inputSize: 67, seed: 2) }),
        ("vgg16", { try Zoo.vgg16(classes: 10, inputSize: 32, seed: 3) }),
        ("resnet18", { try Zoo.resnet18(classes: 10, inputSize: 32, seed: 4) }),
        ("resnet34", { try Zoo.resnet34(classes: 10, inputSize: 32, seed: 5) }),
        ("resnet50", { try Zoo.resnet50(classes: 10, inputSize: 32, seed: 6) }),
        ("mobilenetv1", { try Zoo.mobilenetV1(classes: 10, inputSize: 32, seed: 7) }),
        ("mobilenetv2", { try Zoo.mobilenetV2(classes: 10, inputSize: 32, seed: 8) }),
        ("googlenet", { try Zoo.googlenet(classes: 10, inputSize: 64, seed: 9) }),
        ("unet", { try Zoo.unet(inputSize: 32, seed: 10) }),
    ]

    @Test(arguments: small.map(\.0))
    func compiledMatchesLayerByLayer(name: String) throws {
        let net = try Self.small.first { $0.0 == name }!.1()
        try randomizeBatchNorms(net, seed: 11)
        let x = try randomInput(net.inputShape, seed: 12)
        let reference = try net(x)
        for policy in [LayoutPolicy.blocked, .plain] {
            let compiled = try net.compile(batch: 1, threads: 2, options: CompileOptions(layoutPolicy: policy))
            let y = try compiled(x)
            let scale = max(1, reference.nchwValues.map(abs).max() ?? 0)
            let diff = y.maxAbsDifference(reference)
            #expect(diff <= 2e-3 * scale, "\(name) \(policy): max |diff| \(diff), output scale \(scale)")
            #expect(compiled.peakActivationBytes > 0)
        }
    }

    @Test func fusionLayoutAndMemory() throws {
        let net = try Zoo.resnet18(classes: 10, inputSize: 32, seed: 4)
        let compiled = try net.compile(batch: 2, threads: 1)
        let names = compiled.layers.map(\.name)
        // conv + bn + relu fused; conv + bn + add(+relu) fused into the residual epilogue.
        #expect(names.contains("conv1+bn1+relu"))
        #expect(names.contains { $0.hasPrefix("layer1.0.conv2+layer1.0.bn2+layer1.0.add") })
        #expect(!compiled.layers.contains { $0.operation == "batchNorm" || $0.operation == "add" })
        #expect(compiled.layers.contains { $0.layout == .nchw8c })
        // The arena is smaller than all activations side by side.
        let total = try net.summary(for: TensorShape(n: 2, c: 3, h: 32, w: 32)).rows
            .reduce(0) { $0 + $1.outputShape.elementCount * 4 }
        #expect(compiled.peakActivationBytes < total)
        let (y, seconds) = try compiled.profile(try randomInput(compiled.inputShape, seed: 1))
        #expect(y.shape == TensorShape(n: 2, c: 10, h: 1, w: 1) && seconds.count == compiled.layers.count)
    }

    @Test func winogradKeepsActivationsBlocked() throws {
        // 3x3 stride-1 convolutions run Winograd on NCHW8c activations: the only
        // layout conversions are at the network's edges (input, and before the dense head).
        let net = try Zoo.resnet18(classes: 10, inputSize: 56, seed: 4)
        let adapter = PlannerAdapter(planner: Planner(), mode: .estimate)
        let compiled = try net.compile(threads: 1, options: CompileOptions(planner: adapter))
        let convs = compiled.layers.filter { $0.operation.hasPrefix("conv ") }
        for c in convs where c.layout != .nchw8c { Issue.record("\(c.name) runs \(c.operation) in \(c.layout)") }
        #expect(convs.filter { $0.operation.contains("winograd") }.count == 4)  // layer1 at 14x14; the deeper stages are too small for Winograd
        #expect(compiled.layers.filter { $0.operation.hasPrefix("convert") }.count == 2)
        let x = try randomInput(net.inputShape, seed: 5)
        let reference = try net(x)
        #expect(try compiled(x).maxAbsDifference(reference) < 1e-3 * max(1, reference.storage.map(abs).max()!))
    }

    @Test func concurrentCallsAgree() async throws {
        let net = try Zoo.mobilenetV2(classes: 10, inputSize: 32, seed: 8)
        let compiled = try net.compile(batch: 1, threads: 1)
        let x = try randomInput(compiled.inputShape, seed: 3)
        let expected = try compiled(x)
        try await withThrowingTaskGroup(of: Tensor.self) { group in
            for _ in 0..<4 { group.addTask { try compiled(x) } }
            for try await y in group { #expect(y == expected) }
        }
    }

    @Test func plannerHookIsConsulted() throws {
        struct ForceIm2col: ConvolutionPlanner {
            func planOptions(for descriptor: Conv2DDescriptor, base: PlanOptions) -> PlanOptions {
                var o = base
                o.algorithm = descriptor.isDepthwise ? .depthwise : .im2col
                return o
            }
        }
        let net = try Zoo.resnet18(classes: 10, inputSize: 32, seed: 4)
        let compiled = try net.compile(options: CompileOptions(planner: ForceIm2col()))
        #expect(compiled.layers.filter { $0.operation.hasPrefix("conv") }.allSatisfy { $0.layout == .nchw })
        let x = try randomInput(net.inputShape, seed: 5)
        #expect(try compiled(x).maxAbsDifference(net(x)) < 1e-3)
    }
}

@Suite struct SafeTensorsTests {
    @Test func roundTripAndMismatchReports() throws {
        let a = try Zoo.lenet5(seed: 1)
        let b = try Zoo.lenet5(seed: 2)
        let x = try randomInput(a.inputShape, seed: 1)
        #expect(try a(x) != b(x))
        let bytes = try a.safetensorsData()
        try b.loadWeights(from: bytes)
        #expect(try a(x) == b(x))

        let other = try Zoo.lenet5(classes: 5, seed: 1)
        do {
            try other.loadWeights(from: bytes)
            Issue.record("expected a mismatch")
        } catch let e as ConvKitError {
            #expect(e.message.contains("'output.weight' has shape [10, 84], the network needs [5, 84]"))
        }
        let alex = try Zoo.alexnet(classes: 10, inputSize: 67)
        #expect(throws: ConvKitError.self) { try alex.loadWeights(from: bytes) }
    }

    @Test func corruptFilesGiveClearErrors() throws {
        let bytes = try Zoo.lenet5(seed: 1).safetensorsData()
        func message(_ b: [UInt8]) -> String? {
            do { _ = try SafeTensors.decode(b); return nil } catch let e as ConvKitError { return e.message } catch {
                return "\(error)"
            }
        }
        #expect(message(Array(bytes.prefix(5)))?.contains("shorter than") == true)
        #expect(message(Array(bytes.dropLast(10)))?.contains("truncated") == true)
        var huge = bytes
        huge[7] = 0x7f
        #expect(message(huge)?.contains("exceeds the limit") == true)
        var garbage = bytes
        garbage[8] = 0x00
        #expect(message(garbage) != nil)
        let f16 = SafeTensorsTests.file(#"{"w":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}"#, data: 2)
        #expect(message(f16)?.contains("dtype F16") == true)
        let bad = SafeTensorsTests.file(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: 8)
        #expect(message(bad)?.contains("needs 12") == true)
        for cut in stride(from: 0, to: min(bytes.count, 400), by: 7) { _ = message(Array(bytes.prefix(cut))) }
    }

    static func file(_ json: String, data: Int) -> [UInt8] {
        let h = Array(json.utf8)
        var out = [UInt8]()
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
        return out + h + [UInt8](repeating: 0, count: data)
    }
}
