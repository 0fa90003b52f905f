import ConvKit
import Testing

/// The worked examples of the course material (issue 2), through the Swift API.
@Suite("Worked examples")
struct WorkedExampleTests {
    static let image6x6: [[Float]] = [
        [1, 4, 12, 11, 0, 2], [9, 15, 3, 0, 4, 17], [1, 4, 8, 6, 6, 10],
        [16, 10, 0, 11, 13, 6], [0, 2, 9, 3, 0, 8], [2, 14, 12, 5, 14, 1],
    ]
    static let filter3x3: [[Float]] = [[3, 0, 8], [1, 5, 10], [0, 2, 9]]
    static let edgeImage: [[Float]] = Array(repeating: [10, 10, 10, 0, 0, 0], count: 6)

    @Test("6x6 image, 3x3 filter, valid", arguments: Algorithm.allCases)
    func sixBySixValid(algorithm: Algorithm) throws {
        let d = try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: 1, h: 6, w: 6), outputChannels: 1, kernel: 3)
        guard d.isApplicable(algorithm) else { return }  // only the algorithms that accept the shape
        let y = try convolve(Self.image6x6, Self.filter3x3, options: PlanOptions(algorithm: algorithm))
        let expected: [[Float]] = [[293, 200, 145, 341], [172, 248, 278, 352], [218, 225, 263, 306], [284, 264, 264, 201]]
        if algorithm == .reference {
            #expect(y == expected)  // the reference accumulates in double: exact
        } else {
            #expect(approximatelyEqual(y, expected), "\(y)")
        }
    }

    @Test("6x6 image, 3x3 filter, stride 2")
    func sixBySixStride2() throws {
        #expect(approximatelyEqual(try convolve(Self.image6x6, Self.filter3x3, stride: 2), [[293, 145], [218, 263]]))
    }

    @Test("6x6 image, 3x3 filter, zero padding 1 (same)")
    func sixBySixPadded() throws {
        let padding = Padding.same(inputHeight: 6, inputWidth: 6, kernel: 3)
        #expect(padding == .symmetric(1))
        let y = try convolve(Self.image6x6, Self.filter3x3, padding: padding)
        #expect(y.count == 6 && y.allSatisfy { $0.count == 6 })
        #expect(approximatelyEqual([y[0]], [[198, 198, 180, 103, 192, 44]]), "\(y)")
        #expect(approximatelyEqual([y[5]], [[166, 264, 154, 204, 158, 19]]), "\(y)")
        // the interior equals the valid convolution
        #expect(approximatelyEqual([Array(y[1][1...4])], [[293, 200, 145, 341]]), "\(y)")
    }

    @Test("5x5 upper-triangular ones with [[1,1,1],[1,4,1],[1,1,1]]")
    func upperTriangular() throws {
        let image: [[Float]] = (0..<5).map { i in (0..<5).map { j in j >= i ? 1 : 0 } }
        let y = try convolve(image, [[1, 1, 1], [1, 4, 1], [1, 1, 1]])
        #expect(approximatelyEqual(y, [[9, 11, 12], [3, 9, 11], [1, 3, 9]]), "\(y)")
    }

    @Test("5x5 binary image with the X filter")
    func binaryImage() throws {
        let image: [[Float]] = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
        let y = try convolve(image, [[1, 0, 1], [0, 1, 0], [1, 0, 1]])
        #expect(approximatelyEqual(y, [[4, 3, 4], [2, 4, 3], [2, 3, 4]]), "\(y)")
    }

    @Test("Vertical edge detector on the 10|0 image")
    func verticalEdge() throws {
        let y = try convolve(Self.edgeImage, [[1, 0, -1], [1, 0, -1], [1, 0, -1]])
        #expect(approximatelyEqual(y, Array(repeating: [0, 30, 30, 0], count: 4)), "\(y)")
    }

    @Test("Sobel and Scharr as ordinary filters")
    func sobelAndScharr() throws {
        let sobel: [[Float]] = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
        let scharr: [[Float]] = [[3, 0, -3], [10, 0, -10], [3, 0, -3]]
        // On the 10|0 image: column weights sum to 4 (Sobel) and 16 (Scharr), times 10.
        #expect(approximatelyEqual(try convolve(Self.edgeImage, sobel), Array(repeating: [0, 40, 40, 0], count: 4)))
        #expect(approximatelyEqual(try convolve(Self.edgeImage, scharr), Array(repeating: [0, 160, 160, 0], count: 4)))
        // On the 6x6 image (hand-checked: top-left Sobel = 1-12 + 2*9-2*3 + 1-8 = -6).
        #expect(approximatelyEqual(try convolve(Self.image6x6, sobel),
                                   [[-6, 21, 12, -29], [8, 10, -10, -20], [16, -5, -15, 1], [-12, 6, 3, -1]]))
        #expect(approximatelyEqual(try convolve(Self.image6x6, scharr),
                                   [[6, 123, 32, -155], [-4, 22, -22, -76], [112, -19, -97, 23], [-72, 14, 45, -23]]))
    }

    @Test("Pooling 4x4, 2x2 window, stride 2", arguments: [Layout.nchw, .nhwc, .nchw8c])
    func pooling(layout: Layout) throws {
        let x = try Tensor(image: [[1, 4, 2, 11], [6, 13, 8, 3], [10, 0, 17, 7], [9, 2, 3, 5]], layout: layout)
        let maxPool = try Pool2DPlan(descriptor: Pool2DDescriptor(kind: .max, inputShape: x.shape, window: 2,
                                                                  stride: 2, layout: layout))
        let avgPool = try Pool2DPlan(descriptor: Pool2DDescriptor(kind: .average, inputShape: x.shape, window: 2,
                                                                  layout: layout))
        #expect(try maxPool(x).plane() == [[13, 11], [10, 17]])
        #expect(try avgPool(x).plane() == [[6, 6], [5.25, 8]])
    }

    @Test("Ten 3x3x3 filters with bias have 280 parameters")
    func tenFiltersParameterCount() throws {
        let d = try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: 3, h: 32, w: 32), outputChannels: 10,
                                     kernel: 3, hasBias: true)
        #expect(d.weightCount == 270)
        #expect(d.biasCount == 10)
        #expect(d.parameterCount == 280)
    }

    @Test("AlexNet conv1: 227x227x3, 96 filters 11x11 stride 4")
    func alexNetConv1() throws {
        let d = try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: 3, h: 227, w: 227), outputChannels: 96,
                                     kernel: 11, stride: 4, hasBias: true, layout: .nhwc)
        #expect(d.outputShape == TensorShape(n: 1, c: 96, h: 55, w: 55))
        #expect(d.weightCount == 34_848)
        #expect(d.biasCount == 96)
        #expect(d.parameterCount == 34_944)
        #expect(d.weightShape == TensorShape(n: 96, c: 3, h: 11, w: 11))
        let flops: Double = 2 * 34_848 * 55 * 55
        #expect(d.flops == flops)
    }

    @Test("6x6x3 input with two 3x3x3 filters gives 4x4x2")
    func sixBySixByThree() throws {
        var rng = SeededGenerator(seed: 3)
        let x = try randomTensor(TensorShape(n: 1, c: 3, h: 6, w: 6), using: &rng)
        let d = try Conv2DDescriptor(inputShape: x.shape, outputChannels: 2, kernel: 3)
        #expect(d.outputShape == TensorShape(n: 1, c: 2, h: 4, w: 4))
        let w = [Float].random(count: d.weightCount, using: &rng)
        let y = try Conv2DPlan(descriptor: d, weights: w)(x)
        #expect(y.shape == d.outputShape)
        let expected = try Tensor(shape: d.outputShape, values: naiveConv(x, d, weights: w, bias: nil))
        #expect(y.maxAbsDifference(expected) < 1e-5)
    }
}
