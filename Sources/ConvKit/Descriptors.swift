import CConvKit

/// Wraps a validation failure met while decoding a descriptor in a `DecodingError`
/// whose `underlyingError` is the `ConvKitError`.
private func revalidated<T>(_ decoder: any Decoder, _ make: () throws -> T) throws -> T {
    do {
        return try make()
    } catch let error as ConvKitError {
        throw DecodingError.dataCorrupted(DecodingError.Context(
            codingPath: decoder.codingPath, debugDescription: "invalid descriptor: \(error)", underlyingError: error))
    }
}

/// Multiplies non-negative counts, throwing `.sizeOverflow` past 2^40 elements
/// (the C core's `CK_MAX_ELEMENTS`).
func checkedCount(_ factors: Int..., what: String) throws(ConvKitError) -> Int {
    var total = 1
    for f in factors {
        let (r, overflow) = total.multipliedReportingOverflow(by: f)
        guard !overflow, r <= 1 << 40 else {
            throw ConvKitError(code: .sizeOverflow, message: "\(what): \(factors) overflows the element limit (2^40)")
        }
        total = r
    }
    return total
}

// MARK: - Conv2D

/// A 2-D convolution (cross-correlation, the deep-learning convention), validated.
///
/// Input `N x C x H x W`, weights `K x C/groups x R x S` (OIHW), output
/// `N x K x P x Q` with `P = floor((H + top + bottom - dilation*(R-1) - 1) / stride) + 1`.
/// The initialiser validates through the C core (`ck_conv2d_output_shape`), so
/// Swift and C always agree; decoding re-validates.
///
/// ```swift
/// let conv1 = try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: 3, h: 227, w: 227),
///                                  outputChannels: 96, kernel: 11, stride: 4, hasBias: true)
/// conv1.outputShape      // 1x96x55x55
/// conv1.parameterCount   // 34_944
/// ```
public struct Conv2DDescriptor: Hashable, Codable, Sendable, CustomStringConvertible {
    /// Input shape `N x C x H x W`.
    public let inputShape: TensorShape
    /// Output channels `K` (the number of filters).
    public let outputChannels: Int
    /// Kernel size `R x S`.
    public let kernel: Size2D
    /// Stride.
    public let stride: Size2D
    /// Zero padding.
    public let padding: Padding
    /// Dilation (1 = dense kernel).
    public let dilation: Size2D
    /// Groups: `C` and `K` are divisible by it; `groups == C == K` is depthwise.
    public let groups: Int
    /// Whether a bias of `K` floats is added.
    public let hasBias: Bool
    /// The fused activation (applied after bias and residual).
    public let activation: Activation
    /// Layout of input, output and residual.
    public let layout: Layout
    /// Output shape `N x K x P x Q`.
    public let outputShape: TensorShape

    /// Creates and validates a descriptor.
    ///
    /// - Throws: `ConvKitError` with `.invalidShape`, `.invalidStride`,
    ///   `.invalidPadding`, `.invalidDilation`, `.invalidGroups`, `.emptyOutput`,
    ///   `.sizeOverflow` or `.invalidArgument`, with the C core's message.
    public init(inputShape: TensorShape, outputChannels: Int, kernel: Size2D, stride: Size2D = 1,
                padding: Padding = .valid, dilation: Size2D = 1, groups: Int = 1, hasBias: Bool = false,
                activation: Activation = .none, layout: Layout = .nchw) throws {
        self.inputShape = inputShape
        self.outputChannels = outputChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.hasBias = hasBias
        self.activation = activation
        self.layout = layout
        var d = ck_conv2d_desc()
        Self.fill(&d, inputShape, outputChannels, kernel, stride, padding, dilation, groups, hasBias, activation, layout)
        var p: Int64 = 0, q: Int64 = 0
        try check(ck_conv2d_output_shape(&d, &p, &q))
        outputShape = TensorShape(n: inputShape.n, c: outputChannels, h: Int(p), w: Int(q))
    }

