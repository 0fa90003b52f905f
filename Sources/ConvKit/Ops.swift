import CConvKit

/// Stateless tensor operations run by the C core: global pooling, maxout,
/// softmax, normalisation, element-wise add, channel concatenation and
/// activations. Each returns a new tensor in the input's layout and throws
/// `ConvKitError` on invalid input.
///
/// ```swift
/// let probabilities = try Ops.softmax(logits)
/// let merged = try Ops.concatChannels([branch1, branch2, branch3])
/// let y = try Ops.add(x, shortcut, activation: .relu)
/// ```
public enum Ops {
    /// Runs `body` with the input and a new output tensor of `shape` in `x.layout`.
    private static func unary(
        _ x: Tensor, outputShape shape: TensorShape,
        _ body: (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?) -> ck_status
    ) throws -> Tensor {
        var y = try Tensor(shape: shape, layout: x.layout)
        try x.withUnsafeBufferPointer { xs in
            try y.withUnsafeMutableBufferPointer { ys in try check(body(xs.baseAddress, ys.baseAddress)) }
        }
        return y
    }

    /// Global max or average pooling: `N x C x H x W` to `N x C x 1 x 1`.
    public static func globalPool(_ x: Tensor, kind: PoolKind) throws -> Tensor {
        let s = x.shape
        return try unary(x, outputShape: TensorShape(n: s.n, c: s.c, h: 1, w: 1)) {
            ck_global_pool2d(kind.c, x.layout.c, i64(s.n), i64(s.c), i64(s.h), i64(s.w), $0, $1)
        }
    }

    /// Cross-channel max pooling (maxout): output channel `j` is the maximum of
    /// input channels `j*groupSize ..< (j+1)*groupSize`. NCHW or NHWC.
    ///
    /// - Throws: `ConvKitError` `.invalidGroups` if `C` is not divisible by `groupSize`.
    public static func maxout(_ x: Tensor, groupSize: Int) throws -> Tensor {
        let s = x.shape
        guard groupSize >= 1, s.c % groupSize == 0 else {
            throw ConvKitError(code: .invalidGroups,
                               message: "channels C=\(s.c) are not divisible by the maxout group size \(groupSize)")
        }
        return try unary(x, outputShape: TensorShape(n: s.n, c: s.c / groupSize, h: s.h, w: s.w)) {
            ck_maxout(x.layout.c, i64(s.n), i64(s.c), i64(s.h), i64(s.w), i64(groupSize), $0, $1)
        }
    }

    /// Softmax over the channel axis at every `(n, h, w)` (numerically stable). NCHW or NHWC.
    public static func softmax(_ x: Tensor) throws -> Tensor {
        let s = x.shape
        return try unary(x, outputShape: s) {
            ck_softmax(0, x.layout.c, i64(s.n), i64(s.c), i64(s.h), i64(s.w), $0, $1)
        }
    }

    /// Log-softmax over the channel axis at every `(n, h, w)`. NCHW or NHWC.
    public static func logSoftmax(_ x: Tensor) throws -> Tensor {
        let s = x.shape
        return try unary(x, outputShape: s) {
            ck_softmax(1, x.layout.c, i64(s.n), i64(s.c), i64(s.h), i64(s.w), $0, $1)
        }
    }

    /// Batch normalisation (inference): `y = scale * (x - mean) / sqrt(variance + epsilon) + shift`
    /// per channel, then `activation`.
    ///
    /// - Parameters: `scale` (gamma), `shift` (beta), `mean`, `variance`: `C` floats each.
    /// - Throws: `ConvKitError` `.invalidShape` if a parameter array is not `C` long,
    ///   `.invalidArgument` for `epsilon <= 0` or a negative variance.
    public static func batchNorm(_ x: Tensor, scale: [Float], shift: [Float], mean: [Float], variance: [Float],
                                 epsilon: Float = 1e-5, activation: Activation = .none) throws -> Tensor {
        let s = x.shape
        for (name, values) in [("scale", scale), ("shift", shift), ("mean", mean), ("variance", variance)] {
            try expectCount(values, s.c, name, "one per channel of \(s)")
        }
        return try scale.withUnsafeBufferPointer { g in
            try shift.withUnsafeBufferPointer { b in
                try mean.withUnsafeBufferPointer { m in
                    try variance.withUnsafeBufferPointer { v in
                        try unary(x, outputShape: s) {
                            ck_batch_norm_inference(x.layout.c, i64(s.n), i64(s.c), i64(s.h), i64(s.w), $0,
                                                    g.baseAddress, b.baseAddress, m.baseAddress, v.baseAddress,
                                                    epsilon, activation.c, $1)
                        }
                    }
                }
            }
        }
    }

