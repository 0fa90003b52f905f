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

/// Reads an environment variable (nil when unset or empty).
func environmentValue(_ name: String) -> String? {
    guard let raw = getenv(name) else { return nil }
    let value = String(cString: raw)
    return value.isEmpty ? nil : value
}

// MARK: - Errors

/// A profile file that cannot be read, written or trusted: names the file and the problem.
public struct ProfileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file (or `<string>` for imported text).
    public var file: String
    /// What is wrong.
    public var problem: String

    /// Creates an error.
    public init(file: String, problem: String) {
        self.file = file
        self.problem = problem
    }

    /// `profile '<file>': <problem>`.
    public var description: String { "profile '\(file)': \(problem)" }
}

// MARK: - Header

/// What a profile was measured on. A profile whose header differs from the
/// running machine and binary is ignored.
public struct ProfileHeader: Hashable, Codable, Sendable {
    /// The file format's version (`Profile.schemaVersion`).
    public var schemaVersion: Int
    /// ConvKit's version.
    public var convKitVersion: String
    /// The CPU model string.
    public var cpuModel: String
    /// The architecture, e.g. `x86_64`.
    public var arch: String
    /// The ISA the kernels dispatch to, e.g. `avx2`.
    public var isa: String
    /// Logical cores.
    public var logicalCores: Int
    /// L1 data cache bytes.
    public var l1dBytes: Int
    /// L2 cache bytes.
    public var l2Bytes: Int
    /// L3 cache bytes.
    public var l3Bytes: Int
    /// OpenBLAS's configuration string.
    public var blasConfiguration: String

    /// Creates a header from its fields.
    public init(schemaVersion: Int = Profile.schemaVersion, convKitVersion: String, cpuModel: String, arch: String,
                isa: String, logicalCores: Int, l1dBytes: Int, l2Bytes: Int, l3Bytes: Int, blasConfiguration: String) {
        self.schemaVersion = schemaVersion
        self.convKitVersion = convKitVersion
        self.cpuModel = cpuModel
        self.arch = arch
        self.isa = isa
        self.logicalCores = logicalCores
        self.l1dBytes = l1dBytes
        self.l2Bytes = l2Bytes
        self.l3Bytes = l3Bytes
        self.blasConfiguration = blasConfiguration
    }

    /// The running machine and binary.
    public static var current: ProfileHeader {
        let cpu = try? ConvKitRuntime.cpuInfo
        return ProfileHeader(convKitVersion: ConvKitRuntime.version, cpuModel: cpu?.model ?? "",
                             arch: cpu?.arch ?? "", isa: cpu?.dispatchedISA ?? "",
                             logicalCores: cpu?.logicalCores ?? 0, l1dBytes: cpu?.l1dBytes ?? 0,
                             l2Bytes: cpu?.l2Bytes ?? 0, l3Bytes: cpu?.l3Bytes ?? 0,
                             blasConfiguration: ConvKitRuntime.blasConfiguration)
    }

    /// The fields that differ from `other`, as `field: 'mine' vs 'other'` (empty = match).
    public func mismatches(against other: ProfileHeader) -> [String] {
        var out: [String] = []
        func cmp<T: Equatable>(_ name: String, _ a: T, _ b: T) { if a != b { out.append("\(name): '\(a)' vs '\(b)'") } }
        cmp("schemaVersion", schemaVersion, other.schemaVersion)
        cmp("convKitVersion", convKitVersion, other.convKitVersion)
        cmp("cpuModel", cpuModel, other.cpuModel)
        cmp("arch", arch, other.arch)
        cmp("isa", isa, other.isa)
        cmp("logicalCores", logicalCores, other.logicalCores)
        cmp("l1dBytes", l1dBytes, other.l1dBytes)
        cmp("l2Bytes", l2Bytes, other.l2Bytes)
        cmp("l3Bytes", l3Bytes, other.l3Bytes)
        cmp("blasConfiguration", blasConfiguration, other.blasConfiguration)
        return out
    }
}

// MARK: - Keys and entries

