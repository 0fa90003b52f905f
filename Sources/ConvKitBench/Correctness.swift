import CConvKit

/// Checking an algorithm's output against a direct dot product on a
/// deterministic sample of output positions (borders included).
public enum Correctness {
    /// The relative tolerance an algorithm must meet on a convolution with
    /// reduction length `reduction` = C/g·R·S:
    /// |y − y_ref| ≤ tol·(Σ|w·x| + |b|) with tol = 4·√reduction·2⁻²⁴ for
    /// algorithms that sum products in some order, looser for Winograd
    /// (its transforms amplify rounding; provisional factors, to be tightened
    /// against measured errors when those kernels land).
    public static func tolerance(algorithm: ck_algorithm, reduction: Int) -> Double {
        let base = 4.0 * Double(max(reduction, 1)).squareRoot() * 0x1p-24
        switch algorithm {
        case CK_ALGO_WINOGRAD_F2: return base * 8
        case CK_ALGO_WINOGRAD_F4: return base * 64
        case CK_ALGO_WINOGRAD_F6: return base * 1024
        default: return base
        }
    }

    /// Offset of element (n, c, h, w) in a tensor of shape (·, C, H, W), as
    /// the C core's `ck_offset`.
    @inline(__always)
    public static func offset(_ layout: ck_layout, _ C: Int, _ H: Int, _ W: Int,
                              _ n: Int, _ c: Int, _ h: Int, _ w: Int) -> Int {
        switch layout {
        case CK_LAYOUT_NHWC: return ((n * H + h) * W + w) * C + c
        case CK_LAYOUT_NCHW8C:
            let cb = (C + 7) / 8
            return (((n * cb + c / 8) * H + h) * W + w) * 8 + (c % 8)
        default: return ((n * C + c) * H + h) * W + w
        }
    }

    /// An output position (n, k, p, q).
    public struct Position: Hashable, Sendable {
        /// Batch index.
        public var n: Int
        /// Output channel.
        public var k: Int
        /// Output row.
        public var p: Int
        /// Output column.
        public var q: Int
    }

    /// A deterministic sample of up to `count` output positions of an
    /// N x K x P x Q output: every combination of the first/middle/last
    /// row and column with the first/last channel and batch index (the
    /// borders, where padding matters), then pseudo-random positions.  All
    /// positions when the output has at most `count` elements.
    public static func samplePositions(n: Int, k: Int, p: Int, q: Int, count: Int, seed: UInt64 = 0xC0FFEE)
        -> [Position]
    {
        let total = n * k * p * q
        if total <= count {
            var all: [Position] = []
            all.reserveCapacity(total)
            for a in 0..<n { for b in 0..<k { for c in 0..<p { for d in 0..<q { all.append(Position(n: a, k: b, p: c, q: d)) } } } }
            return all
        }
        var seen = Set<Position>()
        var out: [Position] = []
        func add(_ pos: Position) {
            if out.count < count, seen.insert(pos).inserted { out.append(pos) }
        }
        let ns = Set([0, n - 1]).sorted(), ks = Set([0, k - 1]).sorted()
        let ps = Set([0, p / 2, p - 1]).sorted(), qs = Set([0, q / 2, q - 1]).sorted()
        for a in ns { for b in ks { for c in ps { for d in qs { add(Position(n: a, k: b, p: c, q: d)) } } } }
        var rng = SplitMix64(seed: seed)
        var attempts = 0
        while out.count < count, attempts < count * 20 {
            attempts += 1
            // Half of the random positions on the border rows/columns.
            let border = rng.next() & 1 == 0
            var pp = Int(rng.next() % UInt64(p)), qq = Int(rng.next() % UInt64(q))
            if border {
                if rng.next() & 1 == 0 { pp = rng.next() & 1 == 0 ? 0 : p - 1 } else { qq = rng.next() & 1 == 0 ? 0 : q - 1 }
            }
            add(Position(n: Int(rng.next() % UInt64(n)), k: Int(rng.next() % UInt64(k)), p: pp, q: qq))
        }
        return out
    }

    /// Outcome of a check.
    public struct Outcome: Sendable, Hashable {
        /// Whether every sampled position met the tolerance (and nothing was NaN).
        public var valid: Bool
        /// max |y − y_ref| / (Σ|w·x| + |b|) over the sample (inf if a value was not finite).
        public var maxError: Double
        /// The tolerance used.
        public var tolerance: Double
        /// Positions checked.
        public var checked: Int
        /// A description of the worst position.
        public var worst: String
    }

