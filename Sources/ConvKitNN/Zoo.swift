import ConvKit

/// The classic CNN architectures, built with random (seeded He/Glorot) weights.
///
/// Parameter counts at the default sizes match the published ones (trainable
/// parameters, batch-norm scale and shift included): LeNet-5 61,706; AlexNet
/// 60,965,224; VGG-16 138,357,544; ResNet-18 11,689,512; ResNet-34 21,797,672;
/// ResNet-50 25,557,032; MobileNetV1 4,231,976; MobileNetV2 3,504,872.
/// Weights are drawn lazily, so building and summarising is cheap.
public enum Zoo {
    /// The names `network(named:)` accepts.
    public static let names = ["lenet5", "alexnet", "vgg16", "resnet18", "resnet34", "resnet50", "mobilenetv1",
                               "mobilenetv2", "googlenet", "unet"]

    /// A zoo network by name (see `names`) at its default size.
    ///
    /// - Throws: `ConvKitError` `.invalidArgument` for an unknown name.
    public static func network(named name: String, seed: UInt64 = 0) throws -> Network {
        switch name.lowercased() {
        case "lenet5", "lenet": return try lenet5(seed: seed)
        case "alexnet": return try alexnet(seed: seed)
        case "vgg16": return try vgg16(seed: seed)
        case "resnet18": return try resnet18(seed: seed)
        case "resnet34": return try resnet34(seed: seed)
        case "resnet50": return try resnet50(seed: seed)
        case "mobilenetv1", "mobilenet": return try mobilenetV1(seed: seed)
        case "mobilenetv2": return try mobilenetV2(seed: seed)
        case "googlenet", "inception": return try googlenet(seed: seed)
        case "unet": return try unet(seed: seed)
        default:
            throw ConvKitError(code: .invalidArgument,
                               message: "unknown network '\(name)'; known: \(names.joined(separator: ", "))")
        }
    }

    static func image(_ c: Int, _ size: Int) -> TensorShape { TensorShape(n: 1, c: c, h: size, w: size) }

    /// LeNet-5 as in the course: 32x32x1 input, C3 fully connected to S2 (a
    /// normal convolution), average-pooling subsampling, C5 as a 5x5 convolution.
    public static func lenet5(classes: Int = 10, activation: Activation = .tanh, inputSize: Int = 32,
                              seed: UInt64 = 0) throws -> Network {
        try Network(name: "lenet5", inputShape: image(1, inputSize), seed: seed) {
            Conv2D(6, kernel: 5, activation: activation, initializer: .glorotUniform, name: "c1")
            AvgPool2D(2, name: "s2")
            Conv2D(16, kernel: 5, activation: activation, initializer: .glorotUniform, name: "c3")
            AvgPool2D(2, name: "s4")
            Conv2D(120, kernel: 5, activation: activation, initializer: .glorotUniform, name: "c5")
            Flatten(name: "flatten")
            Dense(84, activation: activation, name: "f6")
            Dense(classes, name: "output")
        }
    }

    /// AlexNet with the original two-tower grouping (groups = 2 on conv2, conv4,
    /// conv5) and local response normalisation; 227x227x3 input.
    public static func alexnet(classes: Int = 1000, inputSize: Int = 227, seed: UInt64 = 0) throws -> Network {
        try Network(name: "alexnet", inputShape: image(3, inputSize), seed: seed) {
            Conv2D(96, kernel: 11, stride: 4, activation: .relu, name: "conv1")
            LRN(name: "norm1")
            MaxPool2D(3, stride: 2, name: "pool1")
            Conv2D(256, kernel: 5, padding: 2, groups: 2, activation: .relu, name: "conv2")
            LRN(name: "norm2")
            MaxPool2D(3, stride: 2, name: "pool2")
            Conv2D(384, kernel: 3, padding: 1, activation: .relu, name: "conv3")
            Conv2D(384, kernel: 3, padding: 1, groups: 2, activation: .relu, name: "conv4")
            Conv2D(256, kernel: 3, padding: 1, groups: 2, activation: .relu, name: "conv5")
            MaxPool2D(3, stride: 2, name: "pool5")
            Flatten(name: "flatten")
            Dense(4096, activation: .relu, initializer: .heNormal, name: "fc6")
            Dropout(0.5, name: "drop6")
            Dense(4096, activation: .relu, initializer: .heNormal, name: "fc7")
            Dropout(0.5, name: "drop7")
            Dense(classes, name: "fc8")
        }
    }