    private static func fill(_ d: inout ck_conv2d_desc, _ x: TensorShape, _ k: Int, _ kernel: Size2D, _ stride: Size2D,
                             _ pad: Padding, _ dil: Size2D, _ groups: Int, _ bias: Bool, _ act: Activation,
                             _ layout: Layout) {
        d.n = i64(x.n); d.c = i64(x.c); d.h = i64(x.h); d.w = i64(x.w)
        d.k = i64(k); d.r = i64(kernel.height); d.s = i64(kernel.width)
        d.stride_h = i64(stride.height); d.stride_w = i64(stride.width)
        d.pad_top = i64(pad.top); d.pad_left = i64(pad.left); d.pad_bottom = i64(pad.bottom); d.pad_right = i64(pad.right)
        d.dilation_h = i64(dil.height); d.dilation_w = i64(dil.width)
        d.groups = i64(groups)
        d.has_bias = bias ? 1 : 0
        d.activation = act.c
        d.layout = layout.c
    }

    /// The C descriptor.
    var c: ck_conv2d_desc {
        var d = ck_conv2d_desc()
        Self.fill(&d, inputShape, outputChannels, kernel, stride, padding, dilation, groups, hasBias, activation, layout)
        return d
    }

    /// Input channels per group, `C / groups`.
    public var inputChannelsPerGroup: Int { inputShape.c / groups }
    /// Weight shape `K x C/groups x R x S` (OIHW), as a `TensorShape` (n = K, c = C/groups, h = R, w = S).
    public var weightShape: TensorShape {
        TensorShape(n: outputChannels, c: inputChannelsPerGroup, h: kernel.height, w: kernel.width)
    }
    /// Number of weights, `K * C/groups * R * S`.
    public var weightCount: Int { outputChannels * inputChannelsPerGroup * kernel.height * kernel.width }
    /// Number of biases (`K` if `hasBias`, else 0).
    public var biasCount: Int { hasBias ? outputChannels : 0 }
    /// Trainable parameters: weights + biases.
    public var parameterCount: Int { weightCount + biasCount }
    /// Multiply-adds x 2 (direct-equivalent FLOPs), as computed by `ck_conv2d_flops`.
    public var flops: Double {
        var d = c
        var f: Double = 0
        _ = ck_conv2d_flops(&d, &f)
        return f
    }
    /// Whether this is a depthwise convolution (`groups == C == K`).
    public var isDepthwise: Bool { groups == inputShape.c && groups == outputChannels }

    /// Whether `algorithm` can serve this convolution under `options` (`ck_conv2d_algorithm_applicable`).
    ///
    /// - Throws: the reason it declines, usually `.unsupportedAlgorithm`.
    public func checkApplicable(_ algorithm: Algorithm, options: PlanOptions = .default) throws {
        var d = c
        var o = try options.cOptions()
        try check(ck_conv2d_algorithm_applicable(&d, algorithm.c, &o))
    }

    /// Whether `algorithm` can serve this convolution under `options`.
    public func isApplicable(_ algorithm: Algorithm, options: PlanOptions = .default) -> Bool {
        (try? checkApplicable(algorithm, options: options)) != nil
    }

    /// A one-line summary, e.g. `conv 1x3x227x227 -> 1x96x55x55 k11x11 s4x4 p(0, 0, 0, 0) d1x1 g1 bias relu NCHW`.
    public var description: String {
        "conv \(inputShape) -> \(outputShape) k\(kernel) s\(stride) p\(padding) d\(dilation) g\(groups)"
            + (hasBias ? " bias" : "") + (activation == .none ? "" : " \(activation)") + " \(layout)"
    }

    private enum CodingKeys: String, CodingKey {
        case inputShape, outputChannels, kernel, stride, padding, dilation, groups, hasBias, activation, layout
    }

