import ConvKit
import Synchronization

/// Chooses plan options per convolution when a network is compiled — the hook
/// for the autotuning planner. The descriptor given is the NCHW one; an answer
/// of `.direct`, `.depthwise` or a Winograd variant (or `.auto` under
/// `LayoutPolicy.blocked`) lets the compiler keep the activations in NCHW8c
/// around that convolution.
public protocol ConvolutionPlanner: Sendable {
    /// The options for `descriptor`, starting from `base` (which carries the thread count).
    func planOptions(for descriptor: Conv2DDescriptor, base: PlanOptions) -> PlanOptions
}

/// Where the compiler keeps activations between layers.
public enum LayoutPolicy: String, Hashable, Sendable, CaseIterable {
    /// NCHW everywhere (every algorithm available, no conversions).
    case plain
    /// NCHW8c wherever the direct, Winograd or depthwise kernels accept it; NCHW
    /// (with conversions at the boundary) for layers that need it (im2col, LRN,
    /// softmax, dense, transposed convolution).
    case blocked
    /// The same as `blocked` now that Winograd runs on NCHW8c (it used to time
    /// Winograd in NCHW, charged with its layout conversions, against NCHW8c);
    /// kept so existing code compiles.
    case measure
}

/// Options for `Network.compile`.
public struct CompileOptions: Sendable {
    /// Base plan options for every layer (the thread count is overridden by `compile`'s).
    public var planOptions: PlanOptions
    /// Per-convolution choice of options (default: `PlannerAdapter.shared`, the
    /// autotuning planner with the per-machine profile; nil: `planOptions` with `.auto`).
    public var planner: (any ConvolutionPlanner)?
    /// Activation layout policy.
    public var layoutPolicy: LayoutPolicy
    /// Fold inference batch norm into the preceding convolution.
    public var foldBatchNorm: Bool
    /// Fuse activations and residual adds into convolution (and dense/BN/add) epilogues.
    public var fuseEpilogues: Bool

    /// Creates options; the defaults fold, fuse, block and ask `PlannerAdapter.shared`.
    public init(planOptions: PlanOptions = .default, planner: (any ConvolutionPlanner)? = PlannerAdapter.shared,
                layoutPolicy: LayoutPolicy = .blocked, foldBatchNorm: Bool = true, fuseEpilogues: Bool = true) {
        self.planOptions = planOptions
        self.planner = planner
        self.layoutPolicy = layoutPolicy
        self.foldBatchNorm = foldBatchNorm
        self.fuseEpilogues = fuseEpilogues
    }
}

// MARK: - Intermediate representation

private struct ConvSpec {
    var layer: Conv2D
    var padding: Padding
    var weights: [Float]
    var bias: [Float]?
    var activation: Activation
    var residual: Int?
}

private enum IROp {
    case conv(ConvSpec)
    case convTranspose(ConvTranspose2D)
    case pool(Pool2D)
    case globalPool(PoolKind)
    case dense(Dense, Activation)
    case batchNorm(BatchNorm, Activation)
    case lrn(LRN)
    case softmax
    case activation(Activation)
    case add(Activation)
    case concat
    case zeroPad(Padding)
    case flatten
}

private struct IRNode {
    var names: [String]
    var op: IROp
    var inputs: [Int]
    var output: Int
    var dead = false
}

// MARK: - Steps

private enum StepKind: Sendable {
    case conv(Conv2DPlan)
    case convTranspose(ConvTranspose2DPlan)
    case pool(Pool2DPlan)
    case globalPool(PoolKind, Layout, TensorShape)
    case dense(DensePlan)
    case batchNorm(scale: [Float], shift: [Float], mean: [Float], variance: [Float], epsilon: Float, Activation,
                   Layout, TensorShape)
    case lrn(size: Int, alpha: Float, beta: Float, k: Float, TensorShape)
    case softmax(TensorShape)
    case activation(Activation, count: Int)
    case add(Activation, count: Int)
    case concat(Layout, [TensorShape])
    case zeroPad(Padding, TensorShape, TensorShape)
    case convert(Layout, Layout, TensorShape)
}

private struct Step: Sendable {
    var name: String
    var kind: StepKind
    var inputs: [Int]
    var output: Int
}

