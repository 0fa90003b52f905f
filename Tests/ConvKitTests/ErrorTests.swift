import ConvKit
import Testing

/// Runs `body`, expecting a `ConvKitError` with `code`; returns its message.
@discardableResult
func expectError(_ code: ConvKitError.Code, sourceLocation: SourceLocation = #_sourceLocation,
                 _ body: () throws -> Void) -> String {
    do {
        try body()
        Issue.record("expected \(code), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as ConvKitError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
        return error.message
    } catch {
        Issue.record("expected ConvKitError.\(code), got \(error)", sourceLocation: sourceLocation)
    }
    return ""
}

@Suite("Error paths")
struct ErrorTests {
    static let shape = TensorShape(n: 1, c: 6, h: 8, w: 8)

    @Test("Each invalid convolution descriptor throws its own code")
    func convDescriptorErrors() {
        let s = Self.shape
        var message = expectError(.invalidGroups) {
            _ = try Conv2DDescriptor(inputShape: s, outputChannels: 4, kernel: 3, groups: 4)
        }
        #expect(message.contains("C=6") && message.contains("groups=4"), "\(message)")
        expectError(.invalidGroups) { _ = try Conv2DDescriptor(inputShape: s, outputChannels: 5, kernel: 3, groups: 3) }
        expectError(.invalidGroups) { _ = try Conv2DDescriptor(inputShape: s, outputChannels: 6, kernel: 3, groups: 0) }
        message = expectError(.emptyOutput) { _ = try Conv2DDescriptor(inputShape: s, outputChannels: 1, kernel: 9) }
        #expect(message.contains("height"), "\(message)")
        expectError(.emptyOutput) {
            _ = try Conv2DDescriptor(inputShape: s, outputChannels: 1, kernel: 3, dilation: 4)
        }
        expectError(.invalidStride) { _ = try Conv2DDescriptor(inputShape: s, outputChannels: 1, kernel: 3, stride: 0) }
        expectError(.invalidStride) {
            _ = try Conv2DDescriptor(inputShape: s, outputChannels: 1, kernel: 3, stride: Size2D(1, -2))
        }
        expectError(.invalidPadding) {
            _ = try Conv2DDescriptor(inputShape: s, outputChannels: 1, kernel: 3,
                                     padding: Padding(top: 0, left: -1, bottom: 0, right: 0))
        }
        expectError(.invalidDilation) {
            _ = try Conv2DDescriptor(inputShape: s, outputChannels: 1, kernel: 3, dilation: 0)
        }
        expectError(.invalidShape) { _ = try Conv2DDescriptor(inputShape: s, outputChannels: 0, kernel: 3) }
        expectError(.invalidShape) { _ = try Conv2DDescriptor(inputShape: s, outputChannels: 1, kernel: Size2D(0, 3)) }
        expectError(.invalidShape) {
            _ = try Conv2DDescriptor(inputShape: TensorShape(n: 0, c: 1, h: 4, w: 4), outputChannels: 1, kernel: 3)
        }
        expectError(.sizeOverflow) {
            _ = try Conv2DDescriptor(inputShape: TensorShape(n: 1 << 20, c: 1 << 20, h: 64, w: 64), outputChannels: 1,
                                     kernel: 1)
        }
        expectError(.sizeOverflow) {
            _ = try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: 1, h: 8, w: 8), outputChannels: 1,
                                     kernel: 3, padding: .symmetric(Int.max / 2 + 1))
        }
        expectError(.invalidArgument) {
            _ = try Conv2DDescriptor(inputShape: s, outputChannels: 1, kernel: 3, activation: .leakyReLU(alpha: .nan))
        }
    }

    @Test("Plan creation errors: counts, bias, unsupported algorithms, options")
    func planErrors() throws {
        let d = try Conv2DDescriptor(inputShape: Self.shape, outputChannels: 4, kernel: 3, hasBias: true)
        let w = [Float](repeating: 0.5, count: d.weightCount), b = [Float](repeating: 0, count: 4)
        let message = expectError(.invalidShape) { _ = try Conv2DPlan(descriptor: d, weights: Array(w.dropLast()), bias: b) }
        #expect(message.contains("\(d.weightCount)") && message.contains("\(d.weightCount - 1)"), "\(message)")
        expectError(.invalidShape) { _ = try Conv2DPlan(descriptor: d, weights: w, bias: [1, 2, 3]) }
        expectError(.invalidArgument) { _ = try Conv2DPlan(descriptor: d, weights: w) }
        expectError(.invalidShape) {
            _ = try Conv2DPlan(descriptor: d, weights: Tensor(shape: TensorShape(n: 4, c: 6, h: 3, w: 2)), bias: b)
        }
        // Winograd F(4x4, 3x3) cannot serve a 5x5 or a strided kernel: an explicit
        // algorithm fails instead of falling back silently.
        let wino = PlanOptions(algorithm: .winogradF4)
        let d5 = try Conv2DDescriptor(inputShape: Self.shape, outputChannels: 4, kernel: 5)
        let message4 = expectError(.unsupportedAlgorithm) {
            _ = try Conv2DPlan(descriptor: d5, weights: Array(repeating: 0, count: d5.weightCount), options: wino)
        }
        #expect(message4.contains("winograd"), "\(message4)")
        let strided = try Conv2DDescriptor(inputShape: Self.shape, outputChannels: 4, kernel: 3, stride: 2)
        expectError(.unsupportedAlgorithm) {
            _ = try Conv2DPlan(descriptor: strided, weights: Array(repeating: 0, count: strided.weightCount),
                               options: wino)
        }
        #expect(!strided.isApplicable(.winogradF4))
        // Forbidding Winograd makes an explicit Winograd request unsupported.
        expectError(.unsupportedAlgorithm) {
            _ = try Conv2DPlan(descriptor: d, weights: w, bias: b,
                               options: PlanOptions(algorithm: .winogradF2, allowWinograd: false))
        }
        // Depthwise on a non-depthwise convolution.
        expectError(.unsupportedAlgorithm) {
            _ = try Conv2DPlan(descriptor: d, weights: w, bias: b, options: PlanOptions(algorithm: .depthwise))
        }
        expectError(.unsupportedAlgorithm) { try d.checkApplicable(.depthwise) }
        expectError(.invalidArgument) {
            _ = try Conv2DPlan(descriptor: d, weights: w, bias: b, options: PlanOptions(threads: -1))
        }
        expectError(.invalidArgument) {
            _ = try Conv2DPlan(descriptor: d, weights: w, bias: b, options: PlanOptions(workspaceLimit: -1))
        }
        let pool = try Pool2DDescriptor(kind: .max, inputShape: Self.shape, window: 2)
        expectError(.unsupportedAlgorithm) { _ = try Pool2DPlan(descriptor: pool, options: PlanOptions(algorithm: .direct)) }
        let dense = try DenseDescriptor(batch: 1, inputFeatures: 3, outputFeatures: 2, hasBias: false)
        expectError(.unsupportedAlgorithm) {
            _ = try DensePlan(descriptor: dense, weights: [1, 2, 3, 4, 5, 6], options: PlanOptions(algorithm: .winogradF2))
        }
        expectError(.invalidShape) { _ = try DensePlan(descriptor: dense, weights: [1, 2, 3]) }
        expectError(.invalidArgument) { _ = try DensePlan(descriptor: dense, weights: [1, 2, 3, 4, 5, 6], bias: [0, 0]) }
    }

    @Test("Execute with a tensor of the wrong shape or layout names both")
    func executeMismatch() throws {
        let d = try Conv2DDescriptor(inputShape: Self.shape, outputChannels: 4, kernel: 3)
        let plan = try Conv2DPlan(descriptor: d, weights: Array(repeating: 1, count: d.weightCount))
        let wrong = try Tensor(shape: TensorShape(n: 1, c: 6, h: 8, w: 9))
        let message = expectError(.invalidShape) { _ = try plan(wrong) }
        #expect(message.contains("1x6x8x9") && message.contains("1x6x8x8"), "\(message)")
        expectError(.invalidLayout) { _ = try plan(Tensor(shape: Self.shape, layout: .nhwc)) }
        let x = try Tensor(shape: Self.shape)
        expectError(.invalidShape) { _ = try plan(x, residual: Tensor(shape: Self.shape)) }
        var out = try Tensor(shape: Self.shape)
        expectError(.invalidShape) { try plan.execute(x, into: &out) }
        let dense = try DensePlan(descriptor: DenseDescriptor(batch: 2, inputFeatures: 3, outputFeatures: 1),
                                  weights: [1, 1, 1], bias: [0])
        expectError(.invalidShape) { _ = try dense([1, 2, 3]) }
        expectError(.invalidShape) { _ = try dense(Tensor(shape: TensorShape(n: 2, c: 1, h: 3, w: 1))) }
        let pool = try Pool2DPlan(descriptor: Pool2DDescriptor(kind: .average, inputShape: Self.shape, window: 2))
        expectError(.invalidShape) { _ = try pool(wrong) }
    }

    @Test("Other descriptors and ops report their own codes")
    func otherErrors() throws {
        let s = Self.shape
        expectError(.invalidPadding) {
            _ = try Pool2DDescriptor(kind: .max, inputShape: s, window: 2, padding: .symmetric(2))
        }
        expectError(.emptyOutput) { _ = try Pool2DDescriptor(kind: .max, inputShape: s, window: 9) }
        expectError(.invalidStride) { _ = try Pool2DDescriptor(kind: .max, inputShape: s, window: 2, stride: 0) }
        expectError(.invalidPadding) {
            _ = try ConvTranspose2DDescriptor(inputShape: s, outputChannels: 2, kernel: 3, stride: 2, outputPadding: 2)
        }
        expectError(.invalidGroups) {
            _ = try ConvTranspose2DDescriptor(inputShape: s, outputChannels: 4, kernel: 3, groups: 4)
        }
        expectError(.emptyOutput) {
            _ = try ConvTranspose2DDescriptor(inputShape: TensorShape(n: 1, c: 1, h: 1, w: 1), outputChannels: 1,
                                              kernel: 1, padding: .symmetric(1))
        }
        expectError(.invalidShape) { _ = try DenseDescriptor(batch: 1, inputFeatures: 0, outputFeatures: 1) }
        expectError(.sizeOverflow) { _ = try DenseDescriptor(batch: 1, inputFeatures: 1 << 21, outputFeatures: 1 << 21) }
        let x = try Tensor(shape: s)
        expectError(.invalidGroups) { _ = try Ops.maxout(x, groupSize: 4) }
        expectError(.invalidLayout) { _ = try Ops.softmax(x.converted(to: .nchw8c)) }
        expectError(.invalidShape) {
            _ = try Ops.batchNorm(x, scale: [1], shift: [0], mean: [0], variance: [1])
        }
        let ones = [Float](repeating: 1, count: 6)
        expectError(.invalidArgument) {
            _ = try Ops.batchNorm(x, scale: ones, shift: ones, mean: ones, variance: ones, epsilon: 0)
        }
        expectError(.invalidArgument) { _ = try Ops.localResponseNorm(x, size: 0) }
        expectError(.invalidShape) { _ = try Ops.add(x, Tensor(shape: TensorShape(n: 1, c: 6, h: 8, w: 7))) }
        expectError(.invalidLayout) { _ = try Ops.add(x, x.converted(to: .nhwc)) }
        expectError(.invalidArgument) { _ = try Ops.concatChannels([]) }
        expectError(.invalidShape) { _ = try Ops.concatChannels([x, Tensor(shape: TensorShape(n: 1, c: 2, h: 4, w: 8))]) }
        expectError(.invalidShape) { _ = try Tensor(shape: s, values: [1, 2, 3]) }
        expectError(.invalidShape) { _ = try Tensor(shape: TensorShape(n: 1, c: 0, h: 1, w: 1)) }
        expectError(.sizeOverflow) { _ = try Tensor(shape: TensorShape(n: 1 << 30, c: 1 << 30, h: 1, w: 1)) }
        expectError(.invalidShape) { _ = try Tensor(image: [[1, 2], [3]]) }
    }

    @Test("Codes mirror the C status values; descriptions name code and message")
    func codes() {
        #expect(ConvKitError.Code.invalidGroups.rawValue == 6)
        #expect(ConvKitError.Code.unsupportedAlgorithm.rawValue == 100)
        #expect(ConvKitError.Code.insufficientWorkspace.rawValue == 201)
        #expect(ConvKitError.Code.internal.rawValue == 255)
        #expect(ConvKitError.Code.emptyOutput.isCallerError && !ConvKitError.Code.outOfMemory.isCallerError)
        let e = ConvKitError(code: .invalidGroups, message: "C=3, groups=2")
        #expect(e.description == "invalidGroups: C=3, groups=2")
    }
}
