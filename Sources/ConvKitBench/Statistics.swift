/// Order statistics of repeated timings.
public enum Statistics {
    /// The `fraction` quantile (0...1) of `values` with linear interpolation
    /// between closest ranks (the "R-7" / NumPy default definition):
    /// position h = (n − 1)·fraction in the sorted values.  Returns nan for
    /// an empty input.
    public static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let f = min(max(fraction, 0), 1)
        let h = Double(sorted.count - 1) * f
        let lo = Int(h.rounded(.down))
        let hi = min(lo + 1, sorted.count - 1)
        return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
    }

    /// The median (50th percentile; the mean of the two middle values for an even count).
    public static func median(_ values: [Double]) -> Double { percentile(values, 0.5) }

    /// Median, 10th and 90th percentile of `values`.
    public static func summary(_ values: [Double]) -> (median: Double, p10: Double, p90: Double) {
        (percentile(values, 0.5), percentile(values, 0.1), percentile(values, 0.9))
    }
}

/// Monotonic wall-clock timing.
public enum Stopwatch {
    /// Seconds elapsed while running `body`.
    @inline(__always)
    public static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        try body()
        return (clock.now - start).seconds
    }
}

extension Duration {
    /// This duration in seconds.
    public var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}

/// A deterministic pseudo-random generator (SplitMix64), so every run of the
/// benchmark uses the same data and checks the same output positions.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform float in [-1, 1).
    public mutating func nextSigned() -> Float {
        Float(Int32(truncatingIfNeeded: next() >> 40) - (1 << 23)) / Float(1 << 23)
    }
}
