import ConvKit
import ConvKitNN

// Layers ONNX needs that the model layer does not have. They run on the
// layer-by-layer (reference) path only: a network containing one is not
// compiled (`ONNXModel.usesReferencePath`).

/// Marks the importer's own layers (they make the network run uncompiled).
protocol ONNXOnlyLayer: Layer {}

extension ONNXOnlyLayer {
    func one(_ shapes: [TensorShape]) throws -> TensorShape {
        guard shapes.count == 1 else {
            throw ConvKitError(code: .invalidShape, message: "layer '\(name)' (\(kind)) takes 1 input, got \(shapes.count)")
        }
        return shapes[0]
    }

    func oneInput(_ inputs: [Tensor]) throws -> Tensor {
        guard inputs.count == 1 else {
            throw ConvKitError(code: .invalidShape, message: "layer '\(name)' (\(kind)) takes 1 input, got \(inputs.count)")
        }
        return try inputs[0].converted(to: .nchw)
    }
}

/// ONNX `Clip` with bounds other than ReLU's or ReLU6's: `min(max(x, low), high)`.
final class ClipLayer: ONNXOnlyLayer {
    var name: String
    var isTrainable = true
    let low: Float
    let high: Float
    init(low: Float, high: Float, name: String) {
        self.low = low
        self.high = high
        self.name = name
    }
    var kind: String { "Clip" }
    var parameters: [Parameter] { [] }
    func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape { try one(inputShapes) }
    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try oneInput(inputs)
        // NaN propagates, as in ONNX Runtime.
        return try Tensor(shape: x.shape, values: x.storage.map { $0.isNaN ? $0 : min(max($0, low), high) })
    }
}

/// ONNX `LogSoftmax` over the channel axis.
final class LogSoftmaxLayer: ONNXOnlyLayer {
    var name: String
    var isTrainable = true
    init(name: String) { self.name = name }
    var kind: String { "LogSoftmax" }
    var parameters: [Parameter] { [] }
    func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape { try one(inputShapes) }
    func forward(_ inputs: [Tensor]) throws -> Tensor { try Ops.logSoftmax(oneInput(inputs)) }
}

/// ONNX `MaxPool`/`AveragePool` with dilations (the model layer's `Pool2D` has none).
final class DilatedPoolLayer: ONNXOnlyLayer {
    var name: String
    var isTrainable = true
    let poolKind: PoolKind
    let window: Size2D
    let stride: Size2D
    let padding: Padding
    let dilation: Size2D
    let ceilMode: Bool
    let countIncludePad: Bool
    init(_ kind: PoolKind, window: Size2D, stride: Size2D, padding: Padding, dilation: Size2D, ceilMode: Bool,
         countIncludePad: Bool, name: String) {
        poolKind = kind
        self.window = window
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
        self.name = name
    }
    var kind: String { poolKind == .max ? "MaxPool2D(dilated)" : "AvgPool2D(dilated)" }
    var parameters: [Parameter] { [] }
    func descriptor(_ input: TensorShape) throws -> Pool2DDescriptor {
        try Pool2DDescriptor(kind: poolKind, inputShape: input, window: window, stride: stride, padding: padding,
                             dilation: dilation, ceilMode: ceilMode, countIncludePad: countIncludePad)
    }
    func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape {
        try descriptor(one(inputShapes)).outputShape
    }
    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try oneInput(inputs)
        return try Pool2DPlan(descriptor: descriptor(x.shape))(x)
    }
}

/// ONNX `Pad` (constant mode) with a non-zero value.
final class ConstantPadLayer: ONNXOnlyLayer {
    var name: String
    var isTrainable = true
    let padding: Padding
    let value: Float
    init(_ padding: Padding, value: Float, name: String) {
        self.padding = padding
        self.value = value
        self.name = name
    }
    var kind: String { "ConstantPad2D" }
    var parameters: [Parameter] { [] }
    func outputShape(for inputShapes: [TensorShape]) throws -> TensorShape {
        let x = try one(inputShapes)
        return TensorShape(n: x.n, c: x.c, h: x.h + padding.top + padding.bottom, w: x.w + padding.left + padding.right)
    }
    func flops(for inputShapes: [TensorShape]) -> Double { 0 }
    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try oneInput(inputs)
        let o = try outputShape(for: [x.shape])
        var out = [Float](repeating: value, count: o.elementCount)
        let src = x.storage
        for plane in 0..<(x.shape.n * x.shape.c) {
            for h in 0..<x.shape.h {
                let s = plane * x.shape.h * x.shape.w + h * x.shape.w
                let d = plane * o.h * o.w + (h + padding.top) * o.w + padding.left
                for w in 0..<x.shape.w { out[d + w] = src[s + w] }
            }
        }
        return try Tensor(shape: o, values: out)
    }
}
