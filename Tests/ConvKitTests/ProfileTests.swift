import ConvKit
import Foundation
import Synchronization
import Testing

/// A profile with `count` entries for this machine.
func sampleProfile(_ count: Int = 3, header: ProfileHeader = .current) throws -> Profile {
    var p = Profile(header: header)
    for i in 0..<count {
        let d = try conv(16 * (i + 1), 14 + i, 32)
        let key = ProfileKey(descriptor: d, options: PlanOptions(threads: 1 + i % 2))
        let win = PlannerTiming(candidate: PlannerCandidate(algorithm: .winogradF4), medianSeconds: 1e-3 * Double(i + 1),
                                p10Seconds: 0.9e-3, p90Seconds: 1.1e-3 * Double(i + 1), runs: 12)
        let second = PlannerTiming(candidate: PlannerCandidate(algorithm: .direct, workspaceLimit: 4 << 20),
                                   medianSeconds: 2e-3, p10Seconds: 1.9e-3, p90Seconds: 2.1e-3, runs: 10)
        p.record(ProfileEntry(key: key, name: "layer\(i)", winner: win, runnerUp: i == 0 ? nil : second,
                              spread: win.spread, mode: i == 2 ? .exhaustive : .measure,
                              estimate: PlannerCandidate(algorithm: .direct)))
    }
    return p
}

@Suite("Profile")
struct ProfileTests {
    @Test("Round trip through a string and a file")
    func roundTrip() throws {
        let p = try sampleProfile()
        let text = try p.exportString()
        #expect(text.contains("\"winograd-f4\""))
        let back = try Profile(importing: text)
        #expect(back == p)
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("sub/dir/profile.json").path
        try p.save(to: path)
        #expect(try Profile.load(path: path) == p)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("sub/dir").path)
        #expect(leftovers == ["profile.json"])  // no temporary files left behind
    }

    @Test("Merge, forget and forgetAll")
    func mergeAndForget() throws {
        var a = try sampleProfile(2)
        let b = try sampleProfile(3)
        var changed = b.entries[0]
        changed.winner.candidate = PlannerCandidate(algorithm: .im2col)
        var c = Profile()
        c.record(changed)
        a.merge(b)
        #expect(a.count == 3)
        a.merge(c)
        #expect(a.entry(for: changed.key)?.winner.candidate.algorithm == .im2col)
        #expect(a.forget { $0.key.threads == 2 } == 1)
        #expect(a.count == 2)
        #expect(a.forgetAll() == 2)
        #expect(a.count == 0)
    }

    @Test("The default path follows CONVKIT_PROFILE, XDG_CACHE_HOME, HOME")
    func defaultPath() {
        #expect(Profile.defaultPath(environment: ["CONVKIT_PROFILE": "a.json", "HOME": "/h"]) == "a.json")
        #expect(Profile.defaultPath(environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"]) == "/x/convkit/profile.json")
        #expect(Profile.defaultPath(environment: ["HOME": "/h"]) == "/h/.cache/convkit/profile.json")
        #expect(Profile.defaultPath(environment: [:]) == nil)
    }

    @Test("A profile from another machine is ignored with a warning")
    func headerMismatch() throws {
        var other = ProfileHeader.current
        other.cpuModel = "Imaginary CPU 9000"
        other.logicalCores += 7
        let p = try sampleProfile(2, header: other)
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("profile.json").path
        try p.save(to: path)
        let warnings = Mutex<[String]>([])
        let store = ProfileStore(path: path, warn: { w in warnings.withLock { $0.append(w) } })
        #expect(store.entry(for: p.entries[0].key) == nil)
        #expect(store.profile.count == 0)
        #expect(store.diagnostics.count == 1)
        let w = warnings.withLock { $0 }
        #expect(w.count == 1)
        #expect(w.first?.contains(path) == true)
        #expect(w.first?.contains("cpuModel") == true)
        #expect(w.first?.contains("logicalCores") == true)
        // A planner using it never trusts it.
        let timer = FakeTimer([:])
        let planner = Planner(configuration: PlannerConfiguration(mode: .profileOnly), profile: store, timer: timer)
        let desc = try p.entries[0].key.descriptor()
        #expect(try planner.decide(desc, options: PlanOptions(threads: p.entries[0].key.threads)).source == .estimate)
        // The matching header is trusted.
        try sampleProfile(2).save(to: path)
        let good = ProfileStore(path: path, warn: { _ in Issue.record("unexpected warning") })
        #expect(good.profile.count == 2)
        #expect(good.diagnostics.isEmpty)
    }

    @Test("Truncated at every byte offset: rejected or read correctly, never a crash")
    func truncatedEverywhere() throws {
        let p = try sampleProfile(2)
        let data = try p.exportData()
        var rejected = 0
        for length in 0..<data.count {
            do {
                let q = try Profile(data: data.prefix(length), source: "cut.json")
                #expect(q == p, "a truncated file read differently at \(length) bytes")
            } catch {
                #expect(error.file == "cut.json")
                #expect(!error.problem.isEmpty)
                rejected += 1
            }
        }
        #expect(rejected >= data.count - 2)  // at most trailing whitespace may be cut harmlessly
        // Also through a real file.
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("cut.json").path
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        #expect(throws: ProfileError.self) { try Profile.load(path: path) }
        let store = ProfileStore(path: path, warn: { _ in })
        #expect(store.profile.count == 0)
        #expect(store.diagnostics.first?.contains(path) == true)
    }

