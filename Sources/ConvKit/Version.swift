import CConvKit

/// ConvKit's version string, as reported by the C core (e.g. "0.1.0").
public var convKitVersion: String { String(cString: ck_version()) }
