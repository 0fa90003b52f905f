import ConvKit
import ConvKitNN
import Foundation
import Testing
@testable import ConvKitONNX

/// The fixture directory inside the test bundle.
func fixturesDirectory() -> URL {
    Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
}

/// Fixture names (without `.onnx`) with the given prefix filter.
func fixtureNames(rejected: Bool) -> [String] {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: fixturesDirectory().path)) ?? []
    return files.filter { $0.hasSuffix(".onnx") && $0.hasPrefix("reject_") == rejected }
        .map { String($0.dropLast(5)) }.sorted()
}

/// The tolerance: `max_i |y_i - r_i| <= 1e-4 * max(max_i |r_i|, 1e-3)` — the
/// error relative to the largest magnitude of onnxruntime's output tensor.
func relativeError(_ y: [Float], _ r: [Float]) -> Float {
    var err: Float = 0, scale: Float = 0
    for i in r.indices {
        err = max(err, abs(y[i] - r[i]))
        scale = max(scale, abs(r[i]))
    }
    if y.contains(where: \.isNaN) { return .infinity }
    return err / max(scale, 1e-3)
}

@Suite struct FixtureTests {
    @Test func fixturesExist() {
        #expect(fixtureNames(rejected: false).count >= 100)
        #expect(fixtureNames(rejected: false).contains("net_two_outputs"))
        #expect(fixtureNames(rejected: true).count >= 5)
    }

    /// Every fixture, compiled (default options: planner, folding, fusion, NCHW8c
    /// propagation; Winograd where the planner picks it), matches onnxruntime.
    @Test(arguments: fixtureNames(rejected: false))
    func matchesOnnxRuntime(_ name: String) throws {
        let dir = fixturesDirectory()
        let x = try Npy.read(contentsOf: dir.appendingPathComponent(name + ".in.npy"))
        let model = try ONNXModel(contentsOf: dir.appendingPathComponent(name + ".onnx"))
        let runner = try model.compile(batch: x.shape[0], threads: 2)
        let ys = try runner.run(x)
        #expect(ys.count == model.outputs.count)
        for (i, y) in ys.enumerated() {
            let file = name + (i == 0 ? ".out.npy" : ".out.\(i).npy")
            let expected = try Npy.read(contentsOf: dir.appendingPathComponent(file))
            #expect(y.array.shape == expected.shape, "\(file): shape \(y.array.shape) vs onnxruntime \(expected.shape)")
            guard y.array.shape == expected.shape else { continue }
            let e = relativeError(y.array.values, expected.values)
            #expect(e <= 1e-4, "\(file): relative error \(e)")
        }
    }

    /// The same through the layer-by-layer path (no compilation) and with plain layouts.
    @Test(arguments: fixtureNames(rejected: false).filter { $0.hasPrefix("net_") })
    func networksOnEveryPath(_ name: String) throws {
        let dir = fixturesDirectory()
        let x = try Npy.read(contentsOf: dir.appendingPathComponent(name + ".in.npy"))
        let expected = try Npy.read(contentsOf: dir.appendingPathComponent(name + ".out.npy"))
        let model = try ONNXModel(contentsOf: dir.appendingPathComponent(name + ".onnx"))
        let reference = try model.network(x.tensor())
        #expect(relativeError(reference.storage, expected.values) <= 1e-4)
        let plain = try model.compile(threads: 1, options: CompileOptions(layoutPolicy: .plain))
        #expect(relativeError(try plain(x).values, expected.values) <= 1e-4)
    }

    /// A larger batch than the file's runs every image like batch 1.
    @Test func batchOverride() throws {
        let dir = fixturesDirectory()
        let x = try Npy.read(contentsOf: dir.appendingPathComponent("net_lenet5.in.npy"))
        let expected = try Npy.read(contentsOf: dir.appendingPathComponent("net_lenet5.out.npy"))
        let model = try ONNXModel(contentsOf: dir.appendingPathComponent("net_lenet5.onnx"), batch: 3)
        let runner = try model.compile(threads: 2)
        let y = try runner(NpyArray(shape: [3, 1, 32, 32], values: x.values + x.values + x.values))
        #expect(y.shape == [3, 10])
        for b in 0..<3 {
            #expect(relativeError(Array(y.values[(b * 10)..<(b * 10 + 10)]), expected.values) <= 1e-4)
        }
        #expect(throws: ConvKitError.self) { try runner(x) }  // wrong batch
    }

