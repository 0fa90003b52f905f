import ConvKit
import Foundation

// The forward (training/inference mode, recording what backward needs) and
// backward pass of every primitive layer kind, dispatched on the layer's type.
// All tensors are NCHW.

/// Whether the fused activation's derivative can be computed from its output
/// alone: true for every activation except leaky ReLU with a negative slope
/// (where x > 0 no longer coincides with y > 0).
func differentiableFromOutput(_ act: Activation) -> Bool {
    if case .leakyReLU(let alpha) = act { return alpha >= 0 }
    return true
}

/// Adds `g` to a parameter's gradient (creating it on first use).
func accumulate(_ p: Parameter, _ g: [Float]) {
    guard !g.isEmpty else { return }
    if var existing = p.gradient, existing.count == g.count {
        for i in existing.indices { existing[i] += g[i] }
        p.gradient = existing
    } else {
        p.gradient = g
    }
}

/// Mixes the step seed with a node index (SplitMix64 finaliser).
func mixSeed(_ seed: UInt64, _ index: Int) -> UInt64 {
    var g = SeededGenerator(seed: seed ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15))
    return g.next()
}

extension TrainingGraph {
    /// Training plans live for one step (the weights change every step), so skip
    /// Winograd, whose weight transform costs more than it saves in a single run.
    var planOptions: PlanOptions { PlanOptions(threads: threads, allowWinograd: false) }

    func convPlan(_ i: Int, _ conv: Conv2D, _ desc: Conv2DDescriptor, weights: Parameter,
                  bias: Parameter?) throws -> Conv2DPlan {
        let versions = conv.parameters.map(\.version)
        if let c = plans.conv[i], c.shape == desc.inputShape, c.versions == versions,
           c.plan.descriptor.activation == desc.activation {
            return c.plan
        }
        let plan = try Conv2DPlan(descriptor: desc, weights: weights.values, bias: bias?.values, options: planOptions)
        plans.conv[i] = (desc.inputShape, versions, plan)
        return plan
    }

    func convBackwardPlan(_ i: Int, _ desc: Conv2DDescriptor) throws -> Conv2DBackwardPlan {
        if let c = plans.convBackward[i], c.shape == desc.inputShape { return c.plan }
        let plan = try Conv2DBackwardPlan(descriptor: desc, options: planOptions)
        plans.convBackward[i] = (desc.inputShape, plan)
        return plan
    }

    func poolPlan(_ i: Int, _ pool: Pool2D, _ shape: TensorShape) throws -> Pool2DPlan {
        if let c = plans.pool[i], c.shape == shape { return c.plan }
        let plan = try Pool2DPlan(descriptor: pool.descriptor(for: shape), options: planOptions)
        plans.pool[i] = (shape, plan)
        return plan
    }

    func densePlan(_ i: Int, _ dense: Dense, _ d: DenseDescriptor, _ shape: TensorShape) throws -> DensePlan {
        let versions = dense.parameters.map(\.version)
        if let c = plans.dense[i], c.shape == shape, c.versions == versions { return c.plan }
        guard let weight = dense.weight else { throw ConvKitNN.wiring(dense, "is not built") }
        let plan = try DensePlan(descriptor: d, weights: weight.values, bias: dense.bias?.values, options: planOptions)
        plans.dense[i] = (shape, versions, plan)
        return plan
    }

    /// `act(z)`, and what backward needs to differentiate it.
    func activate(_ act: Activation, _ z: Tensor) throws -> (Tensor, Saved) {
        if act == .none { return (z, .none) }
        return (try Ops.apply(act, to: z), differentiableFromOutput(act) ? .none : .preActivation(z))
    }

    /// The gradient through a (possibly fused) activation with output `y`.
    func throughActivation(_ act: Activation, output y: Tensor, saved: Saved, _ dy: Tensor) throws -> Tensor {
        if act == .none { return dy }
        if case .preActivation(let z) = saved {
            return try Backward.activation(act, input: z, output: y, outputGradient: dy)
        }
        return try Backward.activation(act, input: y, output: y, outputGradient: dy)
    }

    // MARK: Forward

