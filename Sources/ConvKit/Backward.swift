import CConvKit

// Swift wrappers of the C core's backward passes (training). Conventions, as in
// convkit.h: "d" names the gradient of the scalar loss, gradient outputs are
// fresh tensors (never accumulated into), fused forward activations are not
// differentiated by the layer backward functions (apply
// `Backward.activation` to the output gradient first), weights are passed per
// call because they change every training step.

// MARK: - Conv2DBackwardPlan

/// The backward pass of a 2-D convolution: the gradient with respect to the
/// input (a transposed convolution of the output gradient with the weights) and
/// with respect to the weights and bias (summed over the batch).
///
/// One plan serves every training step of a layer (the weights are passed per
/// call). The descriptor's `activation` and `hasBias` are ignored.
///
/// ```swift
/// let back = try Conv2DBackwardPlan(descriptor: desc)
/// let dx = try back.inputGradient(outputGradient: dy, weights: w)          // desc.inputShape
/// let (dw, db) = try back.weightGradients(input: x, outputGradient: dy)    // K*C/g*R*S, K floats
/// ```
///
/// Thread safety: as `Conv2DPlan` (the C plan is immutable; each call writes its own outputs).
public final class Conv2DBackwardPlan: Sendable, CustomStringConvertible {
    /// The forward convolution this plan differentiates.
    public let descriptor: Conv2DDescriptor
    /// The options the plan was created with (`.auto`, `.reference` or `.im2col`).
    public let options: PlanOptions
    /// The algorithm actually used.
    public let algorithm: Algorithm
    /// The implementation's name.
    public let implementationName: String
    /// Workspace bytes a call needs (allocated per call by the C core).
    public let workspaceSize: Int
    /// Threads each call uses.
    public let threads: Int
    let handle: PlanHandle

    /// Creates a backward plan for `descriptor` (NCHW, NHWC; NCHW8c only with `.reference`).
    ///
    /// - Throws: `ConvKitError` `.unsupportedAlgorithm` for algorithms other than
    ///   `.auto`, `.reference`, `.im2col` (or im2col on NCHW8c), `.workspaceLimit`, `.outOfMemory`.
    public init(descriptor: Conv2DDescriptor, options: PlanOptions = .default) throws {
        var d = descriptor.c
        var o = try options.cOptions()
        handle = try PlanHandle.create { ck_conv2d_backward_plan_create(&d, &o, &$0) }
        self.descriptor = descriptor
        self.options = options
        algorithm = handle.algorithm
        implementationName = handle.implementationName
        workspaceSize = handle.workspaceSize
        threads = handle.threads
    }

    /// The gradient with respect to the input: `dx = conv_transpose(dy, w)`.
    ///
    /// - Parameters:
    ///   - outputGradient: `dy`, shape `descriptor.outputShape`, layout `descriptor.layout`.
    ///   - weights: OIHW, `descriptor.weightCount` floats.
    /// - Returns: `dx`, shape `descriptor.inputShape` (inputs no window reads get 0).
    /// - Throws: `ConvKitError` `.invalidShape` / `.invalidLayout` on a mismatch.
    public func inputGradient(outputGradient: Tensor, weights: [Float]) throws -> Tensor {
        try expect(outputGradient, "output gradient", shape: descriptor.outputShape, layout: descriptor.layout)
        try expectCount(weights, descriptor.weightCount, "weights", "K x C/groups x R x S = \(descriptor.weightShape)")
        var dx = try Tensor(shape: descriptor.inputShape, layout: descriptor.layout)
        let plan = handle.pointer
        try outputGradient.withUnsafeBufferPointer { dy in
            try weights.withUnsafeBufferPointer { w in
                try dx.withUnsafeMutableBufferPointer { out in
                    try check(ck_conv2d_backward_data(plan, dy.baseAddress, w.baseAddress, out.baseAddress, nil, 0))
                }
            }
        }
        return dx
    }

