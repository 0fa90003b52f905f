import ConvKit
print("convkit \(convKitVersion)")