    func forwardNode(_ i: Int, _ node: LoweredGraph.Node, _ inputs: [Tensor],
                     mode: TrainingMode) throws -> (Tensor, Saved) {
        let layer = node.layer
        switch layer {
        case let conv as Conv2D:
            guard let weight = conv.weight else { throw ConvKitNN.wiring(conv, "is not built") }
            let x = inputs[0]
            let desc = try conv.descriptor(for: x.shape)
            if differentiableFromOutput(desc.activation) {
                return (try convPlan(i, conv, desc, weights: weight, bias: conv.bias)(x), .none)
            }
            let linear = try Conv2DDescriptor(inputShape: desc.inputShape, outputChannels: desc.outputChannels,
                                              kernel: desc.kernel, stride: desc.stride, padding: desc.padding,
                                              dilation: desc.dilation, groups: desc.groups, hasBias: desc.hasBias)
            let z = try convPlan(i, conv, linear, weights: weight, bias: conv.bias)(x)
            return try activate(desc.activation, z)

        case let dense as Dense:
            let x = inputs[0]
            let d = try dense.descriptor(for: x.shape)
            if differentiableFromOutput(d.activation) {
                let plan = try densePlan(i, dense, d, x.shape)
                return (try Tensor(shape: d.outputShape, values: plan(x.storage)), .none)
            }
            let linear = try DenseDescriptor(batch: d.batch, inputFeatures: d.inputFeatures,
                                             outputFeatures: d.outputFeatures, hasBias: d.hasBias)
            let plan = try densePlan(i, dense, linear, x.shape)
            return try activate(d.activation, Tensor(shape: d.outputShape, values: plan(x.storage)))

        case let pool as Pool2D:
            return (try poolPlan(i, pool, inputs[0].shape)(inputs[0]), .none)

        case let pool as GlobalPool:
            return (try Ops.globalPool(inputs[0], kind: pool.poolKind), .none)

        case is Flatten:
            return (try inputs[0].flattened(), .none)

        case let drop as Dropout:
            guard mode == .training, drop.rate > 0 else { return (inputs[0], .none) }
            let seed = mixSeed(dropoutSeed, i)
            return (try Backward.dropout(inputs[0], rate: drop.rate, seed: seed), .dropout(seed: seed))

        case let bn as BatchNorm:
            guard let scale = bn.scale, let shift = bn.shift, let rm = bn.runningMean, let rv = bn.runningVariance else {
                throw ConvKitNN.wiring(bn, "is not built")
            }
            let x = inputs[0]
            // A frozen batch norm keeps its running statistics (inference behaviour), as usual when fine-tuning.
            if mode == .training && bn.isTrainable {
                var mean = rm.values, variance = rv.values
                let r = try Backward.batchNormTraining(x, scale: scale.values, shift: shift.values,
                                                       runningMean: &mean, runningVariance: &variance,
                                                       epsilon: bn.epsilon, momentum: bn.momentum)
                try rm.setValues(mean)
                try rv.setValues(variance)
                let (y, _) = try activate(bn.activation, r.output)
                return (y, .batchNorm(mean: r.mean, invstd: r.inverseStandardDeviation, beforeActivation: r.output,
                                      training: true))
            }
            let z = try Ops.batchNorm(x, scale: scale.values, shift: shift.values, mean: rm.values,
                                      variance: rv.values, epsilon: bn.epsilon)
            let invstd = rv.values.map { 1 / ($0 + bn.epsilon).squareRoot() }
            let (y, _) = try activate(bn.activation, z)
            return (y, .batchNorm(mean: rm.values, invstd: invstd, beforeActivation: z, training: false))

        case let act as ActivationLayer:
            return (try Ops.apply(act.activation, to: inputs[0]), .none)

        case let add as Add:
            _ = try add.outputShape(for: inputs.map(\.shape))
            if differentiableFromOutput(add.activation) {
                return (try Ops.add(inputs[0], inputs[1], activation: add.activation), .none)
            }
            return try activate(add.activation, Ops.add(inputs[0], inputs[1]))

        case let concat as Concat:
            _ = try concat.outputShape(for: inputs.map(\.shape))
            return (try Ops.concatChannels(inputs), .none)

        case let convT as ConvTranspose2D:
            let desc = try convT.descriptor(for: inputs[0].shape)
            if differentiableFromOutput(desc.activation) { return (try convT.forward(inputs), .none) }
            guard let weight = convT.weight else { throw ConvKitNN.wiring(convT, "is not built") }
            let linear = try ConvTranspose2DDescriptor(
                inputShape: desc.inputShape, outputChannels: desc.outputChannels, kernel: desc.kernel,
                stride: desc.stride, padding: desc.padding, outputPadding: desc.outputPadding,
                dilation: desc.dilation, groups: desc.groups, hasBias: desc.hasBias)
            let plan = try ConvTranspose2DPlan(descriptor: linear, weights: weight.values, bias: convT.bias?.values,
                                               options: planOptions)
            return try activate(desc.activation, plan(inputs[0]))

        case is ZeroPad2D, is Softmax, is LRN:
            return (try layer.forward(inputs), .none)

        default:
            throw ConvKitError(code: .unsupported,
                               message: "layer '\(node.path)' (\(layer.kind)) has no training path yet")
        }
    }