    /// Local response normalisation across channels (AlexNet):
    /// `y = x / (k + alpha/size * sum of x^2 over the size-channel window)^beta`. NCHW or NHWC.
    public static func localResponseNorm(_ x: Tensor, size: Int = 5, alpha: Float = 1e-4, beta: Float = 0.75,
                                         k: Float = 2) throws -> Tensor {
        let s = x.shape
        return try unary(x, outputShape: s) {
            ck_lrn(x.layout.c, i64(s.n), i64(s.c), i64(s.h), i64(s.w), i64(size), alpha, beta, k, $0, $1)
        }
    }

    /// Element-wise `activation(a + b)` (a residual connection).
    ///
    /// - Throws: `ConvKitError` `.invalidShape` / `.invalidLayout` if `a` and `b` differ in shape or layout.
    public static func add(_ a: Tensor, _ b: Tensor, activation: Activation = .none) throws -> Tensor {
        try expect(b, "second operand", shape: a.shape, layout: a.layout)
        var y = try Tensor(shape: a.shape, layout: a.layout)
        try a.withUnsafeBufferPointer { xa in
            try b.withUnsafeBufferPointer { xb in
                try y.withUnsafeMutableBufferPointer { ys in
                    try check(ck_add(i64(ys.count), xa.baseAddress, xb.baseAddress, activation.c, ys.baseAddress))
                }
            }
        }
        y.zeroChannelPadding()  // the activation of the zero padding need not be zero (sigmoid)
        return y
    }

    /// Concatenates tensors along the channel axis (Inception). All share `n`, `h`,
    /// `w` and the layout (NCHW or NHWC).
    ///
    /// - Throws: `ConvKitError` `.invalidArgument` for an empty list, `.invalidShape`
    ///   / `.invalidLayout` if the tensors disagree.
    public static func concatChannels(_ tensors: [Tensor]) throws -> Tensor {
        guard let first = tensors.first else {
            throw ConvKitError(code: .invalidArgument, message: "concat of 0 tensors: need at least one")
        }
        let s = first.shape
        for (i, t) in tensors.enumerated() {
            guard t.shape.n == s.n, t.shape.h == s.h, t.shape.w == s.w else {
                throw ConvKitError(code: .invalidShape,
                                   message: "concat input \(i) has shape \(t.shape), incompatible with input 0's \(s)")
            }
            guard t.layout == first.layout else {
                throw ConvKitError.layoutMismatch("concat input \(i)", expected: first.layout, got: t.layout)
            }
        }
        let channels = tensors.map { i64($0.shape.c) }
        let total = tensors.reduce(0) { $0 + $1.shape.c }
        var y = try Tensor(shape: TensorShape(n: s.n, c: total, h: s.h, w: s.w), layout: first.layout)
        // Pin every input's storage for the duration of the call.
        func pinned(_ index: Int, _ pointers: inout [UnsafePointer<Float>?], _ y: inout Tensor) throws {
            if index == tensors.count {
                try channels.withUnsafeBufferPointer { cs in
                    try pointers.withUnsafeBufferPointer { ps in
                        try y.withUnsafeMutableBufferPointer { ys in
                            try check(ck_concat_channels(first.layout.c, i64(s.n), i64(s.h), i64(s.w),
                                                         i64(tensors.count), ps.baseAddress, cs.baseAddress,
                                                         ys.baseAddress))
                        }
                    }
                }
                return
            }
            try tensors[index].withUnsafeBufferPointer { buf in
                pointers.append(buf.baseAddress)
                try pinned(index + 1, &pointers, &y)
            }
        }
        var pointers: [UnsafePointer<Float>?] = []
        pointers.reserveCapacity(tensors.count)
        try pinned(0, &pointers, &y)
        return y
    }

    /// Applies `activation` element-wise.
    public static func apply(_ activation: Activation, to x: Tensor) throws -> Tensor {
        var y = try unary(x, outputShape: x.shape) { xs, ys in
            ck_activation_forward(activation.c, i64(x.storage.count), xs, ys)
        }
        y.zeroChannelPadding()
        return y
    }
}
