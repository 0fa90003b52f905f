import ConvKit
import Foundation
import Testing

@Suite("Descriptors")
struct DescriptorTests {
    @Test("SAME padding gives ceil(input/stride) outputs, extra padding at the bottom/right",
          arguments: [(5, 3, 1, 1), (6, 3, 2, 1), (7, 3, 2, 1), (224, 7, 2, 1), (8, 2, 2, 1), (9, 3, 1, 2),
                      (10, 4, 3, 1), (1, 5, 1, 1), (13, 1, 2, 1)])
    func samePadding(input: Int, kernel: Int, stride: Int, dilation: Int) throws {
        let p = Padding.same(inputHeight: input, inputWidth: input + 1, kernel: Size2D(kernel, kernel),
                             stride: Size2D(stride, stride), dilation: Size2D(dilation, dilation))
        #expect(p.bottom - p.top == 0 || p.bottom - p.top == 1)
        #expect(p.right - p.left == 0 || p.right - p.left == 1)
        let d = try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: 1, h: input, w: input + 1), outputChannels: 1,
                                     kernel: Size2D(kernel, kernel), stride: Size2D(stride, stride), padding: p,
                                     dilation: Size2D(dilation, dilation))
        #expect(d.outputShape.h == (input + stride - 1) / stride)
        #expect(d.outputShape.w == (input + 1 + stride - 1) / stride)
    }

    @Test("SAME padding matches TensorFlow on known cases")
    func sameKnown() {
        // TF: in 224, k 7, s 2 -> out 112, total pad 5 -> top 2, bottom 3.
        #expect(Padding.same(inputHeight: 224, inputWidth: 224, kernel: 7, stride: 2)
            == Padding(top: 2, left: 2, bottom: 3, right: 3))
        // in 8, k 2, s 2 -> no padding.
        #expect(Padding.same(inputHeight: 8, inputWidth: 8, kernel: 2, stride: 2) == .valid)
        // in 5, k 3, s 2 -> out 3, total 2 -> 1/1.
        #expect(Padding.same(inputHeight: 5, inputWidth: 5, kernel: 3, stride: 2) == .symmetric(1))
    }

    @Test("Valid padding: output = floor((in - dilation*(k-1) - 1)/stride) + 1")
    func validPadding() throws {
        for (h, k, s, d) in [(7, 3, 1, 1), (7, 3, 2, 1), (10, 3, 3, 2), (227, 11, 4, 1), (5, 5, 1, 1)] {
            let desc = try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: 1, h: h, w: h), outputChannels: 1,
                                            kernel: Size2D(k, k), stride: Size2D(s, s), padding: .valid,
                                            dilation: Size2D(d, d))
            #expect(desc.outputShape.h == (h - d * (k - 1) - 1) / s + 1)
        }
    }

    @Test("Codable round-trips of every descriptor and the options")
    func codableRoundTrip() throws {
        let conv = try Conv2DDescriptor(inputShape: TensorShape(n: 2, c: 8, h: 17, w: 15), outputChannels: 4,
                                        kernel: Size2D(3, 5), stride: Size2D(2, 1),
                                        padding: Padding(top: 1, left: 2, bottom: 0, right: 2), dilation: Size2D(1, 2),
                                        groups: 2, hasBias: true, activation: .leakyReLU(alpha: 0.2), layout: .nhwc)
        let deconv = try ConvTranspose2DDescriptor(inputShape: TensorShape(n: 1, c: 4, h: 5, w: 5), outputChannels: 2,
                                                   kernel: 3, stride: 2, padding: .symmetric(1), outputPadding: 1,
                                                   hasBias: true, activation: .tanh, layout: .nchw8c)
        let pool = try Pool2DDescriptor(kind: .average, inputShape: TensorShape(n: 1, c: 3, h: 9, w: 9), window: 3,
                                        stride: 2, padding: .symmetric(1), ceilMode: true, countIncludePad: true)
        let dense = try DenseDescriptor(batch: 4, inputFeatures: 9, outputFeatures: 3, activation: .sigmoid)
        let options = PlanOptions(algorithm: .winogradF6, threads: 2, allowWinograd: false, fastMath: true,
                                  workspaceLimit: 1 << 20)
        let encoder = JSONEncoder(), decoder = JSONDecoder()
        #expect(try decoder.decode(Conv2DDescriptor.self, from: encoder.encode(conv)) == conv)
        #expect(try decoder.decode(ConvTranspose2DDescriptor.self, from: encoder.encode(deconv)) == deconv)
        #expect(try decoder.decode(Pool2DDescriptor.self, from: encoder.encode(pool)) == pool)
        #expect(try decoder.decode(DenseDescriptor.self, from: encoder.encode(dense)) == dense)
        #expect(try decoder.decode(PlanOptions.self, from: encoder.encode(options)) == options)
        #expect(try decoder.decode(TensorShape.self, from: encoder.encode(conv.outputShape)) == conv.outputShape)
        // Descriptors are Hashable: equal descriptors collapse in a set.
        let again = try decoder.decode(Conv2DDescriptor.self, from: encoder.encode(conv))
        #expect(Set([conv, again]).count == 1)
    }

    @Test("Decoding fills defaults and re-validates")
    func decodingValidates() throws {
        let minimal = #"{"inputShape":{"n":1,"c":3,"h":8,"w":8},"outputChannels":4,"kernel":{"height":3,"width":3}}"#
        let d = try JSONDecoder().decode(Conv2DDescriptor.self, from: Data(minimal.utf8))
        #expect(d.stride == Size2D(1, 1))
        #expect(d.groups == 1)
        #expect(d.padding == Padding.valid)
        #expect(d.layout == Layout.nchw)
        #expect(!d.hasBias)
        #expect(d.outputShape == TensorShape(n: 1, c: 4, h: 6, w: 6))

        let badGroups = #"{"inputShape":{"n":1,"c":3,"h":8,"w":8},"outputChannels":4,"kernel":{"height":3,"width":3},"groups":2}"#
        let error = #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Conv2DDescriptor.self, from: Data(badGroups.utf8))
        }
        guard case .dataCorrupted(let context)? = error else {
            Issue.record("expected dataCorrupted, got \(String(describing: error))")
            return
        }
        #expect((context.underlyingError as? ConvKitError)?.code == .invalidGroups)

        let badPool = #"{"kind":"max","inputShape":{"n":1,"c":1,"h":2,"w":2},"window":{"height":3,"width":3}}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Pool2DDescriptor.self, from: Data(badPool.utf8)) }
        let badDense = #"{"batch":0,"inputFeatures":1,"outputFeatures":1}"#
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(DenseDescriptor.self, from: Data(badDense.utf8))
        }
    }

    @Test("Depthwise and grouped counts")
    func groupedCounts() throws {
        let dw = try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: 32, h: 112, w: 112), outputChannels: 32,
                                      kernel: 3, padding: .symmetric(1), groups: 32)
        #expect(dw.isDepthwise)
        #expect(dw.weightShape == TensorShape(n: 32, c: 1, h: 3, w: 3))
        #expect(dw.parameterCount == 288)
        let dwFlops: Double = 2 * 32 * 9 * 112 * 112
        #expect(dw.flops == dwFlops)
        // AlexNet conv2 (two towers): 256 filters 5x5 over 96 channels in 2 groups.
        let conv2 = try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: 96, h: 27, w: 27), outputChannels: 256,
                                         kernel: 5, padding: .symmetric(2), groups: 2, hasBias: true)
        #expect(conv2.parameterCount == 307_456)
        #expect(conv2.outputShape == TensorShape(n: 1, c: 256, h: 27, w: 27))
        let fc = try DenseDescriptor(batch: 1, inputFeatures: 9216, outputFeatures: 4096)
        #expect(fc.parameterCount == 37_752_832)
    }

    @Test("Algorithm raw values are the C core's names")
    func algorithmNames() throws {
        #expect(Algorithm.allCases.map(\.rawValue)
            == ["auto", "reference", "im2col", "direct", "winograd-f2", "winograd-f4", "winograd-f6", "depthwise"])
        for a in Algorithm.allCases {
            let d = try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: 8, h: 8, w: 8), outputChannels: 8, kernel: 3)
            if d.isApplicable(a) {
                let plan = try Conv2DPlan(descriptor: d, weights: Array(repeating: 0, count: d.weightCount),
                                          options: PlanOptions(algorithm: a))
                #expect(a == .auto || plan.algorithm == a)
                #expect(plan.algorithm != .auto)
                #expect(!plan.implementationName.isEmpty)
            }
        }
    }
}
