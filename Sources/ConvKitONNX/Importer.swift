import ConvKit
import ConvKitNN
import Foundation

/// A constant tensor (an initializer or a `Constant` node's value), decoded on demand.
struct ConstantTensor {
    var dims: [Int]
    var floats: [Float]?
    var ints: [Int64]?
    var count: Int { dims.reduce(1, *) }
}

/// A value flowing through the imported graph: its node in the builder and its ONNX rank (2 or 4).
struct ImportedValue {
    var node: GraphNode
    var rank: Int
}

/// The most elements one imported activation may have (2^28 floats = 1 GiB), and
/// all of them together (2^30 = 4 GiB): larger networks are hostile files (or a
/// batch to split), refused at import rather than failing to allocate at run time.
let maximumActivationElements = 1 << 28
let maximumTotalActivationElements = 1 << 30

/// Converts an ONNX graph into a ConvKitNN `Graph`, node by node.
struct Importer {
    let graph: Onnx_GraphProto
    let opset: Int
    var initializers: [String: Onnx_TensorProto] = [:]
    var constants: [String: ConstantTensor] = [:]
    var values: [String: ImportedValue] = [:]
    var unavailable: [String: String] = [:]  // value name -> why it cannot be used
    var builder: GraphBuilder!
    var layerNames = Set<String>()
    var usesCustomLayers = false
    var totalActivationElements = 0
    var inputName = ""
    var inputShape = TensorShape(n: 1, c: 1, h: 1, w: 1)
    var inputRank = 4

    init(graph: Onnx_GraphProto, opset: Int) {
        self.graph = graph
        self.opset = opset
    }

    // MARK: - Errors

    static func invalid(_ message: String) -> ConvKitError {
        ConvKitError(code: .invalidArgument, message: "ONNX: " + message)
    }

    func describe(_ node: Onnx_NodeProto, _ index: Int) -> String {
        let name = node.name.isEmpty ? "#\(index)" : node.name
        return "node '\(name)' (\(node.opType), opset \(opset))"
    }

    /// An unsupported construct: operator, node, attribute and opset are in the message.
    func unsupported(_ node: Onnx_NodeProto, _ index: Int, _ detail: String, attribute: String? = nil) -> ConvKitError {
        let attr = attribute.map { ": attribute '\($0)'" } ?? ""
        return ConvKitError(code: .unsupported, message: "ONNX \(describe(node, index))\(attr): \(detail)")
    }

    func bad(_ node: Onnx_NodeProto, _ index: Int, _ detail: String) -> ConvKitError {
        ConvKitError(code: .invalidArgument, message: "ONNX \(describe(node, index)): \(detail)")
    }

    // MARK: - Constants

