import ConvKit
import Testing

@testable import ConvKitNN

/// Finite-difference checks of the layer gradients through `TrainingGraph`: the
/// loss is `sum(y * r)` for a fixed random `r`, so its gradient w.r.t. the output is `r`.
enum GradientCheck {
    static func random(_ count: Int, _ g: inout SeededGenerator, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in g.nextNormal() * scale }
    }

    /// Checks the input gradient and every trainable parameter's gradient at up
    /// to `samples` random positions each; returns the worst error.
    @discardableResult
    static func check(_ net: Network, batch: Int = 2, mode: TrainingMode = .training, inputScale: Float = 1,
                      eps: Float = 1e-3, tolerance: Float = 1e-2, samples: Int = 24, seed: UInt64 = 1,
                      sourceLocation: SourceLocation = #_sourceLocation) throws -> Float {
        var g = SeededGenerator(seed: seed)
        var shape = net.inputShape
        shape.n = batch
        let tape = TrainingGraph(network: net, threads: 1)
        tape.dropoutSeed = 42
        var x = try Tensor(shape: shape, values: random(shape.elementCount, &g, scale: inputScale))
        let y0 = try tape.forward(x, mode: mode)
        let r = try Tensor(shape: y0.shape, values: random(y0.shape.elementCount, &g))
        tape.zeroGradients()
        let dx = try #require(try tape.backward(r, inputGradient: true))
        // Snapshot the analytic gradients (later forwards do not touch them, but be explicit).
        let params = try tape.trainableParameters()
        let analytic = params.map { $0.gradient }

        func loss(_ input: Tensor) throws -> Double {
            let y = try tape.forward(input, mode: mode)
            var s = 0.0
            for i in y.storage.indices { s += Double(y.storage[i]) * Double(r.storage[i]) }
            return s
        }
        var worst: Float = 0
        func compare(_ a: Float, _ n: Double, _ what: String) {
            let err = abs(a - Float(n))
            let bound = tolerance * (1 + abs(Float(n)))
            worst = max(worst, err / (1 + abs(Float(n))))
            #expect(err <= bound, "\(what): analytic \(a), numeric \(n)", sourceLocation: sourceLocation)
        }
        // Input gradient.
        for _ in 0..<min(samples, shape.elementCount) {
            let i = Int(g.next() % UInt64(shape.elementCount))
            let v = x.storage[i]
            var xs = x.storage
            xs[i] = v + eps
            try x.replaceStorage(with: xs)
            let plus = try loss(x)
            xs[i] = v - eps
            try x.replaceStorage(with: xs)
            let minus = try loss(x)
            xs[i] = v
            try x.replaceStorage(with: xs)
            compare(dx.storage[i], (plus - minus) / Double(2 * eps), "dx[\(i)]")
        }
        // Parameter gradients.
        for (p, grad) in zip(params, analytic) {
            let grad = try #require(grad, "parameter \(p.name) has no gradient", sourceLocation: sourceLocation)
            for _ in 0..<min(samples, p.count) {
                let i = Int(g.next() % UInt64(p.count))
                let v = p.values[i]
                var w = p.values
                w[i] = v + eps
                try p.setValues(w)
                let plus = try loss(x)
                w[i] = v - eps
                try p.setValues(w)
                let minus = try loss(x)
                w[i] = v
                try p.setValues(w)
                compare(grad[i], (plus - minus) / Double(2 * eps), "d\(p.name)[\(i)]")
            }
        }
        return worst
    }

    static func image(_ c: Int, _ h: Int, _ w: Int) -> TensorShape { TensorShape(n: 1, c: c, h: h, w: w) }
}

@Suite struct TrainingGradientTests {
    @Test func convolutionStridePaddingBiasTanh() throws {
        let net = try Network(inputShape: GradientCheck.image(2, 5, 5), seed: 3) {
            Conv2D(3, kernel: 3, stride: 2, padding: 1, activation: .tanh, name: "conv")
        }
        try GradientCheck.check(net)
    }

    @Test func convolutionGroupedDilatedAndDepthwise() throws {
        let net = try Network(inputShape: GradientCheck.image(4, 7, 6), seed: 4) {
            Conv2D(6, kernel: 3, padding: 2, dilation: 2, groups: 2, activation: .sigmoid, name: "grouped")
            DepthwiseConv2D(kernel: 3, stride: 2, padding: .same, multiplier: 1, name: "dw")
            Conv2D(2, kernel: Size2D(1, 2), bias: false, activation: .leakyReLU(alpha: -0.3), name: "negslope")
        }
        try GradientCheck.check(net)
    }