/// What a profile entry is for: the operation, the full shape, the layout, the
/// thread count and the allowed-algorithm options.
public struct ProfileKey: Hashable, Codable, Sendable, CustomStringConvertible {
    /// The operation, `conv2d`.
    public var operation: String
    /// Batch.
    public var n: Int
    /// Input channels.
    public var c: Int
    /// Input height.
    public var h: Int
    /// Input width.
    public var w: Int
    /// Output channels.
    public var k: Int
    /// Kernel height.
    public var r: Int
    /// Kernel width.
    public var s: Int
    /// Stride (height, width).
    public var stride: Size2D
    /// Padding.
    public var padding: Padding
    /// Dilation.
    public var dilation: Size2D
    /// Groups.
    public var groups: Int
    /// The layout the caller runs in.
    public var layout: Layout
    /// Threads (resolved: never 0).
    public var threads: Int
    /// Whether Winograd is allowed.
    public var allowWinograd: Bool
    /// Whether fast math (Winograd F(6x6)) is allowed.
    public var fastMath: Bool
    /// The caller's workspace limit (0 = default).
    public var workspaceLimit: Int
    /// Whether the planner may choose another layout.
    public var allowLayoutChange: Bool

    /// The key of a convolution planned with `options` (threads 0 resolve to the core count).
    public init(descriptor d: Conv2DDescriptor, options: PlanOptions = .default, allowLayoutChange: Bool = false) {
        operation = "conv2d"
        n = d.inputShape.n; c = d.inputShape.c; h = d.inputShape.h; w = d.inputShape.w
        k = d.outputChannels; r = d.kernel.height; s = d.kernel.width
        stride = d.stride; padding = d.padding; dilation = d.dilation; groups = d.groups
        layout = d.layout
        threads = Planner.resolvedThreads(options.threads)
        allowWinograd = options.allowWinograd
        fastMath = options.fastMath
        workspaceLimit = options.workspaceLimit
        self.allowLayoutChange = allowLayoutChange
    }

    /// The convolution this key describes (no bias, no activation).
    ///
    /// - Throws: `ConvKitError` if the shape is invalid.
    public func descriptor() throws -> Conv2DDescriptor {
        try Conv2DDescriptor(inputShape: TensorShape(n: n, c: c, h: h, w: w), outputChannels: k,
                             kernel: Size2D(r, s), stride: stride, padding: padding, dilation: dilation,
                             groups: groups, layout: layout)
    }

    /// e.g. `conv2d 1x64x56x56 k64 3x3 s1x1 p(1, 1, 1, 1) d1x1 g1 NCHW t1 winograd` — what `--layer-regex` matches.
    public var description: String {
        "\(operation) \(n)x\(c)x\(h)x\(w) k\(k) \(r)x\(s) s\(stride) p\(padding) d\(dilation) g\(groups) \(layout) "
            + "t\(threads)" + (allowWinograd ? " winograd" : " no-winograd") + (fastMath ? " fast-math" : "")
            + (workspaceLimit > 0 ? " ws=\(formatBytes(workspaceLimit))" : "") + (allowLayoutChange ? " any-layout" : "")
    }
}

/// One remembered decision: the winner with its parameters and median time,
/// the runner-up, the spread and the mode that produced it.
public struct ProfileEntry: Hashable, Codable, Sendable {
    /// What the entry is for.
    public var key: ProfileKey
    /// The layer's name when it was tuned (informational).
    public var name: String?
    /// The chosen candidate and its timing.
    public var winner: PlannerTiming
    /// The second-best candidate, if any.
    public var runnerUp: PlannerTiming?
    /// The winner's p90 / p10.
    public var spread: Double
    /// `measure` or `exhaustive`.
    public var mode: PlannerMode
    /// What `estimate` would have chosen.
    public var estimate: PlannerCandidate?

    /// Creates an entry.
    public init(key: ProfileKey, name: String? = nil, winner: PlannerTiming, runnerUp: PlannerTiming? = nil,
                spread: Double, mode: PlannerMode, estimate: PlannerCandidate? = nil) {
        self.key = key
        self.name = name
        self.winner = winner
        self.runnerUp = runnerUp
        self.spread = spread
        self.mode = mode
        self.estimate = estimate
    }
}

// MARK: - Profile

/// A per-machine profile of tuned choices (like FFTW's wisdom): a header
/// describing the machine, and entries keyed by `ProfileKey`.
///
/// ```swift
/// var profile = try Profile.load(path: "profile.json")     // throws ProfileError on a bad file
/// if profile.header.mismatches(against: .current).isEmpty { ... }
/// profile.forget { $0.key.threads == 1 }
/// try profile.save(to: "profile.json")                     // atomic: temporary file + rename
/// let text = try profile.exportString()
/// try profile.merge(Profile(importing: text))
/// ```
public struct Profile: Hashable, Sendable {
    /// The file format version this build reads and writes.
    public static let schemaVersion = 1
    /// The largest file accepted (16 MiB).
    public static let maxFileBytes = 16 << 20
    /// The deepest JSON nesting accepted.
    public static let maxNesting = 16

