import CConvKit
@testable import ConvKitBench
import Foundation
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The repository's `Benchmarks/layers.tsv`, found relative to this file.
private func suiteFileText() throws -> String {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Benchmarks/layers.tsv")
    return try String(contentsOf: url, encoding: .utf8)
}

@Suite struct SuiteParsingTests {
    @Test func embeddedSuiteHas24Layers() {
        let suite = BenchSuite.standard
        #expect(suite.layers.count == 24)
        #expect(suite.layers.filter { $0.kind == .conv }.count == 21)
        #expect(suite.layers.first?.name == "resnet18.conv1")
        #expect(suite.layers.last?.name == "resnet18.gap")
    }

    @Test func embeddedSuiteEqualsBenchmarksFile() throws {
        let text = try suiteFileText()
        #expect(BenchSuite.standardText == text)
        #expect(try BenchSuite.parse(text) == BenchSuite.standard)
    }

    @Test func parsesColumnsInOrder() throws {
        let suite = try BenchSuite.parse("# comment\n\nconv\tx\t2\t16\t9\t11\t32\t3\t5\t2\t1\t4\n")
        let l = try #require(suite.layers.first)
        #expect(l == BenchLayer(kind: .conv, name: "x", n: 2, c: 16, h: 9, w: 11, k: 32, r: 3, s: 5, stride: 2, pad: 1,
                                groups: 4))
        #expect(l.p == 5 && l.q == 5)  // (9+2-3)/2+1 = 5, (11+2-5)/2+1 = 5
    }

    /// Each bad suite and the line its error must name (and a phrase it must contain).
    @Test(arguments: [
        ("# header\nconv\ta\t1\t3\t8\t8\t4\t3\t3\t1\t1\n", 2, "expected 12 columns"),
        ("conv\ta\t1\t3\t8\t8\t4\t3\t3\t1\t1\t1\nconv\tb\t1\tthree\t8\t8\t4\t3\t3\t1\t1\t1\n", 2, "column C"),
        ("\n\nfoo\ta\t1\t3\t8\t8\t4\t3\t3\t1\t1\t1\n", 3, "unknown kind 'foo'"),
        ("conv\ta\t1\t6\t8\t8\t4\t3\t3\t1\t1\t4\n", 1, "not divisible by groups"),
        ("conv\ta\t1\t3\t8\t8\t4\t3\t3\t1\t1\t1\nconv\ta\t1\t3\t8\t8\t4\t3\t3\t1\t1\t1\n", 2, "duplicate layer name"),
        ("conv\ta\t1\t3\t2\t2\t4\t5\t5\t1\t0\t1\n", 1, "output size"),
        ("conv\ta\t0\t3\t8\t8\t4\t3\t3\t1\t1\t1\n", 1, "column N: 0 must be >= 1"),
        ("maxpool\tp\t1\t4\t8\t8\t4\t2\t2\t2\t2\t4\n", 1, "padding"),
        ("# only comments\n", 1, "no layers"),
    ])
    func badSuiteNamesLine(text: String, line: Int, phrase: String) {
        do {
            _ = try BenchSuite.parse(text, fileName: "bad.tsv")
            Issue.record("expected an error for \(text.debugDescription)")
        } catch {
            #expect(error.line == line)
            #expect(error.description.hasPrefix("bad.tsv:\(line): "))
            #expect(error.description.contains(phrase), "\(error.description)")
        }
    }

    @Test func layerFilterAndBadRegex() throws {
        let suite = BenchSuite.standard
        #expect(try suite.filtered(by: "^vgg16\\.conv").layers.map(\.name) == ["vgg16.conv1_2", "vgg16.conv3_2",
                                                                                 "vgg16.conv5_2"])
        #expect(throws: BenchError.self) { try suite.filtered(by: "(") }
    }
}

@Suite struct FlopTests {
    private func layer(_ name: String) throws -> BenchLayer {
        try #require(BenchSuite.standard.layers.first { $0.name == name })
    }

    @Test func resnet18Layer1() throws {
        // 2·N·K·(C/g)·R·S·P·Q = 2·1·64·64·3·3·56·56 (stride 1, pad 1 keeps 56x56).
        let l = try layer("resnet18.l1.3x3")
        #expect(l.p == 56 && l.q == 56)
        #expect(l.flops == 231_211_008)
    }

    @Test func alexnetConv1() throws {
        // P = Q = floor((227 - 11) / 4) + 1 = 55; 2·96·3·11·11·55·55.
        let l = try layer("alexnet.conv1")
        #expect(l.p == 55 && l.q == 55)
        #expect(l.flops == 210_830_400)
    }