/// One step of a compiled network, for reports and per-layer timing.
public struct CompiledLayerInfo: Sendable, CustomStringConvertible {
    /// The fused layer paths, joined by `+` (e.g. `conv1+bn1+relu`), or `convert`.
    public var name: String
    /// What runs: `conv direct/avx2_fma`, `pool`, `convert NCHW->NCHW8c`, ...
    public var operation: String
    /// The output shape.
    public var outputShape: TensorShape
    /// The output layout.
    public var layout: Layout
    /// `name: operation -> shape layout`.
    public var description: String { "\(name): \(operation) -> \(outputShape) \(layout)" }
}

/// A network compiled for one input shape, batch size and thread count: one
/// plan per layer, batch norm folded into convolutions, bias + activation
/// (+ residual add) fused into convolution epilogues, activations kept in NCHW8c
/// between layers whose kernels accept it (converted at the edges and around
/// layers that need NCHW), and all intermediate activations placed in one
/// arena whose offsets are planned from the values' lifetimes.
///
/// Thread safety: `Sendable`; `callAsFunction` may run from several threads at
/// once — each call takes an arena of `peakActivationBytes` from the network's
/// pool (or allocates one when all are in use) and returns it afterwards, so
/// repeated calls do not allocate activation memory; at most `arenaPoolLimit`
/// idle arenas are kept. The plans are immutable. Results are deterministic for
/// a fixed thread count.
///
/// ```swift
/// let compiled = try Zoo.resnet18().compile(batch: 1, threads: 2)
/// let logits = try compiled(image)        // 1x1000x1x1, NCHW
/// print(compiled.peakActivationBytes)
/// ```
public final class CompiledNetwork: Sendable {
    /// The input shape (batch included), NCHW.
    public let inputShape: TensorShape
    /// The output shape, NCHW.
    public let outputShape: TensorShape
    /// Bytes of the activation arena each call uses (the peak of live activations).
    public let peakActivationBytes: Int
    /// The threads the plans were created with (0 = all cores).
    public let threads: Int
    /// The steps, in execution order.
    public let layers: [CompiledLayerInfo]
    private let steps: [Step]
    private let valueShapes: [TensorShape]
    private let valueLayouts: [Layout]
    private let offsets: [Int]  // arena offset (floats) per value; -1 = the input
    private let arenaFloats: Int
    private let output: Int
    private let arenaPool = Mutex<[ArenaBuffer]>([])

    /// The most idle arenas kept for reuse (more concurrent calls allocate and free their own).
    public static let arenaPoolLimit = 8

    /// The number of idle arenas in the pool (for tests and diagnostics).
    public var pooledArenaCount: Int { arenaPool.withLock { $0.count } }

    fileprivate init(inputShape: TensorShape, outputShape: TensorShape, threads: Int, steps: [Step],
                     shapes: [TensorShape], layouts: [Layout], offsets: [Int], arenaFloats: Int, output: Int,
                     layers: [CompiledLayerInfo]) {
        self.inputShape = inputShape
        self.outputShape = outputShape
        self.threads = threads
        self.steps = steps
        valueShapes = shapes
        valueLayouts = layouts
        self.offsets = offsets
        self.arenaFloats = arenaFloats
        peakActivationBytes = arenaFloats * MemoryLayout<Float>.stride
        self.output = output
        self.layers = layers
    }

    /// Runs the network on an input of `inputShape` (any layout; NCHW is fastest).
    ///
    /// - Throws: `ConvKitError` `.invalidShape` if the input shape differs.
    public func callAsFunction(_ input: Tensor) throws -> Tensor {
        var none: [Double]? = nil
        return try run(input, timings: &none)
    }

    /// Runs the network and returns the output with the seconds spent in every step
    /// (aligned with `layers`).
    public func profile(_ input: Tensor) throws -> (output: Tensor, seconds: [Double]) {
        var t: [Double]? = []
        let y = try run(input, timings: &t)
        return (y, t ?? [])
    }