    @Test func summaryOfImportedNetwork() throws {
        let model = try ONNXModel(contentsOf: fixturesDirectory().appendingPathComponent("net_lenet5.onnx"))
        let s = try model.summary()
        #expect(s.trainableParameters == 61706)
        #expect(model.opsetVersion == 13 && model.inputName == "x" && model.outputRank == 2)
        #expect(!model.usesReferencePath)
    }
}

@Suite struct RejectionTests {
    func message(_ name: String) -> (ConvKitError.Code, String)? {
        do {
            _ = try ONNXModel(contentsOf: fixturesDirectory().appendingPathComponent(name + ".onnx"))
            return nil
        } catch let e as ConvKitError {
            return (e.code, e.message)
        } catch {
            return (.internal, "\(error)")
        }
    }

    @Test(arguments: [
        ("reject_unsupported_ops", ["2 unsupported node(s)", "operator Mul", "operator Resize", "opset 13"]),
        ("reject_softmax_axis3", ["Softmax", "attribute 'axis'", "opset 13"]),
        ("reject_softmax_op11_flatten_chw", ["Softmax", "attribute 'axis'", "opset 11", "H = W = 1"]),
        ("reject_pad_reflect", ["Pad", "attribute 'mode'", "reflect"]),
        ("reject_convT_dilation", ["ConvTranspose", "attribute 'dilations'"]),
        ("reject_gemm_transA", ["Gemm", "attribute 'transA'"]),
        ("reject_opset22", ["opset 22"]),
        ("reject_concat_axis2", ["Concat", "attribute 'axis'"]),
        ("reject_flatten_axis2", ["Flatten", "attribute 'axis'"]),
    ])
    func rejectedPrecisely(_ name: String, _ fragments: [String]) throws {
        let got = try #require(message(name), "\(name) was imported")
        #expect(got.0 == .unsupported, "\(name): \(got.1)")
        for f in fragments { #expect(got.1.contains(f), "\(name): '\(f)' not in: \(got.1)") }
    }

    /// Every fixture file truncated (at every offset in the first 512 bytes, then
    /// at a stride) either fails to import with a ConvKitError or — when the cut
    /// falls on a field boundary that leaves a smaller but complete model — imports.
    @Test func truncatedFiles() throws {
        let data = try Data(contentsOf: fixturesDirectory().appendingPathComponent("net_residual_block.onnx"))
        var offsets = Array(0..<min(512, data.count))
        offsets += Array(stride(from: 512, to: data.count, by: max(1, data.count / 400)))
        var rejected = 0
        for n in offsets {
            do { _ = try ONNXModel(data: data.prefix(n)) } catch is ConvKitError { rejected += 1 }
        }
        #expect(rejected == offsets.count, "every truncation of this model must be rejected")
    }

    @Test func garbageAndFlippedBytes() throws {
        var g = SeededGenerator(seed: 42)
        for length in [1, 2, 7, 64, 1000, 10_000] {
            let bytes = Data((0..<length).map { _ in UInt8(truncatingIfNeeded: g.next()) })
            #expect(throws: ConvKitError.self) { try ONNXModel(data: bytes) }
        }
        #expect(throws: ConvKitError.self) { try ONNXModel(data: Data()) }
        // Random byte flips: rejected or imported, never a crash; an imported model still runs or throws cleanly.
        let original = try Data(contentsOf: fixturesDirectory().appendingPathComponent("net_lenet5.onnx"))
        let x = try Npy.read(contentsOf: fixturesDirectory().appendingPathComponent("net_lenet5.in.npy"))
        for _ in 0..<300 {
            var d = original
            for _ in 0..<3 {
                let i = Int(g.next() % UInt64(d.count))
                d[i] ^= UInt8(truncatingIfNeeded: g.next() | 1)
            }
            if let m = try? ONNXModel(data: d), let r = try? m.compile(threads: 1) {
                _ = try? r(x)
            }
        }
    }
}
