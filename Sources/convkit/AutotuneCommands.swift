import ArgumentParser
import ConvKit
import ConvKitBench
import CConvKit
import ConvKitNN
import Foundation

/// Writes a line to standard error.
private func stderrLine(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// `1.234` (milliseconds with three decimals), or `—`.
private func ms(_ seconds: Double?) -> String {
    guard let seconds, seconds.isFinite else { return "—" }
    return String(format: "%.3f", seconds * 1000)
}

/// `1.23x`, or `—`.
private func ratio(_ numerator: Double?, _ denominator: Double?) -> String {
    guard let n = numerator, let d = denominator, n.isFinite, d.isFinite, d > 0 else { return "—" }
    return String(format: "%.2fx", n / d)
}

/// A spread with two decimals, or `inf`.
private func formatSpread(_ spread: Double) -> String {
    spread.isFinite ? String(format: "%.2f", spread) : "inf"
}

/// Left-aligned text columns.
private func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
    func line(_ r: [String]) -> String {
        r.enumerated().map { i, cell in cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }
    return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        + rows.map(line)).joined(separator: "\n")
}

/// `convkit autotune`: measure every layer and remember the winners in the profile.
struct Autotune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tune the algorithm of every convolution layer on this machine and write the profile.",
        discussion: """
            Times the applicable algorithms of each convolution (warm-up, then the median of at least 10 runs \
            and 50 ms), keeps the estimate's choice unless another is more than 3% faster, and writes the \
            winners to the per-machine profile ($CONVKIT_PROFILE, else $XDG_CACHE_HOME/convkit/profile.json, \
            else ~/.cache/convkit/profile.json). Layers with the most FLOPs are tuned first; layers the \
            --budget does not reach keep the estimate. Results whose run-to-run spread (p90/p10) is too wide \
            are reported and not written. Layers already in the profile are not timed again unless --force.

            With --compare nothing is written: every candidate of each layer is timed round-robin in one run, \
            and the command prints the choices of estimate, measure and exhaustive per layer and the end-to-end \
            sums for those modes and for each single algorithm applied to all layers (im2col where it does not \
            apply), with the ratio estimate / measure.
            """)

    @Option(name: .long, help: ArgumentHelp("Suite file (TSV: kind name N C H W K R S stride pad groups).",
                                            valueName: "file"))
    var suite: String?

    @Option(name: .long, help: ArgumentHelp("Tune the convolutions of a zoo network (e.g. resnet18).",
                                            valueName: "name"))
    var model: String?

    @Option(name: .long, help: ArgumentHelp("Only layers whose name matches this regular expression.",
                                            valueName: "regex"))
    var layers: String?

    @Option(name: .long, help: ArgumentHelp("Thread count or comma-separated list, e.g. 1,2 (default: all cores).",
                                            valueName: "n[,m...]"))
    var threads: String?

    @Option(name: .long, help: ArgumentHelp("measure or exhaustive.", valueName: "mode"))
    var mode: String = "measure"

    @Option(name: .long, help: ArgumentHelp("Seconds of tuning in total (default: unlimited).", valueName: "seconds"))
    var budget: Double?

    @Option(name: .long, help: ArgumentHelp("Profile file (default: the per-machine profile).", valueName: "path"))
    var profile: String?

    @Flag(name: .customLong("any-layout"), help: "Exhaustive mode may choose NHWC or NCHW8c over NCHW.")
    var anyLayout = false

    @Flag(name: .long, help: "Re-measure layers that the profile already holds (their entries are replaced).")
    var force = false

    @Flag(name: .customLong("fast-math"), help: "Allow less accurate algorithms (Winograd F(6x6)).")
    var fastMath = false

    @Flag(name: .long, help: ArgumentHelp(
        "Compare instead of tuning: end-to-end sums for estimate, measure, exhaustive and each single algorithm, "
            + "all timed interleaved in one run; writes no profile."))
    var compare = false

    @Option(name: .long, help: ArgumentHelp("With --compare: rounds over each layer's candidates (even rounds tune, "
                                            + "odd rounds evaluate).", valueName: "n"))
    var rounds: Int = 8

    @Option(name: .long, help: ArgumentHelp("With --compare: also write the comparison as JSON.", valueName: "file"))
    var json: String?

    func validate() throws {
        if suite != nil && model != nil { throw ValidationError("give --suite or --model, not both") }
        guard mode == "measure" || mode == "exhaustive" else {
            throw ValidationError("--mode must be measure or exhaustive, not '\(mode)'")
        }
        if let budget, !(budget > 0 && budget <= 1e6) { throw ValidationError("--budget must be > 0 seconds") }
        if !compare && json != nil { throw ValidationError("--json needs --compare") }
        if compare && (force || budget != nil) { throw ValidationError("--compare does not take --force or --budget") }
        if !(2...1000).contains(rounds) { throw ValidationError("--rounds must be 2...1000") }
    }

    func run() throws {
        do {
            try execute()
        } catch let error as ExitCode {
            throw error
        } catch {
            stderrLine("convkit autotune: error: \(error)")
            throw ExitCode(2)
        }
    }

    /// A layer to tune: a name and a descriptor (bias on, NCHW), with how many times it occurs.
    struct Item {
        var name: String
        var descriptor: Conv2DDescriptor
        var count: Int
    }

    private func items() throws -> (items: [Item], source: String) {
        var items: [Item] = []
        let source: String
        if let model {
            let network = try Zoo.network(named: model)
            let graph = try network.lowered()
            var index: [Conv2DDescriptor: Int] = [:]
            for node in graph.nodes {
                guard let conv = node.layer as? Conv2D, let input = node.inputs.first else { continue }
                let d = try conv.descriptor(for: graph.shapes[input])
                if let i = index[d] { items[i].count += 1 } else {
                    index[d] = items.count
                    items.append(Item(name: node.path, descriptor: d, count: 1))
                }
            }
            source = "model \(model)"
        } else {
            let (loaded, name) = try ConvKitBench.loadSuite(path: suite)
            for layer in loaded.layers where layer.kind == .conv {
                let d = try Conv2DDescriptor(
                    inputShape: TensorShape(n: layer.n, c: layer.c, h: layer.h, w: layer.w), outputChannels: layer.k,
                    kernel: Size2D(layer.r, layer.s), stride: Size2D(layer.stride, layer.stride),
                    padding: .symmetric(layer.pad), groups: layer.groups, hasBias: true)
                items.append(Item(name: layer.name, descriptor: d, count: 1))
            }
            source = "suite \(name)"
        }
        if let layers {
            let regex = try Regex(layers)
            items = items.filter { $0.name.contains(regex) }
        }
        guard !items.isEmpty else { throw ValidationError("no convolution layer to tune") }
        return (items, source)
    }

    private func execute() throws {
        let (items, source) = try items()
        let threadList = try threads.map(parseThreadList) ?? [ConvKitRuntime.maxThreads]
        if compare { return try runCompare(items: items, source: source, threadList: threadList) }
        let plannerMode: PlannerMode = mode == "exhaustive" ? .exhaustive : .measure
        let store = ProfileStore(path: profile)
        guard let path = store.path else {
            throw ValidationError("no profile path: set --profile, CONVKIT_PROFILE, XDG_CACHE_HOME or HOME")
        }
        _ = store.diagnostics  // loads the file now, so its warnings come first
        let planner = Planner(configuration: PlannerConfiguration(mode: plannerMode, allowLayoutChange: anyLayout),
                              profile: store)
        stderrLine("Tuning \(items.count) convolution layers of the \(source) at \(threadList.map(String.init).joined(separator: ",")) thread(s), mode \(plannerMode), profile \(path)")
        let progress = ProgressLine()
        var out: [String] = []
        var allNotes: [String] = []
        for t in threadList {
            let options = PlanOptions(threads: t, fastMath: fastMath)
            let requests = items.map { PlannerRequest(name: $0.name, descriptor: $0.descriptor, options: options) }
            if force {
                let keys = Set(requests.map {
                    ProfileKey(descriptor: $0.descriptor, options: options,
                               allowLayoutChange: plannerMode == .exhaustive && anyLayout)
                })
                try store.forget { keys.contains($0.key) }
            }
            let share = budget.map { $0 / Double(threadList.count) }
            let decisions = try planner.decideAll(requests, budgetSeconds: share) { i, n, r in
                progress.show("[\(i)/\(n)] \(t) thread\(t == 1 ? "" : "s") \(r.name)…")
            }
            progress.clear()
            var rows: [[String]] = []
            var sums = (chosen: 0.0, estimate: 0.0, im2col: 0.0, complete: true)
            for (item, d) in zip(items, decisions) {
                let estimateTime = d.timings.first { $0.candidate == d.estimateChoice }?.medianSeconds
                    ?? (d.choice == d.estimateChoice ? d.timing?.medianSeconds : nil)
                let im2colTime = d.timings.first { $0.candidate.algorithm == .im2col && $0.candidate.workspaceLimit == 0
                    && $0.candidate.layout == d.choice.layout }?.medianSeconds
                    ?? (d.choice.algorithm == .im2col ? d.timing?.medianSeconds : nil)
                let chosen = d.timing?.medianSeconds
                if let chosen, let estimateTime, let im2colTime {
                    let n = Double(item.count)
                    sums.chosen += chosen * n
                    sums.estimate += estimateTime * n
                    sums.im2col += im2colTime * n
                } else { sums.complete = false }
                let name = item.count > 1 ? "\(item.name) (x\(item.count))" : item.name
                rows.append([
                    name, "\(d.choice.algorithm)", d.choice.parameterDescription, ms(chosen),
                    d.runnerUp.map { "\($0.candidate.algorithm) \(ms($0.medianSeconds))" } ?? "—",
                    ratio(estimateTime, chosen), ratio(im2colTime, chosen),
                    d.timing.map { formatSpread($0.spread) } ?? "—",
                    d.source.rawValue + (d.source == .measured && !d.persisted ? " (not saved)" : ""),
                ])
                allNotes += d.notes.map { "\(item.name) @\(t)t: \($0)" }
            }
            out.append("Threads: \(t)")
            out.append(table(["layer", "algorithm", "parameters", "ms", "runner-up (ms)", "vs estimate", "vs im2col",
                              "spread", "source"], rows))
            if sums.complete {
                out.append(String(format: "Sum: tuned %.3f ms, estimate %.3f ms (%.2fx), im2col %.3f ms (%.2fx)",
                                  sums.chosen * 1000, sums.estimate * 1000, sums.estimate / sums.chosen,
                                  sums.im2col * 1000, sums.im2col / sums.chosen))
            } else {
                out.append("Sum: not shown (some layers came from the profile or the budget; use --force to re-time)")
            }
            out.append("")
        }
        try store.save()
        print(out.joined(separator: "\n"))
        if !allNotes.isEmpty {
            print("Notes:")
            for n in allNotes { print("  " + n) }
        }
        print("Profile: \(path) (\(store.profile.count) entries)")
    }
}