    /// Decodes a tensor (float32, int64 or int32; raw little-endian bytes or the typed fields).
    static func decode(_ t: Onnx_TensorProto, what: String) throws -> ConstantTensor {
        if t.dataLocation == .external || !t.externalData.isEmpty {
            throw ConvKitError(code: .unsupported,
                               message: "ONNX: \(what) uses external data; ConvKit reads self-contained .onnx files only")
        }
        if t.hasSegment { throw ConvKitError(code: .unsupported, message: "ONNX: \(what) is segmented") }
        guard t.dims.count <= 8 else { throw invalid("\(what) has \(t.dims.count) dimensions") }
        var count = 1
        for d in t.dims {
            guard d >= 0, d <= Int64(Int32.max) else { throw invalid("\(what) has dimension \(d)") }
            let (p, o) = count.multipliedReportingOverflow(by: Int(d))
            guard !o, p <= 1 << 34 else { throw invalid("\(what) with dims \(t.dims) is too large") }
            count = p
        }
        let dims = t.dims.map { Int($0) }
        let raw = t.hasRawData ? t.rawData : nil
        func rawCheck(_ size: Int) throws -> Data? {
            guard let raw else { return nil }
            guard raw.count == count * size else {
                throw invalid("\(what): raw_data has \(raw.count) bytes, dims \(dims) need \(count * size)")
            }
            return raw
        }
        switch Int(t.dataType) {
        case 1:  // FLOAT
            if let raw = try rawCheck(4) {
                var v = [Float](repeating: 0, count: count)
                v.withUnsafeMutableBytes { dst in raw.withUnsafeBytes { dst.copyMemory(from: $0) } }
                #if _endian(big)
                v = v.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
                #endif
                return ConstantTensor(dims: dims, floats: v)
            }
            guard t.floatData.count == count else {
                throw invalid("\(what): float_data has \(t.floatData.count) values, dims \(dims) need \(count)")
            }
            return ConstantTensor(dims: dims, floats: t.floatData)
        case 11:  // DOUBLE (accepted for scalars such as Clip bounds)
            if let raw = try rawCheck(8) {
                var v = [Double](repeating: 0, count: count)
                v.withUnsafeMutableBytes { dst in raw.withUnsafeBytes { dst.copyMemory(from: $0) } }
                return ConstantTensor(dims: dims, floats: v.map { Float($0) })
            }
            guard t.doubleData.count == count else { throw invalid("\(what): double_data does not match dims \(dims)") }
            return ConstantTensor(dims: dims, floats: t.doubleData.map { Float($0) })
        case 7:  // INT64
            if let raw = try rawCheck(8) {
                var v = [Int64](repeating: 0, count: count)
                v.withUnsafeMutableBytes { dst in raw.withUnsafeBytes { dst.copyMemory(from: $0) } }
                #if _endian(big)
                v = v.map { Int64(littleEndian: $0) }
                #endif
                return ConstantTensor(dims: dims, ints: v)
            }
            guard t.int64Data.count == count else {
                throw invalid("\(what): int64_data has \(t.int64Data.count) values, dims \(dims) need \(count)")
            }
            return ConstantTensor(dims: dims, ints: t.int64Data)
        case 6:  // INT32
            if let raw = try rawCheck(4) {
                var v = [Int32](repeating: 0, count: count)
                v.withUnsafeMutableBytes { dst in raw.withUnsafeBytes { dst.copyMemory(from: $0) } }
                return ConstantTensor(dims: dims, ints: v.map { Int64(Int32(littleEndian: $0)) })
            }
            guard t.int32Data.count == count else { throw invalid("\(what): int32_data does not match dims \(dims)") }
            return ConstantTensor(dims: dims, ints: t.int32Data.map { Int64($0) })
        case 9:  // BOOL (Dropout's training_mode): one byte each in raw_data, or int32_data
            if let raw = try rawCheck(1) { return ConstantTensor(dims: dims, ints: raw.map { Int64($0 != 0 ? 1 : 0) }) }
            guard t.int32Data.count == count else { throw invalid("\(what): int32_data does not match dims \(dims)") }
            return ConstantTensor(dims: dims, ints: t.int32Data.map { Int64($0 != 0 ? 1 : 0) })
        default:
            let names = [0: "UNDEFINED", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 8: "STRING", 9: "BOOL",
                         10: "FLOAT16", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64", 15: "COMPLEX128", 16: "BFLOAT16"]
            throw ConvKitError(code: .unsupported,
                               message: "ONNX: \(what) has data type \(names[Int(t.dataType)] ?? "\(t.dataType)"); "
                                   + "ConvKit reads float32 (and int64/int32 shapes)")
        }
    }

    /// The constant named `name` (an initializer or a `Constant` output), or nil if it is not constant.
    mutating func constant(_ name: String) throws -> ConstantTensor? {
        if let c = constants[name] { return c }
        guard let t = initializers[name] else { return nil }
        let c = try Importer.decode(t, what: "initializer '\(name)'")
        constants[name] = c
        return c
    }

    /// A required constant float input.
    mutating func floatConstant(_ node: Onnx_NodeProto, _ i: Int, _ index: Int, _ role: String) throws -> ConstantTensor {
        guard i < node.input.count, !node.input[i].isEmpty else { throw bad(node, index, "missing input \(i) (\(role))") }
        guard let c = try constant(node.input[i]) else {
            throw unsupported(node, index, "input \(i) (\(role)) '\(node.input[i])' must be a constant initializer")
        }
        guard c.floats != nil else { throw bad(node, index, "input \(i) (\(role)) must be float32") }
        return c
    }

    /// An optional constant input (nil if absent or empty).
    mutating func optionalConstant(_ node: Onnx_NodeProto, _ i: Int, _ index: Int, _ role: String) throws -> ConstantTensor? {
        guard i < node.input.count, !node.input[i].isEmpty else { return nil }
        guard let c = try constant(node.input[i]) else {
            throw unsupported(node, index, "input \(i) (\(role)) '\(node.input[i])' must be a constant")
        }
        return c
    }

    /// The activation input `i`.
    func value(_ node: Onnx_NodeProto, _ i: Int, _ index: Int) throws -> ImportedValue {
        guard i < node.input.count, !node.input[i].isEmpty else { throw bad(node, index, "missing input \(i)") }
        let name = node.input[i]
        if let v = values[name] { return v }
        if let why = unavailable[name] { throw unsupported(node, index, "input '\(name)' \(why)") }
        if initializers[name] != nil || constants[name] != nil {
            throw unsupported(node, index, "input \(i) '\(name)' is a constant; ConvKit needs a computed activation here")
        }
        throw bad(node, index, "input '\(name)' is not defined by an earlier node or the graph input "
                  + "(nodes must be in topological order)")
    }

    // MARK: - Graph

    mutating func importGraph(batchOverride: Int?) throws -> [(graph: Graph, name: String, rank: Int)] {
        for t in graph.initializer {
            guard !t.name.isEmpty else { throw Importer.invalid("an initializer has no name") }
            initializers[t.name] = t
        }
        let inputs = graph.input.filter { initializers[$0.name] == nil }
        guard inputs.count == 1 else {
            throw ConvKitError(code: .unsupported, message: "ONNX: the graph has \(inputs.count) inputs "
                               + "(\(inputs.map(\.name).joined(separator: ", "))); ConvKit imports graphs with exactly one")
        }
        guard !graph.output.isEmpty, graph.output.count <= 64 else {
            throw Importer.invalid("the graph has \(graph.output.count) outputs")
        }
        let input = inputs[0]
        inputName = input.name
        guard case .tensorType(let tt)? = input.type.value else {
            throw ConvKitError(code: .unsupported, message: "ONNX: graph input '\(input.name)' is not a tensor")
        }
        guard tt.elemType == 1 else {
            throw ConvKitError(code: .unsupported,
                               message: "ONNX: graph input '\(input.name)' has element type \(tt.elemType); ConvKit runs float32")
        }
        guard tt.hasShape else { throw ConvKitError(code: .unsupported, message: "ONNX: graph input '\(input.name)' has no shape") }
        var dims: [Int] = []
        for (i, d) in tt.shape.dim.enumerated() {
            switch d.value {
            case .dimValue(let v)? where v >= 1 && v <= 1 << 20: dims.append(Int(v))
            case .dimValue(let v)?:
                throw Importer.invalid("graph input '\(input.name)' has dimension \(i) = \(v)")
            default:
                guard i == 0 else {
                    throw ConvKitError(code: .unsupported, message: "ONNX: graph input '\(input.name)' has a symbolic "
                                       + "or unknown dimension \(i); ConvKit needs fixed channel and image sizes")
                }
                dims.append(1)  // symbolic batch
            }
        }
        switch dims.count {
        case 4: inputShape = TensorShape(n: dims[0], c: dims[1], h: dims[2], w: dims[3]); inputRank = 4
        case 2: inputShape = TensorShape(n: dims[0], c: dims[1], h: 1, w: 1); inputRank = 2
        default:
            throw ConvKitError(code: .unsupported, message: "ONNX: graph input '\(input.name)' has rank \(dims.count); "
                               + "ConvKit imports NCHW (rank 4) or [N, features] (rank 2) inputs")
        }
        if let b = batchOverride { inputShape.n = b }
        guard inputShape.elementCount <= maximumActivationElements else {
            throw Importer.invalid("graph input '\(input.name)' \(dims) is too large")
        }
        builder = GraphBuilder(inputShape: inputShape, seed: 0)
        values[input.name] = ImportedValue(node: builder.input, rank: inputRank)

        // Report every unsupported operator at once, before converting anything.
        let supported: Set<String> = ["Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool",
                                      "GlobalMaxPool", "Gemm", "MatMul", "Relu", "LeakyRelu", "Sigmoid", "Tanh",
                                      "Clip", "Softmax", "LogSoftmax", "BatchNormalization", "LRN", "Flatten",
                                      "Reshape", "Add", "Concat", "Dropout", "Identity", "Pad", "Constant"]
        var problems: [String] = []
        for (i, n) in graph.node.enumerated() {
            if !(n.domain.isEmpty || n.domain == "ai.onnx") {
                problems.append("\(describe(n, i)): domain '\(n.domain)' is not supported")
            } else if !supported.contains(n.opType) {
                problems.append("\(describe(n, i)): operator \(n.opType) is not supported")
            }
        }
        if !problems.isEmpty {
            let shown = problems.prefix(10).joined(separator: "; ")
            throw ConvKitError(code: .unsupported, message: "ONNX: \(problems.count) unsupported node(s): \(shown)"
                               + (problems.count > 10 ? "; ..." : ""))
        }
        for (i, n) in graph.node.enumerated() { try importNode(n, i) }
        var outputs: [(graph: Graph, name: String, rank: Int)] = []
        let base = graph.name.isEmpty ? "onnx" : graph.name
        for (i, o) in graph.output.enumerated() {
            let outName = o.name
            guard let out = values[outName] else {
                if let why = unavailable[outName] {
                    throw ConvKitError(code: .unsupported, message: "ONNX: graph output '\(outName)' \(why)")
                }
                throw ConvKitError(code: .unsupported,
                                   message: "ONNX: graph output '\(outName)' is not computed from the input by the graph's nodes")
            }
            guard out.node.id != 0 else {
                throw ConvKitError(code: .unsupported, message: "ONNX: graph output '\(outName)' is the graph input (no computation)")
            }
            // One network per output (sharing the layers); the first keeps the graph's name.
            outputs.append((builder.build(output: out.node, name: i == 0 ? base : "\(base).\(i)"), outName, out.rank))
        }
        return outputs
    }

    /// A unique layer name for a node.
    mutating func layerName(_ node: Onnx_NodeProto, _ index: Int, suffix: String = "") -> String {
        var base = (node.name.isEmpty ? "\(node.opType.lowercased())_\(index)" : node.name) + suffix
        if base.isEmpty { base = "node_\(index)" }
        var name = base, k = 1
        while layerNames.contains(name) { name = "\(base)_\(k)"; k += 1 }
        layerNames.insert(name)
        return name
    }

    /// Applies `layer` in the builder, wrapping wiring errors with the node, and checks the size.
    mutating func apply(_ layer: any Layer, _ inputs: [ImportedValue], _ node: Onnx_NodeProto, _ index: Int,
                        rank: Int) throws -> ImportedValue {
        let out: GraphNode
        do { out = try builder.apply(layer, inputs.map(\.node)) } catch let e as ConvKitError {
            throw ConvKitError(code: e.code, message: "ONNX \(describe(node, index)): \(e.message)")
        }
        let (count, overflow) = out.shape.n.multipliedReportingOverflow(by: out.shape.c * out.shape.h * out.shape.w)
        guard !overflow, count <= maximumActivationElements else {
            throw bad(node, index, "output \(out.shape) exceeds the importer's limit of 2^28 elements per activation")
        }
        totalActivationElements += count
        guard totalActivationElements <= maximumTotalActivationElements else {
            throw bad(node, index, "the activations so far exceed the importer's limit of 2^30 elements in total")
        }
        return ImportedValue(node: out, rank: rank)
    }

    /// Defines the node's first output; marks the other outputs unavailable (or allowed if unused).
    mutating func define(_ node: Onnx_NodeProto, _ v: ImportedValue, extraOutputs why: String = "is not supported") {
        guard let first = node.output.first else { return }
        values[first] = v
        for o in node.output.dropFirst() where !o.isEmpty {
            unavailable[o] = "is output \(node.output.firstIndex(of: o) ?? 1) of \(node.opType) '\(node.name)', which \(why)"
        }
    }

    // MARK: - Nodes

    mutating func importNode(_ node: Onnx_NodeProto, _ index: Int) throws {
        var a = Attributes(node: node, index: index, importer: self)
        let op = node.opType
        guard !node.output.isEmpty, !node.output[0].isEmpty else { throw bad(node, index, "has no output") }
        switch op {
        case "Constant":
            try a.allow(["value", "value_float", "value_floats", "value_int", "value_ints"])
            var c: ConstantTensor
            if let t = try a.tensor("value") {
                c = try Importer.decode(t, what: "the value of Constant '\(node.name)'")
            } else if let f = try a.floatOptional("value_float") {
                c = ConstantTensor(dims: [], floats: [f])
            } else if let fs = try a.floats("value_floats") {
                c = ConstantTensor(dims: [fs.count], floats: fs)
            } else if let i = try a.intOptional("value_int") {
                c = ConstantTensor(dims: [], ints: [Int64(i)])
            } else if let isv = try a.ints("value_ints") {
                c = ConstantTensor(dims: [isv.count], ints: isv.map(Int64.init))
            } else {
                throw unsupported(node, index, "only value, value_float(s) and value_int(s) constants are supported")
            }
            c.dims = c.dims.map { $0 }
            constants[node.output[0]] = c

        case "Identity":
            try a.allow([])
            define(node, try value(node, 0, index))

        case "Dropout":
            var allowed = ["seed"]
            if opset < 12 { allowed.append("ratio") }
            if opset < 7 { allowed.append("is_test") }
            try a.allow(allowed)
            if opset >= 12, let t = try optionalConstant(node, 2, index, "training_mode") {
                if (t.ints?.first ?? 0) != 0 || (t.floats?.first ?? 0) != 0 {
                    throw unsupported(node, index, "training_mode = true (ConvKit runs inference only)")
                }
            }
            if opset >= 12, node.input.count > 2, !node.input[2].isEmpty, try constant(node.input[2]) == nil {
                throw unsupported(node, index, "training_mode must be a constant")
            }
            define(node, try value(node, 0, index), extraOutputs: "(the dropout mask) is not supported")

        case "Relu", "Sigmoid", "Tanh":
            try a.allow([])
            let act: Activation = op == "Relu" ? .relu : op == "Sigmoid" ? .sigmoid : .tanh
            let x = try value(node, 0, index)
            define(node, try apply(ActivationLayer(act, name: layerName(node, index)), [x], node, index, rank: x.rank))

        case "LeakyRelu":
            try a.allow(["alpha"])
            let alpha = try a.float("alpha", 0.01)
            let x = try value(node, 0, index)
            define(node, try apply(ActivationLayer(.leakyReLU(alpha: alpha), name: layerName(node, index)), [x],
                                   node, index, rank: x.rank))

        case "Clip":
            var low = -Float.greatestFiniteMagnitude, high = Float.greatestFiniteMagnitude
            if opset < 11 {
                try a.allow(["min", "max"])
                low = try a.float("min", low)
                high = try a.float("max", high)
            } else {
                try a.allow([])
                for (i, role) in [(1, "min"), (2, "max")] {
                    guard let c = try optionalConstant(node, i, index, role) else { continue }
                    guard c.count == 1, let f = c.floats?.first else {
                        throw unsupported(node, index, "input \(i) (\(role)) must be a float scalar")
                    }
                    if i == 1 { low = f } else { high = f }
                }
            }
            guard !low.isNaN, !high.isNaN else { throw bad(node, index, "NaN bound") }
            let x = try value(node, 0, index)
            let name = layerName(node, index)
            let layer: any Layer
            if low == 0 && high >= Float.greatestFiniteMagnitude {
                layer = ActivationLayer(.relu, name: name)
            } else if low == 0 && high == 6 {
                layer = ActivationLayer(.relu6, name: name)
            } else {
                guard low <= high else {
                    throw unsupported(node, index, "min \(low) > max \(high)")
                }
                layer = ClipLayer(low: low, high: high, name: name)
                usesCustomLayers = true
            }
            define(node, try apply(layer, [x], node, index, rank: x.rank))

        case "Softmax", "LogSoftmax":
            try a.allow(["axis"])
            let x = try value(node, 0, index)
            let s = try builderShape(x)
            let defaultAxis = opset >= 13 ? -1 : 1
            var axis = try a.int("axis", defaultAxis)
            if axis < 0 { axis += x.rank }
            guard axis >= 0, axis < x.rank else { throw bad(node, index, "axis \(axis) out of range for rank \(x.rank)") }
            // ConvKit normalises over the channel axis (axis 1) at every position.
            let ok: Bool
            if opset >= 13 {
                ok = axis == 1
            } else {
                // Before opset 13 the input is coerced to 2-D at `axis`: [prod(d0..<axis), prod(axis...)].
                ok = axis == 1 && (x.rank == 2 || s.h * s.w == 1)
            }
            guard ok else {
                throw unsupported(node, index, "axis \(try a.int("axis", defaultAxis)) on a rank-\(x.rank) input of shape "
                                  + "\(shapeText(x)): ConvKit computes \(op) over the channel axis only "
                                  + (opset < 13 ? "(before opset 13 axis 1 flattens C, H, W together; allowed when H = W = 1)" : ""),
                                  attribute: "axis")
            }
            let layer: any Layer
            if op == "Softmax" {
                layer = Softmax(name: layerName(node, index))
            } else {
                layer = LogSoftmaxLayer(name: layerName(node, index))
                usesCustomLayers = true
            }
            define(node, try apply(layer, [x], node, index, rank: x.rank))

        case "Conv":
            try importConv(node, index, &a)
        case "ConvTranspose":
            try importConvTranspose(node, index, &a)
        case "MaxPool", "AveragePool":
            try importPool(node, index, &a)

        case "GlobalAveragePool", "GlobalMaxPool":
            try a.allow([])
            let x = try value(node, 0, index)
            guard x.rank == 4 else { throw unsupported(node, index, "input of rank \(x.rank); 2-D pooling needs NCHW") }
            let layer = GlobalPool(op == "GlobalMaxPool" ? .max : .average, name: layerName(node, index))
            define(node, try apply(layer, [x], node, index, rank: 4))

        case "Gemm", "MatMul":
            try importDense(node, index, &a)

        case "BatchNormalization":
            var allowed = ["epsilon", "momentum"]
            if opset < 9 { allowed.append("spatial") }
            if opset >= 14 { allowed.append("training_mode") }
            try a.allow(allowed)
            if opset < 9, try a.int("spatial", 1) != 1 {
                throw unsupported(node, index, "spatial = 0 (per-activation statistics)", attribute: "spatial")
            }
            if opset >= 14, try a.int("training_mode", 0) != 0 {
                throw unsupported(node, index, "training_mode = 1 (ConvKit runs inference only)", attribute: "training_mode")
            }
            let eps = try a.float("epsilon", 1e-5)
            guard eps > 0, eps.isFinite else {
                throw unsupported(node, index, "epsilon = \(eps) (ConvKit needs epsilon > 0)", attribute: "epsilon")
            }
            let x = try value(node, 0, index)
            let s = try builderShape(x)
            var params: [[Float]] = []
            for (i, role) in [(1, "scale"), (2, "B"), (3, "mean"), (4, "var")] {
                let c = try floatConstant(node, i, index, role)
                guard c.count == s.c, c.dims.count == 1 else {
                    throw bad(node, index, "\(role) has dims \(c.dims), expected [\(s.c)]")
                }
                params.append(c.floats!)
            }
            let bn = BatchNorm(epsilon: eps, name: layerName(node, index))
            let out = try apply(bn, [x], node, index, rank: x.rank)
            try bn.scale!.setValues(params[0])
            try bn.shift!.setValues(params[1])
            try bn.runningMean!.setValues(params[2])
            try bn.runningVariance!.setValues(params[3])
            define(node, out, extraOutputs: "(training statistics) is not supported")

        case "LRN":
            try a.allow(["size", "alpha", "beta", "bias"])
            guard let size = try a.intOptional("size"), size >= 1 else {
                throw bad(node, index, "LRN needs a positive 'size'")
            }
            let x = try value(node, 0, index)
            guard x.rank == 4 else { throw unsupported(node, index, "input of rank \(x.rank)") }
            let layer = LRN(size: size, alpha: try a.float("alpha", 1e-4), beta: try a.float("beta", 0.75),
                            k: try a.float("bias", 1), name: layerName(node, index))
            define(node, try apply(layer, [x], node, index, rank: 4))

        case "Flatten":
            try a.allow(["axis"])
            let x = try value(node, 0, index)
            var axis = try a.int("axis", 1)
            if axis < 0 { axis += x.rank }
            guard axis == 1 else {
                throw unsupported(node, index, "axis \(try a.int("axis", 1)); ConvKit flattens at axis 1 only "
                                  + "(keeping the batch)", attribute: "axis")
            }
            if x.rank == 2 { define(node, x); return }
            define(node, try apply(Flatten(name: layerName(node, index)), [x], node, index, rank: 2))

        case "Reshape":
            try importReshape(node, index, &a)

        case "Add":
            try importAdd(node, index, &a)

        case "Concat":
            try a.allow(["axis"])
            guard !node.input.isEmpty else { throw bad(node, index, "no inputs") }
            let xs = try (0..<node.input.count).map { try value(node, $0, index) }
            guard let axisRaw = try a.intOptional("axis") else { throw bad(node, index, "Concat needs 'axis'") }
            let rank = xs[0].rank
            guard xs.allSatisfy({ $0.rank == rank }) else { throw bad(node, index, "inputs of different ranks") }
            let axis = axisRaw < 0 ? axisRaw + rank : axisRaw
            guard axis == 1 else {
                throw unsupported(node, index, "axis \(axisRaw); ConvKit concatenates along channels (axis 1) only",
                                  attribute: "axis")
            }
            if xs.count == 1 { define(node, xs[0]); return }
            define(node, try apply(Concat(name: layerName(node, index)), xs, node, index, rank: rank))

        case "Pad":
            try importPad(node, index, &a)

        default:
            throw unsupported(node, index, "operator \(op) is not supported")
        }
    }

    func builderShape(_ v: ImportedValue) throws -> TensorShape { v.node.shape }

    func shapeText(_ v: ImportedValue) -> String {
        let s = v.node.shape
        return v.rank == 2 ? "[\(s.n), \(s.c)]" : "[\(s.n), \(s.c), \(s.h), \(s.w)]"
    }

    // MARK: - Convolution and pooling

    /// ONNX `pads` ([top, left, bottom, right]) after `auto_pad`, for one spatial input size.
    func resolvePads(_ node: Onnx_NodeProto, _ index: Int, _ a: inout Attributes, input: (Int, Int), kernel: (Int, Int),
                     stride: (Int, Int), dilation: (Int, Int)) throws -> Padding {
        let autoPad = try a.string("auto_pad") ?? "NOTSET"
        switch autoPad {
        case "NOTSET":
            guard let p = try a.ints("pads") else { return .valid }
            guard p.count == 4 else { throw unsupported(node, index, "\(p.count) pads; 2-D needs 4", attribute: "pads") }
            guard p.allSatisfy({ $0 >= 0 && $0 <= 1 << 16 }) else {
                throw unsupported(node, index, "pads \(p) (negative or absurd)", attribute: "pads")
            }
            return Padding(top: p[0], left: p[1], bottom: p[2], right: p[3])
        case "VALID":
            return .valid
        case "SAME_UPPER", "SAME_LOWER":
            func split(_ i: Int, _ k: Int, _ s: Int, _ d: Int) -> (Int, Int) {
                let out = (i + s - 1) / s
                let total = max(0, (out - 1) * s + (k - 1) * d + 1 - i)
                let small = total / 2, large = total - small
                return autoPad == "SAME_UPPER" ? (small, large) : (large, small)
            }
            let (t, b) = split(input.0, kernel.0, stride.0, dilation.0)
            let (l, r) = split(input.1, kernel.1, stride.1, dilation.1)
            return Padding(top: t, left: l, bottom: b, right: r)
        default:
            throw unsupported(node, index, "auto_pad '\(autoPad)'", attribute: "auto_pad")
        }
    }

    /// A pair attribute (strides, dilations, kernel_shape) with a default.
    func pair(_ node: Onnx_NodeProto, _ index: Int, _ a: inout Attributes, _ name: String,
              default d: Int = 1) throws -> (Int, Int) {
        guard let v = try a.ints(name) else { return (d, d) }
        guard v.count == 2 else {
            throw unsupported(node, index, "\(v.count) values; ConvKit supports 2-D only", attribute: name)
        }
        guard v.allSatisfy({ $0 >= 1 && $0 <= 1 << 16 }) else {
            throw unsupported(node, index, "\(v) (values must be >= 1)", attribute: name)
        }
        return (v[0], v[1])
    }

    mutating func importConv(_ node: Onnx_NodeProto, _ index: Int, _ a: inout Attributes) throws {
        try a.allow(["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"])
        let x = try value(node, 0, index)
        guard x.rank == 4 else { throw unsupported(node, index, "input of rank \(x.rank); ConvKit supports 2-D (NCHW) convolution") }
        let w = try floatConstant(node, 1, index, "W")
        guard w.dims.count == 4 else {
            throw unsupported(node, index, "weights of rank \(w.dims.count); ConvKit supports 2-D convolution only")
        }
        let s = x.node.shape
        let group = try a.int("group", 1)
        guard group >= 1, s.c % group == 0, w.dims[1] * group == s.c, w.dims[0] % group == 0 else {
            throw bad(node, index, "group \(group) does not fit input channels \(s.c) and weights \(w.dims)")
        }
        let kernel = (w.dims[2], w.dims[3])
        if let ks = try a.ints("kernel_shape"), ks != [kernel.0, kernel.1] {
            throw bad(node, index, "kernel_shape \(ks) disagrees with the weights \(w.dims)")
        }
        let stride = try pair(node, index, &a, "strides")
        let dilation = try pair(node, index, &a, "dilations")
        let pads = try resolvePads(node, index, &a, input: (s.h, s.w), kernel: kernel, stride: stride, dilation: dilation)
        let bias = try optionalConstant(node, 2, index, "B")
        if let bias { guard bias.floats != nil, bias.count == w.dims[0] else { throw bad(node, index, "bias dims \(bias.dims)") } }
        let conv = Conv2D(w.dims[0], kernel: Size2D(kernel.0, kernel.1), stride: Size2D(stride.0, stride.1),
                          padding: .explicit(pads), dilation: Size2D(dilation.0, dilation.1), groups: group,
                          bias: bias != nil, inputChannels: s.c, name: layerName(node, index))
        let out = try apply(conv, [x], node, index, rank: 4)
        try conv.weight!.setValues(w.floats!)
        if let bias { try conv.bias!.setValues(bias.floats!) }
        define(node, out)
    }

    mutating func importConvTranspose(_ node: Onnx_NodeProto, _ index: Int, _ a: inout Attributes) throws {
        try a.allow(["auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape", "pads", "strides"])
        let x = try value(node, 0, index)
        guard x.rank == 4 else { throw unsupported(node, index, "input of rank \(x.rank)") }
        let w = try floatConstant(node, 1, index, "W")
        guard w.dims.count == 4 else { throw unsupported(node, index, "weights of rank \(w.dims.count); 2-D only") }
        let s = x.node.shape
        let group = try a.int("group", 1)
        guard group >= 1, w.dims[0] == s.c, s.c % group == 0 else {
            throw bad(node, index, "group \(group) does not fit input channels \(s.c) and weights \(w.dims)")
        }
        let kernel = (w.dims[2], w.dims[3])
        if let ks = try a.ints("kernel_shape"), ks != [kernel.0, kernel.1] {
            throw bad(node, index, "kernel_shape \(ks) disagrees with the weights \(w.dims)")
        }
        let stride = try pair(node, index, &a, "strides")
        let dilation = try pair(node, index, &a, "dilations")
        guard dilation == (1, 1) else {
            throw unsupported(node, index, "dilations \([dilation.0, dilation.1]); ConvKit's transposed convolution "
                              + "has no dilation", attribute: "dilations")
        }
        var outPad = (0, 0)
        if let op = try a.ints("output_padding") {
            guard op.count == 2, op.allSatisfy({ $0 >= 0 && $0 <= 1 << 16 }) else {
                throw unsupported(node, index, "\(op)", attribute: "output_padding")
            }
            outPad = (op[0], op[1])
        }
        let autoPad = try a.string("auto_pad") ?? "NOTSET"
        var pads: Padding
        // The ONNX specification (as onnxruntime implements it): with output_shape (or SAME_*),
        // total = stride*(in-1) + output_padding + kernel - out; SAME_UPPER: begin = total/2,
        // otherwise (SAME_LOWER, NOTSET with output_shape): begin = total - total/2.
        func split(_ total: Int) -> (Int, Int) {
            autoPad == "SAME_UPPER" ? (total / 2, total - total / 2) : (total - total / 2, total / 2)
        }
        var wanted: (Int, Int)?
        if let os = try a.ints("output_shape") {
            guard os.count == 2 || os.count == 4 else { throw unsupported(node, index, "\(os)", attribute: "output_shape") }
            wanted = (os[os.count - 2], os[os.count - 1])
        } else if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
            wanted = (s.h * stride.0, s.w * stride.1)
        }
        if let (oh, ow) = wanted {
            let th = stride.0 * (s.h - 1) + outPad.0 + kernel.0 - oh
            let tw = stride.1 * (s.w - 1) + outPad.1 + kernel.1 - ow
            guard th >= 0, tw >= 0 else {
                throw unsupported(node, index, "output_shape \([oh, ow]) is larger than the transposed convolution "
                                  + "produces without padding", attribute: "output_shape")
            }
            let (t, b) = split(th), (l, r) = split(tw)
            pads = Padding(top: t, left: l, bottom: b, right: r)
        } else if autoPad == "VALID" {
            pads = .valid
        } else if autoPad == "NOTSET" {
            pads = .valid
            if let p = try a.ints("pads") {
                guard p.count == 4, p.allSatisfy({ $0 >= 0 && $0 <= 1 << 16 }) else {
                    throw unsupported(node, index, "\(p)", attribute: "pads")
                }
                pads = Padding(top: p[0], left: p[1], bottom: p[2], right: p[3])
            }
        } else {
            throw unsupported(node, index, "auto_pad '\(autoPad)'", attribute: "auto_pad")
        }
        let bias = try optionalConstant(node, 2, index, "B")
        let k = w.dims[1] * group
        if let bias { guard bias.floats != nil, bias.count == k else { throw bad(node, index, "bias dims \(bias.dims)") } }
        let t = ConvTranspose2D(k, kernel: Size2D(kernel.0, kernel.1), stride: Size2D(stride.0, stride.1),
                                padding: pads, outputPadding: Size2D(outPad.0, outPad.1), groups: group,
                                bias: bias != nil, name: layerName(node, index))
        let out = try apply(t, [x], node, index, rank: 4)
        if let (oh, ow) = wanted, out.node.shape.h != oh || out.node.shape.w != ow {
            throw unsupported(node, index, "output_shape \([oh, ow]) cannot be produced (got \(out.node.shape))",
                              attribute: "output_shape")
        }
        try t.weight!.setValues(w.floats!)
        if let bias { try t.bias!.setValues(bias.floats!) }
        define(node, out)
    }