    private func run(_ input: Tensor, timings: inout [Double]?) throws -> Tensor {
        guard input.shape == inputShape else {
            throw ConvKitError(code: .invalidShape,
                               message: "input has shape \(input.shape), the compiled network expects \(inputShape)")
        }
        let x = try input.converted(to: .nchw)
        let buffer = arenaPool.withLock { $0.popLast() } ?? ArenaBuffer(floats: arenaFloats)
        defer {
            let kept = arenaPool.withLock { pool -> Bool in
                guard pool.count < Self.arenaPoolLimit else { return false }
                pool.append(buffer)
                return true
            }
            if !kept { buffer.deallocate() }
        }
        let arena = buffer.pointer
        var result = [Float]()
        try x.withUnsafeBufferPointer { xs in
            let inputPointer = UnsafeMutablePointer(mutating: xs.baseAddress!)
            func ptr(_ v: Int) -> UnsafeMutablePointer<Float> { offsets[v] < 0 ? inputPointer : arena + offsets[v] }
            let clock = ContinuousClock()
            for step in steps {
                let start = clock.now
                try execute(step, ptr)
                if timings != nil {
                    let d = clock.now - start
                    timings!.append(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
                }
            }
            let count = outputShape.elementCount
            result = Array(UnsafeBufferPointer(start: ptr(output), count: count))
        }
        return try Tensor(shape: outputShape, values: result)
    }

    deinit {
        arenaPool.withLock { pool in
            for buffer in pool { buffer.deallocate() }
            pool.removeAll()
        }
    }

    private func execute(_ step: Step, _ ptr: (Int) -> UnsafeMutablePointer<Float>) throws {
        let y = ptr(step.output)
        let x = step.inputs.first.map { UnsafePointer(ptr($0)) }
        switch step.kind {
        case .conv(let plan):
            try plan.execute(input: x!, output: y, residual: step.inputs.count > 1 ? UnsafePointer(ptr(step.inputs[1])) : nil)
        case .convTranspose(let plan): try plan.execute(input: x!, output: y)
        case .pool(let plan): try plan.execute(input: x!, output: y)
        case .globalPool(let kind, let layout, let shape): try RawOps.globalPool(kind, layout, shape, x!, y)
        case .dense(let plan): try plan.execute(input: x!, output: y)
        case .batchNorm(let scale, let shift, let mean, let variance, let eps, let act, let layout, let shape):
            try scale.withUnsafeBufferPointer { g in
                try shift.withUnsafeBufferPointer { b in
                    try mean.withUnsafeBufferPointer { m in
                        try variance.withUnsafeBufferPointer { v in
                            try RawOps.batchNorm(layout, shape, x!, scale: g.baseAddress!, shift: b.baseAddress!,
                                                 mean: m.baseAddress!, variance: v.baseAddress!, epsilon: eps,
                                                 activation: act, y)
                        }
                    }
                }
            }
        case .lrn(let size, let alpha, let beta, let k, let shape):
            try RawOps.lrn(.nchw, shape, size: size, alpha: alpha, beta: beta, k: k, x!, y)
        case .softmax(let shape): try RawOps.softmax(log: false, .nchw, shape, x!, y)
        case .activation(let act, let count): try RawOps.activation(act, count: count, x!, y)
        case .add(let act, let count): try RawOps.add(count: count, x!, UnsafePointer(ptr(step.inputs[1])), activation: act, y)
        case .concat(let layout, let shapes):
            if layout == .nchw8c {
                // Channel counts are multiples of 8: each image is a run of whole blocks.
                let total = shapes.reduce(0) { $0 + $1.c } * shapes[0].h * shapes[0].w
                for n in 0..<shapes[0].n {
                    var offset = 0
                    for (i, s) in shapes.enumerated() {
                        let count = s.c * s.h * s.w
                        (y + n * total + offset).update(from: ptr(step.inputs[i]) + n * count, count: count)
                        offset += count
                    }
                }
            } else {
                try RawOps.concat(.nchw, n: shapes[0].n, h: shapes[0].h, w: shapes[0].w,
                                  inputs: step.inputs.map { UnsafePointer(ptr($0)) }, channels: shapes.map(\.c), y)
            }
        case .zeroPad(let padding, let inShape, let outShape): zeroPad(x!, inShape, y, outShape, padding)
        case .convert(let from, let to, let shape): try RawOps.convert(shape, from: from, x!, to: to, y)
        }
        // Keep the NCHW8c channel padding zero (kernels may leave it unwritten, the arena is reused).
        let s = valueShapes[step.output]
        if valueLayouts[step.output] == .nchw8c, s.c % 8 != 0 {
            let blocks = (s.c + 7) / 8, plane = s.h * s.w
            for n in 0..<s.n {
                let base = y + ((n * blocks + blocks - 1) * plane) * 8
                for p in 0..<plane { for lane in (s.c % 8)..<8 { base[p * 8 + lane] = 0 } }
            }
        }
    }
}

/// One activation arena: owned by a single call while it runs, otherwise idle in
/// a `CompiledNetwork`'s pool (the pool's mutex orders the hand-over).
private struct ArenaBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>

