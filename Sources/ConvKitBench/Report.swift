import Foundation

/// The report header: machine, measured peaks, run settings.
///
/// Encoded flat: the `MachineInfo` keys (`cpu_model`, `dispatched_isa`,
/// `convkit_version`, ...) sit next to `date`, `peaks`, ...
public struct BenchHeader: Sendable, Hashable, Codable {
    /// The host and library.
    public var machine: MachineInfo
    /// ISO 8601 date of the run.
    public var date: String
    /// Where the suite came from (`standard` or a file name).
    public var suite: String
    /// Measured FMA peak and bandwidth for 1 thread and every requested thread count.
    public var peaks: [PeakFigures]
    /// Thread counts benchmarked.
    public var threads: [Int]
    /// Minimum timed seconds per measurement.
    public var minTime: Double
    /// Minimum timed runs per measurement.
    public var minRuns: Int
    /// Whether `--quick` was on.
    public var quick: Bool
    /// Rounds over the suite whose samples were pooled (`--passes`; 1 in
    /// reports written before the option existed).
    public var passes: Int

    enum CodingKeys: String, CodingKey {
        case date, suite, peaks, threads, minTime = "min_time_s", minRuns = "min_runs", quick, passes
    }

    /// Creates a header.
    public init(machine: MachineInfo, date: String, suite: String, peaks: [PeakFigures], threads: [Int],
                minTime: Double, minRuns: Int, quick: Bool, passes: Int = 1) {
        self.machine = machine
        self.date = date
        self.suite = suite
        self.peaks = peaks
        self.threads = threads
        self.minTime = minTime
        self.minRuns = minRuns
        self.quick = quick
        self.passes = passes
    }

    /// Decodes the flat form.
    public init(from decoder: any Decoder) throws {
        machine = try MachineInfo(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        date = try c.decode(String.self, forKey: .date)
        suite = try c.decode(String.self, forKey: .suite)
        peaks = try c.decode([PeakFigures].self, forKey: .peaks)
        threads = try c.decode([Int].self, forKey: .threads)
        minTime = try c.decode(Double.self, forKey: .minTime)
        minRuns = try c.decode(Int.self, forKey: .minRuns)
        quick = try c.decode(Bool.self, forKey: .quick)
        passes = try c.decodeIfPresent(Int.self, forKey: .passes) ?? 1
    }

    /// Encodes the flat form.
    public func encode(to encoder: any Encoder) throws {
        try machine.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(date, forKey: .date)
        try c.encode(suite, forKey: .suite)
        try c.encode(peaks, forKey: .peaks)
        try c.encode(threads, forKey: .threads)
        try c.encode(minTime, forKey: .minTime)
        try c.encode(minRuns, forKey: .minRuns)
        try c.encode(quick, forKey: .quick)
        try c.encode(passes, forKey: .passes)
    }

    /// The measured FMA peak (GFLOPS) for `threads`, if measured.
    public func peak(threads: Int) -> Double? { peaks.first { $0.threads == threads }?.fmaGflops }
}

/// One measured (layer, algorithm, thread count).
public struct BenchResult: Sendable, Hashable, Codable {
    /// Layer name.
    public var layer: String
    /// `conv`, `maxpool` or `avgpool`.
    public var kind: LayerKind
    /// Algorithm requested (`ck_algorithm_name`; `auto` when ConvKit chose).
    public var algorithm: String
    /// The plan's kernel (`ck_plan_impl_name`, e.g. `direct/avx2_fma 4x24+6x16`).
    public var impl: String
    /// Layout of input and output (`nchw`, `nhwc`, `nchw8c`).
    public var layout: String
    /// Threads of the plan.
    public var threads: Int
    /// Batch size N.
    public var batch: Int
    /// Timed runs.
    public var runs: Int
    /// Median execution time (ms).
    public var medianMs: Double
    /// 10th percentile (ms).
    public var p10Ms: Double
    /// 90th percentile (ms).
    public var p90Ms: Double
    /// Direct-equivalent GFLOPS at the median (pooling: N·C·P·Q·R·S / t).
    public var gflops: Double
    /// (input + output + weight bytes) / median time, GB/s.
    public var gbps: Double
    /// gflops / measured FMA peak for this thread count (0 if unknown).
    public var peakFraction: Double
    /// Workspace bytes of the plan.
    public var workspaceBytes: Int
    /// Plan creation time (ms): packing, transforms; not in the execution time.
    public var planMs: Double
    /// Time (ms) of converting the input from NCHW to the native layout and the
    /// output back (0 when the native layout is NCHW).
    public var convertMs: Double
    /// Whether the output matched the reference within the algorithm's tolerance.
    public var valid: Bool
    /// Worst sampled |y − y_ref| / (Σ|w·x| + |b|).
    public var maxError: Double
    /// The tolerance the check used.
    public var tolerance: Double

