import ConvKit
import Foundation
import Testing

@testable import ConvKitNN

@Suite struct TrainingTests {
    // MARK: Losses

    @Test func softmaxCrossEntropyMatchesADirectComputation() throws {
        let logits = try Tensor(shape: TensorShape(n: 2, c: 3, h: 1, w: 1), values: [1, 2, 3, 1000, 0, -1000])
        let (loss, grad, correct) = try Loss.softmaxCrossEntropy.evaluate(logits, labels: [0, 0])
        let e = [exp(-2.0), exp(-1.0), 1.0]
        let p0 = e.map { $0 / e.reduce(0, +) }
        #expect(abs(Double(loss) - (-log(p0[0]) + 0) / 2) < 1e-5)
        #expect(abs(Double(grad.storage[0]) - (p0[0] - 1) / 2) < 1e-6)
        #expect(abs(Double(grad.storage[2]) - p0[2] / 2) < 1e-6)
        #expect(grad.storage[3...].allSatisfy { abs($0) < 1e-6 })  // confident and right
        #expect(correct == 1)
        #expect(throws: ConvKitError.self) { try Loss.softmaxCrossEntropy.evaluate(logits, labels: [0, 3]) }
    }

    @Test func meanSquaredErrorGradientIsFiniteDifferenceExact() throws {
        let y = try Tensor(shape: TensorShape(n: 1, c: 4, h: 1, w: 1), values: [0.5, -1, 2, 0])
        let t = try Tensor(shape: y.shape, values: [0, 0, 1, 0])  // one-hot of label 2
        let (loss, grad) = try Loss.meanSquaredError(y, target: t)
        #expect(abs(loss - (0.25 + 1 + 1 + 0) / 4) < 1e-6)
        #expect(grad.storage == [0.25, -0.5, 0.5, 0])
        let (l2, g2, _) = try Loss.meanSquaredError.evaluate(y, labels: [2])
        #expect(abs(l2 - loss) < 1e-6 && g2 == grad)
    }

    // MARK: Optimisers and schedules

    @Test func sgdMomentumAndWeightDecayFollowPyTorch() throws {
        let p = Parameter(name: "w", shape: [2], initializer: .constant(1))
        let sgd = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        p.gradient = [1, -1]
        try sgd.update([p])
        // g = grad + 0.01 * 1; v = g; w = 1 - 0.1 * g
        #expect(abs(p.values[0] - (1 - 0.1 * 1.01)) < 1e-6)
        let w1 = p.values
        try sgd.update([p])
        let g = 1 + 0.01 * w1[0], v = 0.9 * 1.01 + g
        #expect(abs(p.values[0] - (w1[0] - 0.1 * v)) < 1e-6)
        #expect(p.version == 2)
    }

    @Test func adamFirstStepIsLearningRateTimesSign() throws {
        let p = Parameter(name: "w", shape: [3], initializer: .constant(0))
        let adam = Adam(learningRate: 0.01)
        p.gradient = [5, -0.001, 0]
        try adam.update([p])
        #expect(abs(p.values[0] + 0.01) < 1e-5)
        #expect(abs(p.values[1] - 0.01) < 1e-4)
        #expect(p.values[2] == 0)
    }

    @Test func optimisersMinimiseAQuadratic() throws {
        for opt in [SGD(learningRate: 0.1, momentum: 0.9) as any Optimizer, Adam(learningRate: 0.1)] {
            let p = Parameter(name: "w", shape: [2], initializer: .constant(3))
            for _ in 0..<200 {
                p.gradient = p.values.map { 2 * ($0 - 1) }  // d/dw (w - 1)^2
                try opt.update([p])
            }
            #expect(p.values.allSatisfy { abs($0 - 1) < 1e-2 }, "\(type(of: opt))")
        }
    }