    /// The gradients with respect to the weights (OIHW) and the bias, summed over the batch.
    ///
    /// - Parameters:
    ///   - input: the forward input `x` (shape `descriptor.inputShape`).
    ///   - outputGradient: `dy` (shape `descriptor.outputShape`).
    ///   - bias: whether to compute the bias gradient (else `bias` is empty).
    /// - Returns: `weights`: `descriptor.weightCount` floats; `bias`: `K` floats or `[]`.
    /// - Throws: `ConvKitError` `.invalidShape` / `.invalidLayout` on a mismatch.
    public func weightGradients(input: Tensor, outputGradient: Tensor,
                                bias: Bool = true) throws -> (weights: [Float], bias: [Float]) {
        try expect(input, "input", shape: descriptor.inputShape, layout: descriptor.layout)
        try expect(outputGradient, "output gradient", shape: descriptor.outputShape, layout: descriptor.layout)
        var dw = [Float](repeating: 0, count: descriptor.weightCount)
        var db = [Float](repeating: 0, count: bias ? descriptor.outputChannels : 0)
        let plan = handle.pointer
        try input.withUnsafeBufferPointer { x in
            try outputGradient.withUnsafeBufferPointer { dy in
                try dw.withUnsafeMutableBufferPointer { w in
                    try db.withUnsafeMutableBufferPointer { b in
                        try check(ck_conv2d_backward_weights(plan, x.baseAddress, dy.baseAddress, w.baseAddress,
                                                             bias ? b.baseAddress : nil, nil, 0))
                    }
                }
            }
        }
        return (dw, db)
    }

    /// `Conv2DBackwardPlan(<implementation>, <descriptor>)`.
    public var description: String { "Conv2DBackwardPlan(\(implementationName), \(descriptor))" }
}

// MARK: - Pooling

extension Pool2DPlan {
    /// The gradient of the pooling with respect to its input.
    ///
    /// Max pooling routes each window's gradient to its arg-max (on ties the first
    /// maximum in window scan order: lowest row, then lowest column) and needs the
    /// forward `input`; average pooling spreads `dy / divisor` over the window's real
    /// input elements (the forward's divisor) and ignores `input`.
    ///
    /// - Parameters:
    ///   - input: the forward input (required for max pooling; may be nil for average).
    ///   - outputGradient: shape `descriptor.outputShape`, layout `descriptor.layout`.
    /// - Returns: `dx`, shape `descriptor.inputShape`.
    /// - Throws: `ConvKitError` `.invalidArgument` if max pooling gets no input,
    ///   `.invalidShape` / `.invalidLayout` on a mismatch.
    public func backward(input: Tensor?, outputGradient: Tensor) throws -> Tensor {
        try expect(outputGradient, "output gradient", shape: descriptor.outputShape, layout: descriptor.layout)
        if let input {
            try expect(input, "input", shape: descriptor.inputShape, layout: descriptor.layout)
        } else if descriptor.kind == .max {
            throw ConvKitError(code: .invalidArgument, message: "max pooling backward needs the forward input")
        }
        var dx = try Tensor(shape: descriptor.inputShape, layout: descriptor.layout)
        let plan = handle.pointer
        try withOptionalPointer(input?.storage) { x in
            try outputGradient.withUnsafeBufferPointer { dy in
                try dx.withUnsafeMutableBufferPointer { out in
                    try check(ck_pool2d_backward(plan, x, dy.baseAddress, out.baseAddress))
                }
            }
        }
        return dx
    }
}

// MARK: - Stateless backward ops

