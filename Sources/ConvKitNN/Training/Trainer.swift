import ConvKit
import Foundation

/// One epoch's summary.
public struct EpochReport: Sendable, CustomStringConvertible {
    /// The epoch (1-based).
    public var epoch: Int
    /// The learning rate used.
    public var learningRate: Float
    /// Mean training loss over the epoch's batches (weighted by batch size).
    public var trainLoss: Float
    /// Training accuracy (on the augmented batches, in training mode).
    public var trainAccuracy: Double
    /// Test loss (nil without a test set).
    public var testLoss: Float?
    /// Test accuracy (nil without a test set).
    public var testAccuracy: Double?
    /// Training throughput (forward + backward + update), images per second.
    public var imagesPerSecond: Double
    /// Wall time of the epoch's training steps, seconds.
    public var seconds: Double

    /// `epoch 3  lr 0.0500  loss 0.1234  train 96.52%  test loss 0.1010  test 97.22%  1834 img/s  0.78 s`.
    public var description: String {
        var s = "epoch \(epoch)  lr " + String(format: "%.4f", learningRate)
            + "  loss " + String(format: "%.4f", trainLoss)
            + "  train " + String(format: "%.2f%%", trainAccuracy * 100)
        if let testLoss, let testAccuracy {
            s += "  test loss " + String(format: "%.4f", testLoss) + "  test " + String(format: "%.2f%%", testAccuracy * 100)
        }
        return s + "  " + String(format: "%.0f", imagesPerSecond) + " img/s  " + String(format: "%.2f", seconds) + " s"
    }
}

/// Trains a `Network`: forward in training mode, loss, backward, optimiser update,
/// per-epoch learning-rate schedule, evaluation in inference mode.
///
/// ```swift
/// let net = try TrainingModels.digitsCNN(seed: 1)
/// let trainer = Trainer(network: net, optimizer: SGD(learningRate: 0.05, momentum: 0.9, weightDecay: 1e-4),
///                       schedule: .cosine(epochs: 10), threads: 2)
/// let reports = try trainer.fit(train: train, test: test, epochs: 10, batchSize: 32) { print($0) }
/// ```
public final class Trainer {
    /// The network (its parameters are updated in place).
    public let network: Network
    /// The differentiation tape over the network.
    public let graph: TrainingGraph
    /// The loss.
    public var loss: Loss
    /// The optimiser.
    public var optimizer: any Optimizer
    /// The learning-rate schedule, applied at the start of every epoch.
    public var schedule: LearningRateSchedule
    /// The base learning rate (the optimiser's rate at creation).
    public let baseLearningRate: Float
    /// Seed of the dropout masks.
    public var seed: UInt64
    var steps: UInt64 = 0

    /// Creates a trainer.
    public init(network: Network, loss: Loss = .softmaxCrossEntropy, optimizer: any Optimizer,
                schedule: LearningRateSchedule = .constant, threads: Int = 0, seed: UInt64 = 0) {
        self.network = network
        graph = TrainingGraph(network: network, threads: threads)
        self.loss = loss
        self.optimizer = optimizer
        self.schedule = schedule
        baseLearningRate = optimizer.learningRate
        self.seed = seed
    }

    /// One training step on a batch: forward (training mode), loss, backward, update.
    ///
    /// - Returns: the batch loss and the number of correctly classified images.
    public func step(images: Tensor, labels: [Int32]) throws -> (loss: Float, correct: Int) {
        graph.dropoutSeed = mixSeed(seed, Int(truncatingIfNeeded: steps))
        steps &+= 1
        let output = try graph.forward(images, mode: .training)
        let (l, grad, correct) = try loss.evaluate(output, labels: labels)
        graph.zeroGradients()
        try graph.backward(grad)
        graph.releaseTape()
        try optimizer.update(graph.trainableParameters())
        return (l, correct)
    }

    /// Loss and accuracy on a data set in inference mode.
    public func evaluate(_ data: Dataset, batchSize: Int = 128) throws -> (loss: Float, accuracy: Double) {
        var total = 0.0, correct = 0
        var g = SeededGenerator(seed: 0)
        var start = 0
        while start < data.count {
            let idx = Array(start..<min(start + batchSize, data.count))
            let (x, labels) = try data.batch(idx, generator: &g)
            let y = try graph.forward(x, mode: .inference)
            let r = try loss.evaluate(y, labels: labels)
            total += Double(r.loss) * Double(idx.count)
            correct += r.correct
            start += batchSize
        }
        graph.releaseTape()
        return (Float(total / Double(max(data.count, 1))), Double(correct) / Double(max(data.count, 1)))
    }

    /// Trains for `epochs` epochs, calling `progress` after each.
    ///
    /// - Parameters:
    ///   - shuffleSeed: seed of the batch order and the augmentation.
    /// - Returns: the per-epoch reports.
    @discardableResult
    public func fit(train: Dataset, test: Dataset? = nil, epochs: Int, batchSize: Int,
                    augmentation: Augmentation? = nil, shuffleSeed: UInt64 = 0,
                    progress: (EpochReport) -> Void = { _ in }) throws -> [EpochReport] {
        let loader = DataLoader(train, batchSize: batchSize, shuffle: true, seed: shuffleSeed,
                                augmentation: augmentation)
        var reports: [EpochReport] = []
        for epoch in 0..<epochs {
            optimizer.learningRate = schedule.rate(base: baseLearningRate, epoch: epoch)
            var lossSum = 0.0, correct = 0, seen = 0, seconds = 0.0
            for (x, labels) in try loader.batches(epoch: epoch) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let r = try step(images: x, labels: labels)
                seconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                lossSum += Double(r.loss) * Double(labels.count)
                correct += r.correct
                seen += labels.count
            }
            var report = EpochReport(epoch: epoch + 1, learningRate: optimizer.learningRate,
                                     trainLoss: Float(lossSum / Double(max(seen, 1))),
                                     trainAccuracy: Double(correct) / Double(max(seen, 1)),
                                     imagesPerSecond: Double(seen) / max(seconds, 1e-9), seconds: seconds)
            if let test {
                let e = try evaluate(test)
                report.testLoss = e.loss
                report.testAccuracy = e.accuracy
            }
            reports.append(report)
            progress(report)
        }
        return reports
    }
}

