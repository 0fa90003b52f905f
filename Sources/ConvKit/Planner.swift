import Synchronization

/// How a `Planner` chooses the algorithm for a convolution.
public enum PlannerMode: String, Hashable, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// A heuristic model of the shape (`PlannerHeuristics`); never times anything.
    case estimate
    /// Times the applicable, allowed algorithms once per new key and remembers the winner.
    case measure
    /// As `measure`, and also sweeps variants and parameters (all Winograd tiles,
    /// workspace limits, and layouts when `PlannerConfiguration.allowLayoutChange`).
    case exhaustive
    /// Uses the profile's entry when there is one, otherwise `estimate`; never times.
    case profileOnly

    /// The raw name, e.g. `measure`.
    public var description: String { rawValue }
}

/// One way to run a convolution: an algorithm with its parameters.
///
/// The parameters are what the planner may vary: the layout the kernel runs in,
/// the workspace limit (which sets the blocking of im2col and Winograd), and a
/// free-form `parameters` table reserved for per-algorithm knobs (tile or block
/// sizes) as the C core exposes them.
public struct PlannerCandidate: Hashable, Codable, Sendable, CustomStringConvertible {
    /// The algorithm (never `.auto`).
    public var algorithm: Algorithm
    /// The layout of input and output while the kernel runs.
    public var layout: Layout
    /// Maximum workspace bytes given to the plan; 0 = the caller's limit (or the C core's 16 MiB default).
    public var workspaceLimit: Int
    /// Per-algorithm parameters by name (empty today).
    public var parameters: [String: Int]

    /// Creates a candidate.
    public init(algorithm: Algorithm, layout: Layout = .nchw, workspaceLimit: Int = 0, parameters: [String: Int] = [:]) {
        self.algorithm = algorithm
        self.layout = layout
        self.workspaceLimit = workspaceLimit
        self.parameters = parameters
    }

    /// The parameters in words, e.g. `NCHW ws=4MiB` (empty parts are left out).
    public var parameterDescription: String {
        var parts = ["\(layout)"]
        if workspaceLimit > 0 { parts.append("ws=\(formatBytes(workspaceLimit))") }
        for (k, v) in parameters.sorted(by: { $0.key < $1.key }) { parts.append("\(k)=\(v)") }
        return parts.joined(separator: " ")
    }

    /// `algorithm parameters`, e.g. `winograd-f4 NCHW ws=4MiB`.
    public var description: String { "\(algorithm) \(parameterDescription)" }

    /// The plan options that run this candidate, from the caller's options.
    public func planOptions(from options: PlanOptions) -> PlanOptions {
        var o = options
        o.algorithm = algorithm
        if workspaceLimit > 0 { o.workspaceLimit = workspaceLimit }
        if algorithm == .winogradF6 { o.fastMath = true }
        return o
    }
}

/// Formats a byte count as `16MiB`, `512KiB` or `100B`.
func formatBytes(_ bytes: Int) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20)MiB" }
    if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10)KiB" }
    return "\(bytes)B"
}

