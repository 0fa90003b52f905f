import ConvKitNN

/// Namespace of the ONNX importer (populated by the ONNX work).
public enum ConvKitONNX {}
