import CConvKit

/// The memory layout of an activation tensor.
public enum Layout: String, Hashable, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// `[N][C][H][W]`: channels-first (PyTorch's default).
    case nchw
    /// `[N][H][W][C]`: channels-last (TensorFlow's default).
    case nhwc
    /// `[N][ceil(C/8)][H][W][8]`: channels blocked by 8 for SIMD kernels; the
    /// channel tail of the last block is zero-padded (storage holds `ceil(C/8)*8` channels).
    case nchw8c

    /// The name used in messages: `NCHW`, `NHWC` or `NCHW8c`.
    public var description: String {
        switch self {
        case .nchw: "NCHW"
        case .nhwc: "NHWC"
        case .nchw8c: "NCHW8c"
        }
    }

    var c: ck_layout {
        switch self {
        case .nchw: CK_LAYOUT_NCHW
        case .nhwc: CK_LAYOUT_NHWC
        case .nchw8c: CK_LAYOUT_NCHW8C
        }
    }

    /// The number of floats a tensor of `shape` occupies in this layout
    /// (NCHW8c pads the channels up to a multiple of 8).
    ///
    /// - Throws: `ConvKitError` `.invalidShape` if a dimension is < 1,
    ///   `.sizeOverflow` above 2^40 elements.
    public func storageCount(for shape: TensorShape) throws -> Int {
        var count: Int64 = 0
        try check(ck_tensor_size(c, i64(shape.n), i64(shape.c), i64(shape.h), i64(shape.w), &count))
        return Int(count)
    }
}

/// The logical shape of a 4-D activation tensor: batch `n`, channels `c`, height `h`, width `w`.
public struct TensorShape: Hashable, Codable, Sendable, CustomStringConvertible {
    /// Batch size.
    public var n: Int
    /// Channels.
    public var c: Int
    /// Height.
    public var h: Int
    /// Width.
    public var w: Int

    /// Creates a shape. Dimensions are validated (>= 1) where a tensor or descriptor is built from it.
    public init(n: Int, c: Int, h: Int, w: Int) {
        self.n = n
        self.c = c
        self.h = h
        self.w = w
    }

    /// The number of logical elements, `n * c * h * w` (wrapping arithmetic;
    /// validated shapes never overflow).
    public var elementCount: Int { n &* c &* h &* w }

    /// `NxCxHxW`, e.g. `1x3x224x224`.
    public var description: String { "\(n)x\(c)x\(h)x\(w)" }
}

/// A dense 4-D `Float` tensor: a shape, a layout and contiguous storage.
///
/// `Tensor` is a value type; its storage is an `Array`, so copies are cheap and
/// copy-on-write. The storage is in the order of `layout` (for `.nchw8c` it
/// includes the zero channel padding). Its element count always equals
/// `layout.storageCount(for: shape)`.
///
/// ```swift
/// var x = try Tensor(shape: TensorShape(n: 1, c: 3, h: 4, w: 4), layout: .nhwc, repeating: 0)
/// x[0, 2, 1, 1] = 5          // element (n, c, h, w), whatever the layout
/// let y = try x.converted(to: .nchw)
/// ```
public struct Tensor: Sendable, Equatable, CustomStringConvertible {
    /// The logical shape.
    public let shape: TensorShape
    /// The memory layout of `storage`.
    public let layout: Layout
    /// The elements, contiguous, in the order of `layout`.
    public private(set) var storage: [Float]

    /// Creates a tensor with every element set to `value` (the NCHW8c channel padding stays zero).
    ///
    /// - Throws: `ConvKitError` `.invalidShape` if a dimension is < 1, `.sizeOverflow` if too large.
    public init(shape: TensorShape, layout: Layout = .nchw, repeating value: Float = 0) throws {
        let count = try layout.storageCount(for: shape)
        self.shape = shape
        self.layout = layout
        self.storage = [Float](repeating: value, count: count)
        if value != 0 { zeroChannelPadding() }
    }