    // MARK: Backward

    /// The gradients w.r.t. the node's inputs (nil where not needed); parameter
    /// gradients are accumulated unless the layer is frozen.
    func backwardNode(_ i: Int, _ node: LoweredGraph.Node, inputs: [Tensor], output y: Tensor, saved: Saved,
                      mode: TrainingMode, outputGradient dy: Tensor, needInput: [Bool]) throws -> [Tensor?] {
        let layer = node.layer
        let train = layer.isTrainable
        switch layer {
        case let conv as Conv2D:
            guard let weight = conv.weight else { throw ConvKitNN.wiring(conv, "is not built") }
            let x = inputs[0]
            let desc = try conv.descriptor(for: x.shape)
            let dz = try throughActivation(desc.activation, output: y, saved: saved, dy)
            let plan = try convBackwardPlan(i, desc)
            if train {
                let (dw, db) = try plan.weightGradients(input: x, outputGradient: dz, bias: conv.bias != nil)
                accumulate(weight, dw)
                if let b = conv.bias { accumulate(b, db) }
            }
            return [needInput[0] ? try plan.inputGradient(outputGradient: dz, weights: weight.values) : nil]

        case let convT as ConvTranspose2D:
            // The transposed convolution is the data gradient of the convolution `back` (input: the
            // transposed conv's output, output: its input, same OIHW weights C x K/g x R x S), so
            // dx = back(dz) and dw = back's weight gradient with x := dz and dy := the input.
            guard let weight = convT.weight else { throw ConvKitNN.wiring(convT, "is not built") }
            let x = inputs[0]
            let desc = try convT.descriptor(for: x.shape)
            let dz = try throughActivation(desc.activation, output: y, saved: saved, dy)
            let back = try Conv2DDescriptor(inputShape: desc.outputShape, outputChannels: desc.inputShape.c,
                                            kernel: desc.kernel, stride: desc.stride, padding: desc.padding,
                                            dilation: desc.dilation, groups: desc.groups)
            guard back.outputShape == x.shape else {
                throw ConvKitError(code: .unsupported, message:
                    "layer '\(node.path)' (ConvTranspose2D): no gradient for output padding >= stride")
            }
            if train {
                let (dw, _) = try convBackwardPlan(i, back).weightGradients(input: dz, outputGradient: x, bias: false)
                accumulate(weight, dw)
                if let b = convT.bias { accumulate(b, channelSums(dz)) }
            }
            guard needInput[0] else { return [nil] }
            return [try Conv2DPlan(descriptor: back, weights: weight.values, bias: nil, options: planOptions)(dz)]

        case let lrn as LRN:
            return [try lrnBackward(inputs[0], size: lrn.size, alpha: lrn.alpha, beta: lrn.beta, k: lrn.k, dy)]

        case let dense as Dense:
            guard let weight = dense.weight else { throw ConvKitNN.wiring(dense, "is not built") }
            let x = inputs[0]
            let d = try dense.descriptor(for: x.shape)
            let dz = try throughActivation(d.activation, output: y, saved: saved, dy)
            guard train || needInput[0] else { return [nil] }
            let g = try Backward.dense(d, input: x.storage, weights: weight.values, outputGradient: dz.storage,
                                       needInput: needInput[0], needParameters: train, options: planOptions)
            if train {
                accumulate(weight, g.weights)
                if let b = dense.bias { accumulate(b, g.bias) }
            }
            return [needInput[0] ? try Tensor(shape: x.shape, values: g.input) : nil]

        case let pool as Pool2D:
            let plan = try poolPlan(i, pool, inputs[0].shape)
            return [try plan.backward(input: inputs[0], outputGradient: dy)]

        case let pool as GlobalPool:
            return [try Backward.globalPool(pool.poolKind, input: inputs[0], outputGradient: dy)]

        case is Flatten:
            return [try Tensor(shape: inputs[0].shape, values: dy.storage)]

        case let drop as Dropout:
            if case .dropout(let seed) = saved {
                return [try Backward.dropout(outputGradient: dy, rate: drop.rate, seed: seed)]
            }
            return [dy]

        case let bn as BatchNorm:
            guard let scale = bn.scale, let shift = bn.shift,
                  case .batchNorm(let mean, let invstd, let z, let training) = saved else {
                throw ConvKitNN.wiring(bn, "has no recorded forward pass")
            }
            let saveZ: Saved = differentiableFromOutput(bn.activation) ? .none : .preActivation(z)
            let dz = try throughActivation(bn.activation, output: y, saved: saveZ, dy)
            let x = inputs[0]
            if training {
                let g = try Backward.batchNormTraining(x, scale: scale.values, mean: mean,
                                                       inverseStandardDeviation: invstd, outputGradient: dz)
                if train {
                    accumulate(scale, g.scale)
                    accumulate(shift, g.shift)
                }
                return [g.input]
            }
            let g = try batchNormInferenceBackward(x, scale: scale.values, mean: mean, invstd: invstd, dz)
            if train {
                accumulate(scale, g.scale)
                accumulate(shift, g.shift)
            }
            return [g.input]

        case let act as ActivationLayer:
            return [try Backward.activation(act.activation, input: inputs[0], output: y, outputGradient: dy)]

        case let add as Add:
            let dz = try throughActivation(add.activation, output: y, saved: saved, dy)
            return [dz, dz]

        case is Concat:
            return try splitChannels(dy, inputs.map(\.shape.c)).map { Optional($0) }

        case let pad as ZeroPad2D:
            return [try crop(dy, pad.padding, to: inputs[0].shape)]

        case is Softmax:
            return [try softmaxBackward(output: y, dy)]

        default:
            throw ConvKitError(code: .unsupported,
                               message: "layer '\(node.path)' (\(layer.kind)) has no backward pass yet")
        }
    }
}

