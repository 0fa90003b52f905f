import ConvKit
import Foundation

/// A `ConvolutionPlanner` backed by ConvKit's autotuning `Planner`: the choice
/// for each convolution of a compiled network comes from the planner's mode —
/// the per-machine profile when it has an entry, a measurement in `measure` /
/// `exhaustive` mode, or the `estimate` heuristic.
///
/// For each convolution the planner is asked twice: for the NCHW descriptor and
/// for its NCHW8c twin (where the direct, Winograd and depthwise kernels keep
/// the activations blocked between layers). Then:
/// - a caller-chosen algorithm (`base.algorithm != .auto`) is returned unchanged;
/// - when both layouts have a timing (profile entry or measurement), the faster
///   wins — the NCHW choice only if it is more than `layoutMargin` faster, to pay
///   for the layout conversions around it;
/// - when only the NCHW layout has a timing, its choice is followed;
/// - with no timing (the `estimate` heuristic), the NCHW8c twin's choice is
///   returned when there is one (the compiler then keeps NCHW8c, so the network
///   pays no conversions between layers); otherwise a direct NCHW choice is
///   returned as is, and any other choice is left to the compiler's
///   `LayoutPolicy` (`.auto`). (Comparing the two estimates would be
///   meaningless: the NCHW one prefers im2col for 1x1 layers without charging
///   the layout conversions around it.)
///
/// `PlannerAdapter.shared` is the default planner of `CompileOptions`.
///
/// ```swift
/// // Measure every convolution once (remembered in-process and saved to the profile):
/// let adapter = PlannerAdapter(planner: .shared, mode: .measure)
/// let compiled = try Zoo.resnet18().compile(threads: 1, options: CompileOptions(planner: adapter))
/// ```
///
/// Thread safety: `Planner` is thread-safe, so is the adapter.
public struct PlannerAdapter: ConvolutionPlanner {
    /// The planner asked.
    public let planner: Planner
    /// The mode each decision is made in.
    public let mode: PlannerMode
    /// How much faster (as a fraction) an NCHW choice must be than the NCHW8c one
    /// to be taken (it pays for two layout conversions); default 0.1.
    public let layoutMargin: Double

    /// Creates an adapter.
    ///
    /// - Parameters:
    ///   - planner: the planner (default `Planner.shared`, with the per-machine profile).
    ///   - mode: the mode (default: `CONVKIT_PLANNER_MODE` if set, else `profileOnly` —
    ///     the profile's entry when there is one, the estimate otherwise; never times).
    ///   - layoutMargin: see `layoutMargin`.
    public init(planner: Planner = .shared, mode: PlannerMode? = nil, layoutMargin: Double = 0.1) {
        self.planner = planner
        self.mode = mode ?? Self.environmentMode ?? .profileOnly
        self.layoutMargin = layoutMargin
    }

    /// The default adapter: `Planner.shared`, mode from `CONVKIT_PLANNER_MODE` or `profileOnly`.
    public static let shared = PlannerAdapter()

    /// The mode named by `CONVKIT_PLANNER_MODE`, if set to a known mode.
    public static var environmentMode: PlannerMode? {
        ProcessInfo.processInfo.environment["CONVKIT_PLANNER_MODE"].flatMap(PlannerMode.init(rawValue:))
    }

    /// The options for `descriptor` (NCHW), starting from `base` (see the type's documentation).
    public func planOptions(for descriptor: Conv2DDescriptor, base: PlanOptions) -> PlanOptions {
        guard base.algorithm == .auto else { return base }
        guard let plain = try? planner.decide(descriptor, options: base, mode: mode) else { return base }
        let blocked: PlannerDecision? = {
            guard descriptor.layout != .nchw8c, let d = try? descriptor.withLayout(.nchw8c),
                  d.isApplicable(.direct, options: base) || d.isApplicable(.depthwise, options: base)
            else { return nil }
            guard let b = try? planner.decide(d, options: base, mode: mode),
                  b.choice.layout == .nchw8c, Self.blockedAlgorithms.contains(b.choice.algorithm) else { return nil }
            return b
        }()
        let plainTime = plain.timing?.medianSeconds
        if let plainTime, let b = blocked, let blockedTime = b.timing?.medianSeconds {
            return plainTime * (1 + layoutMargin) < blockedTime
                ? plain.planOptions(from: base) : b.planOptions(from: base)
        }
        if plainTime != nil { return plain.planOptions(from: base) }
        if let b = blocked { return b.planOptions(from: base) }
        return plain.choice.algorithm == .direct ? plain.planOptions(from: base) : base
    }

    /// The algorithms that run on NCHW8c activations.
    static let blockedAlgorithms: Set<Algorithm> = [.direct, .depthwise, .winogradF2, .winogradF4, .winogradF6]
}
