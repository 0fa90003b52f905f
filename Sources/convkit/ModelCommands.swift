import ArgumentParser
import ConvKit
import ConvKitNN
import ConvKitONNX
import Foundation

/// `convkit summary NAME`: the per-layer table of a zoo network.
struct ModelSummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Print a zoo network's layers, output shapes, parameter counts and FLOPs.",
        discussion: "Names: \(Zoo.names.joined(separator: ", ")). The last line is the total "
            + "trainable-parameter count as a plain integer.")

    @Argument(help: "The network: \(Zoo.names.joined(separator: ", ")), or an .onnx file.")
    var name: String

    @Option(help: "Input height and width (default: the network's own).")
    var inputSize: Int?

    @Option(help: "Number of classes (default: the network's own).")
    var classes: Int?

    func run() throws {
        if name.lowercased().hasSuffix(".onnx") {  // an ONNX file: the imported network's summary
            print(try ONNXModel(contentsOf: URL(fileURLWithPath: name)).summary())
            return
        }
        let net: Network
        if inputSize != nil || classes != nil {
            let size = inputSize
            switch name.lowercased() {
            case "lenet5": net = try Zoo.lenet5(classes: classes ?? 10, inputSize: size ?? 32)
            case "alexnet": net = try Zoo.alexnet(classes: classes ?? 1000, inputSize: size ?? 227)
            case "vgg16": net = try Zoo.vgg16(classes: classes ?? 1000, inputSize: size ?? 224)
            case "resnet18": net = try Zoo.resnet18(classes: classes ?? 1000, inputSize: size ?? 224)
            case "resnet34": net = try Zoo.resnet34(classes: classes ?? 1000, inputSize: size ?? 224)
            case "resnet50": net = try Zoo.resnet50(classes: classes ?? 1000, inputSize: size ?? 224)
            case "mobilenetv1": net = try Zoo.mobilenetV1(classes: classes ?? 1000, inputSize: size ?? 224)
            case "mobilenetv2": net = try Zoo.mobilenetV2(classes: classes ?? 1000, inputSize: size ?? 224)
            case "googlenet": net = try Zoo.googlenet(classes: classes ?? 1000, inputSize: size ?? 224)
            case "unet": net = try Zoo.unet(classes: classes ?? 2, inputSize: size ?? 64)
            default: net = try Zoo.network(named: name)
            }
        } else {
            net = try Zoo.network(named: name)
        }
        print(try net.summary())
    }
}