    /// Decodes and re-validates; optional fields default as in the initialiser.
    ///
    /// - Throws: `DecodingError.dataCorrupted` whose `underlyingError` is the
    ///   `ConvKitError` if the decoded values are invalid.
    public init(from decoder: any Decoder) throws {
        let k = try decoder.container(keyedBy: CodingKeys.self)
        let inputShape = try k.decode(TensorShape.self, forKey: .inputShape)
        let outputChannels = try k.decode(Int.self, forKey: .outputChannels)
        let kernel = try k.decode(Size2D.self, forKey: .kernel)
        let stride = try k.decodeIfPresent(Size2D.self, forKey: .stride) ?? 1
        let padding = try k.decodeIfPresent(Padding.self, forKey: .padding) ?? .valid
        let dilation = try k.decodeIfPresent(Size2D.self, forKey: .dilation) ?? 1
        let groups = try k.decodeIfPresent(Int.self, forKey: .groups) ?? 1
        let hasBias = try k.decodeIfPresent(Bool.self, forKey: .hasBias) ?? false
        let activation = try k.decodeIfPresent(Activation.self, forKey: .activation) ?? .none
        let layout = try k.decodeIfPresent(Layout.self, forKey: .layout) ?? .nchw
        self = try revalidated(decoder) {
            try Conv2DDescriptor(inputShape: inputShape, outputChannels: outputChannels, kernel: kernel, stride: stride,
                                 padding: padding, dilation: dilation, groups: groups, hasBias: hasBias,
                                 activation: activation, layout: layout)
        }
    }

    /// Encodes the defining fields (not the derived output shape).
    public func encode(to encoder: any Encoder) throws {
        var k = encoder.container(keyedBy: CodingKeys.self)
        try k.encode(inputShape, forKey: .inputShape)
        try k.encode(outputChannels, forKey: .outputChannels)
        try k.encode(kernel, forKey: .kernel)
        try k.encode(stride, forKey: .stride)
        try k.encode(padding, forKey: .padding)
        try k.encode(dilation, forKey: .dilation)
        try k.encode(groups, forKey: .groups)
        try k.encode(hasBias, forKey: .hasBias)
        try k.encode(activation, forKey: .activation)
        try k.encode(layout, forKey: .layout)
    }
}

// MARK: - ConvTranspose2D

/// A transposed 2-D convolution (the gradient of a convolution with respect to its input), validated.
///
/// Input `N x C x H x W`, weights `C x K/groups x R x S` (IOHW, as in PyTorch/ONNX),
/// output `N x K x P x Q` with
/// `P = (H - 1) * stride - top - bottom + dilation * (R - 1) + outputPadding + 1`.
/// The initialiser validates through `ck_conv_transpose2d_output_shape`.
public struct ConvTranspose2DDescriptor: Hashable, Codable, Sendable, CustomStringConvertible {
    /// Input shape `N x C x H x W`.
    public let inputShape: TensorShape
    /// Output channels `K`.
    public let outputChannels: Int
    /// Kernel size `R x S`.
    public let kernel: Size2D
    /// Stride (the upsampling factor).
    public let stride: Size2D
    /// Padding removed from the output.
    public let padding: Padding
    /// Extra rows/columns added at the bottom/right of the output (smaller than the stride or the dilation).
    public let outputPadding: Size2D
    /// Dilation.
    public let dilation: Size2D
    /// Groups: `C` and `K` are divisible by it.
    public let groups: Int
    /// Whether a bias of `K` floats is added.
    public let hasBias: Bool
    /// The fused activation.
    public let activation: Activation
    /// Layout of input and output.
    public let layout: Layout
    /// Output shape `N x K x P x Q`.
    public private(set) var outputShape: TensorShape

