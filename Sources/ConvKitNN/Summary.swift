import ConvKit

/// A network's per-layer table: output shapes, parameter counts and FLOPs.
public struct NetworkSummary: Sendable, CustomStringConvertible {
    /// One primitive layer.
    public struct Row: Sendable {
        /// The layer's dotted path.
        public var path: String
        /// The layer's kind, e.g. `Conv2D`.
        public var kind: String
        /// Its output shape.
        public var outputShape: TensorShape
        /// Its trainable parameters.
        public var trainableParameters: Int
        /// Its non-trainable parameters (running statistics).
        public var nonTrainableParameters: Int
        /// Its FLOPs (multiply-adds count 2).
        public var flops: Double
    }

    /// The network's name.
    public var name: String
    /// The input shape.
    public var inputShape: TensorShape
    /// The rows in execution order.
    public var rows: [Row]

    /// Total trainable parameters (weights, biases, batch-norm scale and shift).
    public var trainableParameters: Int { rows.reduce(0) { $0 + $1.trainableParameters } }
    /// Total non-trainable parameters (batch-norm running statistics).
    public var nonTrainableParameters: Int { rows.reduce(0) { $0 + $1.nonTrainableParameters } }
    /// Total FLOPs.
    public var flops: Double { rows.reduce(0) { $0 + $1.flops } }

    /// A readable table; the last line is `Total trainable parameters: <integer>`.
    public var description: String {
        func grouped(_ v: Int) -> String {
            let s = String(v)
            var out = ""
            for (i, ch) in s.reversed().enumerated() {
                if i > 0 && i % 3 == 0 { out.append(",") }
                out.append(ch)
            }
            return String(out.reversed())
        }
        func flopsText(_ f: Double) -> String {
            if f >= 1e9 { return String(format1(f / 1e9)) + "G" }
            if f >= 1e6 { return String(format1(f / 1e6)) + "M" }
            if f >= 1e3 { return String(format1(f / 1e3)) + "K" }
            return String(Int(f))
        }
        func shapeText(_ s: TensorShape) -> String { "\(s.c)x\(s.h)x\(s.w)" }
        let headers = ["Layer", "Kind", "Output (CxHxW)", "Params", "FLOPs"]
        var table = rows.map {
            [$0.path, $0.kind, shapeText($0.outputShape), grouped($0.trainableParameters), flopsText($0.flops)]
        }
        table.insert(["input", "Input", shapeText(inputShape), "0", "0"], at: 0)
        var widths = headers.map(\.count)
        for r in table { for i in r.indices { widths[i] = max(widths[i], r[i].count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                i >= 3 ? String(repeating: " ", count: widths[i] - c.count) + c
                    : c + String(repeating: " ", count: widths[i] - c.count)
            }.joined(separator: "  ")
        }
        let rule = String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))
        var out = ["Network: \(name)  input \(inputShape)", rule, line(headers), rule]
        out += table.map(line)
        out += [rule,
                "Layers: \(rows.count)   FLOPs: \(flopsText(flops))   Non-trainable parameters: \(grouped(nonTrainableParameters))",
                "Total trainable parameters: \(trainableParameters)"]
        return out.joined(separator: "\n")
    }
}

/// One decimal place, without Foundation's formatting.
private func format1(_ v: Double) -> String {
    let tenths = Int((v * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}

extension Network {
    /// The per-layer summary for an input of `shape` (default: `inputShape`).
    public func summary(for shape: TensorShape? = nil) throws -> NetworkSummary {
        let g = try lowered(for: shape)
        let rows = g.nodes.map { n in
            NetworkSummary.Row(
                path: n.path, kind: n.layer.kind, outputShape: g.shapes[n.output],
                trainableParameters: n.layer.parameters.filter(\.isTrainable).reduce(0) { $0 + $1.count },
                nonTrainableParameters: n.layer.parameters.filter { !$0.isTrainable }.reduce(0) { $0 + $1.count },
                flops: n.layer.flops(for: n.inputs.map { g.shapes[$0] }))
        }
        return NetworkSummary(name: name, inputShape: shape ?? inputShape, rows: rows)
    }
}
