import CConvKit
import Foundation

/// One backward pass (data or weight gradient) of one layer at one thread count.
public struct BackwardPassFigures: Sendable, Hashable, Codable {
    /// Timed runs.
    public var runs: Int
    /// Median time (ms).
    public var medianMs: Double
    /// 10th percentile (ms).
    public var p10Ms: Double
    /// 90th percentile (ms).
    public var p90Ms: Double
    /// 2·N·K·(C/g)·R·S·P·Q / median time, in GFLOPS (each gradient does the
    /// forward's multiply-adds).
    public var gflops: Double
    /// gflops / measured FMA peak for the thread count (0 if unknown).
    public var peakFraction: Double
    /// Whether the gradient matched the direct float64 sums within tolerance.
    public var valid: Bool
    /// Worst sampled |g − g_ref| / Σ|terms|.
    public var maxError: Double
    /// The tolerance the check used.
    public var tolerance: Double
    /// Gradient elements checked.
    public var checked: Int

    enum CodingKeys: String, CodingKey {
        case runs, medianMs = "median_ms", p10Ms = "p10_ms", p90Ms = "p90_ms", gflops
        case peakFraction = "peak_fraction", valid, maxError = "max_error", tolerance, checked
    }

    /// Creates figures.
    public init(runs: Int, medianMs: Double, p10Ms: Double, p90Ms: Double, gflops: Double, peakFraction: Double,
                valid: Bool, maxError: Double, tolerance: Double, checked: Int) {
        self.runs = runs
        self.medianMs = medianMs
        self.p10Ms = p10Ms
        self.p90Ms = p90Ms
        self.gflops = gflops
        self.peakFraction = peakFraction
        self.valid = valid
        self.maxError = maxError
        self.tolerance = tolerance
        self.checked = checked
    }
}

/// The backward passes of one convolution layer at one thread count: the data
/// gradient ∂x (`ck_conv2d_backward_data`) and the weight gradient ∂w with the
/// bias gradient (`ck_conv2d_backward_weights`), NCHW, the auto backward plan.
public struct BackwardBenchResult: Sendable, Hashable, Codable {
    /// Layer name.
    public var layer: String
    /// Threads of the plan.
    public var threads: Int
    /// Batch size N.
    public var batch: Int
    /// Layout (`nchw`).
    public var layout: String
    /// The backward plan's kernel (`ck_plan_impl_name`).
    public var impl: String
    /// FLOPs of each gradient: 2·N·K·(C/g)·R·S·P·Q.
    public var flops: Double
    /// Workspace bytes of the plan (shared by both passes).
    public var workspaceBytes: Int
    /// ∂x.
    public var data: BackwardPassFigures
    /// ∂w and ∂b.
    public var weights: BackwardPassFigures

    enum CodingKeys: String, CodingKey {
        case layer, threads, batch, layout, impl, flops, workspaceBytes = "workspace_bytes", data, weights
    }

    /// Creates a result.
    public init(layer: String, threads: Int, batch: Int, layout: String, impl: String, flops: Double,
                workspaceBytes: Int, data: BackwardPassFigures, weights: BackwardPassFigures) {
        self.layer = layer
        self.threads = threads
        self.batch = batch
        self.layout = layout
        self.impl = impl
        self.flops = flops
        self.workspaceBytes = workspaceBytes
        self.data = data
        self.weights = weights
    }

    /// Whether both gradients passed their checks.
    public var valid: Bool { data.valid && weights.valid }
}

/// Runs the backward-pass benchmark over a suite's convolution layers (pooling
/// layers are left out): for each layer and thread count, check ∂x, ∂w and ∂b
/// against direct float64 sums on sampled elements, then time both passes,
/// interleaved run by run so load from other processes hits them alike.
public struct BackwardBenchRunner: Sendable {
    /// The settings (threads, batch, timing; `algorithms` is ignored).
    public var configuration: BenchConfiguration

    /// Creates a runner.
    public init(configuration: BenchConfiguration) { self.configuration = configuration }