    @Test("Random byte flips: rejected or read as a valid profile")
    func byteFlips() throws {
        let data = try sampleProfile(2).exportData()
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<300 {
            var bytes = [UInt8](data)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if let q = try? Profile(data: Data(bytes), source: "flip.json") {
                // Whatever was read passes validation: every key is a valid convolution.
                for e in q.entries { #expect((try? e.key.descriptor()) != nil) }
            }
        }
    }

    @Test("Garbage and hostile files are rejected with a message naming the problem", arguments: [
        ("", "empty"),
        ("garbage \u{1}\u{2}", "JSON"),
        ("[]", "top level"),
        ("{\"header\": 5, \"entries\": []}", "header"),
        ("null", "top level"),
        (String(repeating: "[", count: 100_000), "nested"),
    ])
    func garbage(text: String, expected: String) throws {
        do {
            _ = try Profile(importing: text, source: "bad.json")
            Issue.record("accepted garbage: \(text.prefix(40))")
        } catch {
            #expect(error.description.contains("bad.json"))
            #expect(error.problem.localizedCaseInsensitiveContains(expected), "\(error)")
        }
    }

    /// The sample profile's JSON with `edit` applied to the first entry's object.
    func edited(_ edit: (inout [String: Any]) -> Void) throws -> String {
        var root = try JSONSerialization.jsonObject(with: try sampleProfile(2).exportData()) as! [String: Any]
        var entries = root["entries"] as! [[String: Any]]
        edit(&entries[0])
        root["entries"] = entries
        return String(decoding: try JSONSerialization.data(withJSONObject: root), as: UTF8.self)
    }

    @Test("Hostile values inside entries are rejected")
    func hostileValues() throws {
        func key(_ f: @escaping (inout [String: Any]) -> Void) -> (inout [String: Any]) -> Void {
            { e in var k = e["key"] as! [String: Any]; f(&k); e["key"] = k }
        }
        func winner(_ f: @escaping (inout [String: Any]) -> Void) -> (inout [String: Any]) -> Void {
            { e in var w = e["winner"] as! [String: Any]; f(&w); e["winner"] = w }
        }
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("out of range", key { $0["c"] = -4 }),
            ("out of range", key { $0["threads"] = 0 }),
            ("key.c", key { $0["c"] = "sixty-four" }),
            ("", key { $0["h"] = 987_654_321_987 }),  // 1e300 for an Int: the message depends on the JSON parser
            ("out of range", key { $0["n"] = 1 << 40 }),
            ("invalid convolution", key { $0["groups"] = 7 }),
            ("algorithm", winner { w in var c = w["candidate"] as! [String: Any]; c["algorithm"] = "fft-magic"
                w["candidate"] = c }),
            ("layout", key { $0["layout"] = "nchw16c" }),
            ("seconds", winner { $0["medianSeconds"] = -1.0 }),
            ("seconds", winner { $0["p90Seconds"] = 1e12 }),
            ("runs", winner { $0["runs"] = 0 }),
            ("spread", { $0["spread"] = -3.0 }),
            ("mode", { $0["mode"] = "estimate" }),
            ("mode", { $0["mode"] = "yolo" }),
            ("winner", { $0["winner"] = nil }),
            ("workspaceLimit", winner { w in var c = w["candidate"] as! [String: Any]; c["workspaceLimit"] = -5
                w["candidate"] = c }),
        ]
        for (expected, edit) in cases {
            let text = try edited(edit).replacingOccurrences(of: "987654321987", with: "1e300")
            do {
                _ = try Profile(importing: text, source: "hostile.json")
                Issue.record("accepted a hostile entry (expected a message about \(expected))")
            } catch {
                #expect(error.description.contains("hostile.json"))
                #expect(expected.isEmpty || error.problem.contains(expected), "\(error)")
            }
        }
        // Duplicate keys.
        var root = try JSONSerialization.jsonObject(with: try sampleProfile(2).exportData()) as! [String: Any]
        let entries = root["entries"] as! [[String: Any]]
        root["entries"] = entries + [entries[0]]
        let dup = String(decoding: try JSONSerialization.data(withJSONObject: root), as: UTF8.self)
        #expect(throws: ProfileError.self) { try Profile(importing: dup) }
    }

    @Test("A file over 16 MiB is rejected before parsing")
    func oversized() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("huge.json").path
        try Data(repeating: UInt8(ascii: " "), count: Profile.maxFileBytes + 10).write(to: URL(fileURLWithPath: path))
        do {
            _ = try Profile.load(path: path)
            Issue.record("accepted a huge file")
        } catch {
            #expect(error.file == path)
            #expect(error.problem.contains("MiB"))
        }
        #expect(throws: ProfileError.self) { try Profile.load(path: dir.appendingPathComponent("missing").path) }
    }

    @Test("Concurrent writers merging different entries leave a valid file with all of them")
    func concurrentWriters() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("profile.json").path
        let all = try sampleProfile(12).entries
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, entry) in all.enumerated() {
                group.addTask {
                    if i % 2 == 0 {
                        try Profile.update(path: path) { $0.record(entry) }
                    } else {
                        let store = ProfileStore(path: path, warn: { _ in })
                        store.record(entry)
                        try store.save()
                    }
                }
            }
            try await group.waitForAll()
        }
        let final = try Profile.load(path: path)
        #expect(final.count == all.count)
        #expect(Set(final.entries) == Set(all))
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(names == ["profile.json", "profile.json.lock"])
    }

    @Test("ProfileStore.forget removes matching entries from the file")
    func storeForget() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("profile.json").path
        try sampleProfile(4).save(to: path)
        let store = ProfileStore(path: path, warn: { _ in })
        #expect(try store.forget { $0.name == "layer1" } == 1)
        #expect(try Profile.load(path: path).count == 3)
        #expect(store.profile.count == 3)
        #expect(try store.forget { _ in true } == 3)
        #expect(try Profile.load(path: path).count == 0)
    }
}
