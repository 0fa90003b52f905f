import CConvKit

/// Owns a `ck_plan*` and destroys it when the last reference goes.
final class PlanHandle: @unchecked Sendable {
    // Safe to share: the C plan is immutable after creation; every C entry point
    // that takes it reads it only (execute is documented thread-safe when each
    // call has its own output and workspace, which ConvKit's Swift API ensures).
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { ck_plan_destroy(pointer) }

    /// Runs a C `*_plan_create` call and wraps the result.
    static func create(_ make: (inout OpaquePointer?) -> ck_status) throws(ConvKitError) -> PlanHandle {
        var raw: OpaquePointer?
        let status = make(&raw)
        try check(status)
        guard let raw else { throw ConvKitError(code: .internal, message: "plan creation returned no plan") }
        return PlanHandle(raw)
    }

    var algorithm: Algorithm {
        var a = CK_ALGO_REFERENCE
        _ = ck_plan_algorithm(pointer, &a)
        return Algorithm(a)
    }

    var implementationName: String { String(cString: ck_plan_impl_name(pointer)) }

    var workspaceSize: Int {
        var bytes = 0
        _ = ck_plan_workspace_size(pointer, &bytes)
        return bytes
    }

    var threads: Int {
        var t: Int32 = 0
        _ = ck_plan_threads(pointer, &t)
        return Int(t)
    }
}

/// Throws unless `tensor` has the expected shape and layout.
func expect(_ tensor: Tensor, _ what: String, shape: TensorShape, layout: Layout) throws(ConvKitError) {
    guard tensor.shape == shape else { throw .shapeMismatch(what, expected: shape, got: tensor.shape) }
    guard tensor.layout == layout else { throw .layoutMismatch(what, expected: layout, got: tensor.layout) }
}

/// Throws unless `values` has `count` elements.
func expectCount(_ values: [Float], _ count: Int, _ what: String, _ detail: String) throws(ConvKitError) {
    guard values.count == count else {
        throw ConvKitError(code: .invalidShape,
                           message: "\(what) has \(values.count) floats, the descriptor needs \(count) (\(detail))")
    }
}

/// Checks the bias against the descriptor's `hasBias`.
func expectBias(_ bias: [Float]?, hasBias: Bool, count: Int) throws(ConvKitError) {
    switch (bias, hasBias) {
    case (nil, false): return
    case (nil, true):
        throw ConvKitError(code: .invalidArgument, message: "the descriptor has a bias but none was given")
    case (.some, false):
        throw ConvKitError(code: .invalidArgument, message: "a bias was given but the descriptor has hasBias = false")
    case (.some(let b), true): try expectCount(b, count, "bias", "one per output channel")
    }
}

/// Calls `body` with the base address of `values`, or nil when `values` is nil.
func withOptionalPointer<R>(_ values: [Float]?, _ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
    guard let values else { return try body(nil) }
    return try values.withUnsafeBufferPointer { try body($0.baseAddress) }
}

// MARK: - Conv2DPlan

/// A ready-to-run 2-D convolution: a validated descriptor, the chosen algorithm
/// and the weights packed for it.
///
/// Create a plan once per layer (the expensive part: algorithm choice, weight
/// packing, workspace sizing), then run it any number of times:
///
/// ```swift
/// let desc = try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: 3, h: 32, w: 32),
///                                 outputChannels: 16, kernel: 3, padding: .symmetric(1),
///                                 hasBias: true, activation: .relu)
/// let plan = try Conv2DPlan(descriptor: desc, weights: weights, bias: bias)
/// let y = try plan(x)                // 1x16x32x32
/// print(plan.implementationName)     // e.g. "direct/avx2_fma 4x24+6x16"
/// ```
///
/// Thread safety: `Conv2DPlan` is `Sendable` and may be executed from many
/// threads or tasks at once. Its only non-value member is the C plan handle,
/// which is `@unchecked Sendable` by hand-checked reasoning: the C plan is
/// immutable after creation, and `ck_conv2d_execute` may run concurrently on one
/// plan as long as each call has its own output and workspace — every call here
/// writes its own output tensor and lets the C core allocate a per-call workspace.
public final class Conv2DPlan: Sendable, CustomStringConvertible {
    /// The convolution this plan runs.
    public let descriptor: Conv2DDescriptor
    /// The options the plan was created with.
    public let options: PlanOptions
    /// The algorithm actually used (resolved when `options.algorithm` is `.auto`).
    public let algorithm: Algorithm
    /// The kernel implementation's name, e.g. `direct/avx2_fma 4x24+6x16` (a
    /// direct plan lists its register tiles, pixels x output channels) or
    /// `reference`.
    public let implementationName: String
    /// Workspace bytes each execute call needs (allocated per call by the C core; 0 if none).
    public let workspaceSize: Int
    /// Threads each execute call uses.
    public let threads: Int
    let handle: PlanHandle