    @Test func learningRateSchedules() {
        #expect(LearningRateSchedule.constant.rate(base: 0.1, epoch: 7) == 0.1)
        let step = LearningRateSchedule.step(every: 3, factor: 0.1)
        #expect(step.rate(base: 1, epoch: 2) == 1)
        #expect(abs(step.rate(base: 1, epoch: 3) - 0.1) < 1e-7)
        #expect(abs(step.rate(base: 1, epoch: 6) - 0.01) < 1e-7)
        let cosine = LearningRateSchedule.cosine(epochs: 10, minimum: 0.001)
        #expect(cosine.rate(base: 0.1, epoch: 0) == 0.1)
        #expect(abs(cosine.rate(base: 0.1, epoch: 5) - 0.0505) < 1e-6)
        #expect(abs(cosine.rate(base: 0.1, epoch: 10) - 0.001) < 1e-7)
    }

    // MARK: Data pipeline

    static func tinyDataset() throws -> Dataset {
        try Dataset(images: (0..<(10 * 2 * 3 * 4)).map(Float.init), labels: (0..<10).map { Int32($0 % 3) },
                    channels: 2, height: 3, width: 4, classes: 3)
    }

    @Test func loaderShufflesReproduciblyAndCoversEveryImage() throws {
        let data = try Self.tinyDataset()
        let loader = DataLoader(data, batchSize: 4, shuffle: true, seed: 9)
        #expect(loader.batchCount == 3)
        let e0 = loader.order(epoch: 0), e1 = loader.order(epoch: 1)
        #expect(e0.sorted() == Array(0..<10) && e1.sorted() == Array(0..<10))
        #expect(e0 != e1)
        #expect(e0 == DataLoader(data, batchSize: 4, shuffle: true, seed: 9).order(epoch: 0))
        #expect(e0 != DataLoader(data, batchSize: 4, shuffle: true, seed: 10).order(epoch: 0))
        let batches = try loader.batches(epoch: 0)
        #expect(batches.map(\.images.shape.n) == [4, 4, 2])
        #expect(batches[0].labels == e0[0..<4].map { data.labels[$0] })
        // The first image of the first batch is image e0[0].
        #expect(batches[0].images.storage[0] == Float(e0[0] * 24))
        #expect(DataLoader(data, batchSize: 4, dropLast: true).batchCount == 2)
    }