    /// Creates and validates a descriptor.
    ///
    /// - Throws: `ConvKitError` (`.invalidShape`, `.invalidStride`, `.invalidPadding`,
    ///   `.invalidDilation`, `.invalidGroups`, `.emptyOutput`, `.sizeOverflow`, ...).
    public init(inputShape: TensorShape, outputChannels: Int, kernel: Size2D, stride: Size2D = 1,
                padding: Padding = .valid, outputPadding: Size2D = 0, dilation: Size2D = 1, groups: Int = 1,
                hasBias: Bool = false, activation: Activation = .none, layout: Layout = .nchw) throws {
        self.inputShape = inputShape
        self.outputChannels = outputChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.dilation = dilation
        self.groups = groups
        self.hasBias = hasBias
        self.activation = activation
        self.layout = layout
        self.outputShape = inputShape  // replaced below once validated
        var d = c
        var p: Int64 = 0, q: Int64 = 0
        try check(ck_conv_transpose2d_output_shape(&d, &p, &q))
        outputShape = TensorShape(n: inputShape.n, c: outputChannels, h: Int(p), w: Int(q))
    }

    /// The C descriptor.
    var c: ck_conv_transpose2d_desc {
        var d = ck_conv_transpose2d_desc()
        d.n = i64(inputShape.n); d.c = i64(inputShape.c); d.h = i64(inputShape.h); d.w = i64(inputShape.w)
        d.k = i64(outputChannels); d.r = i64(kernel.height); d.s = i64(kernel.width)
        d.stride_h = i64(stride.height); d.stride_w = i64(stride.width)
        d.pad_top = i64(padding.top); d.pad_left = i64(padding.left)
        d.pad_bottom = i64(padding.bottom); d.pad_right = i64(padding.right)
        d.dilation_h = i64(dilation.height); d.dilation_w = i64(dilation.width)
        d.output_padding_h = i64(outputPadding.height); d.output_padding_w = i64(outputPadding.width)
        d.groups = i64(groups)
        d.has_bias = hasBias ? 1 : 0
        d.activation = activation.c
        d.layout = layout.c
        return d
    }

    /// Weight shape `C x K/groups x R x S` (IOHW), as a `TensorShape` (n = C, c = K/groups, h = R, w = S).
    public var weightShape: TensorShape {
        TensorShape(n: inputShape.c, c: outputChannels / groups, h: kernel.height, w: kernel.width)
    }
    /// Number of weights, `C * K/groups * R * S`.
    public var weightCount: Int { inputShape.c * (outputChannels / groups) * kernel.height * kernel.width }
    /// Number of biases (`K` if `hasBias`, else 0).
    public var biasCount: Int { hasBias ? outputChannels : 0 }
    /// Trainable parameters: weights + biases.
    public var parameterCount: Int { weightCount + biasCount }
    /// Multiply-adds x 2: `2 * N * C * K/groups * R * S * H * W`.
    public var flops: Double {
        2 * Double(inputShape.n) * Double(weightCount) * Double(inputShape.h) * Double(inputShape.w)
    }

    /// A one-line summary.
    public var description: String {
        "convTranspose \(inputShape) -> \(outputShape) k\(kernel) s\(stride) p\(padding) op\(outputPadding) "
            + "d\(dilation) g\(groups)" + (hasBias ? " bias" : "")
            + (activation == .none ? "" : " \(activation)") + " \(layout)"
    }

    private enum CodingKeys: String, CodingKey {
        case inputShape, outputChannels, kernel, stride, padding, outputPadding, dilation, groups, hasBias, activation,
             layout
    }