    /// VGG-16 (configuration D): thirteen 3x3 convolutions, five max pools, three dense layers.
    public static func vgg16(classes: Int = 1000, inputSize: Int = 224, seed: UInt64 = 0) throws -> Network {
        let stages = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]
        return try Network(name: "vgg16", inputShape: image(3, inputSize), seed: seed) {
            for (s, widths) in stages.enumerated() {
                for (i, w) in widths.enumerated() {
                    Conv2D(w, kernel: 3, padding: 1, activation: .relu, name: "conv\(s + 1)_\(i + 1)")
                }
                MaxPool2D(2, name: "pool\(s + 1)")
            }
            Flatten(name: "flatten")
            Dense(4096, activation: .relu, initializer: .heNormal, name: "fc6")
            Dropout(0.5, name: "drop6")
            Dense(4096, activation: .relu, initializer: .heNormal, name: "fc7")
            Dropout(0.5, name: "drop7")
            Dense(classes, name: "fc8")
        }
    }

    // MARK: ResNet

    /// ResNet-18 (basic blocks [2, 2, 2, 2]), torchvision layout.
    public static func resnet18(classes: Int = 1000, inputSize: Int = 224, seed: UInt64 = 0) throws -> Network {
        try resnet(name: "resnet18", blocks: [2, 2, 2, 2], bottleneck: false, classes: classes, inputSize: inputSize,
                   seed: seed)
    }

    /// ResNet-34 (basic blocks [3, 4, 6, 3]).
    public static func resnet34(classes: Int = 1000, inputSize: Int = 224, seed: UInt64 = 0) throws -> Network {
        try resnet(name: "resnet34", blocks: [3, 4, 6, 3], bottleneck: false, classes: classes, inputSize: inputSize,
                   seed: seed)
    }

    /// ResNet-50 (bottleneck blocks [3, 4, 6, 3], stride on the 3x3 convolution).
    public static func resnet50(classes: Int = 1000, inputSize: Int = 224, seed: UInt64 = 0) throws -> Network {
        try resnet(name: "resnet50", blocks: [3, 4, 6, 3], bottleneck: true, classes: classes, inputSize: inputSize,
                   seed: seed)
    }

    /// Conv (no bias) + BN + optional ReLU-family activation, as three layers.
    @discardableResult
    static func convBN(_ g: GraphBuilder, _ x: GraphNode, _ width: Int, kernel: Size2D, stride: Size2D = 1,
                       padding: PaddingMode, groups: Int = 1, depthwise: Bool = false, activation: Activation?,
                       name: String, bnName: String, actName: String) throws -> GraphNode {
        let conv = depthwise
            ? DepthwiseConv2D(kernel: kernel, stride: stride, padding: padding, bias: false, name: name)
            : Conv2D(width, kernel: kernel, stride: stride, padding: padding, groups: groups, bias: false, name: name)
        var y = try g(conv, x)
        y = try g(BatchNorm(name: bnName), y)
        if let activation { y = try g(ActivationLayer(activation, name: actName), y) }
        return y
    }

    static func resnet(name: String, blocks: [Int], bottleneck: Bool, classes: Int, inputSize: Int,
                       seed: UInt64) throws -> Network {
        let g = GraphBuilder(inputShape: image(3, inputSize), seed: seed)
        var x = try convBN(g, g.input, 64, kernel: 7, stride: 2, padding: 3, activation: .relu, name: "conv1",
                           bnName: "bn1", actName: "relu")
        x = try g(MaxPool2D(3, stride: 2, padding: 1, name: "maxpool"), x)
        var channels = 64
        for (stage, count) in blocks.enumerated() {
            let planes = 64 << stage
            for b in 0..<count {
                let p = "layer\(stage + 1).\(b)."
                let stride: Size2D = (b == 0 && stage > 0) ? 2 : 1
                let out = bottleneck ? planes * 4 : planes
                var y: GraphNode
                if bottleneck {
                    y = try convBN(g, x, planes, kernel: 1, padding: .valid, activation: .relu, name: p + "conv1",
                                   bnName: p + "bn1", actName: p + "relu1")
                    y = try convBN(g, y, planes, kernel: 3, stride: stride, padding: 1, activation: .relu,
                                   name: p + "conv2", bnName: p + "bn2", actName: p + "relu2")
                    y = try convBN(g, y, out, kernel: 1, padding: .valid, activation: nil, name: p + "conv3",
                                   bnName: p + "bn3", actName: "")
                } else {
                    y = try convBN(g, x, planes, kernel: 3, stride: stride, padding: 1, activation: .relu,
                                   name: p + "conv1", bnName: p + "bn1", actName: p + "relu1")
                    y = try convBN(g, y, planes, kernel: 3, padding: 1, activation: nil, name: p + "conv2",
                                   bnName: p + "bn2", actName: "")
                }
                var shortcut = x
                if stride != 1 || channels != out {
                    shortcut = try convBN(g, x, out, kernel: 1, stride: stride, padding: .valid, activation: nil,
                                          name: p + "downsample.0", bnName: p + "downsample.1", actName: "")
                }
                x = try g(Add(activation: .relu, name: p + "add"), y, shortcut)
                channels = out
            }
        }
        x = try g(GlobalAvgPool(name: "avgpool"), x)
        x = try g(Flatten(name: "flatten"), x)
        x = try g(Dense(classes, name: "fc"), x)
        return try Network(name: name, root: g.build(output: x, name: name), inputShape: g.input.shape, seed: seed)
    }

    // MARK: MobileNets

    /// MobileNetV1 (Keras layout: depthwise-separable blocks, BN + ReLU6, "same" padding).
    public static func mobilenetV1(classes: Int = 1000, inputSize: Int = 224, widthMultiplier: Double = 1,
                                   seed: UInt64 = 0) throws -> Network {
        func w(_ c: Int) -> Int { Int(Double(c) * widthMultiplier) }
        let blocks: [(Int, Int)] = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
                                    (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]
        let g = GraphBuilder(inputShape: image(3, inputSize), seed: seed)
        var x = try convBN(g, g.input, w(32), kernel: 3, stride: 2, padding: .same, activation: .relu6,
                           name: "conv1", bnName: "conv1_bn", actName: "conv1_relu")
        for (i, (width, stride)) in blocks.enumerated() {
            let p = "block\(i + 1)."
            x = try convBN(g, x, 0, kernel: 3, stride: Size2D.square(stride), padding: .same, depthwise: true,
                           activation: .relu6, name: p + "dw", bnName: p + "dw_bn", actName: p + "dw_relu")
            x = try convBN(g, x, w(width), kernel: 1, padding: .valid, activation: .relu6, name: p + "pw",
                           bnName: p + "pw_bn", actName: p + "pw_relu")
        }
        x = try g(GlobalAvgPool(name: "avgpool"), x)
        x = try g(Dropout(0.001, name: "dropout"), x)
        x = try g(Flatten(name: "flatten"), x)
        x = try g(Dense(classes, name: "classifier"), x)
        return try Network(name: "mobilenetv1", root: g.build(output: x, name: "mobilenetv1"),
                           inputShape: g.input.shape, seed: seed)
    }

    /// `v` scaled to a multiple of 8, never below 90% (torchvision's `_make_divisible`).
    static func divisible(_ v: Double, _ divisor: Int = 8) -> Int {
        var n = max(divisor, Int(v + Double(divisor) / 2) / divisor * divisor)
        if Double(n) < 0.9 * v { n += divisor }
        return n
    }

    /// MobileNetV2 (torchvision layout): inverted residual blocks with expansion 6,
    /// depthwise 3x3, linear bottleneck projection, residual add when shapes allow.
    public static func mobilenetV2(classes: Int = 1000, inputSize: Int = 224, widthMultiplier: Double = 1,
                                   seed: UInt64 = 0) throws -> Network {
        let settings: [(t: Int, c: Int, n: Int, s: Int)] = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2),
                                                             (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                                                             (6, 320, 1, 1)]
        let g = GraphBuilder(inputShape: image(3, inputSize), seed: seed)
        var channels = divisible(32 * widthMultiplier)
        var x = try convBN(g, g.input, channels, kernel: 3, stride: 2, padding: 1, activation: .relu6,
                           name: "features.0.conv", bnName: "features.0.bn", actName: "features.0.relu")
        var index = 1
        for s in settings {
            let out = divisible(Double(s.c) * widthMultiplier)
            for i in 0..<s.n {
                let p = "features.\(index)."
                let stride = i == 0 ? s.s : 1
                var y = x
                if s.t != 1 {
                    y = try convBN(g, y, channels * s.t, kernel: 1, padding: .valid, activation: .relu6,
                                   name: p + "expand", bnName: p + "expand_bn", actName: p + "expand_relu")
                }
                y = try convBN(g, y, 0, kernel: 3, stride: Size2D.square(stride), padding: 1, depthwise: true,
                               activation: .relu6, name: p + "dw", bnName: p + "dw_bn", actName: p + "dw_relu")
                y = try convBN(g, y, out, kernel: 1, padding: .valid, activation: nil, name: p + "project",
                               bnName: p + "project_bn", actName: "")
                if stride == 1 && channels == out { y = try g(Add(name: p + "add"), y, x) }
                x = y
                channels = out
                index += 1
            }
        }
        let last = widthMultiplier > 1 ? divisible(1280 * widthMultiplier) : 1280
        x = try convBN(g, x, last, kernel: 1, padding: .valid, activation: .relu6, name: "features.\(index).conv",
                       bnName: "features.\(index).bn", actName: "features.\(index).relu")
        x = try g(GlobalAvgPool(name: "avgpool"), x)
        x = try g(Dropout(0.2, name: "dropout"), x)
        x = try g(Flatten(name: "flatten"), x)
        x = try g(Dense(classes, name: "classifier"), x)
        return try Network(name: "mobilenetv2", root: g.build(output: x, name: "mobilenetv2"),
                           inputShape: g.input.shape, seed: seed)
    }

    // MARK: Inception

    /// The widths of an Inception (GoogLeNet v1) module: 1x1; 3x3 reduce, 3x3;
    /// 5x5 reduce, 5x5; pool projection.
    public struct InceptionWidths: Sendable {
        /// 1x1 branch.
        public var b1: Int
        /// 3x3 branch reduction and output.
        public var b3reduce: Int, b3: Int
        /// 5x5 branch reduction and output.
        public var b5reduce: Int, b5: Int
        /// Pool-projection branch.
        public var pool: Int
        /// Creates the widths.
        public init(_ b1: Int, _ b3reduce: Int, _ b3: Int, _ b5reduce: Int, _ b5: Int, _ pool: Int) {
            self.b1 = b1; self.b3reduce = b3reduce; self.b3 = b3; self.b5reduce = b5reduce; self.b5 = b5
            self.pool = pool
        }
        /// Output channels: the sum of the four branches.
        public var outputChannels: Int { b1 + b3 + b5 + pool }
    }

    /// Appends an Inception module (four branches joined by a `Concat`) to `g`.
    public static func inceptionModule(_ g: GraphBuilder, _ x: GraphNode, _ w: InceptionWidths,
                                       name: String) throws -> GraphNode {
        let p = name + "."
        let a = try g(Conv2D(w.b1, kernel: 1, activation: .relu, name: p + "branch1"), x)
        var b = try g(Conv2D(w.b3reduce, kernel: 1, activation: .relu, name: p + "branch2.reduce"), x)
        b = try g(Conv2D(w.b3, kernel: 3, padding: 1, activation: .relu, name: p + "branch2.conv"), b)
        var c = try g(Conv2D(w.b5reduce, kernel: 1, activation: .relu, name: p + "branch3.reduce"), x)
        c = try g(Conv2D(w.b5, kernel: 5, padding: 2, activation: .relu, name: p + "branch3.conv"), c)
        var d = try g(MaxPool2D(3, stride: 1, padding: 1, name: p + "branch4.pool"), x)
        d = try g(Conv2D(w.pool, kernel: 1, activation: .relu, name: p + "branch4.proj"), d)
        return try g(Concat(name: p + "concat"), a, b, c, d)
    }

    /// GoogLeNet (Inception v1, without the auxiliary classifiers): nine Inception modules.
    public static func googlenet(classes: Int = 1000, inputSize: Int = 224, seed: UInt64 = 0) throws -> Network {
        let g = GraphBuilder(inputShape: image(3, inputSize), seed: seed)
        var x = try g(Conv2D(64, kernel: 7, stride: 2, padding: 3, activation: .relu, name: "conv1"), g.input)
        x = try g(MaxPool2D(3, stride: 2, ceilMode: true, name: "pool1"), x)
        x = try g(LRN(name: "norm1"), x)
        x = try g(Conv2D(64, kernel: 1, activation: .relu, name: "conv2"), x)
        x = try g(Conv2D(192, kernel: 3, padding: 1, activation: .relu, name: "conv3"), x)
        x = try g(LRN(name: "norm2"), x)
        x = try g(MaxPool2D(3, stride: 2, ceilMode: true, name: "pool2"), x)
        x = try inceptionModule(g, x, InceptionWidths(64, 96, 128, 16, 32, 32), name: "inception3a")
        x = try inceptionModule(g, x, InceptionWidths(128, 128, 192, 32, 96, 64), name: "inception3b")
        x = try g(MaxPool2D(3, stride: 2, ceilMode: true, name: "pool3"), x)
        x = try inceptionModule(g, x, InceptionWidths(192, 96, 208, 16, 48, 64), name: "inception4a")
        x = try inceptionModule(g, x, InceptionWidths(160, 112, 224, 24, 64, 64), name: "inception4b")
        x = try inceptionModule(g, x, InceptionWidths(128, 128, 256, 24, 64, 64), name: "inception4c")
        x = try inceptionModule(g, x, InceptionWidths(112, 144, 288, 32, 64, 64), name: "inception4d")
        x = try inceptionModule(g, x, InceptionWidths(256, 160, 320, 32, 128, 128), name: "inception4e")
        x = try g(MaxPool2D(3, stride: 2, ceilMode: true, name: "pool4"), x)
        x = try inceptionModule(g, x, InceptionWidths(256, 160, 320, 32, 128, 128), name: "inception5a")
        x = try inceptionModule(g, x, InceptionWidths(384, 192, 384, 48, 128, 128), name: "inception5b")
        x = try g(GlobalAvgPool(name: "avgpool"), x)
        x = try g(Dropout(0.4, name: "dropout"), x)
        x = try g(Flatten(name: "flatten"), x)
        x = try g(Dense(classes, name: "fc"), x)
        return try Network(name: "googlenet", root: g.build(output: x, name: "googlenet"), inputShape: g.input.shape,
                           seed: seed)
    }

    // MARK: U-Net

    /// A small U-Net: `depth` down-sampling stages of two 3x3 convolutions (+ BN, ReLU),
    /// 2x2 max pooling, then 2x2 stride-2 transposed convolutions and skip
    /// concatenations back up, and a 1x1 convolution to `classes` channels.
    public static func unet(classes: Int = 2, inputChannels: Int = 1, inputSize: Int = 64, baseWidth: Int = 16,
                            depth: Int = 3, seed: UInt64 = 0) throws -> Network {
        let g = GraphBuilder(inputShape: image(inputChannels, inputSize), seed: seed)
        func double(_ x: GraphNode, _ width: Int, _ p: String) throws -> GraphNode {
            var y = try convBN(g, x, width, kernel: 3, padding: 1, activation: .relu, name: p + ".conv1",
                               bnName: p + ".bn1", actName: p + ".relu1")
            y = try convBN(g, y, width, kernel: 3, padding: 1, activation: .relu, name: p + ".conv2",
                           bnName: p + ".bn2", actName: p + ".relu2")
            return y
        }
        var skips: [GraphNode] = []
        var x = g.input
        for d in 0..<depth {
            x = try double(x, baseWidth << d, "down\(d + 1)")
            skips.append(x)
            x = try g(MaxPool2D(2, name: "down\(d + 1).pool"), x)
        }
        x = try double(x, baseWidth << depth, "bottleneck")
        for d in (0..<depth).reversed() {
            x = try g(ConvTranspose2D(baseWidth << d, kernel: 2, stride: 2, name: "up\(d + 1).upconv"), x)
            x = try g(Concat(name: "up\(d + 1).concat"), skips[d], x)
            x = try double(x, baseWidth << d, "up\(d + 1)")
        }
        x = try g(Conv2D(classes, kernel: 1, name: "head"), x)
        return try Network(name: "unet", root: g.build(output: x, name: "unet"), inputShape: g.input.shape, seed: seed)
    }
}
