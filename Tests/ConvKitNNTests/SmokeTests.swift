import Testing
import ConvKitNN

@Test func moduleLoads() { #expect(Bool(true)) }