    @Test func denseWithActivations() throws {
        let net = try Network(inputShape: GradientCheck.image(2, 3, 3), seed: 5) {
            Flatten(name: "flatten")
            Dense(7, activation: .relu, name: "fc1")
            Dense(4, activation: .sigmoid, name: "fc2")
            Dense(3, bias: false, name: "fc3")
        }
        try GradientCheck.check(net)
    }

    @Test func maxAndAveragePooling() throws {
        let net = try Network(inputShape: GradientCheck.image(2, 7, 7), seed: 6) {
            Conv2D(3, kernel: 1, name: "mix")
            MaxPool2D(2, name: "max")
            AvgPool2D(3, stride: 2, padding: 1, countIncludePad: false, name: "avg")
        }
        try GradientCheck.check(net)
        let ceil = try Network(inputShape: GradientCheck.image(1, 5, 5), seed: 7) {
            Conv2D(2, kernel: 1, name: "mix")
            AvgPool2D(2, stride: 2, ceilMode: true, countIncludePad: true, name: "avg")
            MaxPool2D(2, stride: 1, padding: .same, name: "max")
        }
        try GradientCheck.check(ceil)
    }

    @Test func globalPools() throws {
        let avg = try Network(inputShape: GradientCheck.image(2, 4, 3), seed: 8) {
            Conv2D(3, kernel: 3, padding: 1, name: "conv")
            GlobalAvgPool(name: "gap")
        }
        try GradientCheck.check(avg)
        let max = try Network(inputShape: GradientCheck.image(2, 4, 3), seed: 9) {
            Conv2D(3, kernel: 3, padding: 1, name: "conv")
            GlobalMaxPool(name: "gmp")
        }
        try GradientCheck.check(max)
    }

    @Test func batchNormTrainingAndInferenceMode() throws {
        let net = try Network(inputShape: GradientCheck.image(3, 4, 4), seed: 10) {
            Conv2D(4, kernel: 3, padding: 1, bias: false, name: "conv")
            BatchNorm(activation: .tanh, name: "bn")
        }
        try GradientCheck.check(net, batch: 3, mode: .training, eps: 1e-2, tolerance: 2e-2)
        // Give the running statistics non-trivial values, then check the inference-mode gradients.
        let bn = try #require(net.root as? Sequential).layers[1] as! BatchNorm
        try bn.runningMean!.setValues([0.1, -0.2, 0.3, 0.05])
        try bn.runningVariance!.setValues([0.5, 1.5, 2.0, 0.8])
        try GradientCheck.check(net, batch: 2, mode: .inference)
    }

    @Test func activationLayersAndSoftmax() throws {
        let net = try Network(inputShape: GradientCheck.image(3, 3, 3), seed: 11) {
            Conv2D(4, kernel: 1, name: "c1")
            ReLU6(name: "relu6")
            Conv2D(4, kernel: 1, name: "c2")
            LeakyReLU(0.2, name: "leaky")
            Conv2D(4, kernel: 1, name: "c3")
            ReLU(name: "relu")
            Conv2D(4, kernel: 1, name: "c4")
            Sigmoid(name: "sigmoid")
            Conv2D(4, kernel: 1, name: "c5")
            Tanh(name: "tanh")
            Softmax(name: "softmax")
        }
        try GradientCheck.check(net, inputScale: 3)
    }

    @Test func residualAddRoutesToBothOperands() throws {
        let g = GraphBuilder(inputShape: GradientCheck.image(2, 5, 5), seed: 12)
        let a = try g(Conv2D(2, kernel: 3, padding: 1, name: "conv1"), g.input)
        let b = try g(BatchNorm(name: "bn"), a)
        // The input feeds conv1 and the add: its gradient sums both paths.
        let s = try g(Add(activation: .relu, name: "add"), b, g.input)
        let c = try g(Conv2D(3, kernel: 3, padding: 1, name: "conv2"), s)
        let s2 = try g(Add(name: "add2"), c, try g(Conv2D(3, kernel: 1, name: "proj"), s))
        let net = try Network(root: g.build(output: s2, name: "res"), inputShape: g.input.shape)
        try GradientCheck.check(net, batch: 2, eps: 1e-2, tolerance: 2e-2)
    }

