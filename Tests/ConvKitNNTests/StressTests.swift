import ConvKit
import Foundation
import Testing

@testable import ConvKitNN

/// A small deterministic generator (SplitMix64) private to these tests.
private struct StressRNG {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 24) * 2 - 1 }
}

private func fuzzSeconds() -> Double {
    if let v = ProcessInfo.processInfo.environment["FUZZ_SECONDS"], let s = Double(v), s > 0 { return s }
    return 1
}

/// Faults in safetensors weight files, and many tasks on one compiled network.
///
/// safetensors has no checksum: a flipped byte inside the tensor data is a
/// different, valid file (that float changes) -- "read correctly" for this
/// format. Everything else (truncation anywhere, a flip in the length prefix or
/// the JSON header) must be rejected, or decode to tensors that are identical to
/// the original except for the flipped float, or be caught by `loadWeights`'
/// name/shape check. Never a crash, never a silently different network.
@Suite("Stress: safetensors faults and compiled-network concurrency")
struct StressTests {
    static func sampleTensors() -> [(name: String, shape: [Int], values: [Float])] {
        var g = StressRNG(state: 3)
        return [
            ("conv1.weight", [4, 2, 3, 3], (0..<72).map { _ in g.unit() }),
            ("conv1.bias", [4], (0..<4).map { _ in g.unit() }),
            ("fc.weight", [3, 5], (0..<15).map { _ in g.unit() }),
            ("bn.running_var", [2], [0.5, 2]),
            ("scalar", [], [7]),
            ("empty", [0, 3], []),
        ]
    }

    /// Whether `decoded` has the original names and shapes, with at most `allowedValueChanges` floats changed.
    static func matches(_ decoded: [String: (shape: [Int], values: [Float])], _ original: [String: (shape: [Int], values: [Float])],
                        allowedValueChanges: Int) -> Bool {
        guard decoded.count == original.count else { return false }
        var changed = 0
        for (name, t) in original {
            guard let d = decoded[name], d.shape == t.shape, d.values.count == t.values.count else { return false }
            for (a, b) in zip(d.values, t.values) where a.bitPattern != b.bitPattern { changed += 1 }
        }
        return changed <= allowedValueChanges
    }

