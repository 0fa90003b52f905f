import ConvKit
import Foundation
import Testing

/// The Swift wrappers of the C backward passes: results against finite
/// differences of the forward plans, conventions, and Swift-side validation.
@Suite struct BackwardTests {
    static func tensor(_ shape: TensorShape, _ g: inout SeededGenerator) throws -> Tensor {
        try Tensor(shape: shape, values: .random(count: shape.elementCount, using: &g))
    }

    static func dot(_ a: Tensor, _ b: Tensor) -> Double {
        zip(a.storage, b.storage).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }

    @Test(arguments: [Layout.nchw, .nhwc])
    func convolutionGradientsMatchFiniteDifferences(layout: Layout) throws {
        var g = SeededGenerator(seed: 21)
        let desc = try Conv2DDescriptor(inputShape: TensorShape(n: 2, c: 4, h: 6, w: 5), outputChannels: 4,
                                        kernel: 3, stride: 2, padding: .symmetric(1), dilation: 1, groups: 2,
                                        hasBias: true, layout: layout)
        let x = try Self.tensor(desc.inputShape, &g).converted(to: layout)
        let w = [Float].random(count: desc.weightCount, using: &g)
        let b = [Float].random(count: 4, using: &g)
        let r = try Self.tensor(desc.outputShape, &g).converted(to: layout)
        let back = try Conv2DBackwardPlan(descriptor: desc)
        let dx = try back.inputGradient(outputGradient: r, weights: w)
        let (dw, db) = try back.weightGradients(input: x, outputGradient: r)
        #expect(dx.shape == desc.inputShape && dx.layout == layout)
        #expect(dw.count == desc.weightCount && db.count == 4)
        // loss = <conv(x, w, b), r> is linear in each argument: central differences are exact up to rounding.
        func loss(_ x: Tensor, _ w: [Float], _ b: [Float]) throws -> Double {
            try Self.dot(Conv2DPlan(descriptor: desc, weights: w, bias: b, options: PlanOptions(algorithm: .reference))(x), r)
        }
        let eps: Float = 0.05
        for i in stride(from: 0, to: x.storage.count, by: 7) {
            var xp = x.storage, xm = x.storage
            xp[i] += eps; xm[i] -= eps
            let numeric = try (loss(Tensor(shape: x.shape, layout: layout, values: xp), w, b)
                - loss(Tensor(shape: x.shape, layout: layout, values: xm), w, b)) / Double(2 * eps)
            #expect(abs(Double(dx.storage[i]) - numeric) < 2e-3, "dx[\(i)]")
        }
        for i in stride(from: 0, to: w.count, by: 5) {
            var wp = w, wm = w
            wp[i] += eps; wm[i] -= eps
            let numeric = try (loss(x, wp, b) - loss(x, wm, b)) / Double(2 * eps)
            #expect(abs(Double(dw[i]) - numeric) < 2e-3, "dw[\(i)]")
        }
        let sums = (0..<4).map { k in (0..<2).reduce(Float(0)) { acc, n in
            acc + (0..<desc.outputShape.h).reduce(Float(0)) { a, h in
                a + (0..<desc.outputShape.w).reduce(Float(0)) { $0 + r[n, k, h, $1] } } } }
        for k in 0..<4 { #expect(abs(db[k] - sums[k]) < 1e-4) }
        let noBias = try back.weightGradients(input: x, outputGradient: r, bias: false)
        #expect(noBias.bias.isEmpty && noBias.weights == dw)
    }

    @Test func poolingRoutesToTheFirstMaximumAndAveragesSpread() throws {
        let x = try Tensor(image: [[1, 3, 2, 2], [3, 0, 2, 1], [0, 0, 5, 5], [0, 0, 5, 5]])
        let maxPlan = try Pool2DPlan(descriptor: Pool2DDescriptor(kind: .max, inputShape: x.shape, window: 2))
        let dy = try Tensor(image: [[1, 2], [3, 4]])
        let dx = try maxPlan.backward(input: x, outputGradient: dy)
        // Ties go to the first maximum in scan order (row-major within the window).
        #expect(dx.plane() == [[0, 1, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])  // all-zero window: (2, 0)
        #expect(throws: ConvKitError.self) { try maxPlan.backward(input: nil, outputGradient: dy) }
        let avg = try Pool2DPlan(descriptor: Pool2DDescriptor(kind: .average, inputShape: x.shape, window: 2))
        #expect(try avg.backward(input: nil, outputGradient: dy).plane()
                == [[0.25, 0.25, 0.5, 0.5], [0.25, 0.25, 0.5, 0.5], [0.75, 0.75, 1, 1], [0.75, 0.75, 1, 1]])
        let gmax = try Backward.globalPool(.max, input: x, outputGradient: Tensor(image: [[7]]))
        #expect(gmax.plane()[2] == [0, 0, 7, 0])
        let gavg = try Backward.globalPool(.average, input: x, outputGradient: Tensor(image: [[16]]))
        #expect(gavg.storage.allSatisfy { $0 == 1 })
        #expect(throws: ConvKitError.self) {
            try Backward.globalPool(.average, input: x, outputGradient: Tensor(image: [[1, 2]]))
        }
    }

    @Test func denseGradients() throws {
        let d = try DenseDescriptor(batch: 2, inputFeatures: 3, outputFeatures: 2)
        let x: [Float] = [1, 2, 3, -1, 0, 1]
        let w: [Float] = [0.5, -1, 2, 1, 1, 1]
        let dy: [Float] = [1, 0, 2, -1]
        let g = try Backward.dense(d, input: x, weights: w, outputGradient: dy)
        #expect(g.input == [0.5, -1, 2, 0, -3, 3])        // dy . W
        #expect(g.weights == [-1, 2, 5, 1, 0, -1])          // dy^T . x
        #expect(g.bias == [3, -1])
        let onlyParams = try Backward.dense(d, input: x, weights: w, outputGradient: dy, needInput: false)
        #expect(onlyParams.input.isEmpty && onlyParams.weights == g.weights)
        #expect(throws: ConvKitError.self) { try Backward.dense(d, input: x, weights: w, outputGradient: [1]) }
    }

    @Test func activationsLossBatchNormAndDropout() throws {
        let z = try Tensor(image: [[-1, 0.5, 7]])
        let dy = try Tensor(image: [[1, 1, 1]])
        #expect(try Backward.activation(.relu, input: z, outputGradient: dy).storage == [0, 1, 1])
        #expect(try Backward.activation(.relu6, input: z, outputGradient: dy).storage == [0, 1, 0])
        #expect(try Backward.activation(.leakyReLU(alpha: 0.1), input: z, outputGradient: dy).storage == [0.1, 1, 1])
        let y = try Ops.apply(.sigmoid, to: z)
        let ds = try Backward.activation(.sigmoid, input: nil, output: y, outputGradient: dy)
        #expect(abs(ds.storage[1] - y.storage[1] * (1 - y.storage[1])) < 1e-6)

        let (loss, grad) = try Backward.softmaxCrossEntropy(logits: [0, 0, 0, 0], labels: [1, 0], classes: 2)
        #expect(abs(loss - Float(log(2.0))) < 1e-6)
        #expect(grad == [0.25, -0.25, -0.25, 0.25])
        #expect(throws: ConvKitError.self) { try Backward.softmaxCrossEntropy(logits: [0, 0], labels: [2], classes: 2) }

        var g = SeededGenerator(seed: 3)
        let x = try Self.tensor(TensorShape(n: 2, c: 2, h: 3, w: 3), &g)
        var rm: [Float] = [0, 0], rv: [Float] = [1, 1]
        let bn = try Backward.batchNormTraining(x, scale: [1, 2], shift: [0, 1], runningMean: &rm, runningVariance: &rv)
        let c0 = (0..<2).flatMap { n in (0..<9).map { x.storage[n * 18 + $0] } }
        let mean = c0.reduce(0, +) / 18
        #expect(abs(bn.mean[0] - mean) < 1e-5)
        #expect(abs(rm[0] - 0.1 * mean) < 1e-5)
        let back = try Backward.batchNormTraining(x, scale: [1, 2], mean: bn.mean,
                                                  inverseStandardDeviation: bn.inverseStandardDeviation,
                                                  outputGradient: Tensor(shape: x.shape, repeating: 1))
        // A constant output gradient: dbeta = m, dgamma = sum xhat = 0, dx = 0.
        #expect(back.shift == [18, 18])
        #expect(back.scale.allSatisfy { abs($0) < 1e-4 })
        #expect(back.input.storage.allSatisfy { abs($0) < 1e-4 })

        let ones = try Tensor(shape: TensorShape(n: 1, c: 1, h: 10, w: 10), repeating: 1)
        let dropped = try Backward.dropout(ones, rate: 0.5, seed: 9)
        #expect(dropped.storage.allSatisfy { $0 == 0 || $0 == 2 })
        #expect(dropped == (try Backward.dropout(ones, rate: 0.5, seed: 9)))
        #expect(try Backward.dropout(outputGradient: ones, rate: 0.5, seed: 9) == dropped)
        #expect(throws: ConvKitError.self) { try Backward.dropout(ones, rate: 1.5, seed: 0) }
    }

    @Test func backwardPlanValidatesShapes() throws {
        let desc = try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: 2, h: 4, w: 4), outputChannels: 3, kernel: 3)
        let back = try Conv2DBackwardPlan(descriptor: desc)
        let wrong = try Tensor(shape: TensorShape(n: 1, c: 3, h: 3, w: 3))
        #expect(throws: ConvKitError.self) { try back.inputGradient(outputGradient: wrong, weights: [Float](repeating: 0, count: 54)) }
        let dy = try Tensor(shape: desc.outputShape)
        #expect(throws: ConvKitError.self) { try back.inputGradient(outputGradient: dy, weights: [1]) }
        #expect(throws: ConvKitError.self) {
            _ = try Conv2DBackwardPlan(descriptor: desc, options: PlanOptions(algorithm: .winogradF2))
        }
    }
}
