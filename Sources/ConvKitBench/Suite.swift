import CConvKit

/// What a suite line measures.
public enum LayerKind: String, Sendable, Codable, CaseIterable {
    /// A 2-D convolution.
    case conv
    /// Max pooling over an R x S window.
    case maxpool
    /// Average pooling over an R x S window (padding not counted).
    case avgpool

    /// Whether this is a pooling layer.
    public var isPooling: Bool { self != .conv }
}

/// One layer of a benchmark suite: a line `kind name N C H W K R S stride pad groups`.
///
/// Strides and paddings are symmetric.  For pooling layers `k` and `groups`
/// are read but ignored (they conventionally equal `c`).
public struct BenchLayer: Sendable, Hashable, Codable {
    /// Convolution or pooling.
    public var kind: LayerKind
    /// Layer name, e.g. `resnet18.l1.3x3`.
    public var name: String
    /// Batch size.
    public var n: Int
    /// Input channels.
    public var c: Int
    /// Input height.
    public var h: Int
    /// Input width.
    public var w: Int
    /// Output channels (conv only).
    public var k: Int
    /// Window height.
    public var r: Int
    /// Window width.
    public var s: Int
    /// Stride (both axes).
    public var stride: Int
    /// Padding (all four sides).
    public var pad: Int
    /// Groups (conv only; `groups == c == k` is depthwise).
    public var groups: Int

    /// Creates a layer from its suite columns.
    public init(kind: LayerKind, name: String, n: Int, c: Int, h: Int, w: Int, k: Int, r: Int, s: Int,
                stride: Int, pad: Int, groups: Int) {
        self.kind = kind
        self.name = name
        self.n = n
        self.c = c
        self.h = h
        self.w = w
        self.k = k
        self.r = r
        self.s = s
        self.stride = stride
        self.pad = pad
        self.groups = groups
    }

    /// The same layer with batch size `n`.
    public func withBatch(_ n: Int) -> BenchLayer {
        var copy = self
        copy.n = n
        return copy
    }

    /// Output channels actually produced (`c` for pooling).
    public var outputChannels: Int { kind.isPooling ? c : k }

    /// The C convolution descriptor (bias on, no activation) in `layout`.
    public func convDescriptor(layout: ck_layout = CK_LAYOUT_NCHW) -> ck_conv2d_desc {
        var d = ck_conv2d_desc_init(Int64(n), Int64(c), Int64(h), Int64(w), Int64(k), Int64(r), Int64(s))
        d.stride_h = Int64(stride)
        d.stride_w = Int64(stride)
        d.pad_top = Int64(pad)
        d.pad_left = Int64(pad)
        d.pad_bottom = Int64(pad)
        d.pad_right = Int64(pad)
        d.groups = Int64(groups)
        d.has_bias = 1
        d.layout = layout
        return d
    }

    /// The C pooling descriptor (pooling layers; floor mode, padding not counted).
    public func poolDescriptor(layout: ck_layout = CK_LAYOUT_NCHW) -> ck_pool2d_desc {
        var d = ck_pool2d_desc()
        d.kind = kind == .maxpool ? CK_POOL_MAX : CK_POOL_AVG
        d.n = Int64(n)
        d.c = Int64(c)
        d.h = Int64(h)
        d.w = Int64(w)
        d.r = Int64(r)
        d.s = Int64(s)
        d.stride_h = Int64(stride)
        d.stride_w = Int64(stride)
        d.pad_top = Int64(pad)
        d.pad_left = Int64(pad)
        d.pad_bottom = Int64(pad)
        d.pad_right = Int64(pad)
        d.dilation_h = 1
        d.dilation_w = 1
        d.count_include_pad = 0
        d.ceil_mode = 0
        d.layout = layout
        return d
    }

    /// Output height and width, or the C core's error message.
    public func outputShape() -> Result<(p: Int, q: Int), BenchError> {
        var p: Int64 = 0
        var q: Int64 = 0
        let status: ck_status
        if kind.isPooling {
            var d = poolDescriptor()
            status = ck_pool2d_output_shape(&d, &p, &q)
        } else {
            var d = convDescriptor()
            status = ck_conv2d_output_shape(&d, &p, &q)
        }
        guard status == CK_OK else {
            return .failure(.c(status, String(cString: ck_last_error_message())))
        }
        return .success((Int(p), Int(q)))
    }

    /// Output height P (0 if the layer is invalid).
    public var p: Int { (try? outputShape().get().p) ?? 0 }
    /// Output width Q (0 if the layer is invalid).
    public var q: Int { (try? outputShape().get().q) ?? 0 }

