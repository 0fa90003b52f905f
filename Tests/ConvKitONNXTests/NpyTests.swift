import ConvKit
import ConvKitNN
import Foundation
import Testing
@testable import ConvKitONNX

/// Builds a `.npy` file by hand: version, header text, raw data.
func npyBytes(major: UInt8 = 1, header: String, data: [UInt8], declaredLength: Int? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    let n = declaredLength ?? h.count
    var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, major, 0]
    if major == 1 {
        out += [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF)]
    } else {
        out += [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24 & 0xFF)]
    }
    return out + h + data
}

func floatBytes(_ v: [Float]) -> [UInt8] {
    v.flatMap { f -> [UInt8] in let b = f.bitPattern; return [UInt8(b & 0xFF), UInt8(b >> 8 & 0xFF), UInt8(b >> 16 & 0xFF), UInt8(b >> 24)] }
}

func npyError(_ bytes: [UInt8]) -> String? {
    do { _ = try Npy.decode(bytes); return nil } catch let e as ConvKitError { return e.message } catch { return "\(error)" }
}

@Suite struct NpyTests {
    @Test func roundTrip() throws {
        for shape in [[], [3], [2, 3], [1, 3, 4, 5], [2, 0, 3]] {
            let count = shape.reduce(1, *)
            let a = try NpyArray(shape: shape, values: (0..<count).map { Float($0) * 0.5 - 1 })
            let bytes = Npy.encode(a)
            #expect((bytes.count - a.values.count * 4) % 64 == 0, "header padded to 64 bytes")
            #expect(try Npy.decode(bytes) == a)
        }
    }

    @Test func versions2And3() throws {
        let data = floatBytes([1, 2, 3, 4, 5, 6])
        for major: UInt8 in [2, 3] {
            let a = try Npy.decode(npyBytes(major: major, header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n",
                                            data: data))
            #expect(a.shape == [2, 3] && a.values == [1, 2, 3, 4, 5, 6])
        }
        // Double quotes, no trailing comma, 1-tuple.
        let b = try Npy.decode(npyBytes(header: "{\"shape\": (6,), \"fortran_order\": False, \"descr\": \"<f4\"}", data: data))
        #expect(b.shape == [6])
    }

    @Test func readsFilesWrittenByNumPy() throws {
        let a = try Npy.read(contentsOf: fixturesDirectory().appendingPathComponent("net_lenet5.in.npy"))
        #expect(a.shape == [1, 1, 32, 32] && a.values.count == 1024)
    }

    @Test(arguments: [
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", "dtype '<f8'"),
        ("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", "dtype '<i4'"),
        ("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", "big-endian"),
        ("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", "Fortran"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", "truncated data"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "unexpected bytes"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", "too large"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", "dimension"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", "dimension"),
        ("{'descr': '<f4', 'fortran_order': False}", "no 'shape'"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", "unexpected key"),
        ("not a dict", "malformed"),
    ])
    func rejectsClearly(_ header: String, _ fragment: String) {
        let msg = npyError(npyBytes(header: header, data: floatBytes([1, 2])))
        #expect(msg?.contains(fragment) == true, "\(header): \(msg ?? "accepted")")
    }

    @Test func rejectsBadFraming() {
        #expect(npyError([])?.contains("too short") == true)
        #expect(npyError(Array("hello world, not npy".utf8))?.contains("bad magic") == true)
        let good = npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data: floatBytes([1, 2]))
        var v4 = good
        v4[6] = 4
        #expect(npyError(v4)?.contains("version 4.0") == true)
        // Absurd header length (version 2: 4 GiB - 1) is refused before reading it.
        let huge = npyBytes(major: 2, header: "{}", data: [], declaredLength: 0x7FFF_FFFF)
        #expect(npyError(huge)?.contains("exceeds the limit") == true)
        let long = npyBytes(major: 1, header: "{}", data: [], declaredLength: 60000)
        #expect(npyError(long)?.contains("truncated header") == true)
        // Truncated at every offset: always an error, never a crash.
        for n in 0..<good.count { #expect(npyError(Array(good.prefix(n))) != nil) }
    }

    @Test func tensorConversion() throws {
        #expect(try NpyArray(shape: [2, 5], values: .init(repeating: 0, count: 10)).tensor().shape == TensorShape(n: 2, c: 5, h: 1, w: 1))
        #expect(try NpyArray(shape: [3, 4, 5], values: .init(repeating: 0, count: 60)).tensor().shape == TensorShape(n: 1, c: 3, h: 4, w: 5))
        #expect(throws: ConvKitError.self) { try NpyArray(shape: [1, 1, 1, 1, 1], values: [0]).tensor() }
        #expect(throws: ConvKitError.self) { try NpyArray(shape: [2, 2], values: [0]) }
    }
}

/// Hostile models built with the generated messages: refused before any large allocation.
@Suite struct HostileModelTests {
    func model(opset: Int64 = 13, inputDims: [Int64] = [1, 3, 8, 8], nodes: [Onnx_NodeProto],
               initializers: [Onnx_TensorProto] = [], output: String = "y") -> Data {
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var op = Onnx_OperatorSetIdProto()
        op.version = opset
        m.opsetImport = [op]
        var g = Onnx_GraphProto()
        g.name = "hostile"
        var input = Onnx_ValueInfoProto()
        input.name = "x"
        var tt = Onnx_TypeProto.Tensor()
        tt.elemType = 1
        tt.shape.dim = inputDims.map { var d = Onnx_TensorShapeProto.Dimension(); d.dimValue = $0; return d }
        input.type.tensorType = tt
        g.input = [input]
        var out = Onnx_ValueInfoProto()
        out.name = output
        g.output = [out]
        g.node = nodes
        g.initializer = initializers
        m.graph = g
        return try! m.serializedData()
    }