    @Test("safetensors: truncation at every byte offset is rejected")
    func truncatedEverywhere() throws {
        let bytes = try SafeTensors.encode(Self.sampleTensors())
        let original = try SafeTensors.decode(bytes)
        #expect(Self.matches(original, Dictionary(uniqueKeysWithValues: Self.sampleTensors().map { ($0.name, ($0.shape, $0.values)) }),
                             allowedValueChanges: 0))
        var accepted: [Int] = []
        for n in 0..<bytes.count {
            if (try? SafeTensors.decode(Array(bytes[..<n]))) != nil { accepted.append(n) }
        }
        #expect(accepted.isEmpty, "truncated files accepted at \(accepted.prefix(10))")
        print("fuzz safetensors-truncation: \(bytes.count) truncations, 0 accepted")
    }

    @Test("safetensors: random flips, insertions and deletions are rejected or read correctly")
    func mutatedFiles() throws {
        let tensors = Self.sampleTensors()
        let bytes = try SafeTensors.encode(tensors)
        let original = try SafeTensors.decode(bytes)
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8
        let dataStart = 8 + headerLength
        var g = StressRNG(state: 11)
        let start = Date()
        var runs = 0, rejected = 0, sameOrOneFloat = 0
        while Date().timeIntervalSince(start) < fuzzSeconds() {
            var b = bytes
            var dataFlips = 0, structural = false
            for _ in 0...g.below(2) {
                switch g.below(4) {
                case 0, 1:
                    let i = g.below(b.count)
                    b[i] ^= UInt8(1 << g.below(8))
                    if i < dataStart || structural { structural = true } else { dataFlips += 1 }
                case 2:
                    b.insert(UInt8(truncatingIfNeeded: g.next()), at: g.below(b.count + 1)); structural = true
                default:
                    b.remove(at: g.below(b.count)); structural = true
                }
            }
            runs += 1
            guard let decoded = try? SafeTensors.decode(b) else { rejected += 1; continue }
            _ = (dataFlips, structural)
            if b.count == bytes.count && b[..<dataStart] == bytes[..<dataStart] {
                // Only data bytes changed (no checksum in the format): the values must be exactly what
                // the mutated bytes say, at the original offsets ("read correctly").
                var offset = dataStart
                var expected: [String: (shape: [Int], values: [Float])] = [:]
                for t in tensors {
                    let v = (0..<t.values.count).map { i -> Float in
                        let j = offset + 4 * i
                        return Float(bitPattern: UInt32(b[j]) | UInt32(b[j + 1]) << 8 | UInt32(b[j + 2]) << 16
                                     | UInt32(b[j + 3]) << 24)
                    }
                    expected[t.name] = (t.shape, v)
                    offset += 4 * t.values.count
                }
                #expect(Self.matches(decoded, expected, allowedValueChanges: 0), "data bytes were misread")
                sameOrOneFloat += 1
            } else if Self.matches(decoded, original, allowedValueChanges: 0) {
                sameOrOneFloat += 1  // e.g. a header change that means the same thing
            } else {
                // anything else must at least change a name or a shape, so that loadWeights refuses it
                let sameLayout = decoded.count == original.count
                    && original.allSatisfy { decoded[$0.key]?.shape == $0.value.shape }
                #expect(!sameLayout, "a mutated file decoded to the same tensors with different values")
            }
        }
        print("fuzz safetensors: \(runs) inputs in " + String(format: "%.1f", Date().timeIntervalSince(start))
              + " s, \(rejected) rejected, \(sameOrOneFloat) read correctly (unchanged, or data bytes changed and read as written), 0 crashes")
    }

    @Test("Regression: a byte inserted into (or appended to) the data is rejected, not read as shifted values")
    func insertedDataByteRejected() throws {
        // Found by mutatedFiles: decode accepted data that the tensors did not tile exactly.
        let bytes = try SafeTensors.encode(Self.sampleTensors())
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8
        var inserted = bytes
        inserted.insert(0x41, at: 8 + headerLength + 100)
        #expect(throws: ConvKitError.self) { try SafeTensors.decode(inserted) }
        #expect(throws: ConvKitError.self) { try SafeTensors.decode(bytes + [0]) }
        // a hole between tensors and overlapping tensors
        let hole = Array(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#.utf8)
        let overlap = Array(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#.utf8)
        for header in [hole, overlap] {
            var file = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header
            file += [UInt8](repeating: 0, count: header == hole ? 8 : 4)
            #expect(throws: ConvKitError.self) { try SafeTensors.decode(file) }
        }
        #expect(try SafeTensors.decode(bytes).count == Self.sampleTensors().count)
    }

    @Test("Network.loadWeights: truncated or flipped weight files never change the network silently")
    func networkWeightFaults() throws {
        let net = try Zoo.lenet5(seed: 1)
        let bytes = try net.safetensorsData()
        let before = try net.namedParameters().map { $0.parameter.values }
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16
        // every offset in the length prefix and the header, then every 61st byte of the data, and the last 8
        var offsets = Array(0...(8 + headerLength))
        offsets += stride(from: 9 + headerLength, to: bytes.count, by: 61)
        offsets += (bytes.count - 8)..<bytes.count
        for n in offsets {
            #expect(throws: ConvKitError.self) { try net.loadWeights(from: Array(bytes[..<n])) }
        }
        #expect(try net.namedParameters().map { $0.parameter.values } == before, "a failed load changed the network")
        var g = StressRNG(state: 5)
        var rejected = 0
        for _ in 0..<300 {
            var b = bytes
            let i = g.below(8 + headerLength)  // header flips: rejected, or the same network
            b[i] ^= UInt8(1 << g.below(8))
            do {
                try net.loadWeights(from: b)
                #expect(try net.namedParameters().map { $0.parameter.values } == before,
                        "a header flip at byte \(i) loaded different weights")
            } catch { rejected += 1 }
        }
        print("fuzz lenet5-weights: \(offsets.count) truncations rejected, 300 header flips (\(rejected) rejected, rest identical)")
    }

    @Test("Many tasks run the same CompiledNetwork at once with identical results")
    func compiledNetworkConcurrent() async throws {
        let net = try Zoo.resnet18(classes: 10, inputSize: 32, seed: 4)
        let compiled = try net.compile(batch: 1, threads: 1)
        var g = StressRNG(state: 77)
        let inputs = try (0..<3).map { _ in
            try Tensor(shape: compiled.inputShape, values: (0..<compiled.inputShape.elementCount).map { _ in g.unit() })
        }
        let expected = try inputs.map { try compiled($0) }
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            for t in 0..<6 {
                group.addTask {
                    var bad = 0
                    for i in 0..<3 {
                        let k = (i + t) % inputs.count
                        if try compiled(inputs[k]) != expected[k] { bad += 1 }
                    }
                    return bad
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(failures == 0)
    }
}
