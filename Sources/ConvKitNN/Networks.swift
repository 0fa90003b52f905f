import ConvKit

/// Collects the layers of a `Sequential` written one per line.
@resultBuilder
public enum LayerBuilder {
    /// One layer.
    public static func buildExpression(_ layer: any Layer) -> [any Layer] { [layer] }
    /// Several layers (e.g. from a helper returning a block).
    public static func buildExpression(_ layers: [any Layer]) -> [any Layer] { layers }
    /// The lines of a block.
    public static func buildBlock(_ parts: [any Layer]...) -> [any Layer] { parts.flatMap { $0 } }
    /// An `if` without `else`.
    public static func buildOptional(_ part: [any Layer]?) -> [any Layer] { part ?? [] }
    /// The first branch of an `if`/`else`.
    public static func buildEither(first: [any Layer]) -> [any Layer] { first }
    /// The second branch of an `if`/`else`.
    public static func buildEither(second: [any Layer]) -> [any Layer] { second }
    /// A `for` loop.
    public static func buildArray(_ parts: [[any Layer]]) -> [any Layer] { parts.flatMap { $0 } }
}

/// Layers applied one after another.
///
/// ```swift
/// let features = Sequential(name: "features") {
///     Conv2D(32, kernel: 3, padding: 1, activation: .relu)
///     MaxPool2D(2)
///     for width in [64, 128] { Conv2D(width, kernel: 3, padding: 1, activation: .relu) }
/// }
/// ```
public final class Sequential: LayerContainer {
    /// See `Layer.name`.
    public var name: String
    /// The layers, in order.
    public let layers: [any Layer]

    /// Creates a sequence from a result-builder block (built later, by `Network` or a parent).
    public init(name: String = "", @LayerBuilder _ content: () -> [any Layer]) {
        self.name = name
        layers = content()
    }

    /// Creates a sequence from an array of layers.
    public init(name: String = "", layers: [any Layer]) {
        self.name = name
        self.layers = layers
    }

    /// `Sequential`.
    public var kind: String { "Sequential" }
    /// Whether every child is trainable; setting it sets every child.
    public var isTrainable: Bool {
        get { layers.allSatisfy(\.isTrainable) }
        set { for l in layers { l.isTrainable = newValue } }
    }
    /// None of its own (see `children`).
    public var parameters: [Parameter] { [] }
    /// The layers.
    public var children: [any Layer] { layers }

    /// Builds the children in order.
    public func build(inputShapes: [TensorShape], context: inout BuildContext) throws -> TensorShape {
        try nameChildren(layers, in: self)
        var shape = try single(inputShapes)
        for layer in layers { shape = try layer.build(inputShapes: [shape], context: &context) }
        return shape
    }

    /// See `Layer.outputShape(for:)`.
    public func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape {
        var shape = try single(inputShapes)
        for layer in layers { shape = try layer.outputShape(for: [shape]) }
        return shape
    }

    /// The sum of the children's FLOPs.
    public func flops(for inputShapes: [TensorShape]) -> Double {
        var shape = inputShapes[0], total = 0.0
        for layer in layers {
            total += layer.flops(for: [shape])
            guard let next = try? layer.outputShape(for: [shape]) else { break }
            shape = next
        }
        return total
    }

    /// Runs the children in order.
    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        var x = try singleInput(inputs)
        for layer in layers { x = try layer.forward([x]) }
        return x
    }

    /// See `LayerContainer.lower(into:inputs:prefix:)`.
    public func lower(into graph: inout LoweredGraph, inputs: [Int], prefix: String) throws -> Int {
        guard inputs.count == 1 else { throw ConvKitNN.wiring(self, "takes 1 input, got \(inputs.count)") }
        var v = inputs[0]
        for layer in layers { v = try graph.append(layer, path: prefix + layer.name, inputs: [v]) }
        return v
    }
}

/// A value flowing through a `GraphBuilder`: the output of the input or of a layer.
public struct GraphNode: Hashable, Sendable {
    /// The value's index in the graph (0 = the input).
    public let id: Int
    /// Its shape (batch 1 at build time).
    public let shape: TensorShape
}

