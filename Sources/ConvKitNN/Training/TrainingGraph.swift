import ConvKit

/// Whether dropout and batch normalisation behave as in training or as at inference.
public enum TrainingMode: Sendable, Hashable {
    /// Dropout drops (seeded mask), batch norm normalises with the batch statistics
    /// and updates its running statistics.
    case training
    /// Dropout is the identity, batch norm uses its running statistics.
    case inference
}

/// Reverse-mode differentiation over a `Network`: the network is lowered to its
/// primitive layers (`Network.lowered(for:)`), `forward` runs them keeping every
/// value and what each layer's backward pass needs (a tape), and `backward`
/// walks the nodes in reverse, routing gradients through residual adds (both
/// operands receive the sum's gradient) and concats (each input gets its slice
/// of channels), summing the contributions of values read by several layers,
/// and accumulating parameter gradients into `Parameter.gradient`.
///
/// Gradients per layer kind (see `LayerGradients.swift`): `Conv2D` (incl.
/// depthwise and grouped; fused activation differentiated from its output),
/// `Dense`, `Pool2D` (max/average), `GlobalPool`, `BatchNorm` (training and
/// inference mode), `Dropout`, activations, `Softmax`, `Add`, `Concat`,
/// `Flatten`, `ZeroPad2D`, `ConvTranspose2D` (output padding < stride), `LRN`.
///
/// Frozen layers (`isTrainable == false`) get no parameter gradients, and no
/// input gradient is computed where nothing upstream needs it.
///
/// ```swift
/// let tape = TrainingGraph(network: net, threads: 2)
/// let logits = try tape.forward(x, mode: .training)
/// let (loss, dlogits) = try Loss.softmaxCrossEntropy.evaluate(logits, labels: labels)
/// tape.zeroGradients()
/// try tape.backward(dlogits)          // fills Parameter.gradient
/// ```
public final class TrainingGraph {
    /// The network being trained.
    public let network: Network
    /// Threads for the plans the graph creates (0 = all cores).
    public let threads: Int
    /// The seed of the dropout masks of the next forward pass; the trainer changes
    /// it every step (each dropout layer mixes in its node index).
    public var dropoutSeed: UInt64 = 0

    var graphs: [Int: LoweredGraph] = [:]
    var plans = PlanCache()
    // The tape of the last forward pass.
    var tape: Tape?

    struct Tape {
        var graph: LoweredGraph
        var values: [Tensor]
        var saved: [Saved]
        var mode: TrainingMode
    }

    /// What a node's backward pass needs beyond its inputs and output.
    enum Saved {
        case none
        /// The pre-activation of a layer whose fused activation cannot be differentiated from its output.
        case preActivation(Tensor)
        /// Batch-norm statistics: batch (training) or running (inference) mean and 1/std, and the
        /// normalised output before the activation.
        case batchNorm(mean: [Float], invstd: [Float], beforeActivation: Tensor, training: Bool)
        /// The dropout mask's seed (training mode).
        case dropout(seed: UInt64)
    }

    /// Creates a training graph for `network` (lowered lazily per batch size).
    public init(network: Network, threads: Int = 0) {
        self.network = network
        self.threads = threads
    }

