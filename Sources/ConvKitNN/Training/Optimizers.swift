import ConvKit
import Foundation

// MARK: - Losses

/// A training loss on the network output (`N x classes x 1 x 1` or any shape for MSE).
public enum Loss: Sendable, Hashable {
    /// Fused softmax + cross-entropy over the channels of `N x classes x 1 x 1`
    /// logits against integer labels (mean over the batch).
    case softmaxCrossEntropy
    /// Mean squared error `mean((y - t)^2)` over all elements; with integer labels
    /// the target is the one-hot encoding.
    case meanSquaredError

    /// The loss, its gradient w.r.t. `output`, and the number of samples whose
    /// arg-max equals the label.
    ///
    /// - Throws: `ConvKitError` `.invalidShape` if the label count is not the batch size,
    ///   `.invalidArgument` for a label out of range.
    public func evaluate(_ output: Tensor, labels: [Int32]) throws -> (loss: Float, gradient: Tensor, correct: Int) {
        let s = output.shape
        let classes = s.c * s.h * s.w
        guard labels.count == s.n else {
            throw ConvKitError(code: .invalidShape, message: "\(labels.count) labels for a batch of \(s.n)")
        }
        let y = try output.converted(to: .nchw).storage
        let correct = Loss.countCorrect(y, labels: labels, classes: classes)
        switch self {
        case .softmaxCrossEntropy:
            let (loss, g) = try Backward.softmaxCrossEntropy(logits: y, labels: labels, classes: classes)
            return (loss, try Tensor(shape: s, values: g), correct)
        case .meanSquaredError:
            var target = [Float](repeating: 0, count: y.count)
            for (n, l) in labels.enumerated() {
                guard l >= 0, Int(l) < classes else {
                    throw ConvKitError(code: .invalidArgument, message: "label \(l) of row \(n) is not in 0..<\(classes)")
                }
                target[n * classes + Int(l)] = 1
            }
            let (loss, g) = try Loss.meanSquaredError(y, target: target)
            return (loss, try Tensor(shape: s, values: g), correct)
        }
    }

    /// Mean squared error against a target tensor of the output's shape:
    /// `loss = mean((y - t)^2)`, `gradient = 2 (y - t) / count`.
    ///
    /// - Throws: `ConvKitError` `.invalidShape` if the shapes differ.
    public static func meanSquaredError(_ output: Tensor, target: Tensor) throws -> (loss: Float, gradient: Tensor) {
        guard output.shape == target.shape else {
            throw ConvKitError(code: .invalidShape, message: "output \(output.shape) vs target \(target.shape)")
        }
        let (loss, g) = try meanSquaredError(output.converted(to: .nchw).storage,
                                             target: target.converted(to: .nchw).storage)
        return (loss, try Tensor(shape: output.shape, values: g))
    }

    static func meanSquaredError(_ y: [Float], target t: [Float]) throws -> (Float, [Float]) {
        var sum = 0.0
        var g = [Float](repeating: 0, count: y.count)
        let scale = 2 / Float(max(y.count, 1))
        for i in y.indices {
            let d = y[i] - t[i]
            sum += Double(d) * Double(d)
            g[i] = scale * d
        }
        return (Float(sum / Double(max(y.count, 1))), g)
    }

    static func countCorrect(_ y: [Float], labels: [Int32], classes: Int) -> Int {
        var correct = 0
        for (n, l) in labels.enumerated() {
            var best = 0
            for c in 1..<max(classes, 1) where y[n * classes + c] > y[n * classes + best] { best = c }
            if best == Int(l) { correct += 1 }
        }
        return correct
    }
}

// MARK: - Optimisers

/// Updates parameters from their gradients (`Parameter.gradient`).
public protocol Optimizer: AnyObject {
    /// The current learning rate (a schedule sets it every epoch).
    var learningRate: Float { get set }
    /// Applies one update to every parameter that has a gradient.
    func update(_ parameters: [Parameter]) throws
}

/// Stochastic gradient descent with momentum, optional Nesterov, and L2 weight
/// decay (PyTorch's formulation: `g += wd * w; v = momentum * v + g; w -= lr * v`).
public final class SGD: Optimizer {
    /// See `Optimizer.learningRate`.
    public var learningRate: Float
    /// Momentum (0 = plain SGD).
    public var momentum: Float
    /// L2 weight decay added to the gradient.
    public var weightDecay: Float
    /// Nesterov momentum.
    public var nesterov: Bool
    var velocity: [ObjectIdentifier: [Float]] = [:]