    /// 64-byte (cache-line) aligned, like every arena offset, so no kernel
    /// load of an activation vector splits a cache line.
    init(floats: Int) {
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(floats, 1) * MemoryLayout<Float>.stride,
                                                   alignment: 64).bindMemory(to: Float.self, capacity: max(floats, 1))
    }

    func deallocate() { UnsafeMutableRawPointer(pointer).deallocate() }
}

// MARK: - Compilation

extension Network {
    /// Compiles the network for `batch` images of `inputShape` (default: the
    /// network's, with its batch replaced) on `threads` threads (0 = all cores).
    ///
    /// - Throws: `ConvKitError` from shape checks or plan creation.
    public func compile(inputShape: TensorShape? = nil, batch: Int = 1, threads: Int = 0,
                        options: CompileOptions = CompileOptions()) throws -> CompiledNetwork {
        var shape = inputShape ?? self.inputShape
        shape.n = batch
        let g = try lowered(for: shape)
        var compiler = Compiler(graph: g, threads: threads, options: options)
        return try compiler.compile()
    }
}

private struct Compiler {
    let graph: LoweredGraph
    let threads: Int
    let options: CompileOptions
    var ir: [IRNode] = []
    var shapes: [TensorShape]
    var layouts: [Layout] = []
    var views: [Int: Int] = [:]  // value -> value whose storage it shares
    var steps: [Step] = []
    var infos: [CompiledLayerInfo] = []
    var conversions: [Int: [Layout: Int]] = [:]

    init(graph: LoweredGraph, threads: Int, options: CompileOptions) {
        self.graph = graph
        self.threads = threads
        self.options = options
        shapes = graph.shapes
    }

    mutating func compile() throws -> CompiledNetwork {
        let output = try fuse()
        layouts = [Layout](repeating: .nchw, count: shapes.count)
        for node in ir where !node.dead { try emit(node) }
        let finalValue = try need(output, .nchw)
        return try plan(output: finalValue)
    }

