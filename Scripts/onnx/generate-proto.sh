#!/bin/sh
# Regenerates Sources/ConvKitONNX/onnx_subset.pb.swift from onnx_subset.proto.
#
# Run only when the .proto changes; the generated file is committed so that
# building ConvKit never needs protoc. Needs:
#   - protoc (Debian: apt-get install protobuf-compiler)
#   - protoc-gen-swift of the swift-protobuf version in Package.resolved, e.g.
#       swift build -c release --product protoc-gen-swift \
#           --package-path <a swift-protobuf checkout, e.g. .build/checkouts/swift-protobuf>
#     then pass its path as PROTOC_GEN_SWIFT (or put it on PATH).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
plugin=${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}
if [ -z "$plugin" ]; then
    echo "generate-proto.sh: protoc-gen-swift not found (set PROTOC_GEN_SWIFT)" >&2
    exit 1
fi
cd "$root/Sources/ConvKitONNX"
# Package visibility: the messages are an implementation detail of ConvKitONNX
# (its tests may build models with them), not public API.
protoc --plugin=protoc-gen-swift="$plugin" \
    --swift_opt=Visibility=Package \
    --swift_out=. onnx_subset.proto
echo "wrote Sources/ConvKitONNX/onnx_subset.pb.swift"
