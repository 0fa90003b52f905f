import ConvKit
import ConvKitNN
import Foundation

/// Settings of an end-to-end model benchmark (`convkit bench --model NAME`).
public struct ModelBenchConfiguration: Sendable, Hashable {
    /// The zoo network (`Zoo.names`).
    public var model: String
    /// Input height and width (nil: the network's default, 224 for the ImageNet models).
    public var inputSize: Int?
    /// Images per inference.
    public var batch: Int
    /// Thread counts, each compiled and measured separately.
    public var threads: [Int]
    /// Minimum seconds of timed end-to-end runs per thread count.
    public var minTime: Double
    /// Minimum timed end-to-end runs (and profiled runs) per thread count.
    public var minRuns: Int
    /// Stop once this many seconds have passed with at least 3 runs (guards against very slow models).
    public var maxTime: Double
    /// Untimed runs after compiling.
    public var warmupRuns: Int
    /// Seed of the random weights and input.
    public var seed: UInt64

    /// Creates settings: at least 10 runs and 1 s per thread count, 2 warm-up runs.
    /// `quick` (smoke tests): 3 runs, 10 ms, 1 warm-up run.
    public init(model: String, inputSize: Int? = nil, batch: Int = 1, threads: [Int] = [1], minTime: Double = 1,
                quick: Bool = false, seed: UInt64 = 0) {
        self.model = model
        self.inputSize = inputSize
        self.batch = batch
        self.threads = threads
        self.minTime = quick ? min(minTime, 0.01) : minTime
        self.minRuns = quick ? 3 : 10
        self.maxTime = quick ? 5 : 120
        self.warmupRuns = quick ? 1 : 2
        self.seed = seed
    }
}

/// The median time of one compiled step (a layer or a fused group of layers, or a layout conversion).
public struct ModelLayerTiming: Sendable, Hashable, Codable {
    /// The fused layer paths (e.g. `conv1+bn1+relu`), or `convert`.
    public var name: String
    /// What runs, with the implementation (e.g. `conv direct/avx2_fma`).
    public var operation: String
    /// The output shape, `NxCxHxW`.
    public var outputShape: String
    /// The output layout (`NCHW`, `NCHW8c`).
    public var layout: String
    /// Median milliseconds over the profiled runs.
    public var medianMs: Double

    enum CodingKeys: String, CodingKey {
        case name, operation, outputShape = "output_shape", layout, medianMs = "median_ms"
    }
}

/// The measurement of one model at one thread count.
public struct ModelBenchResult: Sendable, Hashable, Codable {
    /// Thread count.
    public var threads: Int
    /// Median end-to-end milliseconds per inference.
    public var medianMs: Double
    /// 10th percentile milliseconds.
    public var p10Ms: Double
    /// 90th percentile milliseconds.
    public var p90Ms: Double
    /// Timed end-to-end runs.
    public var runs: Int
    /// Images per second at the median (`batch / median`).
    public var imagesPerSecond: Double
    /// The sum of the per-step medians, milliseconds.
    public var layerSumMs: Double
    /// `(end-to-end − layer sum) / end-to-end`, in percent. On a loaded machine the
    /// per-step medians leave out the preemptions an end-to-end run suffers, so
    /// see also `inRunDifferencePercent`.
    public var differencePercent: Double
    /// Median wall time of the profiled runs, milliseconds.
    public var profiledRunMs: Double
    /// Median over the profiled runs of `(run wall time − sum of its steps) / run wall time`,
    /// in percent: the time spent between layers, measured within each run.
    public var inRunDifferencePercent: Double
    /// Seconds spent compiling (planning and packing weights).
    public var compileSeconds: Double
    /// Bytes of the activation arena.
    public var peakActivationBytes: Int
    /// Per-step medians, in execution order.
    public var layers: [ModelLayerTiming]

