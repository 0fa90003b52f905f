import ConvKit

/// Namespace of the model layer (layers, networks, model zoo). Populated by later work.
public enum ConvKitNN {}
