import ConvKit

/// How a convolution or pooling layer pads its input.
public enum PaddingMode: Hashable, Sendable, ExpressibleByIntegerLiteral {
    /// No padding.
    case valid
    /// TensorFlow "SAME": output size `ceil(input / stride)` (extra row/column at the bottom/right).
    case same
    /// Explicit, possibly asymmetric padding.
    case explicit(Padding)

    /// The same padding on all four sides: `padding: 1`.
    public init(integerLiteral value: Int) { self = .explicit(.symmetric(value)) }

    /// The padding for an input of `shape`.
    public func resolve(_ shape: TensorShape, kernel: Size2D, stride: Size2D, dilation: Size2D) -> Padding {
        switch self {
        case .valid: .valid
        case .same: .same(inputHeight: shape.h, inputWidth: shape.w, kernel: kernel, stride: stride, dilation: dilation)
        case .explicit(let p): p
        }
    }
}

/// Wraps ConvKit errors raised while describing a layer with the layer's name.
func describing<T>(_ layer: any Layer, _ input: TensorShape, _ make: () throws -> T) throws -> T {
    do { return try make() } catch let e as ConvKitError {
        throw ConvKitNN.wiring(layer, "cannot take input \(input): \(e.message)")
    }
}

// MARK: - Convolutions

/// A 2-D convolution (stride, padding incl. same/valid, dilation, groups, bias,
/// fused activation). Weights `[K, C/groups, R, S]` (OIHW), bias `[K]`.
/// `DepthwiseConv2D(...)` makes one with `groups == C`.
public final class Conv2D: Layer {
    /// See `Layer.name`.
    public var name: String
    /// See `Layer.isTrainable`.
    public var isTrainable = true
    /// Output channels `K` (for depthwise: `C * multiplier`, known after build).
    public private(set) var outputChannels: Int
    /// Input channels `C` (inferred at build if not given).
    public private(set) var inputChannels: Int?
    /// Kernel size.
    public let kernel: Size2D
    /// Stride.
    public let stride: Size2D
    /// Padding mode.
    public let padding: PaddingMode
    /// Dilation.
    public let dilation: Size2D
    /// Groups (for depthwise: `C`, known after build).
    public private(set) var groups: Int
    /// Whether the layer has a bias.
    public let useBias: Bool
    /// The fused activation.
    public let activation: Activation
    /// Depthwise multiplier when built as a depthwise convolution.
    public let depthwiseMultiplier: Int?
    /// The weights `[K, C/groups, R, S]` (nil before build).
    public private(set) var weight: Parameter?
    /// The bias `[K]` (nil without bias or before build).
    public private(set) var bias: Parameter?
    let initializer: Initializer
    private var cache: (shape: TensorShape, versions: [Int], plan: Conv2DPlan)?

    /// Creates a convolution with `outputChannels` filters.
    public init(_ outputChannels: Int, kernel: Size2D, stride: Size2D = 1, padding: PaddingMode = .valid,
                dilation: Size2D = 1, groups: Int = 1, bias: Bool = true, activation: Activation = .none,
                inputChannels: Int? = nil, initializer: Initializer = .heNormal, name: String = "") {
        self.outputChannels = outputChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.useBias = bias
        self.activation = activation
        self.inputChannels = inputChannels
        self.initializer = initializer
        self.name = name
        depthwiseMultiplier = nil
    }

    init(depthwiseMultiplier: Int, kernel: Size2D, stride: Size2D, padding: PaddingMode, dilation: Size2D,
         bias: Bool, activation: Activation, initializer: Initializer, name: String) {
        self.depthwiseMultiplier = depthwiseMultiplier
        outputChannels = 0
        groups = 0
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.useBias = bias
        self.activation = activation
        self.initializer = initializer
        self.name = name
    }

    /// `Conv2D` or `DepthwiseConv2D`.
    public var kind: String { depthwiseMultiplier == nil ? "Conv2D" : "DepthwiseConv2D" }

    /// See `Layer.parameters`.
    public var parameters: [Parameter] { [weight, bias].compactMap { $0 } }

