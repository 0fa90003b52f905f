import ConvKit

/// Namespace of the benchmark harness behind `convkit bench`.
public enum ConvKitBench {}
