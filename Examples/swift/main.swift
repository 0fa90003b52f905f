// The README's Swift example: compiled by `swift build` and run by Scripts/test.sh.
import ConvKit

// The course's 6x6 image and 3x3 filter, as a 1x1x6x6 tensor.
let image = try Tensor(image: [[1, 4, 12, 11, 0, 2], [9, 15, 3, 0, 4, 17], [1, 4, 8, 6, 6, 10],
                               [16, 10, 0, 11, 13, 6], [0, 2, 9, 3, 0, 8], [2, 14, 12, 5, 14, 1]])
let filter: [Float] = [3, 0, 8, 1, 5, 10, 0, 2, 9]

// Describe the layer (validated: bad shapes throw ConvKitError), plan it once, run it.
let conv = try Conv2DDescriptor(inputShape: image.shape, outputChannels: 1, kernel: 3,
                                padding: .symmetric(1), activation: .relu)
let plan = try Conv2DPlan(descriptor: conv, weights: filter, options: PlanOptions(threads: 1))
let output = try plan(image)
print("algorithm:", plan.algorithm, "output:", output.shape)
print(output.plane()[0])   // [198.0, 198.0, 180.0, 103.0, 192.0, 44.0]

// Errors are typed and say what is wrong.
do {
    _ = try Conv2DDescriptor(inputShape: TensorShape(n: 1, c: 6, h: 8, w: 8), outputChannels: 4,
                             kernel: 3, groups: 4)
} catch let error as ConvKitError {
    print(error.code, "-", error.message)   // invalidGroups - input channels C=6 are not divisible by groups=4
}
