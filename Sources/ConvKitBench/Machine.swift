import CConvKit
import Foundation

/// What the C core detected about the host (`ck_get_cpu_info` and friends).
public struct MachineInfo: Sendable, Hashable, Codable {
    /// CPU model string ("" if unknown).
    public var cpuModel: String
    /// Architecture, e.g. `x86_64`.
    public var arch: String
    /// Detected ISA features, e.g. `["sse4.2", "avx", "avx2", "fma"]`.
    public var features: [String]
    /// The ISA the kernels dispatch to (`scalar`, `avx2`, `neon`).
    public var dispatchedISA: String
    /// Online logical CPUs.
    public var logicalCores: Int
    /// L1 data cache bytes (0 if unknown).
    public var l1dBytes: Int
    /// L2 cache bytes (0 if unknown).
    public var l2Bytes: Int
    /// L3 cache bytes (0 if unknown).
    public var l3Bytes: Int
    /// OpenBLAS configuration string ("" without OpenBLAS).
    public var blasConfig: String
    /// OpenMP maximum threads.
    public var ompMaxThreads: Int
    /// ConvKit version.
    public var version: String

    enum CodingKeys: String, CodingKey {
        case cpuModel = "cpu_model", arch, features, dispatchedISA = "dispatched_isa", logicalCores = "logical_cores"
        case l1dBytes = "l1d_bytes", l2Bytes = "l2_bytes", l3Bytes = "l3_bytes", blasConfig = "openblas_config"
        case ompMaxThreads = "omp_max_threads", version = "convkit_version"
    }

    /// Queries the C core.
    public static func current() -> MachineInfo {
        var info = ck_cpu_info()
        _ = ck_get_cpu_info(&info)
        var features: [String] = []
        if info.has_sse42 != 0 { features.append("sse4.2") }
        if info.has_avx != 0 { features.append("avx") }
        if info.has_avx2 != 0 { features.append("avx2") }
        if info.has_fma != 0 { features.append("fma") }
        if info.has_avx512f != 0 { features.append("avx512f") }
        if info.has_neon != 0 { features.append("neon") }
        return MachineInfo(
            cpuModel: cString(info.model), arch: cString(info.arch), features: features,
            dispatchedISA: String(cString: ck_isa_name(info.dispatched_isa)), logicalCores: Int(info.logical_cores),
            l1dBytes: Int(info.l1d_bytes), l2Bytes: Int(info.l2_bytes), l3Bytes: Int(info.l3_bytes),
            blasConfig: String(cString: ck_blas_config()), ompMaxThreads: Int(ck_max_threads()),
            version: String(cString: ck_version()))
    }

    /// The `convkit info` report, one `key: value` a line.
    public var report: String {
        let width = 18
        func row(_ key: String, _ value: String) -> String {
            (key + ":").padding(toLength: width, withPad: " ", startingAt: 0) + value
        }
        return [
            row("ConvKit", version),
            row("CPU", cpuModel.isEmpty ? "(unknown)" : cpuModel),
            row("Architecture", arch),
            row("ISA features", features.isEmpty ? "(none detected)" : features.joined(separator: " ")),
            row("Dispatched ISA", dispatchedISA),
            row("Logical cores", String(logicalCores)),
            row("L1d cache", formatBytes(l1dBytes)),
            row("L2 cache", formatBytes(l2Bytes)),
            row("L3 cache", formatBytes(l3Bytes)),
            row("OpenBLAS", blasConfig.isEmpty ? "(not linked)" : blasConfig),
            row("OpenMP threads", String(ompMaxThreads)),
        ].joined(separator: "\n")
    }
}

/// Measured peak figures for one thread count.
public struct PeakFigures: Sendable, Hashable, Codable {
    /// Thread count measured.
    public var threads: Int
    /// FP32 FMA throughput (GFLOPS) of the dispatched ISA's register-resident loop.
    public var fmaGflops: Double
    /// Streaming (scale) bandwidth, read+write GB/s.
    public var bandwidthGBps: Double

    enum CodingKeys: String, CodingKey {
        case threads, fmaGflops = "fma_gflops", bandwidthGBps = "bandwidth_gbps"
    }

    /// Creates figures.
    public init(threads: Int, fmaGflops: Double, bandwidthGBps: Double) {
        self.threads = threads
        self.fmaGflops = fmaGflops
        self.bandwidthGBps = bandwidthGBps
    }