/// Backward passes of the stateless ops, losses, and training-mode batch
/// normalisation and dropout. Each returns new arrays/tensors and throws
/// `ConvKitError` on invalid input.
///
/// ```swift
/// let (loss, dlogits) = try Backward.softmaxCrossEntropy(logits: logits, labels: labels, classes: 10)
/// let dz = try Backward.activation(.relu, input: z, outputGradient: dy)
/// ```
public enum Backward {
    /// Global pooling backward: `outputGradient` is `N x C x 1 x 1`, the result has `input`'s shape.
    /// Average: `dy / (H*W)` everywhere; max: `dy` to the first maximum of each plane (h-major scan).
    ///
    /// - Throws: `ConvKitError` `.invalidShape` / `.invalidLayout` on a mismatch.
    public static func globalPool(_ kind: PoolKind, input: Tensor, outputGradient: Tensor) throws -> Tensor {
        let s = input.shape
        try expect(outputGradient, "output gradient", shape: TensorShape(n: s.n, c: s.c, h: 1, w: 1),
                   layout: input.layout)
        var dx = try Tensor(shape: s, layout: input.layout)
        try input.withUnsafeBufferPointer { x in
            try outputGradient.withUnsafeBufferPointer { dy in
                try dx.withUnsafeMutableBufferPointer { out in
                    try check(ck_global_pool2d_backward(kind.c, input.layout.c, i64(s.n), i64(s.c), i64(s.h),
                                                        i64(s.w), x.baseAddress, dy.baseAddress, out.baseAddress))
                }
            }
        }
        return dx
    }

    /// The gradients of a dense layer (its fused activation is not differentiated).
    ///
    /// - Parameters:
    ///   - input: `x`, `batch * inputFeatures` floats (row-major by sample).
    ///   - weights: `outputFeatures x inputFeatures`, row-major.
    ///   - outputGradient: `dy`, `batch * outputFeatures` floats.
    ///   - needInput: whether to compute `dx` (skip it for the first layer).
    ///   - needParameters: whether to compute `dw` and `db` (skip them for a frozen layer).
    /// - Returns: `input`: `dx = dy . W` (`batch * inputFeatures`) or `[]`; `weights`:
    ///   `dW = dy^T . x` or `[]`; `bias`: `sum_n dy` (`outputFeatures`) or `[]`.
    /// - Throws: `ConvKitError` `.invalidShape` on a count mismatch.
    public static func dense(_ descriptor: DenseDescriptor, input: [Float], weights: [Float], outputGradient: [Float],
                             needInput: Bool = true, needParameters: Bool = true,
                             options: PlanOptions = .default) throws
        -> (input: [Float], weights: [Float], bias: [Float]) {
        let d = descriptor
        try expectCount(input, d.batch * d.inputFeatures, "input", "batch x inputFeatures")
        try expectCount(weights, d.weightCount, "weights", "outputFeatures x inputFeatures")
        try expectCount(outputGradient, d.batch * d.outputFeatures, "output gradient", "batch x outputFeatures")
        var dx = [Float](repeating: 0, count: needInput ? d.batch * d.inputFeatures : 0)
        var dw = [Float](repeating: 0, count: needParameters ? d.weightCount : 0)
        var db = [Float](repeating: 0, count: needParameters ? d.outputFeatures : 0)
        var desc = d.c
        var o = try options.cOptions()
        try input.withUnsafeBufferPointer { x in
            try weights.withUnsafeBufferPointer { w in
                try outputGradient.withUnsafeBufferPointer { dy in
                    try dx.withUnsafeMutableBufferPointer { gx in
                        try dw.withUnsafeMutableBufferPointer { gw in
                            try db.withUnsafeMutableBufferPointer { gb in
                                try check(ck_dense_backward(&desc, &o, x.baseAddress, w.baseAddress, dy.baseAddress,
                                                            needInput ? gx.baseAddress : nil,
                                                            needParameters ? gw.baseAddress : nil,
                                                            needParameters ? gb.baseAddress : nil))
                            }
                        }
                    }
                }
            }
        }
        return (dx, dw, db)
    }