/// The tunable constants of the `estimate` heuristic, in one place.
///
/// The rules, in order (see `Planner.estimate`), each backed by an interleaved
/// `convkit autotune --compare` run on a 2-core AVX2+FMA x86-64 machine, NCHW,
/// 1 thread (medians of the evaluation rounds; the machine was shared, so only
/// clear gaps were turned into rules):
/// 1. Depthwise kernels for depthwise shapes with more than one channel and a
///    stride of at most `depthwiseMaxStride` (NCHW8c, 1 thread: dw112 0.090 vs
///    im2col 0.816 ms, dw56 0.106 vs 1.082, dw7 0.021 vs 0.569, and since the
///    unrolled stride-2 kernel dw112s2 0.110 vs 1.177; 2 threads 0.056 vs 1.497).
///    A 1-channel "depthwise" shape is an ordinary convolution (LeNet c1:
///    depthwise 0.31 vs im2col 0.014 ms).
/// 2. Winograd for 3x3 stride-1 layers with at least `winogradMinChannels`
///    input and output channels: F(4x4) from `winogradF4MinOutputPixels` output
///    pixels (resnet18.l1 F4 1.90 vs F2/direct/im2col ≥ 8.9 ms; 14x14x256 F4 1.68
///    vs F2 5.5; vgg16 layers F4 1.0-2x faster than F2), F(2x2) below that when
///    `C >= winogradF2MinChannels` (7x7x512: F2 2.19 vs F4 2.69 vs direct 11.8).
/// 3. im2col (one GEMM) for 1x1 ungrouped layers when `pointwiseUsesIm2col`
///    (pw112 0.30 vs direct 0.55 ms, pw56 0.34 vs 0.70, 1x1s2 0.22 vs 0.42, pw7 a tie).
/// 4. im2col for strided layers with at least `stridedIm2colMinChannels` input
///    channels (3x3s2 64->128: 1.60 vs 1.62 ms at 1 thread, 20 vs 24 at 2; the
///    earlier noisy run had im2col ahead too). Stems with 3 input channels keep
///    direct (resnet18.conv1 direct 10.3 vs im2col 12.0 ms; alexnet.conv1 47.6 vs 51.3).
/// 5. Direct when the layer has at least `directMinOutputChannels` output
///    channels (its micro-kernel blocks 16 output channels; LeNet c1 with K = 6:
///    direct 0.03 vs im2col 0.016 ms at 1 thread, 0.15 vs 0.015 at 2).
/// 6. im2col otherwise (it applies to every NCHW layer), then direct, then the reference.
public struct PlannerHeuristics: Hashable, Codable, Sendable {
    /// Minimum input and output channels for Winograd.
    public var winogradMinChannels: Int
    /// Minimum output pixels `P * Q` for Winograd F(4x4) (14x14 = 196).
    public var winogradF4MinOutputPixels: Int
    /// Below `winogradF4MinOutputPixels`, Winograd F(2x2) is used when `C` is at least this.
    public var winogradF2MinChannels: Int
    /// Minimum output pixels for Winograd F(2x2).
    public var winogradF2MinOutputPixels: Int
    /// Use Winograd F(6x6) instead of F(4x4) when fast math is allowed and `P * Q` is at least this (0 = never).
    public var winogradF6MinOutputPixels: Int
    /// The largest stride (in both directions) for which depthwise shapes use the depthwise kernels.
    public var depthwiseMaxStride: Int
    /// Whether 1x1 ungrouped layers use im2col (a plain GEMM) rather than direct.
    public var pointwiseUsesIm2col: Bool
    /// Strided layers with at least this many input channels use im2col (0 = never).
    public var stridedIm2colMinChannels: Int
    /// Direct is chosen only with at least this many output channels (else im2col).
    public var directMinOutputChannels: Int

    /// Creates the heuristic; the defaults were measured on an AVX2+FMA machine (see the type's documentation).
    public init(winogradMinChannels: Int = 16, winogradF4MinOutputPixels: Int = 196, winogradF2MinChannels: Int = 256,
                winogradF2MinOutputPixels: Int = 36, winogradF6MinOutputPixels: Int = 0, depthwiseMaxStride: Int = 2,
                pointwiseUsesIm2col: Bool = true, stridedIm2colMinChannels: Int = 16,
                directMinOutputChannels: Int = 16) {
        self.winogradMinChannels = winogradMinChannels
        self.winogradF4MinOutputPixels = winogradF4MinOutputPixels
        self.winogradF2MinChannels = winogradF2MinChannels
        self.winogradF2MinOutputPixels = winogradF2MinOutputPixels
        self.winogradF6MinOutputPixels = winogradF6MinOutputPixels
        self.depthwiseMaxStride = depthwiseMaxStride
        self.pointwiseUsesIm2col = pointwiseUsesIm2col
        self.stridedIm2colMinChannels = stridedIm2colMinChannels
        self.directMinOutputChannels = directMinOutputChannels
    }

    /// The default constants.
    public static let `default` = PlannerHeuristics()
}

/// How the planner times candidates, and when it trusts the result.
public struct PlannerTimingSettings: Hashable, Codable, Sendable {
    /// Untimed runs before timing.
    public var warmupRuns: Int
    /// Timing stops once at least this many runs ...
    public var minRuns: Int
    /// ... took at least this many seconds together,
    public var minSeconds: Double
    /// or once this many seconds have passed (with at least 3 runs).
    public var maxSecondsPerCandidate: Double
    /// A candidate replaces the estimate's choice only when its median is more
    /// than this fraction faster (0.03 = 3%).
    public var switchThreshold: Double
    /// The widest trusted spread (p90 / p10 of the winner's runs); wider is
    /// reported and not written to the profile.
    public var maxSpread: Double