    mutating func importPool(_ node: Onnx_NodeProto, _ index: Int, _ a: inout Attributes) throws {
        let isMax = node.opType == "MaxPool"
        var allowed = ["auto_pad", "kernel_shape", "pads", "strides"]
        if opset >= 10 { allowed.append("ceil_mode") }
        if isMax {
            if opset >= 8 { allowed.append("storage_order") }
            if opset >= 10 { allowed.append("dilations") }
        } else {
            allowed.append("count_include_pad")
            if opset >= 19 { allowed.append("dilations") }
        }
        try a.allow(allowed)
        let x = try value(node, 0, index)
        guard x.rank == 4 else { throw unsupported(node, index, "input of rank \(x.rank); 2-D pooling needs NCHW") }
        guard try a.ints("kernel_shape") != nil else { throw bad(node, index, "kernel_shape is required") }
        let kernel = try pair(node, index, &a, "kernel_shape")
        let stride = try pair(node, index, &a, "strides")
        let dilation = try pair(node, index, &a, "dilations")
        let s = x.node.shape
        if dilation != (1, 1), let autoPad = try a.string("auto_pad"), autoPad.hasPrefix("SAME") {
            // The specification asks for ceil(in / stride) outputs; onnxruntime pads for the
            // undilated window and produces fewer. Neither answer can be guaranteed to be the expected one.
            throw unsupported(node, index, "auto_pad \(autoPad) with dilations \([dilation.0, dilation.1]) (runtimes "
                              + "disagree on its output size); use explicit pads", attribute: "auto_pad")
        }
        let pads = try resolvePads(node, index, &a, input: (s.h, s.w), kernel: kernel, stride: stride, dilation: dilation)
        let ceil = try a.int("ceil_mode", 0) != 0
        let includePad = try a.int("count_include_pad", 0) != 0
        let name = layerName(node, index)
        let layer: any Layer
        if dilation == (1, 1) {
            layer = Pool2D(isMax ? .max : .average, window: Size2D(kernel.0, kernel.1), stride: Size2D(stride.0, stride.1),
                           padding: .explicit(pads), ceilMode: ceil, countIncludePad: includePad, name: name)
        } else {
            layer = DilatedPoolLayer(isMax ? .max : .average, window: Size2D(kernel.0, kernel.1),
                                     stride: Size2D(stride.0, stride.1), padding: pads,
                                     dilation: Size2D(dilation.0, dilation.1), ceilMode: ceil,
                                     countIncludePad: includePad, name: name)
            usesCustomLayers = true
        }
        define(node, try apply(layer, [x], node, index, rank: 4), extraOutputs: "(the argmax indices) is not supported")
    }