    /// See `Layer.build(inputShapes:context:)`.
    public func build(inputShapes: [TensorShape], context: inout BuildContext) throws -> TensorShape {
        let x = try single(inputShapes)
        if inputChannels == nil {
            inputChannels = x.c
            if let m = depthwiseMultiplier { groups = x.c; outputChannels = x.c * m }
        }
        let shape = try outputShape(for: inputShapes)
        if weight == nil, let c = inputChannels {
            let rs = kernel.height * kernel.width
            weight = Parameter(name: "weight", shape: [outputChannels, c / groups, kernel.height, kernel.width],
                               initializer: initializer, fanIn: c / groups * rs, fanOut: outputChannels / groups * rs,
                               seed: context.nextSeed())
            if useBias { bias = Parameter(name: "bias", shape: [outputChannels], initializer: .constant(0)) }
        }
        return shape
    }

    /// The ConvKit descriptor for an input of `input` (NCHW unless `layout` says otherwise).
    public func descriptor(for input: TensorShape, layout: Layout = .nchw) throws -> Conv2DDescriptor {
        guard let c = inputChannels else {
            throw ConvKitNN.wiring(self, "is not built (input channels unknown)")
        }
        guard input.c == c else {
            throw ConvKitNN.wiring(self, "expects \(c) input channels, got input \(input)")
        }
        return try describing(self, input) {
            try Conv2DDescriptor(inputShape: input, outputChannels: outputChannels, kernel: kernel, stride: stride,
                                 padding: padding.resolve(input, kernel: kernel, stride: stride, dilation: dilation),
                                 dilation: dilation, groups: groups, hasBias: useBias, activation: activation,
                                 layout: layout)
        }
    }

    /// See `Layer.outputShape(for:)`.
    public func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape {
        try descriptor(for: single(inputShapes)).outputShape
    }

    /// See `Layer.flops(for:)`.
    public func flops(for inputShapes: [TensorShape]) -> Double {
        (try? descriptor(for: inputShapes[0]).flops) ?? 0
    }

    /// See `Layer.forward(_:)`.
    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try singleInput(inputs)
        guard let weight else { throw ConvKitNN.wiring(self, "is not built") }
        let versions = parameters.map(\.version)
        if let cache, cache.shape == x.shape, cache.versions == versions { return try cache.plan(x) }
        let plan = try Conv2DPlan(descriptor: descriptor(for: x.shape), weights: weight.values, bias: bias?.values)
        cache = (x.shape, versions, plan)
        return try plan(x)
    }
}

/// A depthwise convolution: `groups == C`, `C * multiplier` output channels.
public func DepthwiseConv2D(kernel: Size2D, stride: Size2D = 1, padding: PaddingMode = .valid, dilation: Size2D = 1,
                            multiplier: Int = 1, bias: Bool = true, activation: Activation = .none,
                            initializer: Initializer = .heNormal, name: String = "") -> Conv2D {
    Conv2D(depthwiseMultiplier: multiplier, kernel: kernel, stride: stride, padding: padding, dilation: dilation,
           bias: bias, activation: activation, initializer: initializer, name: name)
}

/// A transposed 2-D convolution (U-Net up-sampling). Weights `[C, K/groups, R, S]` (IOHW), bias `[K]`.
public final class ConvTranspose2D: Layer {
    /// See `Layer.name`.
    public var name: String
    /// See `Layer.isTrainable`.
    public var isTrainable = true
    /// Output channels.
    public let outputChannels: Int
    /// Input channels (inferred at build).
    public private(set) var inputChannels: Int?
    /// Kernel size.
    public let kernel: Size2D
    /// Stride.
    public let stride: Size2D
    /// Padding removed from the output.
    public let padding: Padding
    /// Extra rows/columns added at the bottom/right of the output.
    public let outputPadding: Size2D
    /// Groups.
    public let groups: Int
    /// Whether the layer has a bias.
    public let useBias: Bool
    /// The fused activation.
    public let activation: Activation
    /// The weights (nil before build).
    public private(set) var weight: Parameter?
    /// The bias (nil without bias or before build).
    public private(set) var bias: Parameter?
    let initializer: Initializer
    private var cache: (shape: TensorShape, versions: [Int], plan: ConvTranspose2DPlan)?