    /// Creates the optimiser.
    public init(learningRate: Float, momentum: Float = 0.9, weightDecay: Float = 0, nesterov: Bool = false) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    /// See `Optimizer.update(_:)`.
    public func update(_ parameters: [Parameter]) throws {
        for p in parameters where p.isTrainable {
            guard let grad = p.gradient, grad.count == p.count else { continue }
            let key = ObjectIdentifier(p)
            // Take the state out of the dictionary so the in-place updates do not copy it.
            var v = velocity.removeValue(forKey: key) ?? [Float](repeating: 0, count: p.count)
            let lr = learningRate, mu = momentum, wd = weightDecay, nesterov = nesterov
            p.withMutableValues { values in
                values.withUnsafeMutableBufferPointer { w in
                    v.withUnsafeMutableBufferPointer { v in
                        grad.withUnsafeBufferPointer { grad in
                            for i in 0..<w.count {
                                let g = grad[i] + wd * w[i]
                                if mu != 0 {
                                    v[i] = mu * v[i] + g
                                    w[i] -= lr * (nesterov ? g + mu * v[i] : v[i])
                                } else {
                                    w[i] -= lr * g
                                }
                            }
                        }
                    }
                }
            }
            if mu != 0 { velocity[key] = v }
        }
    }
}

/// Adam (Kingma & Ba) with bias correction and optional L2 weight decay added to the gradient.
public final class Adam: Optimizer {
    /// See `Optimizer.learningRate`.
    public var learningRate: Float
    /// First-moment decay.
    public var beta1: Float
    /// Second-moment decay.
    public var beta2: Float
    /// Added to the root of the second moment.
    public var epsilon: Float
    /// L2 weight decay added to the gradient.
    public var weightDecay: Float
    var moments: [ObjectIdentifier: (m: [Float], v: [Float], t: Int)] = [:]

    /// Creates the optimiser (defaults as in the paper).
    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    /// See `Optimizer.update(_:)`.
    public func update(_ parameters: [Parameter]) throws {
        for p in parameters where p.isTrainable {
            guard let grad = p.gradient, grad.count == p.count else { continue }
            let key = ObjectIdentifier(p)
            var state = moments.removeValue(forKey: key)
                ?? ([Float](repeating: 0, count: p.count), [Float](repeating: 0, count: p.count), 0)
            state.t += 1
            let b1 = beta1, b2 = beta2, eps = epsilon, wd = weightDecay
            let c1 = 1 - Float(pow(Double(b1), Double(state.t)))
            let c2 = 1 - Float(pow(Double(b2), Double(state.t)))
            let step = learningRate / c1
            p.withMutableValues { w in
                for i in w.indices {
                    let g = grad[i] + wd * w[i]
                    state.m[i] = b1 * state.m[i] + (1 - b1) * g
                    state.v[i] = b2 * state.v[i] + (1 - b2) * g * g
                    w[i] -= step * state.m[i] / ((state.v[i] / c2).squareRoot() + eps)
                }
            }
            moments[key] = state
        }
    }
}

// MARK: - Learning-rate schedules

/// The learning rate as a function of the epoch (0-based).
public enum LearningRateSchedule: Sendable, Hashable {
    /// The base rate throughout.
    case constant
    /// Multiplies the rate by `factor` every `every` epochs.
    case step(every: Int, factor: Float)
    /// Cosine annealing from the base rate to `minimum` over `epochs` epochs.
    case cosine(epochs: Int, minimum: Float = 0)

    /// The rate for `epoch` given the base rate.
    public func rate(base: Float, epoch: Int) -> Float {
        switch self {
        case .constant: return base
        case .step(let every, let factor):
            return base * Float(pow(Double(factor), Double(epoch / max(every, 1))))
        case .cosine(let epochs, let minimum):
            let t = Double(min(epoch, epochs)) / Double(max(epochs, 1))
            return minimum + (base - minimum) * Float(0.5 * (1 + cos(Double.pi * t)))
        }
    }
}