    /// Activation backward: `dx = dy * act'(x)` element-wise.
    ///
    /// `input` is the forward input, `output` the forward output; ReLU, ReLU6 and leaky
    /// ReLU need `input`, sigmoid and tanh use `output` when given (else recompute from
    /// `input`). Derivatives at the kinks as PyTorch: ReLU 1 iff x > 0; ReLU6 1 iff
    /// 0 < x < 6; leaky ReLU 1 if x > 0 else alpha.
    ///
    /// - Throws: `ConvKitError` `.invalidArgument` if neither tensor is given where one is needed,
    ///   `.invalidShape` if the tensors differ in shape or layout.
    public static func activation(_ activation: Activation, input: Tensor?, output: Tensor? = nil,
                                  outputGradient: Tensor) throws -> Tensor {
        for (name, t) in [("input", input), ("output", output)] {
            if let t { try expect(t, name, shape: outputGradient.shape, layout: outputGradient.layout) }
        }
        var dx = outputGradient
        try withOptionalPointer(input?.storage) { x in
            try withOptionalPointer(output?.storage) { y in
                try dx.withUnsafeMutableBufferPointer { g in
                    // dx may alias dy: the C core reads each dy element before writing it.
                    try check(ck_activation_backward(activation.c, i64(g.count), x, y, g.baseAddress, g.baseAddress))
                }
            }
        }
        dx.zeroChannelPadding()
        return dx
    }

    /// Fused softmax + cross-entropy (numerically stable, float64 inside):
    /// `loss = -(1/n) sum_i log softmax(logits_i)[labels_i]` and its gradient
    /// `dlogits = (softmax(logits) - onehot(labels)) / n`.
    ///
    /// - Parameters:
    ///   - logits: `n * classes` floats, row-major by sample.
    ///   - labels: `n` class indices in `0 ..< classes`.
    /// - Throws: `ConvKitError` `.invalidShape` on a count mismatch, `.invalidArgument`
    ///   for a label out of range (naming the row).
    public static func softmaxCrossEntropy(logits: [Float], labels: [Int32],
                                           classes: Int) throws -> (loss: Float, gradient: [Float]) {
        guard classes >= 1, labels.count * classes == logits.count, !labels.isEmpty else {
            throw ConvKitError(code: .invalidShape, message:
                "\(logits.count) logits for \(labels.count) labels of \(classes) classes: need labels x classes")
        }
        var loss: Float = 0
        var grad = [Float](repeating: 0, count: logits.count)
        try logits.withUnsafeBufferPointer { z in
            try labels.withUnsafeBufferPointer { l in
                try grad.withUnsafeMutableBufferPointer { g in
                    try check(ck_softmax_cross_entropy(i64(labels.count), i64(classes), z.baseAddress, l.baseAddress,
                                                       &loss, g.baseAddress))
                }
            }
        }
        return (loss, grad)
    }

    /// What the training-mode batch-norm forward returns.
    public struct BatchNormResult: Sendable {
        /// The normalised output (the input's shape and layout).
        public var output: Tensor
        /// The batch mean per channel.
        public var mean: [Float]
        /// `1 / sqrt(batch variance + epsilon)` per channel.
        public var inverseStandardDeviation: [Float]
    }

