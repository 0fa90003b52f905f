import ConvKit
import Foundation

/// A float32 array read from or written to a NumPy `.npy` file: a shape
/// (outermost first) and its values in C (row-major) order.
public struct NpyArray: Equatable, Sendable {
    /// The shape, outermost dimension first (empty for a 0-d scalar).
    public var shape: [Int]
    /// The values in C order; `values.count` is the product of `shape`.
    public var values: [Float]

    /// Creates an array, checking that `values` fills `shape`.
    ///
    /// - Throws: `ConvKitError` `.invalidShape` for a negative dimension or a count mismatch.
    public init(shape: [Int], values: [Float]) throws {
        guard let count = Npy.elementCount(shape) else {
            throw ConvKitError(code: .invalidShape, message: "npy: invalid shape \(shape)")
        }
        guard count == values.count else {
            throw ConvKitError(code: .invalidShape,
                               message: "npy: shape \(shape) holds \(count) values, got \(values.count)")
        }
        self.shape = shape
        self.values = values
    }

    /// The array as an NCHW tensor: rank 4 as is, rank 2 `[N, F]` as `N x F x 1 x 1`,
    /// rank 3 `[C, H, W]` as `1 x C x H x W`, rank 1 `[F]` as `1 x F x 1 x 1`.
    ///
    /// - Throws: `ConvKitError` `.invalidShape` for other ranks.
    public func tensor() throws -> Tensor {
        let s: TensorShape
        switch shape.count {
        case 4: s = TensorShape(n: shape[0], c: shape[1], h: shape[2], w: shape[3])
        case 3: s = TensorShape(n: 1, c: shape[0], h: shape[1], w: shape[2])
        case 2: s = TensorShape(n: shape[0], c: shape[1], h: 1, w: 1)
        case 1: s = TensorShape(n: 1, c: shape[0], h: 1, w: 1)
        default:
            throw ConvKitError(code: .invalidShape, message: "npy: an array of shape \(shape) is not an image batch")
        }
        return try Tensor(shape: s, values: values)
    }
}

/// NumPy `.npy` reading and writing (format versions 1.0, 2.0 and 3.0) for
/// little-endian float32 arrays in C order.
///
/// The reader bounds everything before allocating: the header length
/// (`maximumHeaderBytes`), the number of dimensions, every dimension and their
/// product (which must match the data actually present, exactly). Other dtypes,
/// Fortran order, big-endian data, truncated files or trailing bytes are
/// `ConvKitError` `.invalidArgument` errors that say what was found.
///
/// ```swift
/// let x = try Npy.read(contentsOf: URL(fileURLWithPath: "input.npy"))   // [1, 3, 224, 224]
/// try Npy.write(NpyArray(shape: [1, 10], values: logits), to: URL(fileURLWithPath: "out.npy"))
/// ```
public enum Npy {
    /// The largest header accepted (NumPy itself writes a few hundred bytes).
    public static let maximumHeaderBytes = 1 << 16
    /// The most dimensions accepted (NumPy's own limit is 64).
    public static let maximumRank = 32
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY

    /// The product of `shape`, or nil if a dimension is negative or the product overflows 2^40.
    static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, p <= 1 << 40 else { return nil }
            count = p
        }
        return count
    }

    static func fail(_ message: String) -> ConvKitError {
        ConvKitError(code: .invalidArgument, message: "npy: " + message)
    }

    /// Decodes the bytes of a `.npy` file.
    ///
    /// - Throws: `ConvKitError` `.invalidArgument` for anything but a well-formed
    ///   little-endian float32 C-order array (the message says what is wrong).
    public static func decode(_ bytes: [UInt8]) throws -> NpyArray {
        guard bytes.count >= 10 else { throw fail("file too short (\(bytes.count) bytes) for a .npy header") }
        guard Array(bytes[0..<6]) == magic else { throw fail("not a .npy file (bad magic)") }
        let major = bytes[6], minor = bytes[7]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("file too short for a version \(major).0 header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail("unsupported format version \(major).\(minor) (1.0, 2.0 and 3.0 are)")
        }
        guard minor == 0 else { throw fail("unsupported format version \(major).\(minor) (1.0, 2.0 and 3.0 are)") }
        guard headerLength <= maximumHeaderBytes else {
            throw fail("header length \(headerLength) exceeds the limit of \(maximumHeaderBytes) bytes")
        }
        guard bytes.count - headerStart >= headerLength else {
            throw fail("truncated header: \(headerLength) bytes declared, \(bytes.count - headerStart) present")
        }
        let headerBytes = bytes[headerStart..<(headerStart + headerLength)]
        // Versions 1 and 2 are latin-1 (ASCII in practice), version 3 is UTF-8.
        guard let header = String(bytes: headerBytes, encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw fail("header is not valid text")
        }
        let dict = try parseHeader(header)
        guard let descr = dict.descr else { throw fail("header has no 'descr'") }
        guard let fortran = dict.fortranOrder else { throw fail("header has no 'fortran_order'") }
        guard let shape = dict.shape else { throw fail("header has no 'shape'") }
        switch descr {
        case "<f4": break
        case ">f4": throw fail("big-endian float32 ('>f4') is not supported; write little-endian ('<f4')")
        default:
            throw fail("dtype '\(descr)' is not supported; only little-endian float32 ('<f4') is "
                       + "(convert with array.astype(numpy.float32))")
        }
        guard !fortran else {
            throw fail("Fortran-order arrays are not supported; save a C-order array (numpy.ascontiguousarray)")
        }
        guard shape.count <= maximumRank else { throw fail("\(shape.count) dimensions exceed the limit of \(maximumRank)") }
        guard let count = elementCount(shape) else { throw fail("shape \(shape) is invalid or too large") }
        let dataStart = headerStart + headerLength
        let available = bytes.count - dataStart
        let needed = count.multipliedReportingOverflow(by: 4)
        guard !needed.overflow else { throw fail("shape \(shape) is too large") }
        guard available >= needed.partialValue else {
            throw fail("truncated data: shape \(shape) needs \(needed.partialValue) bytes, \(available) present")
        }
        guard available == needed.partialValue else {
            throw fail("\(available - needed.partialValue) unexpected bytes after the data of shape \(shape)")
        }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[dataStart..<(dataStart + needed.partialValue)]))
            }
        }
        #if _endian(big)
        values = values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
        #endif
        return try NpyArray(shape: shape, values: values)
    }

    /// Encodes a float32 array as a `.npy` file (version 1.0, or 2.0 if the header needs it).
    public static func encode(_ array: NpyArray) -> [UInt8] {
        let dims = array.shape.map(String.init)
        let shapeText = dims.count == 1 ? "(\(dims[0]),)" : "(" + dims.joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        let v1 = 10 + header.utf8.count + 1 <= 65535 + 10
        let prefix = v1 ? 10 : 12
        let total = (prefix + header.utf8.count + 1 + 63) / 64 * 64
        header += String(repeating: " ", count: total - prefix - header.utf8.count - 1) + "\n"
        var out = magic + [v1 ? 1 : 2, 0]
        let n = header.utf8.count
        out += v1 ? [UInt8(n & 0xFF), UInt8(n >> 8)]
                  : [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24 & 0xFF)]
        out += Array(header.utf8)
        out.reserveCapacity(out.count + array.values.count * 4)
        for v in array.values {
            let b = v.bitPattern.littleEndian
            out += [UInt8(b & 0xFF), UInt8(b >> 8 & 0xFF), UInt8(b >> 16 & 0xFF), UInt8(b >> 24)]
        }
        return out
    }

    /// Reads a `.npy` file.
    ///
    /// - Throws: `ConvKitError` `.invalidArgument` naming the file if it cannot be read or decoded.
    public static func read(contentsOf url: URL) throws -> NpyArray {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw fail("cannot read \(url.path): \(error.localizedDescription)")
        }
        do { return try decode([UInt8](data)) } catch let e as ConvKitError {
            throw ConvKitError(code: e.code, message: "\(url.lastPathComponent): \(e.message)")
        }
    }

    /// Writes a `.npy` file (atomically).
    public static func write(_ array: NpyArray, to url: URL) throws {
        do { try Data(encode(array)).write(to: url, options: .atomic) } catch {
            throw fail("cannot write \(url.path): \(error.localizedDescription)")
        }
    }

    // MARK: - Header parsing

    struct Header {
        var descr: String?
        var fortranOrder: Bool?
        var shape: [Int]?
    }

    /// Parses the Python dict literal of a header (`{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`).
    static func parseHeader(_ text: String) throws -> Header {
        var chars = Array(text.unicodeScalars)
        while let last = chars.last, last == "\n" || last == " " || last == "\0" { chars.removeLast() }
        var i = 0
        func skipSpace() { while i < chars.count, chars[i] == " " || chars[i] == "\t" || chars[i] == "\n" { i += 1 } }
        func expect(_ c: Unicode.Scalar) throws {
            skipSpace()
            guard i < chars.count, chars[i] == c else { throw fail("malformed header (expected '\(c)' at \(i)): \(text.prefix(120))") }
            i += 1
        }
        func string() throws -> String {
            skipSpace()
            guard i < chars.count, chars[i] == "'" || chars[i] == "\"" else { throw fail("malformed header (expected a string at \(i))") }
            let q = chars[i]
            i += 1
            var s = String.UnicodeScalarView()
            while i < chars.count, chars[i] != q { s.append(chars[i]); i += 1 }
            guard i < chars.count else { throw fail("malformed header (unterminated string)") }
            i += 1
            return String(s)
        }
        func word() -> String {
            skipSpace()
            var s = String.UnicodeScalarView()
            while i < chars.count, chars[i].properties.isAlphabetic || ("0"..."9").contains(chars[i]) || chars[i] == "-" {
                s.append(chars[i]); i += 1
            }
            return String(s)
        }
        var h = Header()
        try expect("{")
        while true {
            skipSpace()
            if i < chars.count, chars[i] == "}" { i += 1; break }
            let key = try string()
            try expect(":")
            switch key {
            case "descr": h.descr = try string()
            case "fortran_order":
                switch word() {
                case "True": h.fortranOrder = true
                case "False": h.fortranOrder = false
                case let w: throw fail("malformed header: fortran_order is '\(w)'")
                }
            case "shape":
                try expect("(")
                var dims: [Int] = []
                while true {
                    skipSpace()
                    if i < chars.count, chars[i] == ")" { i += 1; break }
                    let w = word()
                    guard w.count <= 18, let d = Int(w), d >= 0 else { throw fail("malformed header: dimension '\(w)'") }
                    dims.append(d)
                    guard dims.count <= maximumRank else { throw fail("more than \(maximumRank) dimensions") }
                    skipSpace()
                    if i < chars.count, chars[i] == "," { i += 1 }
                }
                h.shape = dims
            default: throw fail("malformed header: unexpected key '\(key)'")
            }
            skipSpace()
            if i < chars.count, chars[i] == "," { i += 1 }
        }
        skipSpace()
        guard i == chars.count else { throw fail("malformed header: text after the dictionary") }
        return h
    }
}
