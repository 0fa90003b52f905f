import ConvKit
import ConvKitNN
import Foundation
import SwiftProtobuf

/// Namespace of the ONNX importer: `ONNXModel` loads an `.onnx` file into a
/// ConvKitNN network, `Npy` reads and writes NumPy arrays.
///
/// ```swift
/// let model = try ONNXModel(contentsOf: URL(fileURLWithPath: "resnet18.onnx"))
/// let runner = try model.compile(batch: 1, threads: 2)
/// let logits = try runner(Npy.read(contentsOf: URL(fileURLWithPath: "image.npy")))
/// ```
public enum ConvKitONNX {
    /// The ONNX default-domain operator-set versions ConvKit imports.
    public static let supportedOpsets = 7...21
    /// The largest `.onnx` file accepted (protobuf's own limit).
    public static let maximumFileBytes = Int(Int32.max)
    /// The operators ConvKit imports (default domain).
    public static let supportedOperators = [
        "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Gemm", "MatMul",
        "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "Softmax", "LogSoftmax", "BatchNormalization", "LRN",
        "Flatten", "Reshape", "Add", "Concat", "Dropout", "Identity", "Pad", "Constant",
    ]
}

/// One graph output of an imported model: its name, ONNX rank and the network computing it.
public struct ONNXOutput {
    /// The output's name in the graph.
    public let name: String
    /// Its ONNX rank (4: `[N, C, H, W]`, 2: `[N, features]`).
    public let rank: Int
    /// The network from the graph input to this output (layers are shared between outputs).
    public let network: Network
}

/// An ONNX model imported into the model layer: a ConvKitNN `Network` (a
/// graph of ConvKitNN layers whose weights are the ONNX initializers) plus the
/// names and ranks of the graph's input and outputs.
///
/// Importing checks everything before anything runs: every operator,
/// attribute and opset the importer cannot honour exactly is a `ConvKitError`
/// `.unsupported` naming the operator, the node, the attribute and the opset;
/// a corrupt, truncated or hostile file is `.invalidArgument`. Imported graphs
/// have one float32 input (NCHW, or `[N, features]`) and one or more outputs
/// (each output gets its own network over the shared layers; with several
/// outputs the layers they share run once per output).
///
/// Networks made only of model-layer layers are compiled (`CompiledNetwork`:
/// planner, batch-norm folding, epilogue fusion, layout propagation). A few
/// ONNX constructs have no model-layer layer (`Clip` with bounds other than
/// ReLU/ReLU6, `LogSoftmax`, dilated pooling, `Pad` with a non-zero value); a
/// network containing one runs layer by layer (`usesReferencePath`).
public final class ONNXModel {
    /// The imported network of the first graph output (its input shape has the batch given at import).
    public let network: Network
    /// Every graph output, in the graph's order (`outputs[0].network === network`).
    public let outputs: [ONNXOutput]
    /// The name of the graph input.
    public let inputName: String
    /// The ONNX rank of the input (4 for NCHW, 2 for `[N, features]`).
    public let inputRank: Int
    /// The name of the first graph output.
    public let outputName: String
    /// The ONNX rank of the first output (4: `[N, C, H, W]`, 2: `[N, features]`).
    public let outputRank: Int
    /// The default-domain opset version the model was written against.
    public let opsetVersion: Int
    /// The producer recorded in the file (e.g. `pytorch 2.3`), possibly empty.
    public let producer: String
    /// Whether the network contains importer-only layers and therefore runs uncompiled.
    public let usesReferencePath: Bool

    /// Imports an `.onnx` file.
    ///
    /// - Parameter batch: the batch size to build for (default: the file's, 1 if symbolic).
    /// - Throws: `ConvKitError` (`.unsupported` naming operator/node/attribute/opset, or
    ///   `.invalidArgument` for an unreadable, corrupt or truncated file).
    public convenience init(contentsOf url: URL, batch: Int? = nil) throws {
        let attrs = try? FileManager.default.attributesOfItem(atPath: url.path)
        if let size = attrs?[.size] as? Int, size > ConvKitONNX.maximumFileBytes {
            throw ConvKitError(code: .invalidArgument, message: "ONNX: \(url.lastPathComponent) is \(size) bytes, "
                               + "over protobuf's 2 GiB limit")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ConvKitError(code: .invalidArgument, message: "ONNX: cannot read \(url.path): \(error.localizedDescription)")
        }
        try self.init(data: data, batch: batch)
    }