    /// Decodes and re-validates (see `Conv2DDescriptor.init(from:)`).
    public init(from decoder: any Decoder) throws {
        let k = try decoder.container(keyedBy: CodingKeys.self)
        let inputShape = try k.decode(TensorShape.self, forKey: .inputShape)
        let outputChannels = try k.decode(Int.self, forKey: .outputChannels)
        let kernel = try k.decode(Size2D.self, forKey: .kernel)
        let stride = try k.decodeIfPresent(Size2D.self, forKey: .stride) ?? 1
        let padding = try k.decodeIfPresent(Padding.self, forKey: .padding) ?? .valid
        let outputPadding = try k.decodeIfPresent(Size2D.self, forKey: .outputPadding) ?? 0
        let dilation = try k.decodeIfPresent(Size2D.self, forKey: .dilation) ?? 1
        let groups = try k.decodeIfPresent(Int.self, forKey: .groups) ?? 1
        let hasBias = try k.decodeIfPresent(Bool.self, forKey: .hasBias) ?? false
        let activation = try k.decodeIfPresent(Activation.self, forKey: .activation) ?? .none
        let layout = try k.decodeIfPresent(Layout.self, forKey: .layout) ?? .nchw
        self = try revalidated(decoder) {
            try ConvTranspose2DDescriptor(inputShape: inputShape, outputChannels: outputChannels, kernel: kernel,
                                          stride: stride, padding: padding, outputPadding: outputPadding,
                                          dilation: dilation, groups: groups, hasBias: hasBias,
                                          activation: activation, layout: layout)
        }
    }

    /// Encodes the defining fields (not the derived output shape).
    public func encode(to encoder: any Encoder) throws {
        var k = encoder.container(keyedBy: CodingKeys.self)
        try k.encode(inputShape, forKey: .inputShape)
        try k.encode(outputChannels, forKey: .outputChannels)
        try k.encode(kernel, forKey: .kernel)
        try k.encode(stride, forKey: .stride)
        try k.encode(padding, forKey: .padding)
        try k.encode(outputPadding, forKey: .outputPadding)
        try k.encode(dilation, forKey: .dilation)
        try k.encode(groups, forKey: .groups)
        try k.encode(hasBias, forKey: .hasBias)
        try k.encode(activation, forKey: .activation)
        try k.encode(layout, forKey: .layout)
    }
}

// MARK: - Pool2D

/// 2-D max or average pooling over a window, validated.
///
/// Output size `P = floor_or_ceil((H + top + bottom - dilation*(R-1) - 1) / stride) + 1`;
/// with `ceilMode` a last window that would start in the bottom/right padding is
/// dropped (as in PyTorch/ONNX). Average pooling divides by the window clipped
/// to the padded input if `countIncludePad`, else by the number of real input
/// elements. Padding must be smaller than the (dilated) window. The
/// initialiser validates through `ck_pool2d_output_shape`.
public struct Pool2DDescriptor: Hashable, Codable, Sendable, CustomStringConvertible {
    /// Max or average.
    public let kind: PoolKind
    /// Input shape `N x C x H x W`.
    public let inputShape: TensorShape
    /// Window size `R x S`.
    public let window: Size2D
    /// Stride.
    public let stride: Size2D
    /// Padding (max pooling ignores padded positions; average pooling see `countIncludePad`).
    public let padding: Padding
    /// Dilation of the window.
    public let dilation: Size2D
    /// Round the output size up instead of down.
    public let ceilMode: Bool
    /// Whether average pooling counts padded positions in the divisor.
    public let countIncludePad: Bool
    /// Layout of input and output.
    public let layout: Layout
    /// Output shape `N x C x P x Q`.
    public private(set) var outputShape: TensorShape

    /// Creates and validates a descriptor. `stride` defaults to the window (non-overlapping pooling).
    ///
    /// - Throws: `ConvKitError` (`.invalidShape`, `.invalidStride`, `.invalidPadding`, `.emptyOutput`, ...).
    public init(kind: PoolKind, inputShape: TensorShape, window: Size2D, stride: Size2D? = nil,
                padding: Padding = .valid, dilation: Size2D = 1, ceilMode: Bool = false,
                countIncludePad: Bool = false, layout: Layout = .nchw) throws {
        self.kind = kind
        self.inputShape = inputShape
        self.window = window
        self.stride = stride ?? window
        self.padding = padding
        self.dilation = dilation
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
        self.layout = layout
        self.outputShape = inputShape  // replaced below once validated
        var d = c
        var p: Int64 = 0, q: Int64 = 0
        try check(ck_pool2d_output_shape(&d, &p, &q))
        outputShape = TensorShape(n: inputShape.n, c: inputShape.c, h: Int(p), w: Int(q))
    }

