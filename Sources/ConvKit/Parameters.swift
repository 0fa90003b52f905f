import CConvKit

/// An element-wise activation function, applied on its own (`Ops.apply`) or fused
/// into a convolution, dense layer or batch normalisation.
public enum Activation: Hashable, Codable, Sendable, CustomStringConvertible {
    /// The identity.
    case none
    /// `max(x, 0)`.
    case relu
    /// `min(max(x, 0), 6)` (MobileNet).
    case relu6
    /// `x >= 0 ? x : alpha * x`.
    case leakyReLU(alpha: Float)
    /// `1 / (1 + exp(-x))`.
    case sigmoid
    /// `tanh(x)`.
    case tanh

    /// A short name, e.g. `relu` or `leakyReLU(0.1)`.
    public var description: String {
        switch self {
        case .none: "none"
        case .relu: "relu"
        case .relu6: "relu6"
        case .leakyReLU(let alpha): "leakyReLU(\(alpha))"
        case .sigmoid: "sigmoid"
        case .tanh: "tanh"
        }
    }

    var c: ck_activation {
        switch self {
        case .none: ck_activation(kind: CK_ACT_NONE, alpha: 0)
        case .relu: ck_activation(kind: CK_ACT_RELU, alpha: 0)
        case .relu6: ck_activation(kind: CK_ACT_RELU6, alpha: 0)
        case .leakyReLU(let alpha): ck_activation(kind: CK_ACT_LEAKY_RELU, alpha: alpha)
        case .sigmoid: ck_activation(kind: CK_ACT_SIGMOID, alpha: 0)
        case .tanh: ck_activation(kind: CK_ACT_TANH, alpha: 0)
        }
    }
}

/// A pair of sizes along height and width: a kernel or window size, a stride,
/// a dilation. An integer literal means the same value along both axes.
///
/// ```swift
/// let kernel: Size2D = 3            // 3x3
/// let stride = Size2D(2, 1)         // 2 down, 1 across
/// ```
public struct Size2D: Hashable, Codable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    /// Size along the height axis.
    public var height: Int
    /// Size along the width axis.
    public var width: Int

    /// Creates a size from its height and width.
    public init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }

    /// Creates a size from its height and width.
    public init(_ height: Int, _ width: Int) {
        self.init(height: height, width: width)
    }

    /// The same size along both axes.
    public init(integerLiteral value: Int) {
        self.init(height: value, width: value)
    }

    /// The same size along both axes.
    public static func square(_ size: Int) -> Size2D { Size2D(height: size, width: size) }

    /// `HxW`, e.g. `3x3`.
    public var description: String { "\(height)x\(width)" }
}

/// Zero padding added around the input, possibly asymmetric.
///
/// Values are validated (>= 0) by the descriptor that uses them.
public struct Padding: Hashable, Codable, Sendable, CustomStringConvertible {
    /// Rows added above.
    public var top: Int
    /// Columns added on the left.
    public var left: Int
    /// Rows added below.
    public var bottom: Int
    /// Columns added on the right.
    public var right: Int

    /// Creates a padding from its four sides.
    public init(top: Int, left: Int, bottom: Int, right: Int) {
        self.top = top
        self.left = left
        self.bottom = bottom
        self.right = right
    }

    /// No padding ("valid" convolution).
    public static let valid = Padding(top: 0, left: 0, bottom: 0, right: 0)

    /// The same padding on all four sides.
    public static func symmetric(_ amount: Int) -> Padding {
        Padding(top: amount, left: amount, bottom: amount, right: amount)
    }

    /// `vertical` rows above and below, `horizontal` columns left and right.
    public static func symmetric(vertical: Int, horizontal: Int) -> Padding {
        Padding(top: vertical, left: horizontal, bottom: vertical, right: horizontal)
    }

    /// TensorFlow-style "SAME" padding: the output has `ceil(input / stride)` rows
    /// and columns; when the total padding along an axis is odd the extra row
    /// (column) goes to the bottom (right).
    ///
    /// total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - input, 0),
    /// top = total / 2, bottom = total - top.
    public static func same(inputHeight: Int, inputWidth: Int, kernel: Size2D,
                            stride: Size2D = 1, dilation: Size2D = 1) -> Padding {
        func axis(_ input: Int, _ k: Int, _ s: Int, _ d: Int) -> (Int, Int) {
            guard input > 0, k > 0, s > 0, d > 0 else { return (0, 0) }
            let out = (input + s - 1) / s
            let total = max((out - 1) * s + (k - 1) * d + 1 - input, 0)
            return (total / 2, total - total / 2)
        }
        let (top, bottom) = axis(inputHeight, kernel.height, stride.height, dilation.height)
        let (left, right) = axis(inputWidth, kernel.width, stride.width, dilation.width)
        return Padding(top: top, left: left, bottom: bottom, right: right)
    }

