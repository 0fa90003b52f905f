import CConvKit
import ConvKit
import Foundation

/// Which algorithms to benchmark.
public enum AlgorithmSelection: Sendable, Hashable {
    /// Every algorithm applicable to each layer (reference only on small
    /// layers: see `BenchConfiguration.referenceFlopLimit`).
    case all
    /// ConvKit's own choice (`CK_ALGO_AUTO`).  (Later: the per-machine profile.)
    case auto
    /// Explicitly named algorithms (`ck_algorithm_name`), in order.
    case named([String])

    /// Every concrete convolution algorithm, in `ck_algorithm` order.
    public static var concreteAlgorithms: [ck_algorithm] {
        (1..<Int(CK_ALGO_COUNT)).map { ck_algorithm(rawValue: UInt32($0)) }
    }

    /// Parses `all`, `auto` or a comma-separated list of algorithm names.
    public static func parse(_ text: String) throws(BenchError) -> AlgorithmSelection {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if parts == ["all"] { return .all }
        if parts == ["auto"] { return .auto }
        guard !parts.isEmpty else { throw .invalidArgument("--algorithm: empty value") }
        for p in parts {
            var algo = CK_ALGO_AUTO
            if ck_algorithm_from_name(p, &algo) != CK_OK || p == "all" {
                throw .invalidArgument("--algorithm: unknown algorithm '\(p)' (known: all, auto, "
                    + concreteAlgorithms.map { String(cString: ck_algorithm_name($0)) }.joined(separator: ", ") + ")")
            }
        }
        return .named(parts)
    }
}

/// Parses a thread list such as `2` or `1,2`.
public func parseThreadList(_ text: String) throws(BenchError) -> [Int] {
    var out: [Int] = []
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
        guard let v = Int(part.trimmingCharacters(in: .whitespaces)), v >= 1, v <= 4096 else {
            throw .invalidArgument("--threads: '\(part)' is not a thread count >= 1 (use N or N,M,...)")
        }
        if !out.contains(v) { out.append(v) }
    }
    return out
}

/// Settings of a benchmark run.
public struct BenchConfiguration: Sendable, Hashable {
    /// Thread counts to sweep.
    public var threads: [Int]
    /// Algorithms to run.
    public var algorithms: AlgorithmSelection
    /// Batch size overriding every layer's N.
    public var batch: Int?
    /// Minimum timed seconds per measurement.
    public var minTime: Double
    /// Minimum timed runs per measurement.
    public var minRuns: Int
    /// Stop a measurement after this many seconds once it has 3 runs, even
    /// below `minRuns` (guards against very slow combinations).
    public var maxTime: Double
    /// Untimed runs before timing (besides the checked first run).
    public var warmupRuns: Int
    /// Seconds for each peak/bandwidth measurement (0 = skip measuring).
    public var peakSeconds: Double
    /// With `.all`, reference runs only on layers of at most this many FLOPs.
    public var referenceFlopLimit: Double
    /// Output positions checked against the direct dot product.
    public var samplePositions: Int
    /// Whether `--quick` settings are in force.
    public var quick: Bool
    /// Rounds over the whole suite (1 = time each item in one stretch).
    /// With N > 1 every item is timed in each of N rounds for 1/N of
    /// `minTime` and `minRuns` (at least 3 runs a round), and its median,
    /// p10 and p90 come from the pooled samples: a burst of load from
    /// another tenant then lands on one round of many items instead of on
    /// the whole measurement of one.
    public var passes: Int

    /// Defaults: all cores, all algorithms, 0.2 s and 10 runs.  `quick`
    /// shortens everything for smoke tests (3 runs, 10 ms, short peak loops).
    public init(threads: [Int] = [Int(ck_max_threads())], algorithms: AlgorithmSelection = .all,
                batch: Int? = nil, minTime: Double = 0.2, quick: Bool = false) {
        self.threads = threads
        self.algorithms = algorithms
        self.batch = batch
        self.quick = quick
        self.minTime = quick ? min(minTime, 0.01) : minTime
        self.minRuns = quick ? 3 : 10
        self.maxTime = quick ? 2 : 20
        self.warmupRuns = 1
        self.peakSeconds = quick ? 0.05 : 0.5
        self.referenceFlopLimit = 1.2e8
        self.samplePositions = 256
        self.passes = 1
    }
}

/// A progress notification: item `index` (1-based) of `total`.
public struct BenchProgress: Sendable {
    /// 1-based index of the item starting.
    public var index: Int
    /// Number of items.
    public var total: Int
    /// Layer name.
    public var layer: String
    /// Algorithm name.
    public var algorithm: String
    /// Thread count.
    public var threads: Int
    /// 1-based round (see `BenchConfiguration.passes`).
    public var pass: Int = 1
    /// Number of rounds.
    public var passes: Int = 1

