import Synchronization

/// An in-process cache of convolution plans, safe to use from many threads at once.
///
/// Plans are keyed by descriptor, resolved thread count, options and a weights
/// identity; identical requests get the identical `Conv2DPlan` object, so plans of
/// the same weights share one copy of the packed weights instead of packing per caller.
///
/// ```swift
/// let cache = PlanCache()
/// let a = try cache.plan(descriptor: desc, weights: w, options: opts, weightsIdentity: "layer1@v3")
/// let b = try cache.plan(descriptor: desc, weights: w, options: opts, weightsIdentity: "layer1@v3")
/// assert(a === b)
/// ```
///
/// When two threads ask for a new key at the same moment both may build a plan;
/// one is kept and returned to both, the other is dropped.
public final class PlanCache: Sendable {
    /// What identifies a cached plan.
    public struct Key: Hashable, Sendable {
        /// The convolution.
        public var descriptor: Conv2DDescriptor
        /// The options, with `threads` resolved (0 becomes the core count).
        public var options: PlanOptions
        /// Identifies the weights and bias.
        public var weightsIdentity: String
    }

    private let plans = Mutex<[Key: Conv2DPlan]>([:])

    /// Creates an empty cache.
    public init() {}

    /// The cache key of a request (see `plan(descriptor:weights:bias:options:weightsIdentity:)`).
    public static func key(descriptor: Conv2DDescriptor, weights: [Float], bias: [Float]?, options: PlanOptions,
                           weightsIdentity: String?) -> Key {
        var o = options
        o.threads = Planner.resolvedThreads(options.threads)
        return Key(descriptor: descriptor, options: o,
                   weightsIdentity: weightsIdentity ?? contentIdentity(weights: weights, bias: bias))
    }

    /// The plan for this request: the cached one, or a new plan that is then cached.
    ///
    /// - Parameter weightsIdentity: a caller-chosen name that changes whenever the
    ///   weights or bias change; nil = `contentIdentity(weights:bias:)` (a hash of the values).
    /// - Throws: what `Conv2DPlan.init` throws.
    public func plan(descriptor: Conv2DDescriptor, weights: [Float], bias: [Float]? = nil,
                     options: PlanOptions = .default, weightsIdentity: String? = nil) throws -> Conv2DPlan {
        let key = Self.key(descriptor: descriptor, weights: weights, bias: bias, options: options,
                           weightsIdentity: weightsIdentity)
        if let cached = plans.withLock({ $0[key] }) { return cached }
        let made = try Conv2DPlan(descriptor: descriptor, weights: weights, bias: bias, options: key.options)
        return plans.withLock { table in
            if let raced = table[key] { return raced }
            table[key] = made
            return made
        }
    }

    /// The number of cached plans.
    public var count: Int { plans.withLock { $0.count } }

    /// Drops every cached plan (plans in use stay valid).
    public func removeAll() { plans.withLock { $0.removeAll() } }

    /// A 64-bit FNV-1a-style hash (one step per value) of the weights' and bias's bit patterns and counts, in hex.
    public static func contentIdentity(weights: [Float], bias: [Float]?) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ v: UInt64) { h = (h ^ v) &* 0x0000_0100_0000_01b3 }
        mix(UInt64(weights.count))
        for w in weights { mix(UInt64(w.bitPattern)) }
        mix(bias.map { UInt64($0.count) } ?? .max)
        for b in bias ?? [] { mix(UInt64(b.bitPattern)) }
        return "fnv1a:" + String(h, radix: 16)
    }
}