// MARK: - Helpers in Swift (cheap element-wise passes)

/// Batch norm with fixed statistics: `dx = dy * gamma * invstd`, `dgamma = sum dy * xhat`, `dbeta = sum dy`.
func batchNormInferenceBackward(_ x: Tensor, scale: [Float], mean: [Float], invstd: [Float],
                                _ dy: Tensor) throws -> (input: Tensor, scale: [Float], shift: [Float]) {
    let s = x.shape
    var dx = dy
    var dgamma = [Float](repeating: 0, count: s.c), dbeta = dgamma
    let plane = s.h * s.w
    dx.withUnsafeMutableBufferPointer { g in
        x.withUnsafeBufferPointer { xs in
            for n in 0..<s.n {
                for c in 0..<s.c {
                    let base = (n * s.c + c) * plane
                    var sg: Float = 0, sb: Float = 0
                    let a = scale[c] * invstd[c]
                    for p in base..<(base + plane) {
                        sb += g[p]
                        sg += g[p] * (xs[p] - mean[c]) * invstd[c]
                        g[p] *= a
                    }
                    dgamma[c] += sg
                    dbeta[c] += sb
                }
            }
        }
    }
    return (dx, dgamma, dbeta)
}

/// Splits an NCHW gradient along channels into pieces of `channels[k]` channels.
func splitChannels(_ dy: Tensor, _ channels: [Int]) throws -> [Tensor] {
    let s = dy.shape
    let plane = s.h * s.w
    var out: [Tensor] = []
    var offset = 0
    for c in channels {
        var part = [Float](repeating: 0, count: s.n * c * plane)
        dy.withUnsafeBufferPointer { src in
            for n in 0..<s.n {
                let from = (n * s.c + offset) * plane
                for k in 0..<(c * plane) { part[n * c * plane + k] = src[from + k] }
            }
        }
        out.append(try Tensor(shape: TensorShape(n: s.n, c: c, h: s.h, w: s.w), values: part))
        offset += c
    }
    return out
}

