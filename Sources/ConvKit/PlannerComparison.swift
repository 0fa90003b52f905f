/// Runs one candidate once, for `PlannerComparison`. The default is `PlanSampler`
/// (a real `Conv2DPlan` on random data); tests inject a fake.
public protocol PlannerSampler: Sendable {
    /// Prepares `descriptor` planned with `options` (including any warm-up) and
    /// returns a function that runs it once and returns the seconds it took.
    ///
    /// - Throws: when the plan cannot be created; the candidate is then left out.
    func prepare(descriptor: Conv2DDescriptor, options: PlanOptions) throws -> () throws -> Double
}

/// Samples real plans: a `Conv2DPlan` on random input, weights and bias,
/// run once untimed at preparation.
public struct PlanSampler: PlannerSampler {
    /// Creates the sampler.
    public init() {}

    /// Prepares `descriptor` under `options` (see `PlannerSampler`).
    public func prepare(descriptor: Conv2DDescriptor, options: PlanOptions) throws -> () throws -> Double {
        let fixture = try TimingFixture(descriptor: descriptor, options: options)
        try fixture.run()
        let clock = ContinuousClock()
        return {
            let t0 = clock.now
            try fixture.run()
            return (clock.now - t0).plannerSeconds
        }
    }
}

/// How `PlannerComparison` times.
public struct PlannerComparisonSettings: Hashable, Codable, Sendable {
    /// Rounds over each layer's candidates (even rounds tune, odd rounds evaluate; at least 2).
    public var rounds: Int
    /// In each round, a candidate runs until this many seconds have passed (at least one run) ...
    public var secondsPerRound: Double
    /// ... or this many runs.
    public var maxRunsPerRound: Int

    /// Creates settings; the defaults are 8 rounds of up to 20 ms or 20 runs per candidate.
    public init(rounds: Int = 8, secondsPerRound: Double = 0.02, maxRunsPerRound: Int = 20) {
        self.rounds = rounds
        self.secondsPerRound = secondsPerRound
        self.maxRunsPerRound = maxRunsPerRound
    }
}

/// End-to-end comparison of the planner's modes on a set of layers, every
/// candidate timed by the same sampler in one interleaved run.
///
/// For each layer, all candidates that `exhaustive` would consider (a superset
/// of `measure`'s and of the estimate's choice) are prepared, then timed
/// round-robin: in each round every candidate runs back-to-back (starting from a
/// different candidate each round), so slow drifts of a busy machine hit all
/// candidates alike. Samples of even rounds are the *tuning* samples: the real
/// `Planner` decides `measure` and `exhaustive` from them (through a replaying
/// `PlannerTimer`, with its usual 3% switch rule). Samples of odd rounds are the
/// *evaluation* samples: every total is a sum of their medians, so a choice is
/// not scored on the very noise that made it win.
public struct PlannerComparison: Codable, Sendable {
    /// One layer's candidates, timings and choices.
    public struct Layer: Codable, Sendable {
        /// The layer's name.
        public var name: String
        /// The convolution.
        public var descriptor: Conv2DDescriptor
        /// How many times the layer occurs (its weight in the totals).
        public var count: Int
        /// What `estimate` chose.
        public var estimate: PlannerCandidate
        /// What `measure` chose (from the tuning samples).
        public var measure: PlannerCandidate
        /// What `exhaustive` chose (from the tuning samples).
        public var exhaustive: PlannerCandidate
        /// Evaluation-sample timings of every candidate, fastest first.
        public var timings: [PlannerTiming]
        /// Tuning-sample timings of every candidate, fastest first.
        public var tuningTimings: [PlannerTiming]
        /// Candidates that could not be prepared or run, and why.
        public var notes: [String]

        /// The evaluation median of `candidate`, if it was timed.
        public func seconds(of candidate: PlannerCandidate) -> Double? {
            timings.first { $0.candidate == candidate }?.medianSeconds
        }
    }

    /// One end-to-end total.
    public struct Total: Codable, Sendable {
        /// `estimate`, `measure`, `exhaustive` or `all <algorithm>`.
        public var name: String
        /// The sum over layers (times their counts) of the evaluation medians.
        public var seconds: Double
        /// For `all <algorithm>`: the layers it does not apply to (they used the fallback).
        public var fallbackLayers: [String]
    }

    /// The exact rule of the `all <algorithm>` totals.
    public static let singleAlgorithmRule = """
        "all A" = for each layer, the time of algorithm A (layout as given, default workspace) where A applies; \
        where A does not apply, the time of im2col (which applies to every layer); where neither applies, the \
        time of the estimate's choice
        """

    /// The thread count of the requests (0 = all cores), from the first request.
    public var threads: Int
    /// The timing settings used.
    public var settings: PlannerComparisonSettings
    /// The layers, in request order.
    public var layers: [Layer]
    /// `estimate`, `measure`, `exhaustive`, then `all <algorithm>` for each algorithm seen.
    public var totals: [Total]

    /// The total named `name`, in seconds.
    public func total(_ name: String) -> Double? { totals.first { $0.name == name }?.seconds }

    /// The fastest `all <algorithm>` total.
    public var bestSingleAlgorithm: Total? {
        totals.filter { $0.name.hasPrefix("all ") }.min { $0.seconds < $1.seconds }
    }

    /// `estimate` total over `measure` total (the issue asks for at most 1.10).
    public var estimateOverMeasure: Double? {
        guard let e = total("estimate"), let m = total("measure"), m > 0 else { return nil }
        return e / m
    }

    /// Replays recorded samples to the planner.
    struct ReplayTimer: PlannerTimer {
        let samples: [PlannerCandidate: [Double]]

