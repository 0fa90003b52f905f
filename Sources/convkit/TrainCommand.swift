import ArgumentParser
import ConvKit
import ConvKitNN
import Foundation

/// `convkit train`: train a small CNN on the bundled digits data set, or time training steps.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a small CNN on the 8x8 digits data set (or time training steps with --bench).",
        discussion: """
            --dataset digits trains conv 3x3/16 + BN + ReLU, max pool, conv 3x3/32 + BN + ReLU, flatten, \
            dropout 0.3, dense 10 (SGD momentum 0.9, weight decay 1e-4, cosine schedule, random crops with \
            1 pixel of padding) on the first 1,437 images of the UCI handwritten digits (as bundled by \
            scikit-learn) and tests on the last 360, printing one line per epoch (loss, accuracy, images/s); \
            the last line is the final test accuracy. The data file is Datasets/digits/digits.csv, found \
            from the current directory upwards (or give --data). \
            --bench times full training steps (forward, softmax cross-entropy, backward, SGD update) of \
            ResNet-18 at batch 8, 112x112, and LeNet-5 at batch 64, and prints images/s.
            """)

    @Option(help: ArgumentHelp("The data set (only 'digits').", valueName: "name"))
    var dataset = "digits"

    @Option(help: ArgumentHelp("Path of digits.csv (default: Datasets/digits/digits.csv found upwards).",
                               valueName: "file"))
    var data: String?

    @Option(help: "Epochs.")
    var epochs = 20

    @Option(help: "Threads (0 = all cores).")
    var threads = 0

    @Option(name: .customLong("batch-size"), help: "Images per batch.")
    var batchSize = 32

    @Option(name: .customLong("lr"), help: "Base learning rate (cosine-annealed to 0 over the epochs).")
    var learningRate: Float = 0.1

    @Option(help: ArgumentHelp("sgd (momentum 0.9, weight decay 1e-4) or adam.", valueName: "name"))
    var optimizer = "sgd"

    @Option(help: "Seed of the weights, the shuffles and the augmentation.")
    var seed: UInt64 = 1

    @Option(help: "Channels of the first convolution (the second has twice as many).")
    var width = 16

    @Flag(name: .customLong("gap-head"),
          help: "Global-average-pool the feature maps into the classifier instead of flattening the 4x4 maps.")
    var gapHead = false

    @Option(help: "Dropout rate before the classifier (0 = none).")
    var dropout: Float = 0.3

    @Flag(name: .customLong("no-augment"), help: "Disable augmentation (random crop with 1 pixel of padding).")
    var noAugment = false

    @Option(help: ArgumentHelp("Save the trained weights as safetensors.", valueName: "file"))
    var save: String?

    @Flag(help: "Time training steps of ResNet-18 (batch 8, 112x112) and LeNet-5 (batch 64) instead.")
    var bench = false

    @Option(name: .customLong("bench-steps"), help: "Timed steps per network with --bench (median reported).")
    var benchSteps = 5

    @Option(name: .customLong("bench-networks"),
            help: ArgumentHelp("With --bench: which networks, comma-separated (resnet18, lenet5).", valueName: "names"))
    var benchNetworks = "resnet18,lenet5"

    func validate() throws {
        guard dataset.lowercased() == "digits" else { throw ValidationError("unknown data set '\(dataset)'; known: digits") }
        guard epochs >= 1, batchSize >= 1, threads >= 0, benchSteps >= 1 else {
            throw ValidationError("--epochs, --batch-size and --bench-steps must be >= 1, --threads >= 0")
        }
        let known = ["resnet18", "lenet5"]
        for n in benchNetworks.split(separator: ",") where !known.contains(String(n)) {
            throw ValidationError("--bench-networks: unknown network '\(n)'; known: resnet18, lenet5")
        }
        guard ["sgd", "adam"].contains(optimizer.lowercased()) else {
            throw ValidationError("unknown optimizer '\(optimizer)'; known: sgd, adam")
        }
    }

    func run() throws {
        if bench { return try runBench() }
        let url: URL
        if let data {
            url = URL(fileURLWithPath: data)
        } else if let found = Dataset.locateDigits(near: URL(fileURLWithPath: CommandLine.arguments[0])) {
            url = found
        } else {
            throw ValidationError("Datasets/digits/digits.csv not found from the current directory; pass --data")
        }
        let (train, test) = try Dataset.digits(contentsOf: url).digitsSplit()
        let net = try TrainingModels.digitsCNN(seed: seed, width: width, denseHead: !gapHead, dropout: dropout)
        let opt: any Optimizer = optimizer.lowercased() == "adam"
            ? Adam(learningRate: learningRate, weightDecay: 1e-4)
            : SGD(learningRate: learningRate, momentum: 0.9, weightDecay: 1e-4)
        let trainer = Trainer(network: net, optimizer: opt, schedule: .cosine(epochs: epochs), threads: threads,
                              seed: seed)
        print("digits: \(train.count) train / \(test.count) test images, \(net.trainableParameterCount) parameters, "
              + "batch \(batchSize), \(optimizer.lowercased()) lr \(learningRate), \(epochs) epochs")
        let start = DispatchTime.now().uptimeNanoseconds
        let reports = try trainer.fit(train: train, test: test, epochs: epochs, batchSize: batchSize,
                                      augmentation: noAugment ? nil : Augmentation(cropPadding: 1),
                                      shuffleSeed: seed) { print($0) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        if let save {
            try net.saveWeights(to: URL(fileURLWithPath: save))
            print("saved weights to \(save)")
        }
        print("training time " + String(format: "%.2f", seconds) + " s (including per-epoch evaluation)")
        let accuracy = reports.last?.testAccuracy ?? 0
        print("final test accuracy " + String(format: "%.2f%%", accuracy * 100))
    }

    func runBench() throws {
        print("training step images/s (forward + softmax cross-entropy + backward + SGD update), "
              + "threads \(threads == 0 ? ConvKitRuntime.maxThreads : threads), median of \(benchSteps) steps")
        let wanted = Set(benchNetworks.split(separator: ",").map(String.init))
        let cases: [(String, () throws -> Network, Int)] = [
            ("resnet18 112x112", { try Zoo.resnet18(classes: 1000, inputSize: 112, seed: 1) }, 8),
            ("lenet5 32x32", { try Zoo.lenet5(seed: 1) }, 64),
        ]
        for (name, make, batch) in cases where wanted.contains(String(name.prefix { $0 != " " })) {
            let rate = try TrainingBenchmark.imagesPerSecond(network: make(), batch: batch, steps: benchSteps,
                                                             threads: threads)
            print(name.padding(toLength: 18, withPad: " ", startingAt: 0) + "batch \(batch)  "
                  + String(format: "%8.1f", rate) + " images/s")
        }
    }
}