    /// Creates a transposed convolution.
    public init(_ outputChannels: Int, kernel: Size2D, stride: Size2D = 1, padding: Padding = .valid,
                outputPadding: Size2D = 0, groups: Int = 1, bias: Bool = true, activation: Activation = .none,
                initializer: Initializer = .heNormal, name: String = "") {
        self.outputChannels = outputChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.groups = groups
        self.useBias = bias
        self.activation = activation
        self.initializer = initializer
        self.name = name
    }

    /// `ConvTranspose2D`.
    public var kind: String { "ConvTranspose2D" }
    /// See `Layer.parameters`.
    public var parameters: [Parameter] { [weight, bias].compactMap { $0 } }

    /// See `Layer.build(inputShapes:context:)`.
    public func build(inputShapes: [TensorShape], context: inout BuildContext) throws -> TensorShape {
        let x = try single(inputShapes)
        if inputChannels == nil { inputChannels = x.c }
        let shape = try outputShape(for: inputShapes)
        if weight == nil {
            let rs = kernel.height * kernel.width
            weight = Parameter(name: "weight", shape: [x.c, outputChannels / groups, kernel.height, kernel.width],
                               initializer: initializer, fanIn: x.c / groups * rs, fanOut: outputChannels / groups * rs,
                               seed: context.nextSeed())
            if useBias { bias = Parameter(name: "bias", shape: [outputChannels], initializer: .constant(0)) }
        }
        return shape
    }

    /// The ConvKit descriptor for an input of `input`.
    public func descriptor(for input: TensorShape, layout: Layout = .nchw) throws -> ConvTranspose2DDescriptor {
        guard let c = inputChannels, input.c == c else {
            throw ConvKitNN.wiring(self, "expects \(inputChannels.map(String.init) ?? "?") input channels, got input \(input)")
        }
        return try describing(self, input) {
            try ConvTranspose2DDescriptor(inputShape: input, outputChannels: outputChannels, kernel: kernel,
                                          stride: stride, padding: padding, outputPadding: outputPadding,
                                          groups: groups, hasBias: useBias, activation: activation, layout: layout)
        }
    }

    /// See `Layer.outputShape(for:)`.
    public func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape {
        try descriptor(for: single(inputShapes)).outputShape
    }

    /// See `Layer.flops(for:)`.
    public func flops(for inputShapes: [TensorShape]) -> Double {
        (try? descriptor(for: inputShapes[0]).flops) ?? 0
    }

    /// See `Layer.forward(_:)`.
    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try singleInput(inputs)
        guard let weight else { throw ConvKitNN.wiring(self, "is not built") }
        let versions = parameters.map(\.version)
        if let cache, cache.shape == x.shape, cache.versions == versions { return try cache.plan(x) }
        let plan = try ConvTranspose2DPlan(descriptor: descriptor(for: x.shape), weights: weight.values,
                                           bias: bias?.values)
        cache = (x.shape, versions, plan)
        return try plan(x)
    }
}

// MARK: - Pooling

/// 2-D max or average pooling over a window.
public final class Pool2D: Layer {
    /// See `Layer.name`.
    public var name: String
    /// See `Layer.isTrainable` (no parameters).
    public var isTrainable = true
    /// Max or average.
    public let poolKind: PoolKind
    /// Window size.
    public let window: Size2D
    /// Stride (defaults to the window).
    public let stride: Size2D
    /// Padding.
    public let padding: PaddingMode
    /// Round the output size up.
    public let ceilMode: Bool
    /// Average pooling counts padded positions in the divisor.
    public let countIncludePad: Bool
    private var cache: (shape: TensorShape, plan: Pool2DPlan)?

    /// Creates a pooling layer.
    public init(_ kind: PoolKind, window: Size2D, stride: Size2D? = nil, padding: PaddingMode = .valid,
                ceilMode: Bool = false, countIncludePad: Bool = false, name: String = "") {
        poolKind = kind
        self.window = window
        self.stride = stride ?? window
        self.padding = padding
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
        self.name = name
    }

    /// `MaxPool2D` or `AvgPool2D`.
    public var kind: String { poolKind == .max ? "MaxPool2D" : "AvgPool2D" }
    /// None.
    public var parameters: [Parameter] { [] }