    // MARK: - Dense, reshape, add, pad

    mutating func importDense(_ node: Onnx_NodeProto, _ index: Int, _ a: inout Attributes) throws {
        let isGemm = node.opType == "Gemm"
        try a.allow(isGemm ? ["alpha", "beta", "transA", "transB"] : [])
        let x = try value(node, 0, index)
        guard x.rank == 2 else {
            throw unsupported(node, index, "input A of rank \(x.rank) \(shapeText(x)); ConvKit supports 2-D [N, K] inputs "
                              + "(flatten first)")
        }
        let b = try floatConstant(node, 1, index, "B")
        guard b.dims.count == 2 else { throw unsupported(node, index, "B of rank \(b.dims.count); 2-D only") }
        if isGemm, try a.int("transA", 0) != 0 {
            throw unsupported(node, index, "transA = 1 (A is an activation [N, K]; a transposed activation is not "
                              + "supported)", attribute: "transA")
        }
        let transB = isGemm ? try a.int("transB", 0) != 0 : false
        let alpha = isGemm ? try a.float("alpha", 1) : 1
        let beta = isGemm ? try a.float("beta", 1) : 1
        let kIn = transB ? b.dims[1] : b.dims[0], m = transB ? b.dims[0] : b.dims[1]
        guard kIn == x.node.shape.c else {
            throw bad(node, index, "A has \(x.node.shape.c) features but B \(b.dims)\(transB ? " (transposed)" : "") expects \(kIn)")
        }
        let bv = b.floats!
        var weights = [Float](repeating: 0, count: m * kIn)  // [out, in]
        if transB {
            for i in 0..<(m * kIn) { weights[i] = alpha * bv[i] }
        } else {
            for k in 0..<kIn { for j in 0..<m { weights[j * kIn + k] = alpha * bv[k * m + j] } }
        }
        var bias: [Float]?
        if isGemm, let c = try optionalConstant(node, 2, index, "C") {
            guard let cv = c.floats else { throw bad(node, index, "C must be float32") }
            let dims = c.dims.drop { $0 == 1 && c.dims.count > 1 }
            if c.count == 1 {
                bias = [Float](repeating: beta * cv[0], count: m)
            } else if c.count == m && (c.dims == [m] || c.dims == [1, m]) {
                bias = cv.map { beta * $0 }
            } else {
                throw unsupported(node, index, "C of dims \(c.dims) (\(Array(dims))); ConvKit supports a bias-like C "
                                  + "broadcast over the batch: [], [1], [\(m)] or [1, \(m)]")
            }
        }
        let dense = Dense(m, bias: bias != nil, inputFeatures: kIn, name: layerName(node, index))
        let out = try apply(dense, [x], node, index, rank: 2)
        try dense.weight!.setValues(weights)
        if let bias { try dense.bias!.setValues(bias) }
        define(node, out)
    }

