#!/usr/bin/env python3
"""Compares `convkit run` with onnxruntime on ResNet-18, MobileNetV2 and VGG-16.

Builds each network as ONNX (opset 13) with random weights (He-normal
convolutions, random batch-norm statistics), runs it through onnxruntime (CPU
provider) and through `convkit run` with the same thread count, and prints
output agreement and latency. Not part of `swift test`.

    pip install onnx onnxruntime numpy
    swift build -c release --product convkit
    python3 Scripts/onnx/compare_large.py [--convkit PATH] [--threads 2] [--repeats 5] [--models resnet18,...]

Error metric: max_i |convkit_i - ort_i| / max(max_i |ort_i|, 1e-3) (relative to
the largest magnitude of onnxruntime's output). Latency: median of --repeats
runs after one warm-up, model import and compilation excluded for both.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(7)


class G:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def const(self, arr):
        self.n += 1
        name = f"w{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), name))
        return name

    def op(self, op_type, inputs, **attrs):
        self.n += 1
        out = f"t{self.n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"{op_type}_{self.n}", **attrs))
        return out

    def conv(self, x, cin, cout, k, stride=1, pad=None, group=1, bias=False):
        pad = k // 2 if pad is None else pad
        fan_in = cin // group * k * k
        w = RNG.standard_normal((cout, cin // group, k, k)).astype(np.float32) * np.sqrt(2.0 / fan_in)
        ins = [x, self.const(w)]
        if bias:
            ins.append(self.const(RNG.standard_normal(cout) * 0.01))
        return self.op("Conv", ins, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=group)

    def bn(self, x, c):
        return self.op("BatchNormalization", [x, self.const(RNG.random(c) * 0.5 + 0.75), self.const(RNG.standard_normal(c) * 0.1),
                                              self.const(RNG.standard_normal(c) * 0.1), self.const(RNG.random(c) * 0.5 + 0.75)],
                       epsilon=1e-5)

    def relu6(self, x):
        return self.op("Clip", [x, self.const(np.float32(0)), self.const(np.float32(6))])

    def gemm(self, x, fin, fout):
        w = RNG.standard_normal((fout, fin)).astype(np.float32) * np.sqrt(2.0 / fin)
        return self.op("Gemm", [x, self.const(w), self.const(RNG.standard_normal(fout) * 0.01)], transB=1)

    def model(self, name, x_shape, y):
        graph = helper.make_graph(self.nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, x_shape)],
                                  [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)], initializer=self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="convkit-compare-large")
        m.ir_version = 8
        return m


def resnet18():
    g = G()
    x = g.op("Relu", [g.bn(g.conv("input", 3, 64, 7, 2, 3), 64)])
    x = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        for b in range(2):
            s = stride if b == 0 else 1
            y = g.op("Relu", [g.bn(g.conv(x, cin, cout, 3, s), cout)])
            y = g.bn(g.conv(y, cout, cout, 3, 1), cout)
            sc = g.bn(g.conv(x, cin, cout, 1, s, 0), cout) if (s != 1 or cin != cout) else x
            x = g.op("Relu", [g.op("Add", [y, sc])])
            cin = cout
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x])])
    return g.model("resnet18", [1, 3, 224, 224], g.gemm(x, 512, 1000))


def mobilenetv2():
    g = G()
    x = g.relu6(g.bn(g.conv("input", 3, 32, 3, 2), 32))
    cin = 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = x
            if t != 1:
                y = g.relu6(g.bn(g.conv(y, cin, hidden, 1, 1, 0), hidden))
            y = g.relu6(g.bn(g.conv(y, hidden, hidden, 3, stride, 1, group=hidden), hidden))
            y = g.bn(g.conv(y, hidden, c, 1, 1, 0), c)
            x = g.op("Add", [x, y]) if stride == 1 and cin == c else y
            cin = c
    x = g.relu6(g.bn(g.conv(x, cin, 1280, 1, 1, 0), 1280))
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x])])
    x = g.op("Dropout", [x])
    return g.model("mobilenetv2", [1, 3, 224, 224], g.gemm(x, 1280, 1000))


def vgg16():
    g = G()
    x, cin = "input", 3
    for block in [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]:
        for c in block:
            x = g.op("Relu", [g.conv(x, cin, c, 3, bias=True)])
            cin = c
        x = g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = g.op("Flatten", [x])
    x = g.op("Dropout", [g.op("Relu", [g.gemm(x, 25088, 4096)])])
    x = g.op("Dropout", [g.op("Relu", [g.gemm(x, 4096, 4096)])])
    return g.model("vgg16", [1, 3, 224, 224], g.gemm(x, 4096, 1000))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--convkit", default=None, help="convkit binary (default: swift build -c release --show-bin-path)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--models", default="resnet18,mobilenetv2,vgg16")
    args = ap.parse_args()
    convkit = args.convkit
    if convkit is None:
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        bin_dir = subprocess.check_output(["swift", "build", "-c", "release", "--show-bin-path"], cwd=root, text=True).strip()
        convkit = os.path.join(bin_dir, "convkit")
    builders = {"resnet18": resnet18, "mobilenetv2": mobilenetv2, "vgg16": vgg16}
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}, threads {args.threads}, repeats {args.repeats}")
    print(f"{'model':12s} {'params':>10s} {'ort ms':>9s} {'convkit ms':>11s} {'ratio':>6s} {'max|diff|':>10s} "
          f"{'rel err':>9s} {'top1':>5s} {'top5 overlap':>12s}")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            m = builders[name]()
            params = sum(int(np.prod(t.dims)) for t in m.graph.initializer)
            path = os.path.join(tmp, name + ".onnx")
            onnx.save(m, path)
            x = RNG.standard_normal((1, 3, 224, 224)).astype(np.float32)
            xin = os.path.join(tmp, name + ".in.npy")
            np.save(xin, x)
            so = ort.SessionOptions()
            so.intra_op_num_threads = args.threads
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            (ref,) = sess.run(None, {"input": x})
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                sess.run(None, {"input": x})
                times.append(time.perf_counter() - t0)
            ort_ms = float(np.median(times)) * 1e3
            outdir = os.path.join(tmp, name + "_out")
            # one extra repeat: convkit's median then includes a warm-up-like first run among repeats+1
            cmd = [convkit, "run", path, "--input", f"input={xin}", "--output-dir", outdir,
                   "--threads", str(args.threads), "--repeats", str(args.repeats + 1)]
            t0 = time.perf_counter()
            res = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if res.returncode != 0:
                print(f"{name:12s} convkit run failed: {res.stderr.strip() or res.stdout.strip()}")
                failures += 1
                continue
            ck_ms = float(re.search(r" in ([0-9.]+) ms", res.stdout).group(1))
            out_name = m.graph.output[0].name
            y = np.load(os.path.join(outdir, out_name + ".npy"))
            diff = float(np.max(np.abs(y - ref)))
            rel = diff / max(float(np.max(np.abs(ref))), 1e-3)
            top1 = int(np.argmax(y)) == int(np.argmax(ref))
            t5 = len(set(np.argsort(-y[0])[:5]) & set(np.argsort(-ref[0])[:5]))
            print(f"{name:12s} {params:10d} {ort_ms:9.2f} {ck_ms:11.2f} {ck_ms / ort_ms:6.2f} {diff:10.3g} {rel:9.2g} "
                  f"{'yes' if top1 else 'NO':>5s} {t5:>10d}/5   (convkit run wall incl. import+compile: {wall:.1f} s)")
            if rel > 1e-4:
                failures += 1
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