    /// "[i/n] layer algorithm threads", with ", round p/N" when there are several rounds.
    public var line: String {
        "[\(index)/\(total)] \(layer) \(algorithm) \(threads) thread\(threads == 1 ? "" : "s")"
            + (passes > 1 ? ", round \(pass)/\(passes)" : "") + "…"
    }
}

/// Runs a suite: checks each algorithm against the reference, then times it.
public struct BenchRunner: Sendable {
    /// The settings.
    public var configuration: BenchConfiguration
    /// Resolves `--algorithm auto` per layer and thread count (e.g. from the
    /// autotuning profile) to an algorithm and plan flags; nil = the C core's auto.
    public var autoResolver: (@Sendable (BenchLayer, Int) -> (ck_algorithm, UInt32)?)?

    /// Creates a runner.
    public init(configuration: BenchConfiguration) { self.configuration = configuration }

    /// One planned measurement.
    struct Item {
        var layer: BenchLayer
        var algorithm: ck_algorithm
        var layout: ck_layout
        var flags: UInt32
        var threads: Int
    }

    /// Measures the machine's peaks (1 thread and every requested count).
    public func measurePeaks() throws(BenchError) -> [PeakFigures] {
        guard configuration.peakSeconds > 0 else { return [] }
        var counts = [1]
        for t in configuration.threads where !counts.contains(t) { counts.append(t) }
        var out: [PeakFigures] = []
        for t in counts { out.append(try PeakFigures.measure(threads: t, seconds: configuration.peakSeconds)) }
        return out
    }

    /// Runs the suite and returns the report.  `progress` is called before each item;
    /// `warn` with each correctness failure (so it can be printed loudly at once).
    public func run(suite: BenchSuite, suiteName: String = "standard",
                    progress: (BenchProgress) -> Void = { _ in },
                    warn: (String) -> Void = { _ in }) throws(BenchError) -> BenchReport {
        let peaks = try measurePeaks()
        let passes = max(configuration.passes, 1)
        let header = BenchHeader(
            machine: .current(), date: ISO8601DateFormatter().string(from: Date()), suite: suiteName, peaks: peaks,
            threads: configuration.threads, minTime: configuration.minTime, minRuns: configuration.minRuns,
            quick: configuration.quick, passes: passes)
        var layers = suite.layers
        if let b = configuration.batch { layers = layers.map { $0.withBatch(b) } }

        var items: [Item] = []
        var skipped: [BenchSkip] = []
        for layer in layers {
            let (planned, skips) = plan(layer: layer)
            skipped += skips
            for (algo, layout, flags) in planned {
                for t in configuration.threads {
                    let (a, f) = algo == CK_ALGO_AUTO ? autoResolver?(layer, t) ?? (algo, flags) : (algo, flags)
                    items.append(Item(layer: layer, algorithm: a, layout: layout, flags: f, threads: t))
                }
            }
        }

        var pooled: [Int: Measured] = [:]  // by item index
        var failed = Set<Int>()
        var data: LayerData?
        for pass in 1...passes {
            for (i, item) in items.enumerated() where !failed.contains(i) {
                progress(BenchProgress(index: i + 1, total: items.count, layer: item.layer.name,
                                       algorithm: String(cString: ck_algorithm_name(item.algorithm)),
                                       threads: item.threads, pass: pass, passes: passes))
                if data?.layer != item.layer { data = LayerData(layer: item.layer) }
                guard let d = data else { continue }
                switch measure(item, data: d, peak: header.peak(threads: item.threads) ?? 0, passes: passes) {
                case let .success(m):
                    if !m.result.valid { warn(m.message) }
                    if var soFar = pooled[i] {
                        soFar.pool(m)
                        pooled[i] = soFar
                    } else {
                        pooled[i] = m
                    }
                case let .failure(skip):
                    skipped.append(skip)
                    failed.insert(i)
                    pooled[i] = nil
                }
            }
        }
        var results = items.indices.compactMap { pooled[$0]?.result }
        var finalHeader = header
        if let h = try header.remeasured(rates: results.map { ($0.threads, $0.gflops) },
                                         seconds: configuration.peakSeconds, warn: warn) {
            finalHeader = h
            for i in results.indices {
                if let p = h.peak(threads: results[i].threads), p > 0 { results[i].peakFraction = results[i].gflops / p }
            }
        }
        return BenchReport(header: finalHeader, results: results, skipped: skipped)
    }

