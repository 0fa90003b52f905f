import Foundation
import Testing

@testable import ConvKitBench

/// A peak measured while another process held a core reads low; results above
/// it make the bench re-measure that thread count's peak.
@Suite(.serialized) struct PeakRemeasureTests {
    @Test func peakBelowAResultIsMeasuredAgainAndRaised() throws {
        let low = PeakFigures(threads: 1, fmaGflops: 1e-6, bandwidthGBps: 5)
        let (peaks, notes) = try remeasuredPeaks([low], fastest: [1: 2e-6], seconds: 0.01)
        #expect(peaks.count == 1)
        #expect(peaks[0].fmaGflops > 2e-6)          // a real measurement replaced the bogus one
        #expect(peaks[0].bandwidthGBps == 5)        // untouched
        #expect(notes.count == 1)
        #expect(notes[0].contains("1 thread FMA peak measured 0.0 GFLOPS before the run"))
        #expect(notes[0].contains("used for % peak"))
    }

    @Test func unreachableResultIsReportedAsUntrustworthy() throws {
        let low = PeakFigures(threads: 1, fmaGflops: 1e-6, bandwidthGBps: 5)
        let (peaks, notes) = try remeasuredPeaks([low], fastest: [1: 1e12], seconds: 0.01, attempts: 2)
        #expect(peaks[0].fmaGflops > 1e-6 && peaks[0].fmaGflops < 1e12)
        #expect(notes.count == 1)
        #expect(notes[0].contains("2 more measurements reached only"))
        #expect(notes[0].contains("not trustworthy"))
    }

    @Test func resultsBelowThePeakLeaveItAlone() throws {
        let p = [PeakFigures(threads: 1, fmaGflops: 100, bandwidthGBps: 5),
                 PeakFigures(threads: 2, fmaGflops: 200, bandwidthGBps: 9)]
        let (peaks, notes) = try remeasuredPeaks(p, fastest: [1: 99, 2: 150, 4: 1e9], seconds: 0.01)
        #expect(peaks == p)
        #expect(notes.isEmpty)
    }

    @Test func headerHelperRaisesThePeakAndWarnsOnlyWhenAResultIsAbove() throws {
        let header = BenchHeader(machine: .current(), date: "d", suite: "s",
                                 peaks: [PeakFigures(threads: 1, fmaGflops: 1e-6, bandwidthGBps: 5)],
                                 threads: [1], minTime: 0.1, minRuns: 10, quick: true)
        var warnings: [String] = []
        let raised = try header.remeasured(rates: [(1, 2e-6), (1, .nan)], seconds: 0.01) { warnings.append($0) }
        #expect((raised?.peak(threads: 1) ?? 0) > 2e-6)
        #expect(warnings.count == 1)
        let same = try header.remeasured(rates: [(1, 5e-7)], seconds: 0.01) { warnings.append($0) }
        #expect(same == nil)
        #expect(warnings.count == 1)
    }
}