    /// Creates settings; the defaults are ≥ 10 runs and ≥ 50 ms, at most 1 s a candidate, 3% and spread 1.5.
    public init(warmupRuns: Int = 1, minRuns: Int = 10, minSeconds: Double = 0.05, maxSecondsPerCandidate: Double = 1,
                switchThreshold: Double = 0.03, maxSpread: Double = 1.5) {
        self.warmupRuns = warmupRuns
        self.minRuns = minRuns
        self.minSeconds = minSeconds
        self.maxSecondsPerCandidate = maxSecondsPerCandidate
        self.switchThreshold = switchThreshold
        self.maxSpread = maxSpread
    }

    /// The default settings.
    public static let `default` = PlannerTimingSettings()
}

/// Times one candidate. The default is `ConvolutionTimer` (a real `Conv2DPlan`
/// on random data); tests inject a fake to count calls and script the results.
public protocol PlannerTimer: Sendable {
    /// Returns the seconds of each timed run of `descriptor` (already in the
    /// candidate's layout) planned with `options` (algorithm and workspace set).
    ///
    /// - Throws: when the plan cannot be created or run; the candidate is then skipped.
    func time(descriptor: Conv2DDescriptor, options: PlanOptions, settings: PlannerTimingSettings) throws -> [Double]
}

/// Times candidates with the real `Conv2DPlan`, on random inputs, weights and
/// bias of the right shape: warm-up, then runs until `minRuns` and `minSeconds`
/// are both reached (or `maxSecondsPerCandidate` has passed after 3 runs).
public struct ConvolutionTimer: PlannerTimer {
    /// Creates the timer.
    public init() {}

    /// Times `descriptor` under `options` (see `PlannerTimer`).
    public func time(descriptor: Conv2DDescriptor, options: PlanOptions,
                     settings: PlannerTimingSettings) throws -> [Double] {
        let fixture = try TimingFixture(descriptor: descriptor, options: options)
        for _ in 0..<max(0, settings.warmupRuns) { try fixture.run() }
        let clock = ContinuousClock()
        let start = clock.now
        var times: [Double] = []
        while true {
            let t0 = clock.now
            try fixture.run()
            times.append((clock.now - t0).plannerSeconds)
            let elapsed = (clock.now - start).plannerSeconds
            if times.count >= settings.minRuns && elapsed >= settings.minSeconds { break }
            if times.count >= 3 && elapsed >= settings.maxSecondsPerCandidate { break }
            if times.count >= 100_000 { break }
        }
        return times
    }
}

/// What the planner's timers run: a plan for a descriptor with deterministic
/// pseudo-random weights, bias and input, and an output buffer reused by every
/// run.  Shared by `ConvolutionTimer` and `PlanSampler`.
final class TimingFixture {
    let plan: Conv2DPlan
    let input: Tensor
    var output: Tensor

    init(descriptor: Conv2DDescriptor, options: PlanOptions) throws {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random(_ count: Int) -> [Float] {
            (0..<count).map { _ in
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(Int32(truncatingIfNeeded: seed >> 40) - (1 << 23)) / Float(1 << 23)
            }
        }
        plan = try Conv2DPlan(descriptor: descriptor, weights: random(descriptor.weightCount),
                              bias: descriptor.hasBias ? random(descriptor.outputChannels) : nil, options: options)
        let layout = descriptor.layout
        input = try Tensor(shape: descriptor.inputShape, layout: layout,
                           values: random(layout.storageCount(for: descriptor.inputShape)))
        output = try Tensor(shape: descriptor.outputShape, layout: layout)
    }

    /// One execution of the plan.
    func run() throws { try plan.execute(input, into: &output) }
}

extension Duration {
    /// This duration in seconds.
    var plannerSeconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}

/// The timing of one candidate: median and spread of its runs.
public struct PlannerTiming: Hashable, Codable, Sendable, CustomStringConvertible {
    /// What was timed.
    public var candidate: PlannerCandidate
    /// Median seconds per run.
    public var medianSeconds: Double
    /// 10th percentile seconds.
    public var p10Seconds: Double
    /// 90th percentile seconds.
    public var p90Seconds: Double
    /// Number of timed runs.
    public var runs: Int

    /// Creates a timing from its figures.
    public init(candidate: PlannerCandidate, medianSeconds: Double, p10Seconds: Double, p90Seconds: Double, runs: Int) {
        self.candidate = candidate
        self.medianSeconds = medianSeconds
        self.p10Seconds = p10Seconds
        self.p90Seconds = p90Seconds
        self.runs = runs
    }

