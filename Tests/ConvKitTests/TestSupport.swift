import ConvKit

/// A small seeded generator (SplitMix64) so generated cases are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Array where Element == Float {
    /// `count` uniform values in [-1, 1).
    static func random(count: Int, using rng: inout SeededGenerator) -> [Float] {
        (0..<count).map { _ in Float.random(in: -1..<1, using: &rng) }
    }
}

/// A random NCHW tensor of `shape`.
func randomTensor(_ shape: TensorShape, using rng: inout SeededGenerator) throws -> Tensor {
    try Tensor(shape: shape, layout: .nchw, values: .random(count: shape.elementCount, using: &rng))
}

/// Convolves a single-channel image with a single filter through the Swift API.
func convolve(_ image: [[Float]], _ filter: [[Float]], stride: Size2D = 1, padding: Padding = .valid,
              options: PlanOptions = .default) throws -> [[Float]] {
    let x = try Tensor(image: image)
    let desc = try Conv2DDescriptor(inputShape: x.shape, outputChannels: 1,
                                    kernel: Size2D(filter.count, filter[0].count), stride: stride, padding: padding)
    let plan = try Conv2DPlan(descriptor: desc, weights: filter.flatMap { $0 }, options: options)
    return try plan(x).plane()
}

/// A naive convolution in Swift (NCHW, OIHW weights), independent of the C core.
func naiveConv(_ x: Tensor, _ d: Conv2DDescriptor, weights: [Float], bias: [Float]?) -> [Float] {
    let s = d.inputShape, o = d.outputShape
    let cg = s.c / d.groups, kg = d.outputChannels / d.groups
    var y = [Float](repeating: 0, count: o.elementCount)
    for n in 0..<o.n { for k in 0..<o.c { for p in 0..<o.h { for q in 0..<o.w {
        var acc = Double(bias?[k] ?? 0)
        let g = k / kg
        for c in 0..<cg { for r in 0..<d.kernel.height { for t in 0..<d.kernel.width {
            let ih = p * d.stride.height - d.padding.top + r * d.dilation.height
            let iw = q * d.stride.width - d.padding.left + t * d.dilation.width
            guard ih >= 0, ih < s.h, iw >= 0, iw < s.w else { continue }
            acc += Double(weights[((k * cg + c) * d.kernel.height + r) * d.kernel.width + t])
                * Double(x[n, g * cg + c, ih, iw])
        } } }
        y[((n * o.c + k) * o.h + p) * o.w + q] = Float(acc)
    } } } }
    return y
}

/// Whether two images agree within `tolerance` (relative to the magnitude, at least absolute):
/// fast algorithms (Winograd) round differently from the exact integer results.
func approximatelyEqual(_ a: [[Float]], _ b: [[Float]], tolerance: Float = 1e-4) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { ra, rb in
        ra.count == rb.count && zip(ra, rb).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
    }
}