/// Builds a `Graph` (functional API) for skip connections and branches; every
/// call builds the layer for its inputs' shapes and checks the wiring at once.
///
/// ```swift
/// let g = GraphBuilder(inputShape: TensorShape(n: 1, c: 64, h: 56, w: 56), seed: 1)
/// let a = try g(Conv2D(64, kernel: 3, padding: 1, bias: false, name: "conv1"), g.input)
/// let b = try g(BatchNorm(activation: .relu, name: "bn1"), a)
/// let c = try g(Add(activation: .relu, name: "add"), b, g.input)
/// let block = try g.build(output: c, name: "block")
/// ```
public final class GraphBuilder {
    /// The graph input.
    public let input: GraphNode
    var context: BuildContext
    var nodes: [(layer: any Layer, inputs: [Int])] = []
    var shapes: [TensorShape]
    var names = Set<String>()

    /// Starts a graph for an input of `inputShape`; `seed` drives weight initialisation.
    public init(inputShape: TensorShape, seed: UInt64 = 0) {
        input = GraphNode(id: 0, shape: inputShape)
        shapes = [inputShape]
        context = BuildContext(seed: seed)
    }

    /// Applies `layer` to `inputs`, building it; returns its output.
    ///
    /// - Throws: `ConvKitError` `.invalidShape` naming the layer and the shapes on a wiring error,
    ///   or a duplicate layer name.
    @discardableResult
    public func callAsFunction(_ layer: any Layer, _ inputs: GraphNode...) throws -> GraphNode {
        try apply(layer, inputs)
    }

    /// Applies `layer` to an array of inputs (e.g. a `Concat` of branches).
    @discardableResult
    public func apply(_ layer: any Layer, _ inputs: [GraphNode]) throws -> GraphNode {
        if layer.name.isEmpty { layer.name = "\(layer.kind.lowercased())_\(nodes.count)" }
        guard names.insert(layer.name).inserted else {
            throw ConvKitNN.wiring(layer, "a layer named '\(layer.name)' is already in the graph")
        }
        for i in inputs where i.id >= shapes.count {
            throw ConvKitNN.wiring(layer, "input node \(i.id) is not from this graph")
        }
        let shape = try layer.build(inputShapes: inputs.map { shapes[$0.id] }, context: &context)
        nodes.append((layer, inputs.map(\.id)))
        shapes.append(shape)
        return GraphNode(id: shapes.count - 1, shape: shape)
    }

    /// Finishes the graph with `output` as its result.
    public func build(output: GraphNode, name: String = "") -> Graph {
        Graph(name: name, inputShape: input.shape, nodes: nodes, output: output.id)
    }
}

/// A directed acyclic graph of layers with one input (ResNet's adds, Inception's
/// concats, U-Net's skips), made by `GraphBuilder`.
public final class Graph: LayerContainer {
    /// See `Layer.name`.
    public var name: String
    /// The input shape it was built for.
    public let inputShape: TensorShape
    let nodes: [(layer: any Layer, inputs: [Int])]
    let output: Int

    init(name: String, inputShape: TensorShape, nodes: [(layer: any Layer, inputs: [Int])], output: Int) {
        self.name = name
        self.inputShape = inputShape
        self.nodes = nodes
        self.output = output
    }

    /// `Graph`.
    public var kind: String { "Graph" }
    /// Whether every layer is trainable; setting it sets every layer.
    public var isTrainable: Bool {
        get { nodes.allSatisfy(\.layer.isTrainable) }
        set { for n in nodes { n.layer.isTrainable = newValue } }
    }
    /// None of its own.
    public var parameters: [Parameter] { [] }
    /// The layers in execution order.
    public var children: [any Layer] { nodes.map(\.layer) }

    /// Already built by the builder: checks the shapes.
    public func build(inputShapes: [TensorShape], context: inout BuildContext) throws -> TensorShape {
        try outputShape(for: inputShapes)
    }

    /// See `Layer.outputShape(for:)`.
    public func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape {
        var shapes = [try single(inputShapes)]
        for n in nodes { shapes.append(try n.layer.outputShape(for: n.inputs.map { shapes[$0] })) }
        return shapes[output]
    }

    /// The sum of the layers' FLOPs.
    public func flops(for inputShapes: [TensorShape]) -> Double {
        var shapes = [inputShapes[0]], total = 0.0
        for n in nodes {
            let ins = n.inputs.map { shapes[$0] }
            total += n.layer.flops(for: ins)
            guard let s = try? n.layer.outputShape(for: ins) else { return total }
            shapes.append(s)
        }
        return total
    }