    /// Summarises run times (R-7 percentiles, as NumPy's default).
    public init(candidate: PlannerCandidate, samples: [Double]) {
        let sorted = samples.sorted()
        func q(_ f: Double) -> Double {
            guard !sorted.isEmpty else { return .nan }
            let h = Double(sorted.count - 1) * f
            let lo = Int(h.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
            return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
        }
        self.init(candidate: candidate, medianSeconds: q(0.5), p10Seconds: q(0.1), p90Seconds: q(0.9),
                  runs: samples.count)
    }

    /// `p90 / p10` (1 = perfectly steady; infinity if p10 is 0).
    public var spread: Double { p10Seconds > 0 ? p90Seconds / p10Seconds : .infinity }

    /// e.g. `direct NCHW 1.234 ms (spread 1.05)`.
    public var description: String {
        "\(candidate) \(formatMilliseconds(medianSeconds)) (spread \(formatSpread(spread)))"
    }
}

/// `1.234 ms`.
func formatMilliseconds(_ seconds: Double) -> String {
    let ms = seconds * 1000
    let rounded = (ms * 1000).rounded() / 1000
    return "\(rounded) ms"
}

/// A spread with two decimals.
func formatSpread(_ spread: Double) -> String {
    spread.isFinite ? "\((spread * 100).rounded() / 100)" : "inf"
}

/// Where a `PlannerDecision`'s choice came from.
public enum PlannerSource: String, Hashable, Codable, Sendable, CustomStringConvertible {
    /// The caller asked for a specific algorithm.
    case explicit
    /// The heuristic (`estimate` mode, or nothing better was available).
    case estimate
    /// A profile entry.
    case profile
    /// Timed in this call (or earlier in this process).
    case measured
    /// The time budget ran out before this layer; the heuristic was used.
    case budgetExhausted

    /// The raw name.
    public var description: String { rawValue }
}

/// What the planner chose for one convolution, and why.
public struct PlannerDecision: Hashable, Sendable {
    /// The profile key of the request (shape, layout, threads, allowed options).
    public var key: ProfileKey
    /// The chosen candidate.
    public var choice: PlannerCandidate
    /// Where the choice came from.
    public var source: PlannerSource
    /// The mode the planner ran in.
    public var mode: PlannerMode
    /// What `estimate` mode would have chosen.
    public var estimateChoice: PlannerCandidate
    /// The choice's timing, when measured (or from the profile).
    public var timing: PlannerTiming?
    /// The second-best candidate, when measured.
    public var runnerUp: PlannerTiming?
    /// Every timing taken, fastest first.
    public var timings: [PlannerTiming]
    /// Warnings and explanations: a candidate that failed, a spread too wide, a budget exhausted.
    public var notes: [String]
    /// Whether the decision was written to (or read from) the profile.
    public var persisted: Bool

    /// The options that plan the choice, from the caller's options.
    public func planOptions(from options: PlanOptions) -> PlanOptions { choice.planOptions(from: options) }
}

/// One convolution to plan, for `Planner.decideAll`.
public struct PlannerRequest: Hashable, Sendable {
    /// A name for progress lines, tables and the profile (e.g. `resnet18.l1.3x3`).
    public var name: String
    /// The convolution.
    public var descriptor: Conv2DDescriptor
    /// The caller's options (`algorithm` is normally `.auto`).
    public var options: PlanOptions

    /// Creates a request.
    public init(name: String, descriptor: Conv2DDescriptor, options: PlanOptions = .default) {
        self.name = name
        self.descriptor = descriptor
        self.options = options
    }
}

/// The planner's settings.
public struct PlannerConfiguration: Hashable, Sendable {
    /// The mode used when a call does not name one.
    public var mode: PlannerMode
    /// The estimate heuristic's constants.
    public var heuristics: PlannerHeuristics
    /// Timing and trust settings.
    public var timing: PlannerTimingSettings
    /// Whether `exhaustive` may choose a different layout than the descriptor's
    /// (the caller then converts at the edges). Part of the profile key.
    public var allowLayoutChange: Bool
    /// Workspace limits swept by `exhaustive` for im2col and Winograd (each capped by the caller's limit).
    public var exhaustiveWorkspaceLimits: [Int]
    /// Seconds of timing allowed per layer (nil = unlimited); the estimate's choice is always timed first.
    public var perLayerBudget: Double?
    /// Whether newly measured decisions are saved to the profile file right away.
    public var autosave: Bool

