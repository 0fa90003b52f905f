import CConvKit

// Package-level pointer entry points for the model layer's compiled networks
// (ConvKitNN), which run every layer inside one activation arena and so cannot
// go through `Tensor`-valued APIs. Not public: pointers stay inside the package.

extension Conv2DPlan {
    /// Runs the plan on raw storage laid out as `descriptor.layout` (residual optional).
    package func execute(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                         residual: UnsafePointer<Float>?) throws(ConvKitError) {
        try check(ck_conv2d_execute(handle.pointer, input, output, residual, nil, 0))
    }
}

extension ConvTranspose2DPlan {
    /// Runs the plan on raw storage laid out as `descriptor.layout`.
    package func execute(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) throws(ConvKitError) {
        try check(ck_conv_transpose2d_execute(handle.pointer, input, output, nil, 0))
    }
}

extension Pool2DPlan {
    /// Runs the plan on raw storage laid out as `descriptor.layout`.
    package func execute(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) throws(ConvKitError) {
        try check(ck_pool2d_execute(handle.pointer, input, output))
    }
}

extension DensePlan {
    /// Runs the plan on `batch x inputFeatures` floats into `batch x outputFeatures` floats.
    package func execute(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) throws(ConvKitError) {
        try check(ck_dense_execute(handle.pointer, input, output))
    }
}

/// Pointer versions of `Ops` and `Tensor.converted(to:)` for the model layer.
package enum RawOps {
    /// `ck_convert_layout`.
    package static func convert(_ s: TensorShape, from: Layout, _ x: UnsafePointer<Float>, to: Layout,
                                _ y: UnsafeMutablePointer<Float>) throws(ConvKitError) {
        try check(ck_convert_layout(i64(s.n), i64(s.c), i64(s.h), i64(s.w), from.c, x, to.c, y))
    }

    /// `ck_global_pool2d`.
    package static func globalPool(_ kind: PoolKind, _ layout: Layout, _ s: TensorShape, _ x: UnsafePointer<Float>,
                                   _ y: UnsafeMutablePointer<Float>) throws(ConvKitError) {
        try check(ck_global_pool2d(kind.c, layout.c, i64(s.n), i64(s.c), i64(s.h), i64(s.w), x, y))
    }

    /// `ck_softmax` (NCHW or NHWC).
    package static func softmax(log: Bool, _ layout: Layout, _ s: TensorShape, _ x: UnsafePointer<Float>,
                                _ y: UnsafeMutablePointer<Float>) throws(ConvKitError) {
        try check(ck_softmax(log ? 1 : 0, layout.c, i64(s.n), i64(s.c), i64(s.h), i64(s.w), x, y))
    }

    /// `ck_batch_norm_inference`; the parameter pointers hold `s.c` floats each.
    package static func batchNorm(_ layout: Layout, _ s: TensorShape, _ x: UnsafePointer<Float>,
                                  scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                  mean: UnsafePointer<Float>, variance: UnsafePointer<Float>, epsilon: Float,
                                  activation: Activation, _ y: UnsafeMutablePointer<Float>) throws(ConvKitError) {
        try check(ck_batch_norm_inference(layout.c, i64(s.n), i64(s.c), i64(s.h), i64(s.w), x, scale, shift, mean,
                                          variance, epsilon, activation.c, y))
    }

    /// `ck_lrn` (NCHW or NHWC).
    package static func lrn(_ layout: Layout, _ s: TensorShape, size: Int, alpha: Float, beta: Float, k: Float,
                            _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) throws(ConvKitError) {
        try check(ck_lrn(layout.c, i64(s.n), i64(s.c), i64(s.h), i64(s.w), i64(size), alpha, beta, k, x, y))
    }

    /// `ck_add` over `count` floats.
    package static func add(count: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, activation: Activation,
                            _ y: UnsafeMutablePointer<Float>) throws(ConvKitError) {
        try check(ck_add(i64(count), a, b, activation.c, y))
    }

    /// `ck_activation_forward` over `count` floats.
    package static func activation(_ activation: Activation, count: Int, _ x: UnsafePointer<Float>,
                                   _ y: UnsafeMutablePointer<Float>) throws(ConvKitError) {
        try check(ck_activation_forward(activation.c, i64(count), x, y))
    }

    /// `ck_concat_channels` (NCHW or NHWC).
    package static func concat(_ layout: Layout, n: Int, h: Int, w: Int, inputs: [UnsafePointer<Float>],
                               channels: [Int], _ y: UnsafeMutablePointer<Float>) throws(ConvKitError) {
        let cs = channels.map { i64($0) }
        let ps: [UnsafePointer<Float>?] = inputs
        let status = cs.withUnsafeBufferPointer { c in
            ps.withUnsafeBufferPointer { p in
                ck_concat_channels(layout.c, i64(n), i64(h), i64(w), i64(inputs.count), p.baseAddress, c.baseAddress, y)
            }
        }
        try check(status)
    }
}