    enum CodingKeys: String, CodingKey {
        case threads, medianMs = "median_ms", p10Ms = "p10_ms", p90Ms = "p90_ms", runs,
             imagesPerSecond = "images_per_s", layerSumMs = "layer_sum_ms", differencePercent = "difference_percent",
             profiledRunMs = "profiled_run_ms", inRunDifferencePercent = "in_run_difference_percent",
             compileSeconds = "compile_s", peakActivationBytes = "peak_activation_bytes", layers
    }
}

/// A model benchmark report (what `--json` writes).
public struct ModelBenchReport: Sendable, Hashable, Codable {
    /// The host and library.
    public var machine: MachineInfo
    /// ISO 8601 date of the run.
    public var date: String
    /// The zoo network.
    public var model: String
    /// The input shape, `NxCxHxW` (batch included).
    public var inputShape: String
    /// Images per inference.
    public var batch: Int
    /// The planner mode the compiled networks used.
    public var plannerMode: String
    /// Minimum timed seconds per thread count.
    public var minTime: Double
    /// Minimum timed runs per thread count.
    public var minRuns: Int
    /// The system load average (1 minute) when the run started, if known.
    public var loadAverage: Double?
    /// One result per thread count, in the requested order.
    public var results: [ModelBenchResult]

    enum CodingKeys: String, CodingKey {
        case machine, date, model, inputShape = "input_shape", batch, plannerMode = "planner_mode",
             minTime = "min_time_s", minRuns = "min_runs", loadAverage = "load_average", results
    }