extension Autotune {
    /// `--compare`: one interleaved timing run per thread count, then the choices and the totals.
    private func runCompare(items: [Item], source: String, threadList: [Int]) throws {
        let settings = PlannerComparisonSettings(rounds: rounds)
        let configuration = PlannerConfiguration(allowLayoutChange: anyLayout)
        stderrLine("Comparing planner modes on \(items.count) convolution layers of the \(source) at "
                   + "\(threadList.map(String.init).joined(separator: ",")) thread(s), \(settings.rounds) interleaved rounds")
        let progress = ProgressLine()
        var results: [PlannerComparison] = []
        var out: [String] = []
        for t in threadList {
            let options = PlanOptions(threads: t, fastMath: fastMath)
            let requests = items.map { PlannerRequest(name: $0.name, descriptor: $0.descriptor, options: options) }
            let c = PlannerComparison.run(requests, counts: items.map(\.count), configuration: configuration,
                                          settings: settings) { i, n, r in
                progress.show("[\(i)/\(n)] \(t) thread\(t == 1 ? "" : "s") \(r.name)…")
            }
            progress.clear()
            results.append(c)
            out.append(Self.compareReport(c, threads: t))
        }
        print(out.joined(separator: "\n"))
        print("Rule: " + PlannerComparison.singleAlgorithmRule + ".")
        print("Method: per layer, every candidate of exhaustive mode is timed round-robin, \(settings.rounds) rounds "
              + "of up to \(Int(settings.secondsPerRound * 1000)) ms / \(settings.maxRunsPerRound) runs each; measure and "
              + "exhaustive decide (3% switch rule) on the even rounds, every total sums the odd rounds' medians.")
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(results)
            try ConvKitBench.write(String(decoding: data, as: UTF8.self) + "\n", to: json, what: "comparison JSON")
            print("JSON: \(json)")
        }
    }

    /// The table of choices and the totals of one thread count.
    static func compareReport(_ c: PlannerComparison, threads: Int) -> String {
        func cell(_ layer: PlannerComparison.Layer, _ candidate: PlannerCandidate) -> String {
            let extra = candidate.parameterDescription.split(separator: " ").dropFirst().joined(separator: " ")
            let name = extra.isEmpty ? "\(candidate.algorithm)" : "\(candidate.algorithm) \(extra)"
            return "\(name) \(ms(layer.seconds(of: candidate)))"
        }
        var rows: [[String]] = []
        for l in c.layers {
            let best = l.timings.first
            rows.append([l.count > 1 ? "\(l.name) (x\(l.count))" : l.name, cell(l, l.estimate), cell(l, l.measure),
                         cell(l, l.exhaustive), best.map { cell(l, $0.candidate) } ?? "—",
                         ratio(l.seconds(of: l.estimate), l.seconds(of: l.measure))])
        }
        var lines = ["Threads: \(threads)  (ms = median of the evaluation rounds)",
                     table(["layer", "estimate (ms)", "measure (ms)", "exhaustive (ms)", "fastest timed (ms)",
                            "est/meas"], rows), ""]
        let measure = c.total("measure")
        var totalRows: [[String]] = []
        for t in c.totals {
            totalRows.append([t.name, ms(t.seconds), ratio(t.seconds, measure),
                              t.fallbackLayers.isEmpty ? "" : "im2col on \(t.fallbackLayers.count) layer(s)"])
        }
        lines.append(table(["end-to-end sum", "ms", "vs measure", "fallback"], totalRows))
        let tuned = [c.total("measure"), c.total("exhaustive")].compactMap { $0 }.min() ?? .nan
        let others = c.totals.filter { $0.name != "measure" && $0.name != "exhaustive" }
        let beaten = others.filter { $0.seconds < tuned }
        let best = c.bestSingleAlgorithm
        lines.append(String(format: "estimate / measure = %.3f (target <= 1.10: %@)", c.estimateOverMeasure ?? .nan,
                            (c.estimateOverMeasure ?? .infinity) <= 1.10 ? "met" : "NOT met"))
        lines.append("best single algorithm: \(best?.name ?? "—") \(ms(best?.seconds)) ms; autotuned (best of measure, "
                     + "exhaustive) \(ms(tuned)) ms: "
                     + (beaten.isEmpty ? "fastest" : "NOT fastest (beaten by \(beaten.map(\.name).joined(separator: ", ")))"))
        for l in c.layers where !l.notes.isEmpty {
            lines.append("note: \(l.name): " + l.notes.joined(separator: "; "))
        }
        lines.append("")
        return lines.joined(separator: "\n")
    }
}

