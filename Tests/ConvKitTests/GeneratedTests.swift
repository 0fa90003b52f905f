import ConvKit
import Testing

/// A convolution configuration for the generated sweeps.
struct ConvCase: CustomStringConvertible, Sendable {
    var shape: TensorShape
    var k: Int
    var kernel: Size2D
    var stride: Size2D = 1
    var padding: Padding = .valid
    var dilation: Size2D = 1
    var groups = 1
    var bias = true
    var activation: Activation = .none

    func descriptor(_ layout: Layout) throws -> Conv2DDescriptor {
        try Conv2DDescriptor(inputShape: shape, outputChannels: k, kernel: kernel, stride: stride, padding: padding,
                             dilation: dilation, groups: groups, hasBias: bias, activation: activation, layout: layout)
    }

    var description: String {
        "x\(shape) k=\(k) r\(kernel) s\(stride) p\(padding) d\(dilation) g\(groups) bias=\(bias) \(activation)"
    }

    static let all: [ConvCase] = [
        ConvCase(shape: TensorShape(n: 1, c: 3, h: 7, w: 9), k: 4, kernel: 3),
        ConvCase(shape: TensorShape(n: 2, c: 5, h: 8, w: 8), k: 6, kernel: 3, stride: 2, padding: .symmetric(1),
                 activation: .relu),
        ConvCase(shape: TensorShape(n: 1, c: 8, h: 6, w: 5), k: 8, kernel: Size2D(3, 1),
                 padding: Padding(top: 1, left: 0, bottom: 2, right: 1), dilation: Size2D(1, 2), groups: 4,
                 bias: false, activation: .leakyReLU(alpha: 0.1)),
        ConvCase(shape: TensorShape(n: 1, c: 12, h: 9, w: 9), k: 12, kernel: 3, padding: .symmetric(1), groups: 12,
                 activation: .relu6),
        ConvCase(shape: TensorShape(n: 1, c: 16, h: 5, w: 5), k: 10, kernel: 1, activation: .sigmoid),
        ConvCase(shape: TensorShape(n: 1, c: 2, h: 10, w: 11), k: 9, kernel: 5, stride: Size2D(2, 3),
                 padding: .symmetric(2), dilation: 2, activation: .tanh),
    ]
}

