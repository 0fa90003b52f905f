import ArgumentParser
import ConvKit
import ConvKitNN
import ConvKitONNX
import Foundation

/// `convkit run MODEL.onnx --input NAME=FILE.npy`: imports an ONNX model, runs
/// it on ConvKit's kernels and writes each graph output as `DIR/<name>.npy`.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an ONNX model on .npy inputs and write its outputs as .npy files.",
        discussion: """
            The model is imported (every unsupported operator, attribute or opset is reported before \
            anything runs), compiled for the batch and thread count, and run once. Each graph output is \
            written as DIR/<output name>.npy (float32, C order). Inputs are float32 .npy arrays \
            (little-endian, C order) of the model's input shape; the batch is taken from the input \
            (or --batch).
            """)

    @Argument(help: ArgumentHelp("The ONNX model.", valueName: "model.onnx"))
    var model: String

    @Option(name: .long, parsing: .singleValue,
            help: ArgumentHelp("A graph input and its array: NAME=FILE.npy (repeatable).", valueName: "name=file"))
    var input: [String] = []

    @Option(name: .long, help: ArgumentHelp("Directory for the output .npy files (default: the current one).",
                                            valueName: "dir"))
    var outputDir: String = "."

    @Option(name: .long, help: "Threads (0 = all cores).")
    var threads: Int = 0

    @Option(name: .long, help: "Batch size (default: the input array's first dimension).")
    var batch: Int?

    @Flag(name: .customLong("print"), help: "Print each output's shape, min/max and top-5 (for a classifier).")
    var printSummary = false

    @Option(name: .long, help: "Run this many times and report the median latency (default 1).")
    var repeats: Int = 1

    func run() throws {
        guard threads >= 0 else { throw ValidationError("--threads must be >= 0") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be >= 1") }
        if let batch, batch < 1 { throw ValidationError("--batch must be >= 1") }
        var arrays: [String: NpyArray] = [:]
        for spec in input {
            guard let eq = spec.firstIndex(of: "="), eq != spec.startIndex, spec.index(after: eq) != spec.endIndex else {
                throw ValidationError("--input expects NAME=FILE.npy, got '\(spec)'")
            }
            let name = String(spec[..<eq]), file = String(spec[spec.index(after: eq)...])
            guard arrays[name] == nil else { throw ValidationError("input '\(name)' is given twice") }
            arrays[name] = try Npy.read(contentsOf: URL(fileURLWithPath: file))
        }
        let url = URL(fileURLWithPath: model)
        // Import first (without the batch) so the input name can be checked before reading sizes.
        let probe = try ONNXModel(contentsOf: url)
        guard let x = arrays[probe.inputName] else {
            let given = arrays.keys.sorted().joined(separator: ", ")
            throw ValidationError("the model's input is '\(probe.inputName)' (shape \(probe.network.inputShape)); "
                                  + "pass --input \(probe.inputName)=FILE.npy" + (given.isEmpty ? "" : " (given: \(given))"))
        }
        for name in arrays.keys where name != probe.inputName {
            throw ValidationError("the model has no input '\(name)' (its input is '\(probe.inputName)')")
        }
        let b = batch ?? x.shape.first ?? 1
        if let batch, x.shape.first != batch {
            throw ValidationError("--batch \(batch) but input '\(probe.inputName)' has shape \(x.shape)")
        }
        let imported = b == probe.network.inputShape.n ? probe : try ONNXModel(contentsOf: url, batch: b)
        guard x.shape.count == imported.inputRank else {
            throw ValidationError("input '\(probe.inputName)' has shape \(x.shape); the model expects rank \(imported.inputRank)")
        }
        let runner = try imported.compile(batch: b, threads: threads)
        var times: [Double] = []
        var ys: [(name: String, array: NpyArray)] = []
        let clock = ContinuousClock()
        for _ in 0..<repeats {
            let start = clock.now
            ys = try runner.run(x)
            let d = clock.now - start
            times.append(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
        }
        let median = times.sorted()[times.count / 2]
        let path = imported.usesReferencePath ? "layer by layer" : "compiled"
        print("ran \(url.lastPathComponent) (opset \(imported.opsetVersion), \(path), batch \(b), "
              + "threads \(threads == 0 ? "all" : String(threads))) in \(String(format: "%.3f", median * 1000)) ms"
              + (repeats > 1 ? " (median of \(repeats))" : ""))
        let dir = URL(fileURLWithPath: outputDir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, y) in ys {
            // Output names may contain '/' (PyTorch exports): keep the file inside DIR.
            let safe = String(name.map { $0 == "/" || $0 == "\\" || $0 == ":" ? "_" : $0 })
            let file = dir.appendingPathComponent((safe.isEmpty || safe.hasPrefix(".") ? "output" + safe : safe) + ".npy")
            try Npy.write(y, to: file)
            print("wrote \(file.path)")
            if printSummary { print(Self.describe(name: name, y)) }
        }
    }

    /// Shape, min/max and (for `[N, classes]` or `[N, classes, 1, 1]`) the top 5 per image.
    static func describe(name: String, _ y: NpyArray) -> String {
        var lines = ["\(name): shape \(y.shape)"]
        if let lo = y.values.min(), let hi = y.values.max() {
            lines.append("  min \(lo)  max \(hi)")
        }
        let isClassifier = y.shape.count == 2 || (y.shape.count == 4 && y.shape[2] == 1 && y.shape[3] == 1)
        if isClassifier, y.shape[0] > 0, y.shape[1] > 1 {
            let classes = y.shape[1]
            for n in 0..<min(y.shape[0], 8) {
                let row = y.values[(n * classes)..<((n + 1) * classes)]
                let top = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(5)
                let text = top.map { "\($0 - n * classes): \(row[$0])" }.joined(separator: ", ")
                lines.append("  [\(n)] top-5 \(text)")
            }
        }
        return lines.joined(separator: "\n")
    }
}