/// `convkit profile`: inspect and edit the per-machine profile.
struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Show or edit the per-machine autotuning profile.",
        subcommands: [Show.self, Forget.self])

    /// The profile path from `--profile` or the default.
    static func path(_ option: String?) throws -> String {
        guard let path = option ?? Profile.defaultPath() else {
            throw ValidationError("no profile path: set --profile, CONVKIT_PROFILE, XDG_CACHE_HOME or HOME")
        }
        return path
    }

    /// `convkit profile show`.
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the profile's entries and whether its header matches this machine.")

        @Option(name: .long, help: ArgumentHelp("Profile file (default: the per-machine profile).", valueName: "path"))
        var profile: String?

        func run() throws {
            let path = try ProfileCommand.path(profile)
            guard FileManager.default.fileExists(atPath: path) else {
                print("No profile at \(path).")
                return
            }
            let p: Profile
            do { p = try Profile.load(path: path) } catch {
                stderrLine("convkit profile show: error: \(error)")
                throw ExitCode(1)
            }
            let h = p.header
            print("Profile: \(path)")
            print("Made on: \(h.cpuModel) (\(h.arch), \(h.isa)), \(h.logicalCores) cores, L1d \(h.l1dBytes) B, "
                  + "L2 \(h.l2Bytes) B, L3 \(h.l3Bytes) B; ConvKit \(h.convKitVersion); schema \(h.schemaVersion)")
            print("OpenBLAS: \(h.blasConfiguration.isEmpty ? "—" : h.blasConfiguration)")
            let diff = h.mismatches(against: .current)
            print(diff.isEmpty ? "Header: matches this machine (entries are used)."
                  : "Header: DOES NOT match this machine (entries are ignored): " + diff.joined(separator: "; "))
            print("")
            let rows = p.entries.map { e in
                [e.name ?? "—", e.key.description, "\(e.winner.candidate)", ms(e.winner.medianSeconds),
                 e.runnerUp.map { "\($0.candidate.algorithm) \(ms($0.medianSeconds))" } ?? "—",
                 formatSpread(e.spread), e.mode.rawValue]
            }
            print(table(["name", "key", "winner", "ms", "runner-up (ms)", "spread", "mode"], rows))
            print("\(p.count) entries")
        }
    }

    /// `convkit profile forget`.
    struct Forget: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove entries from the profile (all, or those whose name or key matches a regex).")

        @Option(name: .long, help: ArgumentHelp("Profile file (default: the per-machine profile).", valueName: "path"))
        var profile: String?

        @Option(name: .customLong("layer-regex"), help: ArgumentHelp(
            "Remove entries whose layer name or key (as `profile show` prints it) matches.", valueName: "regex"))
        var layerRegex: String?

        @Flag(name: .long, help: "Remove every entry.")
        var all = false

        func validate() throws {
            if all == (layerRegex != nil) { throw ValidationError("give exactly one of --all and --layer-regex") }
        }

        func run() throws {
            let path = try ProfileCommand.path(profile)
            guard FileManager.default.fileExists(atPath: path) else {
                print("No profile at \(path); nothing to forget.")
                return
            }
            let header: ProfileHeader
            do { header = try Profile.load(path: path).header } catch {
                stderrLine("convkit profile forget: error: \(error) (delete the file to start afresh)")
                throw ExitCode(1)
            }
            let regex = try layerRegex.map { try Regex($0) }
            var removed = 0
            let left = try Profile.update(path: path, header: header) { p in
                if let regex {
                    removed = p.forget { ($0.name ?? "").contains(regex) || $0.key.description.contains(regex) }
                } else {
                    removed = p.forgetAll()
                }
            }
            print("Removed \(removed) entr\(removed == 1 ? "y" : "ies") from \(path); \(left.count) left.")
        }
    }
}

