import CConvKit

/// An error reported by ConvKit: the C core's status code and its detailed message.
///
/// Every throwing ConvKit API throws `ConvKitError`. Errors detected by the
/// C core carry its status and the message of `ck_last_error_message()`
/// (naming the field and the values); errors detected in Swift (for example
/// a tensor whose shape does not match a plan) use the same codes.
///
/// ```swift
/// do {
///     _ = try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: 3, h: 8, w: 8),
///                              outputChannels: 4, kernel: 3, groups: 2)
/// } catch let error as ConvKitError where error.code == .invalidGroups {
///     print(error.message)  // "input channels C=3 are not divisible by groups=2"
/// }
/// ```
public struct ConvKitError: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; each case mirrors one `ck_status` of the C API.
    public enum Code: Int, Hashable, Sendable, CaseIterable, Codable, CustomStringConvertible {
        /// `CK_ERR_NULL_POINTER`: a required pointer argument was NULL (should not happen through Swift).
        case nullPointer = 1
        /// `CK_ERR_INVALID_SHAPE`: a dimension is < 1, or a tensor's shape does not match what the op expects.
        case invalidShape = 2
        /// `CK_ERR_INVALID_STRIDE`: a stride is < 1.
        case invalidStride = 3
        /// `CK_ERR_INVALID_PADDING`: a padding is negative (or too large where that matters).
        case invalidPadding = 4
        /// `CK_ERR_INVALID_DILATION`: a dilation is < 1.
        case invalidDilation = 5
        /// `CK_ERR_INVALID_GROUPS`: groups < 1, or the channels are not divisible by groups.
        case invalidGroups = 6
        /// `CK_ERR_EMPTY_OUTPUT`: the computed output size is <= 0.
        case emptyOutput = 7
        /// `CK_ERR_SIZE_OVERFLOW`: an element or byte count overflows, or exceeds 2^40 elements.
        case sizeOverflow = 8
        /// `CK_ERR_INVALID_LAYOUT`: a layout the op does not accept, or tensors with different layouts.
        case invalidLayout = 9
        /// `CK_ERR_INVALID_ARGUMENT`: any other invalid value (a count mismatch, a bad epsilon, ...).
        case invalidArgument = 10
        /// `CK_ERR_UNSUPPORTED_ALGORITHM`: the explicitly requested algorithm cannot serve this shape or these options.
        case unsupportedAlgorithm = 100
        /// `CK_ERR_UNSUPPORTED_ISA`: the algorithm needs an instruction set this CPU lacks.
        case unsupportedISA = 101
        /// `CK_ERR_UNSUPPORTED`: any other valid request that is not implemented.
        case unsupported = 102
        /// `CK_ERR_OUT_OF_MEMORY`: an allocation failed.
        case outOfMemory = 200
        /// `CK_ERR_INSUFFICIENT_WORKSPACE`: a workspace smaller than the plan needs was given.
        case insufficientWorkspace = 201
        /// `CK_ERR_WORKSPACE_LIMIT`: the plan would need more workspace than `PlanOptions.workspaceLimit`.
        case workspaceLimit = 202
        /// `CK_ERR_INTERNAL`: a bug in ConvKit (also used for a status code this version does not know).
        case `internal` = 255

        /// Whether the error is the caller's (an invalid request), as opposed to an
        /// unsupported request or a system error.
        public var isCallerError: Bool { rawValue < 100 }

        /// The case name, e.g. `invalidGroups`.
        public var description: String {
            switch self {
            case .nullPointer: "nullPointer"
            case .invalidShape: "invalidShape"
            case .invalidStride: "invalidStride"
            case .invalidPadding: "invalidPadding"
            case .invalidDilation: "invalidDilation"
            case .invalidGroups: "invalidGroups"
            case .emptyOutput: "emptyOutput"
            case .sizeOverflow: "sizeOverflow"
            case .invalidLayout: "invalidLayout"
            case .invalidArgument: "invalidArgument"
            case .unsupportedAlgorithm: "unsupportedAlgorithm"
            case .unsupportedISA: "unsupportedISA"
            case .unsupported: "unsupported"
            case .outOfMemory: "outOfMemory"
            case .insufficientWorkspace: "insufficientWorkspace"
            case .workspaceLimit: "workspaceLimit"
            case .internal: "internal"
            }
        }
    }

    /// The kind of failure.
    public var code: Code
    /// A human-readable explanation naming the offending field and values.
    public var message: String

    /// Creates an error with a code and a message.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// `"<code>: <message>"`, e.g. `"invalidGroups: input channels C=3 are not divisible by groups=2"`.
    public var description: String { "\(code): \(message)" }
}

extension ConvKitError {
    /// Builds the error for a failed C call from the thread's last error message
    /// (falling back to the status's static description). Must run on the
    /// thread that made the call, before any other ConvKit call.
    init(status: ck_status) {
        let raw = Int(status.rawValue)
        let detail = String(cString: ck_last_error_message())
        let message = detail.isEmpty ? String(cString: ck_status_string(status)) : detail
        if let code = Code(rawValue: raw) {
            self.init(code: code, message: message)
        } else {
            self.init(code: .internal, message: "unknown status \(raw): \(message)")
        }
    }

    /// A Swift-side shape mismatch: `what` expected `expected`, got `actual`.
    static func shapeMismatch(_ what: String, expected: TensorShape, got actual: TensorShape) -> ConvKitError {
        ConvKitError(code: .invalidShape, message: "\(what) has shape \(actual), the plan expects \(expected)")
    }

    /// A Swift-side layout mismatch.
    static func layoutMismatch(_ what: String, expected: Layout, got actual: Layout) -> ConvKitError {
        ConvKitError(code: .invalidLayout, message: "\(what) has layout \(actual), the plan expects \(expected)")
    }
}

/// Throws the `ConvKitError` for `status` unless it is `CK_OK`.
@inline(__always)
func check(_ status: ck_status) throws(ConvKitError) {
    if status != CK_OK { throw ConvKitError(status: status) }
}

/// Converts a Swift count to `Int64` (always exact on 64-bit platforms).
@inline(__always)
func i64(_ value: Int) -> Int64 { Int64(value) }