    // Pass 1: map layers to IR ops, folding BN, activations, residual adds, zero padding and dropout.
    mutating func fuse() throws -> Int {
        var alias: [Int: Int] = [:]
        var uses = [Int](repeating: 0, count: shapes.count)
        for n in graph.nodes { for v in n.inputs { uses[v] += 1 } }
        uses[graph.output] += 1
        var producer: [Int: Int] = [:]
        func r(_ v: Int) -> Int { alias[v] ?? v }
        func retarget(_ p: Int, _ out: Int, _ name: String) {
            ir[p].output = out
            ir[p].names.append(name)
            producer[out] = p
        }
        let fuse = options.fuseEpilogues
        for node in graph.nodes {
            let ins = node.inputs.map(r)
            let single = ins.first.flatMap { producer[$0] }.flatMap { uses[ins[0]] == 1 ? $0 : nil }
            var op: IROp
            switch node.layer {
            case let l as Dropout where l.kind == "Dropout":
                alias[node.output] = ins[0]
                uses[ins[0]] += uses[node.output] - 1
                continue
            case let conv as Conv2D:
                guard let w = conv.weight else { throw ConvKitNN.wiring(conv, "is not built") }
                var padding = conv.padding.resolve(shapes[ins[0]], kernel: conv.kernel, stride: conv.stride,
                                                   dilation: conv.dilation)
                var input = ins[0]
                if let p = single, case .zeroPad(let extra) = ir[p].op {
                    padding = Padding(top: padding.top + extra.top, left: padding.left + extra.left,
                                      bottom: padding.bottom + extra.bottom, right: padding.right + extra.right)
                    input = ir[p].inputs[0]
                    ir[p].dead = true
                }
                ir.append(IRNode(names: [node.path], op: .conv(ConvSpec(
                    layer: conv, padding: padding, weights: w.values, bias: conv.bias?.values,
                    activation: conv.activation, residual: nil)), inputs: [input], output: node.output))
                producer[node.output] = ir.count - 1
                continue
            case let bn as BatchNorm:
                if options.foldBatchNorm, let p = single, case .conv(var spec) = ir[p].op, spec.activation == .none,
                   spec.residual == nil {
                    let (mul, off) = try bn.foldedAffine()
                    let k = spec.weights.count / mul.count
                    for o in mul.indices { for i in 0..<k { spec.weights[o * k + i] *= mul[o] } }
                    let b = spec.bias ?? [Float](repeating: 0, count: mul.count)
                    spec.bias = mul.indices.map { b[$0] * mul[$0] + off[$0] }
                    spec.activation = bn.activation
                    ir[p].op = .conv(spec)
                    retarget(p, node.output, node.path)
                    continue
                }
                op = .batchNorm(bn, bn.activation)
            case let a as ActivationLayer:
                if fuse, let p = single {
                    switch ir[p].op {
                    case .conv(var spec) where spec.activation == .none:
                        spec.activation = a.activation
                        ir[p].op = .conv(spec)
                        retarget(p, node.output, node.path)
                        continue
                    case .dense(let d, .none):
                        ir[p].op = .dense(d, a.activation)
                        retarget(p, node.output, node.path)
                        continue
                    case .batchNorm(let b, .none):
                        ir[p].op = .batchNorm(b, a.activation)
                        retarget(p, node.output, node.path)
                        continue
                    case .add(.none):
                        ir[p].op = .add(a.activation)
                        retarget(p, node.output, node.path)
                        continue
                    default: break
                    }
                }
                op = .activation(a.activation)
            case let add as Add:
                if fuse {
                    var fused = false
                    for (i, other) in [(0, 1), (1, 0)] {
                        guard let p = producer[ins[i]], uses[ins[i]] == 1, ins[0] != ins[1],
                              case .conv(var spec) = ir[p].op, spec.activation == .none, spec.residual == nil
                        else { continue }
                        let otherDef = producer[ins[other]] ?? -1
                        guard otherDef < p else { continue }
                        spec.residual = ins[other]
                        spec.activation = add.activation
                        ir[p].op = .conv(spec)
                        ir[p].inputs.append(ins[other])
                        retarget(p, node.output, node.path)
                        fused = true
                        break
                    }
                    if fused { continue }
                }
                op = .add(add.activation)
            case let t as ConvTranspose2D: op = .convTranspose(t)
            case let p as Pool2D: op = .pool(p)
            case let gp as GlobalPool: op = .globalPool(gp.poolKind)
            case let d as Dense: op = .dense(d, d.activation)
            case let l as LRN: op = .lrn(l)
            case is Softmax: op = .softmax
            case is Concat: op = .concat
            case let z as ZeroPad2D: op = .zeroPad(z.padding)
            case is Flatten: op = .flatten
            default:
                if node.layer is Dropout { alias[node.output] = ins[0]; uses[ins[0]] += uses[node.output] - 1; continue }
                throw ConvKitNN.wiring(node.layer, "cannot be compiled (unknown layer kind)")
            }
            ir.append(IRNode(names: [node.path], op: op, inputs: ins, output: node.output))
            producer[node.output] = ir.count - 1
        }
        return r(graph.output)
    }

    /// The value `v` in `layout`, converting (once per value and layout) if needed.
    mutating func need(_ v: Int, _ layout: Layout) throws -> Int {
        if layouts[v] == layout { return v }
        if let c = conversions[v]?[layout] { return c }
        let out = newValue(shapes[v], layout)
        addStep("convert", .convert(layouts[v], layout, shapes[v]), [v], out,
                "convert \(layouts[v])->\(layout)")
        conversions[v, default: [:]][layout] = out
        return out
    }