    /// The ConvKit descriptor for an input of `input`.
    public func descriptor(for input: TensorShape, layout: Layout = .nchw) throws -> Pool2DDescriptor {
        try describing(self, input) {
            try Pool2DDescriptor(kind: poolKind, inputShape: input, window: window, stride: stride,
                                 padding: padding.resolve(input, kernel: window, stride: stride, dilation: 1),
                                 ceilMode: ceilMode, countIncludePad: countIncludePad, layout: layout)
        }
    }

    /// See `Layer.outputShape(for:)`.
    public func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape {
        try descriptor(for: single(inputShapes)).outputShape
    }

    /// One operation per window element per output.
    public func flops(for inputShapes: [TensorShape]) -> Double {
        guard let s = try? outputShape(for: inputShapes) else { return 0 }
        return Double(s.elementCount * window.height * window.width)
    }

    /// See `Layer.forward(_:)`.
    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try singleInput(inputs)
        if let cache, cache.shape == x.shape { return try cache.plan(x) }
        let plan = try Pool2DPlan(descriptor: descriptor(for: x.shape))
        cache = (x.shape, plan)
        return try plan(x)
    }
}

/// Max pooling (stride defaults to the window).
public func MaxPool2D(_ window: Size2D, stride: Size2D? = nil, padding: PaddingMode = .valid, ceilMode: Bool = false,
                      name: String = "") -> Pool2D {
    Pool2D(.max, window: window, stride: stride, padding: padding, ceilMode: ceilMode, name: name)
}

/// Average pooling (stride defaults to the window).
public func AvgPool2D(_ window: Size2D, stride: Size2D? = nil, padding: PaddingMode = .valid, ceilMode: Bool = false,
                      countIncludePad: Bool = false, name: String = "") -> Pool2D {
    Pool2D(.average, window: window, stride: stride, padding: padding, ceilMode: ceilMode,
           countIncludePad: countIncludePad, name: name)
}

/// Global max or average pooling: `N x C x H x W` to `N x C x 1 x 1`.
public final class GlobalPool: Layer {
    /// See `Layer.name`.
    public var name: String
    /// See `Layer.isTrainable` (no parameters).
    public var isTrainable = true
    /// Max or average.
    public let poolKind: PoolKind

    /// Creates a global pooling layer.
    public init(_ kind: PoolKind, name: String = "") {
        poolKind = kind
        self.name = name
    }

    /// `GlobalAvgPool` or `GlobalMaxPool`.
    public var kind: String { poolKind == .max ? "GlobalMaxPool" : "GlobalAvgPool" }
    /// None.
    public var parameters: [Parameter] { [] }

    /// See `Layer.outputShape(for:)`.
    public func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape {
        let x = try single(inputShapes)
        return TensorShape(n: x.n, c: x.c, h: 1, w: 1)
    }

    /// See `Layer.forward(_:)`.
    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        try Ops.globalPool(singleInput(inputs), kind: poolKind)
    }
}

/// Global average pooling.
public func GlobalAvgPool(name: String = "") -> GlobalPool { GlobalPool(.average, name: name) }
/// Global max pooling.
public func GlobalMaxPool(name: String = "") -> GlobalPool { GlobalPool(.max, name: name) }

// MARK: - Dense, Flatten, Dropout

/// A fully connected layer on the flattened input (`c*h*w` features in NCHW
/// order). Weights `[out, in]`, bias `[out]`; output `N x out x 1 x 1`.
public final class Dense: Layer {
    /// See `Layer.name`.
    public var name: String
    /// See `Layer.isTrainable`.
    public var isTrainable = true
    /// Output features.
    public let outputFeatures: Int
    /// Input features (inferred at build if not given).
    public private(set) var inputFeatures: Int?
    /// Whether the layer has a bias.
    public let useBias: Bool
    /// The fused activation.
    public let activation: Activation
    /// The weights `[out, in]` (nil before build).
    public private(set) var weight: Parameter?
    /// The bias `[out]`.
    public private(set) var bias: Parameter?
    let initializer: Initializer
    private var cache: (batch: Int, versions: [Int], plan: DensePlan)?