    /// The C descriptor.
    var c: ck_pool2d_desc {
        var d = ck_pool2d_desc()
        d.kind = kind.c
        d.n = i64(inputShape.n); d.c = i64(inputShape.c); d.h = i64(inputShape.h); d.w = i64(inputShape.w)
        d.r = i64(window.height); d.s = i64(window.width)
        d.stride_h = i64(stride.height); d.stride_w = i64(stride.width)
        d.pad_top = i64(padding.top); d.pad_left = i64(padding.left)
        d.pad_bottom = i64(padding.bottom); d.pad_right = i64(padding.right)
        d.dilation_h = i64(dilation.height); d.dilation_w = i64(dilation.width)
        d.count_include_pad = countIncludePad ? 1 : 0
        d.ceil_mode = ceilMode ? 1 : 0
        d.layout = layout.c
        return d
    }

    /// A one-line summary.
    public var description: String {
        "\(kind.rawValue)pool \(inputShape) -> \(outputShape) w\(window) s\(stride) p\(padding) d\(dilation)"
            + (ceilMode ? " ceil" : "") + (countIncludePad ? " countIncludePad" : "") + " \(layout)"
    }

    private enum CodingKeys: String, CodingKey {
        case kind, inputShape, window, stride, padding, dilation, ceilMode, countIncludePad, layout
    }

    /// Decodes and re-validates (see `Conv2DDescriptor.init(from:)`).
    public init(from decoder: any Decoder) throws {
        let k = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try k.decode(PoolKind.self, forKey: .kind)
        let inputShape = try k.decode(TensorShape.self, forKey: .inputShape)
        let window = try k.decode(Size2D.self, forKey: .window)
        let stride = try k.decodeIfPresent(Size2D.self, forKey: .stride)
        let padding = try k.decodeIfPresent(Padding.self, forKey: .padding) ?? .valid
        let dilation = try k.decodeIfPresent(Size2D.self, forKey: .dilation) ?? 1
        let ceilMode = try k.decodeIfPresent(Bool.self, forKey: .ceilMode) ?? false
        let countIncludePad = try k.decodeIfPresent(Bool.self, forKey: .countIncludePad) ?? false
        let layout = try k.decodeIfPresent(Layout.self, forKey: .layout) ?? .nchw
        self = try revalidated(decoder) {
            try Pool2DDescriptor(kind: kind, inputShape: inputShape, window: window, stride: stride, padding: padding,
                                 dilation: dilation, ceilMode: ceilMode, countIncludePad: countIncludePad,
                                 layout: layout)
        }
    }

    /// Encodes the defining fields (not the derived output shape).
    public func encode(to encoder: any Encoder) throws {
        var k = encoder.container(keyedBy: CodingKeys.self)
        try k.encode(kind, forKey: .kind)
        try k.encode(inputShape, forKey: .inputShape)
        try k.encode(window, forKey: .window)
        try k.encode(stride, forKey: .stride)
        try k.encode(padding, forKey: .padding)
        try k.encode(dilation, forKey: .dilation)
        try k.encode(ceilMode, forKey: .ceilMode)
        try k.encode(countIncludePad, forKey: .countIncludePad)
        try k.encode(layout, forKey: .layout)
    }
}

// MARK: - Dense

/// A fully connected layer, validated: `y[n, o] = act(b[o] + sum_i W[o, i] * x[n, i])`.
///
/// Weights are `outputFeatures x inputFeatures`, row-major (PyTorch `Linear`,
/// ONNX `Gemm` with `transB`). The validation mirrors `ck_dense_plan_create`'s.
public struct DenseDescriptor: Hashable, Codable, Sendable, CustomStringConvertible {
    /// Batch size `N`.
    public let batch: Int
    /// Input features per sample.
    public let inputFeatures: Int
    /// Output features per sample.
    public let outputFeatures: Int
    /// Whether a bias of `outputFeatures` floats is added.
    public let hasBias: Bool
    /// The fused activation.
    public let activation: Activation