    mutating func newValue(_ shape: TensorShape, _ layout: Layout) -> Int {
        shapes.append(shape)
        layouts.append(layout)
        return shapes.count - 1
    }

    mutating func addStep(_ name: String, _ kind: StepKind, _ inputs: [Int], _ output: Int, _ what: String) {
        steps.append(Step(name: name, kind: kind, inputs: inputs, output: output))
        infos.append(CompiledLayerInfo(name: name, operation: what, outputShape: shapes[output],
                                       layout: layouts[output]))
    }

    func convOptions(_ d: Conv2DDescriptor) -> PlanOptions {
        var base = options.planOptions
        base.threads = threads
        var o = options.planner?.planOptions(for: d, base: base) ?? base
        o.threads = threads
        return o
    }

    // Pass 2: choose layouts, insert conversions, create plans.
    mutating func emit(_ node: IRNode) throws {
        let name = node.names.joined(separator: "+")
        let x = node.inputs.first ?? 0
        let out = node.output
        switch node.op {
        case .conv(let spec):
            let c = spec.layer
            let inShape = shapes[x]
            func desc(_ layout: Layout) throws -> Conv2DDescriptor {
                try describing(c, inShape) {
                    try Conv2DDescriptor(inputShape: inShape, outputChannels: c.outputChannels, kernel: c.kernel,
                                         stride: c.stride, padding: spec.padding, dilation: c.dilation,
                                         groups: c.groups, hasBias: spec.bias != nil, activation: spec.activation,
                                         layout: layout)
                }
            }
            let plain = try desc(.nchw)
            let opts = convOptions(plain)
            var layout = Layout.nchw
            if options.layoutPolicy != .plain {
                let blocked = try desc(.nchw8c)
                switch opts.algorithm {
                case .direct, .depthwise, .reference, .winogradF2, .winogradF4, .winogradF6:
                    if blocked.isApplicable(opts.algorithm, options: opts) { layout = .nchw8c }
                case .auto:
                    if blocked.isApplicable(.depthwise, options: opts) || blocked.isApplicable(.direct, options: opts)
                        || (opts.allowWinograd && blocked.isApplicable(.winogradF4, options: opts)) {
                        layout = .nchw8c
                    }
                default: break
                }
            }
            let d = try desc(layout)
            let plan = try Conv2DPlan(descriptor: d, weights: spec.weights, bias: spec.bias, options: opts)
            var inputs = [try need(x, layout)]
            if let r = spec.residual { inputs.append(try need(r, layout)) }
            layouts[out] = layout
            addStep(name, .conv(plan), inputs, out, "conv \(plan.implementationName)")
        case .convTranspose(let t):
            let d = try t.descriptor(for: shapes[x])
            var o = options.planOptions
            o.algorithm = .auto
            o.threads = threads
            let plan = try ConvTranspose2DPlan(descriptor: d, weights: t.weight!.values, bias: t.bias?.values, options: o)
            addStep(name, .convTranspose(plan), [try need(x, .nchw)], out, "convTranspose \(plan.implementationName)")
        case .pool(let p):
            let layout = layouts[x]
            let plan = try Pool2DPlan(descriptor: p.descriptor(for: shapes[x], layout: layout),
                                      options: PlanOptions(threads: threads))
            layouts[out] = layout
            addStep(name, .pool(plan), [x], out, "pool \(plan.implementationName)")
        case .globalPool(let kind):
            layouts[out] = layouts[x]
            addStep(name, .globalPool(kind, layouts[x], shapes[x]), [x], out, "globalPool")
        case .dense(let dense, let act):
            let s = shapes[x]
            let d = try DenseDescriptor(batch: s.n, inputFeatures: s.c * s.h * s.w, outputFeatures: dense.outputFeatures,
                                        hasBias: dense.useBias, activation: act)
            var o = options.planOptions
            o.algorithm = .auto
            o.threads = threads
            let plan = try DensePlan(descriptor: d, weights: dense.weight!.values, bias: dense.bias?.values, options: o)
            addStep(name, .dense(plan), [try need(x, .nchw)], out, "dense \(plan.implementationName)")
        case .batchNorm(let bn, let act):
            layouts[out] = layouts[x]
            addStep(name, .batchNorm(scale: bn.scale!.values, shift: bn.shift!.values, mean: bn.runningMean!.values,
                                     variance: bn.runningVariance!.values, epsilon: bn.epsilon, act, layouts[x],
                                     shapes[x]), [x], out, "batchNorm")
        case .lrn(let l):
            addStep(name, .lrn(size: l.size, alpha: l.alpha, beta: l.beta, k: l.k, shapes[x]), [try need(x, .nchw)],
                    out, "lrn")
        case .softmax:
            addStep(name, .softmax(shapes[x]), [try need(x, .nchw)], out, "softmax")
        case .activation(let act):
            layouts[out] = layouts[x]
            addStep(name, .activation(act, count: try layouts[x].storageCount(for: shapes[x])), [x], out, "\(act)")
        case .add(let act):
            let layout = layouts[x]
            layouts[out] = layout
            addStep(name, .add(act, count: try layout.storageCount(for: shapes[x])),
                    [x, try need(node.inputs[1], layout)], out, "add")
        case .concat:
            let blocked = node.inputs.allSatisfy { layouts[$0] == .nchw8c && shapes[$0].c % 8 == 0 }
            let layout: Layout = blocked ? .nchw8c : .nchw
            let ins = try node.inputs.map { try need($0, layout) }
            layouts[out] = layout
            addStep(name, .concat(layout, ins.map { shapes[$0] }), ins, out, "concat")
        case .zeroPad(let p):
            addStep(name, .zeroPad(p, shapes[x], shapes[out]), [try need(x, .nchw)], out, "zeroPad")
        case .flatten:
            let v = try need(x, .nchw)
            views[out] = v
            layouts[out] = .nchw
        }
    }

