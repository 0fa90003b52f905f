import ConvKit
import Foundation
import Testing

/// A deterministic mutation fuzzer for the file parsers, run inside `swift test`
/// (CI-friendly: no libFuzzer, bounded time). Each seed is truncated at every
/// offset, then mutated with random byte flips, insertions, deletions, splices
/// and "interesting" byte runs until the time budget is spent.
///
/// The budget is `FUZZ_SECONDS` (Scripts/fuzz.sh sets it; default 1 s per
/// harness so a plain `swift test` stays quick). Seeds come from
/// `Fuzz/corpus/<harness>/` (or `CONVKIT_FUZZ_CORPUS`) plus generated ones.
struct MutationFuzzer {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }

    static let interesting: [[UInt8]] = [
        Array("-1".utf8), Array("1e308".utf8), Array("9223372036854775807".utf8), Array("-9223372036854775808".utf8),
        Array("18446744073709551616".utf8), Array("NaN".utf8), Array("null".utf8), Array("[[[[[[[[".utf8),
        Array("{}".utf8), Array("\"\"".utf8), [0], [0xff, 0xff, 0xff, 0xff], Array("\\u0000".utf8), Array("1e-400".utf8),
    ]

    /// One mutated copy of `seed` (splicing with `other`).
    mutating func mutate(_ seed: [UInt8], other: [UInt8]) -> [UInt8] {
        var b = seed
        for _ in 0...below(3) {
            switch below(7) {
            case 0 where !b.isEmpty:  // flip one bit
                let i = below(b.count); b[i] ^= UInt8(1 << below(8))
            case 1 where !b.isEmpty:  // random byte
                b[below(b.count)] = UInt8(truncatingIfNeeded: next())
            case 2:  // insert random bytes
                let i = below(b.count + 1)
                b.insert(contentsOf: (0..<1 + below(4)).map { _ in UInt8(truncatingIfNeeded: next()) }, at: i)
            case 3 where !b.isEmpty:  // delete a run
                let i = below(b.count); b.removeSubrange(i..<min(b.count, i + 1 + below(8)))
            case 4:  // insert an interesting token
                b.insert(contentsOf: Self.interesting[below(Self.interesting.count)], at: below(b.count + 1))
            case 5 where !other.isEmpty && !b.isEmpty:  // splice
                let i = below(b.count), j = below(other.count)
                b = Array(b[..<i]) + Array(other[j..<min(other.count, j + 1 + below(64))])
            default:  // duplicate a chunk
                guard !b.isEmpty else { break }
                let i = below(b.count), n = min(b.count - i, 1 + below(32))
                b.insert(contentsOf: b[i..<i + n], at: below(b.count + 1))
            }
        }
        return b
    }

    /// The time budget of one harness.
    static var seconds: Double {
        if let v = ProcessInfo.processInfo.environment["FUZZ_SECONDS"], let s = Double(v), s > 0 { return s }
        return 1
    }

    /// The committed seeds of `harness` (files of Fuzz/corpus/<harness>/).
    static func corpus(_ harness: String, filePath: String = #filePath) -> [[UInt8]] {
        let root = ProcessInfo.processInfo.environment["CONVKIT_FUZZ_CORPUS"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus")
        let dir = root.appendingPathComponent(harness)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.sorted() ?? []
        return names.compactMap { try? [UInt8](Data(contentsOf: dir.appendingPathComponent($0))) }
    }

    /// Runs `body` on every truncation of every seed, then on mutations until the
    /// budget is spent; prints one `fuzz <name>: ...` line (Scripts/fuzz.sh collects them).
    static func run(_ name: String, seeds: [[UInt8]], seconds: Double = MutationFuzzer.seconds,
                    _ body: ([UInt8], _ mutated: Bool) throws -> Bool) rethrows {
        var rng = MutationFuzzer(seed: 0xC0FF_EE00 ^ UInt64(name.utf8.count))
        let start = Date()
        var runs = 0, accepted = 0
        for s in seeds {
            for n in 0...s.count {
                if try body(Array(s[..<n]), n != s.count) { accepted += 1 }
                runs += 1
            }
        }
        let truncations = runs
        while Date().timeIntervalSince(start) < seconds && !seeds.isEmpty {
            for _ in 0..<64 {
                let seed = seeds[rng.below(seeds.count)], other = seeds[rng.below(seeds.count)]
                let m = rng.mutate(seed, other: other)
                if try body(m, m != seed) { accepted += 1 }
                runs += 1
            }
        }
        print("fuzz \(name): \(runs) inputs (\(truncations) truncations) in "
              + String(format: "%.1f", Date().timeIntervalSince(start)) + " s, \(accepted) accepted, "
              + "\(runs - accepted) rejected, 0 crashes")
    }
}

@Suite("Stress: parser fuzzing")
struct StressFuzzTests {
    @Test("Profile parser: truncations and mutations are rejected with a ProfileError or parse to a valid profile")
    func profileParser() throws {
        var seeds = MutationFuzzer.corpus("profile")
        seeds.append(Array(try sampleProfile(3).exportData()))
        seeds.append(Array(try sampleProfile(1).exportData()))
        #expect(seeds.count >= 2)
        if let dir = ProcessInfo.processInfo.environment["FUZZ_WRITE_SEEDS"] {  // regenerates Fuzz/corpus/profile
            try? Data(seeds[seeds.count - 2]).write(to: URL(fileURLWithPath: dir + "/sample-3-entries.json"))
            try? Data(seeds[seeds.count - 1]).write(to: URL(fileURLWithPath: dir + "/sample-1-entry.json"))
        }
        let original = try sampleProfile(3)
        let originalBytes = Array(try original.exportData())
        try MutationFuzzer.run("profile", seeds: seeds) { bytes, mutated in
            let p: Profile
            do {
                p = try Profile(data: Data(bytes), source: "fuzz.json")
            } catch {
                #expect(!"\(error)".isEmpty)  // a ProfileError naming the problem
                return false
            }
            // Accepted: it must survive a round trip unchanged (no half-parsed state).
            let again = try Profile(data: try p.exportData(), source: "again.json")
            #expect(again == p)
            // A strict prefix of the sample file is never a (different) valid profile.
            if bytes.count < originalBytes.count, Array(originalBytes[..<bytes.count]) == bytes {
                #expect(p == original, "a truncated profile parsed to something else at \(bytes.count) bytes")
            }
            _ = mutated
            return true
        }
    }

    @Test("Profile files: a file truncated or flipped on disk is ignored by ProfileStore with a warning, never trusted wrongly")
    func profileStoreOnCorruptFiles() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("profile.json").path
        let good = try sampleProfile(2)
        let bytes = Array(try good.exportData())
        var rng = MutationFuzzer(seed: 7)
        var cases: [[UInt8]] = stride(from: 0, to: bytes.count, by: max(1, bytes.count / 200)).map { Array(bytes[..<$0]) }
        for _ in 0..<200 {
            var b = bytes
            b[rng.below(b.count)] ^= UInt8(1 << rng.below(8))
            cases.append(b)
        }
        for b in cases {
            try Data(b).write(to: URL(fileURLWithPath: path))
            let store = ProfileStore(path: path, warn: { _ in })
            let seen = store.profile
            if let parsed = try? Profile(data: Data(b)) {
                // a flip the parser accepts (e.g. inside a number or a name): the store uses exactly what the file says
                if parsed.header.mismatches(against: .current).isEmpty { #expect(seen == parsed) } else { #expect(seen.count == 0) }
            } else {
                #expect(seen.count == 0)
                #expect(!store.diagnostics.isEmpty)
            }
        }
    }
}