    /// The machine the entries were measured on.
    public var header: ProfileHeader
    private var table: [ProfileKey: ProfileEntry]

    /// An empty profile for `header` (default: this machine).
    public init(header: ProfileHeader = .current) {
        self.header = header
        table = [:]
    }

    /// The entries, sorted by their key's description.
    public var entries: [ProfileEntry] { table.values.sorted { $0.key.description < $1.key.description } }

    /// The number of entries.
    public var count: Int { table.count }

    /// The entry for `key`, if any.
    public func entry(for key: ProfileKey) -> ProfileEntry? { table[key] }

    /// Adds or replaces the entry for its key.
    public mutating func record(_ entry: ProfileEntry) { table[entry.key] = entry }

    /// Adds `other`'s entries, replacing entries with the same key (the header stays this profile's).
    public mutating func merge(_ other: Profile) {
        for (k, v) in other.table { table[k] = v }
    }

    /// Removes the entries matching `predicate`; returns how many.
    @discardableResult
    public mutating func forget(where predicate: (ProfileEntry) throws -> Bool) rethrows -> Int {
        let doomed = try table.values.filter(predicate).map(\.key)
        for k in doomed { table[k] = nil }
        return doomed.count
    }

    /// Removes every entry; returns how many there were.
    @discardableResult
    public mutating func forgetAll() -> Int {
        defer { table.removeAll() }
        return table.count
    }

    // MARK: Encoding

    private struct FileImage: Codable {
        var header: ProfileHeader
        var entries: [ProfileEntry]
    }

