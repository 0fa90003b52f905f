import ConvKit
import Foundation

/// Reading and writing a network's parameters in the safetensors format: an
/// 8-byte little-endian header length, a JSON header mapping each tensor name to
/// `{"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}`, then the raw
/// little-endian data. Names are the parameter paths (`layer1.0.conv1.weight`).
public enum SafeTensors {
    /// The largest header accepted (checked before allocating).
    public static let maximumHeaderBytes = 100 << 20

    /// Encodes named float tensors (in the given order).
    public static func encode(_ tensors: [(name: String, shape: [Int], values: [Float])]) throws -> [UInt8] {
        var header: [String] = []
        var offset = 0
        for t in tensors {
            let bytes = t.values.count * 4
            let name = String(data: try JSONEncoder().encode(t.name), encoding: .utf8)!
            header.append("\(name):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],"
                          + "\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        var json = Array("{\(header.joined(separator: ","))}".utf8)
        while json.count % 8 != 0 { json.append(0x20) }  // pad so the data is 8-byte aligned
        var out = [UInt8]()
        out.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        for t in tensors {
            for v in t.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        }
        return out
    }

    /// Decodes every tensor of a safetensors file (F32 only).
    ///
    /// - Throws: `ConvKitError` `.invalidArgument` with a precise reason for a
    ///   truncated or corrupt file, an unsupported dtype, or inconsistent offsets.
    public static func decode(_ bytes: [UInt8]) throws -> [String: (shape: [Int], values: [Float])] {
        func fail(_ m: String) -> ConvKitError { ConvKitError(code: .invalidArgument, message: "safetensors: " + m) }
        guard bytes.count >= 8 else { throw fail("file of \(bytes.count) bytes is shorter than the 8-byte header length") }
        var length: UInt64 = 0
        for i in (0..<8).reversed() { length = length << 8 | UInt64(bytes[i]) }
        guard length <= UInt64(maximumHeaderBytes) else {
            throw fail("header length \(length) exceeds the limit of \(maximumHeaderBytes) bytes")
        }
        guard Int(length) <= bytes.count - 8 else {
            throw fail("header length \(length) runs past the end of the file (\(bytes.count) bytes): truncated?")
        }
        let headerEnd = 8 + Int(length)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd]))
        } catch {
            throw fail("the header is not valid JSON")
        }
        guard let entries = object as? [String: Any] else { throw fail("the header is not a JSON object") }
        let dataCount = bytes.count - headerEnd
        var out: [String: (shape: [Int], values: [Float])] = [:]
        var ranges: [(begin: Int, end: Int, name: String)] = []
        for (name, raw) in entries where name != "__metadata__" {
            guard let e = raw as? [String: Any] else { throw fail("entry '\(name)' is not an object") }
            guard let dtype = e["dtype"] as? String else { throw fail("entry '\(name)' has no dtype") }
            guard dtype == "F32" else { throw fail("tensor '\(name)' has dtype \(dtype); only F32 is supported") }
            guard let shapeAny = e["shape"] as? [Any], let offsetsAny = e["data_offsets"] as? [Any],
                  offsetsAny.count == 2 else {
                throw fail("entry '\(name)' lacks a shape or a pair of data_offsets")
            }
            let shape = try shapeAny.map { v -> Int in
                guard let n = (v as? NSNumber)?.intValue, n >= 0, n <= 1 << 40 else {
                    throw fail("tensor '\(name)' has an invalid dimension \(v)")
                }
                return n
            }
            let offsets = try offsetsAny.map { v -> Int in
                guard let n = (v as? NSNumber)?.intValue, n >= 0 else { throw fail("tensor '\(name)' has a bad offset \(v)") }
                return n
            }
            var elements = 1
            for d in shape {
                let (r, o) = elements.multipliedReportingOverflow(by: d)
                guard !o, r <= 1 << 40 else { throw fail("tensor '\(name)' shape \(shape) is too large") }
                elements = r
            }
            guard offsets[0] <= offsets[1], offsets[1] <= dataCount else {
                throw fail("tensor '\(name)' data_offsets \(offsets) fall outside the \(dataCount) data bytes: truncated?")
            }
            guard offsets[1] - offsets[0] == elements * 4 else {
                throw fail("tensor '\(name)' has \(offsets[1] - offsets[0]) data bytes, shape \(shape) needs \(elements * 4)")
            }
            ranges.append((offsets[0], offsets[1], name))
            var values = [Float](repeating: 0, count: elements)
            let base = headerEnd + offsets[0]
            for i in 0..<elements {
                let j = base + i * 4
                let bits = UInt32(bytes[j]) | UInt32(bytes[j + 1]) << 8 | UInt32(bytes[j + 2]) << 16
                    | UInt32(bytes[j + 3]) << 24
                values[i] = Float(bitPattern: bits)
            }
            out[name] = (shape, values)
        }
        // The format requires the tensors to tile the data exactly (no holes, no
        // overlaps, nothing after the last): a byte inserted into or dropped from
        // the data would otherwise shift values silently.
        var covered = 0
        for r in ranges.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            guard r.begin == covered else {
                throw fail(r.begin < covered
                    ? "tensor '\(r.name)' data_offsets [\(r.begin), \(r.end)] overlap another tensor's"
                    : "the data has a hole of \(r.begin - covered) bytes before tensor '\(r.name)'")
            }
            covered = r.end
        }
        guard covered == dataCount else {
            throw fail("the data has \(dataCount - covered) bytes after the last tensor (\(dataCount) data bytes, "
                       + "\(covered) used): corrupt or not a safetensors file")
        }
        return out
    }
}

extension Network {
    /// The parameters as a safetensors file (names = parameter paths, running statistics included).
    public func safetensorsData() throws -> [UInt8] {
        try SafeTensors.encode(namedParameters().map { ($0.name, $0.parameter.shape, $0.parameter.values) })
    }

    /// Writes the parameters to a safetensors file.
    public func saveWeights(to url: URL) throws {
        try Data(safetensorsData()).write(to: url)
    }

    /// Loads parameters from safetensors bytes. Every parameter must be present
    /// with its shape; nothing is changed unless everything matches.
    ///
    /// - Throws: `ConvKitError` `.invalidArgument` listing every missing, unexpected
    ///   or mis-shaped tensor, or the file's corruption.
    public func loadWeights(from bytes: [UInt8]) throws {
        let file = try SafeTensors.decode(bytes)
        let params = try namedParameters()
        var problems: [String] = []
        for (name, p) in params {
            guard let t = file[name] else { problems.append("missing '\(name)' \(p.shape)"); continue }
            if t.shape != p.shape { problems.append("'\(name)' has shape \(t.shape), the network needs \(p.shape)") }
        }
        let known = Set(params.map(\.name))
        for name in file.keys.sorted() where !known.contains(name) { problems.append("unexpected '\(name)'") }
        guard problems.isEmpty else {
            throw ConvKitError(code: .invalidArgument,
                               message: "weights do not match network '\(self.name)': " + problems.joined(separator: "; "))
        }
        for (name, p) in params { try p.setValues(file[name]!.values) }
    }

    /// Loads parameters from a safetensors file (see `loadWeights(from:)`).
    public func loadWeights(from url: URL) throws {
        try loadWeights(from: [UInt8](Data(contentsOf: url)))
    }
}