@Suite("Generated cases")
struct GeneratedTests {
    @Test("Conv: NCHW, NHWC and NCHW8c agree with a naive Swift convolution", arguments: ConvCase.all)
    func convLayouts(_ c: ConvCase) throws {
        var rng = SeededGenerator(seed: 42)
        let x = try randomTensor(c.shape, using: &rng)
        let d0 = try c.descriptor(.nchw)
        let w = [Float].random(count: d0.weightCount, using: &rng)
        let b: [Float]? = c.bias ? .random(count: c.k, using: &rng) : nil
        // The naive result has no activation: apply it through Ops (tested separately).
        let linear = try Tensor(shape: d0.outputShape, values: naiveConv(x, d0, weights: w, bias: b))
        let expected = try Ops.apply(c.activation, to: linear)
        var tried: Set<String> = []
        for layout in Layout.allCases {
            let d = try c.descriptor(layout)
            // Every algorithm that accepts the shape (explicit ones included) must agree.
            for algorithm in Algorithm.allCases where d.isApplicable(algorithm) {
                let plan = try Conv2DPlan(descriptor: d, weights: w, bias: b, options: PlanOptions(algorithm: algorithm))
                let y = try plan(x.converted(to: layout))
                #expect(y.layout == layout)
                #expect(y.isApproximatelyEqual(to: expected, absoluteTolerance: 1e-4, relativeTolerance: 1e-4),
                        "\(c) \(layout) \(algorithm) -> \(plan.implementationName): max diff \(y.maxAbsDifference(expected))")
                tried.insert("\(algorithm)->\(plan.implementationName)")
            }
        }
        #expect(tried.contains { $0.hasPrefix("reference->") })
        print("conv sweep \(c): \(tried.sorted())")
    }

    @Test("Conv: a fused residual is added before the activation")
    func residual() throws {
        var rng = SeededGenerator(seed: 7)
        for layout in Layout.allCases {
            let x = try randomTensor(TensorShape(n: 1, c: 4, h: 5, w: 5), using: &rng)
            let d = try Conv2DDescriptor(inputShape: x.shape, outputChannels: 4, kernel: 3, padding: .symmetric(1),
                                         hasBias: true, activation: .relu, layout: layout)
            let linear = try Conv2DDescriptor(inputShape: x.shape, outputChannels: 4, kernel: 3,
                                              padding: .symmetric(1), hasBias: true, layout: layout)
            let w = [Float].random(count: d.weightCount, using: &rng), b = [Float].random(count: 4, using: &rng)
            let r = try randomTensor(d.outputShape, using: &rng).converted(to: layout)
            let xl = try x.converted(to: layout)
            let fused = try Conv2DPlan(descriptor: d, weights: w, bias: b)(xl, residual: r)
            let unfused = try Ops.add(Conv2DPlan(descriptor: linear, weights: w, bias: b)(xl), r, activation: .relu)
            #expect(fused.isApproximatelyEqual(to: unfused), "\(layout): \(fused.maxAbsDifference(unfused))")
        }
    }

    @Test("Conv: execute(into:) reuses the output and matches callAsFunction")
    func executeInto() throws {
        var rng = SeededGenerator(seed: 9)
        let x = try randomTensor(TensorShape(n: 2, c: 3, h: 6, w: 6), using: &rng)
        let d = try Conv2DDescriptor(inputShape: x.shape, outputChannels: 5, kernel: 3)
        let plan = try Conv2DPlan(descriptor: d, weights: .random(count: d.weightCount, using: &rng))
        var out = try Tensor(shape: d.outputShape, repeating: 123)
        let copy = out
        try plan.execute(x, into: &out)
        #expect(out == (try plan(x)))
        #expect(copy.storage.allSatisfy { $0 == 123 })  // copy-on-write kept the copy intact
    }

    @Test("Pooling: NCHW, NHWC and NCHW8c agree", arguments: [
        (PoolKind.max, Size2D(3, 3), Size2D(2, 2), Padding.symmetric(1), false, false),
        (PoolKind.average, Size2D(3, 3), Size2D(2, 2), Padding.symmetric(1), false, true),
        (PoolKind.average, Size2D(3, 2), Size2D(2, 1), Padding(top: 0, left: 1, bottom: 1, right: 0), true, false),
        (PoolKind.max, Size2D(2, 2), Size2D(2, 2), Padding.valid, true, false),
    ])
    func poolLayouts(kind: PoolKind, window: Size2D, stride: Size2D, padding: Padding, ceil: Bool,
                     includePad: Bool) throws {
        var rng = SeededGenerator(seed: 11)
        let x = try randomTensor(TensorShape(n: 2, c: 11, h: 9, w: 8), using: &rng)
        var results: [Tensor] = []
        for layout in Layout.allCases {
            let d = try Pool2DDescriptor(kind: kind, inputShape: x.shape, window: window, stride: stride,
                                         padding: padding, ceilMode: ceil, countIncludePad: includePad, layout: layout)
            results.append(try Pool2DPlan(descriptor: d)(x.converted(to: layout)))
        }
        for r in results.dropFirst() {
            #expect(r.isApproximatelyEqual(to: results[0], absoluteTolerance: 1e-6, relativeTolerance: 1e-6))
        }
    }

    @Test("Tensor: layout conversion round-trips and the subscript honours the layout")
    func layoutConversion() throws {
        var rng = SeededGenerator(seed: 5)
        let x = try randomTensor(TensorShape(n: 2, c: 11, h: 3, w: 4), using: &rng)
        for layout in Layout.allCases {
            let y = try x.converted(to: layout)
            #expect(y.storage.count == (try layout.storageCount(for: x.shape)))
            #expect(y.maxAbsDifference(x) == 0)
            #expect(y[1, 10, 2, 3] == x[1, 10, 2, 3])
            #expect(try y.converted(to: .nchw) == x)
            #expect(y.nchwValues == x.storage)
        }
        var z = try Tensor(shape: TensorShape(n: 1, c: 3, h: 2, w: 2), layout: .nchw8c, repeating: 1)
        #expect(z.storage.count == 32)
        #expect(z.storage.reduce(0, +) == 12)  // the channel padding stays zero
        z[0, 2, 1, 0] = 5
        #expect(try z.converted(to: .nhwc)[0, 2, 1, 0] == 5)
    }

    @Test("Ops: softmax, log-softmax, global pooling, maxout, concat, batch norm and LRN agree across layouts")
    func opsLayouts() throws {
        var rng = SeededGenerator(seed: 13)
        let x = try randomTensor(TensorShape(n: 2, c: 6, h: 3, w: 4), using: &rng)
        let x2 = try randomTensor(TensorShape(n: 2, c: 3, h: 3, w: 4), using: &rng)
        let c = x.shape.c
        let mean = [Float].random(count: c, using: &rng), gamma = [Float].random(count: c, using: &rng)
        let beta = [Float].random(count: c, using: &rng), variance = (0..<c).map { Float($0) + 0.5 }
        func run(_ layout: Layout) throws -> [Tensor] {
            let a = try x.converted(to: layout), b = try x2.converted(to: layout)
            return [
                try Ops.softmax(a), try Ops.logSoftmax(a), try Ops.globalPool(a, kind: .max),
                try Ops.globalPool(a, kind: .average), try Ops.maxout(a, groupSize: 3), try Ops.concatChannels([a, b]),
                try Ops.batchNorm(a, scale: gamma, shift: beta, mean: mean, variance: variance, activation: .relu),
                try Ops.localResponseNorm(a, size: 3), try Ops.apply(.sigmoid, to: a),
                try Ops.add(a, a, activation: .tanh),
            ]
        }
        let reference = try run(.nchw)
        for (i, (r, t)) in zip(reference, try run(.nhwc)).enumerated() {
            #expect(r.isApproximatelyEqual(to: t, absoluteTolerance: 1e-6, relativeTolerance: 1e-5), "op \(i)")
        }
        // Spot checks of the values.
        let sm = reference[0]
        var sum: Float = 0
        for ch in 0..<c { sum += sm[1, ch, 2, 3] }
        #expect(abs(sum - 1) < 1e-5)
        let mx = reference[2]
        var m = -Float.infinity
        for h in 0..<3 { for w in 0..<4 { m = max(m, x[0, 4, h, w]) } }
        #expect(mx[0, 4, 0, 0] == m)
        #expect(reference[4].shape.c == 2 && reference[4][1, 1, 2, 1] == max(x[1, 3, 2, 1], x[1, 4, 2, 1], x[1, 5, 2, 1]))
        #expect(reference[5].shape.c == 9 && reference[5][1, 7, 1, 2] == x2[1, 1, 1, 2])
        let bn = reference[6][0, 2, 1, 1]
        let bnExpected = max(0, gamma[2] * (x[0, 2, 1, 1] - mean[2]) / (variance[2] + 1e-5).squareRoot() + beta[2])
        #expect(abs(bn - bnExpected) < 1e-5)
        // Element-wise ops with NCHW8c keep the channel padding at zero (sigmoid(0) would be 0.5).
        let blocked = try x.converted(to: .nchw8c)
        let s = try Ops.apply(.sigmoid, to: blocked)
        #expect(s.maxAbsDifference(reference[8]) < 1e-6)
        #expect(s.storage.filter { $0 == 0 }.count == 2 * 2 * 3 * 4)
    }

    @Test("Dense: tensor and array entry points agree with a naive product (batch 1 is a gemv, batch 3 a gemm)",
          arguments: [Algorithm.auto, .reference], [1, 3])
    func dense(algorithm: Algorithm, batch: Int) throws {
        var rng = SeededGenerator(seed: 17)
        let d = try DenseDescriptor(batch: batch, inputFeatures: 7, outputFeatures: 4, activation: .relu)
        let w = [Float].random(count: d.weightCount, using: &rng), b = [Float].random(count: 4, using: &rng)
        let plan = try DensePlan(descriptor: d, weights: w, bias: b, options: PlanOptions(algorithm: algorithm))
        let x = [Float].random(count: 7 * batch, using: &rng)
        let y = try plan(x)
        for n in 0..<batch { for o in 0..<4 {
            var acc = b[o]
            for i in 0..<7 { acc += w[o * 7 + i] * x[n * 7 + i] }
            #expect(abs(y[n * 4 + o] - max(acc, 0)) < 1e-5)
        } }
        let yt = try plan(Tensor(shape: d.inputShape, layout: .nhwc, values: x))
        #expect(yt.shape == d.outputShape && yt.layout == .nhwc && yt.storage == y)
        // A conv feature map, flattened.
        let fm = try Tensor(shape: TensorShape(n: batch, c: 7, h: 1, w: 1), values: x).converted(to: .nchw8c)
        #expect(try plan(fm.flattened()).storage == y)
    }

    @Test("Transposed convolution: stride 2 upsampling scatters each input times the kernel")
    func convTranspose() throws {
        let d = try ConvTranspose2DDescriptor(inputShape: TensorShape(n: 1, c: 1, h: 2, w: 2), outputChannels: 1,
                                              kernel: 2, stride: 2, hasBias: true)
        #expect(d.outputShape == TensorShape(n: 1, c: 1, h: 4, w: 4))
        let plan = try ConvTranspose2DPlan(descriptor: d, weights: [1, 2, 3, 4], bias: [0.5])
        let y = try plan(Tensor(image: [[1, 10], [100, 1000]]))
        #expect(y.plane() == [[1.5, 2.5, 10.5, 20.5], [3.5, 4.5, 30.5, 40.5],
                              [100.5, 200.5, 1000.5, 2000.5], [300.5, 400.5, 3000.5, 4000.5]])
        for layout in [Layout.nhwc, .nchw8c] {
            var rng = SeededGenerator(seed: 19)
            let x = try randomTensor(TensorShape(n: 1, c: 4, h: 3, w: 3), using: &rng)
            func make(_ l: Layout) throws -> ConvTranspose2DDescriptor {
                try ConvTranspose2DDescriptor(inputShape: x.shape, outputChannels: 6, kernel: 3, stride: 2,
                                              padding: .symmetric(1), outputPadding: 1, groups: 2, layout: l)
            }
            let w = [Float].random(count: try make(.nchw).weightCount, using: &rng)
            let a = try ConvTranspose2DPlan(descriptor: make(.nchw), weights: w)(x)
            let b = try ConvTranspose2DPlan(descriptor: make(layout), weights: w)(x.converted(to: layout))
            #expect(a.shape == TensorShape(n: 1, c: 6, h: 6, w: 6))
            #expect(a.isApproximatelyEqual(to: b))
        }
    }
}