    @Test func poolingAndBatchOverride() throws {
        // P = Q = floor((112 + 2 - 3) / 2) + 1 = 56; FLOPs = N·C·P·Q·R·S = 64·56·56·9.
        let pool = try layer("resnet18.maxpool")
        #expect(pool.flops == 1_806_336)
        // Depthwise: C/g = 1 → 2·32·1·9·112·112; batch 4 multiplies by 4.
        let dw = try layer("mobilenetv2.dw112")
        #expect(dw.flops == 7_225_344)
        #expect(dw.withBatch(4).flops == 4 * 7_225_344)
    }
}

@Suite struct StatisticsTests {
    @Test func medianAndPercentiles() {
        let v: [Double] = [7, 1, 10, 3, 5, 2, 9, 4, 8, 6]  // 1...10, shuffled
        #expect(Statistics.median(v) == 5.5)
        #expect(abs(Statistics.percentile(v, 0.1) - 1.9) < 1e-12)  // h = 0.9 → 1 + 0.9·(2 − 1)
        #expect(abs(Statistics.percentile(v, 0.9) - 9.1) < 1e-12)  // h = 8.1 → 9 + 0.1·(10 − 9)
        #expect(Statistics.percentile(v, 0) == 1 && Statistics.percentile(v, 1) == 10)
        #expect(Statistics.median([3, 1, 2]) == 2)
        #expect(Statistics.median([4]) == 4)
        #expect(Statistics.median([]).isNaN)
        let s = Statistics.summary([2, 4])
        #expect(s.median == 3 && abs(s.p10 - 2.2) < 1e-12 && abs(s.p90 - 3.8) < 1e-12)
    }

    @Test func tolerancePerAlgorithm() {
        // 4·sqrt(64·9)·2^-24 = 96·2^-24.
        #expect(Correctness.tolerance(algorithm: CK_ALGO_IM2COL, reduction: 576) == 96 * 0x1p-24)
        #expect(Correctness.tolerance(algorithm: CK_ALGO_WINOGRAD_F4, reduction: 576)
            > Correctness.tolerance(algorithm: CK_ALGO_DIRECT, reduction: 576))
    }

    @Test func argumentParsing() throws {
        #expect(try parseThreadList("1,2") == [1, 2])
        #expect(try parseThreadList("2") == [2])
        #expect(throws: BenchError.self) { try parseThreadList("0") }
        #expect(throws: BenchError.self) { try parseThreadList("1,x") }
        #expect(try AlgorithmSelection.parse("all") == .all)
        #expect(try AlgorithmSelection.parse("auto") == .auto)
        #expect(try AlgorithmSelection.parse("im2col,direct") == .named(["im2col", "direct"]))
        #expect(throws: BenchError.self) { try AlgorithmSelection.parse("fft") }
    }
}

/// A small report for the output-format tests.
private func sampleReport() -> BenchReport {
    let header = BenchHeader(
        machine: .current(), date: "2025-01-01T00:00:00Z", suite: "standard",
        peaks: [PeakFigures(threads: 1, fmaGflops: 90, bandwidthGBps: 20),
                PeakFigures(threads: 2, fmaGflops: 180, bandwidthGBps: 30)],
        threads: [1, 2], minTime: 0.2, minRuns: 10, quick: false)
    var results: [BenchResult] = []
    for (layer, algo, threads, gflops, valid) in [("a.conv", "im2col", 1, 40.0, true), ("a.conv", "direct", 1, 60.0, true),
                                                  ("b<&>", "im2col", 2, 100.0, false)] {
        results.append(BenchResult(
            layer: layer, kind: .conv, algorithm: algo, impl: "\(algo)/x", layout: "nchw", threads: threads, batch: 1,
            runs: 10, medianMs: 1, p10Ms: 0.9, p90Ms: 1.2, gflops: gflops, gbps: 3, peakFraction: gflops / 90,
            workspaceBytes: 1024, planMs: 0.1, convertMs: 0, valid: valid, maxError: 1e-7, tolerance: 1e-6))
    }
    return BenchReport(header: header, results: results,
                       skipped: [BenchSkip(layer: "a.conv", algorithm: "winograd-f4", threads: nil,
                                           reason: BenchSkip.notAvailable + "not implemented")])
}