    /// Direct-equivalent FLOPs: 2·N·K·(C/g)·R·S·P·Q for convolutions (from
    /// `ck_conv2d_flops`), N·C·P·Q·R·S for pooling.
    public var flops: Double {
        if kind.isPooling {
            return Double(n) * Double(c) * Double(p) * Double(q) * Double(r) * Double(s)
        }
        var d = convDescriptor()
        var f = 0.0
        return ck_conv2d_flops(&d, &f) == CK_OK ? f : 0
    }
}

/// Errors of the benchmark harness, with messages meant for the user.
public enum BenchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A suite file line is malformed.
    case suite(file: String, line: Int, message: String)
    /// A call into the C core failed.
    case c(ck_status, String)
    /// A bad command-line or configuration value.
    case invalidArgument(String)
    /// Reading or writing a file failed.
    case io(String)

    /// The message shown to the user.
    public var description: String {
        switch self {
        case let .suite(file, line, message): return "\(file):\(line): \(message)"
        case let .c(status, message):
            let name = String(cString: ck_status_string(status))
            return message.isEmpty ? name : "\(name): \(message)"
        case let .invalidArgument(message): return message
        case let .io(message): return message
        }
    }

    /// The line number of a suite error, else nil.
    public var line: Int? {
        if case let .suite(_, line, _) = self { return line }
        return nil
    }
}

/// A parsed benchmark suite.
public struct BenchSuite: Sendable, Hashable {
    /// Layers in file order.
    public var layers: [BenchLayer]

    /// Creates a suite from layers.
    public init(layers: [BenchLayer]) { self.layers = layers }

    /// The column names of the suite format, in order.
    public static let columns = ["kind", "name", "N", "C", "H", "W", "K", "R", "S", "stride", "pad", "groups"]

    /// The standard suite (parsed from `standardText`).
    public static var standard: BenchSuite {
        // The embedded text is checked by the tests; it cannot fail to parse.
        // swiftlint:disable:next force_try
        try! parse(standardText, fileName: "<standard suite>")
    }

    /// Parses the suite format: one layer a line, whitespace/tab separated
    /// columns `kind name N C H W K R S stride pad groups`; blank lines and
    /// lines starting with `#` are ignored.  Errors name the line and the problem.
    public static func parse(_ text: String, fileName: String = "<suite>") throws(BenchError) -> BenchSuite {
        var layers: [BenchLayer] = []
        var seen: [String: Int] = [:]
        var lineNumber = 0
        var lastTextLine = 1
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.trimmingWhitespace()
            if !rawLine.isEmpty { lastTextLine = lineNumber }
            if line.isEmpty || line.hasPrefix("#") { continue }
            func fail(_ message: String) -> BenchError {
                .suite(file: fileName, line: lineNumber, message: message)
            }
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " }).map(String.init)
            guard fields.count == columns.count else {
                throw fail("expected \(columns.count) columns (\(columns.joined(separator: " "))), found \(fields.count)")
            }
            guard let kind = LayerKind(rawValue: fields[0]) else {
                throw fail("unknown kind '\(fields[0])' (expected conv, maxpool or avgpool)")
            }
            let name = fields[1]
            if let first = seen[name] { throw fail("duplicate layer name '\(name)' (first on line \(first))") }
            var numbers: [Int] = []
            for i in 2..<columns.count {
                guard let v = Int(fields[i]) else {
                    throw fail("column \(columns[i]): '\(fields[i])' is not an integer")
                }
                let minimum = columns[i] == "pad" ? 0 : 1
                guard v >= minimum else { throw fail("column \(columns[i]): \(v) must be >= \(minimum)") }
                guard v <= 1 << 30 else { throw fail("column \(columns[i]): \(v) is too large") }
                numbers.append(v)
            }
            let layer = BenchLayer(kind: kind, name: name, n: numbers[0], c: numbers[1], h: numbers[2], w: numbers[3],
                                   k: numbers[4], r: numbers[5], s: numbers[6], stride: numbers[7], pad: numbers[8],
                                   groups: numbers[9])
            if case let .failure(error) = layer.outputShape() {
                throw fail("invalid \(kind.rawValue) layer '\(name)': \(error)")
            }
            seen[name] = lineNumber
            layers.append(layer)
        }
        guard !layers.isEmpty else {
            throw .suite(file: fileName, line: lastTextLine, message: "the suite holds no layers")
        }
        return BenchSuite(layers: layers)
    }

    /// The layers whose name matches `pattern` (a regular expression, searched anywhere in the name).
    public func filtered(by pattern: String) throws(BenchError) -> BenchSuite {
        let regex: Regex<AnyRegexOutput>
        do {
            regex = try Regex(pattern)
        } catch {
            throw .invalidArgument("--layers: '\(pattern)' is not a valid regular expression: \(error)")
        }
        return BenchSuite(layers: layers.filter { $0.name.contains(regex) })
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> Substring {
        var s = self
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return s
    }
}
