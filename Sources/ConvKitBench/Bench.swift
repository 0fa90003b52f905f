import CConvKit
import Foundation

/// Namespace of the benchmark harness behind `convkit bench`: load a suite,
/// run it, write the outputs.
public enum ConvKitBench {
    /// Loads the suite: the embedded standard suite when `path` is nil, else
    /// the file at `path` (errors name the file and line).
    public static func loadSuite(path: String?) throws(BenchError) -> (suite: BenchSuite, name: String) {
        guard let path else { return (BenchSuite.standard, "standard") }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .io("cannot read suite file '\(path)': \(error.localizedDescription)")
        }
        return (try BenchSuite.parse(text, fileName: path), path)
    }

    /// Writes `text` to `path`, or throws an error naming the file.
    public static func write(_ text: String, to path: String, what: String) throws(BenchError) {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .io("cannot write \(what) to '\(path)': \(error.localizedDescription)")
        }
    }

    /// Writes the JSON form of `report` to `path`.
    public static func writeJSON(_ report: BenchReport, to path: String) throws(BenchError) {
        let data: Data
        do { data = try report.jsonData() } catch { throw .io("cannot encode the report as JSON: \(error)") }
        try write(String(decoding: data, as: UTF8.self) + "\n", to: path, what: "JSON")
    }
}
