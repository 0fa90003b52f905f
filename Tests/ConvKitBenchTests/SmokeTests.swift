import Testing
import ConvKitBench

@Test func benchModuleLoads() { #expect(Bool(true)) }
