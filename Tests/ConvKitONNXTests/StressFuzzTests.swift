import ConvKit
import ConvKitNN
import Foundation
import Testing

@testable import ConvKitONNX

/// Mutation fuzzing of the .npy reader and the ONNX importer inside `swift test`
/// (bounded by FUZZ_SECONDS per harness, default 1 s; Scripts/fuzz.sh sets it).
/// Seeds: Fuzz/corpus/npy and Fuzz/corpus/onnx (copies of a few fixtures).
/// Every input must be rejected with an error or accepted consistently; never a crash.
@Suite("Stress: ONNX and .npy fuzzing")
struct StressFuzzONNXTests {
    struct RNG {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
        mutating func mutate(_ seed: [UInt8], other: [UInt8]) -> [UInt8] {
            var b = seed
            for _ in 0...below(3) {
                switch below(6) {
                case 0 where !b.isEmpty: let i = below(b.count); b[i] ^= UInt8(1 << below(8))
                case 1 where !b.isEmpty: b[below(b.count)] = UInt8(truncatingIfNeeded: next())
                case 2: b.insert(contentsOf: (0..<1 + below(4)).map { _ in UInt8(truncatingIfNeeded: next()) }, at: below(b.count + 1))
                case 3 where !b.isEmpty: let i = below(b.count); b.removeSubrange(i..<min(b.count, i + 1 + below(8)))
                case 4 where !b.isEmpty:  // a varint / length byte turned huge
                    let i = below(b.count); b[i] = [0xff, 0x80, 0x7f, 0x00][below(4)]
                default:
                    guard !other.isEmpty, !b.isEmpty else { break }
                    let i = below(b.count), j = below(other.count)
                    b = Array(b[..<i]) + Array(other[j..<min(other.count, j + 1 + below(64))])
                }
            }
            return b
        }
    }

    static var seconds: Double {
        if let v = ProcessInfo.processInfo.environment["FUZZ_SECONDS"], let s = Double(v), s > 0 { return s }
        return 1
    }

    static func corpus(_ harness: String, filePath: String = #filePath) -> [[UInt8]] {
        let root = ProcessInfo.processInfo.environment["CONVKIT_FUZZ_CORPUS"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus")
        let dir = root.appendingPathComponent(harness)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.sorted() ?? []
        return names.compactMap { try? [UInt8](Data(contentsOf: dir.appendingPathComponent($0))) }
    }

    static func run(_ name: String, seeds: [[UInt8]], _ body: ([UInt8]) -> Bool) {
        var rng = RNG(state: 0xF00D ^ UInt64(name.utf8.count))
        let start = Date()
        var runs = 0, accepted = 0
        for s in seeds { for n in 0...s.count { if body(Array(s[..<n])) { accepted += 1 }; runs += 1 } }
        let truncations = runs
        while Date().timeIntervalSince(start) < seconds && !seeds.isEmpty {
            for _ in 0..<32 {
                let m = rng.mutate(seeds[rng.below(seeds.count)], other: seeds[rng.below(seeds.count)])
                if body(m) { accepted += 1 }
                runs += 1
            }
        }
        print("fuzz \(name): \(runs) inputs (\(truncations) truncations) in "
              + String(format: "%.1f", Date().timeIntervalSince(start)) + " s, \(accepted) accepted, "
              + "\(runs - accepted) rejected, 0 crashes")
    }

    @Test(".npy reader: truncations are rejected; mutations are rejected or round-trip")
    func npyReader() throws {
        var seeds = Self.corpus("npy")
        seeds.append(Npy.encode(try NpyArray(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])))
        seeds.append(Npy.encode(try NpyArray(shape: [], values: [42])))
        let full = Set(seeds)
        Self.run("npy", seeds: seeds) { bytes in
            guard let a = try? Npy.decode(bytes) else { return false }
            // a strict prefix of a seed is never accepted (the data would be short)
            if !full.contains(bytes), seeds.contains(where: { $0.count > bytes.count && Array($0[..<bytes.count]) == bytes }) {
                Issue.record("a truncated .npy file (\(bytes.count) bytes) was accepted")
            }
            // accepted: consistent, and survives a round trip
            #expect(a.values.count == a.shape.reduce(1, *))
            if let back = try? Npy.decode(Npy.encode(a)) {
                #expect(back.shape == a.shape && zip(back.values, a.values).allSatisfy { $0.bitPattern == $1.bitPattern })
            } else {
                Issue.record("an accepted .npy array does not round-trip")
            }
            return true
        }
    }

    @Test("ONNX importer: truncated and mutated models are rejected or import consistently")
    func onnxImporter() throws {
        let seeds = Self.corpus("onnx")
        #expect(!seeds.isEmpty)
        Self.run("onnx", seeds: seeds) { bytes in
            guard let model = try? ONNXModel(data: Data(bytes)) else { return false }
            // an imported model must at least summarise and compile, or fail with an error (not crash)
            _ = try? model.summary()
            if model.network.inputShape.elementCount <= 1 << 16 { _ = try? model.compile(batch: 1, threads: 1) }
            return true
        }
    }
}