    /// Runs the suite; the report's `results` are empty and `backward` holds
    /// one entry per (layer, threads).  `progress` is called before each item,
    /// `warn` with each failed check.
    public func run(suite: BenchSuite, suiteName: String = "standard",
                    progress: (BenchProgress) -> Void = { _ in },
                    warn: (String) -> Void = { _ in }) throws(BenchError) -> BenchReport {
        let peaks = try BenchRunner(configuration: configuration).measurePeaks()
        let header = BenchHeader(
            machine: .current(), date: ISO8601DateFormatter().string(from: Date()), suite: suiteName, peaks: peaks,
            threads: configuration.threads, minTime: configuration.minTime, minRuns: configuration.minRuns,
            quick: configuration.quick)
        var layers = suite.layers.filter { !$0.kind.isPooling }
        if let b = configuration.batch { layers = layers.map { $0.withBatch(b) } }
        let total = layers.count * configuration.threads.count
        var results: [BackwardBenchResult] = []
        var skipped: [BenchSkip] = []
        var index = 0
        for layer in layers {
            let data = BackwardLayerData(layer: layer)
            for t in configuration.threads {
                index += 1
                progress(BenchProgress(index: index, total: total, layer: layer.name, algorithm: "backward",
                                       threads: t))
                switch measure(layer: layer, threads: t, data: data, peak: header.peak(threads: t) ?? 0) {
                case let .success(r):
                    for (name, f) in [("dx", r.data), ("dw", r.weights)] where !f.valid {
                        warn("INVALID: \(layer.name) backward \(name) (\(r.impl)) at \(t) thread(s): max relative "
                             + "error \(f.maxError) over \(f.checked) elements, tolerance \(f.tolerance)")
                    }
                    results.append(r)
                case let .failure(skip): skipped.append(skip)
                }
            }
        }
        // a peak measured low (another process on a core): measure it again
        var finalHeader = header
        let rates = results.flatMap { [($0.threads, $0.data.gflops), ($0.threads, $0.weights.gflops)] }
        if let h = try header.remeasured(rates: rates, seconds: configuration.peakSeconds, warn: warn) {
            finalHeader = h
            for i in results.indices {
                if let p = h.peak(threads: results[i].threads), p > 0 {
                    results[i].data.peakFraction = results[i].data.gflops / p
                    results[i].weights.peakFraction = results[i].weights.gflops / p
                }
            }
        }
        return BenchReport(header: finalHeader, results: [], skipped: skipped, backward: results)
    }

    /// Checks, then times the two passes of one layer at `threads`.
    func measure(layer: BenchLayer, threads: Int, data: BackwardLayerData, peak: Double)
        -> Result<BackwardBenchResult, BenchSkip>
    {
        func skip(_ reason: String) -> Result<BackwardBenchResult, BenchSkip> {
            .failure(BenchSkip(layer: layer.name, algorithm: "backward", threads: threads, reason: reason))
        }
        var d = layer.convDescriptor(layout: CK_LAYOUT_NCHW)
        var options = ck_plan_options()
        options.threads = Int32(threads)
        var plan: OpaquePointer?
        var st = ck_conv2d_backward_plan_create(&d, &options, &plan)
        guard st == CK_OK, let plan else { return skip("backward plan creation failed: " + BenchRunner.describe(st)) }
        defer { ck_plan_destroy(plan) }
        var wsBytes = 0
        _ = ck_plan_workspace_size(plan, &wsBytes)
        let workspace = wsBytes > 0 ? UnsafeMutableRawPointer.allocate(byteCount: wsBytes, alignment: 64) : nil
        defer { workspace?.deallocate() }
        let impl = String(cString: ck_plan_impl_name(plan))

        let dx = AlignedFloats(count: data.x.count, fill: .nan)
        let dw = AlignedFloats(count: data.w.count, fill: .nan)
        let db = AlignedFloats(count: layer.k, fill: .nan)
        let runData = { ck_conv2d_backward_data(plan, data.dy.pointer, data.w.pointer, dx.pointer, workspace, wsBytes) }
        let runWeights = {
            ck_conv2d_backward_weights(plan, data.x.pointer, data.dy.pointer, dw.pointer, db.pointer, workspace, wsBytes)
        }

        // Correctness first, on the first run's gradients.
        st = runData()
        guard st == CK_OK else { return skip("backward data failed: " + BenchRunner.describe(st)) }
        st = runWeights()
        guard st == CK_OK else { return skip("backward weights failed: " + BenchRunner.describe(st)) }
        let checkD = BackwardCorrectness.checkData(layer: layer, w: data.w.pointer, dy: data.dy.pointer,
                                                   dx: dx.pointer, samples: configuration.samplePositions)
        let checkW = BackwardCorrectness.checkWeights(layer: layer, x: data.x.pointer, dy: data.dy.pointer,
                                                      dw: dw.pointer, db: db.pointer,
                                                      samples: configuration.samplePositions)

        for _ in 0..<configuration.warmupRuns {
            guard runData() == CK_OK, runWeights() == CK_OK else {
                return skip("backward failed: " + BenchRunner.describe(CK_ERR_INTERNAL))
            }
        }
        var td: [Double] = [], tw: [Double] = []
        var total = 0.0
        while td.count < configuration.minRuns || total < configuration.minTime {
            if total >= configuration.maxTime && td.count >= 3 { break }
            var s1 = CK_OK, s2 = CK_OK
            let a = Stopwatch.seconds { s1 = runData() }
            let b = Stopwatch.seconds { s2 = runWeights() }
            guard s1 == CK_OK, s2 == CK_OK else {
                return skip("backward failed: " + BenchRunner.describe(s1 == CK_OK ? s2 : s1))
            }
            td.append(a)
            tw.append(b)
            total += a + b
        }
        let flops = layer.flops
        func figures(_ times: [Double], _ check: BackwardCorrectness.Outcome) -> BackwardPassFigures {
            let (median, p10, p90) = Statistics.summary(times)
            let gflops = flops / median * 1e-9
            return BackwardPassFigures(runs: times.count, medianMs: median * 1e3, p10Ms: p10 * 1e3, p90Ms: p90 * 1e3,
                                       gflops: gflops, peakFraction: peak > 0 ? gflops / peak : 0, valid: check.valid,
                                       maxError: check.maxError, tolerance: check.tolerance, checked: check.checked)
        }
        return .success(BackwardBenchResult(
            layer: layer.name, threads: threads, batch: layer.n, layout: "nchw", impl: impl, flops: flops,
            workspaceBytes: wsBytes, data: figures(td, checkD), weights: figures(tw, checkW)))
    }
}

