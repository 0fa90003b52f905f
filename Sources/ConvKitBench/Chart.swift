/// A hand-written SVG bar chart of a report: GFLOPS per layer per algorithm
/// (grouped bars), one panel per thread count with a dashed line at that
/// thread count's measured FMA peak, a legend and axis labels.
///
/// Every bar is exactly one `<rect>` (legend swatches and frames are paths), so
/// the number of `<rect>` elements equals the number of results drawn.
public enum BarChart {
    /// Colours of the algorithm series, in order of first appearance.
    static let palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"]

    /// The SVG document for `report`.
    public static func svg(_ report: BenchReport) -> String {
        let results = report.results
        let threadCounts = orderedUnique(results.map(\.threads))
        let series = orderedUnique(results.map(\.algorithm))
        let layers = orderedUnique(results.map(\.layer))

        let barWidth = 10.0, groupGap = 14.0
        let left = 70.0, right = 30.0, top = 50.0, panelHeight = 260.0, labelSpace = 130.0
        let groupWidth = Double(max(series.count, 1)) * barWidth + groupGap
        let plotWidth = max(Double(max(layers.count, 1)) * groupWidth, 300)
        let width = left + plotWidth + right
        let legendHeight = 30.0
        let panelTotal = panelHeight + labelSpace
        let height = top + Double(max(threadCounts.count, 1)) * panelTotal + legendHeight

        var out: [String] = []
        out.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" "
            + "viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" font-family=\"sans-serif\" font-size=\"11\">")
        let m = report.header.machine
        let title = "ConvKit \(m.version) — GFLOPS per layer and algorithm — \(m.cpuModel) (\(m.dispatchedISA))"
        out.append("<text x=\"\(fmt(width / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">\(escape(title))</text>")

        // Legend.
        var lx = left
        for (i, name) in series.enumerated() {
            let colour = palette[i % palette.count]
            out.append("<path d=\"M\(fmt(lx)) 30h10v10h-10z\" fill=\"\(colour)\"/>")
            out.append("<text x=\"\(fmt(lx + 14))\" y=\"39\">\(escape(name))</text>")
            lx += 24 + Double(name.count) * 7
        }
        out.append("<path d=\"M\(fmt(lx)) 35h18\" stroke=\"#d62728\" stroke-dasharray=\"4 3\" stroke-width=\"2\"/>")
        out.append("<text x=\"\(fmt(lx + 22))\" y=\"39\">measured FMA peak</text>")

        for (panel, threads) in threadCounts.enumerated() {
            let y0 = top + legendHeight + Double(panel) * panelTotal
            let rows = results.filter { $0.threads == threads }
            let peak = report.header.peak(threads: threads) ?? 0
            let maxValue = max(rows.map(\.gflops).filter(\.isFinite).max() ?? 0, peak, 1e-9) * 1.1
            let scaleY = panelHeight / maxValue
            let baseY = y0 + panelHeight

            // Axes, ticks and labels.
            out.append("<path d=\"M\(fmt(left)) \(fmt(y0))V\(fmt(baseY))H\(fmt(left + plotWidth))\" stroke=\"#333\" fill=\"none\"/>")
            for tick in niceTicks(maxValue) {
                let ty = baseY - tick * scaleY
                out.append("<path d=\"M\(fmt(left - 4)) \(fmt(ty))h4\" stroke=\"#333\"/>")
                out.append("<path d=\"M\(fmt(left)) \(fmt(ty))H\(fmt(left + plotWidth))\" stroke=\"#ddd\"/>")
                out.append("<text x=\"\(fmt(left - 6))\" y=\"\(fmt(ty + 4))\" text-anchor=\"end\">\(fmtTick(tick))</text>")
            }
            let midY = y0 + panelHeight / 2
            out.append("<text x=\"16\" y=\"\(fmt(midY))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(fmt(midY)))\">"
                + "GFLOPS (\(threads) thread\(threads == 1 ? "" : "s"))</text>")
            out.append("<text x=\"\(fmt(left + plotWidth / 2))\" y=\"\(fmt(y0 + panelTotal - 8))\" text-anchor=\"middle\">layer</text>")

            // Bars.
            for (li, layer) in layers.enumerated() {
                let gx = left + groupGap / 2 + Double(li) * groupWidth
                for (si, name) in series.enumerated() {
                    guard let r = rows.first(where: { $0.layer == layer && $0.algorithm == name }) else { continue }
                    let value = r.gflops.isFinite ? max(r.gflops, 0) : 0
                    let h = value * scaleY
                    let colour = palette[si % palette.count]
                    let label = "\(r.layer) \(r.algorithm) \(threads)t: \(formatFixed(r.gflops, decimals: 2)) GFLOPS"
                        + (r.valid ? "" : " INVALID")
                    out.append("<rect x=\"\(fmt(gx + Double(si) * barWidth))\" y=\"\(fmt(baseY - h))\" "
                        + "width=\"\(fmt(barWidth - 1))\" height=\"\(fmt(h))\" fill=\"\(colour)\""
                        + (r.valid ? "" : " fill-opacity=\"0.35\" stroke=\"#d62728\"")
                        + "><title>\(escape(label))</title></rect>")
                }
                let cx = gx + Double(series.count) * barWidth / 2
                out.append("<text x=\"\(fmt(cx))\" y=\"\(fmt(baseY + 10))\" text-anchor=\"end\" "
                    + "transform=\"rotate(-60 \(fmt(cx)) \(fmt(baseY + 10)))\">\(escape(layer))</text>")
            }

            // Peak line.
            if peak > 0 {
                let py = baseY - peak * scaleY
                out.append("<path d=\"M\(fmt(left)) \(fmt(py))H\(fmt(left + plotWidth))\" stroke=\"#d62728\" "
                    + "stroke-dasharray=\"4 3\" stroke-width=\"2\"/>")
                out.append("<text x=\"\(fmt(left + plotWidth))\" y=\"\(fmt(py - 4))\" text-anchor=\"end\" fill=\"#d62728\">"
                    + "peak \(formatFixed(peak, decimals: 1)) GFLOPS (\(threads) thread\(threads == 1 ? "" : "s"))</text>")
            }
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    /// Up to ~5 round tick values in (0, maxValue].
    static func niceTicks(_ maxValue: Double) -> [Double] {
        guard maxValue > 0, maxValue.isFinite else { return [] }
        let raw = maxValue / 5
        var magnitude = 1.0
        while magnitude * 10 <= raw { magnitude *= 10 }
        while magnitude > raw { magnitude /= 10 }
        let step = [1.0, 2.0, 5.0, 10.0].map { $0 * magnitude }.first { $0 >= raw } ?? magnitude * 10
        var ticks: [Double] = []
        var t = step
        while t <= maxValue + step * 1e-9, ticks.count < 20 {
            ticks.append(t)
            t += step
        }
        return ticks
    }

    static func fmtTick(_ v: Double) -> String {
        v >= 10 || v == v.rounded() ? formatFixed(v, decimals: 0) : formatFixed(v, decimals: v >= 1 ? 1 : 2)
    }

    static func fmt(_ v: Double) -> String { formatFixed(v, decimals: 1) }

    /// XML-escapes text.
    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }

    static func orderedUnique<T: Hashable>(_ values: [T]) -> [T] {
        var seen = Set<T>()
        return values.filter { seen.insert($0).inserted }
    }
}