    /// The (algorithm, layout, flags) to run on `layer`, and what is skipped.
    func plan(layer: BenchLayer) -> ([(ck_algorithm, ck_layout, UInt32)], [BenchSkip]) {
        var run: [(ck_algorithm, ck_layout, UInt32)] = []
        var skips: [BenchSkip] = []
        let name = { (a: ck_algorithm) in String(cString: ck_algorithm_name(a)) }
        if layer.kind.isPooling {
            switch configuration.algorithms {
            // The fast pooling kernels run in the blocked layout (their native one);
            // the reference is timed only when asked for by name.
            case .all, .auto: run.append((CK_ALGO_AUTO, CK_LAYOUT_NCHW8C, 0))
            case let .named(names):
                for n in names {
                    if n == "reference" { run.append((CK_ALGO_REFERENCE, CK_LAYOUT_NCHW, 0)) } else if n == "auto" {
                        run.append((CK_ALGO_AUTO, CK_LAYOUT_NCHW8C, 0))
                    } else {
                        skips.append(BenchSkip(layer: layer.name, algorithm: n, threads: nil,
                                               reason: "pooling layers run only the reference (and auto)"))
                    }
                }
            }
            return (run, skips)
        }
        let candidates: [ck_algorithm]
        let explicit: Bool
        switch configuration.algorithms {
        case .all:
            candidates = AlgorithmSelection.concreteAlgorithms
            explicit = false
        case .auto:
            candidates = [CK_ALGO_AUTO]
            explicit = true
        case let .named(names):
            candidates = names.map { n in
                var a = CK_ALGO_AUTO
                _ = ck_algorithm_from_name(n, &a)
                return a
            }
            explicit = true
        }
        for algo in candidates {
            if algo == CK_ALGO_REFERENCE && !explicit && layer.flops > configuration.referenceFlopLimit {
                skips.append(BenchSkip(
                    layer: layer.name, algorithm: name(algo), threads: nil,
                    reason: "skipped above \(formatFixed(configuration.referenceFlopLimit / 1e6, decimals: 0)) MFLOP "
                        + "(too slow; ask for it with --algorithm reference)"))
                continue
            }
            let flags: UInt32 = algo == CK_ALGO_WINOGRAD_F6 ? UInt32(CK_PLAN_FAST_MATH) : 0
            var options = ck_plan_options()
            options.flags = flags
            var firstReason: String?
            var firstStatus = CK_OK
            var chosen: ck_layout?
            for layout in Self.nativeLayouts(algo) {
                var d = layer.convDescriptor(layout: layout)
                let st = ck_conv2d_algorithm_applicable(&d, algo, &options)
                if st == CK_OK {
                    chosen = layout
                    break
                }
                if firstReason == nil {
                    firstReason = Self.describe(st)
                    firstStatus = st
                }
            }
            if let layout = chosen { run.append((algo, layout, flags)) } else {
                let reason = firstReason ?? "declined"
                // An algorithm missing from this build is "not available"; one
                // that exists but declines this shape is "not applicable".
                let missing = firstStatus != CK_ERR_UNSUPPORTED_ALGORITHM || reason.contains("not implemented")
                skips.append(BenchSkip(layer: layer.name, algorithm: name(algo), threads: nil,
                                       reason: (missing ? BenchSkip.notAvailable : BenchSkip.notApplicable) + reason))
            }
        }
        return (run, skips)
    }

    /// Layouts an algorithm prefers, best first (its native layout, then NCHW).
    public static func nativeLayouts(_ algo: ck_algorithm) -> [ck_layout] {
        algo == CK_ALGO_DIRECT || algo == CK_ALGO_DEPTHWISE ? [CK_LAYOUT_NCHW8C, CK_LAYOUT_NCHW] : [CK_LAYOUT_NCHW]
    }

    /// Lower-case layout name.
    public static func layoutName(_ layout: ck_layout) -> String {
        switch layout {
        case CK_LAYOUT_NHWC: return "nhwc"
        case CK_LAYOUT_NCHW8C: return "nchw8c"
        default: return "nchw"
        }
    }

    /// "status: message" for the calling thread's last C error.
    static func describe(_ st: ck_status) -> String {
        let msg = String(cString: ck_last_error_message())
        let name = String(cString: ck_status_string(st))
        return msg.isEmpty ? name : msg
    }

    /// One item's result and its timing samples (seconds).
    struct Measured {
        var result: BenchResult
        var message: String
        var times: [Double]
        /// Bytes moved per run (for GB/s).
        var bytes: Double
        var flops: Double
        var peak: Double

