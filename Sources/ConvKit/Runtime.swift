import CConvKit

/// The CPU features ConvKit detected (once, at first use) and the instruction
/// set its kernels dispatch to.
public struct CPUInfo: Hashable, Codable, Sendable, CustomStringConvertible {
    /// The CPU model string ("" if unknown).
    public var model: String
    /// The architecture: "x86_64", "aarch64", ...
    public var arch: String
    /// SSE4.2 support.
    public var hasSSE42: Bool
    /// AVX support.
    public var hasAVX: Bool
    /// AVX2 support.
    public var hasAVX2: Bool
    /// FMA3 support.
    public var hasFMA: Bool
    /// AVX-512F support (detected; never dispatched to).
    public var hasAVX512F: Bool
    /// Arm Advanced SIMD (NEON) support.
    public var hasNEON: Bool
    /// The ISA the kernels use ("scalar", "avx2", "avx512", "neon"), after any `CONVKIT_MAX_ISA` cap.
    public var dispatchedISA: String
    /// Online logical CPUs.
    public var logicalCores: Int
    /// L1 data cache bytes (0 if unknown).
    public var l1dBytes: Int
    /// L2 cache bytes (0 if unknown).
    public var l2Bytes: Int
    /// L3 cache bytes (0 if unknown).
    public var l3Bytes: Int

    /// The detected features whose flag is set, e.g. `["sse4.2", "avx", "avx2", "fma"]`.
    public var features: [String] {
        [(hasSSE42, "sse4.2"), (hasAVX, "avx"), (hasAVX2, "avx2"), (hasFMA, "fma"), (hasAVX512F, "avx512f"),
         (hasNEON, "neon")].filter(\.0).map(\.1)
    }

    /// A one-line summary: model, arch, features, ISA, cores.
    public var description: String {
        "\(model.isEmpty ? "unknown CPU" : model) (\(arch)), features [\(features.joined(separator: " "))], "
            + "dispatch \(dispatchedISA), \(logicalCores) logical cores"
    }
}

/// Reads a fixed-size C `char` array (imported as a tuple) as a `String`.
private func string<T>(fromCharTuple tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
        let bytes = raw.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Library-wide information and machine measurements.
public enum ConvKitRuntime {
    /// ConvKit's version string, e.g. "0.1.0".
    public static var version: String { String(cString: ck_version()) }

    /// The detected CPU features.
    public static var cpuInfo: CPUInfo {
        get throws {
            var info = ck_cpu_info()
            try check(ck_get_cpu_info(&info))
            return CPUInfo(
                model: string(fromCharTuple: info.model), arch: string(fromCharTuple: info.arch),
                hasSSE42: info.has_sse42 != 0, hasAVX: info.has_avx != 0, hasAVX2: info.has_avx2 != 0,
                hasFMA: info.has_fma != 0, hasAVX512F: info.has_avx512f != 0, hasNEON: info.has_neon != 0,
                dispatchedISA: String(cString: ck_isa_name(info.dispatched_isa)),
                logicalCores: Int(info.logical_cores), l1dBytes: Int(info.l1d_bytes), l2Bytes: Int(info.l2_bytes),
                l3Bytes: Int(info.l3_bytes))
        }
    }

    /// OpenBLAS's configuration string ("" when not linked against OpenBLAS).
    public static var blasConfiguration: String { String(cString: ck_blas_config()) }

    /// The maximum number of OpenMP threads (1 without OpenMP); what `threads: 0` means.
    public static var maxThreads: Int { Int(ck_max_threads()) }

    /// Measures the FP32 FMA throughput in GFLOPS on `threads` threads (0 = all
    /// cores) for about `seconds` seconds.
    public static func measurePeakGFLOPS(threads: Int = 0, seconds: Double = 0.2) throws -> Double {
        var gflops = 0.0
        try check(ck_measure_fma_peak(Int32(clamping: threads), seconds, &gflops))
        return gflops
    }

    /// Measures streaming memory bandwidth in GB/s on `threads` threads (0 = all
    /// cores) for about `seconds` seconds.
    public static func measureBandwidthGBps(threads: Int = 0, seconds: Double = 0.2) throws -> Double {
        var gbps = 0.0
        try check(ck_measure_bandwidth(Int32(clamping: threads), seconds, &gbps))
        return gbps
    }
}
