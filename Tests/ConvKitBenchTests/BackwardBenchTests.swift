import CConvKit
import ConvKitBench
import Foundation
import Testing

/// The backward-pass benchmark (`convkit bench --backward`) on tiny layers
/// (debug builds compile the C core at -O0: keep them small).
@Suite(.serialized) struct BackwardBenchTests {
    static let tinySuite = """
        conv\tb3x3\t2\t4\t7\t6\t5\t3\t3\t1\t1\t1
        conv\tb1x1\t1\t6\t5\t5\t4\t1\t1\t1\t0\t1
        conv\tbgrp\t2\t6\t8\t8\t4\t3\t3\t2\t1\t2
        conv\tbdw\t1\t8\t6\t6\t8\t3\t3\t1\t1\t8
        maxpool\tpool\t1\t8\t6\t6\t8\t2\t2\t2\t0\t8

        """

    func runTiny(threads: [Int] = [1, 2]) throws -> BenchReport {
        var config = BenchConfiguration(threads: threads, algorithms: .auto, quick: true)
        config.peakSeconds = 0.02
        config.minRuns = 2
        return try BackwardBenchRunner(configuration: config).run(suite: try BenchSuite.parse(Self.tinySuite))
    }

    @Test func tinyLayersAreCheckedTimedAndValid() throws {
        let report = try runTiny()
        let rows = try #require(report.backward)
        #expect(report.results.isEmpty && report.skipped.isEmpty)
        // conv layers only (the pooling layer is left out), every thread count
        #expect(rows.map(\.layer) == ["b3x3", "b3x3", "b1x1", "b1x1", "bgrp", "bgrp", "bdw", "bdw"])
        #expect(rows.map(\.threads) == [1, 2, 1, 2, 1, 2, 1, 2])
        for r in rows {
            #expect(r.data.valid, "\(r.layer)@\(r.threads) dx: max error \(r.data.maxError)")
            #expect(r.weights.valid, "\(r.layer)@\(r.threads) dw: max error \(r.weights.maxError)")
            for f in [r.data, r.weights] {
                #expect(f.runs >= 2 && f.medianMs > 0 && f.p10Ms <= f.medianMs && f.medianMs <= f.p90Ms)
                #expect(f.gflops > 0 && f.peakFraction > 0 && f.checked > 0)
                #expect(abs(f.gflops - r.flops / (f.medianMs * 1e-3) * 1e-9) <= 1e-9 * f.gflops)
            }
        }
        // 2·N·K·(C/g)·R·S·P·Q of b3x3: 2·2·5·4·9·7·6
        #expect(rows[0].flops == Double(2 * 2 * 5 * 4 * 9 * 7 * 6))
        let table = report.backwardTable
        #expect(table.contains("dx GFLOPS") && table.contains("dw % peak") && table.contains("bdw"))
        #expect(!table.contains("INVALID"))
    }

    @Test func jsonHasABackwardSection() throws {
        let report = try runTiny(threads: [1])
        let data = try report.jsonData()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((object["results"] as? [Any])?.isEmpty == true)
        let backward = try #require(object["backward"] as? [[String: Any]])
        #expect(backward.count == 4)
        for key in ["layer", "threads", "batch", "layout", "impl", "flops", "workspace_bytes", "data", "weights"] {
            #expect(backward[0][key] != nil, "backward entry lacks \(key)")
        }
        for pass in ["data", "weights"] {
            let f = try #require(backward[0][pass] as? [String: Any])
            for key in ["runs", "median_ms", "p10_ms", "p90_ms", "gflops", "peak_fraction", "valid", "max_error",
                        "tolerance", "checked"] {
                #expect(f[key] != nil, "\(pass) lacks \(key)")
            }
        }
        #expect(try BenchReport.decode(json: data) == report)
        // A forward report has no backward key, and one without it decodes.
        let forward = BenchReport(header: report.header, results: [], skipped: [])
        let fdata = try forward.jsonData()
        let fobject = try #require(try JSONSerialization.jsonObject(with: fdata) as? [String: Any])
        #expect(fobject["backward"] == nil)
        #expect(try BenchReport.decode(json: fdata).backward == nil)
    }

    @Test func checkCatchesWrongGradients() throws {
        let layer = BenchLayer(kind: .conv, name: "t", n: 2, c: 3, h: 5, w: 4, k: 4, r: 3, s: 3, stride: 2, pad: 1,
                               groups: 1)
        let P = layer.p, Q = layer.q
        var rng = SplitMix64(seed: 7)
        let x = (0..<(2 * 3 * 5 * 4)).map { _ in rng.nextSigned() }
        let w = (0..<(4 * 3 * 9)).map { _ in rng.nextSigned() }
        let dy = (0..<(2 * 4 * P * Q)).map { _ in rng.nextSigned() }
        var dx = [Float](repeating: .nan, count: x.count), dw = [Float](repeating: .nan, count: w.count)
        var db = [Float](repeating: .nan, count: 4)
        // the C reference backward
        var d = layer.convDescriptor()
        var o = ck_plan_options()
        o.algorithm = CK_ALGO_REFERENCE
        var plan: OpaquePointer?
        #expect(ck_conv2d_backward_plan_create(&d, &o, &plan) == CK_OK)
        defer { ck_plan_destroy(plan) }
        #expect(ck_conv2d_backward_data(plan, dy, w, &dx, nil, 0) == CK_OK)
        #expect(ck_conv2d_backward_weights(plan, x, dy, &dw, &db, nil, 0) == CK_OK)
        func checkD(_ dx: [Float]) -> BackwardCorrectness.Outcome {
            BackwardCorrectness.checkData(layer: layer, w: w, dy: dy, dx: dx, samples: 256)
        }
        func checkW(_ dw: [Float], _ db: [Float]) -> BackwardCorrectness.Outcome {
            BackwardCorrectness.checkWeights(layer: layer, x: x, dy: dy, dw: dw, db: db, samples: 256)
        }
        #expect(checkD(dx).valid && checkD(dx).checked == x.count)
        #expect(checkW(dw, db).valid && checkW(dw, db).checked == w.count + 4)
        var bad = dx
        bad[7] += 0.01
        #expect(!checkD(bad).valid)
        bad[7] = .nan
        #expect(!checkD(bad).valid)
        var badW = dw
        badW[11] += 0.01
        #expect(!checkW(badW, db).valid)
        var badB = db
        badB[3] += 1e-3
        #expect(!checkW(dw, badB).valid)
    }
}