// MARK: - Transfer learning

extension Network {
    /// Freezes (or unfreezes) every primitive layer whose path satisfies `predicate`.
    public func setTrainable(_ trainable: Bool, where predicate: (String) -> Bool) throws {
        for n in try lowered().nodes where predicate(n.path) { n.layer.isTrainable = trainable }
    }

    /// Freezes every layer except the last one (the classifier head).
    public func freezeAllButHead() throws {
        let nodes = try lowered().nodes
        for (i, n) in nodes.enumerated() { n.layer.isTrainable = i == nodes.count - 1 }
    }

    /// A network sharing this one's layers (and weights) with the last layer replaced
    /// by `head` (e.g. a `Dense` with a new number of classes), built with `seed`.
    /// The root must be a `Sequential` or a `Graph` whose output is its last layer.
    ///
    /// - Throws: `ConvKitError` `.unsupported` for other roots, `.invalidShape` if the head does not fit.
    public func replacingHead(with head: any Layer, seed: UInt64 = 0) throws -> Network {
        if let seq = root as? Sequential, !seq.layers.isEmpty {
            let newRoot = Sequential(name: seq.name, layers: seq.layers.dropLast() + [head])
            if head.name.isEmpty { head.name = seq.layers.last!.name }
            return try Network(name: name, root: newRoot, inputShape: inputShape, seed: seed)
        }
        if let graph = root as? Graph, let last = graph.nodes.last, graph.output == graph.nodes.count {
            var shapes = [inputShape]
            for n in graph.nodes.dropLast() { shapes.append(try n.layer.outputShape(for: n.inputs.map { shapes[$0] })) }
            var context = BuildContext(seed: seed)
            if head.name.isEmpty { head.name = last.layer.name }
            _ = try head.build(inputShapes: last.inputs.map { shapes[$0] }, context: &context)
            let nodes = graph.nodes.dropLast() + [(layer: head, inputs: last.inputs)]
            let newRoot = Graph(name: graph.name, inputShape: graph.inputShape, nodes: Array(nodes),
                                output: graph.output)
            return try Network(name: name, root: newRoot, inputShape: inputShape, seed: seed)
        }
        throw ConvKitError(code: .unsupported,
                           message: "replacingHead needs a Sequential or Graph root ending in the head layer")
    }
}

// MARK: - Models and benchmarks

/// Small networks for the training demos.
public enum TrainingModels {
    /// The digits CNN: 8x8x1 -> conv 3x3 `width` same + BN + ReLU -> maxpool 2 -> conv 3x3
    /// `2*width` same + BN + ReLU -> global average pool (or, with `denseHead`, flatten
    /// 4x4x`2*width`) -> optional dropout -> dense 10. With `batchNorm: false` the
    /// convolutions carry a bias and a fused ReLU instead.
    public static func digitsCNN(seed: UInt64 = 0, width: Int = 16, batchNorm: Bool = true, denseHead: Bool = false,
                                 dropout: Float = 0) throws -> Network {
        try Network(name: "digits_cnn", inputShape: TensorShape(n: 1, c: 1, h: 8, w: 8), seed: seed) {
            if batchNorm {
                Conv2D(width, kernel: 3, padding: .same, bias: false, name: "conv1")
                BatchNorm(activation: .relu, name: "bn1")
            } else {
                Conv2D(width, kernel: 3, padding: .same, activation: .relu, name: "conv1")
            }
            MaxPool2D(2, name: "pool1")
            if batchNorm {
                Conv2D(2 * width, kernel: 3, padding: .same, bias: false, name: "conv2")
                BatchNorm(activation: .relu, name: "bn2")
            } else {
                Conv2D(2 * width, kernel: 3, padding: .same, activation: .relu, name: "conv2")
            }
            if !denseHead { GlobalAvgPool(name: "gap") }
            Flatten(name: "flatten")
            if dropout > 0 { Dropout(dropout, name: "drop") }
            Dense(10, name: "fc")
        }
    }
}

/// Training-step throughput.
public enum TrainingBenchmark {
    /// Images per second of full training steps (forward in training mode,
    /// softmax cross-entropy, backward, SGD update) of `network` on random data
    /// at `batch`, after `warmup` untimed steps; the median of `steps` timed steps.
    public static func imagesPerSecond(network: Network, batch: Int, steps: Int = 5, warmup: Int = 1,
                                       threads: Int = 0, seed: UInt64 = 0) throws -> Double {
        var shape = network.inputShape
        shape.n = batch
        var g = SeededGenerator(seed: seed)
        let x = try Tensor(shape: shape, values: (0..<shape.elementCount).map { _ in g.nextNormal() })
        let classes = network.outputShape.c * network.outputShape.h * network.outputShape.w
        let labels = (0..<batch).map { _ in Int32(g.next() % UInt64(classes)) }
        let trainer = Trainer(network: network, optimizer: SGD(learningRate: 1e-3, momentum: 0.9), threads: threads)
        for _ in 0..<warmup { _ = try trainer.step(images: x, labels: labels) }
        var times: [Double] = []
        for _ in 0..<max(steps, 1) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try trainer.step(images: x, labels: labels)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        times.sort()
        return Double(batch) / times[times.count / 2]
    }
}