    /// Creates a plan from OIHW weights (`K x C/groups x R x S` floats) and, iff
    /// `descriptor.hasBias`, `K` biases.
    ///
    /// - Throws: `ConvKitError` `.invalidShape` on a weight or bias count mismatch,
    ///   `.invalidArgument` on a bias given/missing against `hasBias`,
    ///   `.unsupportedAlgorithm` if an explicitly requested algorithm cannot serve
    ///   the descriptor, `.workspaceLimit`, `.outOfMemory`.
    public init(descriptor: Conv2DDescriptor, weights: [Float], bias: [Float]? = nil,
                options: PlanOptions = .default) throws {
        try expectCount(weights, descriptor.weightCount, "weights", "K x C/groups x R x S = \(descriptor.weightShape)")
        try expectBias(bias, hasBias: descriptor.hasBias, count: descriptor.outputChannels)
        var d = descriptor.c
        var o = try options.cOptions()
        handle = try weights.withUnsafeBufferPointer { w in
            try withOptionalPointer(bias) { b in
                try PlanHandle.create { ck_conv2d_plan_create(&d, w.baseAddress, b, &o, &$0) }
            }
        }
        self.descriptor = descriptor
        self.options = options
        algorithm = handle.algorithm
        implementationName = handle.implementationName
        workspaceSize = handle.workspaceSize
        threads = handle.threads
    }

    /// Creates a plan from a weight tensor of shape `descriptor.weightShape` in NCHW
    /// (that is OIHW) layout; other layouts are converted.
    public convenience init(descriptor: Conv2DDescriptor, weights: Tensor, bias: [Float]? = nil,
                            options: PlanOptions = .default) throws {
        guard weights.shape == descriptor.weightShape else {
            throw ConvKitError.shapeMismatch("weights", expected: descriptor.weightShape, got: weights.shape)
        }
        try self.init(descriptor: descriptor, weights: weights.converted(to: .nchw).storage, bias: bias,
                      options: options)
    }

    /// Runs the convolution into `output`, which must already have
    /// `descriptor.outputShape` and `descriptor.layout` (its storage is reused).
    ///
    /// - Parameters:
    ///   - input: shape `descriptor.inputShape`, layout `descriptor.layout`.
    ///   - residual: nil, or a tensor shaped like the output, added before the activation.
    /// - Throws: `ConvKitError` `.invalidShape` / `.invalidLayout` naming both shapes
    ///   (or layouts) when a tensor does not match the plan.
    public func execute(_ input: Tensor, residual: Tensor? = nil, into output: inout Tensor) throws {
        try expect(input, "input", shape: descriptor.inputShape, layout: descriptor.layout)
        try expect(output, "output", shape: descriptor.outputShape, layout: descriptor.layout)
        if let residual { try expect(residual, "residual", shape: descriptor.outputShape, layout: descriptor.layout) }
        let plan = handle.pointer
        try input.withUnsafeBufferPointer { x in
            try output.withUnsafeMutableBufferPointer { y in
                try withOptionalPointer(residual?.storage) { r in
                    try check(ck_conv2d_execute(plan, x.baseAddress, y.baseAddress, r, nil, 0))
                }
            }
        }
    }

    /// Runs the convolution and returns a new output tensor (see `execute(_:residual:into:)`).
    public func callAsFunction(_ input: Tensor, residual: Tensor? = nil) throws -> Tensor {
        var output = try Tensor(shape: descriptor.outputShape, layout: descriptor.layout)
        try execute(input, residual: residual, into: &output)
        return output
    }

    /// `Conv2DPlan(<implementation>, <descriptor>)`.
    public var description: String { "Conv2DPlan(\(implementationName), \(descriptor))" }
}

// MARK: - ConvTranspose2DPlan

/// A ready-to-run transposed 2-D convolution. Thread safety as `Conv2DPlan`.
public final class ConvTranspose2DPlan: Sendable, CustomStringConvertible {
    /// The transposed convolution this plan runs.
    public let descriptor: ConvTranspose2DDescriptor
    /// The options the plan was created with.
    public let options: PlanOptions
    /// The algorithm actually used.
    public let algorithm: Algorithm
    /// The kernel implementation's name.
    public let implementationName: String
    /// Workspace bytes each execute call needs (allocated per call; 0 if none).
    public let workspaceSize: Int
    /// Threads each execute call uses.
    public let threads: Int
    let handle: PlanHandle