    /// Creates a configuration; every argument has a default.
    public init(mode: PlannerMode = .estimate, heuristics: PlannerHeuristics = .default,
                timing: PlannerTimingSettings = .default, allowLayoutChange: Bool = false,
                exhaustiveWorkspaceLimits: [Int] = [1 << 20, 4 << 20, 16 << 20], perLayerBudget: Double? = nil,
                autosave: Bool = true) {
        self.mode = mode
        self.heuristics = heuristics
        self.timing = timing
        self.allowLayoutChange = allowLayoutChange
        self.exhaustiveWorkspaceLimits = exhaustiveWorkspaceLimits
        self.perLayerBudget = perLayerBudget
        self.autosave = autosave
    }
}

/// Chooses the algorithm (and its parameters) for each convolution: by a
/// heuristic, by measuring on this machine, or from the per-machine profile —
/// the way FFTW plans with wisdom.
///
/// ```swift
/// let planner = Planner(configuration: PlannerConfiguration(mode: .measure),
///                       profile: ProfileStore())           // $CONVKIT_PROFILE or ~/.cache/convkit/profile.json
/// let decision = try planner.decide(desc, options: PlanOptions(threads: 1))
/// print(decision.choice, decision.source)                    // e.g. "winograd-f4 NCHW measured"
/// let plan = try planner.makePlan(descriptor: desc, weights: w, bias: b,
///                                 options: PlanOptions(threads: 1), weightsIdentity: "conv1")
/// ```
///
/// Thread safety: a `Planner` may be used from many threads at once. Decisions
/// measured in this process are remembered (so each key is timed once), and
/// plans are shared through `cache`.
public final class Planner: Sendable {
    /// The settings.
    public let configuration: PlannerConfiguration
    /// The profile consulted and updated (nil = none).
    public let profile: ProfileStore?
    /// The in-process plan cache used by `makePlan`.
    public let cache: PlanCache
    let timer: any PlannerTimer
    let now: @Sendable () -> Double
    private let memo = Mutex<[ProfileKey: PlannerDecision]>([:])

    /// Creates a planner.
    ///
    /// - Parameters:
    ///   - timer: times a candidate (default: a real plan on random data).
    ///   - now: a monotonic clock in seconds, used for the time budgets (injectable for tests).
    public init(configuration: PlannerConfiguration = PlannerConfiguration(), profile: ProfileStore? = nil,
                cache: PlanCache = PlanCache(), timer: any PlannerTimer = ConvolutionTimer(),
                now: @escaping @Sendable () -> Double = Planner.monotonicSeconds) {
        self.configuration = configuration
        self.profile = profile
        self.cache = cache
        self.timer = timer
        self.now = now
    }

    /// The process-wide planner: `estimate` mode, or the mode named by the
    /// `CONVKIT_PLANNER_MODE` environment variable (`estimate`, `measure`,
    /// `exhaustive`, `profileOnly`); the profile at `ProfileStore.defaultPath()`.
    public static let shared: Planner = {
        let mode = environmentValue("CONVKIT_PLANNER_MODE").flatMap(PlannerMode.init(rawValue:)) ?? .estimate
        return Planner(configuration: PlannerConfiguration(mode: mode), profile: ProfileStore())
    }()

    /// Seconds on a monotonic clock.
    public static let monotonicSeconds: @Sendable () -> Double = {
        let origin = ContinuousClock.Instant.now
        return { (ContinuousClock.Instant.now - origin).plannerSeconds }
    }()

    // MARK: Candidates and the estimate

    /// Threads as the plan will use them (0 = all cores, resolved).
    static func resolvedThreads(_ threads: Int) -> Int { threads > 0 ? threads : max(1, ConvKitRuntime.maxThreads) }

    /// The algorithms the planner considers, in the heuristic's order of preference.
    static let algorithmOrder: [Algorithm] = [.depthwise, .winogradF4, .winogradF2, .winogradF6, .direct, .im2col]