    @Test func augmentationMirrorsCropsAndShiftsWithASeed() throws {
        let image: [Float] = (0..<12).map(Float.init)  // 1 x 3 x 4
        var g = SeededGenerator(seed: 1)
        // Mirror: every output is either the image or its row-reversal.
        let mirror = Augmentation(horizontalFlip: true)
        var flipped = 0
        for _ in 0..<32 {
            let out = mirror.apply(image, channels: 1, height: 3, width: 4, generator: &g)
            if out == image { continue }
            #expect(out == [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8])
            flipped += 1
        }
        #expect(flipped > 4 && flipped < 28)
        // Crop with padding: a shifted copy with zeros entering at the border.
        let crop = Augmentation(cropPadding: 1)
        for _ in 0..<16 {
            let out = crop.apply(image, channels: 1, height: 3, width: 4, generator: &g)
            let nonzero = out.filter { $0 != 0 }
            #expect(nonzero.allSatisfy { image.contains($0) })
            #expect(nonzero.count >= 6)
        }
        // Brightness: one shift for all pixels, within the bound.
        let bright = Augmentation(brightness: 0.5)
        let out = bright.apply(image, channels: 1, height: 3, width: 4, generator: &g)
        let shift = out[0] - image[0]
        #expect(abs(shift) <= 0.5)
        #expect(zip(out, image).allSatisfy { abs($0 - $1 - shift) < 1e-6 })
        // Same seed, same result.
        var a = SeededGenerator(seed: 5), b = SeededGenerator(seed: 5)
        let all = Augmentation(cropPadding: 1, horizontalFlip: true, brightness: 0.2, colorShift: 0.1)
        #expect(all.apply(image, channels: 1, height: 3, width: 4, generator: &a)
                == all.apply(image, channels: 1, height: 3, width: 4, generator: &b))
    }

    // MARK: Transfer learning

    @Test func replacingTheHeadKeepsTheBackboneWeights() throws {
        let net = try TrainingModels.digitsCNN(seed: 3)
        let before = try net.namedParameters().first { $0.name == "conv1.weight" }!.parameter.values
        let five = try net.replacingHead(with: Dense(5, name: "fc5"), seed: 4)
        #expect(five.outputShape.c == 5)
        let after = try five.namedParameters().first { $0.name == "conv1.weight" }!.parameter.values
        #expect(before == after)
        try five.freezeAllButHead()
        let trainer = Trainer(network: five, optimizer: SGD(learningRate: 0.1))
        var g = SeededGenerator(seed: 2)
        let x = try Tensor(shape: TensorShape(n: 4, c: 1, h: 8, w: 8), values: GradientCheck.random(256, &g))
        let head = try five.namedParameters().first { $0.name == "fc5.weight" }!.parameter
        let headBefore = head.values
        _ = try trainer.step(images: x, labels: [0, 1, 2, 4])
        #expect(try five.namedParameters().first { $0.name == "conv1.weight" }!.parameter.values == before)
        #expect(head.values != headBefore)

        // A graph root (ResNet-style) too.
        let g2 = GraphBuilder(inputShape: TensorShape(n: 1, c: 1, h: 4, w: 4), seed: 1)
        let c = try g2(Conv2D(2, kernel: 3, padding: 1, name: "conv"), g2.input)
        let s = try g2(Add(name: "add"), c, c)
        let p = try g2(GlobalAvgPool(name: "gap"), s)
        let f = try g2(Flatten(name: "flat"), p)
        let d = try g2(Dense(3, name: "fc"), f)
        let resnetish = try Network(root: g2.build(output: d, name: "g"), inputShape: g2.input.shape)
        let seven = try resnetish.replacingHead(with: Dense(7), seed: 2)
        #expect(seven.outputShape.c == 7)
        #expect(try seven.namedParameters().map(\.name).contains("fc.weight"))
    }

    // MARK: The digits data set

    static func digitsURL(_ file: String = #filePath) -> URL {
        URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Datasets/digits/digits.csv")
    }

    @Test func digitsLoadAndSplit() throws {
        let data = try Dataset.digits(contentsOf: Self.digitsURL())
        #expect(data.count == 1797 && data.imageSize == 64 && data.classes == 10)
        #expect(data.images.allSatisfy { $0 >= 0 && $0 <= 1 })
        let (train, test) = try data.digitsSplit()
        #expect(train.count == 1437 && test.count == 360)
        #expect(Set(test.labels).count == 10)
        #expect(data.labels[0] == 0 && data.labels[1] == 1)  // the file starts 0, 1, 2, ...
    }

    @Test func digitsTrainingLearns() throws {
        let data = try Dataset.digits(contentsOf: Self.digitsURL())
        let (train, test) = try data.digitsSplit()
        let net = try TrainingModels.digitsCNN(seed: 1)
        let trainer = Trainer(network: net, optimizer: SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4),
                              schedule: .cosine(epochs: 3), threads: 2, seed: 1)
        let reports = try trainer.fit(train: train, test: test, epochs: 3, batchSize: 32,
                                      augmentation: Augmentation(cropPadding: 1), shuffleSeed: 1)
        #expect(reports.count == 3)
        #expect(reports.last!.trainLoss < reports.first!.trainLoss)
        #expect(reports.last!.trainLoss < 1.0)
        #expect((reports.last!.testAccuracy ?? 0) >= 0.8, "\(reports)")
    }
}

@Suite struct TrainingBenchmarkTests {
    @Test func trainingStepsRunOnSequentialAndGraphNetworks() throws {
        let lenet = try Zoo.lenet5(seed: 1)
        #expect(try TrainingBenchmark.imagesPerSecond(network: lenet, batch: 4, steps: 1, warmup: 0, threads: 1) > 0)
        let resnet = try Zoo.resnet18(classes: 10, inputSize: 32, seed: 1)
        let before = try resnet.namedParameters().first { $0.name.hasSuffix("layer1.0.conv1.weight") }!.parameter.values
        #expect(try TrainingBenchmark.imagesPerSecond(network: resnet, batch: 2, steps: 1, warmup: 0, threads: 1) > 0)
        let after = try resnet.namedParameters().first { $0.name.hasSuffix("layer1.0.conv1.weight") }!.parameter.values
        #expect(before != after)
    }
}