    /// Creates a plan from IOHW weights (`C x K/groups x R x S` floats) and, iff
    /// `descriptor.hasBias`, `K` biases.
    ///
    /// - Throws: as `Conv2DPlan.init(descriptor:weights:bias:options:)`; only
    ///   `.auto` and `.reference` algorithms are available.
    public init(descriptor: ConvTranspose2DDescriptor, weights: [Float], bias: [Float]? = nil,
                options: PlanOptions = .default) throws {
        try expectCount(weights, descriptor.weightCount, "weights", "C x K/groups x R x S = \(descriptor.weightShape)")
        try expectBias(bias, hasBias: descriptor.hasBias, count: descriptor.outputChannels)
        var d = descriptor.c
        var o = try options.cOptions()
        handle = try weights.withUnsafeBufferPointer { w in
            try withOptionalPointer(bias) { b in
                try PlanHandle.create { ck_conv_transpose2d_plan_create(&d, w.baseAddress, b, &o, &$0) }
            }
        }
        self.descriptor = descriptor
        self.options = options
        algorithm = handle.algorithm
        implementationName = handle.implementationName
        workspaceSize = handle.workspaceSize
        threads = handle.threads
    }

    /// Runs the transposed convolution into `output` (shape `descriptor.outputShape`,
    /// layout `descriptor.layout`).
    ///
    /// - Throws: `ConvKitError` `.invalidShape` / `.invalidLayout` on a mismatch.
    public func execute(_ input: Tensor, into output: inout Tensor) throws {
        try expect(input, "input", shape: descriptor.inputShape, layout: descriptor.layout)
        try expect(output, "output", shape: descriptor.outputShape, layout: descriptor.layout)
        let plan = handle.pointer
        try input.withUnsafeBufferPointer { x in
            try output.withUnsafeMutableBufferPointer { y in
                try check(ck_conv_transpose2d_execute(plan, x.baseAddress, y.baseAddress, nil, 0))
            }
        }
    }

    /// Runs the transposed convolution and returns a new output tensor.
    public func callAsFunction(_ input: Tensor) throws -> Tensor {
        var output = try Tensor(shape: descriptor.outputShape, layout: descriptor.layout)
        try execute(input, into: &output)
        return output
    }

    /// `ConvTranspose2DPlan(<implementation>, <descriptor>)`.
    public var description: String { "ConvTranspose2DPlan(\(implementationName), \(descriptor))" }
}

// MARK: - Pool2DPlan

/// A ready-to-run 2-D max or average pooling. Thread safety as `Conv2DPlan`.
///
/// ```swift
/// let pool = try Pool2DPlan(descriptor: Pool2DDescriptor(kind: .max, inputShape: x.shape, window: 2))
/// let y = try pool(x)
/// ```
public final class Pool2DPlan: Sendable, CustomStringConvertible {
    /// The pooling this plan runs.
    public let descriptor: Pool2DDescriptor
    /// The options the plan was created with.
    public let options: PlanOptions
    /// The algorithm actually used.
    public let algorithm: Algorithm
    /// The kernel implementation's name.
    public let implementationName: String
    /// Threads each execute call uses.
    public let threads: Int
    let handle: PlanHandle

    /// Creates a pooling plan (algorithms `.auto` and `.reference`).
    ///
    /// - Throws: `ConvKitError` `.unsupportedAlgorithm` for other algorithms.
    public init(descriptor: Pool2DDescriptor, options: PlanOptions = .default) throws {
        var d = descriptor.c
        var o = try options.cOptions()
        handle = try PlanHandle.create { ck_pool2d_plan_create(&d, &o, &$0) }
        self.descriptor = descriptor
        self.options = options
        algorithm = handle.algorithm
        implementationName = handle.implementationName
        threads = handle.threads
    }

    /// Pools `input` into `output` (shape `descriptor.outputShape`, layout `descriptor.layout`).
    ///
    /// - Throws: `ConvKitError` `.invalidShape` / `.invalidLayout` on a mismatch.
    public func execute(_ input: Tensor, into output: inout Tensor) throws {
        try expect(input, "input", shape: descriptor.inputShape, layout: descriptor.layout)
        try expect(output, "output", shape: descriptor.outputShape, layout: descriptor.layout)
        let plan = handle.pointer
        try input.withUnsafeBufferPointer { x in
            try output.withUnsafeMutableBufferPointer { y in
                try check(ck_pool2d_execute(plan, x.baseAddress, y.baseAddress))
            }
        }
    }

