import Testing
@testable import ConvKit

@Test func versionIsReported() { #expect(convKitVersion == "0.1.0") }