        /// Adds another round's samples and output check, and recomputes
        /// the statistics over all samples.
        mutating func pool(_ other: Measured) {
            times += other.times
            if result.valid && !other.result.valid {
                result.valid = false
                message = other.message
            }
            result.maxError = max(result.maxError, other.result.maxError)
            summarize()
        }

        /// Sets the result's run count, median, p10/p90, GFLOPS, GB/s and
        /// % peak from `times`.
        mutating func summarize() {
            let (median, p10, p90) = Statistics.summary(times)
            result.runs = times.count
            result.medianMs = median * 1e3
            result.p10Ms = p10 * 1e3
            result.p90Ms = p90 * 1e3
            result.gflops = flops / median * 1e-9
            result.gbps = bytes / median * 1e-9
            result.peakFraction = peak > 0 ? result.gflops / peak : 0
        }
    }

    /// Checks, then times one item (for 1/`passes` of the time and run budget).
    func measure(_ item: Item, data: LayerData, peak: Double, passes: Int = 1) -> Result<Measured, BenchSkip> {
        let layer = item.layer
        let algoName = String(cString: ck_algorithm_name(item.algorithm))
        func skip(_ reason: String) -> Result<Measured, BenchSkip> {
            .failure(BenchSkip(layer: layer.name, algorithm: algoName, threads: item.threads, reason: reason))
        }
        let P = data.p, Q = data.q
        let outC = layer.outputChannels
        var inCount: Int64 = 0, outCount: Int64 = 0
        guard ck_tensor_size(item.layout, Int64(layer.n), Int64(layer.c), Int64(layer.h), Int64(layer.w), &inCount) == CK_OK,
              ck_tensor_size(item.layout, Int64(layer.n), Int64(outC), Int64(P), Int64(Q), &outCount) == CK_OK
        else { return skip(Self.describe(CK_ERR_INVALID_SHAPE)) }

        // Input in the native layout (conversion timed and reported separately).
        var convertSeconds = 0.0
        let x: AlignedFloats
        if item.layout == CK_LAYOUT_NCHW {
            x = data.x
        } else {
            x = AlignedFloats(count: Int(inCount))
            var st = CK_OK
            convertSeconds += Stopwatch.seconds {
                st = ck_convert_layout(Int64(layer.n), Int64(layer.c), Int64(layer.h), Int64(layer.w),
                                       CK_LAYOUT_NCHW, data.x.pointer, item.layout, x.pointer)
            }
            guard st == CK_OK else { return skip("converting the input: " + Self.describe(st)) }
        }
        let y = AlignedFloats(count: Int(outCount), fill: .nan)

        var options = ck_plan_options()
        options.algorithm = item.algorithm
        options.threads = Int32(item.threads)
        options.flags = item.flags

        // Plan creation, timed on its own.
        var plan: OpaquePointer?
        var st = CK_OK
        let planSeconds: Double
        if layer.kind.isPooling {
            var d = layer.poolDescriptor(layout: item.layout)
            planSeconds = Stopwatch.seconds { st = ck_pool2d_plan_create(&d, &options, &plan) }
        } else {
            var d = layer.convDescriptor(layout: item.layout)
            planSeconds = Stopwatch.seconds {
                st = ck_conv2d_plan_create(&d, data.w.pointer, data.b.pointer, &options, &plan)
            }
        }
        guard st == CK_OK, let plan else { return skip("plan creation failed: " + Self.describe(st)) }
        defer { ck_plan_destroy(plan) }

        var wsBytes = 0
        _ = ck_plan_workspace_size(plan, &wsBytes)
        let workspace = wsBytes > 0 ? UnsafeMutableRawPointer.allocate(byteCount: wsBytes, alignment: 64) : nil
        defer { workspace?.deallocate() }
        let impl = String(cString: ck_plan_impl_name(plan))
        var chosen = item.algorithm
        _ = ck_plan_algorithm(plan, &chosen)

        let isPool = layer.kind.isPooling
        let execute: () -> ck_status = {
            isPool ? ck_pool2d_execute(plan, x.pointer, y.pointer)
                : ck_conv2d_execute(plan, x.pointer, y.pointer, nil, workspace, wsBytes)
        }

        // Correctness first: the first run's output against the direct dot product.
        st = execute()
        guard st == CK_OK else { return skip("execute failed: " + Self.describe(st)) }
        let outcome: Correctness.Outcome
        if isPool {
            outcome = Correctness.checkPool(layer: layer, p: P, q: Q, x: data.x.pointer, y: y.pointer,
                                            layout: item.layout, samples: configuration.samplePositions)
        } else {
            let tol = Correctness.tolerance(algorithm: chosen, reduction: layer.c / layer.groups * layer.r * layer.s)
            outcome = Correctness.checkConv(layer: layer, p: P, q: Q, x: data.x.pointer, w: data.w.pointer,
                                            b: data.b.pointer, y: y.pointer, layout: item.layout, tolerance: tol,
                                            samples: configuration.samplePositions)
        }

        // Warm-up, then time until both the minimum time and run count are reached.
        for _ in 0..<configuration.warmupRuns {
            st = execute()
            guard st == CK_OK else { return skip("execute failed: " + Self.describe(st)) }
        }
        var times: [Double] = []
        var total = 0.0
        let minRuns = passes > 1 ? max(3, (configuration.minRuns + passes - 1) / passes) : configuration.minRuns
        let minTime = configuration.minTime / Double(passes)
        while times.count < minRuns || total < minTime {
            if total >= configuration.maxTime / Double(passes) && times.count >= 3 { break }
            let t = Stopwatch.seconds { st = execute() }
            guard st == CK_OK else { return skip("execute failed: " + Self.describe(st)) }
            times.append(t)
            total += t
        }

        if item.layout != CK_LAYOUT_NCHW {
            let back = AlignedFloats(count: layer.n * outC * P * Q)
            convertSeconds += Stopwatch.seconds {
                _ = ck_convert_layout(Int64(layer.n), Int64(outC), Int64(P), Int64(Q), item.layout, y.pointer,
                                      CK_LAYOUT_NCHW, back.pointer)
            }
        }

        let weightBytes = isPool ? 0 : (layer.k * (layer.c / layer.groups) * layer.r * layer.s + layer.k) * 4
        let bytes = Double(inCount + outCount) * 4 + Double(weightBytes)
        // the timing figures are filled in by summarize() below
        let result = BenchResult(
            layer: layer.name, kind: layer.kind, algorithm: String(cString: ck_algorithm_name(item.algorithm)),
            impl: impl, layout: Self.layoutName(item.layout), threads: item.threads, batch: layer.n, runs: 0,
            medianMs: 0, p10Ms: 0, p90Ms: 0, gflops: 0, gbps: 0, peakFraction: 0, workspaceBytes: wsBytes,
            planMs: planSeconds * 1e3, convertMs: convertSeconds * 1e3, valid: outcome.valid,
            maxError: outcome.maxError, tolerance: outcome.tolerance)
        let message = outcome.valid ? "" :
            "INVALID: \(layer.name) \(algoName) (\(impl)) at \(item.threads) thread(s): output differs from the reference "
            + "beyond tolerance \(outcome.tolerance) (max relative error \(outcome.maxError) over \(outcome.checked) "
            + "positions; worst at \(outcome.worst))"
        var measured = Measured(result: result, message: message, times: times, bytes: bytes, flops: layer.flops,
                                peak: peak)
        measured.summarize()
        return .success(measured)
    }
}