    /// Creates a dense layer.
    public init(_ outputFeatures: Int, bias: Bool = true, activation: Activation = .none, inputFeatures: Int? = nil,
                initializer: Initializer = .glorotUniform, name: String = "") {
        self.outputFeatures = outputFeatures
        self.useBias = bias
        self.activation = activation
        self.inputFeatures = inputFeatures
        self.initializer = initializer
        self.name = name
    }

    /// `Dense`.
    public var kind: String { "Dense" }
    /// See `Layer.parameters`.
    public var parameters: [Parameter] { [weight, bias].compactMap { $0 } }

    /// See `Layer.build(inputShapes:context:)`.
    public func build(inputShapes: [TensorShape], context: inout BuildContext) throws -> TensorShape {
        let x = try single(inputShapes)
        if inputFeatures == nil { inputFeatures = x.c * x.h * x.w }
        let shape = try outputShape(for: inputShapes)
        if weight == nil, let f = inputFeatures {
            weight = Parameter(name: "weight", shape: [outputFeatures, f], initializer: initializer, fanIn: f,
                               fanOut: outputFeatures, seed: context.nextSeed())
            if useBias { bias = Parameter(name: "bias", shape: [outputFeatures], initializer: .constant(0)) }
        }
        return shape
    }

    /// The ConvKit descriptor for an input of `input`.
    public func descriptor(for input: TensorShape) throws -> DenseDescriptor {
        let f = input.c * input.h * input.w
        guard let inputFeatures, inputFeatures == f else {
            throw ConvKitNN.wiring(self, "expects \(inputFeatures.map(String.init) ?? "?") input features, "
                                   + "got input \(input) (\(f) features)")
        }
        return try describing(self, input) {
            try DenseDescriptor(batch: input.n, inputFeatures: f, outputFeatures: outputFeatures, hasBias: useBias,
                                activation: activation)
        }
    }

    /// See `Layer.outputShape(for:)`.
    public func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape {
        try descriptor(for: single(inputShapes)).outputShape
    }

    /// See `Layer.flops(for:)`.
    public func flops(for inputShapes: [TensorShape]) -> Double {
        (try? descriptor(for: inputShapes[0]).flops) ?? 0
    }

    /// See `Layer.forward(_:)`.
    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try singleInput(inputs)
        guard let weight else { throw ConvKitNN.wiring(self, "is not built") }
        let d = try descriptor(for: x.shape)
        let versions = parameters.map(\.version)
        let plan: DensePlan
        if let cache, cache.batch == x.shape.n, cache.versions == versions {
            plan = cache.plan
        } else {
            plan = try DensePlan(descriptor: d, weights: weight.values, bias: bias?.values)
            cache = (x.shape.n, versions, plan)
        }
        return try Tensor(shape: d.outputShape, values: plan(x.storage))
    }
}

/// Flattens `N x C x H x W` to `N x (C*H*W) x 1 x 1` (NCHW order).
public final class Flatten: Layer {
    /// See `Layer.name`.
    public var name: String
    /// See `Layer.isTrainable` (no parameters).
    public var isTrainable = true
    /// Creates a flatten layer.
    public init(name: String = "") { self.name = name }
    /// `Flatten`.
    public var kind: String { "Flatten" }
    /// None.
    public var parameters: [Parameter] { [] }
    /// See `Layer.outputShape(for:)`.
    public func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape {
        let x = try single(inputShapes)
        return TensorShape(n: x.n, c: x.c * x.h * x.w, h: 1, w: 1)
    }
    /// No arithmetic.
    public func flops(for inputShapes: [TensorShape]) -> Double { 0 }
    /// See `Layer.forward(_:)`.
    public func forward(_ inputs: [Tensor]) throws -> Tensor { try singleInput(inputs).flattened() }
}

/// Dropout: the identity at inference (training applies the mask).
public final class Dropout: Layer {
    /// See `Layer.name`.
    public var name: String
    /// See `Layer.isTrainable` (no parameters).
    public var isTrainable = true
    /// The drop probability used in training.
    public let rate: Float
    /// Creates a dropout layer.
    public init(_ rate: Float = 0.5, name: String = "") {
        self.rate = rate
        self.name = name
    }
    /// `Dropout`.
    public var kind: String { "Dropout" }
    /// None.
    public var parameters: [Parameter] { [] }
    /// See `Layer.outputShape(for:)`.
    public func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape { try single(inputShapes) }
    /// No arithmetic at inference.
    public func flops(for inputShapes: [TensorShape]) -> Double { 0 }
    /// The identity.
    public func forward(_ inputs: [Tensor]) throws -> Tensor { try singleInput(inputs) }
}