    /// Creates and validates a descriptor.
    ///
    /// - Throws: `ConvKitError` `.invalidShape` (a size < 1), `.sizeOverflow`,
    ///   `.invalidArgument` (a non-finite leaky-ReLU slope).
    public init(batch: Int, inputFeatures: Int, outputFeatures: Int, hasBias: Bool = true,
                activation: Activation = .none) throws {
        guard batch >= 1, inputFeatures >= 1, outputFeatures >= 1 else {
            throw ConvKitError(code: .invalidShape, message:
                "dense shape n=\(batch) in=\(inputFeatures) out=\(outputFeatures): all must be >= 1")
        }
        _ = try checkedCount(inputFeatures, outputFeatures, what: "dense weight size")
        _ = try checkedCount(batch, inputFeatures, what: "dense input size")
        _ = try checkedCount(batch, outputFeatures, what: "dense output size")
        if case .leakyReLU(let alpha) = activation, !alpha.isFinite {
            throw ConvKitError(code: .invalidArgument, message: "activation alpha is not finite")
        }
        self.batch = batch
        self.inputFeatures = inputFeatures
        self.outputFeatures = outputFeatures
        self.hasBias = hasBias
        self.activation = activation
    }

    /// The C descriptor.
    var c: ck_dense_desc {
        ck_dense_desc(n: i64(batch), in_features: i64(inputFeatures), out_features: i64(outputFeatures),
                      has_bias: hasBias ? 1 : 0, activation: activation.c)
    }

    /// Input tensor shape `batch x inputFeatures x 1 x 1`.
    public var inputShape: TensorShape { TensorShape(n: batch, c: inputFeatures, h: 1, w: 1) }
    /// Output tensor shape `batch x outputFeatures x 1 x 1`.
    public var outputShape: TensorShape { TensorShape(n: batch, c: outputFeatures, h: 1, w: 1) }
    /// Number of weights, `outputFeatures * inputFeatures`.
    public var weightCount: Int { outputFeatures * inputFeatures }
    /// Number of biases (`outputFeatures` if `hasBias`, else 0).
    public var biasCount: Int { hasBias ? outputFeatures : 0 }
    /// Trainable parameters: weights + biases.
    public var parameterCount: Int { weightCount + biasCount }
    /// Multiply-adds x 2: `2 * batch * inputFeatures * outputFeatures`.
    public var flops: Double { 2 * Double(batch) * Double(weightCount) }

    /// A one-line summary.
    public var description: String {
        "dense \(batch)x\(inputFeatures) -> \(batch)x\(outputFeatures)" + (hasBias ? " bias" : "")
            + (activation == .none ? "" : " \(activation)")
    }

    private enum CodingKeys: String, CodingKey {
        case batch, inputFeatures, outputFeatures, hasBias, activation
    }

    /// Decodes and re-validates (see `Conv2DDescriptor.init(from:)`).
    public init(from decoder: any Decoder) throws {
        let k = try decoder.container(keyedBy: CodingKeys.self)
        let batch = try k.decode(Int.self, forKey: .batch)
        let inputFeatures = try k.decode(Int.self, forKey: .inputFeatures)
        let outputFeatures = try k.decode(Int.self, forKey: .outputFeatures)
        let hasBias = try k.decodeIfPresent(Bool.self, forKey: .hasBias) ?? true
        let activation = try k.decodeIfPresent(Activation.self, forKey: .activation) ?? .none
        self = try revalidated(decoder) {
            try DenseDescriptor(batch: batch, inputFeatures: inputFeatures, outputFeatures: outputFeatures,
                                hasBias: hasBias, activation: activation)
        }
    }
}