    /// The candidates for `descriptor` under `options`: only applicable algorithms
    /// the options allow (no Winograd when `allowWinograd` is false, no F(6x6)
    /// without `fastMath`). `exhaustive` adds workspace-limit variants and, with
    /// `allowLayoutChange`, the other layouts. The reference is included only when
    /// nothing else applies.
    public func candidates(for descriptor: Conv2DDescriptor, options: PlanOptions = .default,
                           exhaustive: Bool = false) -> [PlannerCandidate] {
        let layouts: [Layout] = exhaustive && configuration.allowLayoutChange
            ? [descriptor.layout] + Layout.allCases.filter { $0 != descriptor.layout } : [descriptor.layout]
        let cap = options.workspaceLimit > 0 ? options.workspaceLimit : 16 << 20
        var result: [PlannerCandidate] = []
        for layout in layouts {
            guard let d = try? descriptor.withLayout(layout) else { continue }
            for algorithm in Self.algorithmOrder {
                if !options.allowWinograd && algorithm.isWinograd { continue }
                if algorithm == .winogradF6 && !options.fastMath { continue }
                var limits = [0]
                if exhaustive && (algorithm.isWinograd || algorithm == .im2col) {
                    limits += configuration.exhaustiveWorkspaceLimits.filter { $0 > 0 && $0 < cap }
                }
                for limit in limits {
                    let candidate = PlannerCandidate(algorithm: algorithm, layout: layout, workspaceLimit: limit)
                    if d.isApplicable(algorithm, options: candidate.planOptions(from: options)) {
                        result.append(candidate)
                    }
                }
            }
        }
        if result.isEmpty { result.append(PlannerCandidate(algorithm: .reference, layout: descriptor.layout)) }
        return result
    }

    /// The heuristic's choice (never times), by the rules documented on
    /// `PlannerHeuristics`: depthwise kernels for unstrided depthwise shapes;
    /// Winograd F(4x4) for 3x3 stride-1 layers with enough channels and output
    /// pixels (F(2x2) when the output is small and the channels many); im2col for
    /// 1x1 and for strided layers with many input channels; direct when it has
    /// enough output channels; im2col otherwise.
    public func estimate(_ descriptor: Conv2DDescriptor, options: PlanOptions = .default) -> PlannerCandidate {
        let h = configuration.heuristics
        let layout = descriptor.layout
        func ok(_ a: Algorithm) -> Bool {
            if a.isWinograd && !options.allowWinograd { return false }
            return descriptor.isApplicable(a, options: PlannerCandidate(algorithm: a).planOptions(from: options))
        }
        let c = descriptor.inputShape.c, k = descriptor.outputChannels
        let strided = descriptor.stride.height > 1 || descriptor.stride.width > 1
        // Rule 1: depthwise kernels, unstrided, more than one channel.
        if descriptor.groups == c && c > 1
            && max(descriptor.stride.height, descriptor.stride.width) <= h.depthwiseMaxStride && ok(.depthwise) {
            return PlannerCandidate(algorithm: .depthwise, layout: layout)
        }
        // Rule 2: Winograd (its applicability check limits it to 3x3 stride-1 ungrouped layers).
        let pixels = descriptor.outputShape.h * descriptor.outputShape.w
        if c >= h.winogradMinChannels && k >= h.winogradMinChannels {
            if pixels >= h.winogradF4MinOutputPixels {
                if options.fastMath && h.winogradF6MinOutputPixels > 0 && pixels >= h.winogradF6MinOutputPixels
                    && ok(.winogradF6) {
                    return PlannerCandidate(algorithm: .winogradF6, layout: layout)
                }
                if ok(.winogradF4) { return PlannerCandidate(algorithm: .winogradF4, layout: layout) }
            } else if c >= h.winogradF2MinChannels && pixels >= h.winogradF2MinOutputPixels && ok(.winogradF2) {
                return PlannerCandidate(algorithm: .winogradF2, layout: layout)
            }
        }
        // Rule 3: 1x1 ungrouped layers are one GEMM.
        let pointwise = descriptor.kernel.height == 1 && descriptor.kernel.width == 1 && descriptor.groups == 1
        if h.pointwiseUsesIm2col && pointwise && ok(.im2col) {
            return PlannerCandidate(algorithm: .im2col, layout: layout)
        }
        // Rule 4: strided layers with many input channels.
        if strided && h.stridedIm2colMinChannels > 0 && c >= h.stridedIm2colMinChannels && ok(.im2col) {
            return PlannerCandidate(algorithm: .im2col, layout: layout)
        }
        // Rule 5: direct with enough output channels to fill its micro-kernel.
        if k >= h.directMinOutputChannels && ok(.direct) { return PlannerCandidate(algorithm: .direct, layout: layout) }
        // Rule 6: the fallbacks.
        if ok(.im2col) { return PlannerCandidate(algorithm: .im2col, layout: layout) }
        if ok(.direct) { return PlannerCandidate(algorithm: .direct, layout: layout) }
        return PlannerCandidate(algorithm: .reference, layout: layout)
    }

    // MARK: Decisions