    /// The parameters of every layer in execution order, with their full names.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        (try? network.namedParameters()) ?? []
    }

    /// The trainable parameters of the trainable (unfrozen) layers.
    public func trainableParameters() throws -> [Parameter] {
        var out: [Parameter] = []
        var seen = Set<ObjectIdentifier>()
        for n in try lowered(batch: network.inputShape.n).nodes where n.layer.isTrainable {
            for p in n.layer.parameters where p.isTrainable && seen.insert(ObjectIdentifier(p)).inserted {
                out.append(p)
            }
        }
        return out
    }

    /// Clears every parameter's gradient.
    public func zeroGradients() {
        for (_, p) in namedParameters { p.gradient = nil }
    }

    func lowered(batch: Int) throws -> LoweredGraph {
        if let g = graphs[batch] { return g }
        var shape = network.inputShape
        shape.n = batch
        let g = try network.lowered(for: shape)
        graphs[batch] = g
        return g
    }

    /// Runs the network on an NCHW batch, recording the tape for `backward`.
    ///
    /// - Throws: `ConvKitError` `.invalidShape` if `input` does not match the network's
    ///   input (any batch size), `.unsupported` for a layer without a training path.
    public func forward(_ input: Tensor, mode: TrainingMode) throws -> Tensor {
        let x = try input.converted(to: .nchw)
        var expected = network.inputShape
        expected.n = x.shape.n
        guard x.shape == expected else {
            throw ConvKitError(code: .invalidShape,
                               message: "network '\(network.name)' expects input \(expected), got \(x.shape)")
        }
        let graph = try lowered(batch: x.shape.n)
        tape = nil
        var values = [x]
        values.reserveCapacity(graph.shapes.count)
        var saved: [Saved] = []
        saved.reserveCapacity(graph.nodes.count)
        for (i, node) in graph.nodes.enumerated() {
            let (y, s) = try forwardNode(i, node, node.inputs.map { values[$0] }, mode: mode)
            values.append(y)
            saved.append(s)
        }
        tape = Tape(graph: graph, values: values, saved: saved, mode: mode)
        return values[graph.output]
    }

    /// Back-propagates `outputGradient` (the loss gradient w.r.t. the last
    /// `forward`'s output) through the tape, adding parameter gradients to
    /// `Parameter.gradient` (call `zeroGradients` first for a fresh step).
    ///
    /// - Parameter inputGradient: whether to return the gradient w.r.t. the network input.
    /// - Returns: the input gradient, or nil when not requested.
    /// - Throws: `ConvKitError` `.invalidArgument` without a preceding `forward`,
    ///   `.invalidShape` if the gradient's shape is not the output's.
    @discardableResult
    public func backward(_ outputGradient: Tensor, inputGradient: Bool = false) throws -> Tensor? {
        guard let tape else {
            throw ConvKitError(code: .invalidArgument, message: "backward needs a forward pass first")
        }
        let g = tape.graph
        guard outputGradient.shape == g.shapes[g.output] else {
            throw ConvKitError(code: .invalidShape, message:
                "output gradient has shape \(outputGradient.shape), the network output is \(g.shapes[g.output])")
        }
        // Which values need a gradient: those downstream of a trainable parameter or of the input.
        var needs = [Bool](repeating: false, count: g.shapes.count)
        needs[0] = inputGradient
        for n in g.nodes {
            let own = n.layer.isTrainable && n.layer.parameters.contains(where: \.isTrainable)
            needs[n.output] = own || n.inputs.contains { needs[$0] }
        }
        var grads = [Tensor?](repeating: nil, count: g.shapes.count)
        grads[g.output] = try outputGradient.converted(to: .nchw)
        for i in g.nodes.indices.reversed() {
            let n = g.nodes[i]
            guard needs[n.output], let dy = grads[n.output] else { continue }
            grads[n.output] = nil
            let dxs = try backwardNode(i, n, inputs: n.inputs.map { tape.values[$0] }, output: tape.values[n.output],
                                       saved: tape.saved[i], mode: tape.mode, outputGradient: dy,
                                       needInput: n.inputs.map { needs[$0] })
            for (k, v) in n.inputs.enumerated() where needs[v] {
                guard let dx = dxs[k] else { continue }
                if let existing = grads[v] { grads[v] = add(existing, dx) } else { grads[v] = dx }
            }
        }
        return inputGradient ? grads[0] : nil
    }

    /// Drops the tape (the saved activations).
    public func releaseTape() { tape = nil }

    func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        var out = a
        out.withUnsafeMutableBufferPointer { o in
            b.withUnsafeBufferPointer { bs in
                for i in 0..<o.count { o[i] += bs[i] }
            }
        }
        return out
    }
}

/// Plans the training graph creates, per node, rebuilt when the weights or shapes change.
struct PlanCache {
    var conv: [Int: (shape: TensorShape, versions: [Int], plan: Conv2DPlan)] = [:]
    var convBackward: [Int: (shape: TensorShape, plan: Conv2DBackwardPlan)] = [:]
    var dense: [Int: (shape: TensorShape, versions: [Int], plan: DensePlan)] = [:]
    var pool: [Int: (shape: TensorShape, plan: Pool2DPlan)] = [:]
}
