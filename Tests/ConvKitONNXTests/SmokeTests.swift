import Testing
import ConvKitONNX

@Test func onnxModuleLoads() { #expect(Bool(true)) }