    /// Chooses how to run `descriptor`.
    ///
    /// With `options.algorithm` other than `.auto` the caller's algorithm is
    /// returned as is. Otherwise, by mode: `estimate` uses the heuristic;
    /// `profileOnly` the profile's entry, else the heuristic; `measure` and
    /// `exhaustive` the profile's entry (for `exhaustive`, one made by
    /// `exhaustive`) or a decision measured earlier in this process, else they
    /// time the candidates (the estimate's choice first) and keep the estimate's
    /// choice unless another candidate is more than `switchThreshold` faster.
    /// A result whose spread exceeds `maxSpread` is reported in `notes` and not persisted.
    ///
    /// - Parameters:
    ///   - mode: overrides `configuration.mode`.
    ///   - name: a layer name recorded in the profile entry.
    ///   - deadline: a time on `now`'s clock after which no more candidates are timed.
    /// - Throws: `ConvKitError` only for invalid options (e.g. negative threads).
    public func decide(_ descriptor: Conv2DDescriptor, options: PlanOptions = .default, mode: PlannerMode? = nil,
                       name: String? = nil, deadline: Double? = nil) throws -> PlannerDecision {
        let mode = mode ?? configuration.mode
        _ = try options.cOptions()
        let key = ProfileKey(descriptor: descriptor, options: options,
                             allowLayoutChange: mode == .exhaustive && configuration.allowLayoutChange)
        let estimated = estimate(descriptor, options: options)
        var decision = PlannerDecision(key: key, choice: estimated, source: .estimate, mode: mode,
                                       estimateChoice: estimated, timing: nil, runnerUp: nil, timings: [], notes: [],
                                       persisted: false)
        if options.algorithm != .auto {
            decision.choice = PlannerCandidate(algorithm: options.algorithm, layout: descriptor.layout)
            decision.source = .explicit
            return decision
        }
        if mode == .estimate { return decision }
        if let entry = profile?.entry(for: key), mode != .exhaustive || entry.mode == .exhaustive {
            decision.choice = entry.winner.candidate
            decision.source = .profile
            decision.timing = entry.winner
            decision.runnerUp = entry.runnerUp
            decision.persisted = true
            return decision
        }
        if mode == .profileOnly { return decision }
        if let known = memo.withLock({ $0[key] }), mode != .exhaustive || known.mode == .exhaustive {
            return known
        }
        if let deadline, now() >= deadline {
            decision.source = .budgetExhausted
            decision.notes.append("the time budget ran out before this layer; using the estimate")
            return decision
        }
        decision = measure(descriptor, options: options, mode: mode, key: key, estimated: estimated,
                           deadline: deadline)
        memo.withLock { $0[key] = decision }
        if decision.persisted, let profile, let winner = decision.timing {
            profile.record(ProfileEntry(key: key, name: name, winner: winner, runnerUp: decision.runnerUp,
                                        spread: winner.spread, mode: mode, estimate: estimated))
            if configuration.autosave {
                do { try profile.save() } catch {
                    decision.notes.append("could not save the profile: \(error)")
                }
            }
        }
        return decision
    }

    private func measure(_ descriptor: Conv2DDescriptor, options: PlanOptions, mode: PlannerMode, key: ProfileKey,
                         estimated: PlannerCandidate, deadline: Double?) -> PlannerDecision {
        var notes: [String] = []
        var all = candidates(for: descriptor, options: options, exhaustive: mode == .exhaustive)
        if let i = all.firstIndex(of: estimated) { all.swapAt(0, i) } else { all.insert(estimated, at: 0) }
        var layerDeadline = deadline
        if let budget = configuration.perLayerBudget {
            layerDeadline = min(layerDeadline ?? .infinity, now() + budget)
        }
        var timings: [PlannerTiming] = []
        for (i, candidate) in all.enumerated() {
            if i > 0, let layerDeadline, now() >= layerDeadline {
                notes.append("time budget reached after \(i) of \(all.count) candidates")
                break
            }
            do {
                let d = try descriptor.withLayout(candidate.layout)
                let samples = try timer.time(descriptor: d, options: candidate.planOptions(from: options),
                                             settings: configuration.timing)
                let t = PlannerTiming(candidate: candidate, samples: samples)
                if samples.isEmpty || !t.medianSeconds.isFinite || t.medianSeconds < 0 {
                    notes.append("\(candidate): no usable timing")
                } else {
                    timings.append(t)
                }
            } catch {
                notes.append("\(candidate): \(error)")
            }
        }
        timings.sort { $0.medianSeconds < $1.medianSeconds }
        var decision = PlannerDecision(key: key, choice: estimated, source: .estimate, mode: mode,
                                       estimateChoice: estimated, timing: nil, runnerUp: nil, timings: timings,
                                       notes: notes, persisted: false)
        guard let fastest = timings.first else {
            decision.notes.append("no candidate could be timed; using the estimate")
            return decision
        }
        var winner = fastest
        if let incumbent = timings.first(where: { $0.candidate == estimated }),
           fastest.medianSeconds >= incumbent.medianSeconds * (1 - configuration.timing.switchThreshold) {
            winner = incumbent
        }
        decision.choice = winner.candidate
        decision.source = .measured
        decision.timing = winner
        decision.runnerUp = timings.first { $0.candidate != winner.candidate }
        if winner.spread > configuration.timing.maxSpread {
            decision.notes.append("spread p90/p10 = \(formatSpread(winner.spread)) is wider than "
                                  + "\(formatSpread(configuration.timing.maxSpread)) (a busy machine?): "
                                  + "not written to the profile")
        } else {
            decision.persisted = profile != nil
        }
        return decision
    }