    /// Imports a model from the bytes of an `.onnx` file.
    ///
    /// - Throws: see `init(contentsOf:batch:)`.
    public init(data: Data, batch: Int? = nil) throws {
        if let batch, batch < 1 || batch > 1 << 16 {
            throw ConvKitError(code: .invalidArgument, message: "ONNX: batch \(batch) out of range")
        }
        guard !data.isEmpty else { throw ConvKitError(code: .invalidArgument, message: "ONNX: the file is empty") }
        guard data.count <= ConvKitONNX.maximumFileBytes else {
            throw ConvKitError(code: .invalidArgument, message: "ONNX: \(data.count) bytes exceed protobuf's 2 GiB limit")
        }
        var options = BinaryDecodingOptions()
        options.discardUnknownFields = true
        options.messageDepthLimit = 64
        let model: Onnx_ModelProto
        do {
            model = try Onnx_ModelProto(serializedBytes: data, options: options)
        } catch let e as BinaryDecodingError {
            let what: String
            switch e {
            case .truncated: what = "the protobuf data is truncated"
            case .malformedProtobuf: what = "the protobuf data is malformed"
            case .invalidUTF8: what = "a string is not valid UTF-8"
            case .messageDepthLimit: what = "messages are nested too deeply"
            default: what = "protobuf decoding failed (\(e))"
            }
            throw ConvKitError(code: .invalidArgument, message: "ONNX: not a valid ONNX model: \(what)")
        } catch {
            throw ConvKitError(code: .invalidArgument, message: "ONNX: not a valid ONNX model: \(error)")
        }
        guard model.hasGraph, !model.graph.node.isEmpty else {
            throw ConvKitError(code: .invalidArgument, message: "ONNX: not a valid ONNX model: no graph or no nodes "
                               + "(ir_version \(model.irVersion))")
        }
        let defaults = model.opsetImport.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }
        guard let opset = defaults.map(\.version).max() else {
            throw ConvKitError(code: .invalidArgument, message: "ONNX: the model declares no default-domain opset")
        }
        guard ConvKitONNX.supportedOpsets.contains(Int(clamping: opset)) else {
            throw ConvKitError(code: .unsupported, message: "ONNX: opset \(opset) is not supported (ConvKit imports "
                               + "opsets \(ConvKitONNX.supportedOpsets.lowerBound)-\(ConvKitONNX.supportedOpsets.upperBound))")
        }
        var importer = Importer(graph: model.graph, opset: Int(opset))
        let graphs = try importer.importGraph(batchOverride: batch)
        outputs = try graphs.map {
            ONNXOutput(name: $0.name, rank: $0.rank,
                       network: try Network(name: $0.graph.name, root: $0.graph, inputShape: importer.inputShape))
        }
        network = outputs[0].network
        inputName = importer.inputName
        inputRank = importer.inputRank
        outputName = outputs[0].name
        outputRank = outputs[0].rank
        opsetVersion = Int(opset)
        producer = [model.producerName, model.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
        usesReferencePath = importer.usesCustomLayers
    }

    /// The network's per-layer summary (output shapes, parameters, FLOPs).
    public func summary() throws -> NetworkSummary { try network.summary() }

    /// Prepares the model to run `batch` images on `threads` threads (0 = all cores):
    /// compiles the network, or (`usesReferencePath`) keeps it layer by layer.
    ///
    /// - Throws: `ConvKitError` from plan creation.
    public func compile(batch: Int? = nil, threads: Int = 0, options: CompileOptions = CompileOptions()) throws -> ONNXRunner {
        let b = batch ?? network.inputShape.n
        let compiled = usesReferencePath ? [] : try outputs.map {
            try $0.network.compile(batch: b, threads: threads, options: options)
        }
        var shape = network.inputShape
        shape.n = b
        return ONNXRunner(model: self, compiled: compiled, inputShape: shape)
    }

    /// The ONNX shape of an input array for `shape` (rank 2 or 4).
    func onnxShape(_ s: TensorShape, rank: Int) -> [Int] { rank == 2 ? [s.n, s.c] : [s.n, s.c, s.h, s.w] }
}

/// A model ready to run for one batch size and thread count (see `ONNXModel.compile`).
public final class ONNXRunner {
    /// The model.
    public let model: ONNXModel
    /// The compiled network of each output (empty when the model runs layer by layer).
    public let compiled: [CompiledNetwork]
    /// The NCHW input shape it runs (batch included).
    public let inputShape: TensorShape

    init(model: ONNXModel, compiled: [CompiledNetwork], inputShape: TensorShape) {
        self.model = model
        self.compiled = compiled
        self.inputShape = inputShape
    }

    /// The input's ONNX shape (`[N, C, H, W]` or `[N, features]`).
    public var inputArrayShape: [Int] { model.onnxShape(inputShape, rank: model.inputRank) }

    /// Runs an NCHW tensor of `inputShape` and returns the first output (NCHW).
    public func callAsFunction(_ input: Tensor) throws -> Tensor { try output(0, input) }

    func output(_ i: Int, _ input: Tensor) throws -> Tensor {
        guard input.shape == inputShape else {
            throw ConvKitError(code: .invalidShape, message: "input '\(model.inputName)' has shape \(input.shape), "
                               + "the model runs \(inputShape)")
        }
        if !compiled.isEmpty { return try compiled[i](input) }
        return try model.outputs[i].network(input)
    }

    /// Runs an input array of the model's ONNX input shape and returns the first
    /// output array in its ONNX shape (float32, C order).
    ///
    /// - Throws: `ConvKitError` `.invalidShape` naming the input if its shape differs.
    public func callAsFunction(_ input: NpyArray) throws -> NpyArray { try arrays(input, [0])[0].array }

    /// Runs an input array and returns every graph output, in the graph's order.
    ///
    /// - Throws: `ConvKitError` `.invalidShape` naming the input if its shape differs.
    public func run(_ input: NpyArray) throws -> [(name: String, array: NpyArray)] {
        try arrays(input, Array(model.outputs.indices))
    }

    func arrays(_ input: NpyArray, _ which: [Int]) throws -> [(name: String, array: NpyArray)] {
        guard input.shape == inputArrayShape else {
            throw ConvKitError(code: .invalidShape, message: "input '\(model.inputName)' has shape \(input.shape), "
                               + "the model expects \(inputArrayShape)")
        }
        let x = try Tensor(shape: inputShape, values: input.values)
        return try which.map { i in
            let y = try output(i, x).converted(to: .nchw)
            let o = model.outputs[i]
            return (o.name, try NpyArray(shape: model.onnxShape(y.shape, rank: o.rank), values: y.storage))
        }
    }
}