/// A layer's deterministic NCHW input x, OIHW weights w and output gradient dy.
final class BackwardLayerData {
    let x: AlignedFloats
    let w: AlignedFloats
    let dy: AlignedFloats
    let p: Int
    let q: Int

    init(layer: BenchLayer) {
        p = layer.p
        q = layer.q
        var rng = layer.dataGenerator(basis: 0x8422_2325_cbf2_9ce4)
        x = AlignedFloats(count: layer.n * layer.c * layer.h * layer.w) { rng.nextSigned() }
        w = AlignedFloats(count: layer.k * (layer.c / layer.groups) * layer.r * layer.s) { rng.nextSigned() }
        dy = AlignedFloats(count: layer.n * layer.k * p * q) { rng.nextSigned() }
    }
}

/// Checks backward gradients against direct float64 sums on a deterministic
/// sample of elements (borders included; all elements of small tensors).
public enum BackwardCorrectness {
    /// The outcome of a check.
    public struct Outcome: Sendable {
        /// Whether every sampled element was within tolerance.
        public var valid: Bool
        /// Worst |g − g_ref| / Σ|terms|.
        public var maxError: Double
        /// The tolerance: 4·√reduction·2⁻²⁴ (as `Correctness.tolerance` for GEMM algorithms).
        public var tolerance: Double
        /// Elements checked.
        public var checked: Int
    }

    /// Accumulates errors of sampled elements.
    struct Accumulator {
        var worst = 0.0
        var checked = 0
        var failed = false
        let tolerance: Double

        mutating func add(got: Float, ref: Double, scale: Double) {
            checked += 1
            let err = abs(Double(got) - ref) / max(scale, 1e-30)
            if !(err <= tolerance) && !(abs(Double(got) - ref) <= 1e-30) { failed = true }
            if err.isNaN || !(err <= worst) { worst = err.isNaN ? .infinity : max(worst, err) }
        }

        var outcome: Outcome { Outcome(valid: !failed, maxError: worst, tolerance: tolerance, checked: checked) }
    }

    /// Checks ∂x (NCHW) on up to `samples` elements:
    /// ∂x[n,c,h,w] = Σ over k in c's group, r, s with h = p·stride − pad + r,
    /// w = q·stride − pad + s, of w[k, c mod C/g, r, s]·dy[n,k,p,q].
    public static func checkData(layer L: BenchLayer, w: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                 dx: UnsafePointer<Float>, samples: Int) -> Outcome
    {
        let P = L.p, Q = L.q, cg = L.c / L.groups, kg = L.k / L.groups
        var acc = Accumulator(tolerance: Correctness.tolerance(algorithm: CK_ALGO_IM2COL, reduction: kg * L.r * L.s))
        for pos in Correctness.samplePositions(n: L.n, k: L.c, p: L.h, q: L.w, count: samples) {
            let (n, c, h, x) = (pos.n, pos.k, pos.p, pos.q)
            let g = c / cg, cl = c % cg
            var ref = 0.0, scale = 0.0
            for r in 0..<L.r {
                let th = h + L.pad - r
                guard th >= 0, th % L.stride == 0, th / L.stride < P else { continue }
                let p = th / L.stride
                for s in 0..<L.s {
                    let tw = x + L.pad - s
                    guard tw >= 0, tw % L.stride == 0, tw / L.stride < Q else { continue }
                    let q = tw / L.stride
                    for k in g * kg..<(g + 1) * kg {
                        let t = Double(w[((k * cg + cl) * L.r + r) * L.s + s]) * Double(dy[((n * L.k + k) * P + p) * Q + q])
                        ref += t
                        scale += abs(t)
                    }
                }
            }
            acc.add(got: dx[((n * L.c + c) * L.h + h) * L.w + x], ref: ref, scale: scale)
        }
        return acc.outcome
    }