    @Test func concatRoutesChannelSlices() throws {
        let g = GraphBuilder(inputShape: GradientCheck.image(2, 4, 4), seed: 13)
        let a = try g(Conv2D(3, kernel: 3, padding: 1, activation: .tanh, name: "a"), g.input)
        let b = try g(Conv2D(1, kernel: 1, name: "b"), g.input)
        let c = try g(Concat(name: "cat"), a, b, g.input)
        let p = try g(ZeroPad2D(Padding(top: 1, left: 0, bottom: 0, right: 2), name: "pad"), c)
        let d = try g(Conv2D(2, kernel: 3, name: "head"), p)
        let net = try Network(root: g.build(output: d, name: "incept"), inputShape: g.input.shape)
        try GradientCheck.check(net)
    }

    @Test func dropoutGradientFollowsTheMask() throws {
        let net = try Network(inputShape: GradientCheck.image(2, 4, 4), seed: 14) {
            Conv2D(3, kernel: 3, padding: 1, name: "conv")
            Dropout(0.4, name: "drop")
            Conv2D(2, kernel: 1, name: "out")
        }
        try GradientCheck.check(net)
        // Inference mode: the identity.
        let tape = TrainingGraph(network: net)
        var g = SeededGenerator(seed: 1)
        let x = try Tensor(shape: TensorShape(n: 2, c: 2, h: 4, w: 4), values: GradientCheck.random(64, &g))
        let y = try tape.forward(x, mode: .inference)
        #expect(y.maxAbsDifference(try net(x)) < 1e-5)
    }

    @Test func transposedConvolutionStrideAndPadding() throws {
        let net = try Network(inputShape: GradientCheck.image(3, 4, 3), seed: 16) {
            ConvTranspose2D(2, kernel: 3, padding: .symmetric(1), activation: .tanh, name: "up1")
            ConvTranspose2D(3, kernel: 3, stride: 2, padding: Padding(top: 1, left: 0, bottom: 0, right: 1),
                            outputPadding: Size2D(1, 0), name: "up2")
            ConvTranspose2D(2, kernel: Size2D(2, 3), stride: Size2D(2, 1), bias: false, name: "up3")
        }
        try GradientCheck.check(net)
        // A negative-slope leaky ReLU (differentiated from the saved pre-activation). Its kink at 0
        // makes central differences unreliable wherever a perturbation crosses it, so this check
        // uses one layer and a seed whose sampled positions stay clear of the kink.
        let leaky = try Network(inputShape: GradientCheck.image(3, 4, 3), seed: 16) {
            ConvTranspose2D(2, kernel: Size2D(2, 3), stride: Size2D(2, 1), bias: false,
                            activation: .leakyReLU(alpha: -0.2), name: "up")
        }
        try GradientCheck.check(leaky, samples: 36, seed: 5)
    }

    @Test func localResponseNorm() throws {
        let net = try Network(inputShape: GradientCheck.image(6, 3, 2), seed: 17) {
            Conv2D(7, kernel: 1, name: "mix")
            LRN(size: 4, alpha: 0.5, beta: 0.75, k: 1.5, name: "lrn")
            Conv2D(5, kernel: 1, name: "mix2")
            LRN(size: 3, alpha: 1e-2, beta: 0.6, k: 2, name: "lrn2")
        }
        try GradientCheck.check(net, inputScale: 2)
    }

    @Test func frozenLayersGetNoGradientAndInputGradientIsOptional() throws {
        let net = try Network(inputShape: GradientCheck.image(1, 4, 4), seed: 15) {
            Conv2D(2, kernel: 3, padding: 1, name: "backbone")
            Flatten(name: "flatten")
            Dense(3, name: "head")
        }
        try net.freezeAllButHead()
        let tape = TrainingGraph(network: net)
        let params = try tape.trainableParameters()
        #expect(params.count == 2)  // head weight and bias
        let x = try Tensor(shape: TensorShape(n: 2, c: 1, h: 4, w: 4), repeating: 0.5)
        let y = try tape.forward(x, mode: .training)
        tape.zeroGradients()
        let dx = try tape.backward(try Tensor(shape: y.shape, repeating: 1))
        #expect(dx == nil)
        let named = Dictionary(uniqueKeysWithValues: try net.namedParameters().map { ($0.name, $0.parameter) })
        #expect(named["backbone.weight"]?.gradient == nil)
        #expect(named["head.weight"]?.gradient != nil)
    }
}