    enum CodingKeys: String, CodingKey {
        case layer, kind, algorithm, impl, layout, threads, batch, runs
        case medianMs = "median_ms", p10Ms = "p10_ms", p90Ms = "p90_ms", gflops, gbps
        case peakFraction = "peak_fraction", workspaceBytes = "workspace_bytes", planMs = "plan_ms"
        case convertMs = "convert_ms", valid, maxError = "max_error", tolerance
    }

    /// Creates a result.
    public init(layer: String, kind: LayerKind, algorithm: String, impl: String, layout: String, threads: Int,
                batch: Int, runs: Int, medianMs: Double, p10Ms: Double, p90Ms: Double, gflops: Double, gbps: Double,
                peakFraction: Double, workspaceBytes: Int, planMs: Double, convertMs: Double, valid: Bool,
                maxError: Double, tolerance: Double) {
        self.layer = layer
        self.kind = kind
        self.algorithm = algorithm
        self.impl = impl
        self.layout = layout
        self.threads = threads
        self.batch = batch
        self.runs = runs
        self.medianMs = medianMs
        self.p10Ms = p10Ms
        self.p90Ms = p90Ms
        self.gflops = gflops
        self.gbps = gbps
        self.peakFraction = peakFraction
        self.workspaceBytes = workspaceBytes
        self.planMs = planMs
        self.convertMs = convertMs
        self.valid = valid
        self.maxError = maxError
        self.tolerance = tolerance
    }

    /// Column names of the CSV output (the JSON keys, in order).
    public static let csvColumns: [String] = [
        "layer", "kind", "algorithm", "impl", "layout", "threads", "batch", "runs", "median_ms", "p10_ms", "p90_ms",
        "gflops", "gbps", "peak_fraction", "workspace_bytes", "plan_ms", "convert_ms", "valid", "max_error",
        "tolerance",
    ]

    /// The CSV fields, in `csvColumns` order.
    public var csvFields: [String] {
        [layer, kind.rawValue, algorithm, impl, layout, String(threads), String(batch), String(runs),
         String(medianMs), String(p10Ms), String(p90Ms), String(gflops), String(gbps), String(peakFraction),
         String(workspaceBytes), String(planMs), String(convertMs), String(valid), String(maxError),
         String(tolerance)]
    }
}

/// A (layer, algorithm[, threads]) that was not measured, and why.
public struct BenchSkip: Error, Sendable, Hashable, Codable {
    /// Layer name.
    public var layer: String
    /// Algorithm name.
    public var algorithm: String
    /// Thread count, when the failure was specific to one.
    public var threads: Int?
    /// Why (the C core's status and message, or the harness's rule).
    public var reason: String

    /// Creates a skip record.
    public init(layer: String, algorithm: String, threads: Int?, reason: String) {
        self.layer = layer
        self.algorithm = algorithm
        self.threads = threads
        self.reason = reason
    }

    /// Reason prefix of an algorithm that is not in this build (or failed).
    public static let notAvailable = "not available: "
    /// Reason prefix of an algorithm that declines this layer's shape.
    public static let notApplicable = "not applicable: "

    /// Whether the algorithm merely declined this shape.
    public var isNotApplicable: Bool { reason.hasPrefix(Self.notApplicable) }
}

/// Everything `convkit bench` measured.
public struct BenchReport: Sendable, Hashable, Codable {
    /// Machine, peaks and settings.
    public var header: BenchHeader
    /// One entry per measured (layer, algorithm, threads).
    public var results: [BenchResult]
    /// What was not measured and why (e.g. an algorithm not available yet).
    public var skipped: [BenchSkip]
    /// The backward-pass benchmark (`convkit bench --backward`), absent otherwise.
    public var backward: [BackwardBenchResult]?

    /// Creates a report.
    public init(header: BenchHeader, results: [BenchResult], skipped: [BenchSkip],
                backward: [BackwardBenchResult]? = nil) {
        self.header = header
        self.results = results
        self.skipped = skipped
        self.backward = backward
    }

    /// The JSON form (pretty-printed, keys sorted; non-finite numbers as strings).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    /// Decodes the JSON form.
    public static func decode(json: Data) throws -> BenchReport {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(BenchReport.self, from: json)
    }