    /// Pools `input` and returns a new output tensor.
    public func callAsFunction(_ input: Tensor) throws -> Tensor {
        var output = try Tensor(shape: descriptor.outputShape, layout: descriptor.layout)
        try execute(input, into: &output)
        return output
    }

    /// `Pool2DPlan(<implementation>, <descriptor>)`.
    public var description: String { "Pool2DPlan(\(implementationName), \(descriptor))" }
}

// MARK: - DensePlan

/// A ready-to-run fully connected layer. Thread safety as `Conv2DPlan`.
///
/// Inputs are either tensors of shape `batch x inputFeatures x 1 x 1` (NCHW or
/// NHWC, which coincide for 1x1 images; use `Tensor.flattened()` after
/// convolutions) or plain `[Float]` arrays of `batch * inputFeatures` values,
/// row-major by sample.
public final class DensePlan: Sendable, CustomStringConvertible {
    /// The layer this plan runs.
    public let descriptor: DenseDescriptor
    /// The options the plan was created with.
    public let options: PlanOptions
    /// The algorithm actually used (`.im2col` denotes the BLAS path).
    public let algorithm: Algorithm
    /// The implementation's name, e.g. `dense/blas`.
    public let implementationName: String
    /// Threads each execute call uses.
    public let threads: Int
    let handle: PlanHandle

    /// Creates a plan from `outputFeatures x inputFeatures` row-major weights and,
    /// iff `descriptor.hasBias`, `outputFeatures` biases.
    ///
    /// - Throws: `ConvKitError` `.invalidShape` on a count mismatch,
    ///   `.unsupportedAlgorithm` for algorithms other than `.auto`, `.reference`, `.im2col`.
    public init(descriptor: DenseDescriptor, weights: [Float], bias: [Float]? = nil,
                options: PlanOptions = .default) throws {
        try expectCount(weights, descriptor.weightCount, "weights",
                        "outputFeatures x inputFeatures = \(descriptor.outputFeatures)x\(descriptor.inputFeatures)")
        try expectBias(bias, hasBias: descriptor.hasBias, count: descriptor.outputFeatures)
        var d = descriptor.c
        var o = try options.cOptions()
        handle = try weights.withUnsafeBufferPointer { w in
            try withOptionalPointer(bias) { b in
                try PlanHandle.create { ck_dense_plan_create(&d, w.baseAddress, b, &o, &$0) }
            }
        }
        self.descriptor = descriptor
        self.options = options
        algorithm = handle.algorithm
        implementationName = handle.implementationName
        threads = handle.threads
    }

    /// Runs the layer on `batch * inputFeatures` floats; returns `batch * outputFeatures` floats.
    ///
    /// - Throws: `ConvKitError` `.invalidShape` on a count mismatch.
    public func callAsFunction(_ input: [Float]) throws -> [Float] {
        try expectCount(input, descriptor.batch * descriptor.inputFeatures, "input",
                        "batch x inputFeatures = \(descriptor.batch)x\(descriptor.inputFeatures)")
        var output = [Float](repeating: 0, count: descriptor.batch * descriptor.outputFeatures)
        let plan = handle.pointer
        try input.withUnsafeBufferPointer { x in
            try output.withUnsafeMutableBufferPointer { y in
                try check(ck_dense_execute(plan, x.baseAddress, y.baseAddress))
            }
        }
        return output
    }

    /// Runs the layer on a `batch x inputFeatures x 1 x 1` tensor (NCHW or NHWC);
    /// returns `batch x outputFeatures x 1 x 1` in the same layout.
    ///
    /// - Throws: `ConvKitError` `.invalidShape` on a shape mismatch, `.invalidLayout` for NCHW8c.
    public func callAsFunction(_ input: Tensor) throws -> Tensor {
        guard input.shape == descriptor.inputShape else {
            throw ConvKitError.shapeMismatch("input", expected: descriptor.inputShape, got: input.shape)
        }
        guard input.layout != .nchw8c else {
            throw ConvKitError(code: .invalidLayout, message: "dense input must be NCHW or NHWC, not NCHW8c")
        }
        return try Tensor(shape: descriptor.outputShape, layout: input.layout, values: self(input.storage))
    }

    /// `DensePlan(<implementation>, <descriptor>)`.
    public var description: String { "DensePlan(\(implementationName), \(descriptor))" }
}
