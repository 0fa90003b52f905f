import ArgumentParser
import CConvKit
import ConvKitBench
import Foundation

/// `convkit`: information about the host and the library, and benchmarks.
struct ConvKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convkit",
        abstract: "ConvKit: CPU convolution kernels — machine information and benchmarks.",
        version: String(cString: ck_version()),
        subcommands: [Info.self, Bench.self, Autotune.self, ProfileCommand.self, ModelSummaryCommand.self, TrainCommand.self, RunCommand.self]
    )
}

/// `convkit info`: what ConvKit detected about this machine.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the CPU, ISA features, dispatched ISA, caches, OpenBLAS and OpenMP configuration.")

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let info = MachineInfo.current()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(info), as: UTF8.self))
        } else {
            print(info.report)
        }
    }
}

/// `convkit bench`: run the layer suite through ConvKit's algorithms.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark convolution and pooling layers (the standard suite by default).",
        discussion: """
            For each layer, algorithm and thread count: check the output against a direct dot product on \
            sampled positions, then time it (warm-up, then at least --min-time seconds and 10 runs) and \
            report median and p10/p90 time, GFLOPS, the fraction of the measured FMA peak, GB/s, workspace \
            and plan-creation time. The header holds the measured FMA peak and streaming bandwidth. \
            --backward does the same for the convolution backward passes (data and weight gradients, \
            checked against direct float64 sums on sampled elements); --train times whole training steps.
            """)

    @Option(name: .long, help: ArgumentHelp("Suite file (TSV: kind name N C H W K R S stride pad groups).",
                                            valueName: "file"))
    var suite: String?

    @Option(name: .long, help: ArgumentHelp("Only layers whose name matches this regular expression.",
                                            valueName: "regex"))
    var layers: String?

    @Option(name: .long, help: ArgumentHelp("Thread count or comma-separated sweep, e.g. 1,2 (default: all cores).",
                                            valueName: "n[,m...]"))
    var threads: String?

    @Option(name: .long, help: ArgumentHelp(
        "all, auto, or algorithm name(s): reference, im2col, direct, winograd-f2, winograd-f4, winograd-f6, depthwise.",
        valueName: "name"))
    var algorithm: String = "all"

    @Option(name: .long, help: ArgumentHelp("Override every layer's batch size N.", valueName: "n"))
    var batch: Int?

    @Option(name: .long, help: ArgumentHelp("Write the results as JSON.", valueName: "file"))
    var json: String?

    @Option(name: .long, help: ArgumentHelp("Write the results as CSV.", valueName: "file"))
    var csv: String?

    @Option(name: .long, help: ArgumentHelp("Write a bar chart (GFLOPS per layer and algorithm) as SVG.",
                                            valueName: "file"))
    var svg: String?

    @Option(name: .customLong("min-time"), help: ArgumentHelp("Minimum timed seconds per measurement.",
                                                              valueName: "seconds"))
    var minTime: Double = 0.2

    @Flag(help: "Fewer repetitions and shorter peak loops (smoke tests).")
    var quick = false

    @Option(name: .long, help: ArgumentHelp(
        "Time every layer in N rounds over the suite, each with 1/N of --min-time and of the run count (at least "
            + "3 runs), and report statistics over the pooled samples: on a shared machine, a burst of load then "
            + "hits one round of many layers instead of all of one layer's runs.",
        valueName: "n"))
    var passes: Int = 1

    @Option(name: .long, help: ArgumentHelp(
        "Benchmark a compiled zoo network end to end instead of the layer suite (e.g. resnet18, mobilenetv2); "
            + "at least 10 runs and max(--min-time, 1) seconds per thread count, with a per-layer breakdown.",
        valueName: "name"))
    var model: String?

    @Option(name: .customLong("input-size"), help: ArgumentHelp("With --model: input height and width.",
                                                                valueName: "n"))
    var inputSize: Int?

    @Flag(help: "Time training steps instead (an alias of `convkit train --bench`; honours a single --threads value).")
    var train = false

    @Flag(help: ArgumentHelp(
        "Benchmark the convolution backward passes instead: for each conv layer of the suite and thread count, "
            + "check then time the data gradient and the weight (+bias) gradient (NCHW); the JSON gets a "
            + "`backward` section."))
    var backward = false

    func validate() throws {
        if backward && (train || model != nil) { throw ValidationError("--backward cannot be combined with --train or --model") }
        if backward && (csv != nil || svg != nil) { throw ValidationError("--csv and --svg hold forward results; use --json with --backward") }
        if let batch, batch < 1 { throw ValidationError("--batch must be >= 1") }
        if !(minTime >= 0 && minTime <= 3600) { throw ValidationError("--min-time must be between 0 and 3600 seconds") }
        if !(1...100).contains(passes) { throw ValidationError("--passes must be between 1 and 100") }
        if passes > 1 && (backward || train || model != nil) {
            throw ValidationError("--passes applies to the layer suite; not with --backward, --train or --model")
        }
    }

    func run() throws {
        if train {
            let command = try TrainCommand.parse(["--bench"] + (threads.map { ["--threads", $0] } ?? []))
            try command.validate()
            return try command.run()
        }
        do {
            try execute()
        } catch {
            FileHandle.standardError.write(Data("convkit bench: error: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    private func execute() throws(BenchError) {
        if let model {
            let threadList = try threads.map(parseThreadList) ?? [Int(ck_max_threads())]
            let config = ModelBenchConfiguration(model: model, inputSize: inputSize, batch: batch ?? 1,
                                                 threads: threadList, minTime: max(minTime, 1), quick: quick)
            let progress = ProgressLine()
            let report = try ModelBench.run(config, progress: { progress.show($0) })
            progress.clear()
            print(report.table)
            if let json { try ModelBench.writeJSON(report, to: json) }
            return
        }
        var (loaded, suiteName) = try ConvKitBench.loadSuite(path: suite)
        if let layers {
            loaded = try loaded.filtered(by: layers)
            guard !loaded.layers.isEmpty else { throw .invalidArgument("--layers '\(layers)' matches no layer") }
        }
        let threadList = try threads.map(parseThreadList) ?? [Int(ck_max_threads())]
        if backward { return try executeBackward(suite: loaded, suiteName: suiteName, threads: threadList) }
        let selection = try AlgorithmSelection.parse(algorithm)
        var config = BenchConfiguration(threads: threadList, algorithms: selection, batch: batch, minTime: minTime,
                                        quick: quick)
        config.passes = passes

        let progress = ProgressLine()
        FileHandle.standardError.write(Data("Measuring FMA peak and bandwidth…\n".utf8))
        var runner = BenchRunner(configuration: config)
        if selection == .auto { runner.autoResolver = profileAutoResolver(
            suite: batch.map { b in BenchSuite(layers: loaded.layers.map { $0.withBatch(b) }) } ?? loaded, threads: threadList) }
        let report = try runner.run(
            suite: loaded, suiteName: suiteName,
            progress: { progress.show($0.line) },
            warn: progress.warn)
        progress.clear()

        print(report.headerText)
        print("")
        print(report.table)
        if let json { try ConvKitBench.writeJSON(report, to: json) }
        if let csv { try ConvKitBench.write(report.csv, to: csv, what: "CSV") }
        if let svg { try ConvKitBench.write(BarChart.svg(report), to: svg, what: "SVG") }
        if report.results.contains(where: { !$0.valid }) { throw .invalidArgument("some results are INVALID (see above)") }
    }
}

extension Bench {
    /// `--backward`: the backward-pass benchmark of the suite's conv layers.
    fileprivate func executeBackward(suite: BenchSuite, suiteName: String, threads: [Int]) throws(BenchError) {
        guard suite.layers.contains(where: { !$0.kind.isPooling }) else {
            throw .invalidArgument("--backward: the selected layers hold no convolution")
        }
        let config = BenchConfiguration(threads: threads, algorithms: .auto, batch: batch, minTime: minTime,
                                        quick: quick)
        let progress = ProgressLine()
        FileHandle.standardError.write(Data("Measuring FMA peak and bandwidth…\n".utf8))
        let report = try BackwardBenchRunner(configuration: config).run(
            suite: suite, suiteName: suiteName,
            progress: { progress.show($0.line) },
            warn: progress.warn)
        progress.clear()
        print(report.headerText)
        print("")
        print(report.backwardTable)
        if let json { try ConvKitBench.writeJSON(report, to: json) }
        if report.backward?.contains(where: { !$0.valid }) == true {
            throw .invalidArgument("some gradients are INVALID (see above)")
        }
    }
}

/// A progress line on stderr: rewritten in place on a terminal, one line per
/// step otherwise.
final class ProgressLine {
    private let isTTY = isatty(2) != 0
    private var width = 0

    func show(_ text: String) {
        if isTTY {
            let pad = String(repeating: " ", count: max(0, width - text.count))
            FileHandle.standardError.write(Data("\r\(text)\(pad)".utf8))
            width = text.count
        } else {
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }

    func clear() {
        guard isTTY, width > 0 else { return }
        FileHandle.standardError.write(Data("\r\(String(repeating: " ", count: width))\r".utf8))
        width = 0
    }

    /// Clears the line and prints `message` on stderr, set off by `***`.
    func warn(_ message: String) {
        clear()
        FileHandle.standardError.write(Data("\n*** \(message)\n\n".utf8))
    }
}