    /// Batch normalisation in training mode (NCHW or NHWC): normalises with the batch
    /// statistics (biased variance over `N*H*W`) and updates the running statistics as
    /// PyTorch does (`running = (1 - momentum) * running + momentum * batch`, unbiased
    /// variance for `runningVariance`).
    ///
    /// - Parameters: `scale` (gamma), `shift` (beta), `runningMean`, `runningVariance`: `C` floats each.
    /// - Throws: `ConvKitError` `.invalidShape` on a count mismatch or `N*H*W < 2`,
    ///   `.invalidArgument` for a bad epsilon or momentum.
    public static func batchNormTraining(_ x: Tensor, scale: [Float], shift: [Float], runningMean: inout [Float],
                                         runningVariance: inout [Float], epsilon: Float = 1e-5,
                                         momentum: Float = 0.1) throws -> BatchNormResult {
        let s = x.shape
        for (name, v) in [("scale", scale), ("shift", shift), ("running mean", runningMean),
                          ("running variance", runningVariance)] {
            try expectCount(v, s.c, name, "one per channel of \(s)")
        }
        var y = try Tensor(shape: s, layout: x.layout)
        var mean = [Float](repeating: 0, count: s.c), invstd = mean
        try x.withUnsafeBufferPointer { xs in
            try scale.withUnsafeBufferPointer { g in
                try shift.withUnsafeBufferPointer { b in
                    try runningMean.withUnsafeMutableBufferPointer { rm in
                        try runningVariance.withUnsafeMutableBufferPointer { rv in
                            try y.withUnsafeMutableBufferPointer { ys in
                                try mean.withUnsafeMutableBufferPointer { m in
                                    try invstd.withUnsafeMutableBufferPointer { iv in
                                        try check(ck_batch_norm_training_forward(
                                            x.layout.c, i64(s.n), i64(s.c), i64(s.h), i64(s.w), xs.baseAddress,
                                            g.baseAddress, b.baseAddress, epsilon, momentum, rm.baseAddress,
                                            rv.baseAddress, ys.baseAddress, m.baseAddress, iv.baseAddress))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return BatchNormResult(output: y, mean: mean, inverseStandardDeviation: invstd)
    }

    /// Batch normalisation backward (training mode: the batch statistics depend on x).
    ///
    /// - Parameters:
    ///   - x: the forward input; `scale`: gamma; `mean`, `inverseStandardDeviation`: from
    ///     `batchNormTraining`; `outputGradient`: `dy` shaped like `x`.
    /// - Returns: `input`: `dx`; `scale`: `dgamma = sum dy * xhat`; `shift`: `dbeta = sum dy`.
    /// - Throws: `ConvKitError` `.invalidShape` / `.invalidLayout` on a mismatch.
    public static func batchNormTraining(_ x: Tensor, scale: [Float], mean: [Float], inverseStandardDeviation: [Float],
                                         outputGradient: Tensor) throws
        -> (input: Tensor, scale: [Float], shift: [Float]) {
        let s = x.shape
        try expect(outputGradient, "output gradient", shape: s, layout: x.layout)
        for (name, v) in [("scale", scale), ("mean", mean), ("inverse standard deviation", inverseStandardDeviation)] {
            try expectCount(v, s.c, name, "one per channel of \(s)")
        }
        var dx = try Tensor(shape: s, layout: x.layout)
        var dgamma = [Float](repeating: 0, count: s.c), dbeta = dgamma
        try x.withUnsafeBufferPointer { xs in
            try scale.withUnsafeBufferPointer { g in
                try mean.withUnsafeBufferPointer { m in
                    try inverseStandardDeviation.withUnsafeBufferPointer { iv in
                        try outputGradient.withUnsafeBufferPointer { dy in
                            try dx.withUnsafeMutableBufferPointer { gx in
                                try dgamma.withUnsafeMutableBufferPointer { gg in
                                    try dbeta.withUnsafeMutableBufferPointer { gb in
                                        try check(ck_batch_norm_training_backward(
                                            x.layout.c, i64(s.n), i64(s.c), i64(s.h), i64(s.w), xs.baseAddress,
                                            g.baseAddress, m.baseAddress, iv.baseAddress, dy.baseAddress,
                                            gx.baseAddress, gg.baseAddress, gb.baseAddress))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dgamma, dbeta)
    }

    /// Inverted dropout: each element is kept with probability `1 - rate` (a
    /// counter-based hash of `(seed, index)`, so the mask is reproducible and
    /// independent of the thread count) and scaled by `1 / (1 - rate)`.
    ///
    /// - Throws: `ConvKitError` `.invalidArgument` unless `0 <= rate <= 1`.
    public static func dropout(_ x: Tensor, rate: Float, seed: UInt64) throws -> Tensor {
        var y = x
        try y.withUnsafeMutableBufferPointer { buf in
            try check(ck_dropout_forward(i64(buf.count), rate, seed, buf.baseAddress, buf.baseAddress, nil))
        }
        return y
    }

    /// Dropout backward: `dx = dy * keep(seed, i) / (1 - rate)` with the forward's `rate` and `seed`.
    ///
    /// - Throws: `ConvKitError` `.invalidArgument` unless `0 <= rate <= 1`.
    public static func dropout(outputGradient: Tensor, rate: Float, seed: UInt64) throws -> Tensor {
        var dx = outputGradient
        try dx.withUnsafeMutableBufferPointer { buf in
            try check(ck_dropout_backward(i64(buf.count), rate, seed, buf.baseAddress, buf.baseAddress))
        }
        return dx
    }
}