    mutating func importReshape(_ node: Onnx_NodeProto, _ index: Int, _ a: inout Attributes) throws {
        var target: [Int]
        var allowZero = false
        if opset < 5 {
            throw unsupported(node, index, "Reshape before opset 5")
        }
        try a.allow(opset >= 14 ? ["allowzero"] : [])
        if opset >= 14 { allowZero = try a.int("allowzero", 0) != 0 }
        guard node.input.count >= 2, let c = try optionalConstant(node, 1, index, "shape"), let ints = c.ints else {
            throw unsupported(node, index, "the target shape must be a constant int64 tensor")
        }
        guard ints.count <= 8 else { throw bad(node, index, "target shape \(ints) has too many dimensions") }
        let x = try value(node, 0, index)
        let s = x.node.shape
        let inDims = x.rank == 2 ? [s.n, s.c] : [s.n, s.c, s.h, s.w]
        target = []
        var infer = -1
        for (i, v) in ints.enumerated() {
            if v == 0 && !allowZero {
                guard i < inDims.count else { throw bad(node, index, "0 at dimension \(i) beyond the input's rank") }
                target.append(inDims[i])
            } else if v == -1 {
                guard infer < 0 else { throw bad(node, index, "two -1 in the target shape \(ints)") }
                infer = i
                target.append(1)
            } else {
                guard v >= 0, v <= 1 << 31 else { throw bad(node, index, "target shape \(ints)") }
                target.append(Int(v))
            }
        }
        let total = inDims.reduce(1, *)
        if infer >= 0 {
            let rest = target.reduce(1, *)
            guard rest > 0, total % rest == 0 else { throw bad(node, index, "cannot reshape \(inDims) to \(ints)") }
            target[infer] = total / rest
        }
        guard target.reduce(1, *) == total else { throw bad(node, index, "cannot reshape \(inDims) to \(ints)") }
        let features = total / max(s.n, 1)
        // Batch-preserving flattening only (classifier heads): [N, F] or [N, F, 1, 1].
        let keepsBatch = !ints.isEmpty && (ints[0] == 0 && !allowZero || ints[0] == -1 && infer == 0
                                           || Int(ints[0]) == s.n)
        guard keepsBatch, target == [s.n, features] || target == [s.n, features, 1, 1] else {
            throw unsupported(node, index, "Reshape of \(inDims) to \(ints) -> \(target); ConvKit supports reshaping "
                              + "to [N, features] or [N, features, 1, 1] (flattening, batch kept)")
        }
        let rank = target.count
        if x.rank == 2 || (s.h == 1 && s.w == 1) {
            define(node, ImportedValue(node: x.node, rank: rank))
            return
        }
        define(node, try apply(Flatten(name: layerName(node, index)), [x], node, index, rank: rank))
    }