/// For `convkit bench --algorithm auto`: the planner's choice per conv layer and
/// thread count from the per-machine profile (estimate when it has no entry),
/// printing which profile entries were used.
func profileAutoResolver(suite: BenchSuite, threads: [Int]) -> @Sendable (BenchLayer, Int) -> (ck_algorithm, UInt32)? {
    let store = ProfileStore()
    let planner = Planner(configuration: PlannerConfiguration(mode: .profileOnly), profile: store)
    var table: [String: (ck_algorithm, UInt32)] = [:]
    var used = 0
    for layer in suite.layers where layer.kind == .conv {
        guard let d = try? Conv2DDescriptor(
            inputShape: TensorShape(n: layer.n, c: layer.c, h: layer.h, w: layer.w), outputChannels: layer.k,
            kernel: Size2D(layer.r, layer.s), stride: Size2D(layer.stride, layer.stride),
            padding: .symmetric(layer.pad), groups: layer.groups, hasBias: true) else { continue }
        for t in threads {
            guard let decision = try? planner.decide(d, options: PlanOptions(threads: t)) else { continue }
            var algo = CK_ALGO_AUTO
            guard ck_algorithm_from_name(decision.choice.algorithm.rawValue, &algo) == CK_OK else { continue }
            table["\(layer.name)@\(t)"] = (algo, decision.choice.algorithm == .winogradF6 ? UInt32(CK_PLAN_FAST_MATH) : 0)
            if decision.source == .profile, let timing = decision.timing {
                used += 1
                stderrLine("auto: \(layer.name) @\(t)t -> \(decision.choice.algorithm) from profile entry "
                           + "[\(decision.key)] (\(ms(timing.medianSeconds)) ms when tuned)")
            } else {
                stderrLine("auto: \(layer.name) @\(t)t -> \(decision.choice.algorithm) (estimate; no profile entry)")
            }
        }
    }
    stderrLine("auto: \(used) profile entr\(used == 1 ? "y" : "ies") used from \(store.path ?? "(no profile path)")")
    let resolved = table
    return { layer, t in resolved["\(layer.name)@\(t)"] }
}
