#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The profile of this machine as the planner uses it: loaded lazily from a
/// file, trusted only when its header matches the running machine, updated in
/// memory and saved by an atomic merge with whatever the file holds by then.
///
/// A missing file is an empty profile. A corrupt, hostile or other-machine
/// file is ignored — never trusted, never a crash — with a warning in
/// `diagnostics` and through `warn` (default: standard error, once per store).
///
/// ```swift
/// let store = ProfileStore(path: "/path/profile.json")   // or ProfileStore() for the default path
/// if let entry = store.entry(for: ProfileKey(descriptor: desc, options: opts)) { print(entry.winner) }
/// print(store.diagnostics)                               // e.g. header mismatch warnings
/// ```
public final class ProfileStore: Sendable {
    /// The file (nil when no default path could be found: then nothing is read or written).
    public let path: String?
    /// The machine entries must match (default: this one).
    public let header: ProfileHeader
    private let warn: @Sendable (String) -> Void
    private struct State {
        var loaded = false
        var profile: Profile
        var pending: [ProfileKey: ProfileEntry] = [:]
        var diagnostics: [String] = []
    }
    private let state: Mutex<State>

    /// Creates a store for `path` (nil = `Profile.defaultPath()`).
    ///
    /// - Parameter warn: receives each warning (default: written to standard error).
    public init(path: String? = nil, header: ProfileHeader = .current,
                warn: @escaping @Sendable (String) -> Void = ProfileStore.standardErrorWarning) {
        self.path = path ?? Profile.defaultPath()
        self.header = header
        self.warn = warn
        state = Mutex(State(profile: Profile(header: header)))
    }

    /// Writes `convkit: warning: <message>` to standard error.
    public static let standardErrorWarning: @Sendable (String) -> Void = { message in
        let line = Array("convkit: warning: \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// Reads the file if it has not been read yet.
    private func loadIfNeeded(_ s: inout State) {
        guard !s.loaded else { return }
        s.loaded = true
        let (profile, notes) = Self.read(path: path, header: header)
        s.profile = profile
        for v in s.pending.values { s.profile.record(v) }
        s.diagnostics += notes
        for n in notes { warn(n) }
    }

    /// Reads `path` for `header`: the profile to trust and the warnings.
    static func read(path: String?, header: ProfileHeader) -> (Profile, [String]) {
        guard let path else { return (Profile(header: header), []) }
        guard access(path, F_OK) == 0 else { return (Profile(header: header), []) }
        do {
            let p = try Profile.load(path: path)
            let diff = p.header.mismatches(against: header)
            if !diff.isEmpty {
                return (Profile(header: header), [
                    "profile '\(path)' was made for another machine or ConvKit build and is ignored ("
                        + diff.joined(separator: "; ") + ")",
                ])
            }
            return (p, [])
        } catch {
            return (Profile(header: header), ["\(error); the profile is ignored"])
        }
    }

    /// The trusted entry for `key`, if any.
    public func entry(for key: ProfileKey) -> ProfileEntry? {
        state.withLock { s in
            loadIfNeeded(&s)
            return s.profile.entry(for: key)
        }
    }

    /// A copy of the trusted profile (empty if the file was missing or ignored).
    public var profile: Profile {
        state.withLock { s in
            loadIfNeeded(&s)
            return s.profile
        }
    }

    /// Warnings met while loading (a corrupt file, a header mismatch).
    public var diagnostics: [String] {
        state.withLock { s in
            loadIfNeeded(&s)
            return s.diagnostics
        }
    }

    /// Records an entry in memory; `save()` writes it.
    public func record(_ entry: ProfileEntry) {
        state.withLock { s in
            loadIfNeeded(&s)
            s.profile.record(entry)
            s.pending[entry.key] = entry
        }
    }

    /// Writes the entries recorded since the last save: re-reads the file under
    /// an exclusive lock, merges them in (they win over older entries with the
    /// same key), and writes atomically. Other processes' entries are kept.
    ///
    /// - Throws: `ProfileError` if the file cannot be written.
    public func save() throws {
        guard let path else { return }
        try state.withLock { s in
            loadIfNeeded(&s)
            guard !s.pending.isEmpty else { return }
            let pending = s.pending
            let saved = try Profile.update(path: path, header: header) { p in
                for e in pending.values { p.record(e) }
            }
            s.profile = saved
            s.pending.removeAll()
        }
    }

    /// Removes the entries matching `predicate` from memory and, atomically, from the file.
    /// Returns how many entries the file (or memory, without a file) lost.
    ///
    /// - Throws: `ProfileError` if the file cannot be written.
    @discardableResult
    public func forget(where predicate: @escaping (ProfileEntry) -> Bool) throws -> Int {
        try state.withLock { s in
            loadIfNeeded(&s)
            s.pending = s.pending.filter { !predicate($0.value) }
            let inMemory = s.profile.forget(where: predicate)
            guard let path else { return inMemory }
            var removed = 0
            let saved = try Profile.update(path: path, header: header) { p in removed = p.forget(where: predicate) }
            s.profile = saved
            return removed
        }
    }
}
