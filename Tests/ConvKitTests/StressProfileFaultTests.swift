import ConvKit
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// An interrupted autotune must leave the previous profile intact.
///
/// 1. In process: `Profile.update` whose body fails (an autotune that dies
///    before it writes) leaves the file byte-for-byte unchanged, with no
///    temporary files left; a save onto an unwritable target fails cleanly and
///    leaves the previous file.
/// 2. Out of process: the real `convkit autotune` is killed with SIGKILL at
///    several moments; after each kill the profile file must still load, and
///    hold every entry it held before (tuning only adds).
@Suite("Stress: profile faults", .serialized)
struct StressProfileFaultTests {
    @Test("A failure before the rename leaves the previous profile byte-for-byte")
    func failedUpdateKeepsFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("profile.json").path
        try sampleProfile(3).save(to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        struct Interrupted: Error {}
        #expect(throws: Interrupted.self) {
            try Profile.update(path: path) { p in
                p.record(try sampleProfile(1).entries[0])  // half-way through tuning...
                throw Interrupted()                        // ...the process is interrupted
            }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        // a save whose rename cannot happen (the target is now a non-empty directory) fails cleanly
        let blocked = dir.appendingPathComponent("blocked.json").path
        try FileManager.default.createDirectory(atPath: blocked + "/x", withIntermediateDirectories: true)
        #expect(throws: ProfileError.self) { try sampleProfile(1).save(to: blocked) }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp.") }
        #expect(names.isEmpty, "temporary files left behind: \(names)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    /// The `convkit` executable next to the test bundle (nil when it was not built).
    static func convkitBinary() -> String? {
        if let p = ProcessInfo.processInfo.environment["CONVKIT_BIN"] { return p }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("convkit").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    @Test("convkit autotune killed (SIGKILL) at several moments: the profile stays loadable and keeps its entries")
    func killedAutotuneKeepsProfile() throws {
        guard let bin = Self.convkitBinary() else {
            print("stress: convkit executable not found next to the tests (build it, or set CONVKIT_BIN); skipped")
            return
        }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("profile.json").path
        let previous = try sampleProfile(3)
        try previous.save(to: path)
        var kills = 0
        for delay in [0.05, 0.3, 0.8, 1.5, 2.5] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: bin)
            p.arguments = ["autotune", "--model", "lenet5", "--threads", "1", "--profile", path, "--force"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: delay)
            if p.isRunning { kill(p.processIdentifier, SIGKILL); kills += 1 }
            p.waitUntilExit()
            let now = try Profile.load(path: path)  // must load: never a partial file
            for e in previous.entries { #expect(now.entry(for: e.key) == e, "entry \(e.key) lost after a kill at \(delay) s") }
        }
        print("stress: convkit autotune killed \(kills) times; the profile stayed intact")
    }
}