    /// Creates a tensor from its storage, given in the order of `layout`
    /// (for `.nchw8c` including the channel padding, which is reset to zero).
    ///
    /// - Throws: `ConvKitError` `.invalidShape` if `values.count` is not
    ///   `layout.storageCount(for: shape)` or a dimension is < 1; `.sizeOverflow` if too large.
    public init(shape: TensorShape, layout: Layout = .nchw, values: [Float]) throws {
        let count = try layout.storageCount(for: shape)
        guard values.count == count else {
            throw ConvKitError(code: .invalidShape,
                               message: "\(values.count) values given for a \(shape) \(layout) tensor of \(count) floats")
        }
        self.shape = shape
        self.layout = layout
        self.storage = values
        zeroChannelPadding()
    }

    /// Creates a single-image, single-channel tensor (`n = c = 1`) from rows of pixels.
    ///
    /// - Throws: `ConvKitError` `.invalidShape` if there are no rows, no columns,
    ///   or the rows differ in length.
    public init(image rows: [[Float]], layout: Layout = .nchw) throws {
        let width = rows.first?.count ?? 0
        guard !rows.isEmpty, width > 0, rows.allSatisfy({ $0.count == width }) else {
            throw ConvKitError(code: .invalidShape,
                               message: "an image needs at least one row, and rows of equal non-zero length")
        }
        let shape = TensorShape(n: 1, c: 1, h: rows.count, w: width)
        if layout == .nchw8c {
            self = try Tensor(shape: shape, layout: .nchw, values: rows.flatMap { $0 }).converted(to: .nchw8c)
        } else {
            try self.init(shape: shape, layout: layout, values: rows.flatMap { $0 })
        }
    }

    /// The storage index of logical element `(n, c, h, w)`.
    @inline(__always)
    func offset(_ n: Int, _ c: Int, _ h: Int, _ w: Int) -> Int {
        precondition(n >= 0 && n < shape.n && c >= 0 && c < shape.c && h >= 0 && h < shape.h && w >= 0 && w < shape.w,
                     "Tensor index (\(n), \(c), \(h), \(w)) out of range for shape \(shape)")
        switch layout {
        case .nchw: return ((n * shape.c + c) * shape.h + h) * shape.w + w
        case .nhwc: return ((n * shape.h + h) * shape.w + w) * shape.c + c
        case .nchw8c:
            let blocks = (shape.c + 7) / 8
            return (((n * blocks + c / 8) * shape.h + h) * shape.w + w) * 8 + c % 8
        }
    }

    /// The element at batch `n`, channel `c`, row `h`, column `w`, whatever the layout.
    /// Traps on an out-of-range index, like `Array`.
    public subscript(n: Int, c: Int, h: Int, w: Int) -> Float {
        get { storage[offset(n, c, h, w)] }
        set { storage[offset(n, c, h, w)] = newValue }
    }

    /// The `h x w` plane of batch `n`, channel `c`, as rows.
    public func plane(n: Int = 0, c: Int = 0) -> [[Float]] {
        (0..<shape.h).map { h in (0..<shape.w).map { w in self[n, c, h, w] } }
    }

    /// The logical elements in NCHW order (no padding), whatever the layout.
    public var nchwValues: [Float] {
        if layout == .nchw { return storage }
        var out = [Float]()
        out.reserveCapacity(shape.elementCount)
        for n in 0..<shape.n { for c in 0..<shape.c { for h in 0..<shape.h { for w in 0..<shape.w {
            out.append(self[n, c, h, w])
        } } } }
        return out
    }

    /// Replaces the storage (in the order of `layout`).
    ///
    /// - Throws: `ConvKitError` `.invalidShape` if the count differs from `storage.count`.
    public mutating func replaceStorage(with values: [Float]) throws {
        guard values.count == storage.count else {
            throw ConvKitError(code: .invalidShape,
                               message: "\(values.count) values given for a tensor of \(storage.count) floats")
        }
        storage = values
        zeroChannelPadding()
    }

    /// The same tensor in another layout, converted by the C core (`ck_convert_layout`).
    public func converted(to newLayout: Layout) throws -> Tensor {
        if newLayout == layout { return self }
        var out = try Tensor(shape: shape, layout: newLayout)
        try withUnsafeBufferPointer { src in
            try out.withUnsafeMutableBufferPointer { dst in
                try check(ck_convert_layout(i64(shape.n), i64(shape.c), i64(shape.h), i64(shape.w),
                                            layout.c, src.baseAddress, newLayout.c, dst.baseAddress))
            }
        }
        return out
    }