@Suite struct OutputFormatTests {
    @Test func jsonHasRequiredKeys() throws {
        let report = sampleReport()
        let data = try report.jsonData()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let header = try #require(object["header"] as? [String: Any])
        for key in ["cpu_model", "dispatched_isa", "convkit_version", "peaks", "openblas_config", "date", "logical_cores"] {
            #expect(header[key] != nil, "header lacks \(key)")
        }
        let peaks = try #require(header["peaks"] as? [[String: Any]])
        #expect(peaks.first?["fma_gflops"] != nil && peaks.first?["bandwidth_gbps"] != nil)
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.count == 3)
        for key in ["layer", "kind", "algorithm", "impl", "threads", "batch", "median_ms", "p10_ms", "p90_ms", "gflops",
                    "gbps", "peak_fraction", "workspace_bytes", "plan_ms", "valid", "max_error"] {
            #expect(results[0][key] != nil, "result lacks \(key)")
        }
        #expect(try BenchReport.decode(json: data) == report)
    }

    @Test func csvHasTheSameColumns() {
        let lines = sampleReport().csv.split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[0] == BenchResult.csvColumns.joined(separator: ","))
        for line in lines { #expect(line.split(separator: ",", omittingEmptySubsequences: false).count == 20) }
    }

    @Test func svgIsWellFormedWithOneRectPerBar() throws {
        let report = sampleReport()
        let svg = BarChart.svg(report)
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.components(separatedBy: "<rect").count - 1 == report.results.count)
        #expect(svg.contains("peak 90.0 GFLOPS") && svg.contains("peak 180.0 GFLOPS"))
        #expect(svg.contains("b&lt;&amp;&gt;"))
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "SVG is not well-formed XML: \(String(describing: parser.parserError))")
    }

    @Test func tableMarksInvalidAndSkipped() {
        let table = sampleReport().table
        #expect(table.contains("INVALID"))
        #expect(table.contains("winograd-f4: not available: not implemented"))
    }
}

@Suite(.serialized) struct EndToEndTests {
    @Test func tinyReferenceBenchIsValid() throws {
        let suite = try BenchSuite.parse("conv\ttiny\t1\t8\t10\t10\t8\t3\t3\t1\t1\t1\nmaxpool\tpool\t1\t8\t10\t10\t8\t3\t3\t2\t1\t8\n")
        var config = BenchConfiguration(threads: [1], algorithms: .named(["reference"]), quick: true)
        config.peakSeconds = 0.02
        let report = try BenchRunner(configuration: config).run(suite: suite)
        #expect(report.results.count == 2)
        for r in report.results {
            #expect(r.valid, "\(r.layer): max error \(r.maxError)")
            #expect(r.algorithm == "reference" && r.threads == 1 && r.batch == 1)
            #expect(r.runs >= 3 && r.medianMs > 0 && r.p10Ms <= r.medianMs && r.medianMs <= r.p90Ms)
            #expect(r.gflops > 0 && r.gbps > 0 && r.peakFraction > 0)
        }
        #expect(report.header.peaks.map(\.threads) == [1])
        #expect(report.header.peaks[0].fmaGflops > 0 && report.header.peaks[0].bandwidthGBps > 0)
        // 2·8·8·9·10·10 FLOPs.
        let conv = try #require(report.results.first)
        #expect(abs(conv.gflops - 115_200 / (conv.medianMs * 1e-3) * 1e-9) < 1e-9 * conv.gflops)
    }