    mutating func importAdd(_ node: Onnx_NodeProto, _ index: Int, _ a: inout Attributes) throws {
        try a.allow(opset < 7 ? ["axis", "broadcast"] : [])
        guard node.input.count == 2 else { throw bad(node, index, "Add takes 2 inputs") }
        let c0 = try constant(node.input[0]), c1 = try constant(node.input[1])
        if c0 == nil && c1 == nil {
            let x = try value(node, 0, index), y = try value(node, 1, index)
            guard x.rank == y.rank, x.node.shape == y.node.shape else {
                throw unsupported(node, index, "Add of \(shapeText(x)) and \(shapeText(y)); ConvKit adds activations "
                                  + "of equal shape (or a per-channel constant)")
            }
            define(node, try apply(Add(name: layerName(node, index)), [x, y], node, index, rank: x.rank))
            return
        }
        guard (c0 == nil) != (c1 == nil) else { throw unsupported(node, index, "Add of two constants") }
        let x = try value(node, c0 == nil ? 0 : 1, index)
        let c = (c0 ?? c1)!
        guard let cv = c.floats else { throw bad(node, index, "constant operand must be float32") }
        let s = x.node.shape
        // Right-aligned broadcasting: the constant must be [..., C or 1, 1, 1] (rank 4) or [..., F or 1] (rank 2).
        guard c.dims.count <= x.rank else { throw unsupported(node, index, "constant of dims \(c.dims) has a higher rank") }
        let padded = [Int](repeating: 1, count: x.rank - c.dims.count) + c.dims
        let channelOnly = padded.enumerated().allSatisfy { $0.offset == 1 || $0.element == 1 }
        guard channelOnly, padded[1] == 1 || padded[1] == s.c else {
            throw unsupported(node, index, "Add of \(shapeText(x)) and a constant of dims \(c.dims); ConvKit supports "
                              + "bias-like constants broadcast per channel ([C], [C, 1, 1], [1, C, 1, 1]) or scalars")
        }
        let shift = padded[1] == 1 ? [Float](repeating: cv[0], count: s.c) : cv
        // y = x + shift as an exact batch norm: variance + epsilon == 1 exactly in float and double.
        let eps = Float(1) / Float(1 << 20)
        let bn = BatchNorm(epsilon: eps, name: layerName(node, index))
        let out = try apply(bn, [x], node, index, rank: x.rank)
        try bn.scale!.setValues([Float](repeating: 1, count: s.c))
        try bn.shift!.setValues(shift)
        try bn.runningMean!.setValues([Float](repeating: 0, count: s.c))
        try bn.runningVariance!.setValues([Float](repeating: 1 - eps, count: s.c))
        define(node, out)
    }