// MARK: - Normalisation

/// Batch normalisation (inference): per channel `scale * (x - mean) / sqrt(var + eps) + shift`,
/// then an optional activation. Trainable `weight` (scale) and `bias` (shift);
/// `running_mean` and `running_var` are non-trainable buffers.
public final class BatchNorm: Layer {
    /// See `Layer.name`.
    public var name: String
    /// See `Layer.isTrainable`.
    public var isTrainable = true
    /// Epsilon added to the variance.
    public let epsilon: Float
    /// Momentum for the running statistics in training.
    public let momentum: Float
    /// The fused activation.
    public let activation: Activation
    /// Channels (known after build).
    public private(set) var channels: Int?
    /// Scale (gamma), `[C]`.
    public private(set) var scale: Parameter?
    /// Shift (beta), `[C]`.
    public private(set) var shift: Parameter?
    /// Running mean, `[C]` (not trainable).
    public private(set) var runningMean: Parameter?
    /// Running variance, `[C]` (not trainable).
    public private(set) var runningVariance: Parameter?

    /// Creates a batch-norm layer.
    public init(epsilon: Float = 1e-5, momentum: Float = 0.1, activation: Activation = .none, name: String = "") {
        self.epsilon = epsilon
        self.momentum = momentum
        self.activation = activation
        self.name = name
    }

    /// `BatchNorm`.
    public var kind: String { "BatchNorm" }
    /// Scale, shift, running mean, running variance.
    public var parameters: [Parameter] { [scale, shift, runningMean, runningVariance].compactMap { $0 } }

    /// See `Layer.build(inputShapes:context:)`.
    public func build(inputShapes: [TensorShape], context: inout BuildContext) throws -> TensorShape {
        let x = try single(inputShapes)
        if channels == nil {
            channels = x.c
            scale = Parameter(name: "weight", shape: [x.c], initializer: .constant(1))
            shift = Parameter(name: "bias", shape: [x.c], initializer: .constant(0))
            runningMean = Parameter(name: "running_mean", shape: [x.c], isTrainable: false, initializer: .constant(0))
            runningVariance = Parameter(name: "running_var", shape: [x.c], isTrainable: false,
                                        initializer: .constant(1))
        }
        return try outputShape(for: inputShapes)
    }

    /// See `Layer.outputShape(for:)`.
    public func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape {
        let x = try single(inputShapes)
        guard let channels, channels == x.c else {
            throw ConvKitNN.wiring(self, "expects \(channels.map(String.init) ?? "?") channels, got input \(x)")
        }
        return x
    }

    /// Two operations per element.
    public func flops(for inputShapes: [TensorShape]) -> Double { 2 * Double(inputShapes[0].elementCount) }

    /// Per-channel `(multiplier, offset)` so that `y = multiplier * x + offset` (for folding).
    public func foldedAffine() throws -> (multiplier: [Float], offset: [Float]) {
        guard let scale, let shift, let runningMean, let runningVariance else {
            throw ConvKitNN.wiring(self, "is not built")
        }
        let g = scale.values, b = shift.values, m = runningMean.values, v = runningVariance.values
        var mul = [Float](repeating: 0, count: g.count), off = mul
        for i in g.indices {
            mul[i] = g[i] / (v[i] + epsilon).squareRoot()
            off[i] = b[i] - m[i] * mul[i]
        }
        return (mul, off)
    }

    /// See `Layer.forward(_:)`.
    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try singleInput(inputs)
        guard let scale, let shift, let runningMean, let runningVariance else {
            throw ConvKitNN.wiring(self, "is not built")
        }
        return try Ops.batchNorm(x, scale: scale.values, shift: shift.values, mean: runningMean.values,
                                 variance: runningVariance.values, epsilon: epsilon, activation: activation)
    }
}