    /// `passes` rounds: every item is timed in each round (progress says
    /// which), its samples are pooled (at least 3 a round), and the
    /// statistics and the header come from the pool.
    @Test func passesPoolEveryRoundsSamples() throws {
        let suite = try BenchSuite.parse("conv\ttiny\t1\t8\t10\t10\t8\t3\t3\t1\t1\t1\nconv\tsmall\t1\t4\t6\t6\t4\t1\t1\t1\t0\t1\n")
        var config = BenchConfiguration(threads: [1], algorithms: .named(["direct"]), quick: true)
        config.peakSeconds = 0
        config.minTime = 0
        config.minRuns = 4
        config.passes = 3
        var lines: [String] = []
        let report = try BenchRunner(configuration: config).run(suite: suite, progress: { lines.append($0.line) })
        #expect(lines == [
            "[1/2] tiny direct 1 thread, round 1/3…", "[2/2] small direct 1 thread, round 1/3…",
            "[1/2] tiny direct 1 thread, round 2/3…", "[2/2] small direct 1 thread, round 2/3…",
            "[1/2] tiny direct 1 thread, round 3/3…", "[2/2] small direct 1 thread, round 3/3…",
        ])
        #expect(report.results.map(\.layer) == ["tiny", "small"])
        for r in report.results {
            #expect(r.valid)
            // max(3, ceil(4 / 3)) = 3 runs in each of the 3 rounds
            #expect(r.runs == 9)
            #expect(r.p10Ms <= r.medianMs && r.medianMs <= r.p90Ms)
        }
        #expect(report.header.passes == 3)
        #expect(report.headerText.contains("over 3 rounds (samples pooled)"))
        let decoded = try JSONDecoder().decode(BenchReport.self, from: JSONEncoder().encode(report))
        #expect(decoded.header.passes == 3)

        config.passes = 1
        lines = []
        let single = try BenchRunner(configuration: config).run(suite: suite, progress: { lines.append($0.line) })
        #expect(lines == ["[1/2] tiny direct 1 thread…", "[2/2] small direct 1 thread…"])
        #expect(single.results.allSatisfy { $0.runs == 4 })
        #expect(!single.headerText.contains("rounds"))
    }

    /// Pooling recomputes median, p10/p90, GFLOPS, GB/s and % peak from all
    /// samples, and one invalid round makes the pooled result invalid.
    @Test func poolingRecomputesStatistics() throws {
        func measured(_ times: [Double], valid: Bool = true) -> BenchRunner.Measured {
            let (m, p10, p90) = Statistics.summary(times)
            let r = BenchResult(layer: "l", kind: .conv, algorithm: "direct", impl: "i", layout: "nchw", threads: 1,
                                batch: 1, runs: times.count, medianMs: m * 1e3, p10Ms: p10 * 1e3, p90Ms: p90 * 1e3,
                                gflops: 1e9 / m * 1e-9, gbps: 2e9 / m * 1e-9, peakFraction: 1e9 / m * 1e-9 / 100,
                                workspaceBytes: 0, planMs: 0.5, convertMs: 0, valid: valid, maxError: valid ? 1e-7 : 0.5,
                                tolerance: 1e-4)
            return BenchRunner.Measured(result: r, message: valid ? "" : "INVALID: l", times: times, bytes: 2e9,
                                        flops: 1e9, peak: 100)
        }
        var a = measured([0.010, 0.011, 0.012])
        a.pool(measured([0.030, 0.031, 0.032, 0.033], valid: false))
        #expect(a.result.runs == 7)
        #expect(a.result.medianMs == 30)  // sorted: 10 11 12 30 31 32 33
        #expect(abs(a.result.gflops - 1e9 / 0.030 * 1e-9) < 1e-9)
        #expect(abs(a.result.gbps - 2e9 / 0.030 * 1e-9) < 1e-9)
        #expect(abs(a.result.peakFraction - a.result.gflops / 100) < 1e-12)
        #expect(abs(a.result.p10Ms - Statistics.percentile([10, 11, 12, 30, 31, 32, 33], 0.1)) < 1e-9)
        #expect(!a.result.valid && a.result.maxError == 0.5 && a.message == "INVALID: l")
        #expect(a.result.planMs == 0.5)
    }

    @Test func unknownAlgorithmOnPoolingIsSkippedNotFatal() throws {
        let suite = try BenchSuite.parse("avgpool\tgap\t1\t8\t4\t4\t8\t4\t4\t1\t0\t8\n")
        var config = BenchConfiguration(threads: [1], algorithms: .named(["im2col"]), quick: true)
        config.peakSeconds = 0
        let report = try BenchRunner(configuration: config).run(suite: suite)
        #expect(report.results.isEmpty)
        #expect(report.skipped.count == 1)
    }

    @Test func correctnessCheckCatchesWrongOutput() throws {
        let layer = BenchLayer(kind: .conv, name: "t", n: 1, c: 2, h: 4, w: 4, k: 2, r: 3, s: 3, stride: 1, pad: 1,
                               groups: 1)
        let x = [Float](repeating: 1, count: 32), w = [Float](repeating: 0.5, count: 36), b: [Float] = [1, -1]
        // Corner (0,0): 2 channels x 2x2 window inside = 8 products of 0.5 → 4, plus bias.
        var y = [Float](repeating: 0, count: 32)
        for k in 0..<2 {
            for p in 0..<4 {
                for q in 0..<4 {
                    let rows = (p == 0 || p == 3) ? 2 : 3, cols = (q == 0 || q == 3) ? 2 : 3
                    y[(k * 4 + p) * 4 + q] = Float(2 * rows * cols) * 0.5 + b[k]
                }
            }
        }
        func check(_ y: [Float]) -> Correctness.Outcome {
            Correctness.checkConv(layer: layer, p: 4, q: 4, x: x, w: w, b: b, y: y, layout: CK_LAYOUT_NCHW,
                                  tolerance: 1e-6, samples: 256)
        }
        #expect(check(y).valid && check(y).checked == 32)
        y[5] += 0.01
        #expect(!check(y).valid)
        y[5] = .nan
        #expect(!check(y).valid)
    }

    @Test func peakMeasurementValidatesArguments() {
        var v = 0.0
        #expect(ck_measure_fma_peak(-1, 0.01, &v) == CK_ERR_INVALID_ARGUMENT)
        #expect(ck_measure_fma_peak(1, 0, &v) == CK_ERR_INVALID_ARGUMENT)
        #expect(ck_measure_bandwidth(1, .nan, &v) == CK_ERR_INVALID_ARGUMENT)
        #expect(ck_measure_fma_peak(1, 0.01, nil) == CK_ERR_NULL_POINTER)
        #expect(ck_measure_fma_peak(1, 0.01, &v) == CK_OK && v > 0)
    }
}