    /// Checks a convolution output `y` (in `layout`) against a float64 direct
    /// dot product of NCHW input `x`, OIHW weights `w` and bias `b`.
    public static func checkConv(layer: BenchLayer, p P: Int, q Q: Int, x: UnsafePointer<Float>,
                                 w: UnsafePointer<Float>, b: UnsafePointer<Float>, y: UnsafePointer<Float>,
                                 layout: ck_layout, tolerance: Double, samples: Int) -> Outcome {
        let C = layer.c, H = layer.h, W = layer.w, K = layer.k, R = layer.r, S = layer.s
        let cg = C / layer.groups, kg = K / layer.groups
        var worst = 0.0
        var worstText = ""
        var valid = true
        let positions = samplePositions(n: layer.n, k: K, p: P, q: Q, count: samples)
        for pos in positions {
            let g = pos.k / kg
            var acc = Double(b[pos.k])
            var mag = abs(Double(b[pos.k]))
            for c in 0..<cg {
                for r in 0..<R {
                    let ih = pos.p * layer.stride - layer.pad + r
                    if ih < 0 || ih >= H { continue }
                    for s in 0..<S {
                        let iw = pos.q * layer.stride - layer.pad + s
                        if iw < 0 || iw >= W { continue }
                        let prod = Double(w[((pos.k * cg + c) * R + r) * S + s]) *
                            Double(x[((pos.n * C + g * cg + c) * H + ih) * W + iw])
                        acc += prod
                        mag += abs(prod)
                    }
                }
            }
            let got = Double(y[offset(layout, K, P, Q, pos.n, pos.k, pos.p, pos.q)])
            let err = got.isFinite ? abs(got - acc) / max(mag, Double.leastNormalMagnitude) : .infinity
            if err > worst || (!err.isFinite && worstText.isEmpty) {
                worst = err
                worstText = "n=\(pos.n) k=\(pos.k) p=\(pos.p) q=\(pos.q): got \(got), expected \(acc)"
            }
            if !(err <= tolerance) { valid = false }
        }
        return Outcome(valid: valid, maxError: worst, tolerance: tolerance, checked: positions.count, worst: worstText)
    }

    /// Checks a pooling output (in `layout`) against max/average (padding not
    /// counted) of NCHW input `x`.  Max pooling must be exact; average pooling
    /// meets 4·√(R·S)·2⁻²⁴ relative to the mean of |x| over the window.
    public static func checkPool(layer: BenchLayer, p P: Int, q Q: Int, x: UnsafePointer<Float>,
                                 y: UnsafePointer<Float>, layout: ck_layout, samples: Int) -> Outcome {
        let C = layer.c, H = layer.h, W = layer.w
        let tolerance = layer.kind == .maxpool ? 0 : 4.0 * Double(layer.r * layer.s).squareRoot() * 0x1p-24
        var worst = 0.0
        var worstText = ""
        var valid = true
        let positions = samplePositions(n: layer.n, k: C, p: P, q: Q, count: samples)
        for pos in positions {
            var mx = -Double.infinity, sum = 0.0, mag = 0.0, count = 0
            for r in 0..<layer.r {
                let ih = pos.p * layer.stride - layer.pad + r
                if ih < 0 || ih >= H { continue }
                for s in 0..<layer.s {
                    let iw = pos.q * layer.stride - layer.pad + s
                    if iw < 0 || iw >= W { continue }
                    let v = Double(x[((pos.n * C + pos.k) * H + ih) * W + iw])
                    mx = max(mx, v)
                    sum += v
                    mag += abs(v)
                    count += 1
                }
            }
            let expected = layer.kind == .maxpool ? mx : (count > 0 ? sum / Double(count) : 0)
            let scale = layer.kind == .maxpool ? max(abs(mx), Double.leastNormalMagnitude)
                : max(count > 0 ? mag / Double(count) : 0, Double.leastNormalMagnitude)
            let got = Double(y[offset(layout, C, P, Q, pos.n, pos.k, pos.p, pos.q)])
            let err = got.isFinite ? abs(got - expected) / scale : .infinity
            if err > worst || (!err.isFinite && worstText.isEmpty) {
                worst = err
                worstText = "n=\(pos.n) c=\(pos.k) p=\(pos.p) q=\(pos.q): got \(got), expected \(expected)"
            }
            if !(err <= tolerance) { valid = false }
        }
        return Outcome(valid: valid, maxError: worst, tolerance: tolerance, checked: positions.count, worst: worstText)
    }
}