    /// Checks ∂w (OIHW) on up to `samples` elements and ∂b on all:
    /// ∂w[k,c,r,s] = Σ_{n,p,q} dy[n,k,p,q]·x[n, g·C/g + c, p·stride − pad + r, q·stride − pad + s],
    /// ∂b[k] = Σ_{n,p,q} dy[n,k,p,q].
    public static func checkWeights(layer L: BenchLayer, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                    dw: UnsafePointer<Float>, db: UnsafePointer<Float>, samples: Int) -> Outcome
    {
        let P = L.p, Q = L.q, cg = L.c / L.groups, kg = L.k / L.groups
        var acc = Accumulator(tolerance: Correctness.tolerance(algorithm: CK_ALGO_IM2COL, reduction: L.n * P * Q))
        for pos in Correctness.samplePositions(n: L.k, k: cg, p: L.r, q: L.s, count: samples) {
            let (k, cl, r, s) = (pos.n, pos.k, pos.p, pos.q)
            let c = (k / kg) * cg + cl
            var ref = 0.0, scale = 0.0
            for n in 0..<L.n {
                for p in 0..<P {
                    let ih = p * L.stride - L.pad + r
                    guard ih >= 0, ih < L.h else { continue }
                    let xrow = x + ((n * L.c + c) * L.h + ih) * L.w, grow = dy + ((n * L.k + k) * P + p) * Q
                    for q in 0..<Q {
                        let iw = q * L.stride - L.pad + s
                        guard iw >= 0, iw < L.w else { continue }
                        let t = Double(grow[q]) * Double(xrow[iw])
                        ref += t
                        scale += abs(t)
                    }
                }
            }
            acc.add(got: dw[((k * cg + cl) * L.r + r) * L.s + s], ref: ref, scale: scale)
        }
        for k in 0..<L.k {
            var ref = 0.0, scale = 0.0
            for n in 0..<L.n {
                let plane = dy + (n * L.k + k) * P * Q
                for i in 0..<(P * Q) {
                    ref += Double(plane[i])
                    scale += abs(Double(plane[i]))
                }
            }
            acc.add(got: db[k], ref: ref, scale: scale)
        }
        return acc.outcome
    }
}

extension BenchReport {
    /// The backward-pass table: per layer and thread count, ∂x and ∂w(+∂b)
    /// median ms, GFLOPS and % of the measured peak, and the checks.
    public var backwardTable: String {
        let columns = ["layer", "thr", "dx ms", "dx GFLOPS", "dx % peak", "dw ms", "dw GFLOPS", "dw % peak",
                       "workspace", "check"]
        var rows: [[String]] = []
        for r in backward ?? [] {
            func pct(_ f: BackwardPassFigures) -> String {
                f.peakFraction > 0 ? formatFixed(100 * f.peakFraction, decimals: 1) : "-"
            }
            func gf(_ f: BackwardPassFigures) -> String { formatFixed(f.gflops, decimals: f.gflops < 10 ? 2 : 1) }
            rows.append([r.layer, String(r.threads), formatMs(r.data.medianMs), gf(r.data), pct(r.data),
                         formatMs(r.weights.medianMs), gf(r.weights), pct(r.weights), formatBytes(r.workspaceBytes),
                         r.valid ? "ok" : "INVALID"])
        }
        var widths = columns.map(\.count)
        for row in rows { for (i, f) in row.enumerated() { widths[i] = max(widths[i], f.count) } }
        func render(_ fields: [String]) -> String {
            var line = fields.enumerated().map { i, f in
                let pad = String(repeating: " ", count: widths[i] - f.count)
                return i == 0 || i == fields.count - 1 ? f + pad : pad + f
            }.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            return line
        }
        var lines = [render(columns), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        lines += rows.map(render)
        let impls = Set((backward ?? []).map(\.impl)).sorted()
        if !impls.isEmpty { lines.append("backward kernels: " + impls.joined(separator: ", ") + " (NCHW)") }
        if (backward ?? []).contains(where: { !$0.valid }) {
            lines.append("INVALID: some gradients did not match the direct sums; their figures are not to be trusted.")
        }
        for s in skipped { lines.append("not measured: \(s.layer)@\(s.threads ?? 0): \(s.reason)") }
        return lines.joined(separator: "\n")
    }
}