/// The interior of a padded NCHW gradient.
func crop(_ dy: Tensor, _ p: Padding, to shape: TensorShape) throws -> Tensor {
    var out = [Float](repeating: 0, count: shape.elementCount)
    let o = dy.shape
    dy.withUnsafeBufferPointer { src in
        for plane in 0..<(shape.n * shape.c) {
            for h in 0..<shape.h {
                for w in 0..<shape.w {
                    out[(plane * shape.h + h) * shape.w + w] = src[(plane * o.h + h + p.top) * o.w + w + p.left]
                }
            }
        }
    }
    return try Tensor(shape: shape, values: out)
}

/// Softmax over channels backward: `dx_c = y_c * (dy_c - sum_k dy_k y_k)` at every position.
func softmaxBackward(output y: Tensor, _ dy: Tensor) throws -> Tensor {
    let s = y.shape
    let plane = s.h * s.w
    var dx = dy
    dx.withUnsafeMutableBufferPointer { g in
        y.withUnsafeBufferPointer { ys in
            for n in 0..<s.n {
                for p in 0..<plane {
                    var dot: Float = 0
                    for c in 0..<s.c { let k = (n * s.c + c) * plane + p; dot += g[k] * ys[k] }
                    for c in 0..<s.c { let k = (n * s.c + c) * plane + p; g[k] = ys[k] * (g[k] - dot) }
                }
            }
        }
    }
    return dx
}

/// Per-channel sums of an NCHW tensor over N, H, W (a bias gradient).
func channelSums(_ t: Tensor) -> [Float] {
    let s = t.shape
    let plane = s.h * s.w
    var out = [Double](repeating: 0, count: s.c)
    t.withUnsafeBufferPointer { v in
        for n in 0..<s.n {
            for c in 0..<s.c {
                let base = (n * s.c + c) * plane
                var sum = 0.0
                for p in base..<(base + plane) { sum += Double(v[p]) }
                out[c] += sum
            }
        }
    }
    return out.map { Float($0) }
}

/// Local response normalisation backward (NCHW, float64 accumulation). With the
/// forward `y_i = x_i * D_i^-beta`, `D_j = k + alpha/size * sum_{c in window(j)} x_c^2`
/// and `window(j) = [j - lo, j + hi]`, `lo = (size-1)/2`, `hi = size-1-lo`:
/// `dx_i = dy_i * D_i^-beta - 2*alpha*beta/size * x_i * sum_{j: i in window(j)} dy_j * x_j * D_j^(-beta-1)`.
func lrnBackward(_ x: Tensor, size: Int, alpha: Float, beta: Float, k: Float, _ dy: Tensor) throws -> Tensor {
    let s = x.shape
    let plane = s.h * s.w
    let lo = (size - 1) / 2, hi = size - 1 - lo
    let a = Double(alpha) / Double(size), b = Double(beta)
    var dx = [Float](repeating: 0, count: s.elementCount)
    var d = [Double](repeating: 0, count: s.c), t = d
    x.withUnsafeBufferPointer { xs in
        dy.withUnsafeBufferPointer { g in
            for n in 0..<s.n {
                for p in 0..<plane {
                    @inline(__always) func at(_ c: Int) -> Int { (n * s.c + c) * plane + p }
                    for c in 0..<s.c {
                        var sq = 0.0
                        for j in max(0, c - lo)...min(s.c - 1, c + hi) { let v = Double(xs[at(j)]); sq += v * v }
                        d[c] = Double(k) + a * sq
                        // dy_j * x_j * D_j^(-beta-1)
                        t[c] = Double(g[at(c)]) * Double(xs[at(c)]) * pow(d[c], -b - 1)
                    }
                    for c in 0..<s.c {
                        var sum = 0.0
                        for j in max(0, c - hi)...min(s.c - 1, c + lo) { sum += t[j] }
                        let o = at(c)
                        dx[o] = Float(Double(g[o]) * pow(d[c], -b) - 2 * a * b * Double(xs[o]) * sum)
                    }
                }
            }
        }
    }
    return try Tensor(shape: s, values: dx)
}