    /// Plans several convolutions under one time budget (a model): the layers
    /// with the most FLOPs are tuned first; those the budget did not reach use
    /// the estimate (or their profile entry). Results are in request order.
    ///
    /// - Parameters:
    ///   - budgetSeconds: the whole budget (nil = unlimited).
    ///   - progress: called before each layer with its position in tuning order (1-based), the count and the request.
    public func decideAll(_ requests: [PlannerRequest], mode: PlannerMode? = nil, budgetSeconds: Double? = nil,
                          progress: ((Int, Int, PlannerRequest) -> Void)? = nil) throws -> [PlannerDecision] {
        let order = requests.indices.sorted { requests[$0].descriptor.flops > requests[$1].descriptor.flops }
        let deadline = budgetSeconds.map { now() + $0 }
        var results = [PlannerDecision?](repeating: nil, count: requests.count)
        for (position, i) in order.enumerated() {
            let r = requests[i]
            progress?(position + 1, requests.count, r)
            results[i] = try decide(r.descriptor, options: r.options, mode: mode, name: r.name, deadline: deadline)
        }
        return results.map { $0! }
    }

    /// Forgets the decisions measured in this process (not the profile).
    public func forgetMeasurements() { memo.withLock { $0.removeAll() } }

    // MARK: Plans

    /// A plan for `descriptor` with the planner's choice (when `options.algorithm`
    /// is `.auto`), from the plan cache: identical requests (same descriptor,
    /// threads, options and weights identity) share one plan and its packed weights.
    ///
    /// The layout is always the descriptor's (the planner is asked with layout changes off).
    ///
    /// - Parameter weightsIdentity: names the weights and bias (e.g. a layer path
    ///   plus a version); nil = a hash of their contents.
    public func makePlan(descriptor: Conv2DDescriptor, weights: [Float], bias: [Float]? = nil,
                         options: PlanOptions = .default, mode: PlannerMode? = nil,
                         weightsIdentity: String? = nil) throws -> Conv2DPlan {
        var planOptions = options
        if options.algorithm == .auto {
            var m = mode ?? configuration.mode
            if m == .exhaustive && configuration.allowLayoutChange { m = .measure }
            let decision = try decide(descriptor, options: options, mode: m)
            planOptions = decision.choice.layout == descriptor.layout
                ? decision.planOptions(from: options) : estimate(descriptor, options: options).planOptions(from: options)
        }
        return try cache.plan(descriptor: descriptor, weights: weights, bias: bias, options: planOptions,
                              weightsIdentity: weightsIdentity)
    }
}

extension Algorithm {
    /// Whether this is one of the Winograd algorithms.
    public var isWinograd: Bool { self == .winogradF2 || self == .winogradF4 || self == .winogradF6 }
}

extension Conv2DDescriptor {
    /// The same convolution in another layout.
    ///
    /// - Throws: `ConvKitError` (never for a descriptor that was valid).
    public func withLayout(_ layout: Layout) throws -> Conv2DDescriptor {
        if layout == self.layout { return self }
        return try Conv2DDescriptor(inputShape: inputShape, outputChannels: outputChannels, kernel: kernel,
                                    stride: stride, padding: padding, dilation: dilation, groups: groups,
                                    hasBias: hasBias, activation: activation, layout: layout)
    }
}