    // Pass 3: lifetimes and arena offsets (greedy, largest first; multiples of 16 floats = 64 bytes).
    func plan(output: Int) throws -> CompiledNetwork {
        func root(_ v: Int) -> Int { var v = v; while let u = views[v] { v = u }; return v }
        let count = shapes.count
        var def = [Int](repeating: Int.max, count: count), last = [Int](repeating: -1, count: count)
        for (i, s) in steps.enumerated() {
            let o = root(s.output)
            def[o] = min(def[o], i)
            last[o] = max(last[o], i)
            for v in s.inputs { last[root(v)] = max(last[root(v)], i) }
        }
        last[root(output)] = steps.count
        for v in 0..<count where def[v] != Int.max { last[v] = max(last[v], def[v]) }
        var sizes = [Int](repeating: 0, count: count)
        for v in 0..<count where def[v] != Int.max && root(v) == v {
            sizes[v] = (try layouts[v].storageCount(for: shapes[v]) + 15) / 16 * 16
        }
        var offsets = [Int](repeating: -1, count: count)
        var placed: [Int] = []
        var arena = 0
        for v in (0..<count).filter({ sizes[$0] > 0 }).sorted(by: { sizes[$0] > sizes[$1] }) {
            let clashes = placed.filter { def[$0] <= last[v] && def[v] <= last[$0] }
                .map { (offsets[$0], offsets[$0] + sizes[$0]) }.sorted { $0.0 < $1.0 }
            var offset = 0
            for (lo, hi) in clashes {
                if offset + sizes[v] <= lo { break }
                offset = max(offset, hi)
            }
            offsets[v] = offset
            arena = max(arena, offset + sizes[v])
            placed.append(v)
        }
        for v in 0..<count where root(v) != v { offsets[v] = offsets[root(v)] }
        offsets[0] = -1
        for v in 0..<count where root(v) == 0 { offsets[v] = -1 }
        guard root(output) != 0 else {
            throw ConvKitError(code: .unsupported, message: "a network whose output is its input cannot be compiled")
        }
        return CompiledNetwork(inputShape: shapes[0], outputShape: shapes[output], threads: threads, steps: steps,
                               shapes: shapes, layouts: layouts, offsets: offsets, arenaFloats: arena, output: output,
                               layers: infos)
    }
}