    /// The tensor flattened to `n x (c*h*w) x 1 x 1` in NCHW element order (PyTorch's
    /// `flatten(1)`), the input a `DensePlan` takes after convolutions.
    public func flattened() throws -> Tensor {
        try Tensor(shape: TensorShape(n: shape.n, c: shape.c * shape.h * shape.w, h: 1, w: 1),
                   layout: .nchw, values: nchwValues)
    }

    /// The largest absolute element-wise difference from `other` (compared
    /// element by element in logical order, so the layouts may differ).
    /// `.infinity` if the shapes differ; NaN if any difference is NaN.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        guard shape == other.shape else { return .infinity }
        var m: Float = 0
        func visit(_ a: Float, _ b: Float) {
            let d = abs(a - b)
            if !(d <= m) { m = d }
        }
        if layout == other.layout {
            for i in storage.indices { visit(storage[i], other.storage[i]) }
        } else {
            for n in 0..<shape.n { for c in 0..<shape.c { for h in 0..<shape.h { for w in 0..<shape.w {
                visit(self[n, c, h, w], other[n, c, h, w])
            } } } }
        }
        return m
    }

    /// Whether every element satisfies `|a - b| <= absoluteTolerance + relativeTolerance * |b|`
    /// (`b` from `other`), compared in logical order; `false` if the shapes differ or a value is NaN.
    public func isApproximatelyEqual(to other: Tensor, absoluteTolerance: Float = 1e-5,
                                     relativeTolerance: Float = 1e-4) -> Bool {
        guard shape == other.shape else { return false }
        func close(_ a: Float, _ b: Float) -> Bool { abs(a - b) <= absoluteTolerance + relativeTolerance * abs(b) }
        if layout == other.layout {
            for i in storage.indices where !close(storage[i], other.storage[i]) { return false }
            return true
        }
        for n in 0..<shape.n { for c in 0..<shape.c { for h in 0..<shape.h { for w in 0..<shape.w {
            if !close(self[n, c, h, w], other[n, c, h, w]) { return false }
        } } } }
        return true
    }

    /// `Tensor(<shape> <layout>)` and, for small tensors, the values in NCHW order.
    public var description: String {
        let head = "Tensor(\(shape) \(layout)"
        return shape.elementCount <= 64 ? head + ": \(nchwValues))" : head + ")"
    }

    /// Sets the NCHW8c channel padding (channels `c ..< ceil(c/8)*8`) to zero.
    mutating func zeroChannelPadding() {
        guard layout == .nchw8c, shape.c % 8 != 0 else { return }
        let plane = shape.h * shape.w
        let blocks = (shape.c + 7) / 8
        let lastBlockChannels = shape.c - (blocks - 1) * 8
        storage.withUnsafeMutableBufferPointer { buf in
            for n in 0..<shape.n {
                let base = ((n * blocks + blocks - 1) * plane) * 8
                for p in 0..<plane {
                    for lane in lastBlockChannels..<8 { buf[base + p * 8 + lane] = 0 }
                }
            }
        }
    }

    /// Calls `body` with the storage (for passing to the C core).
    package func withUnsafeBufferPointer<R, E: Error>(
        _ body: (UnsafeBufferPointer<Float>) throws(E) -> R
    ) throws(E) -> R {
        // Array.withUnsafeBufferPointer rethrows untyped; go through a Result to keep the typed error.
        let result: Result<R, E> = storage.withUnsafeBufferPointer { buf in
            do throws(E) { return .success(try body(buf)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Calls `body` with the mutable storage (for the C core to write into).
    package mutating func withUnsafeMutableBufferPointer<R, E: Error>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws(E) -> R
    ) throws(E) -> R {
        let result: Result<R, E> = storage.withUnsafeMutableBufferPointer { buf in
            do throws(E) { return .success(try body(buf)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