        func time(descriptor: Conv2DDescriptor, options: PlanOptions, settings: PlannerTimingSettings) throws
            -> [Double] {
            let c = PlannerCandidate(algorithm: options.algorithm, layout: descriptor.layout,
                                     workspaceLimit: options.workspaceLimit)
            guard let s = samples[c], !s.isEmpty else {
                throw ConvKitError(code: .unsupportedAlgorithm, message: "not timed in this comparison")
            }
            return s
        }
    }

    /// Times and compares.
    ///
    /// - Parameters:
    ///   - requests: the layers (their options carry threads, fast math, allowed Winograd).
    ///   - counts: how many times each layer occurs (default: once each).
    ///   - configuration: the planner's configuration (heuristics, switch threshold, workspace sweep).
    ///   - progress: called before each layer with its 1-based position, the count and the request.
    public static func run(_ requests: [PlannerRequest], counts: [Int] = [],
                           configuration: PlannerConfiguration = PlannerConfiguration(),
                           settings: PlannerComparisonSettings = PlannerComparisonSettings(),
                           sampler: any PlannerSampler = PlanSampler(),
                           progress: ((Int, Int, PlannerRequest) -> Void)? = nil) -> PlannerComparison {
        let rounds = max(2, settings.rounds)
        let clock = ContinuousClock()
        let shape = Planner(configuration: configuration, timer: ReplayTimer(samples: [:]))
        var layers: [Layer] = []
        for (index, request) in requests.enumerated() {
            progress?(index + 1, requests.count, request)
            let d = request.descriptor, options = request.options
            var notes: [String] = []
            let estimated = shape.estimate(d, options: options)
            var candidates = shape.candidates(for: d, options: options, exhaustive: true)
            if !candidates.contains(estimated) { candidates.insert(estimated, at: 0) }
            var runners: [(PlannerCandidate, () throws -> Double)] = []
            for c in candidates {
                do {
                    let run = try sampler.prepare(descriptor: try d.withLayout(c.layout),
                                                  options: c.planOptions(from: options))
                    runners.append((c, run))
                } catch {
                    notes.append("\(c): \(error)")
                }
            }
            var tuning = [PlannerCandidate: [Double]](), evaluation = [PlannerCandidate: [Double]]()
            var failed = Set<PlannerCandidate>()
            for round in 0..<rounds {
                for j in runners.indices {
                    let (c, run) = runners[(j + round) % runners.count]
                    if failed.contains(c) { continue }
                    let start = clock.now
                    var runs = 0
                    repeat {
                        do {
                            let t = try run()
                            if round % 2 == 0 { tuning[c, default: []].append(t) } else {
                                evaluation[c, default: []].append(t)
                            }
                        } catch {
                            notes.append("\(c): \(error)")
                            failed.insert(c)
                            break
                        }
                        runs += 1
                    } while runs < max(1, settings.maxRunsPerRound)
                        && (clock.now - start).plannerSeconds < settings.secondsPerRound
                }
            }
            runners.removeAll()  // frees the plans before the next layer
            let timed = candidates.filter { !failed.contains($0) && tuning[$0] != nil && evaluation[$0] != nil }
            func summary(_ s: [PlannerCandidate: [Double]]) -> [PlannerTiming] {
                timed.map { PlannerTiming(candidate: $0, samples: s[$0]!) }.sorted { $0.medianSeconds < $1.medianSeconds }
            }
            let replay = ReplayTimer(samples: tuning.filter { !failed.contains($0.key) })
            var choices: [PlannerCandidate] = []
            for mode in [PlannerMode.measure, .exhaustive] {
                let planner = Planner(configuration: configuration, timer: replay)
                let decision = try? planner.decide(d, options: options, mode: mode, name: request.name)
                choices.append(decision?.choice ?? estimated)
            }
            layers.append(Layer(name: request.name, descriptor: d, count: index < counts.count ? counts[index] : 1,
                                estimate: estimated, measure: choices[0], exhaustive: choices[1],
                                timings: summary(evaluation), tuningTimings: summary(tuning), notes: notes))
        }
        return PlannerComparison(threads: requests.first?.options.threads ?? 0, settings: settings, layers: layers,
                                 totals: totals(layers))
    }

    /// The totals of `layers` (see `singleAlgorithmRule`).
    static func totals(_ layers: [Layer]) -> [Total] {
        func sum(_ name: String, _ pick: (Layer) -> PlannerCandidate) -> Total {
            Total(name: name, seconds: layers.reduce(0) { $0 + ($1.seconds(of: pick($1)) ?? .nan) * Double($1.count) },
                  fallbackLayers: [])
        }
        var result = [sum("estimate", \.estimate), sum("measure", \.measure), sum("exhaustive", \.exhaustive)]
        let seen = Set(layers.flatMap { $0.timings.map(\.candidate.algorithm) })
        for algorithm in Planner.algorithmOrder + [.reference] where seen.contains(algorithm) {
            var seconds = 0.0
            var fallback: [String] = []
            for layer in layers {
                let own = PlannerCandidate(algorithm: algorithm, layout: layer.descriptor.layout)
                let im2col = PlannerCandidate(algorithm: .im2col, layout: layer.descriptor.layout)
                if let t = layer.seconds(of: own) {
                    seconds += t * Double(layer.count)
                } else {
                    fallback.append(layer.name)
                    seconds += (layer.seconds(of: im2col) ?? layer.seconds(of: layer.estimate) ?? .nan)
                        * Double(layer.count)
                }
            }
            result.append(Total(name: "all \(algorithm)", seconds: seconds, fallbackLayers: fallback))
        }
        return result
    }
}