    /// The report as pretty-printed JSON with sorted keys.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// The human-readable report: a summary line per thread count, then each
    /// thread count's per-layer breakdown.
    public var table: String {
        var lines = ["Model \(model): input \(inputShape), batch \(batch), planner \(plannerMode)"
            + (loadAverage.map { ", load average \(format($0, 2))" } ?? "")]
        lines.append("")
        lines.append(pad("threads", 7) + pad("median ms", 11) + pad("p10 ms", 9) + pad("p90 ms", 9) + pad("images/s", 10)
            + pad("runs", 6) + pad("layers ms", 11) + pad("diff %", 8) + pad("in-run %", 10) + pad("arena MiB", 11)
            + pad("compile s", 10))
        for r in results {
            lines.append(pad("\(r.threads)", 7) + pad(format(r.medianMs, 2), 11) + pad(format(r.p10Ms, 2), 9)
                + pad(format(r.p90Ms, 2), 9) + pad(format(r.imagesPerSecond, 1), 10) + pad("\(r.runs)", 6)
                + pad(format(r.layerSumMs, 2), 11) + pad(format(r.differencePercent, 1), 8)
                + pad(format(r.inRunDifferencePercent, 1), 10)
                + pad(format(Double(r.peakActivationBytes) / 1_048_576, 2), 11) + pad(format(r.compileSeconds, 2), 10))
        }
        for r in results {
            lines.append("")
            lines.append("Per-layer breakdown, \(r.threads) thread\(r.threads == 1 ? "" : "s") (medians; "
                + "sum \(format(r.layerSumMs, 2)) ms vs end-to-end \(format(r.medianMs, 2)) ms, "
                + "difference \(format(r.differencePercent, 1))%; within each profiled run the time between "
                + "steps is \(format(r.inRunDifferencePercent, 1))%):")
            let nameWidth = min(48, max(5, r.layers.map(\.name.count).max() ?? 5)) + 2
            let opWidth = max(9, r.layers.map(\.operation.count).max() ?? 9) + 2
            lines.append(pad("#", 5) + pad("layer", nameWidth) + pad("operation", opWidth) + pad("output", 16)
                + pad("layout", 8) + pad("ms", 9) + "%")
            for (i, l) in r.layers.enumerated() {
                let share = r.layerSumMs > 0 ? 100 * l.medianMs / r.layerSumMs : 0
                let name = l.name.count > nameWidth - 2 ? String(l.name.prefix(nameWidth - 3)) + "…" : l.name
                lines.append(pad("\(i + 1)", 5) + pad(name, nameWidth) + pad(l.operation, opWidth)
                    + pad(l.outputShape, 16) + pad(l.layout, 8) + pad(format(l.medianMs, 3), 9) + format(share, 1))
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// End-to-end benchmark of a compiled zoo network: compile, warm up, then
/// interleave timed end-to-end runs with profiled runs (per-step times from
/// `CompiledNetwork.profile`) until both the minimum run count and time are
/// reached; report median and p10/p90 latency, images/s, each step's median,
/// and the sum of the step medians against the end-to-end median.
public enum ModelBench {
    /// A zoo network by name, at `inputSize` (nil: its default size).
    ///
    /// - Throws: `BenchError.invalidArgument` for an unknown name or a size the network cannot take.
    public static func network(named name: String, inputSize: Int? = nil, seed: UInt64 = 0) throws(BenchError)
        -> Network {
        do {
            guard let size = inputSize else { return try Zoo.network(named: name, seed: seed) }
            switch name.lowercased() {
            case "lenet5", "lenet": return try Zoo.lenet5(inputSize: size, seed: seed)
            case "alexnet": return try Zoo.alexnet(inputSize: size, seed: seed)
            case "vgg16": return try Zoo.vgg16(inputSize: size, seed: seed)
            case "resnet18": return try Zoo.resnet18(inputSize: size, seed: seed)
            case "resnet34": return try Zoo.resnet34(inputSize: size, seed: seed)
            case "resnet50": return try Zoo.resnet50(inputSize: size, seed: seed)
            case "mobilenetv1", "mobilenet": return try Zoo.mobilenetV1(inputSize: size, seed: seed)
            case "mobilenetv2": return try Zoo.mobilenetV2(inputSize: size, seed: seed)
            case "googlenet", "inception": return try Zoo.googlenet(inputSize: size, seed: seed)
            case "unet": return try Zoo.unet(inputSize: size, seed: seed)
            default: return try Zoo.network(named: name, seed: seed)
            }
        } catch {
            throw .invalidArgument("--model \(name)\(inputSize.map { " --input-size \($0)" } ?? ""): \(error)")
        }
    }

    /// Runs the benchmark.
    ///
    /// - Parameters:
    ///   - options: compile options (default: fold, fuse, NCHW8c, `PlannerAdapter.shared`).
    ///   - progress: called with a line before each phase.
    /// - Throws: `BenchError` for an unknown model or a failed compile/run.
    public static func run(_ configuration: ModelBenchConfiguration, options: CompileOptions = CompileOptions(),
                           progress: (String) -> Void = { _ in }) throws(BenchError) -> ModelBenchReport {
        guard configuration.batch >= 1 else { throw .invalidArgument("--batch must be >= 1") }
        guard !configuration.threads.isEmpty, configuration.threads.allSatisfy({ $0 >= 1 }) else {
            throw .invalidArgument("--threads: give thread counts >= 1")
        }
        let net = try network(named: configuration.model, inputSize: configuration.inputSize, seed: configuration.seed)
        var shape = net.inputShape
        shape.n = configuration.batch
        var generator = SplitMix64(seed: configuration.seed &+ 0x5EED)
        let input: Tensor
        do {
            input = try Tensor(shape: shape, values: (0..<shape.elementCount).map { _ in generator.nextSigned() })
        } catch { throw .invalidArgument("cannot make the input: \(error)") }

        var results: [ModelBenchResult] = []
        for threads in configuration.threads {
            progress("\(configuration.model): compiling for \(threads) thread\(threads == 1 ? "" : "s")…")
            let compiled: CompiledNetwork
            let compileSeconds: Double
            do {
                let clock = ContinuousClock()
                let start = clock.now
                compiled = try net.compile(batch: configuration.batch, threads: threads, options: options)
                compileSeconds = (clock.now - start).seconds
            } catch { throw .invalidArgument("cannot compile \(configuration.model): \(error)") }
            progress("\(configuration.model): timing \(threads) thread\(threads == 1 ? "" : "s")…")
            results.append(try measure(compiled, input: input, configuration: configuration,
                                       compileSeconds: compileSeconds))
        }
        let mode = (options.planner as? PlannerAdapter).map { "\($0.mode)" } ?? (options.planner == nil ? "none" : "custom")
        return ModelBenchReport(machine: MachineInfo.current(), date: ISO8601DateFormatter().string(from: Date()),
                                model: configuration.model, inputShape: describe(shape), batch: configuration.batch,
                                plannerMode: mode, minTime: configuration.minTime, minRuns: configuration.minRuns,
                                loadAverage: loadAverage(), results: results)
    }

    /// Measures one compiled network (see the type's documentation).
    ///
    /// - Throws: `BenchError.invalidArgument` when a run fails.
    public static func measure(_ compiled: CompiledNetwork, input: Tensor, configuration: ModelBenchConfiguration,
                               compileSeconds: Double = 0) throws(BenchError) -> ModelBenchResult {
        let stepCount = compiled.layers.count
        var endToEnd: [Double] = []
        var perStep = [[Double]](repeating: [], count: stepCount)
        var profiledWall: [Double] = [], inRun: [Double] = []
        do {
            for _ in 0..<configuration.warmupRuns { _ = try compiled(input) }
            let clock = ContinuousClock()
            let begin = clock.now
            var timed = 0.0
            while true {
                let start = clock.now
                _ = try compiled(input)
                let seconds = (clock.now - start).seconds
                endToEnd.append(seconds)
                timed += seconds
                let profileStart = clock.now
                let profiled = try compiled.profile(input).seconds
                let wall = (clock.now - profileStart).seconds
                profiledWall.append(wall)
                inRun.append(wall > 0 ? 100 * (wall - profiled.reduce(0, +)) / wall : 0)
                for (i, s) in profiled.prefix(stepCount).enumerated() { perStep[i].append(s) }
                let elapsed = (clock.now - begin).seconds
                if endToEnd.count >= configuration.minRuns && timed >= configuration.minTime { break }
                if endToEnd.count >= 3 && elapsed >= configuration.maxTime { break }
            }
        } catch { throw .invalidArgument("inference failed: \(error)") }
        let (median, p10, p90) = Statistics.summary(endToEnd)
        let layers = compiled.layers.enumerated().map { i, info in
            ModelLayerTiming(name: info.name, operation: info.operation, outputShape: describe(info.outputShape),
                             layout: "\(info.layout)", medianMs: 1000 * Statistics.median(perStep[i]))
        }
        let sum = layers.reduce(0) { $0 + $1.medianMs }
        let medianMs = 1000 * median
        return ModelBenchResult(threads: compiled.threads, medianMs: medianMs, p10Ms: 1000 * p10, p90Ms: 1000 * p90,
                                runs: endToEnd.count,
                                imagesPerSecond: median > 0 ? Double(compiled.inputShape.n) / median : 0,
                                layerSumMs: sum, differencePercent: medianMs > 0 ? 100 * (medianMs - sum) / medianMs : 0,
                                profiledRunMs: 1000 * Statistics.median(profiledWall),
                                inRunDifferencePercent: Statistics.median(inRun),
                                compileSeconds: compileSeconds, peakActivationBytes: compiled.peakActivationBytes,
                                layers: layers)
    }

    /// Writes the JSON form of `report` to `path`.
    public static func writeJSON(_ report: ModelBenchReport, to path: String) throws(BenchError) {
        let data: Data
        do { data = try report.jsonData() } catch { throw .io("cannot encode the report as JSON: \(error)") }
        try ConvKitBench.write(String(decoding: data, as: UTF8.self) + "\n", to: path, what: "JSON")
    }

    /// The 1-minute load average from `/proc/loadavg` (nil elsewhere).
    static func loadAverage() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Double($0) }
    }

    static func describe(_ s: TensorShape) -> String { "\(s.n)x\(s.c)x\(s.h)x\(s.w)" }
}

private func format(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }

private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}