/// Local response normalisation across channels (AlexNet).
public final class LRN: Layer {
    /// See `Layer.name`.
    public var name: String
    /// See `Layer.isTrainable` (no parameters).
    public var isTrainable = true
    /// Window size in channels.
    public let size: Int
    /// Alpha.
    public let alpha: Float
    /// Beta.
    public let beta: Float
    /// k.
    public let k: Float
    /// Creates an LRN layer (AlexNet's constants by default).
    public init(size: Int = 5, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 2, name: String = "") {
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k
        self.name = name
    }
    /// `LRN`.
    public var kind: String { "LRN" }
    /// None.
    public var parameters: [Parameter] { [] }
    /// See `Layer.outputShape(for:)`.
    public func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape { try single(inputShapes) }
    /// About `size + 3` operations per element.
    public func flops(for inputShapes: [TensorShape]) -> Double { Double((size + 3) * inputShapes[0].elementCount) }
    /// See `Layer.forward(_:)`.
    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        try Ops.localResponseNorm(singleInput(inputs), size: size, alpha: alpha, beta: beta, k: k)
    }
}

// MARK: - Activations

/// An element-wise activation as a layer (`ReLU()`, `ReLU6()`, `LeakyReLU(0.1)`, `Sigmoid()`, `Tanh()`).
public final class ActivationLayer: Layer {
    /// See `Layer.name`.
    public var name: String
    /// See `Layer.isTrainable` (no parameters).
    public var isTrainable = true
    /// The activation.
    public let activation: Activation
    /// Creates an activation layer.
    public init(_ activation: Activation, name: String = "") {
        self.activation = activation
        self.name = name
    }
    /// `ReLU`, `ReLU6`, `LeakyReLU`, `Sigmoid`, `Tanh` or `Identity`.
    public var kind: String {
        switch activation {
        case .none: "Identity"
        case .relu: "ReLU"
        case .relu6: "ReLU6"
        case .leakyReLU: "LeakyReLU"
        case .sigmoid: "Sigmoid"
        case .tanh: "Tanh"
        }
    }
    /// None.
    public var parameters: [Parameter] { [] }
    /// See `Layer.outputShape(for:)`.
    public func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape { try single(inputShapes) }
    /// See `Layer.forward(_:)`.
    public func forward(_ inputs: [Tensor]) throws -> Tensor { try Ops.apply(activation, to: singleInput(inputs)) }
}

/// `max(x, 0)`.
public func ReLU(name: String = "") -> ActivationLayer { ActivationLayer(.relu, name: name) }
/// `min(max(x, 0), 6)`.
public func ReLU6(name: String = "") -> ActivationLayer { ActivationLayer(.relu6, name: name) }
/// `x >= 0 ? x : alpha * x`.
public func LeakyReLU(_ alpha: Float = 0.01, name: String = "") -> ActivationLayer {
    ActivationLayer(.leakyReLU(alpha: alpha), name: name)
}
/// `1 / (1 + exp(-x))`.
public func Sigmoid(name: String = "") -> ActivationLayer { ActivationLayer(.sigmoid, name: name) }
/// `tanh(x)`.
public func Tanh(name: String = "") -> ActivationLayer { ActivationLayer(.tanh, name: name) }

/// Softmax over the channel axis at every position.
public final class Softmax: Layer {
    /// See `Layer.name`.
    public var name: String
    /// See `Layer.isTrainable` (no parameters).
    public var isTrainable = true
    /// Creates a softmax layer.
    public init(name: String = "") { self.name = name }
    /// `Softmax`.
    public var kind: String { "Softmax" }
    /// None.
    public var parameters: [Parameter] { [] }
    /// See `Layer.outputShape(for:)`.
    public func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape { try single(inputShapes) }
    /// See `Layer.forward(_:)`.
    public func forward(_ inputs: [Tensor]) throws -> Tensor { try Ops.softmax(singleInput(inputs)) }
}

// MARK: - Merging and padding