    func node(_ op: String, _ inputs: [String], _ outputs: [String] = ["y"], ints: [String: [Int64]] = [:],
              int: [String: Int64] = [:]) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = "n_" + op.lowercased()
        n.input = inputs
        n.output = outputs
        for (k, v) in ints { var a = Onnx_AttributeProto(); a.name = k; a.type = .ints; a.ints = v; n.attribute.append(a) }
        for (k, v) in int { var a = Onnx_AttributeProto(); a.name = k; a.type = .int; a.i = v; n.attribute.append(a) }
        return n
    }

    func error(_ data: Data) -> ConvKitError? {
        do { _ = try ONNXModel(data: data); return nil } catch let e as ConvKitError { return e } catch { return nil }
    }

    @Test func hugeInitializerWithoutData() {
        var w = Onnx_TensorProto()
        w.name = "w"
        w.dataType = 1
        w.dims = [1 << 20, 1 << 20, 3, 3]
        w.rawData = Data([0, 0, 0, 0])
        let e = error(model(nodes: [node("Conv", ["x", "w"])], initializers: [w]))
        #expect(e?.message.contains("too large") == true || e?.message.contains("raw_data") == true, "\(String(describing: e))")
    }

    @Test func mismatchedRawData() {
        var w = Onnx_TensorProto()
        w.name = "w"
        w.dataType = 1
        w.dims = [4, 3, 3, 3]
        w.rawData = Data(repeating: 0, count: 12)
        #expect(error(model(nodes: [node("Conv", ["x", "w"])], initializers: [w]))?.message.contains("raw_data has 12 bytes") == true)
    }

    @Test func absurdInputAndAttributes() {
        #expect(error(model(inputDims: [1, 3, 1 << 40, 8], nodes: [node("Relu", ["x"])]))?.message.contains("dimension 2") == true)
        #expect(error(model(inputDims: [1 << 16, 1 << 10, 1 << 10, 1 << 10], nodes: [node("Relu", ["x"])]))?.message
            .contains("too large") == true)
        let pads = node("MaxPool", ["x"], ints: ["kernel_shape": [2, 2], "pads": [1 << 40, 0, 0, 0]])
        #expect(error(model(nodes: [pads]))?.code == .unsupported)
        let big = node("MaxPool", ["x"], ints: ["kernel_shape": [2, 2], "pads": [60000, 60000, 60000, 60000]])
        #expect(error(model(nodes: [big])) != nil)  // output would exceed the activation cap or ConvKit's checks
        var same = node("MaxPool", ["x"], ints: ["kernel_shape": [3, 3], "dilations": [2, 2]])
        var ap = Onnx_AttributeProto()
        ap.name = "auto_pad"
        ap.type = .string
        ap.s = Data("SAME_UPPER".utf8)
        same.attribute.append(ap)
        let e = error(model(nodes: [same]))
        #expect(e?.code == .unsupported && e?.message.contains("attribute 'auto_pad'") == true, "\(String(describing: e))")
    }

    @Test func wiringErrors() {
        // Undefined input, unknown attribute, two graph inputs' worth of trouble.
        #expect(error(model(nodes: [node("Relu", ["nope"])]))?.message.contains("not defined") == true)
        let odd = node("Relu", ["x"], int: ["frobnicate": 1])
        let e = error(model(nodes: [odd]))
        #expect(e?.code == .unsupported && e?.message.contains("attribute 'frobnicate'") == true)
        #expect(error(model(nodes: [node("Relu", ["x"], ["z"])]))?.message.contains("graph output 'y'") == true)
        var custom = node("Relu", ["x"])
        custom.domain = "com.microsoft"
        #expect(error(model(nodes: [custom]))?.message.contains("domain 'com.microsoft'") == true)
        #expect(error(model(opset: 6, nodes: [node("Relu", ["x"])]))?.message.contains("opset 6") == true)
        let mp = node("MaxPool", ["x"], ["y", "idx"], ints: ["kernel_shape": [2, 2]])
        let relu = node("Relu", ["idx"], ["y2"])
        #expect(error(model(nodes: [mp, relu], output: "y2"))?.message.contains("argmax indices") == true)
    }
}