    /// The profile as pretty-printed JSON, entries sorted.
    public func exportData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(FileImage(header: header, entries: entries))
    }

    /// The profile as JSON text (see `exportData()`).
    public func exportString() throws -> String { String(decoding: try exportData(), as: UTF8.self) }

    /// Parses and validates profile JSON. Does not check the header against this machine.
    ///
    /// - Parameter source: the file name used in error messages.
    /// - Throws: `ProfileError` naming `source` and the problem: too large, too
    ///   deeply nested, not JSON, a missing field or wrong type (with its path),
    ///   an unknown algorithm or layout, a size out of range, a time that is not
    ///   a finite positive number, a duplicate key.
    public init(data: Data, source: String = "<data>") throws(ProfileError) {
        func fail(_ problem: String) -> ProfileError { ProfileError(file: source, problem: problem) }
        guard data.count <= Self.maxFileBytes else {
            throw fail("the file is \(data.count) bytes, more than the \(Self.maxFileBytes >> 20) MiB a profile may have")
        }
        guard !data.isEmpty else { throw fail("the file is empty") }
        if let depthProblem = Self.nestingProblem(data) { throw fail(depthProblem) }
        let image: FileImage
        do {
            image = try JSONDecoder().decode(FileImage.self, from: data)
        } catch let error as DecodingError {
            throw fail(Self.describe(error))
        } catch {
            throw fail("not a valid profile: \(error)")
        }
        guard image.header.schemaVersion == Self.schemaVersion else {
            throw fail("schema version \(image.header.schemaVersion) is not the supported version \(Self.schemaVersion)")
        }
        guard image.header.logicalCores >= 0, image.header.logicalCores <= 1 << 20,
              [image.header.l1dBytes, image.header.l2Bytes, image.header.l3Bytes].allSatisfy({ $0 >= 0 && $0 <= 1 << 40 })
        else { throw fail("header: a core count or cache size is negative or absurdly large") }
        var table: [ProfileKey: ProfileEntry] = [:]
        var firstIndex: [ProfileKey: Int] = [:]
        for (i, entry) in image.entries.enumerated() {
            if let problem = Self.problem(in: entry) { throw fail("entry \(i): \(problem)") }
            if let j = firstIndex[entry.key] { throw fail("entry \(i) has the same key as entry \(j) (\(entry.key))") }
            firstIndex[entry.key] = i
            table[entry.key] = entry
        }
        header = image.header
        self.table = table
    }

    /// Parses profile JSON text (see `init(data:source:)`).
    public init(importing text: String, source: String = "<string>") throws(ProfileError) {
        try self.init(data: Data(text.utf8), source: source)
    }

    /// Reads and validates a profile file (at most `maxFileBytes` are read).
    ///
    /// - Throws: `ProfileError` naming the file: unreadable, or any problem of `init(data:source:)`.
    public static func load(path: String) throws(ProfileError) -> Profile {
        let data = try readFile(path, limit: maxFileBytes)
        return try Profile(data: data, source: path)
    }

    /// Writes the profile atomically: a temporary file in the same directory,
    /// flushed, then renamed over `path` (so a crash or a concurrent reader never
    /// sees a partial file). Creates the directory if needed.
    ///
    /// - Throws: `ProfileError` naming the file.
    public func save(to path: String) throws(ProfileError) {
        let data: Data
        do { data = try exportData() } catch { throw ProfileError(file: path, problem: "cannot encode: \(error)") }
        try writeFileAtomically(path, data)
    }

    /// Atomically updates the file at `path`: under an exclusive lock (a
    /// `<path>.lock` file, so concurrent processes and threads take turns),
    /// reads the current profile (a missing, invalid or other-machine file
    /// counts as empty), applies `body`, and saves. Returns the saved profile.
    ///
    /// - Throws: `ProfileError` if the lock or the write fails, or what `body` throws.
    @discardableResult
    public static func update(path: String, header: ProfileHeader = .current,
                              _ body: (inout Profile) throws -> Void) throws -> Profile {
        try withFileLock(path) { () throws -> Profile in
            var profile = Profile(header: header)
            if let existing = try? Profile.load(path: path), existing.header.mismatches(against: header).isEmpty {
                profile = existing
            }
            try body(&profile)
            try profile.save(to: path)
            return profile
        }
    }

    /// The default profile path: `$CONVKIT_PROFILE`, else
    /// `$XDG_CACHE_HOME/convkit/profile.json`, else `$HOME/.cache/convkit/profile.json`
    /// (nil when none of these variables is set).
    public static func defaultPath(environment: [String: String]? = nil) -> String? {
        func env(_ name: String) -> String? {
            if let environment { return environment[name].flatMap { $0.isEmpty ? nil : $0 } }
            return environmentValue(name)
        }
        if let explicit = env("CONVKIT_PROFILE") { return explicit }
        if let xdg = env("XDG_CACHE_HOME") { return xdg + "/convkit/profile.json" }
        if let home = env("HOME") { return home + "/.cache/convkit/profile.json" }
        return nil
    }

    // MARK: Validation

    /// Finds JSON nesting deeper than `maxNesting` without parsing (strings are skipped).
    static func nestingProblem(_ data: Data) -> String? {
        var depth = 0, inString = false, escaped = false
        for byte in data {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true }
                else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > maxNesting { return "JSON nested deeper than \(maxNesting) levels" }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return nil
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ c: [any CodingKey]) -> String {
            let p = c.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "top level" : String(p.drop { $0 == "." })
        }
        switch error {
        case .typeMismatch(let type, let ctx):
            return "\(path(ctx.codingPath)): expected \(type): \(ctx.debugDescription)"
        case .valueNotFound(let type, let ctx):
            return "\(path(ctx.codingPath)): missing \(type) value"
        case .keyNotFound(let key, let ctx):
            return "\(path(ctx.codingPath + [key])): missing field '\(key.stringValue)'"
        case .dataCorrupted(let ctx):
            var detail = ctx.debugDescription
            if let underlying = ctx.underlyingError { detail += " (\(underlying))" }
            return "\(path(ctx.codingPath)): \(detail)"
        @unknown default:
            return "\(error)"
        }
    }

    /// What is wrong with a decoded entry, or nil.
    static func problem(in e: ProfileEntry) -> String? {
        let k = e.key
        guard k.operation == "conv2d" else { return "unknown operation '\(k.operation)'" }
        let positive: [(String, Int)] = [("n", k.n), ("c", k.c), ("h", k.h), ("w", k.w), ("k", k.k), ("r", k.r),
                                         ("s", k.s), ("stride.height", k.stride.height),
                                         ("stride.width", k.stride.width), ("dilation.height", k.dilation.height),
                                         ("dilation.width", k.dilation.width), ("groups", k.groups),
                                         ("threads", k.threads)]
        for (name, v) in positive where v < 1 || v > 1 << 30 { return "key.\(name) = \(v) is out of range 1...2^30" }
        for (name, v) in [("top", k.padding.top), ("left", k.padding.left), ("bottom", k.padding.bottom),
                          ("right", k.padding.right)] where v < 0 || v > 1 << 30 {
            return "key.padding.\(name) = \(v) is out of range 0...2^30"
        }
        guard k.workspaceLimit >= 0, k.workspaceLimit <= 1 << 40 else {
            return "key.workspaceLimit = \(k.workspaceLimit) is out of range"
        }
        do { _ = try k.descriptor() } catch { return "key describes an invalid convolution: \(error)" }
        if let p = problem(in: e.winner, "winner") { return p }
        if let r = e.runnerUp, let p = problem(in: r, "runnerUp") { return p }
        if let est = e.estimate, let p = problem(in: est, "estimate") { return p }
        guard e.spread.isFinite, e.spread >= 0, e.spread <= 1e6 else { return "spread \(e.spread) is out of range" }
        guard e.mode == .measure || e.mode == .exhaustive else { return "mode '\(e.mode)' does not measure" }
        if let name = e.name, name.utf8.count > 1024 { return "name is longer than 1024 bytes" }
        return nil
    }

    static func problem(in t: PlannerTiming, _ what: String) -> String? {
        if let p = problem(in: t.candidate, what + ".candidate") { return p }
        for (name, v) in [("medianSeconds", t.medianSeconds), ("p10Seconds", t.p10Seconds),
                          ("p90Seconds", t.p90Seconds)] where !(v.isFinite && v >= 0 && v <= 3600) {
            return "\(what).\(name) = \(v) is not a time between 0 and 3600 seconds"
        }
        guard t.runs >= 1, t.runs <= 1 << 30 else { return "\(what).runs = \(t.runs) is out of range" }
        return nil
    }

    static func problem(in c: PlannerCandidate, _ what: String) -> String? {
        guard c.algorithm != .auto else { return "\(what).algorithm may not be 'auto'" }
        guard c.workspaceLimit >= 0, c.workspaceLimit <= 1 << 40 else {
            return "\(what).workspaceLimit = \(c.workspaceLimit) is out of range"
        }
        guard c.parameters.count <= 64 else { return "\(what).parameters has more than 64 entries" }
        for (name, v) in c.parameters where name.utf8.count > 64 || v < 0 || v > 1 << 30 {
            return "\(what).parameters['\(name.prefix(64))'] = \(v) is out of range"
        }
        return nil
    }
}

