import ConvKit
import Foundation

/// Namespace of the model layer: layers, networks (`Sequential`, `Graph`), the
/// model zoo (`Zoo`), compiled inference (`CompiledNetwork`) and safetensors
/// weights I/O.
///
/// ```swift
/// let net = try Zoo.resnet18(classes: 10, inputSize: 64, seed: 1)
/// print(net.summary())
/// let compiled = try net.compile(batch: 1, threads: 2)
/// let logits = try compiled(try Tensor(shape: compiled.inputShape, repeating: 0.5))
/// ```
public enum ConvKitNN {
    /// Builds the error thrown for a layer that cannot accept its inputs: the
    /// layer's path/name, its kind, and the shapes involved.
    static func wiring(_ layer: any Layer, _ detail: String) -> ConvKitError {
        ConvKitError(code: .invalidShape,
                     message: "layer '\(layer.name.isEmpty ? "?" : layer.name)' (\(layer.kind)): \(detail)")
    }
}

// MARK: - Random numbers

/// A small, fast, seedable pseudo-random generator (SplitMix64), so that weight
/// initialisation is reproducible across runs and platforms.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator; equal seeds give equal sequences.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform float in `[0, 1)` (24 random bits).
    public mutating func nextUnit() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// A standard normal sample (Box–Muller).
    public mutating func nextNormal() -> Float {
        let u1 = max(nextUnit(), 1e-7)
        let u2 = nextUnit()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * Float.pi * u2)
    }
}


// MARK: - Initialisation and parameters

/// How a parameter's initial values are drawn.
public enum Initializer: Hashable, Sendable {
    /// He (Kaiming) normal: `N(0, 2 / fanIn)`, for ReLU networks.
    case heNormal
    /// Glorot (Xavier) uniform: `U(-a, a)`, `a = sqrt(6 / (fanIn + fanOut))`.
    case glorotUniform
    /// Every value equal to the constant.
    case constant(Float)

    /// Draws `count` values with the given fans from a generator seeded with `seed`.
    public func values(count: Int, fanIn: Int, fanOut: Int, seed: UInt64) -> [Float] {
        switch self {
        case .constant(let v): return [Float](repeating: v, count: count)
        case .heNormal:
            var g = SeededGenerator(seed: seed)
            let std = (2 / Float(max(fanIn, 1))).squareRoot()
            return (0..<count).map { _ in g.nextNormal() * std }
        case .glorotUniform:
            var g = SeededGenerator(seed: seed)
            let a = (6 / Float(max(fanIn + fanOut, 1))).squareRoot()
            return (0..<count).map { _ in (g.nextUnit() * 2 - 1) * a }
        }
    }
}

/// A named parameter tensor of a layer (a weight, a bias, a batch-norm scale,
/// or a non-trainable buffer such as a running mean).
///
/// Values are drawn lazily from the initializer and seed on first access, so a
/// network can be built and summarised (even VGG-16) without allocating its
/// weights. Training updates `values` in place (`withMutableValues`), which bumps
/// `version` so that layers rebuild their cached plans.
public final class Parameter: CustomStringConvertible {
    /// The local name within the layer: `weight`, `bias`, `running_mean`, `running_var`.
    public let name: String
    /// The logical shape, outermost first (conv `[K, C/groups, R, S]`, dense `[out, in]`, bias `[K]`).
    public let shape: [Int]
    /// Whether an optimiser should update it (false for running statistics).
    public let isTrainable: Bool
    /// Incremented on every write; caches compare it to detect changes.
    public private(set) var version = 0
    /// The gradient accumulated by training (nil until a backward pass sets it).
    public var gradient: [Float]?
    let initializer: Initializer
    let fanIn: Int
    let fanOut: Int
    let seed: UInt64
    private var storage: [Float]?

    /// Creates a parameter whose values are drawn on first use.
    public init(name: String, shape: [Int], isTrainable: Bool = true, initializer: Initializer,
                fanIn: Int = 1, fanOut: Int = 1, seed: UInt64 = 0) {
        self.name = name
        self.shape = shape
        self.isTrainable = isTrainable
        self.initializer = initializer
        self.fanIn = fanIn
        self.fanOut = fanOut
        self.seed = seed
    }

    /// The number of elements, the product of `shape`.
    public var count: Int { shape.reduce(1, *) }

    /// Whether the values have been drawn or set.
    public var isMaterialized: Bool { storage != nil }

    /// The values, row-major in `shape` (drawn from the initializer on first access).
    public var values: [Float] {
        if let storage { return storage }
        let v = initializer.values(count: count, fanIn: fanIn, fanOut: fanOut, seed: seed)
        storage = v
        return v
    }

    /// Replaces the values.
    ///
    /// - Throws: `ConvKitError` `.invalidShape` if `newValues.count != count`.
    public func setValues(_ newValues: [Float]) throws {
        guard newValues.count == count else {
            throw ConvKitError(code: .invalidShape,
                               message: "parameter '\(name)' of shape \(shape) needs \(count) values, got \(newValues.count)")
        }
        storage = newValues
        version += 1
    }

    /// Updates the values in place (for optimisers), then bumps `version`.
    public func withMutableValues<R>(_ body: (inout [Float]) throws -> R) rethrows -> R {
        var v = values
        storage = nil
        defer { storage = v; version += 1 }
        return try body(&v)
    }

    /// `name [shape]`.
    public var description: String { "\(name) \(shape)" }
}

/// What layers receive while being built: a generator for parameter seeds.
public struct BuildContext {
    /// The generator the parameter seeds are drawn from.
    public var generator: SeededGenerator

    /// Creates a context from a seed.
    public init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    /// The seed for the next parameter.
    public mutating func nextSeed() -> UInt64 { generator.next() }
}