    /// Measures with `ck_measure_fma_peak` and `ck_measure_bandwidth`.
    public static func measure(threads: Int, seconds: Double) throws(BenchError) -> PeakFigures {
        var gflops = 0.0
        var gbps = 0.0
        var st = ck_measure_fma_peak(Int32(threads), seconds, &gflops)
        guard st == CK_OK else { throw .c(st, String(cString: ck_last_error_message())) }
        st = ck_measure_bandwidth(Int32(threads), seconds, &gbps)
        guard st == CK_OK else { throw .c(st, String(cString: ck_last_error_message())) }
        return PeakFigures(threads: threads, fmaGflops: gflops, bandwidthGBps: gbps)
    }

    /// Measures the FMA peak alone (`ck_measure_fma_peak`).
    public static func measureFMA(threads: Int, seconds: Double) throws(BenchError) -> Double {
        var gflops = 0.0
        let st = ck_measure_fma_peak(Int32(threads), seconds, &gflops)
        guard st == CK_OK else { throw .c(st, String(cString: ck_last_error_message())) }
        return gflops
    }
}

/// Re-measures the FMA peak of every thread count for which a result ran faster
/// than it (a peak measured while another process held one of the cores reads
/// low, and the results would show more than 100% of it): up to `attempts`
/// more measurements, the largest kept.  Returns the updated peaks and one
/// message per thread count re-measured.
func remeasuredPeaks(_ peaks: [PeakFigures], fastest: [Int: Double], seconds: Double,
                     attempts: Int = 3) throws(BenchError) -> ([PeakFigures], [String]) {
    var out = peaks
    var notes: [String] = []
    for i in out.indices {
        let t = out[i].threads
        let old = out[i].fmaGflops
        guard old > 0, let top = fastest[t], top > old else { continue }
        var best = old
        for _ in 0..<attempts where best < top { best = max(best, try PeakFigures.measureFMA(threads: t, seconds: seconds)) }
        out[i].fmaGflops = best
        let what = "\(t) thread\(t == 1 ? "" : "s")"
        let head = "the \(what) FMA peak measured \(formatFixed(old, decimals: 1)) GFLOPS before the run, "
            + "below the \(formatFixed(top, decimals: 1)) GFLOPS a layer reached (another process probably held a core "
            + "while it was measured)"
        notes.append(best >= top
            ? head + "; measured again: \(formatFixed(best, decimals: 1)) GFLOPS, used for % peak"
            : head + "; \(attempts) more measurements reached only \(formatFixed(best, decimals: 1)) GFLOPS, "
                + "so % peak for \(what) is not trustworthy in this run")
    }
    return (out, notes)
}

extension BenchHeader {
    /// This header with its FMA peaks re-measured where one of `rates` (thread
    /// count, GFLOPS of a result) ran faster than the peak (see `remeasuredPeaks`);
    /// each note goes to `warn`.  `nil` when no peak was below a result.
    func remeasured(rates: [(threads: Int, gflops: Double)], seconds: Double,
                    warn: (String) -> Void) throws(BenchError) -> BenchHeader? {
        var fastest: [Int: Double] = [:]
        for r in rates where r.gflops.isFinite { fastest[r.threads] = max(fastest[r.threads] ?? 0, r.gflops) }
        let (newPeaks, notes) = try remeasuredPeaks(peaks, fastest: fastest, seconds: seconds)
        guard !notes.isEmpty else { return nil }
        for n in notes { warn(n) }
        var h = self
        h.peaks = newPeaks
        return h
    }
}

/// Converts a fixed-size C char array (imported as a tuple) to a String.
func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
        let bytes = raw.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// "32 KiB", "1.5 MiB", "unknown" for 0.
public func formatBytes(_ bytes: Int) -> String {
    if bytes <= 0 { return bytes == 0 ? "0" : "unknown" }
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(bytes)
    var i = 0
    while v >= 1024, i < units.count - 1 {
        v /= 1024
        i += 1
    }
    if i == 0 { return "\(bytes) B" }
    return v == v.rounded() ? "\(Int(v)) \(units[i])" : String(format1: v) + " \(units[i])"
}

extension String {
    /// `value` with one decimal.
    init(format1 value: Double) { self = formatFixed(value, decimals: 1) }
}

/// A fixed-point rendering with `decimals` digits (no Foundation formatting).
public func formatFixed(_ value: Double, decimals: Int) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let negative = value < 0
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9.0e18 else { return String(value) }
    let n = UInt64(scaled)
    let whole = n / UInt64(scale)
    var text = String(whole)
    if decimals > 0 {
        var frac = String(n % UInt64(scale))
        while frac.count < decimals { frac = "0" + frac }
        text += "." + frac
    }
    return (negative && scaled != 0 ? "-" : "") + text
}