    /// `(top, left, bottom, right)`.
    public var description: String { "(\(top), \(left), \(bottom), \(right))" }
}

/// A convolution algorithm. Raw values are the C core's stable names.
public enum Algorithm: String, Hashable, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// Let ConvKit choose (a heuristic; the planner refines it by measurement).
    case auto = "auto"
    /// The naive reference (float64 accumulation): the oracle.
    case reference = "reference"
    /// im2col + BLAS sgemm.
    case im2col = "im2col"
    /// Register-blocked SIMD direct convolution.
    case direct = "direct"
    /// Winograd F(2x2, 3x3).
    case winogradF2 = "winograd-f2"
    /// Winograd F(4x4, 3x3).
    case winogradF4 = "winograd-f4"
    /// Winograd F(6x6, 3x3); needs `PlanOptions.fastMath`.
    case winogradF6 = "winograd-f6"
    /// Depthwise kernels (groups == C == K).
    case depthwise = "depthwise"

    /// The C name, e.g. `winograd-f4`.
    public var description: String { rawValue }

    var c: ck_algorithm {
        switch self {
        case .auto: CK_ALGO_AUTO
        case .reference: CK_ALGO_REFERENCE
        case .im2col: CK_ALGO_IM2COL
        case .direct: CK_ALGO_DIRECT
        case .winogradF2: CK_ALGO_WINOGRAD_F2
        case .winogradF4: CK_ALGO_WINOGRAD_F4
        case .winogradF6: CK_ALGO_WINOGRAD_F6
        case .depthwise: CK_ALGO_DEPTHWISE
        }
    }

    init(_ algo: ck_algorithm) {
        self = Algorithm(rawValue: String(cString: ck_algorithm_name(algo))) ?? .reference
    }
}

/// Options for creating a plan. The defaults are what most callers want.
public struct PlanOptions: Hashable, Codable, Sendable {
    /// The algorithm; anything but `.auto` is used exactly or the plan fails
    /// with `.unsupportedAlgorithm` (never a silent fallback).
    public var algorithm: Algorithm
    /// Threads used by execute; 0 = all cores.
    public var threads: Int
    /// Whether `.auto` may pick a Winograd algorithm.
    public var allowWinograd: Bool
    /// Whether less accurate algorithms (Winograd F(6x6)) are allowed.
    public var fastMath: Bool
    /// Maximum workspace bytes; 0 = the C core's default (16 MiB).
    public var workspaceLimit: Int

    /// Creates options; every argument has a default.
    public init(algorithm: Algorithm = .auto, threads: Int = 0, allowWinograd: Bool = true,
                fastMath: Bool = false, workspaceLimit: Int = 0) {
        self.algorithm = algorithm
        self.threads = threads
        self.allowWinograd = allowWinograd
        self.fastMath = fastMath
        self.workspaceLimit = workspaceLimit
    }

    /// The default options (auto algorithm, all cores).
    public static let `default` = PlanOptions()

    func cOptions() throws(ConvKitError) -> ck_plan_options {
        guard threads >= 0, threads <= Int(Int32.max) else {
            throw ConvKitError(code: .invalidArgument, message: "threads=\(threads) must be >= 0 (0 = all cores)")
        }
        guard workspaceLimit >= 0 else {
            throw ConvKitError(code: .invalidArgument, message: "workspaceLimit=\(workspaceLimit) must be >= 0")
        }
        var flags: UInt32 = 0
        if !allowWinograd { flags |= UInt32(CK_PLAN_NO_WINOGRAD) }
        if fastMath { flags |= UInt32(CK_PLAN_FAST_MATH) }
        return ck_plan_options(algorithm: algorithm.c, threads: Int32(threads), flags: flags,
                               workspace_limit: workspaceLimit)
    }
}

/// The kind of pooling.
public enum PoolKind: String, Hashable, Codable, Sendable, CaseIterable {
    /// Maximum over the window.
    case max
    /// Average over the window.
    case average = "avg"

    var c: ck_pool_kind { self == .max ? CK_POOL_MAX : CK_POOL_AVG }
}
