import ConvKit

/// A network layer: a value with a name, parameters and a forward pass.
///
/// Layers are built once for their input shapes (`build`), which fixes any
/// inferred sizes (input channels, dense input features), creates the
/// parameters and checks the wiring: a mismatch throws `ConvKitError`
/// `.invalidShape` naming the layer and the shapes. Afterwards the layer runs on
/// NCHW tensors of any batch size through ConvKit's plans (cached per input shape).
///
/// ```swift
/// let conv = Conv2D(16, kernel: 3, padding: .same, activation: .relu, name: "conv1")
/// var ctx = BuildContext(seed: 7)
/// _ = try conv.build(inputShapes: [TensorShape(n: 1, c: 3, h: 32, w: 32)], context: &ctx)
/// let y = try conv(x)          // 1x16x32x32
/// ```
public protocol Layer: AnyObject {
    /// The layer's name, unique among its siblings; paths join names with dots.
    var name: String { get set }
    /// The kind shown in summaries, e.g. `Conv2D`.
    var kind: String { get }
    /// Whether training updates this layer's parameters (false = frozen).
    var isTrainable: Bool { get set }
    /// The layer's own parameters (empty for containers and parameterless layers).
    var parameters: [Parameter] { get }
    /// The number of inputs the layer takes (`nil` = any number >= 1, as `Concat`).
    var inputArity: Int? { get }
    /// Fixes inferred sizes, creates the parameters (once) and returns the output shape.
    ///
    /// - Throws: `ConvKitError` `.invalidShape` naming the layer and the shapes on a wiring error.
    func build(inputShapes: [TensorShape], context: inout BuildContext) throws -> TensorShape
    /// The output shape for these input shapes, checked against the built layer.
    func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape
    /// Runs the layer (the uncompiled reference path) on NCHW tensors.
    func forward(_ inputs: [Tensor]) throws -> Tensor
    /// Floating-point operations (multiply-adds count 2) for these input shapes.
    func flops(for inputShapes: [TensorShape]) -> Double
}

extension Layer {
    /// Single-input layers take one input.
    public var inputArity: Int? { 1 }

    /// By default, building only checks the shapes.
    public func build(inputShapes: [TensorShape], context: inout BuildContext) throws -> TensorShape {
        try outputShape(for: inputShapes)
    }

    /// By default, the number of output elements (one operation each).
    public func flops(for inputShapes: [TensorShape]) -> Double {
        guard let s = try? outputShape(for: inputShapes) else { return 0 }
        return Double(s.elementCount)
    }

    /// Runs the layer on one input.
    public func callAsFunction(_ input: Tensor) throws -> Tensor { try forward([input]) }

    /// Runs the layer on several inputs (`Add`, `Concat`).
    public func callAsFunction(_ first: Tensor, _ rest: Tensor...) throws -> Tensor { try forward([first] + rest) }

    /// The output shape for one input shape.
    public func outputShape(for inputShape: TensorShape) throws -> TensorShape {
        try outputShape(for: [inputShape])
    }

    /// The sum of the element counts of the trainable parameters.
    public var trainableParameterCount: Int {
        parameters.filter(\.isTrainable).reduce(0) { $0 + $1.count }
    }

    /// Checks the number of inputs against `inputArity`.
    func expectArity(_ shapes: [TensorShape]) throws {
        if let arity = inputArity {
            guard shapes.count == arity else {
                throw ConvKitNN.wiring(self, "takes \(arity) input(s), got \(shapes.count): \(shapes)")
            }
        } else if shapes.isEmpty {
            throw ConvKitNN.wiring(self, "needs at least one input")
        }
    }

    /// The single input shape (after checking there is exactly one).
    func single(_ shapes: [TensorShape]) throws -> TensorShape {
        try expectArity(shapes)
        return shapes[0]
    }

    /// The single input tensor in NCHW (converted if needed).
    func singleInput(_ inputs: [Tensor]) throws -> Tensor {
        guard inputs.count == 1 else {
            throw ConvKitNN.wiring(self, "takes 1 input, got \(inputs.count)")
        }
        return try inputs[0].converted(to: .nchw)
    }
}

/// A layer made of other layers (`Sequential`, `Graph`): its children are named
/// and it can flatten itself into a graph of primitive layers for summaries,
/// weights I/O and compilation.
public protocol LayerContainer: Layer {
    /// The direct children.
    var children: [any Layer] { get }
    /// Appends this container's primitive layers to `graph`, reading `inputs`
    /// (value ids) and returning the output value id; child paths start with `prefix`.
    func lower(into graph: inout LoweredGraph, inputs: [Int], prefix: String) throws -> Int
}

/// A network flattened into primitive layers in execution order: value 0 is
/// the network input; node `i` reads `inputs` and defines value `output`.
public struct LoweredGraph {
    /// One primitive layer application.
    public struct Node {
        /// The dotted path of the layer, e.g. `layer1.0.conv1`.
        public var path: String
        /// The primitive layer.
        public var layer: any Layer
        /// The value ids it reads.
        public var inputs: [Int]
        /// The value id it defines.
        public var output: Int
    }

    /// The shape of every value (value 0 is the input).
    public var shapes: [TensorShape]
    /// The nodes in execution order.
    public var nodes: [Node] = []
    /// The value id of the network output.
    public var output = 0

    /// Starts a graph whose value 0 has `inputShape`.
    public init(inputShape: TensorShape) { shapes = [inputShape] }

    /// Appends one primitive layer (or lowers a container) and returns its output value.
    public mutating func append(_ layer: any Layer, path: String, inputs: [Int]) throws -> Int {
        if let container = layer as? any LayerContainer {
            return try container.lower(into: &self, inputs: inputs, prefix: path + ".")
        }
        let shape = try layer.outputShape(for: inputs.map { shapes[$0] })
        shapes.append(shape)
        nodes.append(Node(path: path, layer: layer, inputs: inputs, output: shapes.count - 1))
        return shapes.count - 1
    }
}

/// Assigns default names (`conv2d_3`) to unnamed children and rejects duplicates.
func nameChildren(_ layers: [any Layer], in container: any Layer) throws {
    var seen = Set<String>()
    for (i, layer) in layers.enumerated() {
        if layer.name.isEmpty { layer.name = "\(layer.kind.lowercased())_\(i)" }
        guard seen.insert(layer.name).inserted else {
            throw ConvKitNN.wiring(container, "two children are named '\(layer.name)'")
        }
    }
}