/// Element-wise sum of two inputs of equal shape (a residual connection), then an activation.
public final class Add: Layer {
    /// See `Layer.name`.
    public var name: String
    /// See `Layer.isTrainable` (no parameters).
    public var isTrainable = true
    /// Applied to the sum.
    public let activation: Activation
    /// Creates an add layer.
    public init(activation: Activation = .none, name: String = "") {
        self.activation = activation
        self.name = name
    }
    /// `Add`.
    public var kind: String { "Add" }
    /// None.
    public var parameters: [Parameter] { [] }
    /// Two inputs.
    public var inputArity: Int? { 2 }
    /// See `Layer.outputShape(for:)`.
    public func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape {
        try expectArity(inputShapes)
        guard inputShapes[0] == inputShapes[1] else {
            throw ConvKitNN.wiring(self, "input 0 has shape \(inputShapes[0]) but input 1 has shape \(inputShapes[1])")
        }
        return inputShapes[0]
    }
    /// See `Layer.forward(_:)`.
    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        _ = try outputShape(for: inputs.map(\.shape))
        return try Ops.add(inputs[0].converted(to: .nchw), inputs[1].converted(to: .nchw), activation: activation)
    }
}

/// Concatenation along channels (Inception, U-Net skips).
public final class Concat: Layer {
    /// See `Layer.name`.
    public var name: String
    /// See `Layer.isTrainable` (no parameters).
    public var isTrainable = true
    /// Creates a concat layer.
    public init(name: String = "") { self.name = name }
    /// `Concat`.
    public var kind: String { "Concat" }
    /// None.
    public var parameters: [Parameter] { [] }
    /// Any number of inputs.
    public var inputArity: Int? { nil }
    /// See `Layer.outputShape(for:)`.
    public func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape {
        try expectArity(inputShapes)
        let s = inputShapes[0]
        for (i, t) in inputShapes.enumerated() where t.n != s.n || t.h != s.h || t.w != s.w {
            throw ConvKitNN.wiring(self, "input \(i) has shape \(t), incompatible with input 0's \(s) (n, h, w must agree)")
        }
        return TensorShape(n: s.n, c: inputShapes.reduce(0) { $0 + $1.c }, h: s.h, w: s.w)
    }
    /// No arithmetic.
    public func flops(for inputShapes: [TensorShape]) -> Double { 0 }
    /// See `Layer.forward(_:)`.
    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        _ = try outputShape(for: inputs.map(\.shape))
        return try Ops.concatChannels(inputs.map { try $0.converted(to: .nchw) })
    }
}

/// Zero padding around the image.
public final class ZeroPad2D: Layer {
    /// See `Layer.name`.
    public var name: String
    /// See `Layer.isTrainable` (no parameters).
    public var isTrainable = true
    /// The padding.
    public let padding: Padding
    /// Creates a zero-padding layer.
    public init(_ padding: Padding, name: String = "") {
        self.padding = padding
        self.name = name
    }
    /// `ZeroPad2D`.
    public var kind: String { "ZeroPad2D" }
    /// None.
    public var parameters: [Parameter] { [] }
    /// See `Layer.outputShape(for:)`.
    public func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape {
        let x = try single(inputShapes)
        guard min(padding.top, padding.left, padding.bottom, padding.right) >= 0 else {
            throw ConvKitNN.wiring(self, "negative padding \(padding)")
        }
        return TensorShape(n: x.n, c: x.c, h: x.h + padding.top + padding.bottom, w: x.w + padding.left + padding.right)
    }
    /// No arithmetic.
    public func flops(for inputShapes: [TensorShape]) -> Double { 0 }
    /// See `Layer.forward(_:)`.
    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try singleInput(inputs)
        let o = try outputShape(for: [x.shape])
        var y = try Tensor(shape: o)
        x.withUnsafeBufferPointer { src in
            y.withUnsafeMutableBufferPointer { dst in
                zeroPad(src.baseAddress!, x.shape, dst.baseAddress!, o, padding)
            }
        }
        return y
    }
}

/// Copies an NCHW image into the interior of a zeroed NCHW image of shape `o`.
func zeroPad(_ src: UnsafePointer<Float>, _ s: TensorShape, _ dst: UnsafeMutablePointer<Float>, _ o: TensorShape,
             _ p: Padding) {
    dst.update(repeating: 0, count: o.elementCount)
    for plane in 0..<(s.n * s.c) {
        for h in 0..<s.h {
            (dst + plane * o.h * o.w + (h + p.top) * o.w + p.left)
                .update(from: src + plane * s.h * s.w + h * s.w, count: s.w)
        }
    }
}
