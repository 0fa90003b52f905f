import ConvKit
import Testing

@testable import ConvKitNN

@Suite struct ZooTests {
    @Test(arguments: [
        ("lenet5", 61_706), ("alexnet", 60_965_224), ("vgg16", 138_357_544), ("resnet18", 11_689_512),
        ("resnet34", 21_797_672), ("resnet50", 25_557_032), ("mobilenetv1", 4_231_976),
        ("mobilenetv2", 3_504_872),
    ])
    func publishedParameterCounts(name: String, expected: Int) throws {
        let net = try Zoo.network(named: name)
        let summary = try net.summary()
        #expect(summary.trainableParameters == expected, "\(name)")
        #expect(net.trainableParameterCount == expected, "\(name)")
        #expect(summary.description.hasSuffix("Total trainable parameters: \(expected)"))
    }

    @Test func googlenetAndUNetBuildAndSummarise() throws {
        let g = try Zoo.googlenet()
        let s = try g.summary()
        #expect(s.rows.last?.outputShape == TensorShape(n: 1, c: 1000, h: 1, w: 1))
        #expect(s.rows.first { $0.path == "inception3a.concat" }?.outputShape == TensorShape(n: 1, c: 256, h: 28, w: 28))
        #expect(s.rows.first { $0.path == "inception5b.concat" }?.outputShape == TensorShape(n: 1, c: 1024, h: 7, w: 7))
        let u = try Zoo.unet()
        #expect(u.outputShape == TensorShape(n: 1, c: 2, h: 64, w: 64))
        #expect(try u.summary().trainableParameters > 0)
    }

    @Test func courseArithmeticShapes() throws {
        let alex = try Zoo.alexnet().summary()
        func shape(_ path: String) -> TensorShape? { alex.rows.first { $0.path == path }?.outputShape }
        #expect(shape("conv1") == TensorShape(n: 1, c: 96, h: 55, w: 55))
        #expect(shape("pool1") == TensorShape(n: 1, c: 96, h: 27, w: 27))
        #expect(shape("conv2") == TensorShape(n: 1, c: 256, h: 27, w: 27))
        #expect(shape("pool2") == TensorShape(n: 1, c: 256, h: 13, w: 13))
        #expect(shape("conv5") == TensorShape(n: 1, c: 256, h: 13, w: 13))
        #expect(shape("flatten") == TensorShape(n: 1, c: 9216, h: 1, w: 1))
        let lenet = try Zoo.lenet5().summary()
        #expect(lenet.rows.map(\.outputShape.c) == [6, 6, 16, 16, 120, 120, 84, 10])
        #expect(lenet.rows[2].outputShape.h == 10 && lenet.rows[4].outputShape.h == 1)
        let r18 = try Zoo.resnet18().summary()
        #expect(r18.rows.first { $0.path == "maxpool" }?.outputShape == TensorShape(n: 1, c: 64, h: 56, w: 56))
        #expect(r18.rows.first { $0.path == "layer4.1.add" }?.outputShape == TensorShape(n: 1, c: 512, h: 7, w: 7))
        let v2 = try Zoo.mobilenetV2().summary()
        #expect(v2.rows.first { $0.path == "features.18.conv" }?.outputShape == TensorShape(n: 1, c: 1280, h: 7, w: 7))
    }

    @Test func wiringErrorsNameTheLayerAndShapes() throws {
        let g = GraphBuilder(inputShape: TensorShape(n: 1, c: 3, h: 8, w: 8))
        let a = try g(Conv2D(4, kernel: 3, name: "a"), g.input)
        do {
            _ = try g(Add(name: "bad_add"), a, g.input)
            Issue.record("expected a wiring error")
        } catch let e as ConvKitError {
            #expect(e.code == .invalidShape)
            #expect(e.message.contains("bad_add") && e.message.contains("1x4x6x6") && e.message.contains("1x3x8x8"))
        }
        let dense = Dense(10, inputFeatures: 5, name: "head")
        #expect(throws: ConvKitError.self) {
            _ = try Network(inputShape: TensorShape(n: 1, c: 2, h: 2, w: 2)) { dense }
        }
        let dup = GraphBuilder(inputShape: TensorShape(n: 1, c: 3, h: 8, w: 8))
        try dup(ReLU(name: "r"), dup.input)
        #expect(throws: ConvKitError.self) { try dup(ReLU(name: "r"), dup.input) }
    }

    @Test func sequentialResultBuilderAndForward() throws {
        let net = try Network(name: "tiny", inputShape: TensorShape(n: 1, c: 1, h: 8, w: 8), seed: 3) {
            Conv2D(8, kernel: 3, padding: .same, activation: .relu)
            if true { MaxPool2D(2) }
            for _ in 0..<2 { Conv2D(8, kernel: 1) }
            Flatten()
            Dense(10)
            Softmax()
        }
        let x = try Tensor(shape: TensorShape(n: 2, c: 1, h: 8, w: 8), values: (0..<128).map { Float($0) / 128 })
        let y = try net(x)
        #expect(y.shape == TensorShape(n: 2, c: 10, h: 1, w: 1))
        let sums = (0..<2).map { n in (0..<10).reduce(Float(0)) { $0 + y[n, $1, 0, 0] } }
        #expect(sums.allSatisfy { abs($0 - 1) < 1e-5 })
        // Reproducible initialisation.
        let again = try Network(name: "tiny", inputShape: TensorShape(n: 1, c: 1, h: 8, w: 8), seed: 3) {
            Conv2D(8, kernel: 3, padding: .same, activation: .relu)
            MaxPool2D(2)
            for _ in 0..<2 { Conv2D(8, kernel: 1) }
            Flatten()
            Dense(10)
            Softmax()
        }
        #expect(try again(x) == y)
    }
}