    /// The CSV form: a header line of `BenchResult.csvColumns`, one line a result.
    public var csv: String {
        func quote(_ field: String) -> String {
            field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
                ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
        }
        var lines = [BenchResult.csvColumns.joined(separator: ",")]
        for r in results { lines.append(r.csvFields.map(quote).joined(separator: ",")) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The report header as text lines.
    public var headerText: String {
        let m = header.machine
        var lines = [
            "ConvKit \(m.version) benchmark — \(header.date)",
            "CPU: \(m.cpuModel.isEmpty ? "(unknown)" : m.cpuModel) (\(m.arch), \(m.logicalCores) logical cores), "
                + "ISA: \(m.dispatchedISA) [\(m.features.joined(separator: " "))]",
            "OpenBLAS: \(m.blasConfig.isEmpty ? "(not linked)" : m.blasConfig)",
        ]
        for p in header.peaks {
            lines.append("Peak, \(p.threads) thread\(p.threads == 1 ? "" : "s"): FMA \(formatFixed(p.fmaGflops, decimals: 1)) GFLOPS, "
                + "stream \(formatFixed(p.bandwidthGBps, decimals: 1)) GB/s")
        }
        lines.append("Suite: \(header.suite); threads \(header.threads.map(String.init).joined(separator: ",")); "
            + "min time \(formatFixed(header.minTime, decimals: 2)) s, min runs \(header.minRuns)"
            + (header.passes > 1 ? " over \(header.passes) rounds (samples pooled)" : "")
            + (header.quick ? " (quick)" : ""))
        return lines.joined(separator: "\n")
    }

    /// The results table (fixed-width text), followed by what was skipped.
    /// "layout ms" is the NCHW → native → NCHW conversion an algorithm with a
    /// blocked native layout needs (not part of its median).
    public var table: String {
        let columns = ["layer", "algo", "impl", "thr", "median ms", "p10/p90 ms", "GFLOPS", "% peak", "GB/s",
                       "workspace", "plan ms", "layout ms", "check"]
        let rightAligned: Set<Int> = [3, 4, 5, 6, 7, 8, 9, 10, 11]
        var rows: [[String]] = []
        for r in results {
            rows.append([
                r.layer, r.algorithm, r.impl + (r.layout == "nchw" ? "" : " [\(r.layout)]"), String(r.threads),
                formatMs(r.medianMs), formatMs(r.p10Ms) + "/" + formatMs(r.p90Ms),
                formatFixed(r.gflops, decimals: r.gflops < 10 ? 2 : 1),
                r.peakFraction > 0 ? formatFixed(100 * r.peakFraction, decimals: 1) : "-",
                formatFixed(r.gbps, decimals: 1), formatBytes(r.workspaceBytes),
                formatFixed(r.planMs, decimals: 2), r.layout == "nchw" ? "-" : formatFixed(r.convertMs, decimals: 2),
                r.valid ? "ok" : "INVALID",
            ])
        }
        var widths = columns.map(\.count)
        for row in rows { for (i, f) in row.enumerated() { widths[i] = max(widths[i], f.count) } }
        func render(_ fields: [String]) -> String {
            fields.enumerated().map { i, f in
                let pad = String(repeating: " ", count: widths[i] - f.count)
                return rightAligned.contains(i) ? pad + f : f + pad
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        var lines = [render(columns), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        lines += rows.map(render)
        let invalid = results.filter { !$0.valid }
        if !invalid.isEmpty {
            lines.append("")
            lines.append("INVALID: \(invalid.count) result(s) did not match the reference; their figures are not to be trusted.")
        }
        if !skipped.isEmpty {
            lines.append("")
            lines.append("Not measured:")
            // Group identical reasons: "algorithm: reason (layers...)".
            var order: [String] = []
            var groups: [String: [String]] = [:]
            // Shape declines: one line per algorithm (details in the JSON).
            var declined: [String: Int] = [:]
            var declinedOrder: [String] = []
            for s in skipped where s.isNotApplicable {
                if declined[s.algorithm] == nil { declinedOrder.append(s.algorithm) }
                declined[s.algorithm, default: 0] += 1
            }
            for s in skipped where !s.isNotApplicable {
                let key = "\(s.algorithm): \(s.reason)"
                if groups[key] == nil { order.append(key) }
                let label = s.threads.map { "\(s.layer)@\($0)" } ?? s.layer
                groups[key, default: []].append(label)
            }
            for key in order {
                let layers = groups[key] ?? []
                let shown = layers.count > 4 ? layers.prefix(3).joined(separator: ", ") + ", … (\(layers.count) layers)"
                    : layers.joined(separator: ", ")
                lines.append("  \(key) — \(shown)")
            }
            for a in declinedOrder {
                let n = declined[a] ?? 0
                lines.append("  \(a): not applicable to \(n) layer\(n == 1 ? "" : "s") (shape declined; reasons in the JSON)")
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// Milliseconds with 3 significant decimals for small values.
func formatMs(_ ms: Double) -> String {
    if ms < 1 { return formatFixed(ms, decimals: 4) }
    if ms < 100 { return formatFixed(ms, decimals: 3) }
    return formatFixed(ms, decimals: 1)
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