    /// Runs the layers in order, keeping every value alive until its last use.
    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        var lastUse = [Int](repeating: -1, count: nodes.count + 1)
        for (i, n) in nodes.enumerated() { for v in n.inputs { lastUse[v] = i } }
        var values = [Tensor?](repeating: nil, count: nodes.count + 1)
        values[0] = try singleInput(inputs)
        for (i, n) in nodes.enumerated() {
            values[i + 1] = try n.layer.forward(n.inputs.map { values[$0]! })
            for v in n.inputs where lastUse[v] == i && v != output { values[v] = nil }
        }
        return values[output]!
    }

    /// See `LayerContainer.lower(into:inputs:prefix:)`.
    public func lower(into graph: inout LoweredGraph, inputs: [Int], prefix: String) throws -> Int {
        guard inputs.count == 1 else { throw ConvKitNN.wiring(self, "takes 1 input, got \(inputs.count)") }
        var map = [inputs[0]]
        for n in nodes { map.append(try graph.append(n.layer, path: prefix + n.layer.name, inputs: n.inputs.map { map[$0] })) }
        return map[output]
    }
}

/// A built network: a root layer (usually a `Sequential` or `Graph`) with its
/// input shape. Runs layer by layer (the reference path), summarises itself,
/// compiles (`compile`) and saves/loads its weights.
///
/// ```swift
/// let net = try Network(name: "tiny", inputShape: TensorShape(n: 1, c: 1, h: 28, w: 28), seed: 3) {
///     Conv2D(8, kernel: 3, padding: .same, activation: .relu)
///     MaxPool2D(2)
///     Flatten()
///     Dense(10)
/// }
/// let logits = try net(x)
/// ```
public final class Network {
    /// The network's name.
    public let name: String
    /// The root layer.
    public let root: any Layer
    /// The input shape it was built for (batch 1).
    public let inputShape: TensorShape
    /// The output shape for `inputShape`.
    public let outputShape: TensorShape

    /// Builds `root` for `inputShape`, initialising its parameters from `seed`.
    ///
    /// - Throws: `ConvKitError` `.invalidShape` naming the first miswired layer and the shapes.
    public init(name: String = "", root: any Layer, inputShape: TensorShape, seed: UInt64 = 0) throws {
        self.name = name
        self.root = root
        self.inputShape = inputShape
        if root.name.isEmpty { root.name = name.isEmpty ? "network" : name }
        var context = BuildContext(seed: seed)
        outputShape = try root.build(inputShapes: [inputShape], context: &context)
        _ = try lowered()  // checks path uniqueness
    }

    /// Builds a `Sequential` network from a result-builder block.
    public convenience init(name: String = "", inputShape: TensorShape, seed: UInt64 = 0,
                            @LayerBuilder _ content: () -> [any Layer]) throws {
        try self.init(name: name, root: Sequential(name: name, content), inputShape: inputShape, seed: seed)
    }

    /// The network as primitive layers in execution order for an input of `shape`
    /// (default: `inputShape`), with dotted paths (`layer1.0.conv1`).
    ///
    /// - Throws: on a shape mismatch or two layers with the same path.
    public func lowered(for shape: TensorShape? = nil) throws -> LoweredGraph {
        var g = LoweredGraph(inputShape: shape ?? inputShape)
        if let c = root as? any LayerContainer {
            g.output = try c.lower(into: &g, inputs: [0], prefix: "")
        } else {
            g.output = try g.append(root, path: root.name, inputs: [0])
        }
        var seen = Set<String>()
        for n in g.nodes where !seen.insert(n.path).inserted {
            throw ConvKitNN.wiring(n.layer, "two layers have the path '\(n.path)'")
        }
        return g
    }

    /// Every parameter with its full name (`layer1.0.conv1.weight`), in execution order.
    public func namedParameters() throws -> [(name: String, parameter: Parameter)] {
        var out: [(String, Parameter)] = []
        var seen = Set<ObjectIdentifier>()
        for n in try lowered().nodes {
            for p in n.layer.parameters where seen.insert(ObjectIdentifier(p)).inserted {
                out.append((n.path + "." + p.name, p))
            }
        }
        return out
    }

    /// The number of trainable parameters (weights, biases, batch-norm scale and
    /// shift; running statistics excluded).
    public var trainableParameterCount: Int {
        ((try? namedParameters()) ?? []).filter(\.parameter.isTrainable).reduce(0) { $0 + $1.parameter.count }
    }

    /// Runs the network layer by layer on an NCHW batch (any batch size).
    public func callAsFunction(_ input: Tensor) throws -> Tensor { try root.forward([input]) }
}