/// A layer's deterministic NCHW input, OIHW weights and bias.
final class LayerData {
    let layer: BenchLayer
    let p: Int
    let q: Int
    let x: AlignedFloats
    let w: AlignedFloats
    let b: AlignedFloats

    init(layer: BenchLayer) {
        self.layer = layer
        p = layer.p
        q = layer.q
        var rng = layer.dataGenerator()
        x = AlignedFloats(count: layer.n * layer.c * layer.h * layer.w) { rng.nextSigned() }
        let wc = layer.kind.isPooling ? 1 : layer.k * (layer.c / layer.groups) * layer.r * layer.s
        w = AlignedFloats(count: wc) { rng.nextSigned() }
        b = AlignedFloats(count: max(layer.k, 1)) { rng.nextSigned() }
    }
}

extension BenchLayer {
    /// A generator seeded from the layer name (FNV-1a from `basis`), so a
    /// layer's data does not depend on the suite's order.
    func dataGenerator(basis: UInt64 = 0xcbf2_9ce4_8422_2325) -> SplitMix64 {
        var seed = basis
        for byte in name.utf8 { seed = (seed ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return SplitMix64(seed: seed)
    }
}

/// A 64-byte aligned float buffer.
final class AlignedFloats {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int, fill: Float = 0) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: fill, count: max(count, 1))
    }

    convenience init(count: Int, generator: () -> Float) {
        self.init(count: count)
        for i in 0..<count { pointer[i] = generator() }
    }

    deinit { pointer.deallocate() }
}