    mutating func importPad(_ node: Onnx_NodeProto, _ index: Int, _ a: inout Attributes) throws {
        var mode = "constant", pads: [Int], padValue: Float = 0
        var axes: [Int]?
        if opset < 11 {
            try a.allow(["mode", "pads", "value"])
            mode = try a.string("mode") ?? "constant"
            guard let p = try a.ints("pads") else { throw bad(node, index, "pads is required") }
            pads = p
            padValue = try a.float("value", 0)
        } else {
            try a.allow(["mode"])
            mode = try a.string("mode") ?? "constant"
            guard let p = try optionalConstant(node, 1, index, "pads"), let pi = p.ints else {
                throw unsupported(node, index, "pads must be a constant int64 tensor")
            }
            guard pi.allSatisfy({ abs($0) <= 1 << 16 }) else { throw bad(node, index, "absurd pads \(pi)") }
            pads = pi.map { Int($0) }
            if let v = try optionalConstant(node, 2, index, "constant_value") {
                guard let f = v.floats, f.count == 1 else { throw bad(node, index, "constant_value must be a float scalar") }
                padValue = f[0]
            }
            if opset >= 18, let ax = try optionalConstant(node, 3, index, "axes") {
                guard let ai = ax.ints else { throw bad(node, index, "axes must be int64") }
                axes = ai.map { Int($0) }
            }
        }
        guard mode == "constant" else {
            throw unsupported(node, index, "mode '\(mode)'; ConvKit pads with a constant only", attribute: "mode")
        }
        let x = try value(node, 0, index)
        guard x.rank == 4 else { throw unsupported(node, index, "input of rank \(x.rank); ConvKit pads NCHW images") }
        var full = [Int](repeating: 0, count: 8)
        if let axes {
            guard pads.count == 2 * axes.count else { throw bad(node, index, "pads \(pads) do not match axes \(axes)") }
            for (i, axis) in axes.enumerated() {
                let ax = axis < 0 ? axis + 4 : axis
                guard (0..<4).contains(ax) else { throw bad(node, index, "axis \(axis)") }
                full[ax] = pads[i]
                full[ax + 4] = pads[i + axes.count]
            }
        } else {
            guard pads.count == 8 else { throw bad(node, index, "\(pads.count) pads for a rank-4 input (need 8)") }
            full = pads
        }
        guard full[0] == 0, full[1] == 0, full[4] == 0, full[5] == 0 else {
            throw unsupported(node, index, "pads \(full) pad the batch or channel axis; ConvKit pads H and W only",
                              attribute: "pads")
        }
        guard full.allSatisfy({ $0 >= 0 && $0 <= 1 << 16 }) else {
            throw unsupported(node, index, "negative pads \(full) (cropping)", attribute: "pads")
        }
        let p = Padding(top: full[2], left: full[3], bottom: full[6], right: full[7])
        let layer: any Layer
        if padValue == 0 {
            layer = ZeroPad2D(p, name: layerName(node, index))
        } else {
            layer = ConstantPadLayer(p, value: padValue, name: layerName(node, index))
            usesCustomLayers = true
        }
        define(node, try apply(layer, [x], node, index, rank: 4))
    }
}