// MARK: - Files

/// Reads at most `limit` bytes of `path`; a longer file is an error.
func readFile(_ path: String, limit: Int) throws(ProfileError) -> Data {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw ProfileError(file: path, problem: "cannot open: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var data = Data()
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if got < 0 {
            if errno == EINTR { continue }
            throw ProfileError(file: path, problem: "cannot read: \(String(cString: strerror(errno)))")
        }
        if got == 0 { break }
        data.append(contentsOf: buffer[0..<got])
        if data.count > limit {
            throw ProfileError(file: path, problem: "the file is larger than the \(limit >> 20) MiB a profile may have")
        }
    }
    return data
}

/// Creates the parent directory of `path` if needed.
func createParentDirectory(_ path: String) throws(ProfileError) {
    guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
    let dir = String(path[..<slash])
    do {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    } catch {
        throw ProfileError(file: path, problem: "cannot create the directory '\(dir)': \(error)")
    }
}

/// Writes `data` to a temporary file next to `path`, flushes it, and renames it over `path`.
func writeFileAtomically(_ path: String, _ data: Data) throws(ProfileError) {
    try createParentDirectory(path)
    let temp = path + ".tmp.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
    func fail(_ what: String) -> ProfileError {
        ProfileError(file: path, problem: "\(what): \(String(cString: strerror(errno)))")
    }
    let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard fd >= 0 else { throw fail("cannot create the temporary file '\(temp)'") }
    var ok = data.withUnsafeBytes { raw -> Bool in
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 { if errno == EINTR { continue }; return false }
            offset += n
        }
        return true
    }
    if ok { ok = fsync(fd) == 0 }
    let writeError = fail("cannot write the temporary file '\(temp)'")
    close(fd)
    guard ok else {
        unlink(temp)
        throw writeError
    }
    guard rename(temp, path) == 0 else {
        let e = fail("cannot rename the temporary file into place")
        unlink(temp)
        throw e
    }
}

/// Runs `body` holding an exclusive `flock` on `<path>.lock`.
func withFileLock<R>(_ path: String, _ body: () throws -> R) throws -> R {
    try createParentDirectory(path)
    let lockPath = path + ".lock"
    let fd = open(lockPath, O_RDWR | O_CREAT, 0o644)
    guard fd >= 0 else {
        throw ProfileError(file: path, problem: "cannot open the lock file: \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    while flock(fd, LOCK_EX) != 0 {
        guard errno == EINTR else {
            throw ProfileError(file: path, problem: "cannot lock: \(String(cString: strerror(errno)))")
        }
    }
    defer { flock(fd, LOCK_UN) }
    return try body()
}