// MARK: - Attributes

/// Typed access to a node's attributes; `allow` rejects any attribute the
/// importer does not understand for this operator and opset.
struct Attributes {
    let node: Onnx_NodeProto
    let index: Int
    let importer: Importer
    var byName: [String: Onnx_AttributeProto] = [:]

    init(node: Onnx_NodeProto, index: Int, importer: Importer) {
        self.node = node
        self.index = index
        self.importer = importer
        for a in node.attribute { byName[a.name] = a }
    }

    func allow(_ names: [String]) throws {
        for a in node.attribute where !names.contains(a.name) {
            if a.hasRefAttrName {
                throw importer.unsupported(node, index, "reference attributes (functions) are not supported", attribute: a.name)
            }
            throw importer.unsupported(node, index, "not supported by ConvKit's importer for this operator and opset",
                                       attribute: a.name)
        }
        if node.attribute.count != byName.count { throw importer.bad(node, index, "an attribute is given twice") }
    }

    func check(_ a: Onnx_AttributeProto, _ type: Onnx_AttributeProto.AttributeType) throws {
        if a.hasType, a.type != type {
            throw importer.bad(node, index, "attribute '\(a.name)' has type \(a.type), expected \(type)")
        }
    }

    func intOptional(_ name: String) throws -> Int? {
        guard let a = byName[name] else { return nil }
        try check(a, .int)
        guard a.i >= Int64(Int32.min), a.i <= Int64(Int32.max) else {
            throw importer.unsupported(node, index, "value \(a.i) out of range", attribute: name)
        }
        return Int(a.i)
    }

    func int(_ name: String, _ d: Int) throws -> Int { try intOptional(name) ?? d }

    func floatOptional(_ name: String) throws -> Float? {
        guard let a = byName[name] else { return nil }
        try check(a, .float)
        return a.f
    }

    func float(_ name: String, _ d: Float) throws -> Float { try floatOptional(name) ?? d }

    func ints(_ name: String) throws -> [Int]? {
        guard let a = byName[name] else { return nil }
        try check(a, .ints)
        guard a.ints.count <= 64, a.ints.allSatisfy({ $0 >= Int64(Int32.min) && $0 <= Int64(Int32.max) }) else {
            throw importer.unsupported(node, index, "values out of range", attribute: name)
        }
        return a.ints.map { Int($0) }
    }

    func floats(_ name: String) throws -> [Float]? {
        guard let a = byName[name] else { return nil }
        try check(a, .floats)
        return a.floats
    }

    func string(_ name: String) throws -> String? {
        guard let a = byName[name] else { return nil }
        try check(a, .string)
        guard let s = String(data: a.s, encoding: .utf8) else { throw importer.bad(node, index, "attribute '\(name)' is not UTF-8") }
        return s
    }

    func tensor(_ name: String) throws -> Onnx_TensorProto? {
        guard let a = byName[name] else { return nil }
        try check(a, .tensor)
        return a.t
    }
}
